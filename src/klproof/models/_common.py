"""Private helpers shared by the models: validation, Gaussian closed forms, log-mean-exp.

Closed-form KL divergences come from :func:`klproof.kl_divergence` (the numeric layer's
registry); nothing here restates them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from klproof.numeric import Normal, kl_divergence

F64 = NDArray[np.float64]

LOG_2PI = float(np.log(2.0 * np.pi))

__all__ = [
    "LOG_2PI",
    "as_array",
    "kl_diagonal_normal",
    "log_mean_exp",
    "make_rng",
    "positive",
    "positive_int",
]


def as_array(name: str, value: ArrayLike, *, ndim: int | None = None) -> F64:
    """Convert ``value`` to a finite float64 array, or raise naming ``name``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real array; got {value!r}") from exc
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return arr


def positive(name: str, value: ArrayLike, *, ndim: int | None = None) -> F64:
    """Like :func:`as_array`, and every element must be > 0."""
    arr = as_array(name, value, ndim=ndim)
    if not np.all(arr > 0):
        bad = arr[arr <= 0].reshape(-1)[0]
        raise ValueError(f"{name} must be > 0; got {float(bad)!r}")
    return arr


def positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` >= ``minimum`` or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def make_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Return a NumPy generator from a generator, a seed or ``None``."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def log_mean_exp(a: F64, axis: int = -1) -> F64:
    r"""Stable :math:`\log \frac{1}{K}\sum_k e^{a_k}` along ``axis``.

    The maximum is subtracted before exponentiating, so no term overflows and the
    largest contributes exactly :math:`e^0 = 1`. All ``-inf`` gives ``-inf``.
    """
    a = np.asarray(a, dtype=np.float64)
    k = a.shape[axis]
    peak = np.max(a, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(peak), peak, 0.0)
    total = np.sum(np.exp(a - safe), axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        out = np.log(total) + safe - np.log(k)
    return np.asarray(np.squeeze(out, axis=axis), dtype=np.float64)


def kl_diagonal_normal(loc_q: F64, scale_q: F64, loc_p: F64, scale_p: F64) -> F64:
    r"""KL between diagonal Gaussians, summed over the last axis.

    .. math::

        \mathrm{KL}\left(\mathcal N(m, \operatorname{diag} s^2) \,\|\,
        \mathcal N(\mu, \operatorname{diag} \sigma^2)\right)
        = \sum_j \mathrm{KL}\left(\mathcal N(m_j, s_j^2) \,\|\, \mathcal N(\mu_j, \sigma_j^2)\right),

    each term from :func:`klproof.kl_divergence` (the registry's stable Normal–Normal kernel).
    """
    per_dim = kl_divergence(Normal(loc_q, scale_q), Normal(loc_p, scale_p))
    return np.asarray(np.sum(per_dim, axis=-1), dtype=np.float64)
