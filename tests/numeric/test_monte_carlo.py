"""Monte Carlo KL estimators against the closed forms, under a written statistical policy.

Policy
------
- Seed: every comparison uses ``numpy.random.default_rng(SEED + i)``, fixed, so the suite
  is deterministic; the policy below bounds how likely a *correct* implementation is to
  fail for a seed picked in advance.
- Sample size: ``N = 40_000`` draws per estimate.
- Tolerance: ``|estimate - closed form| <= Z * standard_error`` with ``Z = 5``. By the
  central limit theorem (the summands have finite variance for every case listed: the
  parameters are chosen so that ``log r`` and ``r`` have finite second moments) the
  two-sided false-alarm probability of one comparison is ``2 (1 - Phi(5)) = 5.7e-7``;
  this module makes fewer than 100 comparisons, so the family-wise false-alarm rate
  is below ``5.7e-5 <= 1e-4``.
- The standard error is itself estimated from the same sample; with N = 40 000 its
  relative error is ~1 % for these light-tailed summands, which moves the effective z
  by < 0.1.
- Rounding: when ``log r`` is constant (e.g. two uniforms) the standard error is ~0
  and the mean of N equal floats is off by a few ulp, so ``1e-12 * KL`` is added to the
  tolerance (far below any statistical effect).
- A second check guards against a vacuous test: the standard error must be below 25 %
  of the KL, so an estimator biased by more than 1.25 KL cannot pass by being noisy.
- ``k3`` is unbiased only when ``q`` puts no mass outside the support of ``p``
  (``E_p[q/p] = 1``); it is tested on those pairs only, and the others check that
  ``plain`` works there.
"""

from __future__ import annotations

import numpy as np
import pytest

import klproof.numeric as kn

SEED = 20240611
N = 40_000
Z = 5.0

# q close enough to p that E_p[(q/p)^2] is finite (needed by the k3 estimator's SE)
PAIRS = [
    (kn.Normal(0.0, 1.0), kn.Normal(0.3, 1.2)),
    (kn.Exponential(1.0), kn.Exponential(1.3)),
    (kn.Gamma(3.0, 2.0), kn.Gamma(2.5, 1.8)),
    (kn.Beta(2.0, 3.0), kn.Beta(2.5, 2.8)),
    (kn.Laplace(0.0, 1.0), kn.Laplace(0.2, 1.1)),
    (kn.Gumbel(0.0, 1.0), kn.Gumbel(0.2, 1.1)),
    (kn.Cauchy(0.0, 1.0), kn.Cauchy(0.3, 1.2)),
    (kn.LogNormal(0.0, 0.5), kn.LogNormal(0.1, 0.6)),
    (kn.HalfNormal(1.0), kn.HalfNormal(1.2)),
    (kn.Weibull(1.0, 2.0), kn.Weibull(1.2, 2.0)),
    (kn.Pareto(1.0, 3.0), kn.Pareto(0.9, 3.2)),
    (kn.Uniform(0.0, 1.0), kn.Uniform(-0.2, 1.3)),
    (kn.Poisson(4.0), kn.Poisson(4.5)),
    (kn.Bernoulli(probs=0.3), kn.Bernoulli(probs=0.4)),
    (kn.Binomial(10, probs=0.3), kn.Binomial(10, probs=0.35)),
    (kn.Geometric(probs=0.4), kn.Geometric(probs=0.45)),
    (kn.Categorical(probs=[0.2, 0.3, 0.5]), kn.Categorical(probs=[0.25, 0.25, 0.5])),
    (kn.Dirichlet([2.0, 3.0, 4.0]), kn.Dirichlet([2.5, 3.0, 3.5])),
    (
        kn.MultivariateNormal([0.0, 0.0], covariance_matrix=[[1.0, 0.2], [0.2, 1.0]]),
        kn.MultivariateNormal([0.2, -0.1], covariance_matrix=[[1.2, 0.1], [0.1, 0.9]]),
    ),
    (
        kn.DiagonalNormal([0.0, 1.0, 2.0], [1.0, 2.0, 0.5]),
        kn.DiagonalNormal([0.3, 1.0, 1.8], [1.2, 1.8, 0.55]),
    ),
    (kn.Exponential(1.0), kn.Gamma(1.2, 1.1)),
    (kn.Gamma(1.2, 1.0), kn.Exponential(1.1)),
    (kn.Laplace(0.0, 1.0), kn.Normal(0.0, 1.6)),
    (kn.Normal(0.0, 1.0), kn.Laplace(0.0, 0.9)),
    (kn.Gumbel(0.0, 1.0), kn.Normal(0.6, 1.4)),
    (kn.Gamma(5.0, 2.0), kn.Normal(2.5, 1.2)),
    (kn.Uniform(0.0, 1.0), kn.Normal(0.5, 0.4)),
    (kn.Exponential(1.0), kn.Normal(1.0, 1.2)),
    (kn.Bernoulli(probs=0.3), kn.Poisson(0.4)),
    (kn.Beta(1.5, 1.2), kn.Uniform(-0.1, 1.2)),
    (kn.Uniform(0.5, 1.5), kn.Exponential(0.9)),
    (kn.Pareto(1.0, 6.0), kn.Exponential(0.8)),
]


def _id(pair: tuple[kn.Distribution, kn.Distribution]) -> str:
    return f"{type(pair[0]).__name__}-{type(pair[1]).__name__}"


# q has mass outside supp p: E_p[q/p] < 1 and k3 does not apply
K3_EXCLUDED = {
    "Pareto-Pareto",
    "Uniform-Uniform",
    "Beta-Uniform",
    "Uniform-Normal",
    "Uniform-Exponential",
    "Pareto-Exponential",
    "Exponential-Normal",
    "Gamma-Normal",
    "Bernoulli-Poisson",
}
# E_p[(q/p)^2] is infinite, so k3's summands have no variance and its standard error is
# meaningless: Gumbel's left tail exp(-e^-x) is far thinner than Normal's (a shifted seed
# gave a 5.3-sigma "miss" of a closed form that matches mpmath to 1e-16)
K3_INFINITE_VARIANCE = {"Gumbel-Normal"}
GRID = [(pair, est) for pair in PAIRS for est in ("plain", "k3")]
GRID = [
    (pair, est)
    for pair, est in GRID
    if est == "plain" or _id(pair) not in K3_EXCLUDED | K3_INFINITE_VARIANCE
]


@pytest.mark.parametrize(("pair", "estimator"), GRID, ids=[f"{_id(p)}-{e}" for p, e in GRID])
def test_estimate_matches_closed_form(
    pair: tuple[kn.Distribution, kn.Distribution], estimator: str
) -> None:
    p, q = pair
    i = GRID.index((pair, estimator))
    res = kn.monte_carlo_kl(p, q, np.random.default_rng(SEED + i), N, estimator=estimator)  # type: ignore[arg-type]
    exact = float(kn.kl_divergence(p, q))
    assert res.n == N
    assert res.estimate.shape == ()
    tol = Z * float(res.standard_error) + 1e-12 * exact
    assert abs(float(res.estimate) - exact) <= tol
    assert float(res.standard_error) < 0.25 * exact


def test_k3_summands_nonnegative_and_lower_variance_near_diagonal() -> None:
    p, q = kn.Normal(0.0, 1.0), kn.Normal(0.01, 1.0)
    plain = kn.monte_carlo_kl(p, q, np.random.default_rng(1), N, estimator="plain")
    k3 = kn.monte_carlo_kl(p, q, np.random.default_rng(1), N, estimator="k3")
    assert float(k3.estimate) >= 0.0
    assert float(k3.standard_error) < 0.1 * float(plain.standard_error)


def test_infinite_when_q_misses_support() -> None:
    res = kn.monte_carlo_kl(
        kn.Uniform(0.0, 2.0), kn.Uniform(0.0, 1.0), np.random.default_rng(0), 1000
    )
    assert np.isposinf(res.estimate)


def test_batched_and_errors() -> None:
    p = kn.Normal(np.zeros(3), 1.0)
    q = kn.Normal(np.array([0.1, 0.2, 0.3]), 1.0)
    res = kn.monte_carlo_kl(p, q, np.random.default_rng(0), 5000, estimator="k3")
    assert res.estimate.shape == (3,)
    with pytest.raises(ValueError, match="estimator must be"):
        kn.monte_carlo_kl(p, q, np.random.default_rng(0), 10, estimator="k2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be >= 2"):
        kn.monte_carlo_kl(p, q, np.random.default_rng(0), 1)
