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
        if sym.is_positive and name == "probs":
            values[sym] = sp.Rational(rng.randint(2, 14), 16)
        elif sym.is_positive:
            values[sym] = sp.Rational(rng.randint(4, 32), 8)
        else:
            values[sym] = sp.Rational(rng.randint(-16, 16), 8)
    for d in e.deltas.values():
        values[d] = sp.Rational(rng.randint(-8, 8) or 1, 8)
    # a parameter p and q share (Weibull's concentration) is not expanded: fix it
    shared = (set(pair.p_params.values()) & set(pair.q_params.values())) - set(e.params.values())
    values.update({s: sp.Rational(rng.randint(4, 32), 8) for s in shared})
    t = Fraction(1, 10**6)
    with mpmath.workdps(60):
        shifted = {
            pair.q_params[k]: values[e.params[k]] + sp.Rational(t) * values[e.deltas[k]]
            for k in e.params
        }
        base = {pair.p_params[k]: values[e.params[k]] for k in e.params}
        fixed = {
            s: v for s, v in values.items() if s not in {*e.params.values(), *e.deltas.values()}
        }
        exact = sp.N(pair.expression.xreplace({**fixed, **base, **shifted}), 50)
        series = sp.N(e.series().xreplace({**values, e.t: sp.Rational(t)}), 50)
        assert abs(exact - series) <= abs(exact) * sp.Rational(1, 10**5) + sp.Float(1e-40)
