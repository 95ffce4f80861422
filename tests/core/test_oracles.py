"""Derived results mean what they say, checked against independent numerical oracles.

The symbolic results are lambdified and compared with numerical quadrature (SciPy) or
direct summation of the *definitions* — never with the same formula. Quadrature of
smooth, well-scaled integrands reaches ~1e-10 relative; we allow 1e-7 (absolute where the
reference can be 0) to stay clear of quadrature error, which is far below any error a
wrong formula would make at the drawn parameters.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st
from scipy import integrate, optimize, stats

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


def _quad(f, lo=-np.inf, hi=np.inf):  # type: ignore[no-untyped-def]
    value, _ = integrate.quad(f, lo, hi, epsabs=1e-13, epsrel=1e-12, limit=200)
    return value


@given(w=finite, b=finite, sigma=positive, x=finite, m=finite, s=positive)
@example(w=0.0, b=0.0, sigma=1.0, x=0.0, m=0.0, s=1.0)
def test_linear_gaussian_elbo_against_quadrature(w, b, sigma, x, m, s) -> None:  # type: ignore[no-untyped-def]
    prior = stats.norm(0, 1)
    q = stats.norm(m, s)

    def lik(z: float) -> float:
        return float(stats.norm(w * z + b, sigma).pdf(x))

    evidence = _quad(lambda z: lik(z) * prior.pdf(z))
    elbo = _quad(
        lambda z: (
            q.pdf(z) * (stats.norm(w * z + b, sigma).logpdf(x) + prior.logpdf(z) - q.logpdf(z))
        ),
        m - 40 * s,
        m + 40 * s,
    )
    assert math.isclose(LOG_EVIDENCE(w, b, sigma, x, m, s), math.log(evidence), rel_tol=1e-7)
    assert math.isclose(ELBO(w, b, sigma, x, m, s), elbo, rel_tol=1e-7, abs_tol=1e-9)
    gap = GAP_KL(w, b, sigma, x, m, s)
    assert gap >= 0
    # ELBO ≤ log p(x), with the gap equal to the KL
    assert ELBO(w, b, sigma, x, m, s) <= LOG_EVIDENCE(w, b, sigma, x, m, s) + 1e-12
    assert math.isclose(math.log(evidence) - elbo, gap, rel_tol=1e-6, abs_tol=1e-8)


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
    p, q = stats.norm(mu, sigma), stats.norm(0, 1)
    kl = _quad(lambda z: p.pdf(z) * (p.logpdf(z) - q.logpdf(z)), mu - 40 * sigma, mu + 40 * sigma)
    assert kl >= -1e-12
    assert math.isclose(-f(mu, sigma), kl, rel_tol=1e-7, abs_tol=1e-10)


@given(
    counts=st.lists(st.integers(1, 50), min_size=2, max_size=8),
    logits=st.lists(st.floats(-4, 4), min_size=8, max_size=8),
)
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
    assert kl_direct >= 0


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
