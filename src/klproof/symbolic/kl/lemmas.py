"""Reusable lemma chains for expectations SymPy cannot (or should not) integrate whole."""

from __future__ import annotations

import itertools
from typing import Any

import sympy as sp

from klproof.derivation import Check, Evaluate, Rule, Step
from klproof.derivation.ops import unfold
from klproof.symbolic.kl._checks import (
    Cases,
    Instance,
    Leibniz,
    Memo,
    Restrict,
    Split,
    Substitution,
    Using,
)

__all__ = [
    "agg",
    "by_derivative",
    "by_halves",
    "by_kinks",
    "by_sign",
    "by_substitution",
    "by_substitution_log_power",
]


def agg(expr: Any, lim: tuple[Any, Any, Any]) -> Any:
    """Integral over a real variable, sum over an integer one."""
    return sp.Sum(expr, lim) if lim[0].is_integer else sp.Integral(expr, lim)


def by_derivative(
    kernel: Any,
    t: Any,
    normaliser: Any,
    value: Any,
    feature: Any,
    sign: int = 1,
    normaliser_check: Check | None = None,
) -> Any:
    r"""E_p[f] when :math:`p = k/Z` and :math:`\partial_t k = \pm f\,k` (``sign``).

    Chain: the normaliser :math:`\int k = Z` (evaluated);
    :math:`\int p f = \frac{1}{Z}\int \partial_t k = \frac{1}{Z}\partial_t \int k
    = \partial_t Z / Z` (differentiation under the integral sign), then ``value``.
    """

    def build(pl: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
        z_int = agg(kernel, lim)
        z_fact = sp.Eq(z_int, normaliser, evaluate=False)
        return [
            Step(
                lhs=z_int,
                rhs=normaliser,
                reason="the normaliser, evaluated",
                check=Memo(normaliser_check or Evaluate()),
            ),
            Step(
                lhs=agg(pl * feature, lim),
                rhs=sign * agg(sign * feature * kernel, lim) / normaliser,
                reason="p = kernel / normaliser; linearity",
                check=Rule("linearity of the integral"),
            ),
            Step(
                rhs=sign * sp.Derivative(z_int, t) / normaliser,
                reason=f"f·kernel is the derivative of the kernel in ${sp.latex(t)}$",
                check=Memo(Leibniz()),
            ),
            Step(
                rhs=sign * sp.Derivative(normaliser, t) / normaliser,
                reason="the normaliser lemma",
                check=Using("normaliser", (z_fact,)),
            ),
            Step(rhs=value, reason="differentiate", check=Memo(Evaluate())),
        ]

    return build


def by_substitution(
    x: Any, phi: Any, u_limits: tuple[Any, Any, Any], value: Any, feature: Any
) -> Any:
    r"""E_p[f] by the change of variables :math:`x = \varphi(u)`, then term by term."""

    def build(pl: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
        u = u_limits[0]
        lhs = agg(pl * feature, lim)
        integrand = unfold(pl * feature).subs(x, phi) * sp.Abs(sp.diff(phi, u))
        integrand = _exp_log(sp.expand(sp.powsimp(sp.expand(sp.simplify(integrand)))), u)
        transformed = sp.Integral(integrand, u_limits)
        terms: dict[Any, Any] = {}
        for term in sp.Add.make_args(integrand):
            coeff, dep = term.as_independent(u, as_Add=False)
            terms[dep] = terms.get(dep, sp.Integer(0)) + coeff
        split = sp.Add(*(c * sp.Integral(d, u_limits) for d, c in terms.items()))
        return [
            Step(
                lhs=lhs,
                rhs=transformed,
                reason=f"substitute ${sp.latex(x)} = {sp.latex(phi)}$",
                check=Memo(Substitution(x, phi)),
            ),
            Step(rhs=split, reason="linearity", check=Rule("linearity of the integral")),
            Step(rhs=value, reason="evaluate", check=Memo(Evaluate())),
        ]

    return build


def _exp_log(expr: Any, u: Any) -> Any:
    """Rewrite ``exp(c log u + r)`` as ``u**c exp(r)`` (``u > 0``)."""

    def rewrite(e: Any) -> Any:
        arg = sp.expand(e.args[0])
        c = arg.coeff(sp.log(u))
        if c == 0:
            return e
        return u**c * sp.exp(sp.expand(arg - c * sp.log(u)))

    return sp.expand(expr.replace(lambda e: isinstance(e, sp.exp), rewrite))


def by_halves(c: Any, value: Any, feature: Any) -> Any:
    r"""E_p[f] over the real line, split at the kink ``c`` (of :math:`|x - c|`), evaluated."""

    def build(pl: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
        x = lim[0]
        whole = unfold(pl * feature)
        lower = sp.Integral(whole, (x, -sp.oo, c))
        upper = sp.Integral(whole, (x, c, sp.oo))
        t = sp.Dummy("t", positive=True)
        below = whole.subs(x, c - t).subs(t, c - x)
        above = whole.subs(x, c + t).subs(t, x - c)
        return [
            Step(
                lhs=sp.Integral(pl * feature, lim),
                rhs=lower + upper,
                reason=f"split the line at ${sp.latex(c)}$",
                check=Memo(Split()),
            ),
            Step(
                rhs=sp.Integral(below, (x, -sp.oo, c)) + sp.Integral(above, (x, c, sp.oo)),
                reason="drop the absolute values on each half-line",
                check=Memo(Restrict()),
            ),
            Step(rhs=value, reason="evaluate each half", check=Memo(Evaluate())),
        ]

    return build


def _drop_abs(expr: Any, x: Any, lo: Any, hi: Any) -> Any:
    """``expr`` on the interval ``(lo, hi)``: each ``|g(x)|`` replaced by ``±g(x)``.

    The sign is read off at an interior point written with a positive dummy (the
    :class:`Restrict` check then verifies the result on the whole interval).
    """
    s = sp.Dummy("s", positive=True)
    if hi == sp.oo:
        point = lo + s
    elif lo == -sp.oo:
        point = hi - s
    else:
        point = lo + (hi - lo) * s / (1 + s)

    def sign_of(arg: Any) -> Any:
        value = sp.simplify(arg.subs(x, point))
        if value.is_positive:
            return arg
        if value.is_negative:
            return -arg
        raise ValueError(f"the sign of {arg} on ({lo}, {hi}) is not decided")

    return expr.replace(lambda e: isinstance(e, sp.Abs) and e.has(x), lambda e: sign_of(e.args[0]))


def by_kinks(points: tuple[Any, ...], value: Any, feature: Any) -> Any:
    r"""E_p[f] over the real line split at the ordered kinks ``points``, evaluated.

    Like :func:`by_halves` for several kinks: on each piece the absolute values
    have a fixed sign (checked), so SymPy integrates exponentials times polynomials.
    """

    def build(pl: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
        x = lim[0]
        whole = unfold(pl * feature)
        ends = [-sp.oo, *points, sp.oo]
        pieces = list(itertools.pairwise(ends))
        split = sp.Add(*(sp.Integral(whole, (x, a, b)) for a, b in pieces))
        signed = sp.Add(*(sp.Integral(_drop_abs(whole, x, a, b), (x, a, b)) for a, b in pieces))
        where = ", ".join(f"${sp.latex(c)}$" for c in points)
        return [
            Step(
                lhs=sp.Integral(pl * feature, lim),
                rhs=split,
                reason=f"split the line at {where}",
                check=Memo(Split()),
            ),
            Step(
                rhs=signed,
                reason="drop the absolute values on each piece",
                check=Memo(Restrict()),
            ),
            Step(rhs=value, reason="evaluate each piece", check=Memo(Evaluate())),
        ]

    return build


def by_sign(symbol: Any, gap: Any, kink: Any, value: Any, feature: Any) -> Any:
    r"""E_p[f] for every real ``gap`` :math:`d`, by the cases :math:`d > 0`, :math:`d < 0`, :math:`d = 0`.

    ``f`` has a kink at ``symbol`` (e.g. :math:`|x - \mu_2|`) and ``p`` one at ``kink``;
    in each case the order of the kinks is known, :func:`by_kinks` evaluates the
    expectation, and :class:`Cases` joins the three results into ``value`` (written
    with :math:`|d|`).
    """
    t = sp.Symbol("t", positive=True)

    def build(pl: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
        steps: list[Step] = []
        facts = []
        for sign in (1, -1, 0):
            (at,) = sp.solve(sp.Eq(gap, sign * t), symbol)
            kinks = tuple(sorted({sp.sympify(kink), at}, key=lambda c: sp.sign(c - kink)))
            case_value = value.subs(symbol, at)
            case_feature = feature.subs(symbol, at)
            chain = by_kinks(kinks, case_value, case_feature)(pl, lim)
            steps += chain
            facts.append(sp.Eq(chain[0].lhs, case_value, evaluate=False))
        steps.append(
            Step(
                lhs=sp.Integral(pl * feature, lim),
                rhs=value,
                reason=f"the three cases on the sign of ${sp.latex(gap)}$ ($t = |{sp.latex(gap)}|$)",
                check=Cases(symbol, gap, t, (facts[0], facts[1], facts[2])),
            )
        )
        return steps

    return build


def _gamma_log_power(u: Any, k: int, power: int) -> tuple[list[Step], Any]:
    r"""The lemma :math:`\int_0^\infty u^k \log^n u\, e^{-u}\, du = \Gamma^{(n)}(k + 1)`.

    By differentiating :math:`\int_0^\infty u^s e^{-u}\, du = \Gamma(s + 1)` ``n`` times
    in :math:`s` under the integral sign, then at :math:`s = k`. Returns the steps and
    the established fact.
    """
    r = sp.Symbol("r", positive=True)
    z_int = sp.Integral(u ** (r - 1) * sp.exp(-u), (u, 0, sp.oo))
    z = sp.gamma(r)
    z_fact = sp.Eq(z_int, z, evaluate=False)
    at_r = sp.Integral(u ** (r - 1) * sp.log(u) ** power * sp.exp(-u), (u, 0, sp.oo))
    value_r = sp.diff(z, r, power)
    fact_r = sp.Eq(at_r, value_r, evaluate=False)
    lhs = sp.Integral(u**k * sp.log(u) ** power * sp.exp(-u), (u, 0, sp.oo))
    value = value_r.subs(r, k + 1)
    steps = [
        Step(lhs=z_int, rhs=z, reason="Euler's Gamma integral", check=Memo(Evaluate())),
        Step(
            lhs=at_r,
            rhs=sp.Derivative(z_int, (r, power)),
            reason=f"differentiate {power} times in $r$ under the integral sign "
            "(dominated on compact subsets of $r > 0$)",
            check=Memo(Leibniz()),
        ),
        Step(
            rhs=sp.Derivative(z, (r, power)),
            reason="the Gamma integral",
            check=Using("Gamma integral", (z_fact,)),
        ),
        Step(rhs=value_r, reason="differentiate", check=Memo(Evaluate())),
        Step(
            lhs=lhs,
            rhs=value,
            reason=f"at $r = {k + 1}$",
            check=Instance(fact_r, ((r, sp.Integer(k + 1)),)),
        ),
    ]
    return steps, sp.Eq(lhs, value, evaluate=False)


def by_substitution_log_power(
    x: Any, phi: Any, u_limits: tuple[Any, Any, Any], value: Any, feature: Any
) -> Any:
    r"""Like :func:`by_substitution`, where terms :math:`u \log^n u\, e^{-u}` occur.

    SymPy returns those integrals as Meijer G functions (slowly); each is taken from
    the lemma :math:`\Gamma^{(n)}(2)` (``_gamma_log_power``) instead, every other
    term is evaluated on its own, and the pieces are recombined by linearity.
    """

    def build(pl: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
        u = u_limits[0]
        chain = by_substitution(x, phi, u_limits, value, feature)(pl, lim)
        lemmas: list[Step] = []
        facts = []
        for integral in sorted(chain[1].rhs.atoms(sp.Integral), key=sp.default_sort_key):
            f = integral.function
            found = [
                (k, n) for k in (0, 1, 2) for n in (1, 2) if f == u**k * sp.log(u) ** n * sp.exp(-u)
            ]
            if found:
                steps, fact = _gamma_log_power(u, *found[0])
                fact = sp.Eq(integral, fact.rhs, evaluate=False) if fact.lhs != integral else fact
                steps[-1] = Step(
                    lhs=integral, rhs=fact.rhs, reason=steps[-1].reason, check=steps[-1].check
                )
            else:
                fact = sp.Eq(integral, integral.doit(), evaluate=False)
                steps = [
                    Step(
                        lhs=integral,
                        rhs=fact.rhs,
                        reason="evaluate",
                        check=Memo(Evaluate()),
                    )
                ]
            lemmas += steps
            facts.append(fact)
        return [
            *lemmas,
            chain[0],
            chain[1],
            Step(
                rhs=value,
                reason="the integrals (lemmas above)",
                check=Using("lemmas", tuple(facts)),
            ),
        ]

    return build
