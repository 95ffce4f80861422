"""Pairs in a second parametrisation (Bernoulli in logits), driven from the registry.

Each form's routes verify with no unchecked step and agree; its closed form matches
the definition summed in mpmath at 30 digits at Hypothesis-drawn logits, and the
numeric kernel fed logits (one parameter dict for both layers, invariant 5).
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import klproof
from klproof.derivation import KL, is_zero
from klproof.symbolic import registry
from klproof.symbolic.kl import get_pair, pairs

FORM_PAIRS = [p for p in pairs(forms=True) if p.form]
IDS = [p.id for p in FORM_PAIRS]
DIGITS = 30


def test_forms_are_listed_apart_from_the_default_pairs() -> None:
    assert "kl/bernoulli-logits/bernoulli-logits" in IDS
    assert not any(p.form for p in pairs())
    pair = get_pair("bernoulli", "bernoulli", form="logits")
    assert pair is get_pair("bernoulli-logits", "bernoulli-logits")
    assert (pair.p, pair.q, pair.form) == ("bernoulli", "bernoulli", "logits")
    assert set(pair.p_params) == set(pair.q_params) == {"logits"}


@pytest.mark.parametrize("pair_id", IDS)
def test_form_routes_verify_and_agree(pair_id: str) -> None:
    pair = next(p for p in FORM_PAIRS if p.id == pair_id)
    assert len(pair.routes) >= 2
    assert set(pair.routes) | {pair.id} <= set(registry.names())
    results = []
    for d in pair.route_derivations():
        report = d.verify()
        assert report.ok, str(report)
        assert report.count("unchecked") == 0
        assert isinstance(d.lhs, KL)
        results.append(d.rhs)
    for other in results[1:]:
        assert is_zero(other - results[0], pair.conditions)[0]
    assert pair.derivation().verify().ok


def test_logits_form_is_the_probs_form_at_the_sigmoid() -> None:
    logits = get_pair("bernoulli", "bernoulli", form="logits")
    probs = get_pair("bernoulli", "bernoulli")
    l1, l2 = logits.p_params["logits"], logits.q_params["logits"]
    at = {
        probs.p_params["probs"]: 1 / (1 + sp.exp(-l1)),
        probs.q_params["probs"]: 1 / (1 + sp.exp(-l2)),
    }
    same = {logits.q_params["logits"]: l1}
    assert is_zero(logits.expression.xreplace(same))[0]
    gap = probs.expression.xreplace(at) - logits.expression
    for a, b in ((Fraction(-7, 3), Fraction(5, 2)), (Fraction(40), Fraction(-3, 8))):
        value = gap.xreplace({l1: sp.Rational(a.numerator, a.denominator)})
        value = value.xreplace({l2: sp.Rational(b.numerator, b.denominator)})
        assert abs(sp.N(value, 50)) < sp.Float(10) ** -45


def _mpf(v: Fraction) -> mpmath.mpf:
    return mpmath.mpf(v.numerator) / v.denominator


def _definition(l1: mpmath.mpf, l2: mpmath.mpf) -> mpmath.mpf:
    """The defining sum over k in {0, 1}, with p(1) = 1 / (1 + e^-l)."""
    p1, q1 = 1 / (1 + mpmath.exp(-l1)), 1 / (1 + mpmath.exp(-l2))
    return p1 * mpmath.log(p1 / q1) + (1 - p1) * mpmath.log((1 - p1) / (1 - q1))


LOGIT = st.integers(-400, 400).map(lambda n: Fraction(n, 8))


@settings(max_examples=max(10, settings.default.max_examples // 5))
@given(LOGIT, LOGIT)
def test_logits_closed_form_matches_the_definition(a: Fraction, b: Fraction) -> None:
    pair = get_pair("bernoulli", "bernoulli", form="logits")
    f = sp.lambdify([pair.p_params["logits"], pair.q_params["logits"]], pair.expression, "mpmath")
    with mpmath.workdps(DIGITS + 60):  # 1 - p1 at |logit| = 50 needs ~22 extra digits
        closed = f(_mpf(a), _mpf(b))
        reference = _definition(_mpf(a), _mpf(b))
        assert closed >= 0
        assert abs(closed - reference) <= mpmath.mpf(10) ** -DIGITS * max(1, abs(reference))


@settings(max_examples=max(10, settings.default.max_examples // 5))
@given(LOGIT.filter(lambda v: abs(v) <= 30), LOGIT.filter(lambda v: abs(v) <= 30))
def test_numeric_kernel_in_logits_matches_the_logits_closed_form(a: Fraction, b: Fraction) -> None:
    """One parameter dict ``{"logits": ...}`` feeds both layers (|logit| <= 30 keeps this
    fixed 60-digit reference simple; logits to +-700 are checked against the adaptive-
    precision reference in tests/testing/test_kl_properties.py)."""
    pair = get_pair("bernoulli", "bernoulli", form="logits")
    f = sp.lambdify([pair.p_params["logits"], pair.q_params["logits"]], pair.expression, "mpmath")
    p, q = {"logits": float(a)}, {"logits": float(b)}
    value = float(klproof.kl_divergence(klproof.Bernoulli(**p), klproof.Bernoulli(**q)))
    with mpmath.workdps(60):
        reference = f(mpmath.mpf(p["logits"]), mpmath.mpf(q["logits"]))
    assert np.isfinite(value)
    tol = 1e-12 * abs(float(reference)) + 1e-300
    assert abs(value - float(reference)) <= tol, (a, b, value, reference)
