"""Discrete pairs on a finite support: the checks their routes rest on refuse what they must
not establish, and the Categorical pair in logits matches its definition and the numeric
kernel fed logits."""

from __future__ import annotations

from fractions import Fraction

import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from klproof.derivation import Claim, Context
from klproof.symbolic.kl.discrete import BinomialTheorem

n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True, nonnegative=True)
a, b = sp.Symbol("a", positive=True), sp.Symbol("b", positive=True)
TERM = sp.binomial(n, k) * a**k * b ** (n - k)


def _run(lhs: sp.Expr, rhs: sp.Expr, check: BinomialTheorem | None = None) -> str:
    check = check or BinomialTheorem(a, b)
    return check.run(Claim(lhs, rhs), Context()).status


def test_binomial_theorem_establishes_the_sum() -> None:
    assert _run(sp.Sum(TERM, (k, 0, n)), (a + b) ** n) == "ok"


def test_binomial_theorem_refuses_a_wrong_value() -> None:
    assert _run(sp.Sum(TERM, (k, 0, n)), (a + b) ** (n + 1)) == "failed"


def test_binomial_theorem_refuses_another_summand() -> None:
    assert _run(sp.Sum(k * TERM, (k, 0, n)), (a + b) ** n) == "failed"


def test_binomial_theorem_refuses_another_range() -> None:
    assert _run(sp.Sum(TERM, (k, 1, n)), (a + b) ** n) == "failed"
    x = sp.Symbol("x", positive=True)  # not an integer
    term = sp.binomial(x, k) * a**k * b ** (x - k)
    assert _run(sp.Sum(term, (k, 0, x)), (a + b) ** x) == "failed"


def test_binomial_theorem_refuses_a_base_depending_on_the_index() -> None:
    term = sp.binomial(n, k) * k**k * b ** (n - k)
    assert _run(sp.Sum(term, (k, 0, n)), (k + b) ** n, BinomialTheorem(k, b)) == "failed"


# --------------------------------------------------------------------------- categorical


def test_categorical_refuses_invalid_probs_naming_the_constraint() -> None:
    import pytest

    from klproof.symbolic.families import Categorical

    with pytest.raises(ValueError, match="probs must sum to 1"):
        Categorical(probs=[sp.Rational(1, 2)] * 3)
    with pytest.raises(ValueError, match=r"probs must be in \(0, 1\)"):
        Categorical(probs=[sp.Symbol("s", negative=True), 1])
    with pytest.raises(ValueError, match="logits must be real"):
        Categorical(logits=[sp.I, 0])


def test_on_support_checks_every_point() -> None:
    from klproof.symbolic.kl.discrete import OnSupport

    k = sp.Symbol("k", integer=True, nonnegative=True)
    delta = sp.KroneckerDelta(k, 0) + sp.KroneckerDelta(k, 1)
    assert (
        OnSupport(k, (sp.Integer(0), sp.Integer(1))).run(Claim(delta, 1), Context()).status == "ok"
    )
    three = (sp.Integer(0), sp.Integer(1), sp.Integer(2))
    assert OnSupport(k, three).run(Claim(delta, 1), Context()).status == "failed"


def _softmax(v: list[object]) -> list[object]:
    import mpmath

    top = max(v)
    w = [mpmath.exp(x - top) for x in v]
    total = mpmath.fsum(w)
    return [x / total for x in w]


def _logits_closed() -> tuple[object, object]:
    from klproof.symbolic.kl import get_pair

    pair = get_pair("categorical", "categorical", form="logits")
    args = [*pair.p_params["logits"], *pair.q_params["logits"]]
    return pair, sp.lambdify(args, pair.expression, "mpmath")


LOGITS = st.lists(st.integers(-240, 240).map(lambda n: Fraction(n, 8)), min_size=3, max_size=3)


@settings(max_examples=max(10, settings.default.max_examples // 5))
@given(LOGITS, LOGITS)
def test_categorical_logits_closed_form_matches_the_definition(
    a: list[Fraction], b: list[Fraction]
) -> None:
    """The derived closed form in logits against the defining sum over the 3 categories,
    with the probabilities computed as the softmax in mpmath at 90 digits (no SymPy)."""
    import mpmath

    _, f = _logits_closed()
    with mpmath.workdps(90):
        la = [mpmath.mpf(v.numerator) / v.denominator for v in a]
        lb = [mpmath.mpf(v.numerator) / v.denominator for v in b]
        p, q = _softmax(la), _softmax(lb)
        reference = mpmath.fsum(
            x * (mpmath.log(x) - mpmath.log(y)) for x, y in zip(p, q, strict=True)
        )
        closed = f(*la, *lb)
        assert closed >= -(mpmath.mpf(10) ** -30)
        assert abs(closed - reference) <= mpmath.mpf(10) ** -30 * max(1, abs(reference))


@settings(max_examples=max(10, settings.default.max_examples // 5))
@given(LOGITS, LOGITS)
def test_numeric_categorical_in_logits_matches_the_logits_closed_form(
    a: list[Fraction], b: list[Fraction]
) -> None:
    """One parameter dict ``{"logits": ...}`` feeds both layers (invariant 5); the numeric
    layer's target accuracy, 1e-12 relative (plus 1e-300 for exact zeros)."""
    import mpmath
    import numpy as np

    import klproof

    _, f = _logits_closed()
    p, q = {"logits": [float(v) for v in a]}, {"logits": [float(v) for v in b]}
    value = float(klproof.kl_divergence(klproof.Categorical(**p), klproof.Categorical(**q)))
    with mpmath.workdps(60):
        reference = f(*(mpmath.mpf(v) for v in p["logits"]), *(mpmath.mpf(v) for v in q["logits"]))
    assert np.isfinite(value)
    assert abs(value - float(reference)) <= 1e-12 * abs(float(reference)) + 1e-300, (
        value,
        reference,
    )


def test_any_k_results_at_three_categories_are_the_registered_pairs() -> None:
    """The general-K derivations (indexed symbols, symbolic K), written out at K = 3, are
    the closed forms of kl/categorical/categorical and of its logits form."""
    from klproof.derivation import is_zero
    from klproof.symbolic import get
    from klproof.symbolic.kl import get_pair

    def at_three(expr: sp.Expr, bases: dict[str, list[sp.Symbol]]) -> sp.Expr:
        (big_k,) = [s for s in expr.free_symbols if s.name == "K"]
        out = expr.subs(big_k, 3).doit()
        return out.replace(
            lambda e: isinstance(e, sp.Indexed) and e.base.name in bases,
            lambda e: bases[e.base.name][int(e.indices[0])],
        )

    probs = get_pair("categorical", "categorical")
    general = get("kl/categorical/categorical/any-k").rhs
    bases = {"p": list(probs.p_params["probs"]), "q": list(probs.q_params["probs"])}
    assert is_zero(at_three(general, bases) - probs.expression)[0]
    logits = get_pair("categorical", "categorical", form="logits")
    bases = {"ell": list(logits.p_params["logits"]), "m": list(logits.q_params["logits"])}
    for route in ("sum", "bregman"):
        general = get(f"kl/categorical-logits/categorical-logits/any-k/{route}").rhs
        ok, residual = is_zero(at_three(general, bases) - logits.expression)
        assert ok, residual


# --------------------------------------------------------------------------- binomial, logits

COUNT = st.integers(1, 40)
LOGIT = st.integers(-240, 240).map(lambda n: Fraction(n, 8))


def _binomial_logits_closed() -> object:
    from klproof.symbolic.kl import get_pair

    pair = get_pair("binomial", "binomial", form="logits")
    n = pair.p_params["total_count"]
    args = [n, pair.p_params["logits"], pair.q_params["logits"]]
    return sp.lambdify(args, pair.expression, "mpmath")


@settings(max_examples=max(10, settings.default.max_examples // 5))
@given(COUNT, LOGIT, LOGIT)
def test_binomial_logits_closed_form_matches_the_definition(
    n: int, a: Fraction, b: Fraction
) -> None:
    """The derived closed form in logits against the defining sum over k = 0..n (mpmath,
    log-probabilities from log-sigmoids at 90 digits; no SymPy)."""
    import mpmath

    f = _binomial_logits_closed()
    with mpmath.workdps(90):
        la, lb = (mpmath.mpf(v.numerator) / v.denominator for v in (a, b))

        def log_pmf(k: int, ell: object) -> object:
            log_p, log_q = -mpmath.log1p(mpmath.exp(-ell)), -mpmath.log1p(mpmath.exp(ell))
            return mpmath.log(mpmath.binomial(n, k)) + k * log_p + (n - k) * log_q

        reference = mpmath.fsum(
            mpmath.exp(log_pmf(k, la)) * (log_pmf(k, la) - log_pmf(k, lb)) for k in range(n + 1)
        )
        closed = f(n, la, lb)
        assert closed >= -(mpmath.mpf(10) ** -30)
        assert abs(closed - reference) <= mpmath.mpf(10) ** -30 * max(1, abs(reference))


@settings(max_examples=max(10, settings.default.max_examples // 5))
@given(COUNT, LOGIT, LOGIT)
def test_numeric_binomial_in_logits_matches_the_logits_closed_form(
    n: int, a: Fraction, b: Fraction
) -> None:
    """One parameter dict feeds both layers (invariant 5); |logit| <= 30, where the numeric
    layer targets 1e-12 relative (its Bernoulli-logits gap starts beyond 36)."""
    import mpmath
    import numpy as np

    import klproof

    f = _binomial_logits_closed()
    p = {"total_count": float(n), "logits": float(a)}
    q = {"total_count": float(n), "logits": float(b)}
    value = float(klproof.kl_divergence(klproof.Binomial(**p), klproof.Binomial(**q)))
    with mpmath.workdps(60):
        reference = f(n, mpmath.mpf(p["logits"]), mpmath.mpf(q["logits"]))
    assert np.isfinite(value)
    assert abs(value - float(reference)) <= 1e-12 * abs(float(reference)) + 1e-300, (
        value,
        reference,
    )
