"""A bimodal posterior: the ELBO-optimal Gaussian, the moment-matched one, and IWAE_K."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from _style import setup

import klproof
from klproof.models import MixturePriorModel, gaussian_gap

MODEL = MixturePriorModel([0.5, 0.5], [-2.0, 2.0], 0.5, noise_scale=1.0)
X = np.array([0.0])


def main(theme: str = "light") -> None:
    colours = setup(theme)
    c = colours["c"]
    report = gaussian_gap(MODEL, X)
    z = np.linspace(-4.5, 4.5, 901)
    log_post = MODEL.log_likelihood(X, z[:, None]) + MODEL.log_prior(z[:, None])
    posterior = np.exp(log_post - MODEL.log_evidence(X))
    _fig, (left, right) = plt.subplots(1, 2, figsize=(7.6, 3.6), layout="constrained")
    left.fill_between(z, posterior, color=colours["grid"], alpha=0.7)
    left.plot(z, posterior, color=colours["text"], lw=1.5, label=r"$p(z \mid x = 0)$")
    fits = (
        (report.q, c[1], r"best $q$ (max ELBO)"),
        (report.moment_matched_q, c[0], "moment-matched"),
    )
    for q, colour, label in fits:
        normal = klproof.Normal(loc=float(q.loc[0]), scale=float(q.scale[0]))
        left.plot(z, np.exp(normal.log_prob(z)), color=colour, lw=2, label=label)
    left.set_xlabel("$z$")
    left.set_ylabel("density")
    left.set_xlim(z[0], z[-1])
    left.set_ylim(bottom=0)
    left.legend(loc="upper right", fontsize=8)

    right.axhline(report.log_evidence, color=colours["text"], lw=1.5, label=r"$\log p(x)$")
    for bounds, colour, label in (
        (report.iwae, c[1], r"best $q$"),
        (report.iwae_moment_matched, c[0], "moment-matched"),
    ):
        ks = np.array(sorted(bounds))
        values = np.array([bounds[k][0] for k in ks])
        errors = np.array([bounds[k][1] for k in ks])
        right.errorbar(
            ks, values, yerr=2 * errors, color=colour, lw=2, marker="o", ms=4, label=label
        )
    right.set_xscale("log", base=2)
    right.set_xlabel("$K$ (importance samples)")
    right.set_ylabel("IWAE bound $L_K$")
    right.legend(loc="lower right", fontsize=8)


def light() -> None:
    """The figure for light pages."""
    main("light")


def dark() -> None:
    """The figure for dark pages."""
    main("dark")
