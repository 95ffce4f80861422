"""The Dirichlet pair: its K = 2 case is the Beta pair, and its simplex checks refuse errors."""

from __future__ import annotations

import sympy as sp

from klproof.derivation import Claim, Context, is_zero
from klproof.symbolic.families import Dirichlet
from klproof.symbolic.kl import get_pair
from klproof.symbolic.kl.simplex import InnerFactor, OnSimplex, closed_form


def test_dirichlet_with_two_components_is_the_beta_pair() -> None:
    """Cross-check: the Dirichlet closed form at K = 2 equals kl/beta/beta's (derived there
    by its own routes, from Euler's Beta integral)."""
    beta = get_pair("beta", "beta")
    p, q = Dirichlet.symbolic(1, K=2), Dirichlet.symbolic(2, K=2)
    mapping = {
        beta.p_params["concentration1"]: p["concentration"][0],
        beta.p_params["concentration0"]: p["concentration"][1],
        beta.q_params["concentration1"]: q["concentration"][0],
        beta.q_params["concentration0"]: q["concentration"][1],
    }
    ok, residual = is_zero(closed_form(p, q) - beta.expression.xreplace(mapping))
    assert ok, residual


def test_the_registered_pair_is_the_closed_form_for_three_components() -> None:
    pair = get_pair("dirichlet", "dirichlet")
    assert len(pair.p_params["concentration"]) == 3
    p, q = Dirichlet(pair.p_params["concentration"]), Dirichlet(pair.q_params["concentration"])
    assert pair.expression == closed_form(p, q)


x1, x2 = sp.symbols("x_1 x_2", positive=True)


def test_on_simplex_establishes_an_identity_that_needs_positivity() -> None:
    claim = Claim(sp.log(x1 * (1 - x1 - x2)), sp.log(x1) + sp.log(1 - x1 - x2))
    assert OnSimplex((x1, x2)).run(claim, Context()).status == "ok"


def test_on_simplex_refuses_a_false_identity() -> None:
    claim = Claim(sp.log(1 - x1 - x2), sp.log(1 - x1) + sp.log(1 - x2))
    assert OnSimplex((x1, x2)).run(claim, Context()).status == "failed"


def test_inner_factor_moves_only_factors_free_of_the_inner_variable() -> None:
    a = sp.Symbol("a", positive=True)
    inner = sp.Integral(x2**a, (x2, 0, 1 - x1))
    good = Claim(
        sp.Integral(x1 * x2**a, (x2, 0, 1 - x1), (x1, 0, 1)), sp.Integral(x1 * inner, (x1, 0, 1))
    )
    assert InnerFactor().run(good, Context()).status == "ok"
    wrong = Claim(
        sp.Integral(x1 * x2**a, (x2, 0, 1 - x1), (x1, 0, 1)), sp.Integral(x2 * inner, (x1, 0, 1))
    )
    assert InnerFactor().run(wrong, Context()).status == "failed"


def test_invalid_concentration_is_refused_naming_the_constraint() -> None:
    import pytest

    with pytest.raises(ValueError, match="concentration must be positive"):
        Dirichlet([1, sp.Symbol("s", negative=True), 2])


def test_derived_entropies_match_the_numeric_layer() -> None:
    """entropy/dirichlet and entropy/categorical (K = 3) against klproof's NumPy entropies,
    at fixed moderate parameters (the numeric layer's target: 1e-12 relative)."""
    import mpmath
    import numpy as np

    import klproof
    from klproof.symbolic import get

    h_dir = get("entropy/dirichlet")
    alphas = list(Dirichlet.symbolic(1)["concentration"])
    f = sp.lambdify(alphas, h_dir.rhs, "mpmath")
    for conc in ([0.5, 1.0, 2.5], [3.0, 7.0, 0.75], [1.0, 1.0, 1.0]):
        with mpmath.workdps(50):
            ref = float(f(*(mpmath.mpf(c) for c in conc)))
        value = float(klproof.Dirichlet(np.array(conc)).entropy())
        assert abs(value - ref) <= 1e-12 * max(1.0, abs(ref)), (conc, value, ref)
    h_cat = get("entropy/categorical")
    probs = sorted(h_cat.rhs.free_symbols, key=str)
    g = sp.lambdify(probs, h_cat.rhs, "mpmath")
    for pv in ([0.2, 0.3, 0.5], [0.9, 0.05, 0.05]):
        with mpmath.workdps(50):
            ref = float(g(*(mpmath.mpf(v) for v in pv)))
        value = float(klproof.Categorical(probs=np.array(pv)).entropy())
        assert abs(value - ref) <= 1e-12 * abs(ref), (pv, value, ref)


def test_pair_evaluates_at_vector_parameters() -> None:
    """KLPair.evaluate and .lambdify take the vector parameters as sequences."""
    import mpmath

    pair = get_pair("dirichlet", "dirichlet")
    exact = pair.evaluate({"concentration": [1, 2, 3]}, {"concentration": [2, 2, 2]})
    # log Γ(6) - log Γ(2) - log Γ(3) - log Γ(6) + 3 log Γ(2) + (1 - 2)(ψ(1) - ψ(6)) + (3 - 2)(ψ(3) - ψ(6))
    assert is_zero(exact - (sp.digamma(3) - sp.digamma(1) - sp.log(2)))[0]
    with mpmath.workdps(30):
        assert abs(pair.lambdify()([1, 2, 3], [2, 2, 2]) - sp.N(exact, 30)) < 1e-25
    import pytest

    with pytest.raises(ValueError, match="3 entries"):
        pair.evaluate({"concentration": [1, 2]}, {"concentration": [2, 2]})
