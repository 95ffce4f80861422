"""Laplace/Laplace: the three sign cases pinned against quadrature; the case rule refuses.

The registry-driven suite (test_kl_catalogue.py) covers the pair at drawn parameters;
here each case of the sign of mu_1 - mu_2 is pinned (d > 0, d < 0, d = 0), and the
trichotomy rule (``Cases``) is shown to refuse a wrong value in each form.
"""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp

from klproof.derivation import Cases
from klproof.symbolic import registry
from klproof.symbolic.kl import get_pair

PAIR = get_pair("laplace", "laplace")


def _quadrature(m1: float, b1: float, m2: float, b2: float) -> mpmath.mpf:
    """KL by 40-digit quadrature of the definition, split at both kinks."""

    def log_density(x: mpmath.mpf, m: float, b: float) -> mpmath.mpf:
        return -abs(x - m) / b - mpmath.log(2 * b)

    def term(x: mpmath.mpf) -> mpmath.mpf:
        lp = log_density(x, m1, b1)
        return mpmath.exp(lp) * (lp - log_density(x, m2, b2))

    kinks = sorted({mpmath.mpf(m1), mpmath.mpf(m2)})
    return mpmath.quad(term, [-mpmath.inf, *kinks, mpmath.inf])


@pytest.mark.parametrize(
    ("m1", "b1", "m2", "b2"),
    [
        (1.5, 0.5, -2.0, 3.0),  # mu_1 > mu_2
        (-1.0, 2.0, 0.25, 0.75),  # mu_1 < mu_2
        (0.5, 1.25, 0.5, 4.0),  # mu_1 = mu_2 (scale only)
        (3.0, 1.0, 3.0, 1.0),  # p = q
    ],
)
def test_pinned_cases_match_quadrature(m1: float, b1: float, m2: float, b2: float) -> None:
    with mpmath.workdps(40):
        closed = PAIR.lambdify("mpmath")(*(mpmath.mpf(v) for v in (m1, b1, m2, b2)))
        reference = _quadrature(m1, b1, m2, b2)
        assert abs(closed - reference) <= mpmath.mpf(10) ** -30 * max(1, abs(reference))


def test_the_case_rule_refuses_a_wrong_value() -> None:
    d = registry.get("kl/laplace/laplace/integral")
    (index,) = [i for i, s in enumerate(d.steps) if isinstance(s.check, Cases)]
    assert d.check_step(index).status == "ok"
    value = d.steps[index].rhs
    m1, m2 = PAIR.p_params["loc"], PAIR.q_params["loc"]
    wrong = [
        value + (m1 - m2),  # right for d = 0 only
        value.subs(sp.Abs(m1 - m2), m1 - m2),  # right for d > 0 only
        value.subs(sp.Abs(m1 - m2), m2 - m1),  # right for d < 0 only
    ]
    for rhs in wrong:
        assert d.with_step(index, rhs).check_step(index).status == "failed"
