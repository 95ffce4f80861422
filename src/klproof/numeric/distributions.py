r"""NumPy probability distributions with validated, broadcast parameters.

Every family takes its parameters as array-likes (the names are shared with the
symbolic layer), broadcasts them to a ``batch_shape`` and keeps their floating dtype:
``float32`` in gives ``float32`` out, while computations run internally in ``float64``.
Each family offers ``log_prob``, ``sample``, ``entropy``, ``mean`` and ``variance``;
``validate=False`` skips the parameter checks for hot loops.

Examples
--------
>>> import numpy as np
>>> from klproof.numeric import Normal
>>> d = Normal(loc=[0.0, 1.0], scale=2.0)
>>> d.batch_shape
(2,)
>>> np.round(d.log_prob(0.0), 4)
array([-1.6121, -1.7371])
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from klproof.numeric import _validation as V
from klproof.numeric._special import (
    EULER_GAMMA,
    LOG_2PI,
    digamma_nu,
    log_width,
    scipy_special,
    sigmoid,
    softplus,
    stirling_mu,
)

__all__ = [
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "Cauchy",
    "DiagonalNormal",
    "Dirichlet",
    "Distribution",
    "Exponential",
    "Gamma",
    "Geometric",
    "Gumbel",
    "HalfNormal",
    "Laplace",
    "LogNormal",
    "MultivariateNormal",
    "Normal",
    "Pareto",
    "Poisson",
    "Uniform",
    "Weibull",
]

FArr = NDArray[np.floating[Any]]
F64 = NDArray[np.float64]
Shape = tuple[int, ...]


def _special() -> Any:
    return scipy_special()


def _gt0(a: NDArray[Any]) -> NDArray[np.bool_]:
    return np.asarray(a > 0)


def _ge0(a: NDArray[Any]) -> NDArray[np.bool_]:
    return np.asarray(a >= 0)


def _finite(a: NDArray[Any]) -> NDArray[np.bool_]:
    return np.asarray(np.isfinite(a))


def _notnan(a: NDArray[Any]) -> NDArray[np.bool_]:
    return np.asarray(~np.isnan(a))


def _unit(a: NDArray[Any]) -> NDArray[np.bool_]:
    return np.asarray((a >= 0) & (a <= 1))


def _check_pos(name: str, a: NDArray[Any]) -> None:
    V.check(name, a, _notnan, "a number")
    V.check(name, a, _gt0, "> 0")
    V.check(name, a, _finite, "finite")


def _check_real(name: str, a: NDArray[Any]) -> None:
    V.check(name, a, _finite, "finite")


class Distribution:
    """Base class: parameter handling, dtype policy and the common interface.

    Subclasses set their parameters through ``_init_params`` and implement
    ``_log_prob``, ``_sample``, ``_entropy``, ``_mean`` and ``_variance`` in float64.

    Examples
    --------
    >>> from klproof.numeric import Exponential
    >>> isinstance(Exponential(rate=1.0), Distribution)
    True
    """

    #: parameter name -> number of trailing event axes it carries
    _event_ndims: ClassVar[dict[str, int]] = {}
    #: number of event axes of a sample (0 scalar, 1 vector)
    event_ndim: ClassVar[int] = 0

    batch_shape: Shape
    event_shape: Shape
    dtype: np.dtype[Any]

    def _init_params(self, validate: bool, **params: ArrayLike | None) -> dict[str, FArr]:
        given = {k: V.as_float(k, v) for k, v in params.items() if v is not None}
        floats = [v for k, v in given.items() if k != "total_count"] or list(given.values())
        self.dtype = V.result_dtype(*floats)
        batch: dict[str, NDArray[Any]] = {}
        for k, a in given.items():
            n = self._event_ndims.get(k, 0)
            if a.ndim < n:
                raise ValueError(f"{k} must have at least {n} dimension(s); got shape {a.shape}")
            batch[k] = np.empty(a.shape[: a.ndim - n], dtype=np.int8)
        self.batch_shape = V.broadcast_params(**batch) if batch else ()
        out: dict[str, FArr] = {}
        for k, a in given.items():
            n = self._event_ndims.get(k, 0)
            shape = self.batch_shape + a.shape[a.ndim - n :]
            out[k] = np.broadcast_to(a.astype(self.dtype, copy=False), shape)
        self.event_shape = ()
        self._validate_flag = validate
        return out

    # -- public interface -----------------------------------------------------------
    def log_prob(self, x: ArrayLike) -> FArr:
        """Log density (or mass) at ``x``; ``-inf`` outside the support."""
        xa = np.asarray(x, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            res = self._log_prob(xa)
        return np.asarray(res, dtype=self.dtype)

    def sample(self, rng: np.random.Generator, shape: int | Shape = ()) -> FArr:
        """Draw samples of shape ``shape + batch_shape + event_shape`` using ``rng``."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
        sh: Shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return np.asarray(self._sample(rng, sh + self.batch_shape), dtype=self.dtype)

    def entropy(self) -> FArr:
        """Differential (or Shannon) entropy in nats, one value per batch element."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            res = self._entropy()
        return np.asarray(np.broadcast_to(res, self.batch_shape), dtype=self.dtype)

    @property
    def mean(self) -> FArr:
        """Mean (``inf``/``nan`` where it does not exist, as documented per family)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            res = self._mean()
        return np.asarray(np.broadcast_to(res, self.batch_shape + self.event_shape), self.dtype)

    @property
    def variance(self) -> FArr:
        """Variance (per component for vector-valued families)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            res = self._variance()
        return np.asarray(np.broadcast_to(res, self.batch_shape + self.event_shape), self.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch_shape={self.batch_shape}, dtype={self.dtype})"

    # -- to implement ---------------------------------------------------------------
    def _log_prob(self, x: F64) -> F64:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:  # pragma: no cover
        raise NotImplementedError

    def _entropy(self) -> F64:  # pragma: no cover - abstract
        raise NotImplementedError

    def _mean(self) -> F64:  # pragma: no cover - abstract
        raise NotImplementedError

    def _variance(self) -> F64:  # pragma: no cover - abstract
        raise NotImplementedError


def _f(a: FArr) -> F64:
    return np.asarray(a, dtype=np.float64)


class _LocScale(Distribution):
    loc: FArr
    scale: FArr

    def __init__(self, loc: ArrayLike, scale: ArrayLike, *, validate: bool = True) -> None:
        p = self._init_params(validate, loc=loc, scale=scale)
        self.loc, self.scale = p["loc"], p["scale"]
        if validate:
            _check_real("loc", self.loc)
            _check_pos("scale", self.scale)


class Normal(_LocScale):
    r"""Normal distribution :math:`\mathcal N(\mu, \sigma^2)`.

    .. math:: p(x) = \frac{1}{\sigma\sqrt{2\pi}} \exp\!\Big(-\frac{(x-\mu)^2}{2\sigma^2}\Big)

    Parameters
    ----------
    loc : array_like
        Mean :math:`\mu` (finite).
    scale : array_like
        Standard deviation :math:`\sigma > 0`.
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> import numpy as np
    >>> d = Normal(0.0, 1.0)
    >>> round(float(d.entropy()), 6)
    1.418939
    >>> d.sample(np.random.default_rng(0), 3).shape
    (3,)
    """

    def _log_prob(self, x: F64) -> F64:
        z = (x - _f(self.loc)) / _f(self.scale)
        return -0.5 * z * z - np.log(_f(self.scale)) - 0.5 * LOG_2PI

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return rng.normal(_f(self.loc), _f(self.scale), size=shape)

    def _entropy(self) -> F64:
        return 0.5 * (LOG_2PI + 1.0) + np.log(_f(self.scale))

    def _mean(self) -> F64:
        return _f(self.loc)

    def _variance(self) -> F64:
        return _f(self.scale) ** 2


class LogNormal(_LocScale):
    r"""Log-normal distribution: :math:`\log X \sim \mathcal N(\mu, \sigma^2)`.

    .. math:: p(x) = \frac{1}{x\sigma\sqrt{2\pi}}
        \exp\!\Big(-\frac{(\log x-\mu)^2}{2\sigma^2}\Big),\quad x > 0

    Parameters
    ----------
    loc : array_like
        Mean :math:`\mu` of :math:`\log X`.
    scale : array_like
        Standard deviation :math:`\sigma > 0` of :math:`\log X`.
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> round(float(LogNormal(0.0, 1.0).mean), 6)
    1.648721
    """

    def _log_prob(self, x: F64) -> F64:
        lx = np.log(x)
        z = (lx - _f(self.loc)) / _f(self.scale)
        res = -0.5 * z * z - np.log(_f(self.scale)) - 0.5 * LOG_2PI - lx
        return np.where(x > 0, res, -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return rng.lognormal(_f(self.loc), _f(self.scale), size=shape)

    def _entropy(self) -> F64:
        return _f(self.loc) + 0.5 * (LOG_2PI + 1.0) + np.log(_f(self.scale))

    def _mean(self) -> F64:
        return np.exp(_f(self.loc) + 0.5 * _f(self.scale) ** 2)

    def _variance(self) -> F64:
        s2 = _f(self.scale) ** 2
        return np.expm1(s2) * np.exp(2 * _f(self.loc) + s2)


class Laplace(_LocScale):
    r"""Laplace distribution.

    .. math:: p(x) = \frac{1}{2b} \exp\!\Big(-\frac{|x-\mu|}{b}\Big)

    Parameters
    ----------
    loc : array_like
        Location :math:`\mu`.
    scale : array_like
        Scale :math:`b > 0`.
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> round(float(Laplace(0.0, 1.0).variance), 6)
    2.0
    """

    def _log_prob(self, x: F64) -> F64:
        b = _f(self.scale)
        return -np.log(2 * b) - np.abs(x - _f(self.loc)) / b

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return rng.laplace(_f(self.loc), _f(self.scale), size=shape)

    def _entropy(self) -> F64:
        return 1.0 + np.log(2 * _f(self.scale))

    def _mean(self) -> F64:
        return _f(self.loc)

    def _variance(self) -> F64:
        return 2 * _f(self.scale) ** 2


class Gumbel(_LocScale):
    r"""Gumbel (type-I extreme value, maximum) distribution.

    .. math:: p(x) = \frac1\beta \exp\!\big(-(z + e^{-z})\big),\quad z = \frac{x-\mu}{\beta}

    Parameters
    ----------
    loc : array_like
        Location :math:`\mu`.
    scale : array_like
        Scale :math:`\beta > 0`.
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> round(float(Gumbel(0.0, 1.0).mean), 6)
    0.577216
    """

    def _log_prob(self, x: F64) -> F64:
        z = (x - _f(self.loc)) / _f(self.scale)
        return -(z + np.exp(-z)) - np.log(_f(self.scale))

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return rng.gumbel(_f(self.loc), _f(self.scale), size=shape)

    def _entropy(self) -> F64:
        return np.log(_f(self.scale)) + EULER_GAMMA + 1.0

    def _mean(self) -> F64:
        return _f(self.loc) + EULER_GAMMA * _f(self.scale)

    def _variance(self) -> F64:
        return (math.pi**2 / 6) * _f(self.scale) ** 2


class Cauchy(_LocScale):
    r"""Cauchy distribution.

    .. math:: p(x) = \frac{1}{\pi s\,(1 + ((x-\mu)/s)^2)}

    Parameters
    ----------
    loc : array_like
        Location :math:`\mu`.
    scale : array_like
        Scale :math:`s > 0`.
    validate : bool, optional
        Check the parameters (default ``True``).

    Notes
    -----
    The mean does not exist (``nan``) and the variance is ``inf``.

    Examples
    --------
    >>> round(float(Cauchy(0.0, 1.0).entropy()), 6)
    2.531024
    """

    def _log_prob(self, x: F64) -> F64:
        z = (x - _f(self.loc)) / _f(self.scale)
        return -np.log(math.pi * _f(self.scale)) - np.log1p(z * z)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return _f(self.loc) + _f(self.scale) * rng.standard_cauchy(size=shape)

    def _entropy(self) -> F64:
        return np.log(4 * math.pi * _f(self.scale))

    def _mean(self) -> F64:
        return np.full(self.batch_shape, np.nan)

    def _variance(self) -> F64:
        return np.full(self.batch_shape, np.inf)


class HalfNormal(Distribution):
    r"""Half-normal distribution: :math:`|X|` for :math:`X \sim \mathcal N(0, \sigma^2)`.

    .. math:: p(x) = \frac{\sqrt2}{\sigma\sqrt\pi} \exp\!\Big(-\frac{x^2}{2\sigma^2}\Big),
        \quad x \ge 0

    Parameters
    ----------
    scale : array_like
        :math:`\sigma > 0`.
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> round(float(HalfNormal(1.0).mean), 6)
    0.797885
    """

    def __init__(self, scale: ArrayLike, *, validate: bool = True) -> None:
        p = self._init_params(validate, scale=scale)
        self.scale = p["scale"]
        if validate:
            _check_pos("scale", self.scale)

    def _log_prob(self, x: F64) -> F64:
        s = _f(self.scale)
        z = x / s
        res = 0.5 * math.log(2 / math.pi) - np.log(s) - 0.5 * z * z
        return np.where(x >= 0, res, -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return np.abs(rng.normal(0.0, _f(self.scale), size=shape))

    def _entropy(self) -> F64:
        return 0.5 * math.log(math.pi / 2) + np.log(_f(self.scale)) + 0.5

    def _mean(self) -> F64:
        return _f(self.scale) * math.sqrt(2 / math.pi)

    def _variance(self) -> F64:
        return _f(self.scale) ** 2 * (1 - 2 / math.pi)


class Exponential(Distribution):
    r"""Exponential distribution.

    .. math:: p(x) = \lambda e^{-\lambda x},\quad x \ge 0

    Parameters
    ----------
    rate : array_like
        :math:`\lambda > 0`.
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> round(float(Exponential(2.0).mean), 6)
    0.5
    """

    def __init__(self, rate: ArrayLike, *, validate: bool = True) -> None:
        p = self._init_params(validate, rate=rate)
        self.rate = p["rate"]
        if validate:
            _check_pos("rate", self.rate)

    def _log_prob(self, x: F64) -> F64:
        r = _f(self.rate)
        return np.where(x >= 0, np.log(r) - r * x, -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return rng.exponential(1.0 / _f(self.rate), size=shape)

    def _entropy(self) -> F64:
        return 1.0 - np.log(_f(self.rate))

    def _mean(self) -> F64:
        return 1.0 / _f(self.rate)

    def _variance(self) -> F64:
        return 1.0 / _f(self.rate) ** 2


class Gamma(Distribution):
    r"""Gamma distribution (shape–rate).

    .. math:: p(x) = \frac{\beta^\alpha}{\Gamma(\alpha)} x^{\alpha-1} e^{-\beta x},\quad x > 0

    Parameters
    ----------
    concentration : array_like
        Shape :math:`\alpha > 0`.
    rate : array_like
        Rate :math:`\beta > 0`.
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> round(float(Gamma(2.0, 4.0).mean), 6)
    0.5
    """

    def __init__(self, concentration: ArrayLike, rate: ArrayLike, *, validate: bool = True) -> None:
        p = self._init_params(validate, concentration=concentration, rate=rate)
        self.concentration, self.rate = p["concentration"], p["rate"]
        if validate:
            _check_pos("concentration", self.concentration)
            _check_pos("rate", self.rate)

    def _log_prob(self, x: F64) -> F64:
        sp = _special()
        a, b = _f(self.concentration), _f(self.rate)
        res = sp.xlogy(a, b) + sp.xlogy(a - 1, x) - b * x - sp.gammaln(a)
        return np.where(x >= 0, res, -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return rng.gamma(_f(self.concentration), 1.0 / _f(self.rate), size=shape)

    def _entropy(self) -> F64:
        # a - log b + log Gamma(a) + (1 - a) psi(a) with Stirling's formula taken out of
        # log Gamma and psi: the terms of size a log a cancel analytically, not in floats
        # (the plain form loses every digit at a = 1e50).
        a, b = _f(self.concentration), _f(self.rate)
        return np.asarray(
            0.5 * (LOG_2PI + 1.0 + np.log(a))
            - np.log(b)
            - 0.5 / a
            + stirling_mu(a)
            + (a - 1.0) * digamma_nu(a),
            np.float64,
        ).reshape(np.shape(a + b))

    def _mean(self) -> F64:
        return _f(self.concentration) / _f(self.rate)

    def _variance(self) -> F64:
        return _f(self.concentration) / _f(self.rate) ** 2


class Weibull(Distribution):
    r"""Weibull distribution.

    .. math:: p(x) = \frac{k}{\lambda}\Big(\frac{x}{\lambda}\Big)^{k-1}
        e^{-(x/\lambda)^k},\quad x \ge 0

    Parameters
    ----------
    scale : array_like
        :math:`\lambda > 0`.
    concentration : array_like
        Shape :math:`k > 0`.
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> round(float(Weibull(1.0, 1.0).variance), 6)
    1.0
    """

    def __init__(
        self, scale: ArrayLike, concentration: ArrayLike, *, validate: bool = True
    ) -> None:
        p = self._init_params(validate, scale=scale, concentration=concentration)
        self.scale, self.concentration = p["scale"], p["concentration"]
        if validate:
            _check_pos("scale", self.scale)
            _check_pos("concentration", self.concentration)

    def _log_prob(self, x: F64) -> F64:
        lam, k = _f(self.scale), _f(self.concentration)
        z = x / lam
        res = np.log(k / lam) + _special().xlogy(k - 1, z) - z**k
        return np.where(x >= 0, res, -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return _f(self.scale) * rng.weibull(_f(self.concentration), size=shape)

    def _entropy(self) -> F64:
        lam, k = _f(self.scale), _f(self.concentration)
        # log(scale) - log(k), not log(scale / k): the ratio overflows (scale 1e181 over
        # k 1e-138 gave +inf for an entropy of -5e137)
        return np.asarray(EULER_GAMMA * (1 - 1 / k) + (np.log(lam) - np.log(k)) + 1, np.float64)

    def _mean(self) -> F64:
        sp = _special()
        return np.asarray(
            _f(self.scale) * np.exp(sp.gammaln(1 + 1 / _f(self.concentration))), np.float64
        )

    def _variance(self) -> F64:
        sp = _special()
        k = _f(self.concentration)
        g1 = np.exp(sp.gammaln(1 + 1 / k))
        return np.asarray(
            _f(self.scale) ** 2 * (np.exp(sp.gammaln(1 + 2 / k)) - g1 * g1), np.float64
        )


class Pareto(Distribution):
    r"""Pareto (type I) distribution.

    .. math:: p(x) = \frac{\alpha x_m^\alpha}{x^{\alpha+1}},\quad x \ge x_m

    Parameters
    ----------
    scale : array_like
        Minimum :math:`x_m > 0`.
    alpha : array_like
        Tail index :math:`\alpha > 0`.
    validate : bool, optional
        Check the parameters (default ``True``).

    Notes
    -----
    The mean is ``inf`` for :math:`\alpha \le 1`, the variance for :math:`\alpha \le 2`.

    Examples
    --------
    >>> round(float(Pareto(1.0, 3.0).mean), 6)
    1.5
    """

    def __init__(self, scale: ArrayLike, alpha: ArrayLike, *, validate: bool = True) -> None:
        p = self._init_params(validate, scale=scale, alpha=alpha)
        self.scale, self.alpha = p["scale"], p["alpha"]
        if validate:
            _check_pos("scale", self.scale)
            _check_pos("alpha", self.alpha)

    def _log_prob(self, x: F64) -> F64:
        xm, a = _f(self.scale), _f(self.alpha)
        res = np.log(a) + a * np.log(xm) - (a + 1) * np.log(x)
        return np.where(x >= xm, res, -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return _f(self.scale) * (1.0 + rng.pareto(_f(self.alpha), size=shape))

    def _entropy(self) -> F64:
        xm, a = _f(self.scale), _f(self.alpha)
        # log(xm) - log(a), not log(xm / a): the ratio overflows or goes subnormal
        return np.asarray(np.log(xm) - np.log(a) + 1 + 1 / a, dtype=np.float64)

    def _mean(self) -> F64:
        xm, a = _f(self.scale), _f(self.alpha)
        return np.where(a > 1, a * xm / (a - 1), np.inf)

    def _variance(self) -> F64:
        xm, a = _f(self.scale), _f(self.alpha)
        return np.where(a > 2, xm**2 * a / ((a - 1) ** 2 * (a - 2)), np.inf)


class Uniform(Distribution):
    r"""Continuous uniform distribution on :math:`[a, b]`.

    .. math:: p(x) = \frac{1}{b - a},\quad a \le x \le b

    Parameters
    ----------
    low : array_like
        :math:`a` (finite).
    high : array_like
        :math:`b > a` (finite).
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> round(float(Uniform(0.0, 2.0).entropy()), 6)
    0.693147
    """

    def __init__(self, low: ArrayLike, high: ArrayLike, *, validate: bool = True) -> None:
        p = self._init_params(validate, low=low, high=high)
        self.low, self.high = p["low"], p["high"]
        if validate:
            _check_real("low", self.low)
            _check_real("high", self.high)
            with np.errstate(over="ignore"):  # a width past float64's range is > 0 too
                V.check("high - low", self.high - self.low, _gt0, "> 0")

    def _log_prob(self, x: F64) -> F64:
        lo, hi = _f(self.low), _f(self.high)
        return np.where((x >= lo) & (x <= hi), -log_width(lo, hi), -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return rng.uniform(_f(self.low), _f(self.high), size=shape)

    def _entropy(self) -> F64:
        return log_width(_f(self.low), _f(self.high))

    def _mean(self) -> F64:
        return 0.5 * _f(self.low) + 0.5 * _f(self.high)  # no overflow at +-1.8e308

    def _variance(self) -> F64:
        return (_f(self.high) - _f(self.low)) ** 2 / 12


class Beta(Distribution):
    r"""Beta distribution.

    .. math:: p(x) = \frac{x^{a-1}(1-x)^{b-1}}{B(a, b)},\quad 0 < x < 1

    Parameters
    ----------
    concentration1 : array_like
        :math:`a > 0` (exponent of :math:`x`).
    concentration0 : array_like
        :math:`b > 0` (exponent of :math:`1 - x`).
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> round(float(Beta(2.0, 2.0).variance), 6)
    0.05
    """

    def __init__(
        self, concentration1: ArrayLike, concentration0: ArrayLike, *, validate: bool = True
    ) -> None:
        p = self._init_params(
            validate, concentration1=concentration1, concentration0=concentration0
        )
        self.concentration1, self.concentration0 = p["concentration1"], p["concentration0"]
        if validate:
            _check_pos("concentration1", self.concentration1)
            _check_pos("concentration0", self.concentration0)

    def _log_prob(self, x: F64) -> F64:
        sp = _special()
        a, b = _f(self.concentration1), _f(self.concentration0)
        res = sp.xlogy(a - 1, x) + sp.xlog1py(b - 1, -x) - sp.betaln(a, b)
        return np.where((x >= 0) & (x <= 1), res, -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return rng.beta(_f(self.concentration1), _f(self.concentration0), size=shape)

    def _entropy(self) -> F64:
        # log B(a, b) - (a - 1) psi(a) - (b - 1) psi(b) + (s - 2) psi(s), s = a + b, with
        # Stirling's formula taken out of log Gamma and psi: the terms of size a log a
        # cancel analytically (the plain form returns 1e92 for an entropy of -123 at
        # a = 4e105, and NaN past 1e154).
        a, b = _f(self.concentration1), _f(self.concentration0)
        s = a + b
        return np.asarray(
            0.5 * (LOG_2PI + 1.0 + np.log(a) + np.log(b))
            - 1.5 * np.log(s)
            - 0.5 / a
            - 0.5 / b
            + 1.0 / s
            + stirling_mu(a)
            + stirling_mu(b)
            - stirling_mu(s)
            + (a - 1.0) * digamma_nu(a)
            + (b - 1.0) * digamma_nu(b)
            - (s - 2.0) * digamma_nu(s),
            dtype=np.float64,
        ).reshape(np.shape(s))

    def _mean(self) -> F64:
        a, b = _f(self.concentration1), _f(self.concentration0)
        return a / (a + b)

    def _variance(self) -> F64:
        a, b = _f(self.concentration1), _f(self.concentration0)
        s = a + b
        return a * b / (s * s * (s + 1))


class Dirichlet(Distribution):
    r"""Dirichlet distribution on the simplex (last axis = components).

    .. math:: p(x) = \frac{\Gamma(\sum_i\alpha_i)}{\prod_i\Gamma(\alpha_i)}
        \prod_i x_i^{\alpha_i - 1}

    Parameters
    ----------
    concentration : array_like
        :math:`\alpha_i > 0`, shape ``batch_shape + (K,)``.
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> import numpy as np
    >>> np.round(Dirichlet([1.0, 3.0]).mean, 3)
    array([0.25, 0.75])
    """

    _event_ndims: ClassVar[dict[str, int]] = {"concentration": 1}
    event_ndim: ClassVar[int] = 1

    def __init__(self, concentration: ArrayLike, *, validate: bool = True) -> None:
        p = self._init_params(validate, concentration=concentration)
        self.concentration = p["concentration"]
        self.event_shape = self.concentration.shape[-1:]
        if validate:
            _check_pos("concentration", self.concentration)

    def _log_prob(self, x: F64) -> F64:
        sp = _special()
        a = _f(self.concentration)
        norm = sp.gammaln(a.sum(-1)) - sp.gammaln(a).sum(-1)
        return np.asarray(sp.xlogy(a - 1, x).sum(-1) + norm, dtype=np.float64)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        g = rng.gamma(np.broadcast_to(_f(self.concentration), shape + self.event_shape))
        return np.asarray(g / g.sum(-1, keepdims=True), dtype=np.float64)

    def _entropy(self) -> F64:
        sp = _special()
        a = _f(self.concentration)
        a0 = a.sum(-1)
        k = a.shape[-1]
        lnb = sp.gammaln(a).sum(-1) - sp.gammaln(a0)
        return np.asarray(
            lnb + (a0 - k) * sp.digamma(a0) - ((a - 1) * sp.digamma(a)).sum(-1), dtype=np.float64
        )

    def _mean(self) -> F64:
        a = _f(self.concentration)
        return np.asarray(a / a.sum(-1, keepdims=True), dtype=np.float64)

    def _variance(self) -> F64:
        a = _f(self.concentration)
        a0 = a.sum(-1, keepdims=True)
        m = a / a0
        return np.asarray(m * (1 - m) / (a0 + 1), dtype=np.float64)


class _ProbsLogits(Distribution):
    """Families parametrised by ``probs`` or ``logits`` (exactly one).

    The other parametrisation is computed on first access (no full-size work at
    construction).
    """

    _given: str
    _probs_val: FArr | None = None
    _logits_val: FArr | None = None

    @property
    def probs(self) -> FArr:
        """Probabilities (computed from ``logits`` on first access if those were given)."""
        if self._probs_val is None:
            self._probs_val = self._compute_probs()
        return self._probs_val

    @property
    def logits(self) -> FArr:
        """Logits (computed from ``probs`` on first access if those were given)."""
        if self._logits_val is None:
            self._logits_val = self._compute_logits()
        return self._logits_val

    def _compute_probs(self) -> FArr:  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute_logits(self) -> FArr:  # pragma: no cover - abstract
        raise NotImplementedError

    def _set_probs_logits(
        self, validate: bool, probs: ArrayLike | None, logits: ArrayLike | None, **extra: Any
    ) -> dict[str, FArr]:
        if (probs is None) == (logits is None):
            raise ValueError("exactly one of probs or logits must be given")
        p = self._init_params(validate, probs=probs, logits=logits, **extra)
        self._given = "probs" if probs is not None else "logits"
        if validate:
            if probs is not None:
                V.check("probs", p["probs"], _unit, "in [0, 1]")
            else:
                V.check("logits", p["logits"], _notnan, "a number (not NaN)")
        return p


class Bernoulli(_ProbsLogits):
    r"""Bernoulli distribution on :math:`\{0, 1\}`.

    .. math:: P(X = 1) = p = \sigma(\ell) = \frac{1}{1 + e^{-\ell}}

    Parameters
    ----------
    probs : array_like, optional
        :math:`p \in [0, 1]`.
    logits : array_like, optional
        :math:`\ell = \log(p / (1 - p))`; give exactly one of ``probs``/``logits``.
        Logits keep full accuracy where :math:`p` rounds to 0 or 1 (e.g. :math:`\ell = \pm700`).
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> round(float(Bernoulli(probs=0.5).entropy()), 6)
    0.693147
    >>> round(float(Bernoulli(logits=0.0).mean), 6)
    0.5
    """

    def __init__(
        self,
        probs: ArrayLike | None = None,
        logits: ArrayLike | None = None,
        *,
        validate: bool = True,
    ) -> None:
        p = self._set_probs_logits(validate, probs, logits)
        self._probs_val = p.get("probs")
        self._logits_val = p.get("logits")

    def _compute_probs(self) -> FArr:
        return np.asarray(sigmoid(_f(self.logits)), dtype=self.dtype)

    def _compute_logits(self) -> FArr:
        pf = _f(self.probs)
        with np.errstate(divide="ignore"):
            return np.asarray(np.log(pf) - np.log1p(-pf), dtype=self.dtype)

    def _log_p_q(self) -> tuple[F64, F64]:
        """Return ``(log p, log(1 - p))`` accurately."""
        if self._given == "logits":
            lg = _f(self.logits)
            return -softplus(-lg), -softplus(lg)
        pf = _f(self.probs)
        return np.log(pf), np.log1p(-pf)

    def _probs_pair(self) -> tuple[F64, F64]:
        """Return ``(p, 1 - p)`` with the complement computed without cancellation."""
        if self._given == "logits":
            lg = _f(self.logits)
            return sigmoid(lg), sigmoid(-lg)
        pf = _f(self.probs)
        return pf, 1.0 - pf

    def _log_prob(self, x: F64) -> F64:
        lp, lq = self._log_p_q()
        return np.where(x == 1, lp, np.where(x == 0, lq, -np.inf))

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return (rng.random(size=shape) < _f(self.probs)).astype(np.float64)

    def _entropy(self) -> F64:
        p, q = self._probs_pair()
        lp, lq = self._log_p_q()
        return -(np.where(p > 0, p * lp, 0.0) + np.where(q > 0, q * lq, 0.0))

    def _mean(self) -> F64:
        return _f(self.probs)

    def _variance(self) -> F64:
        p, q = self._probs_pair()
        return p * q


class Binomial(_ProbsLogits):
    r"""Binomial distribution: successes in ``total_count`` Bernoulli trials.

    .. math:: P(X = k) = \binom{n}{k} p^k (1-p)^{n-k},\quad k = 0, \dots, n

    Parameters
    ----------
    total_count : array_like
        :math:`n`, a non-negative integer.
    probs, logits : array_like, optional
        Success probability :math:`p` or its logit (exactly one).
    validate : bool, optional
        Check the parameters (default ``True``).

    Notes
    -----
    The entropy has no closed form; it is summed exactly over the support, which costs
    :math:`O(n)` per batch element.

    Examples
    --------
    >>> round(float(Binomial(10, probs=0.3).variance), 6)
    2.1
    """

    def __init__(
        self,
        total_count: ArrayLike,
        probs: ArrayLike | None = None,
        logits: ArrayLike | None = None,
        *,
        validate: bool = True,
    ) -> None:
        p = self._set_probs_logits(validate, probs, logits, total_count=total_count)
        self.total_count = p["total_count"]
        if validate:
            V.check("total_count", self.total_count, _ge0, ">= 0")
            V.check(
                "total_count",
                self.total_count,
                lambda a: np.asarray(np.isfinite(a) & (a == np.round(a))),
                "an integer",
            )
        self._bern = Bernoulli(probs=p.get("probs"), logits=p.get("logits"), validate=False)

    def _compute_probs(self) -> FArr:
        return self._bern.probs

    def _compute_logits(self) -> FArr:
        return self._bern.logits

    def _log_prob(self, x: F64) -> F64:
        sp = _special()
        n = _f(self.total_count)
        lp, lq = self._bern._log_p_q()
        ok = (x >= 0) & (x <= n) & (x == np.round(x))
        comb = sp.gammaln(n + 1) - sp.gammaln(x + 1) - sp.gammaln(n - x + 1)
        t1 = np.where(x > 0, x * lp, 0.0)
        t0 = np.where(n - x > 0, (n - x) * lq, 0.0)
        return np.where(ok, comb + t1 + t0, -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        n = np.broadcast_to(_f(self.total_count), shape).astype(np.int64)
        return rng.binomial(n, np.broadcast_to(_f(self.probs), shape)).astype(np.float64)

    def _entropy(self) -> F64:
        n = _f(self.total_count)
        nmax = int(n.max()) if n.size else 0
        k = np.arange(nmax + 1, dtype=np.float64).reshape((-1,) + (1,) * n.ndim)
        lp = self._log_prob(np.broadcast_to(k, (nmax + 1, *n.shape)))
        return np.asarray(-np.where(np.isfinite(lp), np.exp(lp) * lp, 0.0).sum(0), np.float64)

    def _mean(self) -> F64:
        return _f(self.total_count) * _f(self.probs)

    def _variance(self) -> F64:
        p, q = self._bern._probs_pair()
        return _f(self.total_count) * p * q


class Geometric(_ProbsLogits):
    r"""Geometric distribution: failures before the first success (support 0, 1, ...).

    .. math:: P(X = k) = p (1 - p)^k

    Parameters
    ----------
    probs, logits : array_like, optional
        Success probability :math:`p \in (0, 1]` or its logit (exactly one).
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> round(float(Geometric(probs=0.25).mean), 6)
    3.0
    """

    def __init__(
        self,
        probs: ArrayLike | None = None,
        logits: ArrayLike | None = None,
        *,
        validate: bool = True,
    ) -> None:
        p = self._set_probs_logits(validate, probs, logits)
        if validate and probs is not None:
            V.check("probs", p["probs"], _gt0, "in (0, 1]")
        if validate and logits is not None:
            V.check("logits", p["logits"], lambda a: np.asarray(a > -np.inf), "> -inf")
        self._bern = Bernoulli(probs=p.get("probs"), logits=p.get("logits"), validate=False)

    def _compute_probs(self) -> FArr:
        return self._bern.probs

    def _compute_logits(self) -> FArr:
        return self._bern.logits

    def _log_prob(self, x: F64) -> F64:
        lp, lq = self._bern._log_p_q()
        ok = (x >= 0) & (x == np.round(x))
        return np.where(ok, np.where(x > 0, x * lq, 0.0) + lp, -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return rng.geometric(np.broadcast_to(_f(self.probs), shape)).astype(np.float64) - 1.0

    def _entropy(self) -> F64:
        p, _ = self._bern._probs_pair()
        return np.asarray(self._bern._entropy() / p, dtype=np.float64)

    def _mean(self) -> F64:
        p, q = self._bern._probs_pair()
        return q / p

    def _variance(self) -> F64:
        p, q = self._bern._probs_pair()
        return q / (p * p)


class Categorical(_ProbsLogits):
    r"""Categorical distribution over ``K`` categories (last axis).

    .. math:: P(X = i) = p_i = \frac{e^{\ell_i}}{\sum_j e^{\ell_j}}

    Parameters
    ----------
    probs : array_like, optional
        Shape ``batch_shape + (K,)``; non-negative and summing to one along the last
        axis within ``1e-12 * K`` (``1e-5 * K`` for float32). The probabilities used are
        ``probs / probs.sum(-1)``.
    logits : array_like, optional
        Unnormalised log-probabilities (``-inf`` allowed, ``+inf`` and NaN not).
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> import numpy as np
    >>> d = Categorical(probs=[0.25, 0.75])
    >>> round(float(d.entropy()), 6)
    0.562335
    >>> np.round(Categorical(logits=[0.0, 0.0]).probs, 3)
    array([0.5, 0.5])
    """

    _event_ndims: ClassVar[dict[str, int]] = {"probs": 1, "logits": 1}

    def __init__(
        self,
        probs: ArrayLike | None = None,
        logits: ArrayLike | None = None,
        *,
        validate: bool = True,
    ) -> None:
        p = self._set_probs_logits(validate, probs, logits)
        if self._given == "probs":
            raw = p["probs"]
            if validate:
                s = _f(raw).sum(-1, keepdims=True)
                tol = (V.SIMPLEX_RTOL if self.dtype == np.float64 else V.SIMPLEX_RTOL_F32) * max(
                    raw.shape[-1], 1
                )
                V.check(
                    "probs.sum(-1)",
                    s[..., 0],
                    lambda a: np.asarray(np.abs(a - 1.0) <= tol),
                    f"1 within {tol:g}",
                )
            self._raw_probs = raw
        else:
            lg = p["logits"]
            if validate:
                V.check("logits", lg, lambda a: np.asarray(a < np.inf), "< +inf")
                V.check(
                    "logits",
                    lg.max(-1) if lg.size else lg,
                    lambda a: np.asarray(a > -np.inf),
                    "not all -inf along the last axis",
                )
            self._logits_val = lg
        given = p["probs"] if self._given == "probs" else p["logits"]
        self.num_categories = int(given.shape[-1])

    def _compute_probs(self) -> FArr:
        if self._given == "probs":
            raw = _f(self._raw_probs)
            return np.asarray(raw / raw.sum(-1, keepdims=True), dtype=self.dtype)
        return np.asarray(np.exp(self._log_probs()), dtype=self.dtype)

    def _compute_logits(self) -> FArr:
        with np.errstate(divide="ignore"):
            return np.asarray(np.log(_f(self.probs)), dtype=self.dtype)

    def _log_probs(self) -> F64:
        """Normalised log-probabilities, shape ``batch_shape + (K,)``."""
        if self._given == "probs":
            with np.errstate(divide="ignore"):
                return np.asarray(np.log(_f(self.probs)), dtype=np.float64)
        # (l - m) - log1p(sum of the others' e^{l - m}): l - m is exact for the top entry
        # and near it, and log1p keeps a small tail whole; lg - (m + log(sum)) lost
        # ulp(m) absolutely (3.4e-12 of log p = -0.0025 at logits 128 and 122)
        lg = _f(self.logits)
        top = np.argmax(lg, axis=-1)[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            sh = lg - np.take_along_axis(lg, top, -1)
            e = np.exp(sh)
            np.put_along_axis(e, top, 0.0, -1)
            return np.asarray(sh - np.log1p(e.sum(-1, keepdims=True)), dtype=np.float64)

    def _log_prob(self, x: F64) -> F64:
        k = self.probs.shape[-1]
        ok = (x >= 0) & (x < k) & (x == np.round(x))
        idx = np.where(ok, x, 0).astype(np.int64)
        lp = self._log_probs()
        shape = np.broadcast_shapes(idx.shape, self.batch_shape)
        lpb = np.broadcast_to(lp, (*shape, k))
        val = np.take_along_axis(lpb, np.broadcast_to(idx, shape)[..., None], axis=-1)[..., 0]
        return np.where(ok, val, -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        cdf = np.cumsum(_f(self.probs), axis=-1)
        u = rng.random(size=(*shape, 1))
        return np.asarray(np.minimum((u > cdf).sum(-1), cdf.shape[-1] - 1), dtype=np.float64)

    def _entropy(self) -> F64:
        p = _f(self.probs)
        lp = self._log_probs()
        return np.asarray(-np.where(p > 0, p * lp, 0.0).sum(-1), dtype=np.float64)

    def _mean(self) -> F64:
        k = np.arange(self.probs.shape[-1], dtype=np.float64)
        return np.asarray((_f(self.probs) * k).sum(-1), dtype=np.float64)

    def _variance(self) -> F64:
        k = np.arange(self.probs.shape[-1], dtype=np.float64)
        p = _f(self.probs)
        m = (p * k).sum(-1, keepdims=True)
        return np.asarray((p * (k - m) ** 2).sum(-1), dtype=np.float64)


class Poisson(Distribution):
    r"""Poisson distribution.

    .. math:: P(X = k) = \frac{\lambda^k e^{-\lambda}}{k!},\quad k = 0, 1, \dots

    Parameters
    ----------
    rate : array_like
        :math:`\lambda \ge 0` (``0`` is the point mass at 0).
    validate : bool, optional
        Check the parameters (default ``True``).

    Notes
    -----
    The entropy has no closed form: it is summed over the support for
    :math:`\lambda < 500` and taken from the asymptotic series
    :math:`\tfrac12\log(2\pi e\lambda) - \tfrac{1}{12\lambda} - \tfrac{1}{24\lambda^2}
    - \tfrac{19}{360\lambda^3}` above (error below 1e-11).

    Examples
    --------
    >>> round(float(Poisson(3.0).variance), 6)
    3.0
    """

    def __init__(self, rate: ArrayLike, *, validate: bool = True) -> None:
        p = self._init_params(validate, rate=rate)
        self.rate = p["rate"]
        if validate:
            V.check("rate", self.rate, _notnan, "a number")
            V.check("rate", self.rate, _ge0, ">= 0")
            V.check("rate", self.rate, _finite, "finite")

    def _log_prob(self, x: F64) -> F64:
        sp = _special()
        lam = _f(self.rate)
        ok = (x >= 0) & (x == np.round(x))
        return np.where(ok, sp.xlogy(x, lam) - lam - sp.gammaln(x + 1), -np.inf)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return rng.poisson(np.broadcast_to(_f(self.rate), shape)).astype(np.float64)

    def _entropy(self) -> F64:
        lam = np.asarray(_f(self.rate))
        out = np.empty(lam.shape)
        big = lam >= 500
        lb = lam[big]
        out[big] = 0.5 * np.log(2 * math.pi * math.e * lb) - (
            1 / (12 * lb) + 1 / (24 * lb**2) + 19 / (360 * lb**3)
        )
        sm = ~big
        if np.any(sm):
            ls = lam[sm]
            kmax = int(np.max(ls) + 40 * np.sqrt(np.max(ls)) + 40)
            k = np.arange(kmax + 1, dtype=np.float64)[:, None]
            lp = _special().xlogy(k, ls[None, :]) - ls[None, :] - _special().gammaln(k + 1)
            out[sm] = -np.where(np.isfinite(lp), np.exp(lp) * lp, 0.0).sum(0)
        return out

    def _mean(self) -> F64:
        return _f(self.rate)

    def _variance(self) -> F64:
        return _f(self.rate)


class MultivariateNormal(Distribution):
    r"""Multivariate normal distribution :math:`\mathcal N(\mu, \Sigma)`.

    .. math:: p(x) = (2\pi)^{-k/2} |\Sigma|^{-1/2}
        \exp\!\big(-\tfrac12 (x-\mu)^\top \Sigma^{-1} (x-\mu)\big)

    Parameters
    ----------
    loc : array_like
        Mean :math:`\mu`, shape ``batch_shape + (k,)``.
    covariance_matrix : array_like, optional
        Symmetric positive-definite :math:`\Sigma`, shape ``batch_shape + (k, k)``.
    scale_tril : array_like, optional
        Lower-triangular :math:`L` with positive diagonal, :math:`\Sigma = LL^\top`.
        Give exactly one of ``covariance_matrix``/``scale_tril``.
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> import numpy as np
    >>> d = MultivariateNormal(np.zeros(2), covariance_matrix=np.eye(2))
    >>> round(float(d.entropy()), 6)
    2.837877
    """

    _event_ndims: ClassVar[dict[str, int]] = {"loc": 1, "covariance_matrix": 2, "scale_tril": 2}
    event_ndim: ClassVar[int] = 1

    def __init__(
        self,
        loc: ArrayLike,
        covariance_matrix: ArrayLike | None = None,
        scale_tril: ArrayLike | None = None,
        *,
        validate: bool = True,
    ) -> None:
        if (covariance_matrix is None) == (scale_tril is None):
            raise ValueError("exactly one of covariance_matrix or scale_tril must be given")
        p = self._init_params(
            validate, loc=loc, covariance_matrix=covariance_matrix, scale_tril=scale_tril
        )
        self.loc = p["loc"]
        k = self.loc.shape[-1]
        mat = p.get("covariance_matrix", p.get("scale_tril"))
        assert mat is not None
        if mat.shape[-2:] != (k, k):
            name = "covariance_matrix" if covariance_matrix is not None else "scale_tril"
            raise ValueError(
                f"loc with shape {self.loc.shape} and {name} with shape {mat.shape} do not "
                f"match: the matrix must be ({k}, {k})"
            )
        self.event_shape = (k,)
        if validate:
            _check_real("loc", self.loc)
        if covariance_matrix is not None:
            self.covariance_matrix = p["covariance_matrix"]
            cov = _f(self.covariance_matrix)
            if validate:
                _check_real("covariance_matrix", cov)
                V.check(
                    "covariance_matrix",
                    np.all(cov == np.swapaxes(cov, -1, -2), axis=(-1, -2)),
                    lambda a: a,
                    "symmetric (bool shown)",
                )
            try:
                tril = np.linalg.cholesky(cov)
            except np.linalg.LinAlgError:
                raise ValueError("covariance_matrix must be positive definite") from None
            if validate:
                V.check(
                    "covariance_matrix",
                    np.diagonal(tril, axis1=-2, axis2=-1),
                    _gt0,
                    "positive definite (Cholesky diagonal shown)",
                )
            self._given = "covariance_matrix"
            self.scale_tril = np.asarray(tril, dtype=self.dtype)
        else:
            self.scale_tril = p["scale_tril"]
            tril = _f(self.scale_tril)
            if validate:
                _check_real("scale_tril", tril)
                V.check(
                    "scale_tril",
                    np.triu(tril, 1),
                    lambda a: np.asarray(a == 0),
                    "lower triangular (entry above the diagonal shown)",
                )
                V.check("scale_tril diagonal", np.diagonal(tril, axis1=-2, axis2=-1), _gt0, "> 0")
            self._given = "scale_tril"
            self._cov: FArr | None = None  # formed on first use (the KL does not need it)

    @property
    def covariance_matrix(self) -> FArr:
        r""":math:`\Sigma = LL^\top` (formed on first use when ``scale_tril`` was given).

        Entries past float64's range are ``inf`` (a scale_tril entry above ~1.3e154),
        without an overflow warning: that is their value in float64.
        """
        if self._cov is None:
            tril = _f(self.scale_tril)
            with np.errstate(over="ignore"):
                self._cov = np.asarray(tril @ np.swapaxes(tril, -1, -2), self.dtype)
        return self._cov

    @covariance_matrix.setter
    def covariance_matrix(self, value: FArr) -> None:
        self._cov = value

    def _tril(self) -> F64:
        return _f(self.scale_tril)

    def _log_prob(self, x: F64) -> F64:
        lt = self._tril()
        k = lt.shape[-1]
        diff = x - _f(self.loc)
        shape = np.broadcast_shapes(diff.shape[:-1], lt.shape[:-2])
        sol = np.linalg.solve(
            np.broadcast_to(lt, (*shape, k, k)), np.broadcast_to(diff, (*shape, k))[..., None]
        )[..., 0]
        logdet = np.log(np.diagonal(lt, axis1=-2, axis2=-1)).sum(-1)
        return np.asarray(-0.5 * (sol * sol).sum(-1) - logdet - 0.5 * k * LOG_2PI, np.float64)

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        k = self.event_shape[0]
        z = rng.standard_normal(size=(*shape, k))
        return np.asarray(_f(self.loc) + (self._tril() @ z[..., None])[..., 0], np.float64)

    def _entropy(self) -> F64:
        lt = self._tril()
        k = lt.shape[-1]
        logdet = np.log(np.diagonal(lt, axis1=-2, axis2=-1)).sum(-1)
        return np.asarray(0.5 * k * (1 + LOG_2PI) + logdet, dtype=np.float64)

    def _mean(self) -> F64:
        return _f(self.loc)

    def _variance(self) -> F64:
        return np.asarray(np.diagonal(_f(self.covariance_matrix), axis1=-2, axis2=-1), np.float64)


class DiagonalNormal(Distribution):
    r"""Normal distribution with independent coordinates, :math:`\mathcal N(\mu, \operatorname{diag}\sigma^2)`.

    .. math:: p(x) = \prod_{i=1}^{k} \frac{1}{\sigma_i\sqrt{2\pi}}
        \exp\!\Big(-\frac{(x_i-\mu_i)^2}{2\sigma_i^2}\Big)

    The last axis is the event (the ``k`` coordinates); PyTorch writes it
    ``Independent(Normal(loc, scale), 1)``, TFP ``MultivariateNormalDiag``.

    Parameters
    ----------
    loc : array_like
        Mean vector :math:`\mu` (finite), shape ``batch_shape + (k,)``.
    scale : array_like
        Standard deviations :math:`\sigma_i > 0`, shape ``batch_shape + (k,)``; the batch
        axes of ``loc`` and ``scale`` broadcast, and so does a last axis of length 1 (a
        scalar is one value for every coordinate).
    validate : bool, optional
        Check the parameters (default ``True``).

    Examples
    --------
    >>> import numpy as np
    >>> d = DiagonalNormal([0.0, 1.0], [1.0, 2.0])
    >>> d.batch_shape, d.event_shape
    ((), (2,))
    >>> round(float(d.entropy()), 6)
    3.531024
    >>> d.sample(np.random.default_rng(0), 3).shape
    (3, 2)
    """

    _event_ndims: ClassVar[dict[str, int]] = {"loc": 1, "scale": 1}
    event_ndim: ClassVar[int] = 1

    loc: FArr
    scale: FArr

    def __init__(self, loc: ArrayLike, scale: ArrayLike, *, validate: bool = True) -> None:
        # a scalar is one value for every coordinate (shape (1,), broadcast below)
        loc, scale = (np.reshape(v, (1,)) if np.ndim(v) == 0 else v for v in (loc, scale))
        p = self._init_params(validate, loc=loc, scale=scale)
        try:
            event = np.broadcast_shapes(p["loc"].shape[-1:], p["scale"].shape[-1:])
        except ValueError:
            raise ValueError(
                f"loc with shape {np.shape(loc)} and scale with shape {np.shape(scale)} "
                "do not match: their last axes (the coordinates) must have one length"
            ) from None
        shape = self.batch_shape + event
        self.loc = np.broadcast_to(p["loc"], shape)
        self.scale = np.broadcast_to(p["scale"], shape)
        self.event_shape = event
        if validate:
            _check_real("loc", self.loc)
            _check_pos("scale", self.scale)

    def _log_prob(self, x: F64) -> F64:
        s = _f(self.scale)
        z = (x - _f(self.loc)) / s
        k = self.event_shape[0]
        return np.asarray(
            -(z * (0.5 * z)).sum(-1) - np.log(s).sum(-1) - 0.5 * k * LOG_2PI, dtype=np.float64
        )

    def _sample(self, rng: np.random.Generator, shape: Shape) -> F64:
        return rng.normal(_f(self.loc), _f(self.scale), size=shape + self.event_shape)

    def _entropy(self) -> F64:
        k = self.event_shape[0]
        return np.asarray(0.5 * k * (LOG_2PI + 1.0) + np.log(_f(self.scale)).sum(-1), np.float64)

    def _mean(self) -> F64:
        return _f(self.loc)

    def _variance(self) -> F64:
        return _f(self.scale) ** 2
