"""Derived results mean what they say, checked against independent numerical oracles.

The symbolic results are lambdified and compared with 40-digit mpmath quadrature or
direct summation of the *definitions* — never with the same formula. The tolerances
are float64 rounding of the lambdified closed forms (stated at each assertion), not
quadrature error, which at 40 digits is negligible.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import optimize, stats

from klproof.symbolic import registry

finite = st.floats(min_value=-3, max_value=3, allow_nan=False)
positive = st.floats(min_value=0.3, max_value=3, allow_nan=False)


def _symbols(expr: sp.Expr) -> dict[str, sp.Symbol]:
    return {str(s): s for s in expr.free_symbols}


def _lg_pieces():  # type: ignore[no-untyped-def]
    d = registry.get("elbo/scalar-gaussian")
    steps = d.steps
    log_evidence = steps[0].rhs
    elbo = steps[2].rhs
    kl = steps[3].rhs
    names = ("w", "b", "sigma", "x", "m", "s")
    syms = {**_symbols(log_evidence), **_symbols(elbo), **_symbols(kl)}
    args = [syms[n] for n in names]
    return (
        sp.lambdify(args, log_evidence),
        sp.lambdify(args, elbo),
        sp.lambdify(args, kl),
    )


LOG_EVIDENCE, ELBO, GAP_KL = _lg_pieces()


def _normal_logpdf(v, loc, scale):  # type: ignore[no-untyped-def]
    return -((v - loc) ** 2) / (2 * scale**2) - mp.log(scale) - mp.log(2 * mp.pi) / 2


@given(w=finite, b=finite, sigma=positive, x=finite, m=finite, s=positive)
@example(w=0.0, b=0.0, sigma=1.0, x=0.0, m=0.0, s=1.0)
@example(w=0.0, b=-2.0, sigma=0.5, x=2.0, m=0.0, s=1.0)  # tiny evidence (1e-14)
def test_linear_gaussian_elbo_against_quadrature(w, b, sigma, x, m, s) -> None:  # type: ignore[no-untyped-def]
    with mp.workdps(40):
        w_, b_, sg, x_, m_, s_ = (mp.mpf(v) for v in (w, b, sigma, x, m, s))

        def log_joint(z):  # type: ignore[no-untyped-def]
            return _normal_logpdf(x_, w_ * z + b_, sg) + _normal_logpdf(z, 0, 1)

        # evidence: integrate exp(log_joint - shift) to keep the integrand O(1)
        post_m = w_ * (x_ - b_) / (w_**2 + sg**2)
        shift = log_joint(post_m)
        evidence_scaled = mp.quad(lambda z: mp.exp(log_joint(z) - shift), [-mp.inf, post_m, mp.inf])
        log_evidence = mp.log(evidence_scaled) + shift
        elbo = mp.quad(
            lambda z: (
                mp.exp(_normal_logpdf(z, m_, s_)) * (log_joint(z) - _normal_logpdf(z, m_, s_))
            ),
            [-mp.inf, m_, mp.inf],
        )
    args = (w, b, sigma, x, m, s)
    # float64 evaluation of the derived closed forms vs 40-digit quadrature of the
    # definitions: 1e-12 relative covers float64 rounding of O(1)-conditioned formulas.
    assert math.isclose(LOG_EVIDENCE(*args), float(log_evidence), rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(ELBO(*args), float(elbo), rel_tol=1e-12, abs_tol=1e-11)
    gap = GAP_KL(*args)
    assert gap >= 0
    assert ELBO(*args) <= LOG_EVIDENCE(*args) + 1e-12
    assert math.isclose(float(log_evidence - elbo), gap, rel_tol=1e-9, abs_tol=1e-11)


@given(w=finite, b=finite, sigma=positive, x=finite)
def test_elbo_equals_evidence_at_the_posterior(w, b, sigma, x) -> None:  # type: ignore[no-untyped-def]
    tau2 = w * w + sigma * sigma
    m, s = w * (x - b) / tau2, sigma / math.sqrt(tau2)
    assert math.isclose(
        ELBO(w, b, sigma, x, m, s), LOG_EVIDENCE(w, b, sigma, x, m, s), rel_tol=1e-12, abs_tol=1e-12
    )
    assert abs(GAP_KL(w, b, sigma, x, m, s)) < 1e-12


@given(mu=finite, sigma=positive)
@example(mu=0.0, sigma=1.0)
def test_vae_kl_against_quadrature(mu, sigma) -> None:  # type: ignore[no-untyped-def]
    neg_kl = registry.get("vae/gaussian-kl").chain_results()[0].rhs
    syms = _symbols(neg_kl)
    f = sp.lambdify((syms["mu"], syms["sigma"]), neg_kl)
    with mp.workdps(40):
        mu_, sg = mp.mpf(mu), mp.mpf(sigma)
        kl = mp.quad(
            lambda z: (
                mp.exp(_normal_logpdf(z, mu_, sg))
                * (_normal_logpdf(z, mu_, sg) - _normal_logpdf(z, 0, 1))
            ),
            [-mp.inf, mu_, mp.inf],
        )
    assert kl >= 0
    assert math.isclose(-f(mu, sigma), float(kl), rel_tol=1e-10, abs_tol=1e-13)


@given(
    counts=st.lists(st.integers(1, 50), min_size=2, max_size=8),
    logits=st.lists(st.floats(-4, 4), min_size=8, max_size=8),
)
# the model equals p-hat: the float sum is -2.2e-16 (log(1/3) and -log 3 differ by an ulp)
@example(counts=[1, 1, 1], logits=[0.0] * 8)
def test_empirical_kl_identity_numerically(counts, logits) -> None:  # type: ignore[no-untyped-def]
    c = np.array(counts, dtype=float)
    n = c.sum()
    logit = np.array(logits[: len(c)])
    log_model = logit - np.logaddexp.reduce(logit)
    phat = c / n
    kl_direct = float(np.sum(phat * (np.log(phat) - log_model)))
    entropy = float(-np.sum(phat * np.log(phat)))
    log_lik = float(np.sum(c * log_model))
    # the derived statement: KL(p̂ ‖ p_θ) = −H(p̂) − (1/n) log L(θ)
    assert math.isclose(kl_direct, -entropy - log_lik / n, rel_tol=1e-12, abs_tol=1e-12)
    # KL >= 0 holds for the exact sum; the float sum of K terms is within
    # (K + 2) eps * sum|term| of it (Higham, Accuracy and Stability, 2nd ed., eq. 4.4,
    # plus an ulp for each log), so this allows rounding and nothing more
    terms = np.abs(phat * np.log(phat)) + np.abs(phat * log_model)
    assert kl_direct >= -(len(c) + 2) * np.finfo(float).eps * float(np.sum(terms))


@given(k=st.integers(1, 200), m=st.integers(1, 200))
def test_bernoulli_optimisers_numerically(k, m) -> None:  # type: ignore[no-untyped-def]
    d = registry.get("mle/bernoulli-optimiser")
    claimed = d.steps[1].rhs[0]
    ks = _symbols(claimed)
    theta_hat = float(claimed.subs({ks["k"]: k, ks["m"]: m}))
    n = k + m

    def kl(t: float) -> float:
        return k / n * math.log(k / (n * t)) + m / n * math.log(m / (n * (1 - t)))

    res = optimize.minimize_scalar(
        kl, bounds=(1e-9, 1 - 1e-9), method="bounded", options={"xatol": 1e-12}
    )
    assert abs(res.x - theta_hat) < 1e-6


@given(
    data=st.lists(st.floats(-10, 10), min_size=2, max_size=30).filter(lambda v: np.ptp(v) > 1e-3)
)
def test_normal_mle_numerically(data) -> None:  # type: ignore[no-untyped-def]
    d = registry.get("mle/normal-optimiser")
    mu_hat, var_hat = d.steps[-1].rhs
    xs = np.array(data)
    mean, var = xs.mean(), xs.var()  # the claimed x̄ and 1/n s²
    assert str(mu_hat) == r"\bar{x}"
    assert str(var_hat) == "s^2"

    def nll(params: np.ndarray) -> float:
        return float(-np.sum(stats.norm(params[0], math.sqrt(math.exp(params[1]))).logpdf(xs)))

    res = optimize.minimize(
        nll,
        x0=[0.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    assert abs(res.x[0] - mean) < 1e-4 * (1 + abs(mean))
    assert abs(math.exp(res.x[1]) - var) < 1e-4 * (1 + var)
