"""The binomial-theorem rule of the discrete KL pairs refuses what it must not establish."""

from __future__ import annotations

import sympy as sp

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
