"""Cauchy entropy and cross-entropy: the constant E log(1 + T^2) = 2 log 2 and its uses.

The registry-driven suite (test_kl_catalogue.py) verifies entropy/cauchy and the three
routes of kl/cauchy/cauchy and compares the KL with quadrature; here the constant, the
entropy and the cross-entropy lemma are pinned against mpmath quadrature of the
definitions (after x = loc + scale tan(theta), which maps p(x) dx to dtheta / pi and
leaves a smooth integrand with logarithmic end singularities that tanh-sinh resolves),
and plausible wrong steps of the lemma chain are shown refuted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import mpmath
import pytest
import sympy as sp

from klproof.derivation import Instance
from klproof.symbolic import registry

CROSS = "kl/cauchy/cauchy/cross-entropy"
DIGITS = 40


def _expect(loc: Any, scale: Any, f: Any, dip: Any = 0) -> Any:
    """E f(X) for X ~ Cauchy(loc, scale), by the tan substitution (40 digits).

    ``dip`` is a point where ``f`` has a sharp feature (a breakpoint of the quadrature).
    """

    def g(theta: Any) -> Any:
        return f(loc + scale * mpmath.tan(theta)) / mpmath.pi

    theta = mpmath.atan((dip - loc) / scale)
    return mpmath.quad(g, sorted({-mpmath.pi / 2, mpmath.mpf(0), theta, mpmath.pi / 2}))


def _symbol(d: Any, name: str) -> Any:
    (s,) = [z for z in d.symbols if z.name == name]
    return s


def test_the_constant_against_quadrature() -> None:
    """(1/pi) ∫ log(1 + t^2) / (1 + t^2) dt = 2 log 2 to 40 digits, on the line directly."""
    with mpmath.workdps(DIGITS + 10):
        on_line = mpmath.quad(
            lambda t: mpmath.log1p(t * t) / (mpmath.pi * (1 + t * t)), [-mpmath.inf, 0, mpmath.inf]
        )
        by_tan = _expect(0, 1, lambda x: mpmath.log1p(x * x))
        want = 2 * mpmath.log(2)
        assert abs(on_line - want) < mpmath.mpf(10) ** -DIGITS
        assert abs(by_tan - want) < mpmath.mpf(10) ** -DIGITS


@pytest.mark.parametrize(("loc", "scale"), [(0, 1), (-3, "0.125"), ("2.5", 40)])
def test_entropy_against_quadrature(loc: Any, scale: Any) -> None:
    d = registry.get("entropy/cauchy")
    mu, gamma = _symbol(d, "mu_1"), _symbol(d, "gamma_1")
    with mpmath.workdps(DIGITS + 10):
        m, g = mpmath.mpf(loc), mpmath.mpf(scale)

        def minus_log_p(x: Any) -> Any:
            return -mpmath.log(g / (mpmath.pi * ((x - m) ** 2 + g**2)))

        want = _expect(m, g, minus_log_p)
        got = sp.N(d.rhs.subs({mu: sp.Rational(loc), gamma: sp.Rational(scale)}), DIGITS + 10)
        assert abs(mpmath.mpf(str(got)) - want) < mpmath.mpf(10) ** -DIGITS * max(1, abs(want))


@pytest.mark.parametrize(
    ("p", "q"), [((0, 1), (0, 1)), ((1, "0.5"), (-2, 3)), (("-0.25", 7), (4, "0.01"))]
)
def test_cross_entropy_lemma_against_quadrature(p: Any, q: Any) -> None:
    """E_p log((x - mu_2)^2 + gamma_2^2) = log((mu_1 - mu_2)^2 + (gamma_1 + gamma_2)^2)."""
    d = registry.get(CROSS)
    results = {str(r.lhs): r.rhs for r in d.chain_results()}
    (key,) = [k for k in results if k.startswith("Integral(log(gamma_2**2")]
    value = results[key]
    names = ("mu_1", "gamma_1", "mu_2", "gamma_2")
    at = dict(zip((_symbol(d, n) for n in names), map(sp.Rational, (*p, *q)), strict=True))
    with mpmath.workdps(DIGITS + 10):
        m2, g2 = mpmath.mpf(q[0]), mpmath.mpf(q[1])
        want = _expect(
            mpmath.mpf(p[0]), mpmath.mpf(p[1]), lambda x: mpmath.log((x - m2) ** 2 + g2**2), m2
        )
        got = mpmath.mpf(str(sp.N(value.subs(at), DIGITS + 10)))
        assert abs(got - want) < mpmath.mpf(10) ** -DIGITS * max(1, abs(want))


def _index(d: Any, lhs_start: str | None = None, rhs: Any = None) -> int:
    """The step whose lhs prints starting with ``lhs_start`` (or whose rhs is ``rhs``)."""
    hits = [
        i
        for i, st in enumerate(d.steps)
        if (lhs_start is not None and st.lhs is not None and str(st.lhs).startswith(lhs_start))
        or (rhs is not None and st.rhs == rhs)
    ]
    assert len(hits) == 1, hits
    return hits[0]


def test_plausible_wrong_lemma_steps_are_refuted() -> None:
    """A normaliser without 1/pi, the log-sin constant, D's value for F, a wrong entropy."""
    d = registry.get(CROSS)
    c = _symbol(d, "c")
    b, s = _symbol(d, "b"), _symbol(d, "s")
    half = sp.Rational(1, 2)
    normaliser = _index(d, "Integral((t**2 + 1)**(-c - 1/2)/pi")
    constant = _index(d, "Integral(log(t**2 + 1)/(pi*(t**2 + 1))")
    f_lemma = _index(d, rhs=sp.log(b**2 + (1 + s) ** 2))
    wrong = {
        normaliser: sp.sqrt(sp.pi) * sp.gamma(c) / sp.gamma(c + half),
        constant: -sp.pi * sp.log(2) / 2,  # the value of ∫_0^{π/2} log sin, not the moment
        f_lemma: sp.log((b**2 + (1 + s) ** 2) / 4),  # the integral route's D(b, s)
    }
    for index, value in wrong.items():
        result = d.with_step(index, value).check_step(index)
        assert result.status == "failed", (index, result)
    # the Instance at c = 1 (the Cauchy kernel is c = 1/2) is refuted, not passed
    step = d.steps[constant]
    assert isinstance(step.check, Instance)
    moved = replace(step, check=Instance(step.check.fact, ((c, sp.Integer(1)),)))
    steps = list(d.steps)
    steps[constant] = moved
    result = replace(d, steps=tuple(steps), _cache={}).check_step(constant)
    assert result.status == "failed", result
    h = registry.get("entropy/cauchy")
    last = len(h.steps) - 1
    gamma = _symbol(h, "gamma_1")
    result = h.with_step(last, sp.log(2 * sp.pi * gamma)).check_step(last)
    assert result.status == "failed", result


def test_the_routes_do_not_share_the_constant() -> None:
    """Only the cross-entropy route (and the entropy) uses E log(1 + T^2) = 2 log 2."""
    steps = {
        name: [str(st.lhs) for st in registry.get(name).steps if st.lhs is not None]
        for name in (
            "kl/cauchy/cauchy/integral",
            "kl/cauchy/cauchy/diagonal",
            CROSS,
            "entropy/cauchy",
        )
    }
    uses = {n: any("(-c - 1/2)" in lhs for lhs in lhss) for n, lhss in steps.items()}
    assert uses == {
        "kl/cauchy/cauchy/integral": False,
        "kl/cauchy/cauchy/diagonal": False,
        CROSS: True,
        "entropy/cauchy": True,
    }
