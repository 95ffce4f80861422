"""Small result containers for exact posteriors (also usable as variational ``q``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from klproof.models.elbo import DiagonalNormal

F64 = NDArray[np.float64]

__all__ = ["BetaPosterior", "CategoricalPosterior", "GaussianPosterior"]


@dataclass(frozen=True)
class GaussianPosterior:
    r"""Gaussian :math:`\mathcal N(m, \Sigma)` with full covariance.

    Attributes
    ----------
    loc : numpy.ndarray, shape (..., d)
        Mean :math:`m` (one row per observation).
    covariance : numpy.ndarray, shape (d, d)
        Covariance :math:`\Sigma` (the same for every observation).
    """

    loc: F64
    covariance: F64

    def diagonal(self) -> DiagonalNormal:
        """Return the diagonal Gaussian with the same marginals (equal to it iff Σ is diagonal).

        Only for a single observation (``loc`` a vector).
        """
        if self.loc.ndim != 1:
            raise ValueError(f"loc must be a vector for diagonal(); got shape {self.loc.shape}")
        return DiagonalNormal(self.loc, np.sqrt(np.diag(self.covariance)))


@dataclass(frozen=True)
class CategoricalPosterior:
    r"""Categorical distribution over mixture components, :math:`q(k) = \pi_k`.

    Attributes
    ----------
    probs : numpy.ndarray, shape (..., K)
        Probabilities, summing to one along the last axis.
    """

    probs: F64


@dataclass(frozen=True)
class BetaPosterior:
    r"""Beta distribution :math:`\mathrm{Beta}(\alpha, \beta)`.

    Attributes
    ----------
    concentration1 : numpy.ndarray
        :math:`\alpha > 0` (pseudo-count of ones).
    concentration0 : numpy.ndarray
        :math:`\beta > 0` (pseudo-count of zeros).
    """

    concentration1: F64
    concentration0: F64
