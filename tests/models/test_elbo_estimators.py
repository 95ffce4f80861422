r"""Monte Carlo ELBO and IWAE estimators: unbiasedness, ordering of the bounds, stability.

Policy for randomised tests (after PyTorch's "Note [Randomized statistical tests]")
--------------------------------------------------------------------------------
* **Seed.** Every estimate uses a fixed seed, so each test is deterministic; the policy
  below says how likely a *fresh* seed would be to fail when the code is right.
* **Sample size.** ``S = 20_000`` terms per estimate (reparameterised draws, or IWAE
  groups). At this size the CLT holds well for these log-weights (all moments finite:
  Gaussian ``q`` against Gaussian or Gaussian-mixture models), and the estimated
  standard error is within ~1 % of the true one.
* **Tolerance.** An estimate ``est`` of a quantity with exact value ``v`` must satisfy
  ``|est.value - v| <= Z * est.stderr`` (for a difference of two independent estimates,
  ``Z * sqrt(se1**2 + se2**2)``), with ``Z = 4.0``: a two-sided false-alarm rate of
  ``6.3e-5`` per assertion, below the ``1e-4`` budget. One-sided inequalities
  ("bound A <= bound B in expectation") fail only if ``A`` exceeds ``B`` by more than
  ``Z`` standard errors (false alarm ``3.2e-5``).
* **Power.** Each ordering test also asserts the *strict* separation where theory gives a
  gap many standard errors wide, so a broken estimator that returns the same value for
  every ``K`` cannot pass.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import klproof
from klproof.models import (
    DiagonalNormal,
    ELBOEstimate,
    LinearGaussian,
    MixturePriorModel,
    elbo_analytic_kl,
    elbo_monte_carlo,
    iwae_bound,
)
from klproof.models._common import log_mean_exp

Z = 4.0
S = 20_000
SEED = 20261125


def _model(rng: np.random.Generator, big: int, small: int) -> LinearGaussian:
    return LinearGaussian(
        rng.standard_normal((big, small)), rng.standard_normal(big), float(rng.uniform(0.5, 2.0))
    )


def _q(rng: np.random.Generator, small: int) -> DiagonalNormal:
    return DiagonalNormal(rng.standard_normal(small), rng.uniform(0.3, 1.5, small))


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), big=st.integers(1, 5), small=st.integers(1, 3))
def test_analytic_kl_and_monte_carlo_estimators_are_unbiased(
    seed: int, big: int, small: int
) -> None:
    rng = np.random.default_rng(seed)
    model, q = _model(rng, big, small), _q(rng, small)
    x = rng.standard_normal(big)
    exact = float(model.elbo(q, x))
    for estimator in (elbo_analytic_kl, elbo_monte_carlo):
        est = estimator(model, x, q, num_samples=S, rng=SEED)
        assert abs(est.value - exact) <= Z * est.stderr, estimator.__name__


def test_iwae_with_one_sample_is_the_elbo() -> None:
    rng = np.random.default_rng(1)
    model, q = _model(rng, 4, 2), _q(rng, 2)
    x = rng.standard_normal(4)
    est = iwae_bound(model, x, q, num_importance=1, num_samples=S, rng=SEED)
    assert abs(est.value - float(model.elbo(q, x))) <= Z * est.stderr


def test_exact_posterior_gives_zero_variance_estimates() -> None:
    # With q = p(z | x) every log-weight equals log p(x): all three estimators are exact.
    model = LinearGaussian([[1.5]], [0.2], 0.7)
    x = np.array([0.9])
    q = model.posterior_marginals(x)  # d = 1: exactly the posterior
    log_p = float(model.log_evidence(x))
    for est in (
        elbo_monte_carlo(model, x, q, num_samples=100, rng=0),
        iwae_bound(model, x, q, num_importance=8, num_samples=100, rng=0),
    ):
        assert abs(est.value - log_p) < 1e-12 * abs(log_p)
        assert est.stderr < 1e-12
    # The analytic-KL form still has reconstruction-term noise, but no bias.
    est = elbo_analytic_kl(model, x, q, num_samples=S, rng=SEED)
    assert abs(est.value - log_p) <= Z * est.stderr


@pytest.mark.parametrize(
    "make_model",
    [
        pytest.param(lambda: _model(np.random.default_rng(3), 3, 2), id="linear-gaussian"),
        pytest.param(
            lambda: MixturePriorModel([0.5, 0.5], [[-2.0], [2.0]], 0.5, noise_scale=1.0),
            id="mixture-prior",
        ),
    ],
)
def test_bounds_are_ordered_in_expectation(make_model: object) -> None:
    # ELBO <= IWAE_K <= IWAE_2K <= log p(x), each up to Z standard errors; strict where
    # the expected gap is wide.
    model = make_model()  # type: ignore[operator]
    dim = 2 if isinstance(model, LinearGaussian) else 1
    x = np.full(model.data_dim if isinstance(model, LinearGaussian) else 1, 0.3)
    q = DiagonalNormal(np.full(dim, 0.5), np.full(dim, 0.8))
    log_p = float(model.log_evidence(x))
    ks = (1, 2, 4, 8, 16, 32)
    ests = [iwae_bound(model, x, q, num_importance=k, num_samples=S, rng=SEED + k) for k in ks]
    elbo = elbo_monte_carlo(model, x, q, num_samples=S, rng=SEED - 1)
    chain = [elbo, *ests]
    for lo, hi in itertools.pairwise(chain):
        se = np.hypot(lo.stderr, hi.stderr)
        assert lo.value <= hi.value + Z * se
    for est in chain:
        assert est.value <= log_p + Z * est.stderr
    # Power: the first doubling and the full range are clearly separated.
    assert ests[-1].value - ests[0].value > Z * np.hypot(ests[-1].stderr, ests[0].stderr)
    assert ests[-1].value - ests[0].value > 0.5 * (log_p - ests[0].value)


def test_standard_error_is_calibrated() -> None:
    # Spread of 200 independent small-sample estimates vs their reported standard error.
    rng = np.random.default_rng(7)
    model, q = _model(rng, 3, 2), _q(rng, 2)
    x = rng.standard_normal(3)
    gen = np.random.default_rng(SEED)
    ests = [elbo_monte_carlo(model, x, q, num_samples=400, rng=gen) for _ in range(200)]
    spread = np.std([e.value for e in ests], ddof=1)
    reported = np.mean([e.stderr for e in ests])
    # The ratio of two SE estimates from 200 replicates: its own relative SE is ~5 %
    # (1/sqrt(2*200)); Z = 4 of those gives the 20 % band.
    assert abs(spread / reported - 1.0) < Z * 0.05


def test_loss_is_the_negative_elbo() -> None:
    est = ELBOEstimate(value=-3.5, stderr=0.1, num_samples=10)
    assert est.loss == 3.5


def test_log_mean_exp_is_stable() -> None:
    a = np.array([1000.0, 1000.0 + np.log(3.0)])
    assert log_mean_exp(a) == pytest.approx(1000.0 + np.log(2.0), rel=1e-15)
    assert log_mean_exp(-a) == pytest.approx(-1000.0 + np.log((1 + 1 / 3) / 2), rel=1e-15)
    assert log_mean_exp(np.array([-np.inf, -np.inf])) == -np.inf
    assert log_mean_exp(np.array([-np.inf, 0.0])) == pytest.approx(np.log(0.5))


def test_iwae_does_not_overflow_for_huge_log_weights() -> None:
    # Log-weights of order -1e4: exp underflows to 0 in linear space; log-mean-exp keeps them.
    model = LinearGaussian([[1.0]], [0.0], 0.01)
    x = np.array([1.0])
    q = DiagonalNormal([0.0], [1.0])
    est = iwae_bound(model, x, q, num_importance=16, num_samples=100, rng=0)
    assert np.isfinite(est.value)
    assert est.value <= float(model.log_evidence(x)) + Z * est.stderr


def test_accepts_numeric_normal_as_q() -> None:
    model = LinearGaussian([[1.0], [0.5]], [0.0, 0.0], 1.0)
    q = klproof.Normal(np.array([0.1]), np.array([0.9]))
    a = elbo_monte_carlo(model, [0.2, 0.1], q, num_samples=50, rng=3)
    b = elbo_monte_carlo(model, [0.2, 0.1], DiagonalNormal([0.1], [0.9]), num_samples=50, rng=3)
    assert a == b


def test_validation_names_parameters() -> None:
    model = LinearGaussian([[1.0]], [0.0], 1.0)
    q = DiagonalNormal([0.0], [1.0])
    with pytest.raises(ValueError, match="num_samples"):
        elbo_monte_carlo(model, [0.0], q, num_samples=1)
    with pytest.raises(TypeError, match="num_samples"):
        elbo_analytic_kl(model, [0.0], q, num_samples=10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_importance"):
        iwae_bound(model, [0.0], q, num_importance=0, num_samples=10)
    with pytest.raises(ValueError, match="scale must be > 0"):
        DiagonalNormal([0.0], [0.0])
    with pytest.raises(ValueError, match="loc and scale"):
        DiagonalNormal([0.0, 1.0], [1.0])
    with pytest.raises(TypeError, match="loc and scale"):
        elbo_monte_carlo(model, [0.0], object(), num_samples=10)  # type: ignore[arg-type]
    mixture = MixturePriorModel([0.5, 0.5], [-1.0, 1.0], 1.0, noise_scale=1.0)
    with pytest.raises(TypeError, match="diagonal Gaussian prior"):
        elbo_analytic_kl(mixture, [0.0], q, num_samples=10)  # type: ignore[arg-type]
