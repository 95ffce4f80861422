"""KL(p̂ ‖ p_θ) and −(1/n) log L(θ) for Bernoulli data: one curve, shifted by H(p̂)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from _style import setup

import klproof

N, K = 20, 7  # 7 successes in 20 trials


def curves() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """θ grid, the KL, the average negative log-likelihood and the entropy of p̂."""
    theta = np.linspace(0.02, 0.98, 400)
    empirical = klproof.Bernoulli(probs=K / N)
    model = klproof.Bernoulli(probs=theta)
    kl = klproof.kl_divergence(empirical, model)
    data = np.r_[np.ones(K), np.zeros(N - K)]
    nll = -np.mean(klproof.Bernoulli(probs=theta[:, None]).log_prob(data), axis=1)
    return theta, kl, nll, float(klproof.entropy(empirical))


def main(theme: str = "light") -> None:
    colours = setup(theme)
    c = colours["c"]
    theta, kl, nll, h = curves()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(
        theta, nll, color=c[0], lw=2, label=r"$-\frac{1}{n}\log L(\theta) = H(\hat p, p_\theta)$"
    )
    ax.plot(theta, kl, color=c[1], lw=2, label=r"$\mathrm{KL}(\hat p \,\|\, p_\theta)$")
    best = K / N
    ax.axvline(best, color=colours["text"], lw=0.8, ls=":")
    ax.annotate(
        "",
        xy=(0.8, np.interp(0.8, theta, kl)),
        xytext=(0.8, np.interp(0.8, theta, nll)),
        arrowprops={"arrowstyle": "<->", "color": c[2], "lw": 1.5},
    )
    ax.text(
        0.815, np.interp(0.8, theta, kl) + h / 2, rf"$H(\hat p) = {h:.3f}$", color=c[2], va="center"
    )
    ax.text(best + 0.01, 0.04, rf"$\hat\theta = k/n = {best:.2f}$", va="bottom")
    ax.set_xlabel(r"$\theta$")
    ax.set_ylim(0, 2.4)
    ax.set_xlim(0, 1)
    ax.legend(loc="upper center")
    fig.tight_layout()


def light() -> None:
    """The figure for light pages."""
    main("light")


def dark() -> None:
    """The figure for dark pages."""
    main("dark")
