r"""Monte Carlo estimators of the KL divergence for any pair with ``sample``/``log_prob``.

With :math:`x_i \sim p` and :math:`r_i = q(x_i)/p(x_i)`,

.. math::
   \widehat{\mathrm{KL}}_{\text{plain}} = \frac1n\sum_i -\log r_i, \qquad
   \widehat{\mathrm{KL}}_{k3} = \frac1n\sum_i \big((r_i - 1) - \log r_i\big).

Both are unbiased; ``k3`` (Schulman, 2020) has non-negative summands and a much smaller
variance when ``q`` is close to ``p``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from klproof.numeric import _special as S
from klproof.numeric.distributions import Distribution

__all__ = ["MonteCarloKL", "monte_carlo_kl"]


@dataclass(frozen=True)
class MonteCarloKL:
    r"""Result of :func:`monte_carlo_kl`.

    Attributes
    ----------
    estimate : ndarray
        The KL estimate per batch element.
    standard_error : ndarray
        Sample standard deviation of the summands divided by :math:`\\sqrt n`.
    n : int
        Number of samples.
    estimator : str
        ``"plain"`` or ``"k3"``.

    Examples
    --------
    >>> import numpy as np
    >>> from klproof.numeric import Exponential
    >>> r = monte_carlo_kl(Exponential(1.0), Exponential(1.5), np.random.default_rng(1), 1000)
    >>> (r.n, r.estimator, bool(r.standard_error > 0))
    (1000, 'plain', True)
    """

    estimate: NDArray[np.float64]
    standard_error: NDArray[np.float64]
    n: int
    estimator: str


def monte_carlo_kl(
    p: Distribution,
    q: Distribution,
    rng: np.random.Generator,
    n: int,
    estimator: Literal["plain", "k3"] = "plain",
) -> MonteCarloKL:
    r"""Estimate :math:`\mathrm{KL}(p\,\|\,q)` from ``n`` samples of ``p``.

    .. math:: \mathrm{KL}(p\,\|\,q) = \mathbb E_{x\sim p}[-\log r(x)]
       = \mathbb E_{x\sim p}[r(x) - 1 - \log r(x)],\qquad r = q/p

    Parameters
    ----------
    p, q : Distribution
        Any two distributions with ``sample`` and ``log_prob``.
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        Number of samples (at least 2).
    estimator : {"plain", "k3"}
        ``plain`` averages :math:`-\log r`; ``k3`` averages :math:`r - 1 - \log r`.

    Returns
    -------
    MonteCarloKL
        Estimate and standard error (both float64, shape ``batch_shape``).

    Notes
    -----
    ``k3`` is unbiased only if ``q`` puts no mass outside the support of ``p``
    (then :math:`\mathbb E_p[r] = 1`); otherwise it underestimates, and ``plain`` must be
    used. ``r - 1 - log r`` is evaluated without cancellation, so the k3 summands are
    never negative. If some sample has ``q(x) = 0`` the estimate is ``+inf`` (the KL is
    infinite). The standard error is only meaningful when the summands have a finite
    variance (e.g. not for heavy-tailed ``log r``).

    References
    ----------
    .. [1] J. Schulman, "Approximating KL divergence", 2020,
       http://joschu.net/blog/kl-approx.html

    Examples
    --------
    >>> import numpy as np
    >>> from klproof.numeric import Normal
    >>> res = monte_carlo_kl(Normal(0.0, 1.0), Normal(0.1, 1.0), np.random.default_rng(0), 10_000,
    ...                      estimator="k3")
    >>> bool(abs(res.estimate - 0.005) < 5 * res.standard_error)
    True
    """
    if not isinstance(p, Distribution) or not isinstance(q, Distribution):
        raise TypeError("monte_carlo_kl expects two Distribution instances")
    if estimator not in ("plain", "k3"):
        raise ValueError(f"estimator must be 'plain' or 'k3'; got {estimator!r}")
    if int(n) < 2:
        raise ValueError(f"n must be >= 2; got {n}")
    n = int(n)
    x = p.sample(rng, (n,))
    lp = np.asarray(p.log_prob(x), dtype=np.float64)
    lq = np.asarray(q.log_prob(x), dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        log_r = lq - lp
        if estimator == "plain":
            terms: NDArray[Any] = -log_r
        else:
            flat = log_r.reshape(-1)
            terms = S.expm1mx(flat).reshape(log_r.shape)
        est = terms.mean(0)
        se = terms.std(0, ddof=1) / np.sqrt(n)
    bad = np.isneginf(lq).any(0)
    est = np.where(bad, np.inf, est)
    se = np.where(bad, np.nan, se)
    return MonteCarloKL(np.asarray(est, np.float64), np.asarray(se, np.float64), n, estimator)
