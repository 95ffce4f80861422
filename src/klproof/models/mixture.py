r"""Gaussian mixtures with exact evidence (by log-sum-exp over components).

Two models:

* :class:`GaussianMixture` — the latent is the discrete component :math:`k`; the
  posterior is categorical and the ELBO of a categorical :math:`q` is exact.
* :class:`MixturePriorModel` — a continuous latent :math:`z` with a Gaussian-mixture
  prior observed in Gaussian noise; its posterior is a Gaussian mixture, *not* a
  Gaussian, so a Gaussian :math:`q` keeps a gap (:func:`gaussian_gap`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from klproof.models._common import LOG_2PI, as_array, positive
from klproof.models.elbo import DiagonalNormal, iwae_bound
from klproof.numeric import Categorical

F64 = NDArray[np.float64]

__all__ = ["GapReport", "GaussianMixture", "MixturePriorModel", "gaussian_gap"]


def _mixture_params(probs: ArrayLike, locs: ArrayLike, scales: ArrayLike) -> tuple[F64, F64, F64]:
    p = as_array("probs", probs, ndim=1)
    if np.any(p < 0) or abs(float(np.sum(p)) - 1.0) > 1e-12 * p.size:
        raise ValueError(f"probs must be non-negative and sum to 1; got {probs!r}")
    m = as_array("locs", locs)
    if m.ndim == 1:
        m = m[:, None]
    if m.ndim != 2 or m.shape[0] != p.size:
        raise ValueError(f"locs must have shape ({p.size}, D); got {np.shape(locs)}")
    s = positive("scales", np.broadcast_to(np.asarray(scales, dtype=np.float64), p.shape))
    return p, m, np.array(s)


def _isotropic_log_normal(x: F64, locs: F64, var: F64) -> F64:
    """``log N(x; locs[k], var[k] I)`` for every component, shape ``(..., K)``."""
    diff = x[..., None, :] - locs
    d = locs.shape[-1]
    return np.asarray(
        -0.5 * np.sum(diff * diff, axis=-1) / var - 0.5 * d * (LOG_2PI + np.log(var)),
        dtype=np.float64,
    )


@dataclass(frozen=True)
class GaussianMixture:
    r"""Mixture of isotropic Gaussians; the latent is the component index.

    .. math::

        k \sim \mathrm{Categorical}(\pi), \quad x \mid k \sim \mathcal N(\mu_k, s_k^2 I),
        \quad \log p(x) = \operatorname{logsumexp}_k
        \left[\log \pi_k + \log \mathcal N(x; \mu_k, s_k^2 I)\right].

    Parameters
    ----------
    probs : array_like, shape (K,)
        Mixing weights :math:`\pi` (non-negative, summing to 1).
    locs : array_like, shape (K, D) or (K,)
        Component means :math:`\mu_k` (a vector means :math:`D = 1`).
    scales : array_like, shape (K,) or scalar
        Component standard deviations :math:`s_k > 0`.

    Examples
    --------
    >>> gm = GaussianMixture(probs=[0.3, 0.7], locs=[-1.0, 2.0], scales=1.0)
    >>> round(float(gm.log_evidence([0.5])), 6)
    -2.043939
    >>> post = gm.posterior([0.5])
    >>> bool(abs(gm.elbo(post, [0.5]) - gm.log_evidence([0.5])) < 1e-12)
    True
    """

    probs: F64
    locs: F64
    scales: F64

    def __init__(self, probs: ArrayLike, locs: ArrayLike, scales: ArrayLike) -> None:
        p, m, s = _mixture_params(probs, locs, scales)
        object.__setattr__(self, "probs", p)
        object.__setattr__(self, "locs", m)
        object.__setattr__(self, "scales", s)

    def _x(self, x: ArrayLike) -> F64:
        arr = as_array("x", x)
        if arr.ndim == 0 or arr.shape[-1] != self.locs.shape[1]:
            raise ValueError(f"x must have shape (..., {self.locs.shape[1]}); got {arr.shape}")
        return arr

    def log_joint(self, x: ArrayLike) -> F64:
        r""":math:`\log p(x, k) = \log\pi_k + \log\mathcal N(x; \mu_k, s_k^2 I)`, shape (..., K)."""
        with np.errstate(divide="ignore"):
            log_pi = np.log(self.probs)
        return log_pi + _isotropic_log_normal(self._x(x), self.locs, self.scales**2)

    def log_evidence(self, x: ArrayLike) -> F64:
        r"""Exact :math:`\log p(x)` by log-sum-exp over components."""
        return np.asarray(special.logsumexp(self.log_joint(x), axis=-1), dtype=np.float64)

    def posterior(self, x: ArrayLike) -> Categorical:
        r"""Exact posterior :math:`p(k \mid x) = \operatorname{softmax}_k \log p(x, k)`."""
        lj = self.log_joint(x)
        return Categorical(probs=np.exp(lj - special.logsumexp(lj, axis=-1, keepdims=True)))

    def elbo(self, q: Any, x: ArrayLike) -> F64:
        r"""Exact ELBO of a categorical :math:`q(k)`.

        .. math::

            \mathcal L(q) = \sum_k q_k \left[\log p(x, k) - \log q_k\right],

        with :math:`0 \log 0 = 0`; :math:`-\infty` if :math:`q_k > 0` where
        :math:`\pi_k = 0`.

        Parameters
        ----------
        q : object
            With ``probs`` of shape ``(..., K)``, e.g. a :class:`klproof.Categorical`.
        x : array_like, shape (..., D)
            Observations.

        Returns
        -------
        numpy.ndarray
            :math:`\mathcal L(q)` per observation.
        """
        if not hasattr(q, "probs"):
            raise ValueError(f"q must have a probs attribute; got {type(q).__name__}")
        qp = as_array("q.probs", q.probs)
        k = self.probs.size
        if qp.shape[-1:] != (k,) or np.any(qp < 0):
            raise ValueError(f"q.probs must be non-negative with shape (..., {k}); got {qp.shape}")
        if np.any(np.abs(np.sum(qp, axis=-1) - 1.0) > 1e-12 * k):
            raise ValueError("q.probs must sum to 1 along the last axis")
        log_lik = _isotropic_log_normal(self._x(x), self.locs, self.scales**2)
        value = (
            np.sum(special.xlogy(qp, self.probs), axis=-1)
            + np.sum(qp * log_lik, axis=-1)
            - np.sum(special.xlogy(qp, qp), axis=-1)
        )
        return np.asarray(value, dtype=np.float64)


@dataclass(frozen=True)
class MixturePriorModel:
    r"""Continuous latent with a Gaussian-mixture prior, observed in Gaussian noise.

    .. math::

        z \sim \sum_k \pi_k \mathcal N(\mu_k, s_k^2 I), \qquad
        x \mid z \sim \mathcal N(z, \sigma^2 I), \qquad
        \log p(x) = \operatorname{logsumexp}_k
        \left[\log\pi_k + \log\mathcal N(x; \mu_k, (s_k^2 + \sigma^2) I)\right].

    The posterior :math:`p(z \mid x)` is again a Gaussian mixture (weights
    :math:`p(k \mid x)`), so no Gaussian :math:`q` attains :math:`\log p(x)`.

    Parameters
    ----------
    probs : array_like, shape (K,)
        Mixing weights of the prior.
    locs : array_like, shape (K, D) or (K,)
        Prior component means.
    scales : array_like, shape (K,) or scalar
        Prior component standard deviations.
    noise_scale : float
        Observation noise :math:`\sigma > 0`.

    Examples
    --------
    >>> model = MixturePriorModel([0.5, 0.5], [-2.0, 2.0], 0.5, noise_scale=1.0)
    >>> round(float(model.log_evidence([0.0])), 6)
    -2.63051
    """

    probs: F64
    locs: F64
    scales: F64
    noise_scale: float

    def __init__(
        self, probs: ArrayLike, locs: ArrayLike, scales: ArrayLike, noise_scale: float
    ) -> None:
        p, m, s = _mixture_params(probs, locs, scales)
        sigma = positive("noise_scale", noise_scale)
        if sigma.ndim:
            raise ValueError(f"noise_scale must be a scalar; got shape {sigma.shape}")
        object.__setattr__(self, "probs", p)
        object.__setattr__(self, "locs", m)
        object.__setattr__(self, "scales", s)
        object.__setattr__(self, "noise_scale", float(sigma))

    @property
    def dim(self) -> int:
        """Dimension :math:`D` of :math:`x` and :math:`z`."""
        return int(self.locs.shape[1])

    def _arr(self, name: str, value: ArrayLike) -> F64:
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 0 or arr.shape[-1] != self.dim:
            raise ValueError(f"{name} must have shape (..., {self.dim}); got {arr.shape}")
        return arr

    def log_likelihood(self, x: ArrayLike, z: ArrayLike) -> F64:
        r""":math:`\log \mathcal N(x; z, \sigma^2 I)`."""
        r = self._arr("x", x) - self._arr("z", z)
        var = self.noise_scale**2
        return np.asarray(
            -0.5 * np.sum(r * r, axis=-1) / var - 0.5 * self.dim * (LOG_2PI + np.log(var)),
            dtype=np.float64,
        )

    def log_prior(self, z: ArrayLike) -> F64:
        r""":math:`\log \sum_k \pi_k \mathcal N(z; \mu_k, s_k^2 I)`."""
        with np.errstate(divide="ignore"):
            log_pi = np.log(self.probs)
        lj = log_pi + _isotropic_log_normal(self._arr("z", z), self.locs, self.scales**2)
        return np.asarray(special.logsumexp(lj, axis=-1), dtype=np.float64)

    def log_evidence(self, x: ArrayLike) -> F64:
        r"""Exact :math:`\log p(x)` by log-sum-exp over components."""
        with np.errstate(divide="ignore"):
            log_pi = np.log(self.probs)
        var = self.scales**2 + self.noise_scale**2
        lj = log_pi + _isotropic_log_normal(self._arr("x", x), self.locs, var)
        return np.asarray(special.logsumexp(lj, axis=-1), dtype=np.float64)

    def elbo_quadrature(self, q: DiagonalNormal, x: ArrayLike, *, nodes: int = 200) -> float:
        r"""ELBO of a Gaussian :math:`q` in one dimension by Gauss–Hermite quadrature.

        .. math::

            \mathcal L(q) = \mathbb E_q[\log p(x \mid z) + \log p(z)] + H(q),
            \quad H(q) = \tfrac12 \log(2\pi e s^2),

        with :math:`\mathbb E_q[f] \approx \pi^{-1/2}\sum_i w_i f(m + \sqrt2 s t_i)`.
        The integrand is smooth, so the rule converges geometrically in ``nodes``.
        """
        if self.dim != 1:
            raise ValueError(f"elbo_quadrature needs a one-dimensional model; dim is {self.dim}")
        t, w = special.roots_hermite(nodes)
        z = (q.loc[0] + np.sqrt(2.0) * q.scale[0] * t)[:, None]
        xx = self._arr("x", x)
        f = self.log_likelihood(xx, z) + self.log_prior(z)
        entropy = 0.5 * (LOG_2PI + 1.0) + float(np.log(q.scale[0]))
        return float(np.dot(w, f) / np.sqrt(np.pi) + entropy)


@dataclass(frozen=True)
class GapReport:
    r"""The gap a Gaussian :math:`q` leaves on :class:`MixturePriorModel`.

    Attributes
    ----------
    log_evidence : float
        Exact :math:`\log p(x)`.
    best_elbo : float
        The largest ELBO over Gaussian :math:`q` (by quadrature and BFGS).
    q : DiagonalNormal
        The maximiser.
    gap : float
        ``log_evidence - best_elbo`` :math:`= \min_q \mathrm{KL}(q \| p(z \mid x)) > 0`.
    iwae : dict[int, tuple[float, float]]
        :math:`K \mapsto` (IWAE bound estimate, standard error) with the best :math:`q`
        as proposal. It barely moves: a mode-seeking :math:`q` never proposes the
        other mode.
    moment_matched_q : DiagonalNormal
        The Gaussian with the posterior's mean and variance (it minimises
        :math:`\mathrm{KL}(p(z \mid x) \| q)`, the *inclusive* direction).
    moment_matched_elbo : float
        Its ELBO, lower than ``best_elbo``.
    iwae_moment_matched : dict[int, tuple[float, float]]
        IWAE bounds with the moment-matched proposal: they rise towards
        :math:`\log p(x)` as :math:`K` grows.
    """

    log_evidence: float
    best_elbo: float
    q: DiagonalNormal
    gap: float
    iwae: dict[int, tuple[float, float]]
    moment_matched_q: DiagonalNormal
    moment_matched_elbo: float
    iwae_moment_matched: dict[int, tuple[float, float]]


def gaussian_gap(
    model: MixturePriorModel,
    x: ArrayLike,
    *,
    num_importance: tuple[int, ...] = (1, 4, 16, 64, 256),
    num_samples: int = 2000,
    rng: np.random.Generator | int | None = 0,
) -> GapReport:
    r"""Best Gaussian ELBO on a model whose posterior is not Gaussian, and the IWAE bounds.

    Maximises :meth:`MixturePriorModel.elbo_quadrature` over :math:`(m, \log s)` and
    reports the remaining gap
    :math:`\log p(x) - \max_q \mathcal L(q) = \min_q \mathrm{KL}(q \,\|\, p(z \mid x))`,
    which stays positive however long one trains, and the IWAE bounds
    :math:`\mathcal L_K` with two proposals: the ELBO-optimal :math:`q` (mode-seeking;
    IWAE gains little) and the moment-matched Gaussian (mass-covering; IWAE closes the
    gap as :math:`K` grows, although its own ELBO is worse).

    Parameters
    ----------
    model : MixturePriorModel
        A one-dimensional model.
    x : array_like, shape (1,)
        The observation.
    num_importance : tuple of int
        The values of :math:`K` to report.
    num_samples : int
        Independent IWAE groups per :math:`K`.
    rng : numpy.random.Generator or int, optional
        Random generator or seed for the IWAE estimates.

    Returns
    -------
    GapReport
        Evidence, best ELBO, the maximiser, the gap and the IWAE bounds.

    Examples
    --------
    >>> model = MixturePriorModel([0.5, 0.5], [-2.0, 2.0], 0.5, noise_scale=1.0)
    >>> report = gaussian_gap(model, [0.0], num_importance=(1, 64), num_samples=500)
    >>> round(report.gap, 3)
    0.693
    >>> bool(report.iwae_moment_matched[64][0] > report.log_evidence - 0.1)
    True
    """
    xx = as_array("x", x)

    def negative_elbo(theta: F64) -> float:
        return -model.elbo_quadrature(DiagonalNormal(theta[:1], np.exp(theta[1:])), xx)

    log_ev = float(model.log_evidence(xx))
    # The ELBO of a Gaussian q on a multimodal posterior has one local maximum per mode
    # (and a saddle between): start at every posterior component and keep the best.
    var = model.scales**2 + model.noise_scale**2
    post_locs = (model.locs[:, 0] * model.noise_scale**2 + xx[0] * model.scales**2) / var
    post_log_scale = 0.5 * np.log(model.scales**2 * model.noise_scale**2 / var)
    runs = [
        optimize.minimize(negative_elbo, np.array([m0, s0]), method="BFGS", options={"gtol": 1e-10})
        for m0, s0 in zip(post_locs, post_log_scale, strict=True)
    ]
    best = min(runs, key=lambda r: float(r.fun))
    q = DiagonalNormal(best.x[:1], np.exp(best.x[1:]))
    # Moments of the posterior mixture: weights p(k | x), component means and variances.
    log_w = np.log(model.probs) + _isotropic_log_normal(xx, model.locs, var)
    weights = np.exp(log_w - special.logsumexp(log_w))
    post_var = np.exp(2.0 * post_log_scale)
    mean = float(np.dot(weights, post_locs))
    variance = float(np.dot(weights, post_var + (post_locs - mean) ** 2))
    matched = DiagonalNormal([mean], [np.sqrt(variance)])
    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng

    def bounds(proposal: DiagonalNormal) -> dict[int, tuple[float, float]]:
        out = {}
        for k in num_importance:
            est = iwae_bound(
                model, xx, proposal, num_importance=k, num_samples=num_samples, rng=gen
            )
            out[int(k)] = (est.value, est.stderr)
        return out

    best_elbo = -float(best.fun)
    return GapReport(
        log_evidence=log_ev,
        best_elbo=best_elbo,
        q=q,
        gap=log_ev - best_elbo,
        iwae=bounds(q),
        moment_matched_q=matched,
        moment_matched_elbo=model.elbo_quadrature(matched, xx),
        iwae_moment_matched=bounds(matched),
    )
