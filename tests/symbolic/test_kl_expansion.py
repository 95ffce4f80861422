"""Near-diagonal expansions: checked derivations and an mpmath check of the series."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from klproof.symbolic import registry
from klproof.symbolic.kl import get_pair, near_diagonal
from klproof.symbolic.kl.expansion import EXPANDABLE


@pytest.mark.parametrize("family", EXPANDABLE)
def test_expansion_derivation_verifies(family: str) -> None:
    report = registry.get(f"kl/{family}/{family}/expansion").verify()
    assert report.ok, str(report)
    assert report.count("unchecked") == 0


@pytest.mark.parametrize("family", EXPANDABLE)
def test_low_orders_vanish_and_fisher_is_symmetric(family: str) -> None:
    e = near_diagonal(family)
    assert e.coefficients[0] == 0
    assert e.coefficients[1] == 0
    assert e.fisher == e.fisher.T


def test_normal_fisher() -> None:
    e = near_diagonal("normal")
    s = e.params["scale"]
    assert sp.simplify(e.fisher - sp.diag(1 / s**2, 2 / s**2)) == sp.zeros(2, 2)


def test_binomial_fisher() -> None:
    """Same total_count n: I(θ) = n / (θ (1 − θ)), n times the Bernoulli information."""
    e = near_diagonal("binomial")
    (theta,) = e.params.values()
    n = get_pair("binomial", "binomial").p_params["total_count"]
    assert list(e.params) == ["probs"]
    assert sp.simplify(e.fisher[0, 0] - n / (theta * (1 - theta))) == 0


def test_unknown_family_is_refused() -> None:
    with pytest.raises(KeyError, match="uniform"):
        near_diagonal("uniform")


@pytest.mark.parametrize("family", EXPANDABLE)
@settings(max_examples=5)
@given(seed=st.integers(1, 10**6))
def test_series_matches_closed_form(family: str, seed: int) -> None:
    """At t = 1e-6 the cubic series agrees with the closed form to O(t^4) relatively."""
    e = near_diagonal(family)
    pair = get_pair(family, family)
    rng = __import__("random").Random(seed)
    values = {}
    for name, sym in e.params.items():
        if name.startswith("probs"):  # at most 7/16 each: free coordinates sum below 1
            values[sym] = sp.Rational(rng.randint(1, 7), 16)
        elif sym.is_positive:
            values[sym] = sp.Rational(rng.randint(4, 32), 8)
        else:
            values[sym] = sp.Rational(rng.randint(-16, 16), 8)
    for d in e.deltas.values():
        values[d] = sp.Rational(rng.randint(-8, 8) or 1, 8)
    t = Fraction(1, 10**6)
    values[e.t] = sp.Rational(t)
    substituted = _substituted(pair.expression, e.substitution)
    # a parameter p and q share (Weibull's concentration, Binomial's total_count) is not
    # expanded: fix it
    shared = substituted.free_symbols - set(values)
    values.update({s: sp.Integer(rng.randint(1, 6)) for s in shared})
    with mpmath.workdps(60):
        exact = sp.N(substituted.xreplace(values), 50)
        series = sp.N(e.series().xreplace(values), 50)
        assert exact > 0
        assert abs(exact - series) <= abs(exact) * sp.Rational(1, 10**5) + sp.Float(1e-40)


def _substituted(expression: sp.Expr, substitution: dict) -> sp.Expr:
    """The pair's closed form at θ, θ + tδ (a sum over D coordinates expanded at its D)."""
    return expression.xreplace(substitution).doit().xreplace(substitution)


def test_substitution_moves_every_parameter_of_q() -> None:
    """No symbol of q survives the substitution: q is p_{θ + tδ} for every family."""
    for family in EXPANDABLE:
        e = near_diagonal(family)
        pair = get_pair(family, family)
        q_symbols = set()
        for v in pair.q_params.values():
            q_symbols |= set(v) if isinstance(v, sp.Tuple) else {v}
        q_symbols -= set(pair.p_params.values())  # shared (Weibull's concentration)
        substituted = _substituted(pair.expression, e.substitution)
        assert not substituted.free_symbols & q_symbols, family
        assert not substituted.has(*q_symbols), family


def test_categorical_fisher() -> None:
    """Free coordinates (p_1, p_2): I = diag(1/p_1, 1/p_2) + 11ᵀ / p_3."""
    e = near_diagonal("categorical")
    p1, p2 = e.params.values()
    p3 = 1 - p1 - p2
    expected = sp.diag(1 / p1, 1 / p2) + sp.ones(2, 2) / p3
    assert sp.simplify(e.fisher - expected) == sp.zeros(2, 2)


def test_dirichlet_fisher() -> None:
    """I = diag(ψ'(α_i)) − ψ'(α_0) 11ᵀ."""
    e = near_diagonal("dirichlet")
    alpha = list(e.params.values())
    expected = sp.diag(*(sp.polygamma(1, a) for a in alpha)) - sp.polygamma(
        1, sp.Add(*alpha)
    ) * sp.ones(3, 3)
    assert sp.simplify(e.fisher - expected) == sp.zeros(3, 3)


def test_diagonalnormal_fisher() -> None:
    """D = 2: per coordinate the Normal's diag(1/σ², 2/σ²), no coupling."""
    e = near_diagonal("diagonalnormal")
    assert list(e.params) == ["loc_1", "loc_2", "scale_1", "scale_2"]
    s1, s2 = e.params["scale_1"], e.params["scale_2"]
    expected = sp.diag(1 / s1**2, 1 / s2**2, 2 / s1**2, 2 / s2**2)
    assert sp.simplify(e.fisher - expected) == sp.zeros(4, 4)


def test_multivariatenormal_fisher() -> None:
    """d = 2 in (loc, scale_tril): I = Σ⁻¹ in loc, ½ tr(Σ⁻¹ ∂ᵢΣ Σ⁻¹ ∂ⱼΣ) in L, no coupling.

    The textbook formula for the Fisher information of N(μ(θ), Σ(θ)), evaluated here
    independently of the derivation (which takes −E[∂ᵢ∂ⱼ log p] after x = m + L t).
    """
    e = near_diagonal("multivariatenormal")
    assert list(e.params) == ["loc_1", "loc_2", "scale_tril_11", "scale_tril_21", "scale_tril_22"]
    m1, m2, l11, l21, l22 = e.params.values()
    chol = sp.Matrix([[l11, 0], [l21, l22]])
    cov = chol * chol.T
    inv = cov.inv()
    mean = sp.Matrix([m1, m2])
    theta = list(e.params.values())
    expected = sp.zeros(5, 5)
    for i, a in enumerate(theta):
        for j, b in enumerate(theta):
            da, db = cov.diff(a), cov.diff(b)
            expected[i, j] = (mean.diff(a).T * inv * mean.diff(b))[0, 0] + (
                da * inv * db * inv
            ).trace() / 2
    assert sp.simplify(e.fisher - expected) == sp.zeros(5, 5)


def test_multivariatenormal_substitution_is_the_cholesky_parametrisation() -> None:
    """q's covariance is (L + tΔ)(L + tΔ)ᵀ with Δ lower triangular: positive definite."""
    e = near_diagonal("multivariatenormal")
    pair = get_pair("multivariatenormal", "multivariatenormal")
    sigma_q = e.substitution[pair.q_params["covariance_matrix"]]
    l11, l21, l22 = (e.params[f"scale_tril_{k}"] for k in ("11", "21", "22"))
    d11, d21, d22 = (e.deltas[f"scale_tril_{k}"] for k in ("11", "21", "22"))
    chol_q = sp.Matrix([[l11 + e.t * d11, 0], [l21 + e.t * d21, l22 + e.t * d22]])
    assert sp.expand(sp.Matrix(sigma_q) - chol_q * chol_q.T) == sp.zeros(2, 2)
