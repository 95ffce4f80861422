"""RationalIntegral and ZeroDerivative pass what is true and refute what is wrong.

Each test builds a small derivation whose last step uses the rule; the true version
verifies (``ok``) and every corrupted version is ``failed`` (a premise not about the
claim, a wrong value, a wrong derivative, a domain cut by a condition) or, where the
rule's precondition cannot be shown, ``unchecked`` — never ``ok``.
"""

from __future__ import annotations

from typing import Any

import pytest
import sympy as sp

from klproof.derivation import (
    Derivation,
    Evaluate,
    Leibniz,
    RationalIntegral,
    Step,
    ZeroDerivative,
)

oo = sp.oo
T = sp.Symbol("t", real=True)
B = sp.Symbol("b", real=True)
S = sp.Symbol("s", positive=True)
LINE = (T, -oo, oo)
W = 1 / (sp.pi * (T**2 + 1))


def _status(steps: list[Step], conditions: tuple[Any, ...] = ()) -> str:
    d = Derivation(name="test", title="test", steps=tuple(steps), conditions=conditions)
    return str(d.verify().steps[-1].status)


def _integral(f: Any, value: Any) -> str:
    return _status(
        [Step(lhs=sp.Integral(f, LINE), rhs=value, reason="r", check=RationalIntegral())]
    )


SHIFTED = sp.diff(sp.log((T - B) ** 2 + S**2), B) * W  # degenerate partial fractions at (0, 1)
SHIFTED_VALUE = 2 * B / (B**2 + (1 + S) ** 2)


def test_rational_integral_true() -> None:
    assert _integral(W, 1) == "ok"
    assert _integral(SHIFTED, SHIFTED_VALUE) == "ok"
    assert _integral(2 * S / ((T**2 + S**2) * (T**2 + 1)) / sp.pi, 2 / (1 + S)) == "ok"


@pytest.mark.parametrize(
    ("f", "value"),
    [
        (W, 2),  # wrong value
        (SHIFTED, -SHIFTED_VALUE),  # wrong sign
        (SHIFTED, SHIFTED_VALUE + sp.Rational(1, 7)),
        (SHIFTED, 2 * B / (B**2 + (2 + S) ** 2)),  # the right shape, a wrong constant
        (T / (T**2 + 1), 0),  # O(1/t): diverges (the symmetric limit 0 is not the integral)
        (sp.exp(-(T**2)), sp.sqrt(sp.pi)),  # not a rational function
        (sp.log(S) / (T**2 + 1), sp.pi * sp.log(S)),  # not rational in the parameters
    ],
)
def test_rational_integral_refutes(f: Any, value: Any) -> None:
    assert _integral(f, value) == "failed"


@pytest.mark.parametrize(
    ("f", "value"),
    [
        (1 / (T**2 - 1 + S), 0),  # a pole on the line for s < 1: positivity not shown
        (2 / (sp.pi * (T**2 + 1) ** 2), 1),  # a repeated quadratic: not handled, not passed
        (SHIFTED, 2 * B / (B**2 + (1 - S) ** 2)),  # a value not shown continuous (b=0, s=1)
    ],
)
def test_rational_integral_refuses(f: Any, value: Any) -> None:
    assert _integral(f, value) == "unchecked"


D = sp.Integral(W * sp.log(((T - B) ** 2 + 1) / (T**2 + 1)), LINE)
D0 = D.subs(B, 0)
SLOPE = 2 * B / (B**2 + 4)
VALUE = sp.log((B**2 + 4) / 4)


def _lemma(value: Any = VALUE, slope: Any = SLOPE, point: Any = 0, base: Any = 0) -> list[Step]:
    base_fact = sp.Eq(D.subs(B, point), base, evaluate=False)
    slope_fact = sp.Eq(sp.Derivative(D, B), slope, evaluate=False)
    return [
        Step(lhs=D0, rhs=sp.Integer(0), reason="r", check=Evaluate()),
        Step(
            lhs=sp.Derivative(D, B),
            rhs=sp.Integral(sp.diff(D.function, B), LINE),
            reason="r",
            check=Leibniz(),
        ),
        Step(rhs=SLOPE, reason="r", check=RationalIntegral()),
        Step(lhs=D, rhs=value, reason="r", check=ZeroDerivative(B, point, slope_fact, base_fact)),
    ]


def test_zero_derivative_true() -> None:
    assert _status(_lemma()) == "ok"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"value": VALUE + sp.Rational(1, 7)},  # right derivative, wrong constant
        {"value": -VALUE},
        {"value": sp.log(B**2 + 4)},  # off by log 4: the base value refutes it
        {"slope": -SLOPE},  # a derivative premise never established
        {"point": 1},  # a base premise never established
        {"base": sp.Integer(1)},
    ],
)
def test_zero_derivative_refutes(kwargs: dict[str, Any]) -> None:
    assert _status(_lemma(**kwargs)) == "failed"


def test_zero_derivative_refuses_a_cut_domain() -> None:
    """A condition on the variable may disconnect its domain: refused."""
    assert _status(_lemma(), conditions=(sp.Ne(B, 1),)) == "failed"


def test_zero_derivative_refuses_a_nonsmooth_right_side() -> None:
    """|b| has the derivative sign(b) off 0, yet is not a primitive of it on the line."""
    f = sp.Integral(W * sp.Abs(B), LINE)
    steps = [
        Step(lhs=f.subs(B, 1), rhs=sp.Integer(1), reason="r", check=Evaluate()),
        Step(lhs=sp.Derivative(f, B), rhs=sp.sign(B), reason="r", check=Evaluate()),
        Step(
            lhs=f,
            rhs=sp.Abs(B),
            reason="r",
            check=ZeroDerivative(
                B,
                1,
                sp.Eq(sp.Derivative(f, B), sp.sign(B), evaluate=False),
                sp.Eq(f.subs(B, 1), 1, evaluate=False),
            ),
        ),
    ]
    assert _status(steps) in {"failed", "unchecked"}
