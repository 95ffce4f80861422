"""A linear VAE trained by gradient ascent: ELBO, exact log-likelihood and their gap."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from _style import setup

from klproof.models import training_trace


def main(theme: str = "light") -> None:
    colours = setup(theme)
    c = colours["c"]
    trace = training_trace()
    _fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6.4, 5.2), sharex=True, layout="constrained", height_ratios=(3, 2)
    )
    top.axhline(
        trace.ml_log_likelihood,
        color=colours["text"],
        lw=1,
        ls="--",
        label="pPCA maximum likelihood",
    )
    top.plot(trace.iteration, trace.log_likelihood, color=c[0], lw=2, label=r"exact $\log p(x)$")
    top.plot(trace.iteration, trace.elbo, color=c[1], lw=2, label="ELBO")
    top.set_ylabel("per data point")
    low = min(trace.elbo.min(), trace.log_likelihood.min())
    top.set_ylim(low - 0.5, trace.ml_log_likelihood + 0.5)
    top.legend(loc="lower right", fontsize=8.5)
    # The final gap is at rounding level and may have either sign: show its size.
    bottom.semilogy(trace.iteration, np.maximum(np.abs(trace.gap), 1e-16), color=c[2], lw=2)
    bottom.set_ylabel(r"gap $\log p(x) - $ ELBO")
    bottom.set_xlabel("iteration")
    bottom.set_xlim(trace.iteration[0], trace.iteration[-1])


def light() -> None:
    """The figure for light pages."""
    main("light")


def dark() -> None:
    """The figure for dark pages."""
    main("dark")
