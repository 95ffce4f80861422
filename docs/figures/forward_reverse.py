"""A Gaussian fitted to a two-component mixture by forward and by reverse KL."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from _style import setup
from scipy.optimize import minimize
from scipy.special import logsumexp

import klproof

GRID = np.linspace(-8.0, 8.0, 4001)
DX = GRID[1] - GRID[0]
COMPONENTS = klproof.Normal(loc=np.array([-2.0, 2.0]), scale=np.array([0.6, 0.6]))
WEIGHTS = np.array([0.5, 0.5])


def log_p(x: np.ndarray) -> np.ndarray:
    """Log density of the mixture."""
    return logsumexp(COMPONENTS.log_prob(x[:, None]) + np.log(WEIGHTS), axis=1)


def log_q(params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Log density of N(mu, exp(log_sigma)²)."""
    mu, log_sigma = params
    return klproof.Normal(loc=mu, scale=np.exp(log_sigma)).log_prob(x)


def forward_kl(params: np.ndarray) -> float:
    """KL(p ‖ q) by quadrature on the grid."""
    lp, lq = log_p(GRID), log_q(params, GRID)
    return float(np.sum(np.exp(lp) * (lp - lq)) * DX)


def reverse_kl(params: np.ndarray) -> float:
    """KL(q ‖ p) by quadrature on the grid."""
    lp, lq = log_p(GRID), log_q(params, GRID)
    return float(np.sum(np.exp(lq) * (lq - lp)) * DX)


def fits() -> dict[str, np.ndarray]:
    """The two minimisers (reverse KL started right of centre: it finds one mode)."""
    forward = minimize(forward_kl, x0=np.array([0.5, 0.0]), method="Nelder-Mead").x
    reverse = minimize(reverse_kl, x0=np.array([0.5, 0.0]), method="Nelder-Mead").x
    return {"forward": forward, "reverse": reverse}


def main(theme: str = "light") -> None:
    colours = setup(theme)
    c = colours["c"]
    found = fits()
    x = np.linspace(-6, 6, 800)
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    ax.fill_between(
        x, np.exp(log_p(x)), color=colours["text"], alpha=0.15, lw=0, label="$p$ (mixture)"
    )
    for key, colour, text in (
        ("forward", c[0], r"argmin KL$(p\,\|\,q)$: covers both modes"),
        ("reverse", c[1], r"argmin KL$(q\,\|\,p)$: locks onto one"),
    ):
        mu, log_sigma = found[key]
        ax.plot(
            x,
            np.exp(log_q(found[key], x)),
            color=colour,
            lw=2,
            label=rf"{text}  ($\mu$={abs(mu) if abs(mu) < 5e-3 else mu:.2f}, $\sigma$={np.exp(log_sigma):.2f})",
        )
    ax.set_xlabel("$x$")
    ax.set_ylim(0, 0.75)
    ax.legend(loc="upper left", fontsize=8.5)
    fig.tight_layout()


def light() -> None:
    """The figure for light pages."""
    main("light")


def dark() -> None:
    """The figure for dark pages."""
    main("dark")
