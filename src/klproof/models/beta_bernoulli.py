r"""The Beta–Bernoulli model: a coin with a Beta prior on its bias, exact evidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from klproof.models._common import as_array, positive
from klproof.numeric import Beta, kl_divergence

F64 = NDArray[np.float64]

__all__ = ["BetaBernoulli"]


@dataclass(frozen=True)
class BetaBernoulli:
    r"""Beta prior on the bias of i.i.d. coin flips.

    .. math::

        \theta \sim \mathrm{Beta}(a, b), \qquad x_i \mid \theta \sim \mathrm{Bernoulli}(\theta),
        \qquad \log p(x) = \log B(a + h, b + t) - \log B(a, b),

    with :math:`h = \sum_i x_i` ones and :math:`t = n - h` zeros; the posterior is
    :math:`\mathrm{Beta}(a + h, b + t)`.

    Parameters
    ----------
    concentration1 : float
        :math:`a > 0`.
    concentration0 : float
        :math:`b > 0`.

    Notes
    -----
    ``x`` is an array of 0/1 flips; the last axis indexes the flips of one data set.

    Examples
    --------
    >>> model = BetaBernoulli(concentration1=2.0, concentration0=3.0)
    >>> x = [1, 0, 1, 1]
    >>> round(float(model.log_evidence(x)), 6)
    -3.149883
    >>> q = model.posterior(x)
    >>> bool(abs(model.elbo(q, x) - model.log_evidence(x)) < 1e-12)
    True
    """

    concentration1: float
    concentration0: float

    def __init__(self, concentration1: float, concentration0: float) -> None:
        a = positive("concentration1", concentration1)
        b = positive("concentration0", concentration0)
        if a.ndim or b.ndim:
            raise ValueError("concentration1 and concentration0 must be scalars")
        object.__setattr__(self, "concentration1", float(a))
        object.__setattr__(self, "concentration0", float(b))

    def _counts(self, x: ArrayLike) -> tuple[F64, F64]:
        arr = as_array("x", x)
        if arr.ndim == 0:
            raise ValueError("x must be an array of 0/1 flips with at least one axis")
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"x must contain only 0 and 1; got {x!r}")
        heads = np.sum(arr, axis=-1)
        return np.asarray(heads, dtype=np.float64), np.asarray(
            arr.shape[-1] - heads, dtype=np.float64
        )

    def log_likelihood(self, x: ArrayLike, theta: ArrayLike) -> F64:
        r""":math:`\log p(x \mid \theta) = h \log\theta + t \log(1 - \theta)` (``0 log 0 = 0``)."""
        h, t = self._counts(x)
        th = as_array("theta", theta)
        if not np.all((th >= 0) & (th <= 1)):
            raise ValueError("theta must be in [0, 1]")
        return np.asarray(special.xlogy(h, th) + special.xlog1py(t, -th), dtype=np.float64)

    def log_prior(self, theta: ArrayLike) -> F64:
        r""":math:`\log \mathrm{Beta}(\theta; a, b)`."""
        th = as_array("theta", theta)
        a, b = self.concentration1, self.concentration0
        return np.asarray(
            special.xlogy(a - 1, th) + special.xlog1py(b - 1, -th) - special.betaln(a, b),
            dtype=np.float64,
        )

    def log_evidence(self, x: ArrayLike) -> F64:
        r"""Exact :math:`\log p(x) = \log B(a + h, b + t) - \log B(a, b)`."""
        h, t = self._counts(x)
        a, b = self.concentration1, self.concentration0
        return np.asarray(special.betaln(a + h, b + t) - special.betaln(a, b), dtype=np.float64)

    def posterior(self, x: ArrayLike) -> Beta:
        r"""Exact posterior :math:`\mathrm{Beta}(a + h, b + t)`."""
        h, t = self._counts(x)
        return Beta(self.concentration1 + h, self.concentration0 + t)

    def elbo(self, q: Any, x: ArrayLike) -> F64:
        r"""Closed-form ELBO of :math:`q = \mathrm{Beta}(\alpha, \beta)`.

        .. math::

            \mathcal L(q) = h\,[\psi(\alpha) - \psi(\alpha + \beta)]
            + t\,[\psi(\beta) - \psi(\alpha + \beta)]
            - \mathrm{KL}(\mathrm{Beta}(\alpha, \beta) \,\|\, \mathrm{Beta}(a, b)),

        using :math:`\mathbb E_q[\log\theta] = \psi(\alpha) - \psi(\alpha + \beta)`.

        Parameters
        ----------
        q : object
            With ``concentration1`` (:math:`\alpha`) and ``concentration0``
            (:math:`\beta`), e.g. a :class:`klproof.Beta`.
        x : array_like
            The 0/1 flips.

        Returns
        -------
        numpy.ndarray
            :math:`\mathcal L(q)`.
        """
        if not (hasattr(q, "concentration1") and hasattr(q, "concentration0")):
            raise ValueError("q must have concentration1 and concentration0 attributes")
        alpha = positive("q.concentration1", q.concentration1)
        beta = positive("q.concentration0", q.concentration0)
        h, t = self._counts(x)
        psi_sum = special.digamma(alpha + beta)
        rec = h * (special.digamma(alpha) - psi_sum) + t * (special.digamma(beta) - psi_sum)
        kl = kl_divergence(Beta(alpha, beta), Beta(self.concentration1, self.concentration0))
        return np.asarray(rec - kl, dtype=np.float64)
