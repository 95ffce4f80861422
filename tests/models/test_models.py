"""Models with exact evidence: independent routes to log p(x), posteriors, and the identity

    ELBO(q) = log p(x) - KL(q || p(z | x))

checked to 1e-12 (relative to the size of the terms, see ``_close``) on every
closed-form model.

Tolerance: each side is a sum of O(1)-conditioned float64 terms whose magnitude is at
most ``scale = max(1, |log p|, KL, |ELBO|)``; a few ulp per term gives ~1e-15 * scale, so
1e-12 * scale leaves three orders of headroom while catching any wrong term.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

import klproof
from klproof.models import (
    BetaBernoulli,
    DiagonalNormal,
    GaussianMixture,
    LinearGaussian,
    MixturePriorModel,
)

RTOL = 1e-12


def _close(a: float, b: float, *terms: float) -> bool:
    scale = max(1.0, abs(a), abs(b), *(abs(t) for t in terms))
    return abs(a - b) <= RTOL * scale


seeds = st.integers(min_value=0, max_value=2**32 - 1)


def _linear_model(rng: np.random.Generator, big: int, small: int) -> LinearGaussian:
    return LinearGaussian(
        weight=rng.standard_normal((big, small)),
        bias=rng.standard_normal(big),
        noise_scale=float(rng.uniform(0.2, 2.0)),
    )


# --------------------------------------------------------------------------- linear-Gaussian


@given(seed=seeds, big=st.integers(1, 6), small=st.integers(1, 4))
def test_linear_gaussian_evidence_matches_scipy(seed: int, big: int, small: int) -> None:
    rng = np.random.default_rng(seed)
    model = _linear_model(rng, big, small)
    x = rng.standard_normal((5, big)) * 2
    expected = stats.multivariate_normal(model.bias, model.marginal_covariance).logpdf(x)
    np.testing.assert_allclose(model.log_evidence(x), expected, rtol=1e-10)


@given(seed=seeds, big=st.integers(1, 6), small=st.integers(1, 4))
def test_linear_gaussian_posterior_is_bayes_rule(seed: int, big: int, small: int) -> None:
    # log p(z | x) = log p(x | z) + log p(z) - log p(x) at arbitrary z.
    rng = np.random.default_rng(seed)
    model = _linear_model(rng, big, small)
    x = rng.standard_normal(big)
    z = rng.standard_normal((4, small))
    post = model.posterior(x)
    lhs = stats.multivariate_normal(post.loc, post.covariance_matrix).logpdf(z)
    rhs = model.log_likelihood(x, z) + model.log_prior(z) - model.log_evidence(x)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9)


@given(seed=seeds, big=st.integers(1, 6), small=st.integers(1, 4))
def test_linear_gaussian_elbo_identity_diagonal_q(seed: int, big: int, small: int) -> None:
    rng = np.random.default_rng(seed)
    model = _linear_model(rng, big, small)
    x = rng.standard_normal(big)
    q = DiagonalNormal(rng.standard_normal(small), rng.uniform(0.1, 2.0, small))
    post = model.posterior(x)
    q_full = klproof.MultivariateNormal(q.loc, np.diag(q.scale**2))
    kl = float(klproof.kl_divergence(q_full, post))
    log_p = float(model.log_evidence(x))
    elbo = float(model.elbo(q, x))
    assert _close(elbo, log_p - kl, log_p, kl)
    assert elbo <= log_p


@given(seed=seeds, big=st.integers(1, 6), small=st.integers(1, 4))
def test_linear_gaussian_gap_closes_at_posterior(seed: int, big: int, small: int) -> None:
    rng = np.random.default_rng(seed)
    model = _linear_model(rng, big, small)
    x = rng.standard_normal((3, big))
    log_p = model.log_evidence(x)
    for a, b in zip(model.elbo(model.posterior(x), x), log_p, strict=True):
        assert _close(float(a), float(b))


def test_scalar_linear_gaussian_by_quadrature() -> None:
    # D = d = 1: an independent route by numerical integration over z.
    model = LinearGaussian(weight=[[1.7]], bias=[0.3], noise_scale=0.6)
    x = np.array([1.1])

    def joint(z: float) -> float:
        zz = np.array([[z]])
        return float(np.exp(model.log_likelihood(x, zz) + model.log_prior(zz))[0])

    value, err = integrate.quad(joint, -np.inf, np.inf, epsabs=0, epsrel=1e-13)
    assert abs(np.log(value) - float(model.log_evidence(x))) < 1e-11 + err / value


def test_linear_gaussian_validation_names_parameters() -> None:
    with pytest.raises(ValueError, match="weight"):
        LinearGaussian(weight=[1.0, 2.0], bias=[0.0], noise_scale=1.0)
    with pytest.raises(ValueError, match="bias"):
        LinearGaussian(weight=[[1.0]], bias=[0.0, 1.0], noise_scale=1.0)
    with pytest.raises(ValueError, match="noise_scale must be > 0"):
        LinearGaussian(weight=[[1.0]], bias=[0.0], noise_scale=0.0)
    model = LinearGaussian(weight=[[1.0]], bias=[0.0], noise_scale=1.0)
    with pytest.raises(ValueError, match="x must have shape"):
        model.log_evidence([1.0, 2.0])
    bad_q = klproof.Normal(np.zeros(1), np.ones(1))
    object.__setattr__(bad_q, "scale", np.array([-1.0]))
    with pytest.raises(ValueError, match=r"q\.scale must be > 0"):
        model.elbo(bad_q, [1.0])
    with pytest.raises(ValueError, match="loc"):
        model.elbo(object(), [1.0])


# --------------------------------------------------------------------------- Gaussian mixture


@st.composite
def mixtures(draw: st.DrawFn) -> tuple[GaussianMixture, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(draw(seeds))
    k = draw(st.integers(1, 5))
    dim = draw(st.integers(1, 3))
    probs = rng.dirichlet(np.ones(k))
    model = GaussianMixture(probs, rng.standard_normal((k, dim)) * 3, rng.uniform(0.3, 2.0, k))
    q = rng.dirichlet(np.ones(k))
    return model, rng.standard_normal(dim) * 2, q


@given(mixtures())
def test_mixture_evidence_by_direct_sum(
    case: tuple[GaussianMixture, np.ndarray, np.ndarray],
) -> None:
    model, x, _ = case
    direct = sum(
        p * stats.multivariate_normal(m, s**2 * np.eye(model.locs.shape[1])).pdf(x)
        for p, m, s in zip(model.probs, model.locs, model.scales, strict=True)
    )
    assert abs(float(model.log_evidence(x)) - np.log(direct)) < 1e-12 * max(1, abs(np.log(direct)))


@given(mixtures())
def test_mixture_elbo_identity(case: tuple[GaussianMixture, np.ndarray, np.ndarray]) -> None:
    model, x, q_probs = case
    q = klproof.Categorical(probs=q_probs)
    post = model.posterior(x)
    kl = float(klproof.kl_divergence(q, post))
    log_p = float(model.log_evidence(x))
    elbo = float(model.elbo(q, x))
    assert _close(elbo, log_p - kl, log_p, kl)
    assert _close(float(model.elbo(post, x)), log_p)


def test_mixture_far_tail_is_finite_and_exact() -> None:
    # 40 standard deviations out, every component density underflows in linear space.
    model = GaussianMixture([0.5, 0.5], [[0.0], [1.0]], [1.0, 1.0])
    x = np.array([40.0])
    log_p = float(model.log_evidence(x))
    expected = np.logaddexp(
        np.log(0.5) + stats.norm.logpdf(40.0), np.log(0.5) + stats.norm.logpdf(40.0, loc=1.0)
    )
    assert np.isfinite(log_p)
    assert abs(log_p - expected) < 1e-12 * abs(expected)


def test_mixture_zero_weight_component() -> None:
    model = GaussianMixture([1.0, 0.0], [[0.0], [3.0]], 1.0)
    x = np.array([0.5])
    post = model.posterior(x)
    assert post.probs[1] == 0.0
    assert _close(float(model.elbo(post, x)), float(model.log_evidence(x)))
    # q puts mass where the prior has none: the ELBO is -inf (support mismatch).
    bad = klproof.Categorical(probs=[0.5, 0.5])
    assert model.elbo(bad, x) == -np.inf


def test_mixture_validation_names_parameters() -> None:
    with pytest.raises(ValueError, match="probs"):
        GaussianMixture([0.5, 0.6], [0.0, 1.0], 1.0)
    with pytest.raises(ValueError, match="locs"):
        GaussianMixture([0.5, 0.5], [0.0, 1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="scales must be > 0"):
        GaussianMixture([0.5, 0.5], [0.0, 1.0], [1.0, -1.0])


# --------------------------------------------------------------------------- mixture prior


def test_mixture_prior_evidence_by_quadrature() -> None:
    model = MixturePriorModel([0.3, 0.7], [-2.0, 1.5], [0.5, 1.0], noise_scale=0.8)
    x = np.array([0.4])

    def joint(z: float) -> float:
        zz = np.array([[z]])
        return float(np.exp(model.log_likelihood(x, zz) + model.log_prior(zz))[0])

    value, err = integrate.quad(joint, -np.inf, np.inf, epsabs=0, epsrel=1e-13)
    assert abs(np.log(value) - float(model.log_evidence(x))) < 1e-11 + err / value


# --------------------------------------------------------------------------- Beta-Bernoulli


@st.composite
def coin_cases(draw: st.DrawFn) -> tuple[BetaBernoulli, np.ndarray, float, float]:
    pos = st.floats(0.05, 50.0)
    model = BetaBernoulli(draw(pos), draw(pos))
    flips = np.array(draw(st.lists(st.integers(0, 1), min_size=1, max_size=40)))
    return model, flips, draw(pos), draw(pos)


@given(coin_cases())
def test_beta_bernoulli_evidence_by_sequential_prediction(
    case: tuple[BetaBernoulli, np.ndarray, float, float],
) -> None:
    # Chain rule: p(x) = prod_i p(x_i | x_<i), each a posterior-predictive (Pólya urn) ratio.
    model, flips, _, _ = case
    a, b = model.concentration1, model.concentration0
    log_p = 0.0
    for i, xi in enumerate(flips):
        h = float(np.sum(flips[:i]))
        p_one = (a + h) / (a + b + i)
        log_p += np.log(p_one) if xi else np.log1p(-p_one)
    assert abs(float(model.log_evidence(flips)) - log_p) < 1e-12 * max(1.0, abs(log_p))


@given(coin_cases())
def test_beta_bernoulli_elbo_identity(case: tuple[BetaBernoulli, np.ndarray, float, float]) -> None:
    model, flips, alpha, beta = case
    q = klproof.Beta(alpha, beta)
    kl = float(klproof.kl_divergence(q, model.posterior(flips)))
    log_p = float(model.log_evidence(flips))
    elbo = float(model.elbo(q, flips))
    assert _close(elbo, log_p - kl, log_p, kl)
    assert _close(float(model.elbo(model.posterior(flips), flips)), log_p)


def test_beta_bernoulli_likelihood_and_prior_integrate_to_evidence() -> None:
    model = BetaBernoulli(2.5, 1.5)
    flips = np.array([1, 1, 0, 1, 0, 1])

    def joint(theta: float) -> float:
        return float(np.exp(model.log_likelihood(flips, theta) + model.log_prior(theta)))

    value, err = integrate.quad(joint, 0.0, 1.0, epsabs=0, epsrel=1e-13)
    assert abs(np.log(value) - float(model.log_evidence(flips))) < 1e-11 + err / value


def test_beta_bernoulli_validation_names_parameters() -> None:
    with pytest.raises(ValueError, match="concentration1 must be > 0"):
        BetaBernoulli(0.0, 1.0)
    with pytest.raises(ValueError, match="concentration0 must be > 0"):
        BetaBernoulli(1.0, -2.0)
    with pytest.raises(ValueError, match="only 0 and 1"):
        BetaBernoulli(1.0, 1.0).log_evidence([0, 2])


def test_linear_gaussian_log_evidence_is_accurate_at_small_noise() -> None:
    """log p(x) to 1e-14 relative against 50-digit mpmath where C is ill-conditioned.

    sigma = 0.01 and x far from the model's mean: kappa(C) ~ 3e4, and the Cholesky factor
    of C (the form before) lost 1.3e-12 relative here (Hypothesis, through ELBO + KL =
    log p(x)); the posterior form factors only M = W^T W + sigma^2 I.
    """
    import mpmath as mp

    w = np.array([[-0.68841226], [0.10057409], [1.18918088], [1.11494228]])
    b = np.array([-0.11778811, -0.3719817, -0.0384666, -0.92449613])
    x = np.array([-3.41417001, 3.46020513, -1.67048813, 6.89323568])
    rng = np.random.default_rng(5)
    xs = np.vstack([x, x + rng.normal(0.0, 3.0, (6, 4))])
    got = LinearGaussian(w, b, 0.01).log_evidence(xs)
    with mp.workdps(50):
        wm = mp.matrix(w.tolist())
        c = wm * wm.T + mp.mpf(0.01) ** 2 * mp.eye(4)
        c_inv, logdet = mp.inverse(c), mp.log(mp.det(c))
        for row, val in zip(xs, got, strict=True):
            r = mp.matrix((row - b).tolist())
            ref = -((r.T * c_inv * r)[0] + logdet + 4 * mp.log(2 * mp.pi)) / 2
            assert abs(val - ref) <= 1e-14 * abs(ref)
