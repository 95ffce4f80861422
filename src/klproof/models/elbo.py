r"""Monte Carlo estimators of the evidence lower bound (ELBO) and of the IWAE bound.

For a latent-variable model :math:`p(x, z) = p(x \mid z)\, p(z)` and a diagonal
Gaussian :math:`q(z) = \mathcal N(m, \operatorname{diag} s^2)`, the ELBO is

.. math::

    \mathcal L(q) = \mathbb E_{q}\left[\log p(x, z) - \log q(z)\right]
    = \mathbb E_{q}\left[\log p(x \mid z)\right] - \mathrm{KL}(q \,\|\, p(z))
    = \log p(x) - \mathrm{KL}(q \,\|\, p(z \mid x)) \le \log p(x).

**Sign convention.** Every function here returns the ELBO (or the IWAE bound), a
quantity to *maximise*. The loss minimised in training is its negative,
:attr:`ELBOEstimate.loss`.

All samples are reparameterised, :math:`z = m + s \odot \varepsilon` with
:math:`\varepsilon \sim \mathcal N(0, I)`, so the estimates are differentiable in
:math:`(m, s)` in an autodiff framework. Each estimator returns the estimate and its
standard error (sample standard deviation over :math:`\sqrt{\text{number of
independent terms}}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from klproof.models._common import (
    LOG_2PI,
    as_array,
    kl_diagonal_normal,
    log_mean_exp,
    make_rng,
    positive,
    positive_int,
)

F64 = NDArray[np.float64]

__all__ = [
    "DiagonalNormal",
    "ELBOEstimate",
    "GaussianPriorModel",
    "LatentVariableModel",
    "LocScale",
    "elbo_analytic_kl",
    "elbo_monte_carlo",
    "iwae_bound",
]


@runtime_checkable
class LocScale(Protocol):
    """A diagonal Gaussian given by ``loc`` and ``scale`` (last axis = latent dimension).

    :class:`klproof.DiagonalNormal` satisfies it, and so does any distribution object with
    ``loc`` and ``scale`` attributes.
    """

    @property
    def loc(self) -> Any:
        """Mean vector :math:`m`."""

    @property
    def scale(self) -> Any:
        """Standard deviations :math:`s` (the diagonal of the covariance is :math:`s^2`)."""


class LatentVariableModel(Protocol):
    """What the Monte Carlo estimators need from a model with a continuous latent."""

    def log_likelihood(self, x: ArrayLike, z: ArrayLike) -> F64:
        r""":math:`\log p(x \mid z)`, broadcasting over the leading axes of ``z``."""

    def log_prior(self, z: ArrayLike) -> F64:
        r""":math:`\log p(z)`, over the leading axes of ``z``."""


class GaussianPriorModel(LatentVariableModel, Protocol):
    r"""A model whose prior is a diagonal Gaussian :math:`\mathcal N(\mu_0, \operatorname{diag}\sigma_0^2)`."""

    @property
    def prior_loc(self) -> F64:
        r"""Prior mean :math:`\mu_0`."""

    @property
    def prior_scale(self) -> F64:
        r"""Prior standard deviations :math:`\sigma_0`."""


@dataclass(frozen=True)
class DiagonalNormal:
    r"""Diagonal Gaussian :math:`\mathcal N(m, \operatorname{diag} s^2)`.

    Parameters
    ----------
    loc : array_like, shape (d,)
        Mean :math:`m`.
    scale : array_like, shape (d,)
        Standard deviations :math:`s > 0`.

    Examples
    --------
    >>> q = DiagonalNormal([0.0, 1.0], [1.0, 2.0])
    >>> q.sample(3, rng=0).shape
    (3, 2)
    """

    loc: F64
    scale: F64

    def __init__(self, loc: ArrayLike, scale: ArrayLike) -> None:
        loc_arr = as_array("loc", loc)
        scale_arr = positive("scale", scale)
        if loc_arr.ndim != 1 or scale_arr.shape != loc_arr.shape:
            raise ValueError(
                f"loc and scale must be vectors of one shape; got {loc_arr.shape} and "
                f"{scale_arr.shape}"
            )
        object.__setattr__(self, "loc", loc_arr)
        object.__setattr__(self, "scale", scale_arr)

    def sample(self, n: int, *, rng: np.random.Generator | int | None = None) -> F64:
        """Reparameterised samples ``loc + scale * eps``, shape ``(n, d)``."""
        eps = make_rng(rng).standard_normal((positive_int("n", n), self.loc.size))
        return np.asarray(self.loc + self.scale * eps, dtype=np.float64)

    def log_prob(self, z: ArrayLike) -> F64:
        r"""Log density :math:`\log q(z)`, summed over the last axis."""
        u = (np.asarray(z, dtype=np.float64) - self.loc) / self.scale
        return np.asarray(
            -0.5 * np.sum(u * u, axis=-1)
            - np.sum(np.log(self.scale))
            - 0.5 * self.loc.size * LOG_2PI,
            dtype=np.float64,
        )


@dataclass(frozen=True)
class ELBOEstimate:
    """A Monte Carlo estimate with its standard error.

    Attributes
    ----------
    value : float
        The estimate of the bound (to be maximised).
    stderr : float
        Standard error of ``value``: sample standard deviation of the independent
        terms averaged, divided by the square root of their number.
    num_samples : int
        Number of independent terms averaged.

    Examples
    --------
    >>> est = ELBOEstimate(value=-3.5, stderr=0.01, num_samples=1000)
    >>> est.loss   # the negative ELBO, to minimise
    3.5
    """

    value: float
    stderr: float
    num_samples: int

    @property
    def loss(self) -> float:
        """The negative ELBO, the quantity a training loop minimises."""
        return -self.value


def _as_q(q: LocScale) -> DiagonalNormal:
    if not isinstance(q, LocScale):
        raise TypeError(f"q must have loc and scale attributes; got {type(q).__name__}")
    return q if isinstance(q, DiagonalNormal) else DiagonalNormal(q.loc, q.scale)


def _summary(terms: F64) -> ELBOEstimate:
    n = terms.size
    return ELBOEstimate(
        value=float(np.mean(terms)),
        stderr=float(np.std(terms, ddof=1) / np.sqrt(n)),
        num_samples=n,
    )


def elbo_analytic_kl(
    model: GaussianPriorModel,
    x: ArrayLike,
    q: LocScale,
    *,
    num_samples: int,
    rng: np.random.Generator | int | None = None,
) -> ELBOEstimate:
    r"""ELBO with a Monte Carlo reconstruction term and the KL to the prior in closed form.

    .. math::

        \hat{\mathcal L} = \frac1S \sum_{i=1}^{S} \log p(x \mid z_i)
        - \mathrm{KL}\left(q \,\|\, p(z)\right), \qquad z_i = m + s \odot \varepsilon_i,

    (Kingma and Welling's estimator B). Unbiased for :math:`\mathcal L(q)`; the KL term
    adds no variance.

    Parameters
    ----------
    model : GaussianPriorModel
        Supplies :math:`\log p(x \mid z)` and the prior mean and scale.
    x : array_like
        One observation.
    q : LocScale
        The variational distribution :math:`q(z) = \mathcal N(m, \operatorname{diag} s^2)`.
    num_samples : int
        :math:`S \ge 2` (two are needed for a standard error).
    rng : numpy.random.Generator or int, optional
        Random generator or seed.

    Returns
    -------
    ELBOEstimate
        The estimate and its standard error.

    References
    ----------
    D. P. Kingma and M. Welling, Auto-Encoding Variational Bayes, ICLR 2014, eq. (7).

    Examples
    --------
    >>> from klproof.models import LinearGaussian
    >>> model = LinearGaussian(weight=[[2.0]], bias=[0.0], noise_scale=0.5)
    >>> q = model.posterior_marginals([1.0])   # d = 1: the exact posterior
    >>> est = elbo_analytic_kl(model, [1.0], q, num_samples=100_000, rng=0)
    >>> bool(abs(est.value - model.log_evidence([1.0])) < 4 * est.stderr + 1e-12)
    True
    """
    if not (hasattr(model, "prior_loc") and hasattr(model, "prior_scale")):
        raise TypeError(
            "elbo_analytic_kl needs a model with a diagonal Gaussian prior (prior_loc, "
            f"prior_scale); {type(model).__name__} has none: use elbo_monte_carlo"
        )
    qd = _as_q(q)
    s = positive_int("num_samples", num_samples, minimum=2)
    z = qd.sample(s, rng=rng)
    rec = np.asarray(model.log_likelihood(x, z), dtype=np.float64)
    kl = float(kl_diagonal_normal(qd.loc, qd.scale, model.prior_loc, model.prior_scale))
    est = _summary(rec)
    return ELBOEstimate(est.value - kl, est.stderr, s)


def elbo_monte_carlo(
    model: LatentVariableModel,
    x: ArrayLike,
    q: LocScale,
    *,
    num_samples: int,
    rng: np.random.Generator | int | None = None,
) -> ELBOEstimate:
    r"""Fully Monte Carlo ELBO: the average log importance weight.

    .. math::

        \hat{\mathcal L} = \frac1S \sum_{i=1}^{S}
        \left[\log p(x \mid z_i) + \log p(z_i) - \log q(z_i)\right],
        \qquad z_i = m + s \odot \varepsilon_i.

    Unbiased for :math:`\mathcal L(q)`; works for any prior with a log density.

    Parameters
    ----------
    model : LatentVariableModel
        Supplies :math:`\log p(x \mid z)` and :math:`\log p(z)`.
    x : array_like
        One observation.
    q : LocScale
        The variational distribution.
    num_samples : int
        :math:`S \ge 2`.
    rng : numpy.random.Generator or int, optional
        Random generator or seed.

    Returns
    -------
    ELBOEstimate
        The estimate and its standard error.

    Examples
    --------
    >>> from klproof.models import LinearGaussian
    >>> model = LinearGaussian(weight=[[2.0]], bias=[0.0], noise_scale=0.5)
    >>> q = DiagonalNormal([0.3], [0.5])
    >>> est = elbo_monte_carlo(model, [1.0], q, num_samples=100_000, rng=0)
    >>> bool(abs(est.value - model.elbo(q, [1.0])) < 4 * est.stderr)
    True
    """
    qd = _as_q(q)
    s = positive_int("num_samples", num_samples, minimum=2)
    z = qd.sample(s, rng=rng)
    log_w = _log_weights(model, x, qd, z)
    return _summary(log_w)


def _log_weights(model: LatentVariableModel, x: ArrayLike, q: DiagonalNormal, z: F64) -> F64:
    return np.asarray(
        model.log_likelihood(x, z) + model.log_prior(z) - q.log_prob(z), dtype=np.float64
    )


def iwae_bound(
    model: LatentVariableModel,
    x: ArrayLike,
    q: LocScale,
    *,
    num_importance: int,
    num_samples: int,
    rng: np.random.Generator | int | None = None,
) -> ELBOEstimate:
    r"""Importance-weighted bound :math:`\mathcal L_K` (Burda et al. 2016).

    .. math::

        \mathcal L_K = \mathbb E\left[\log \frac1K \sum_{k=1}^{K}
        \frac{p(x, z_k)}{q(z_k)}\right], \qquad z_k \sim q \text{ i.i.d.},

    with :math:`\mathcal L_1 = \mathcal L(q) \le \mathcal L_K \le \mathcal L_{2K}
    \le \log p(x)`. The inner log-mean-exp is computed stably (maximum subtracted).
    The estimate averages ``num_samples`` independent groups of ``num_importance``
    weights; each group's value is an unbiased estimate of :math:`\mathcal L_K`.

    Parameters
    ----------
    model : LatentVariableModel
        Supplies :math:`\log p(x \mid z)` and :math:`\log p(z)`.
    x : array_like
        One observation.
    q : LocScale
        The proposal :math:`q`.
    num_importance : int
        :math:`K \ge 1`, importance samples per group.
    num_samples : int
        Number of independent groups, :math:`\ge 2`.
    rng : numpy.random.Generator or int, optional
        Random generator or seed.

    Returns
    -------
    ELBOEstimate
        The estimate of :math:`\mathcal L_K`, its standard error and the number of groups.

    References
    ----------
    Y. Burda, R. Grosse and R. Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016.

    Examples
    --------
    >>> from klproof.models import LinearGaussian
    >>> model = LinearGaussian(weight=[[2.0]], bias=[0.0], noise_scale=0.5)
    >>> q = DiagonalNormal([0.0], [1.0])
    >>> l1 = iwae_bound(model, [1.0], q, num_importance=1, num_samples=20_000, rng=0).value
    >>> l64 = iwae_bound(model, [1.0], q, num_importance=64, num_samples=20_000, rng=0).value
    >>> bool(l1 < l64 < model.log_evidence([1.0]))
    True
    """
    qd = _as_q(q)
    k = positive_int("num_importance", num_importance)
    s = positive_int("num_samples", num_samples, minimum=2)
    z = make_rng(rng).standard_normal((s, k, qd.loc.size)) * qd.scale + qd.loc
    log_w = _log_weights(model, x, qd, z)
    return _summary(log_mean_exp(log_w, axis=-1))
