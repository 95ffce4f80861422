"""The KL catalogue, driven from the pair registry.

For every registered pair: each route derivation verifies with no unchecked step;
the routes reach the same expression; the pair derivation (citing the routes)
verifies; the result is zero at equal parameters (same family) and matches an
mpmath quadrature or summation of the definition to 30 digits at Hypothesis-drawn
parameters — an oracle that does not use SymPy's simplifier or integrator.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from typing import Any

import mpmath
import pytest
import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from klproof.derivation import KL, is_zero
from klproof.symbolic import registry
from klproof.symbolic.families import FAMILIES, family
from klproof.symbolic.kl import UnregisteredPairError, get_pair, pairs
from klproof.symbolic.kl.catalogue import SPECS

PAIRS = pairs()
IDS = [p.id for p in PAIRS]
DIGITS = 30


def test_catalogue_targets() -> None:
    same = [p for p in PAIRS if p.p == p.q]
    cross = [p for p in PAIRS if p.p != p.q]
    assert len(same) + len(cross) == len(PAIRS)
    assert all(len(p.routes) >= 2 for p in PAIRS)


@pytest.mark.parametrize("pair_id", IDS)
def test_routes_verify_and_agree(pair_id: str) -> None:
    pair = get_pair(*pair_id.split("/")[1:])
    results = []
    for d in pair.route_derivations():
        report = d.verify()
        assert report.ok, str(report)
        assert report.count("unchecked") == 0
        assert isinstance(d.lhs, KL)
        results.append(d.rhs)
    for other in results[1:]:
        ok, residual = is_zero(other - results[0], pair.conditions)
        assert ok, residual
    assert is_zero(results[0] - pair.expression, pair.conditions)[0]
    summary = pair.derivation().verify()
    assert summary.ok, str(summary)


@pytest.mark.parametrize("pair_id", [p.id for p in PAIRS if p.p == p.q])
def test_zero_at_equal_parameters(pair_id: str) -> None:
    pair = get_pair(*pair_id.split("/")[1:])
    same = {pair.q_params[k]: v for k, v in pair.p_params.items()}
    ok, residual = is_zero(pair.expression.xreplace(same))
    assert ok, residual


def test_unregistered_pair_names_both_families_and_lists_pairs() -> None:
    with pytest.raises(UnregisteredPairError) as info:
        get_pair("normal", "bernoulli")
    message = str(info.value)
    assert "'normal'" in message
    assert "'bernoulli'" in message
    assert "normal/normal" in message


def test_every_pair_derivation_is_registered() -> None:
    names = set(registry.names())
    for pair in PAIRS:
        assert pair.id in names
        assert set(pair.routes) <= names


# --------------------------------------------------------------------------- oracle


def _value(kind: str) -> st.SearchStrategy[Fraction]:
    if kind == "real":
        return st.integers(-24, 24).map(lambda n: Fraction(n, 8))
    if kind == "positive":
        return st.integers(2, 32).map(lambda n: Fraction(n, 8))
    if kind == "unit":
        return st.integers(1, 15).map(lambda n: Fraction(n, 16))
    return st.integers(1, 6).map(Fraction)


def _params(fam: Any, symbols: dict[str, Any]) -> st.SearchStrategy[dict[str, Fraction]]:
    kinds = {p.name: p.kind for p in fam.params}
    return st.fixed_dictionaries({name: _value(kinds[name]) for name in symbols})


def _mpf(v: Fraction) -> Any:
    return mpmath.mpf(v.numerator) / v.denominator


def _oracle(pair: Any, pv: dict[str, Fraction], qv: dict[str, Fraction]) -> Any:
    """KL(p ‖ q) by mpmath quadrature (or summation) of p (log p − log q)."""
    spec = SPECS[(pair.p, pair.q)]()
    x = spec.p.variable
    subs = {pair.p_params[k]: sp.Rational(v.numerator, v.denominator) for k, v in pv.items()}
    subs.update({pair.q_params[k]: sp.Rational(v.numerator, v.denominator) for k, v in qv.items()})
    symbols = [*pair.p_params.values(), *pair.q_params.values()]
    values = [*(_mpf(pv[k]) for k in pair.p_params), *(_mpf(qv[k]) for k in pair.q_params)]
    log_p_fn = sp.lambdify([x, *symbols], sp.log(spec.p.pdf(x)), "mpmath")
    log_q_fn = sp.lambdify([x, *symbols], sp.log(spec.q.pdf(x)), "mpmath")

    def log_p(t: Any) -> Any:
        return log_p_fn(t, *values)

    def log_q(t: Any) -> Any:
        return log_q_fn(t, *values)

    lo, hi = (sp.sympify(e).xreplace(subs) for e in spec.p.support())

    def term(t: Any) -> Any:
        lp = log_p(t)
        return mpmath.exp(lp) * (lp - log_q(t))

    if spec.p.discrete:
        if hi == sp.oo:
            return mpmath.nsum(term, [int(lo), mpmath.inf])
        return mpmath.fsum(term(k) for k in range(int(lo), int(hi) + 1))
    a = (
        mpmath.mpf(-mpmath.inf)
        if lo == -sp.oo
        else mpmath.mpf(sp.Rational(lo).p) / sp.Rational(lo).q
    )
    b = mpmath.inf if hi == sp.oo else mpmath.mpf(sp.Rational(hi).p) / sp.Rational(hi).q
    inner = [t for t in _breakpoints(pair, subs) if a < t < b]
    if a >= 0 and b == mpmath.inf:
        # x = a + e^u (a = 0) or x = a e^u: algebraic tails and endpoint singularities
        # become exponential decays, which tanh-sinh integrates to full precision
        # (beyond u = 400 every integrand here is below 1e-60: exponential decay in x,
        # or a power of x = e^400 ~ 1e173 with exponent below -3/8)
        if a == 0:
            cuts = [-mpmath.inf, -8, -2, 0, 2, 4, 16, 64, 400]
            return mpmath.quad(lambda u: term(mpmath.exp(u)) * mpmath.exp(u), cuts)
        cuts = [0, 1, 4, 16, 64, 400]
        return mpmath.quad(lambda u: term(a * mpmath.exp(u)) * a * mpmath.exp(u), cuts)
    if a == 0 and b == 1:
        # x = 1 / (1 + e^-u) for the unit interval
        def logistic(u: Any) -> Any:
            x = 1 / (1 + mpmath.exp(-u))
            return term(x) * x * (1 - x)

        return mpmath.quad(logistic, [-mpmath.inf, -4, 0, 4, mpmath.inf])
    if b == mpmath.inf or a == -mpmath.inf:
        centre = inner[0] if inner else mpmath.mpf(0)
        scale = 1 + max((abs(t - centre) for t in inner), default=0)
        inner += [centre + k * scale for k in (-32, -8, -1, 1, 8, 32)]
        inner = [t for t in inner if a < t < b]
    points = sorted({a, *inner, b}, key=float)
    return mpmath.quad(term, points)


def _breakpoints(pair: Any, subs: dict[Any, Any]) -> list[Any]:
    out = []
    for params in (pair.p_params, pair.q_params):
        if "loc" in params:
            value = sp.Rational(params["loc"].xreplace(subs))
            out.append(mpmath.mpf(value.p) / value.q)
    return out


@cache
def _closed_by_id(pair_id: str) -> Any:
    return get_pair(*pair_id.split("/")[1:]).lambdify("mpmath")


def _closed(pair: Any) -> Any:
    return _closed_by_id(pair.id)


#: Examples per pair: each needs a 45-digit quadrature (~0.5 s), so a tenth of the
#: profile's budget (3 locally, 30 under the ``ci`` profile), at least 3.
ORACLE_EXAMPLES = max(3, settings.default.max_examples // 10)


@pytest.mark.parametrize("pair_id", IDS)
def test_matches_mpmath_definition(pair_id: str) -> None:
    pair = get_pair(*pair_id.split("/")[1:])
    pfam, qfam = family(pair.p), family(pair.q)
    strategy = st.tuples(_params(pfam, dict(pair.p_params)), _params(qfam, dict(pair.q_params)))

    @settings(max_examples=ORACLE_EXAMPLES)
    @given(strategy)
    def check(params: tuple[dict[str, Fraction], dict[str, Fraction]]) -> None:
        pv, qv = params
        subs = {pair.p_params[k]: sp.Rational(v.numerator, v.denominator) for k, v in pv.items()}
        subs.update(
            {pair.q_params[k]: sp.Rational(v.numerator, v.denominator) for k, v in qv.items()}
        )
        for cond in (*pair.conditions, *pair.finite_when):
            assume(bool(cond.xreplace(subs)))
        with mpmath.workdps(DIGITS + 15):
            closed = _closed(pair)(*(_mpf(v) for v in (*pv.values(), *qv.values())))
            reference = _oracle(pair, pv, qv)
            assert closed >= -(mpmath.mpf(10) ** (-DIGITS))
            error = abs(closed - reference)
            assert error <= mpmath.mpf(10) ** (-DIGITS) * max(1, abs(reference)), (
                closed,
                reference,
            )

    check()


def test_families_listed() -> None:
    assert {"normal", "gamma", "poisson"} <= set(FAMILIES)
