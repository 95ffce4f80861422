"""Reusable lemma chains for expectations SymPy cannot (or should not) integrate whole."""

from __future__ import annotations

from typing import Any

import sympy as sp

from klproof.derivation import Check, Evaluate, Rule, Step
from klproof.derivation.ops import unfold
from klproof.symbolic.kl._checks import Leibniz, Memo, Restrict, Split, Substitution, Using

__all__ = ["agg", "by_derivative", "by_halves", "by_substitution"]


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
