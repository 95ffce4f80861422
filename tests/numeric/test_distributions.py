"""Families: log_prob normalises, entropy/mean/variance agree with quadrature or sums,
samples have the right shape/dtype and moments.

Deterministic checks use SciPy quadrature (``quad`` with ``epsabs=0``, ``epsrel=1e-11``):
tolerances below are 1e-9 relative, the accuracy such integrals reliably reach on
the unbounded or peaked densities used here.

Sampling checks follow the statistical policy of ``test_monte_carlo.py``: fixed seed,
n = 20000 draws, tolerance z = 5 standard errors per comparison (two-sided false-alarm
probability 5.7e-7 each, < 1e-4 over the fewer than 100 comparisons in this module).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

import klproof.numeric as kn

Z = 5.0
N_SAMPLES = 20_000

CONTINUOUS = [
    (kn.Normal(0.3, 1.7), (-np.inf, np.inf)),
    (kn.LogNormal(0.2, 0.6), (0.0, np.inf)),
    (kn.Laplace(-1.0, 0.5), (-np.inf, np.inf)),
    (kn.Gumbel(0.5, 2.0), (-np.inf, np.inf)),
    (kn.Cauchy(0.0, 1.5), (-np.inf, np.inf)),
    (kn.HalfNormal(1.3), (0.0, np.inf)),
    (kn.Exponential(2.5), (0.0, np.inf)),
    (kn.Gamma(2.5, 1.5), (0.0, np.inf)),
    (kn.Weibull(1.5, 2.5), (0.0, np.inf)),
    (kn.Pareto(1.2, 3.5), (1.2, np.inf)),
    (kn.Uniform(-1.0, 2.0), (-1.0, 2.0)),
    (kn.Beta(2.5, 3.5), (0.0, 1.0)),
]


def _quad(f: object, lo: float, hi: float) -> float:
    val, _ = integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-11, limit=400)
    return float(val)


@pytest.mark.parametrize(("d", "support"), CONTINUOUS, ids=lambda x: type(x).__name__)
def test_continuous_density_entropy_moments(
    d: kn.Distribution, support: tuple[float, float]
) -> None:
    def pdf(x: float) -> float:
        return float(np.exp(d.log_prob(x)))

    def neg_plogp(x: float) -> float:
        lp = float(d.log_prob(x))
        return 0.0 if lp == -np.inf else -math.exp(lp) * lp

    lo, hi = support
    assert _quad(pdf, lo, hi) == pytest.approx(1.0, rel=1e-9)
    assert _quad(neg_plogp, lo, hi) == pytest.approx(float(d.entropy()), rel=1e-9, abs=1e-12)
    if isinstance(d, kn.Cauchy):
        assert np.isnan(d.mean)
        assert np.isposinf(d.variance)
        return
    mean = _quad(lambda x: x * pdf(x), lo, hi)
    var = _quad(lambda x: (x - mean) ** 2 * pdf(x), lo, hi)
    assert float(d.mean) == pytest.approx(mean, rel=1e-9, abs=1e-12)
    assert float(d.variance) == pytest.approx(var, rel=1e-9)


DISCRETE = [
    (kn.Bernoulli(probs=0.3), 2),
    (kn.Bernoulli(logits=-2.0), 2),
    (kn.Binomial(12, probs=0.35), 13),
    (kn.Geometric(probs=0.4), 200),
    (kn.Poisson(3.5), 200),
    (kn.Poisson(800.0), 3000),
    (kn.Categorical(probs=[0.1, 0.2, 0.3, 0.4]), 4),
    (kn.Categorical(logits=[0.0, 1.0, -2.0]), 3),
]


@pytest.mark.parametrize(("d", "kmax"), DISCRETE, ids=lambda x: type(x).__name__)
def test_discrete_mass_entropy_moments(d: kn.Distribution, kmax: int) -> None:
    k = np.arange(kmax, dtype=np.float64)
    lp = np.asarray(d.log_prob(k), dtype=np.float64)
    pm = np.exp(lp)
    assert pm.sum() == pytest.approx(1.0, rel=1e-12)
    h = -np.where(pm > 0, pm * lp, 0.0).sum()
    assert float(d.entropy()) == pytest.approx(h, rel=1e-10)
    mean = (k * pm).sum()
    assert float(d.mean) == pytest.approx(mean, rel=1e-10)
    assert float(d.variance) == pytest.approx(((k - mean) ** 2 * pm).sum(), rel=1e-9)
    assert np.isneginf(d.log_prob(-1.0))
    assert np.isneginf(d.log_prob(0.5))


def test_dirichlet_and_mvn() -> None:
    d = kn.Dirichlet([2.0, 3.0, 5.0])
    np.testing.assert_allclose(d.mean, [0.2, 0.3, 0.5], rtol=1e-15)
    # log_prob at the mean against the closed form
    x = np.array([0.2, 0.3, 0.5])
    expected = (
        math.lgamma(10) - math.lgamma(2) - math.lgamma(3) - math.lgamma(5)
        + math.log(0.2) + 2 * math.log(0.3) + 4 * math.log(0.5)
    )  # fmt: skip
    assert float(d.log_prob(x)) == pytest.approx(expected, rel=1e-13)
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    m = kn.MultivariateNormal([1.0, -1.0], covariance_matrix=cov)
    x2 = np.array([0.5, 0.2])
    diff = x2 - np.array([1.0, -1.0])
    ref = -0.5 * (diff @ np.linalg.solve(cov, diff)) - 0.5 * np.log(np.linalg.det(2 * np.pi * cov))
    assert float(m.log_prob(x2)) == pytest.approx(ref, rel=1e-13)
    assert float(m.entropy()) == pytest.approx(
        0.5 * np.log(np.linalg.det(2 * np.pi * np.e * cov)), rel=1e-13
    )


def test_diagonal_normal_is_a_product_of_normals() -> None:
    rng = np.random.default_rng(5)
    loc = rng.normal(size=(3, 1, 4))
    scale = np.exp(rng.normal(size=(2, 4)))
    d = kn.DiagonalNormal(loc, scale)
    n = kn.Normal(loc, scale)
    assert (d.batch_shape, d.event_shape) == ((3, 2), (4,))
    x = rng.normal(size=(5, 1, 1, 4))
    np.testing.assert_allclose(d.log_prob(x), n.log_prob(x).sum(-1), rtol=1e-14)
    np.testing.assert_allclose(d.entropy(), n.entropy().sum(-1), rtol=1e-14)
    np.testing.assert_array_equal(d.mean, np.broadcast_to(loc, (3, 2, 4)))
    np.testing.assert_allclose(d.variance, np.broadcast_to(scale**2, (3, 2, 4)), rtol=1e-15)
    q = kn.DiagonalNormal(rng.normal(size=4), np.exp(rng.normal(size=4)))
    nq = kn.Normal(q.loc, q.scale)
    np.testing.assert_allclose(kn.kl_divergence(d, q), kn.kl_divergence(n, nq).sum(-1), rtol=1e-14)
    np.testing.assert_allclose(kn.cross_entropy(d, q), kn.cross_entropy(n, nq).sum(-1), rtol=1e-13)
    s = d.sample(rng, (6,))
    assert s.shape == (6, 3, 2, 4)
    # float32 in, float32 out; the kernel reads blocks of many rows
    f = kn.DiagonalNormal(np.float32(loc), np.float32(scale))
    assert f.dtype == np.float32
    assert kn.kl_divergence(f, f).dtype == np.float32
    assert f.entropy().dtype == f.mean.dtype == f.sample(rng, 2).dtype == np.float32
    assert (kn.kl_divergence(f, f) == 0).all()


def test_diagonal_normal_kl_many_blocks() -> None:
    """Batches spanning many blocks, a broadcast q, and a wide event (k > BLOCK_SIZE)."""
    rng = np.random.default_rng(6)
    for n, k in ((50_000, 7), (3, 20_000)):
        p = kn.DiagonalNormal(rng.normal(size=(n, k)), np.exp(rng.normal(size=(n, k))))
        q = kn.DiagonalNormal(rng.normal(size=k), np.exp(rng.normal(size=k)))
        want = kn.kl_divergence(kn.Normal(p.loc, p.scale), kn.Normal(q.loc, q.scale)).sum(-1)
        np.testing.assert_allclose(kn.kl_divergence(p, q), want, rtol=1e-12)


SAMPLED = [
    kn.Normal(0.3, 1.7),
    kn.LogNormal(0.2, 0.6),
    kn.Laplace(-1.0, 0.5),
    kn.Gumbel(0.5, 2.0),
    kn.HalfNormal(1.3),
    kn.Exponential(2.5),
    kn.Gamma(2.5, 1.5),
    kn.Weibull(1.5, 2.5),
    kn.Pareto(1.2, 5.5),
    kn.Uniform(-1.0, 2.0),
    kn.Beta(2.5, 3.5),
    kn.Bernoulli(probs=0.3),
    kn.Binomial(12, probs=0.35),
    kn.Geometric(probs=0.4),
    kn.Poisson(3.5),
    kn.Categorical(probs=[0.1, 0.2, 0.3, 0.4]),
]


@pytest.mark.parametrize("d", SAMPLED, ids=lambda x: type(x).__name__)
def test_sample_mean_within_policy(d: kn.Distribution) -> None:
    x = d.sample(np.random.default_rng(2024), N_SAMPLES)
    assert x.shape == (N_SAMPLES,)
    assert x.dtype == d.dtype
    assert np.isfinite(d.log_prob(x)).all()  # every draw lies in the support
    se = math.sqrt(float(d.variance) / N_SAMPLES)
    assert abs(float(x.mean()) - float(d.mean)) <= Z * se


def test_sample_shapes() -> None:
    rng = np.random.default_rng(0)
    d = kn.Normal(np.zeros((2, 3)), 1.0)
    assert d.sample(rng, (4, 5)).shape == (4, 5, 2, 3)
    c = kn.Categorical(probs=np.full((2, 4), 0.25))
    assert c.sample(rng, 7).shape == (7, 2)
    dd = kn.Dirichlet(np.ones((2, 3)))
    assert dd.sample(rng, 5).shape == (5, 2, 3)
    m = kn.MultivariateNormal(np.zeros(3), scale_tril=np.eye(3))
    assert m.sample(rng, 6).shape == (6, 3)
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        d.sample(np.random.RandomState(0), 2)  # type: ignore[arg-type]


def test_float32_roundtrip() -> None:
    for d in (
        kn.Gamma(np.float32(2.0), np.float32(1.0)),
        kn.Bernoulli(logits=np.float32(0.5)),
        kn.Categorical(probs=np.float32([0.25, 0.75])),
        kn.Binomial(5, probs=np.float32(0.5)),
    ):
        assert d.dtype == np.float32
        assert d.entropy().dtype == np.float32
        assert d.mean.dtype == np.float32
