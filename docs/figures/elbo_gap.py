"""ELBO and log p(x) against q's mean for z ~ N(0, 1), x | z ~ N(wz + b, σ²)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from _style import setup

import klproof

W, B, SIGMA, X = 1.5, 0.5, 0.8, 2.0


def log_evidence() -> float:
    """log p(x) = log N(x; b, w² + σ²)."""
    return float(klproof.Normal(loc=B, scale=np.hypot(W, SIGMA)).log_prob(X))


def posterior() -> tuple[float, float]:
    """Mean and standard deviation of p(z | x)."""
    var = SIGMA**2 / (SIGMA**2 + W**2)
    return W * (X - B) / (SIGMA**2 + W**2), float(np.sqrt(var))


def elbo(m: np.ndarray, s: float) -> np.ndarray:
    """E_q[log p(x | z)] − KL(q ‖ p(z)) for q = N(m, s²), in closed form."""
    expected_loglik = -0.5 * np.log(2 * np.pi * SIGMA**2) - ((X - B - W * m) ** 2 + W**2 * s**2) / (
        2 * SIGMA**2
    )
    prior_kl = klproof.kl_divergence(
        klproof.Normal(loc=m, scale=s), klproof.Normal(loc=0.0, scale=1.0)
    )
    return expected_loglik - prior_kl


def main(theme: str = "light") -> None:
    colours = setup(theme)
    c = colours["c"]
    m = np.linspace(-1.0, 2.5, 400)
    mu, s_post = posterior()
    logpx = log_evidence()
    fig, ax = plt.subplots(figsize=(6.4, 3.9), layout="constrained")
    ax.axhline(logpx, color=colours["text"], lw=1.5, label=r"$\log p(x)$")
    for s, colour, name in ((s_post, c[0], "posterior's"), (1.0, c[1], "prior's")):
        values = elbo(m, s)
        ax.plot(m, values, color=colour, lw=2, label=rf"ELBO, $s$ = {name} ({s:.2f})")
    gap_m = 0.0
    gap_elbo = float(elbo(np.array(gap_m), s_post))
    ax.annotate(
        "",
        xy=(gap_m, gap_elbo),
        xytext=(gap_m, logpx),
        arrowprops={"arrowstyle": "<->", "color": c[2], "lw": 1.5},
    )
    exact_kl = float(
        klproof.kl_divergence(
            klproof.Normal(loc=gap_m, scale=s_post), klproof.Normal(loc=mu, scale=s_post)
        )
    )
    ax.text(
        gap_m - 0.05,
        (gap_elbo + logpx) / 2,
        f"gap = KL$(q \\,\\|\\, p(z\\mid x))$\n= {exact_kl:.2f}",
        color=c[2],
        va="center",
        ha="right",
    )
    ax.axvline(mu, color=colours["text"], lw=0.8, ls=":")
    ax.text(mu + 0.03, logpx + 0.1, "posterior mean", va="bottom")
    ax.set_xlabel(r"mean $m$ of $q(z) = \mathcal{N}(m, s^2)$")
    ax.set_ylim(logpx - 3, logpx + 0.5)
    ax.set_xlim(m[0], m[-1])
    fig.legend(loc="outside lower center", ncols=3, fontsize=8.5)


def light() -> None:
    """The figure for light pages."""
    main("light")


def dark() -> None:
    """The figure for dark pages."""
    main("dark")
