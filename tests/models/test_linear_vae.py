"""The linear VAE: SymPy derivation checked, NumPy transcription equal to the lambdified
derivation, and training that recovers maximum-likelihood pPCA with a closed gap.

Tolerances:
* transcription vs lambdified SymPy: both evaluate the same rational function in float64
  along different operation orders; terms are O(10) here, so agreement to 1e-10 relative
  (1e5 ulp headroom) is expected and any wrong term is O(1) off.
* pPCA recovery: 1e-6 relative, the issue's target; the measured errors are ~1e-8.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from klproof.derivation.ops import unfold
from klproof.models import (
    DataStatistics,
    LinearGaussian,
    LinearVAE,
    fit_linear_vae,
    ppca_maximum_likelihood,
    synthetic_ppca_data,
    training_trace,
)
from klproof.symbolic import linear_vae as sym
from klproof.symbolic import registry

RTOL = 1e-10


@pytest.fixture(scope="module")
def derivation_report():  # type: ignore[no-untyped-def]
    return registry.get("elbo/linear-vae").verify()


def test_derivations_are_registered_and_verify(derivation_report) -> None:  # type: ignore[no-untyped-def]
    assert "elbo/linear-vae" in registry.names()
    assert "elbo/ppca-diagonal-q" in registry.names()
    assert derivation_report.status == "ok", str(derivation_report)
    assert derivation_report.count("unchecked") == 0
    lemma = registry.get("elbo/ppca-diagonal-q")
    assert lemma.verify().status == "ok"
    # The first step of elbo/linear-vae is the lemma's verified result instantiated at the
    # encoder mean m = V(x - mu): rebuild that instantiation from the lemma itself.
    d = registry.get("elbo/linear-vae")
    assert "elbo/ppca-diagonal-q" in d.uses
    sy = sym.symbols()
    xt = sy["x"] - sy["mu"]
    mapping = dict(zip(sy["m"], sy["V"] * xt, strict=True))
    instantiated = unfold(lemma.rhs).xreplace(mapping)
    assert sp.expand(instantiated - unfold(d.steps[0].lhs)) == 0


def test_corrupted_gradient_step_fails() -> None:
    # The σ-gradient step on its own (it starts its own chain), with a wrong extra term.
    import dataclasses

    import sympy as sp

    from klproof.derivation import Derivation

    d = registry.get("elbo/linear-vae")
    step = next(s for s in d.steps if s.label == "linear-vae-grad-sigma")
    sigma = sym.symbols()["sigma"]
    for rhs, status in [
        (step.rhs, "ok"),
        (step.rhs + sp.Symbol("G_sigma", real=True) / sigma, "failed"),
    ]:
        single = Derivation(
            name="test/sigma-step", title="σ step", steps=(dataclasses.replace(step, rhs=rhs),)
        )
        assert single.verify().status == status


def test_gap_closes_derivation_verifies() -> None:
    report = registry.get("elbo/linear-vae-gap-closes").verify()
    assert report.status == "ok", str(report)
    assert report.count("unchecked") == 0


def test_optimal_encoder_derivation_verifies() -> None:
    report = registry.get("elbo/linear-vae-optimal-encoder").verify()
    assert report.status == "ok", str(report)
    assert report.count("unchecked") == 0


def test_gap_closes_step_rejects_a_wrong_evidence() -> None:
    # Replace log det C by log det C + log 2 (as if the covariance were doubled in one
    # direction): the algebra step must fail. Checked on the step alone (cheap).
    import dataclasses

    import sympy as sp

    from klproof.derivation import Derivation

    step = registry.get("elbo/linear-vae-gap-closes").steps[1]
    wrong = dataclasses.replace(step, rhs=step.rhs - sp.log(2) / 2)
    single = Derivation(name="test/gap-step", title="gap step", steps=(wrong,))
    assert single.verify().status == "failed"


def _random_vae(rng: np.random.Generator, big: int, small: int) -> LinearVAE:
    return LinearVAE(
        weight=rng.standard_normal((big, small)),
        bias=rng.standard_normal(big),
        noise_scale=float(rng.uniform(0.3, 2.0)),
        encoder_weight=rng.standard_normal((small, big)),
        encoder_scale=rng.uniform(0.2, 2.0, small),
    )


def _args(vae: LinearVAE, x: np.ndarray) -> tuple[object, ...]:
    return (x, vae.bias, vae.weight, vae.encoder_weight, vae.encoder_scale, vae.noise_scale)


@given(seed=st.integers(0, 2**32 - 1))
def test_numpy_elbo_equals_lambdified_derivation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vae = _random_vae(rng, sym.DATA_DIM, sym.LATENT_DIM)
    data = rng.standard_normal((7, sym.DATA_DIM)) * 2
    f = sym.lambdified()["elbo"]
    per_point = np.array([f(*_args(vae, x)) for x in data])
    np.testing.assert_allclose(vae.elbo_per_observation(data), per_point, rtol=RTOL)
    # The sufficient-statistics form of the total equals the sum of per-point values.
    assert vae.elbo(data) == pytest.approx(per_point.sum(), rel=RTOL)


@given(seed=st.integers(0, 2**32 - 1))
def test_numpy_gradient_equals_lambdified_derivation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vae = _random_vae(rng, sym.DATA_DIM, sym.LATENT_DIM)
    data = rng.standard_normal((5, sym.DATA_DIM)) * 2
    fns = sym.lambdified()
    _, grad = vae.elbo_and_gradient(data)
    names = {
        "W": "weight",
        "V": "encoder_weight",
        "s": "encoder_scale",
        "sigma": "noise_scale",
        "mu": "bias",
    }
    for key, name in names.items():
        total = sum(np.array(fns[key](*_args(vae, x)), dtype=float) for x in data)
        got = np.reshape(grad[name], np.shape(total))
        np.testing.assert_allclose(
            got, total, rtol=RTOL, atol=RTOL * np.abs(total).max(), err_msg=key
        )


def test_gradient_matches_finite_differences_in_other_dimensions() -> None:
    # The matrix forms hold for any (D, d); check (5, 3) against central differences.
    rng = np.random.default_rng(11)
    vae = _random_vae(rng, 5, 3)
    data = rng.standard_normal((20, 5))
    _, grad = vae.elbo_and_gradient(data)
    h = 1e-6
    for name in ("weight", "bias", "encoder_weight", "encoder_scale"):
        base = getattr(vae, name)
        for idx in [(0,) * base.ndim, tuple(s - 1 for s in base.shape)]:
            up, down = base.copy(), base.copy()
            up[idx] += h
            down[idx] -= h
            fd = (_replace(vae, name, up).elbo(data) - _replace(vae, name, down).elbo(data)) / (
                2 * h
            )
            # Central differences: truncation O(h^2) and rounding O(eps |L| / h) ~ 1e-7.
            assert grad[name][idx] == pytest.approx(fd, rel=1e-5, abs=1e-5)


def _replace(vae: LinearVAE, name: str, value: np.ndarray) -> LinearVAE:
    params = {
        "weight": vae.weight,
        "bias": vae.bias,
        "noise_scale": vae.noise_scale,
        "encoder_weight": vae.encoder_weight,
        "encoder_scale": vae.encoder_scale,
    }
    params[name] = value
    return LinearVAE(**params)


def test_vae_elbo_agrees_with_linear_gaussian_model() -> None:
    rng = np.random.default_rng(5)
    vae = _random_vae(rng, 4, 2)
    x = rng.standard_normal(4)
    model = LinearGaussian(vae.weight, vae.bias, vae.noise_scale)
    assert vae.elbo_per_observation(x[None, :])[0] == pytest.approx(
        float(model.elbo(vae.encoder(x), x)), rel=1e-13
    )
    assert vae.log_likelihood(x[None, :]) == pytest.approx(float(model.log_evidence(x)), rel=1e-12)


def test_ppca_solution_log_likelihood_by_independent_route() -> None:
    data = synthetic_ppca_data(300, 6, 2, rng=4)
    ml = ppca_maximum_likelihood(data, 2)
    direct = LinearGaussian(ml.weight, ml.bias, ml.noise_scale).log_evidence(data).sum()
    assert ml.log_likelihood == pytest.approx(direct, rel=1e-12)
    # A perturbed model is worse.
    worse = LinearGaussian(ml.weight * 1.01, ml.bias, ml.noise_scale).log_evidence(data).sum()
    assert worse < ml.log_likelihood


@pytest.fixture(scope="module")
def target_fit():  # type: ignore[no-untyped-def]
    data = synthetic_ppca_data(1000, 10, 3, rng=2026)
    return data, fit_linear_vae(data, 3, rng=0), ppca_maximum_likelihood(data, 3)


def test_linear_vae_recovers_ml_ppca(target_fit) -> None:  # type: ignore[no-untyped-def]
    data, fit, ml = target_fit
    vae = fit.vae
    wwt, wwt_ml = vae.weight @ vae.weight.T, ml.weight @ ml.weight.T
    assert np.linalg.norm(wwt - wwt_ml) <= 1e-6 * np.linalg.norm(wwt_ml)
    assert vae.noise_scale**2 == pytest.approx(ml.noise_scale**2, rel=1e-6)
    assert vae.noise_scale**2 == pytest.approx(np.mean(ml.eigenvalues[3:]), rel=1e-6)
    np.testing.assert_allclose(vae.bias, data.mean(axis=0), rtol=1e-6, atol=1e-6)
    # The ELBO equals the exact log-likelihood, which equals the maximum.
    assert fit.elbo == pytest.approx(fit.log_likelihood, rel=1e-6)
    assert fit.log_likelihood == pytest.approx(ml.log_likelihood, rel=1e-6)
    assert fit.elbo == pytest.approx(ml.log_likelihood, rel=1e-6)
    # The target: under 10 s (measured ~0.05 s, ~200 BFGS iterations).
    assert fit.seconds < 10.0


def test_linear_vae_columns_are_orthogonal_at_optimum(target_fit) -> None:  # type: ignore[no-untyped-def]
    # Lucas et al.: with a diagonal encoder covariance the optimum picks the rotation
    # with orthogonal columns (the posterior covariance is then diagonal).
    _, fit, _ = target_fit
    gram = fit.vae.weight.T @ fit.vae.weight
    off = gram - np.diag(np.diag(gram))
    assert np.abs(off).max() <= 1e-6 * np.abs(np.diag(gram)).max()


def test_trained_encoder_is_the_exact_posterior(target_fit) -> None:  # type: ignore[no-untyped-def]
    # elbo/linear-vae-optimal-encoder: V = M^{-1} W^T and s_j^2 = sigma^2 / M_jj; with
    # M diagonal at the optimum, q(z | x) = N(V(x - mu), diag s^2) is the posterior.
    data, fit, _ = target_fit
    vae = fit.vae
    small = vae.weight.shape[1]
    m = vae.weight.T @ vae.weight + vae.noise_scale**2 * np.eye(small)
    np.testing.assert_allclose(
        vae.encoder_weight,
        np.linalg.solve(m, vae.weight.T),
        rtol=1e-6,
        atol=1e-6 * np.abs(vae.encoder_weight).max(),
    )
    np.testing.assert_allclose(vae.encoder_scale**2, vae.noise_scale**2 / np.diag(m), rtol=1e-6)
    post = vae.decoder.posterior(data[0])
    np.testing.assert_allclose(
        post.covariance_matrix, np.diag(vae.encoder_scale**2), rtol=1e-6, atol=1e-9
    )


def test_training_trace_gap_closes() -> None:
    trace = training_trace()
    tol = 1e-12 * np.abs(trace.log_likelihood).max()
    assert np.all(trace.gap >= -tol)  # ELBO <= log-likelihood at every iteration
    assert trace.gap[0] > 0.1
    assert abs(trace.gap[-1]) <= 1e-9
    assert trace.elbo[-1] == pytest.approx(trace.ml_log_likelihood, rel=1e-9)
    assert np.all(trace.log_likelihood <= trace.ml_log_likelihood + tol)


def test_validation_names_parameters() -> None:
    with pytest.raises(ValueError, match="latent_dim must be < D"):
        fit_linear_vae(np.zeros((10, 3)) + np.arange(3), 3)
    with pytest.raises(ValueError, match="encoder_weight"):
        LinearVAE([[1.0]], [0.0], 1.0, [[1.0, 2.0]], [1.0])
    with pytest.raises(ValueError, match="encoder_scale must be > 0"):
        LinearVAE([[1.0]], [0.0], 1.0, [[1.0]], [0.0])
    with pytest.raises(ValueError, match="data must have 2"):
        DataStatistics.of([1.0, 2.0])
