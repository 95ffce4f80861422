r"""Pairs with KL = +∞ for all parameters: p puts mass where q has none.

Derived from the families' supports, not listed by hand. For two families of the same
kind (both with densities on the line, or both with mass functions on the integers),
with supports :math:`(l_p, h_p)` and :math:`(l_q, h_q)` at symbolic parameters,
:func:`mismatch_set` looks for an interval :math:`A` inside p's support and outside
q's for *every* admissible parameter value, from SymPy's sign assumptions:

* below q: :math:`l_p < l_q \le h_p` is decided, and :math:`A = (l_p, l_q)`;
* above q: :math:`h_q < h_p` is decided, and :math:`A = (\max(h_q, l_p), h_p)` (or
  :math:`(l_p + |h_q|, h_p)` when :math:`l_p \ge 0` and :math:`h_q` is a number).

(On the integers, the ends move by one.) Beta → Pareto is +∞ too (Beta puts mass on
:math:`(0, \min(1, m))`), but is not found here: SymPy does not decide the sign of the
Beta density on that interval.

The derivation ``kl/<p>/<q>`` then has one step, ``KL = +∞``, checked by the core's
:class:`~klproof.derivation.SupportMismatch` rule: :math:`P(A)` is an integral (sum)
of p's density, positive, and :math:`Q(A)` integrates q's density extended by 0 off its
support, which SymPy evaluates to exactly 0. Pairs whose supports are nested for some
parameters (Uniform → Exponential, Beta → Uniform, Binomial → Bernoulli) are not here:
their KL is finite there (``finite_when`` of the finite pair, where one is registered).
A density against a mass function is +∞ too, either way: a mass function's point
(its lowest) has no mass under a density (:math:`\int_a^a q = 0`), and a density gives
positive mass to an interval between two consecutive integers, :math:`(-1, 0)` or
:math:`(0, 1)` inside its support, where a mass function on the integers has none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import sympy as sp

from klproof.derivation import KL, Derivation, Step, SupportMismatch
from klproof.symbolic.families import FAMILIES, Family

__all__ = ["Mismatch", "mismatch_derivation", "mismatch_set", "mismatched"]

_SCALAR_KINDS = frozenset({"real", "positive", "unit", "count"})


@dataclass(frozen=True)
class Mismatch:
    r"""A set with positive mass under p and none under q.

    Attributes
    ----------
    p, q
        The families at symbolic parameters (index 1 and 2).
    low, high
        The ends of the set :math:`A` (an interval; integers in it for discrete families).
    variable
        The integration (summation) variable of p's mass.
    kind
        ``"same"``: both families continuous, or both discrete; ``"point"``: p discrete
        and q continuous, :math:`A = \{\mathrm{low}\}` (a point q gives no mass);
        ``"gap"``: p continuous and q on the integers, :math:`A` an interval between
        two consecutive integers.
    """

    p: Family
    q: Family
    low: Any
    high: Any
    variable: Any
    kind: str = "same"

    def _indicator(self, fam: Family, x: Any = None) -> Any:
        lo, hi = fam.support()
        x = self.variable if x is None else x
        conds = []
        if lo != -sp.oo:
            conds.append(x >= lo if fam.discrete else x > lo)
        if hi != sp.oo:
            conds.append(x <= hi if fam.discrete else x < hi)
        return sp.And(*conds)

    def _aggregate(self, expr: Any) -> Any:
        lim = (self.variable, self.low, self.high)
        return sp.Sum(expr, lim) if self.p.discrete else sp.Integral(expr, lim)

    def _extended(self, fam: Family, x: Any = None) -> Any:
        """The density on the whole line: ``fam``'s density on its support, 0 off it."""
        x = self.variable if x is None else x
        return sp.Piecewise((fam.pdf(x), self._indicator(fam, x)), (0, True))

    def p_mass(self) -> Any:
        """:math:`P(A)`: p's density, extended by 0 off its support, over :math:`A`."""
        return self._aggregate(self._extended(self.p))

    def q_mass(self) -> Any:
        r""":math:`Q(A)`: q's density, extended by 0 off its support, over :math:`A`.

        Written in the distance :math:`u > 0` from the finite end of :math:`A`
        (:math:`x = \mathrm{low} + u`, or :math:`\mathrm{high} - u` when ``low`` is
        :math:`-\infty`): where the support's condition is then false for every
        :math:`u > 0`, SymPy drops q's density at once instead of integrating it.
        """
        if self.kind == "point":  # a point has no mass under a density
            y = sp.Symbol("x", real=True)
            return sp.Integral(self._extended(self.q, y), (y, self.low, self.low))
        if self.kind == "gap":
            return self._gap_mass()
        x = self.variable
        if self.p.discrete:
            u = sp.Symbol("u", integer=True, nonnegative=True)
        else:
            u = sp.Symbol("u", positive=True)
        density = self._extended(self.q)
        if self.low.has(sp.Max):  # a case distinction SymPy resolves in the limits
            return self._aggregate(density)
        if self.low == -sp.oo:
            at, lim = self.high - u, (u, 0, sp.oo)
        else:
            at, lim = self.low + u, (u, 0, self.high - self.low)
        shifted = density.subs(x, at)
        return sp.Sum(shifted, lim) if self.p.discrete else sp.Integral(shifted, lim)

    def _gap_mass(self) -> Any:
        """Q(A) for a mass function q and :math:`A = (c, c + 1)`, c an integer.

        The sum over q's support, term by term up to :math:`c + 1` and as a sum over
        :math:`k = c + 2 + u` beyond: each term carries the indicator of :math:`A`,
        false at every integer (SymPy decides it at each written point).
        """
        k = sp.Symbol("k", integer=True)
        u = sp.Symbol("u", integer=True, nonnegative=True)
        lo_q, hi_q = self.q.support()
        c = self.low

        def term(at: Any) -> Any:
            inside = sp.And(at > self.low, at < self.high)
            return sp.Piecewise((self._extended(self.q, k), inside), (0, True)).subs(k, at)

        head = [term(sp.Integer(j)) for j in range(int(lo_q), int(c) + 2)]
        tail = sp.Sum(term(c + 2 + u), (u, 0, hi_q - (c + 2)))
        return sp.Add(*head, tail, evaluate=False)


@cache
def _families() -> dict[str, type[Family]]:
    """Univariate families with scalar parameters (their supports are intervals)."""
    out = {}
    for n, c in FAMILIES.items():
        if not c.params or any(p.kind not in _SCALAR_KINDS for p in c.params):
            continue
        try:
            symbolic = c.symbolic(1)
        except TypeError:  # a family whose symbolic form needs more (a dimension)
            continue
        if all(isinstance(v, sp.Symbol) for v in symbolic.values.values()):
            out[n] = c
    return out


def _lt(a: Any, b: Any) -> bool:
    """Whether ``a < b`` for every admissible value (decided by SymPy's assumptions)."""
    if a == -sp.oo:
        return bool(b != -sp.oo)
    if b == sp.oo:
        return bool(a != sp.oo)
    return bool((b - a).is_positive)


def _le(a: Any, b: Any) -> bool:
    return bool(a == b or _lt(a, b))


def mismatch_set(p_name: str, q_name: str) -> Mismatch | None:
    """The set that makes KL(p ‖ q) = +∞ for all parameters, or ``None`` if there is none.

    ``None`` also for same-family pairs, pairs of a continuous and a discrete family,
    and pairs whose supports are nested for some parameter values.
    """
    fams = _families()
    if p_name == q_name or p_name not in fams or q_name not in fams:
        return None
    p, q = fams[p_name].symbolic(1), fams[q_name].symbolic(2)
    if p.discrete and not q.discrete:  # a mass function against a density
        lo = p.support()[0]
        return Mismatch(p, q, lo, lo, sp.Symbol("k", integer=True), "point")
    if q.discrete and not p.discrete:  # a density against a mass function on the integers
        lp, hp = p.support()
        lq = q.support()[0]
        if not (lq.is_integer and lq.is_nonnegative):
            return None
        for c in (-1, 0):  # (-1, 0) or (0, 1), inside p's support
            if _le(lp, sp.Integer(c)) and _le(sp.Integer(c + 1), hp):
                x = sp.Symbol("x", real=True)
                return Mismatch(p, q, sp.Integer(c), sp.Integer(c + 1), x, "gap")
        return None
    x = sp.Symbol("k", integer=True) if p.discrete else sp.Symbol("x", real=True)
    lp, hp = p.support()
    lq, hq = q.support()
    step = 1 if p.discrete else 0  # integers: the ends themselves are in the supports
    if _lt(lp, lq) and _le(lq, hp):  # below q
        return Mismatch(p, q, lp, lq - step, x)
    if _lt(hq, hp):  # above q
        if _le(lp, hq):
            low = hq + step
        elif lp.is_nonnegative and hq.is_number:
            low = lp + abs(hq) + step  # above both ends, with no case distinction
        else:
            low = sp.Max(hq + step, lp)
        return Mismatch(p, q, low, hp, x)
    return None


def mismatch_derivation(name: str, m: Mismatch) -> Derivation:
    """``KL(p ‖ q) = +∞`` in one step checked by :class:`~klproof.derivation.SupportMismatch`."""
    v = m.p.variable
    kl = KL(m.p.label("p", v), m.q.label("q", v), m.p.limits(v))
    where = (
        f"the point ${sp.latex(m.low)}$"
        if m.kind == "point"
        else f"$\\{{{sp.latex(m.variable)} \\in \\mathbb{{Z}}: "
        f"{sp.latex(m.low)} \\le {sp.latex(m.variable)} \\le {sp.latex(m.high)}\\}}$"
        if m.p.discrete
        else f"$({sp.latex(m.low)}, {sp.latex(m.high)})$"
    )
    return Derivation(
        name=name,
        title=f"KL({m.p.title} ‖ {m.q.title}) = +∞ (support mismatch)",
        conditions=(*m.p.conditions(), *m.q.conditions()),
        steps=(
            Step(
                lhs=kl,
                rhs=sp.oo,
                reason=f"p gives positive mass to {where}, where q has none",
                check=SupportMismatch(p_mass=m.p_mass(), q_mass=m.q_mass()),
            ),
        ),
        symbols=tuple(
            s
            for f in (m.p, m.q)
            for v in f.values.values()
            for s in sorted(v.free_symbols, key=str)
        ),
        summary=(
            f"p = {m.p!r} is not absolutely continuous with respect to q = {m.q!r}: "
            "the supports, at every admissible parameter value, leave a set of positive "
            "p-mass outside q's support."
        ),
        references=("T. M. Cover and J. A. Thomas, Elements of Information Theory, 2006, §2.3",),
    )


@cache
def mismatched() -> dict[tuple[str, str], Mismatch]:
    """Every family pair (p, q) whose KL is +∞ for all parameters, with its set."""
    fams = sorted(_families())
    out = {}
    for p in fams:
        for q in fams:
            m = mismatch_set(p, q)
            if m is not None:
                out[(p, q)] = m
    return out


def mismatch_factory(name: str, key: tuple[str, str]) -> Callable[[], Derivation]:
    """A registry factory for the pair ``key``."""

    def build() -> Derivation:
        return mismatch_derivation(name, mismatched()[key])

    return build
