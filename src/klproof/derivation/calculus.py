r"""Calculus rules as checks: each a named rule whose preconditions are checked.

Written for the KL catalogue, usable in any derivation:

* :class:`Leibniz` — differentiation under the integral (or sum) sign;
* :class:`Substitution` — change of variables in a one-dimensional integral;
* :class:`AffineSubstitution` — the change of variables :math:`x = m + L t` in an
  integral over :math:`\mathbb{R}^d` (a concrete ``d``), with the Jacobian and, for an
  expectation, the transformed density checked;
* :class:`Instance` — an equation established earlier, instantiated at admissible values;
* :class:`Using` — rewrite with established lemmas (written with labelled densities),
  then compare by linearity;
* :class:`Integrate` — SymPy's Meijer-G integration (Euler's Beta integral, say);
* :class:`Split` and :class:`Restrict` — additivity over the domain, and the simpler
  form of an integrand on each piece (``|x - c|`` on either side of ``c``);
* :class:`Cases` — a claim proven on each side of a case split;
* :class:`Memo` — a verdict computed once per process for a repeated lemma.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from klproof.derivation.checks import (
    Check,
    Claim,
    Context,
    Outcome,
    _reparametrise,
    is_zero,
    linear_normal_form,
)
from klproof.derivation.ops import Labelled, rewrite_operators, unfold

__all__ = [
    "AffineSubstitution",
    "Cases",
    "Instance",
    "Integrate",
    "Leibniz",
    "Memo",
    "RationalIntegral",
    "Restrict",
    "Split",
    "Substitution",
    "Using",
    "ZeroDerivative",
]


def _equality(claim: Claim, label: str) -> Outcome | None:
    if claim.relation != "=":
        return Outcome("failed", f"{label} establishes equalities only")
    return None


def _move_inside(expr: Any) -> tuple[Any, str]:
    """Move derivatives of integrals or sums inside; report a dependent limit."""
    problem = ""

    def inside(node: Any) -> Any:
        nonlocal problem
        inner = node.expr
        if not isinstance(inner, sp.Integral | sp.Sum):
            return node
        wrt = {v for v, _ in node.variable_count}
        for lim in inner.limits:
            if any(b.has(v) for b in lim[1:] for v in wrt):
                problem = f"a limit of {sp.sstr(inner)} depends on the differentiation variable"
                return node
        body = inner.function
        for v, count in node.variable_count:
            body = sp.diff(body, v, count)
        return inner.func(body, *inner.limits)

    out = expr.replace(lambda e: isinstance(e, sp.Derivative), inside)
    return out, problem


@dataclass(frozen=True)
class Leibniz(Check):
    r"""Differentiation under the integral (or sum) sign.

    Every ``Derivative(Integral(f, (x, a, b)), t)`` on either side is replaced by
    ``Integral(diff(f, t), (x, a, b))``; the two sides must then agree by linearity.
    Checked precondition: no limit depends on ``t``. The domination condition is the
    reader's, stated in the step's reason (for an exponential family it holds in the
    interior of the natural parameter space; Brown 1986, Thm. 2.2).
    """

    label = "differentiation under the integral sign"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _equality(claim, self.label)
        if bad:
            return bad
        sides = []
        for side in (claim.lhs, claim.rhs):
            moved, problem = _move_inside(rewrite_operators(unfold(side)))
            if problem:
                return Outcome("failed", problem)
            sides.append(linear_normal_form(moved))
        return self._decide_equal(sides[0], sides[1], ctx, self.label)

    def describe(self) -> str:
        return "rule: differentiation under the integral sign"


@dataclass(frozen=True)
class Substitution(Check):
    r"""Change of variables :math:`x = \varphi(u)` in a one-dimensional integral.

    The claim is ``Integral(f, (x, a, b)) = Integral(g, (u, c, d))`` (a constant factor
    in front of either integral is allowed). Checked: :math:`\varphi'` has one sign on
    the domain of ``u`` (decided from the symbols' assumptions); :math:`\varphi` tends
    to the ends of ``(a, b)`` at the ends of ``(c, d)`` (in order for an increasing,
    reversed for a decreasing map); and ``g`` equals :math:`f(\varphi(u))\,|\varphi'(u)|`.
    """

    x: Any
    phi: Any
    label = "change of variables"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _equality(claim, self.label)
        if bad:
            return bad
        left = unfold(claim.lhs)
        right = unfold(claim.rhs)
        lint = [i for i in left.atoms(sp.Integral) if i.limits[0][0] == self.x]
        rint = list(right.atoms(sp.Integral))
        if len(lint) != 1 or len(rint) != 1:
            return Outcome("failed", "expected one integral over x on the left, one on the right")
        (li,), (ri,) = lint, rint
        u, c, d = ri.limits[0]
        _, a, b = li.limits[0]
        dphi = sp.diff(self.phi, u)
        if sp.simplify(dphi).is_positive:
            ends, sign = (a, b), 1
        elif sp.simplify(dphi).is_negative:
            ends, sign = (b, a), -1
        else:
            return Outcome("unchecked", f"the sign of d{self.x}/d{u} = {dphi} is not decided")
        got = (sp.limit(self.phi, u, c, "+"), sp.limit(self.phi, u, d, "-"))
        for want, have in zip(ends, got, strict=True):
            if sp.simplify(want - have) != 0 and want != have:
                return Outcome("failed", f"the map sends the limits to {got}, not {ends}")
        transformed = li.function.subs(self.x, self.phi) * sign * dphi
        left_coeff = sp.simplify(left / li)
        right_coeff = sp.simplify(right / ri)
        if left_coeff.has(self.x, u) or right_coeff.has(self.x, u):
            return Outcome("failed", "expected a constant multiple of one integral on each side")
        # pointwise on the domain of u (its assumptions): the integrands agree
        return self._decide_equal(
            left_coeff * transformed, right_coeff * ri.function, ctx, self.label
        )

    def describe(self) -> str:
        return f"change of variables {sp.sstr(self.x)} = {sp.sstr(self.phi)}"


def _over_space(side: Any, variables: tuple[Any, ...]) -> tuple[Any, Any] | None:
    """``(k, F)`` with ``side = k * ∫…∫ F`` over all of R^d in ``variables`` (in order).

    ``None`` unless ``side`` is one integral (SymPy may nest or merge the limits) times
    a factor free of the variables.
    """
    factors = sp.Mul.make_args(sp.sympify(side))
    integrals = [f for f in factors if isinstance(f, sp.Integral)]
    if len(integrals) != 1:
        return None
    coeff = sp.Mul(*(f for f in factors if f is not integrals[0]))
    body: Any = integrals[0]
    limits: list[Any] = []
    while isinstance(body, sp.Integral):
        limits = [*body.limits, *limits]  # the innermost first
        body = body.function
    if tuple(tuple(lim) for lim in limits) != tuple((v, -sp.oo, sp.oo) for v in variables):
        return None
    if unfold(coeff).has(*variables):
        return None
    return coeff, body


@dataclass(frozen=True)
class AffineSubstitution(Check):
    r"""Change of variables :math:`x = m + L t` in an integral over :math:`\mathbb{R}^d`.

    For a concrete dimension :math:`d`: ``xs`` and ``ts`` are the scalar variables
    :math:`x_1, \dots, x_d` and :math:`t_1, \dots, t_d`, ``loc`` the vector :math:`m`
    and ``jacobian`` the :math:`d \times d` matrix :math:`L` (both free of the
    variables). The claim is

    .. math::

        k \int_{\mathbb{R}^d} F(x)\,dx = k' \int_{\mathbb{R}^d} G(t)\,dt

    with constant factors :math:`k, k'`, the limits all of :math:`\mathbb{R}^d` in the
    given order on both sides. The rule used is the change-of-variables theorem for the
    affine bijection :math:`t \mapsto m + L t` (:math:`\det L \ne 0`):
    :math:`\int F(x)\,dx = \int F(m + L t)\,|\det L|\,dt`; absolute integrability
    (so that the iterated integrals are the Lebesgue integral, by Fubini) is the
    reader's, stated in the step's reason, as for :class:`Leibniz`.

    Checked: the map is affine in the given matrix (computed here as
    :math:`m + L t`, so the matrix and the map cannot disagree); the sign of
    :math:`\det L` is decided from the symbols' assumptions (``unchecked`` if it is
    not; ``failed`` if :math:`\det L = 0`); and the integrands agree pointwise:
    :math:`k\,F(m + L t)\,|\det L| = k'\,G(t)`.

    For an expectation, ``density_fact`` is the density lemma
    :math:`\log p(m + L t) + \log|\det L| = \log W(t)` — the pushed-forward density
    times the Jacobian is the new density :math:`W` (e.g. the standard normal one),
    itself a step checked earlier by algebra on the log-densities. Then :math:`F` must
    be :math:`p \cdot f` with exactly one labelled density :math:`p` and :math:`G` must
    be :math:`W \cdot g` with :math:`W` the product of the labelled factors of
    :math:`G`; checked: the lemma is established, its left side is
    :math:`\log p(m + L t) + \log|\det L|` for this :math:`p`, this map and this
    :math:`L`, its right side is :math:`\log W`, and :math:`k\,f(m + L t) = k'\,g(t)`.
    (Exponentiating the lemma, :math:`p(m + L t)\,|\det L| = W(t)`, so the integrands
    agree.) A wrong Jacobian, a density lemma about another density or another map,
    or a wrong new density is refuted (``failed``).
    """

    xs: tuple[Any, ...]
    ts: tuple[Any, ...]
    loc: Any
    jacobian: Any
    density_fact: Any = None
    label = "change of variables"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _equality(claim, self.label)
        if bad:
            return bad
        xs, ts = tuple(self.xs), tuple(self.ts)
        dim = len(xs)
        jac = sp.ImmutableMatrix(self.jacobian)
        loc = sp.ImmutableMatrix(self.loc)
        if len(ts) != dim or jac.shape != (dim, dim) or loc.shape != (dim, 1):
            return Outcome("failed", "the map is not from R^d to R^d")
        if set(xs) & set(ts) or jac.has(*xs, *ts) or loc.has(*xs, *ts):
            return Outcome("failed", "the map is not affine in the variables")
        left = _over_space(claim.lhs, xs)
        right = _over_space(claim.rhs, ts)
        if left is None or right is None:
            return Outcome(
                "failed",
                "expected a constant times an integral over all of R^d in "
                f"{sp.sstr(xs)} on the left and in {sp.sstr(ts)} on the right",
            )
        (k_left, f_left), (k_right, g_right) = left, right
        if unfold(f_left).has(*ts) or unfold(g_right).has(*xs):
            return Outcome("failed", "the old and new variables are mixed")
        det = sp.factor(jac.det())
        if det.is_positive:
            abs_det = det
        elif det.is_negative:
            abs_det = -det
        elif det.is_zero:
            return Outcome("failed", "det L = 0: the map is not a bijection of R^d")
        else:
            return Outcome("unchecked", f"the sign of det L = {sp.sstr(det)} is not decided")
        at = dict(zip(xs, loc + jac * sp.ImmutableMatrix(ts), strict=True))
        if self.density_fact is None:
            moved = unfold(f_left).xreplace(at) * abs_det
            return self._decide_equal(k_left * moved, k_right * unfold(g_right), ctx, self.label)
        return self._with_density(claim, ctx, (k_left, f_left), (k_right, g_right), at, abs_det)

    def _with_density(
        self,
        claim: Claim,
        ctx: Context,
        left: tuple[Any, Any],
        right: tuple[Any, Any],
        at: dict[Any, Any],
        abs_det: Any,
    ) -> Outcome:
        fact = self.density_fact
        if not ctx.is_known(fact):
            return Outcome("failed", "the density lemma is not established", fact)
        (k_left, f_left), (k_right, g_right) = left, right
        densities = [f for f in sp.Mul.make_args(f_left) if isinstance(f, Labelled)]
        if len(densities) != 1:
            return Outcome("failed", "expected one labelled density in the integrand on the left")
        (p,) = densities
        rest = sp.Mul(*(f for f in sp.Mul.make_args(f_left) if f is not p))
        expected = sp.log(unfold(p).xreplace(at)) + sp.log(abs_det)
        ok, residual = is_zero(sp.expand(unfold(fact.lhs) - expected), ctx.conditions, quick=True)
        if not ok:
            return Outcome(
                "failed", "the density lemma is not log p(m + L t) + log|det L|", residual
            )
        weights = [f for f in sp.Mul.make_args(g_right) if isinstance(f, Labelled)]
        if not weights:
            return Outcome("failed", "expected labelled densities in the integrand on the right")
        weight = sp.Mul(*weights)
        g = sp.Mul(*(f for f in sp.Mul.make_args(g_right) if not isinstance(f, Labelled)))
        ok, residual = is_zero(
            sp.expand(sp.expand_log(sp.log(unfold(weight)) - unfold(fact.rhs))), ctx.conditions
        )
        if not ok:
            return Outcome(
                "failed", "the new density is not the one of the density lemma", residual
            )
        return self._decide_equal(
            k_left * unfold(rest).xreplace(at), k_right * unfold(g), ctx, self.label
        )

    def describe(self) -> str:
        return (
            f"change of variables {sp.sstr(self.xs)} = m + L {sp.sstr(self.ts)} on R^{len(self.xs)}"
        )


@dataclass(frozen=True)
class Instance(Check):
    """An established equation at admissible values of its symbols.

    ``fact`` must be a hypothesis or established by an earlier step; ``subs`` maps
    its symbols to expressions that satisfy the symbols' assumptions (positivity,
    negativity, reality — decided by SymPy). The claim must equal the substituted fact.
    """

    fact: Any
    subs: tuple[tuple[Any, Any], ...]
    label = "instance of an established equation"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _equality(claim, self.label)
        if bad:
            return bad
        if not ctx.is_known(self.fact):
            return Outcome("failed", "the instantiated equation is not established", self.fact)
        for symbol, value in self.subs:
            for prop in ("positive", "negative", "nonnegative", "real", "integer"):
                if getattr(symbol, f"is_{prop}") and not _shown(value, prop, ctx):
                    return Outcome(
                        "failed", f"{sp.sstr(value)} is not shown {prop} (as {symbol} is)"
                    )
        mapping = dict(self.subs)
        for cond in ctx.conditions:
            if not cond.free_symbols & set(mapping) or not isinstance(cond, sp.Rel):
                continue
            moved = cond.subs(mapping)
            gap = sp.simplify(moved.lhs - moved.rhs)
            strict = isinstance(cond, sp.StrictLessThan)
            holds = moved is sp.true or (gap.is_negative if strict else gap.is_nonpositive)
            if not holds and moved.lhs.is_positive and moved.rhs.is_positive:
                # compare logarithms (log is increasing on the positive reals)
                gap = sp.expand_log(sp.log(moved.lhs)) - sp.expand_log(sp.log(moved.rhs))
                holds = gap.is_negative if strict else gap.is_nonpositive
            if not holds:
                return Outcome(
                    "failed", f"the condition {sp.sstr(cond)} is not shown at the values"
                )
        lhs = unfold(self.fact.lhs).subs(mapping)
        rhs = unfold(self.fact.rhs).subs(mapping)
        for mine, theirs in ((claim.lhs, lhs), (claim.rhs, rhs)):
            ok, residual = _same(unfold(mine), theirs, ctx)
            if not ok:
                return Outcome("failed", "the claim is not the instantiated equation", residual)
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return "instance of an earlier result"


def _shown(value: Any, prop: str, ctx: Context) -> bool:
    """Whether SymPy shows ``value`` has ``prop``, under the conditions if needed."""
    if getattr(value, f"is_{prop}") is True:
        return True
    if not ctx.conditions:
        return False
    reparametrised = sp.simplify(_reparametrise(value, ctx.conditions))
    return getattr(reparametrised, f"is_{prop}") is True


def _substitute(expr: Any, facts: list[Any]) -> Any:
    for fact in facts:
        expr = expr.xreplace({fact.lhs: fact.rhs})
        expr = expr.subs(fact.lhs, fact.rhs)
    return expr


def _same(a: Any, b: Any, ctx: Context) -> tuple[bool, Any]:
    if a == b:
        return True, sp.Integer(0)
    diff = linear_normal_form(a) - linear_normal_form(b)
    return is_zero(diff, ctx.conditions)


@dataclass(frozen=True)
class Using(Check):
    """Rewrite with established lemmas, then compare by linearity.

    Like :class:`~klproof.derivation.Rule`, but the lemmas may be written with
    labelled densities: each must be established (or a hypothesis) exactly as
    written, and is unfolded before it is used.
    """

    name: str
    using: tuple[Any, ...] = ()
    label = "rule"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        for fact in self.using:
            if not ctx.is_known(fact):
                return Outcome(
                    "failed",
                    f"{self.name}: precondition {sp.sstr(fact)} is not established",
                    fact,
                )
        facts = [sp.Eq(unfold(f.lhs), unfold(f.rhs), evaluate=False) for f in self.using]
        written = list(self.using)
        sides = []
        for side in (claim.lhs, claim.rhs):
            expr = _substitute(unfold(_substitute(side, written)), facts)
            expr = linear_normal_form(rewrite_operators(expr))
            expr = linear_normal_form(_substitute(expr, facts))
            sides.append(expr)
        return self._decide_equal(sides[0], sides[1], ctx, self.name)

    def describe(self) -> str:
        return f"rule: {self.name}"


@dataclass(frozen=True)
class Integrate(Check):
    """SymPy evaluates both sides with Meijer-G integration and hypergeometric expansion.

    Like :class:`~klproof.derivation.Evaluate` (anything left unevaluated, or a
    result that is still a case distinction, is ``unchecked``), for integrals such as
    Euler's Beta integral that plain ``doit()`` leaves as a hypergeometric function.
    """

    label = "evaluated by SymPy (Meijer G, hyperexpand)"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _equality(claim, self.label)
        if bad:
            return bad
        sides = []
        for side in (claim.lhs, claim.rhs):
            value = sp.hyperexpand(rewrite_operators(unfold(side)).doit(meijerg=True))
            if ctx.conditions and value.has(sp.Piecewise):
                value = sp.refine(value, sp.And(*ctx.conditions))
            sides.append(sp.piecewise_fold(value))
        if any(s.has(sp.Integral, sp.Sum, sp.Piecewise, sp.hyper, sp.meijerg) for s in sides):
            return Outcome("unchecked", "SymPy left part of it unevaluated", sides[0] - sides[1])
        return self._decide_equal(sides[0], sides[1], ctx, self.label)

    def describe(self) -> str:
        return "integral evaluated by SymPy (Meijer G)"


@dataclass(frozen=True)
class Split(Check):
    """Additivity over the domain: split an integral over ``(a, b)`` at points inside.

    The claim is ``Integral(f, (x, a, b)) = Integral(f, (x, a, c)) + Integral(f, (x, c, b))``.
    Checked: the integrands are identical and the
    limits chain (``a``–``c``–``b``); ``c`` lies in the interval by the derivation's
    assumptions (a real point of the real line, or a point SymPy orders).
    """

    label = "additivity over the domain"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _equality(claim, self.label)
        if bad:
            return bad
        whole = unfold(claim.lhs)
        parts = unfold(claim.rhs)
        (w,) = whole.atoms(sp.Integral) or (None,)
        if w is None:
            return Outcome("failed", "expected an integral on the left")
        if whole != w:
            return Outcome("failed", "expected a single integral on the left")
        pieces = sp.Add.make_args(parts)
        ints = [pc for pc in pieces if isinstance(pc, sp.Integral)]
        if len(ints) != len(pieces) or len(ints) < 2:
            return Outcome("failed", "expected a sum of integrals on the right")
        x, a, b = w.limits[0]
        ends = [a]
        remaining = list(ints)
        while remaining:  # follow the chain a -> c_1 -> ... -> b
            nxt = [i for i in remaining if i.limits[0][1] == ends[-1]]
            if len(nxt) != 1:
                return Outcome("failed", "the pieces do not chain")
            piece = nxt[0]
            remaining.remove(piece)
            if piece.function != w.function or piece.limits[0][0] != x:
                return Outcome("failed", "the pieces do not integrate the same function")
            ends.append(piece.limits[0][2])
        if ends[-1] != b:
            return Outcome("failed", "the pieces do not end at the upper limit")
        for c in ends[1:-1]:
            if not (c.is_real and (a == -sp.oo or (c - a).is_nonnegative or c == a)):
                return Outcome("failed", f"the split point {c} is not shown in the interval")
            if not (b == sp.oo or (b - c).is_nonnegative):
                return Outcome("failed", f"the split point {c} is not shown in the interval")
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return "additivity of the integral over the domain"


@dataclass(frozen=True)
class Restrict(Check):
    r"""On a half-line the integrand takes a simpler form (e.g. :math:`|x - c| = x - c`).

    The claim is a sum of integrals over half-lines ``(c, oo)`` or ``(-oo, c)`` on both
    sides, term by term with the same limits. Checked: on each, after substituting
    :math:`x = c + t` (resp. :math:`c - t`) with :math:`t > 0`, the two integrands agree
    (the difference simplifies to 0).
    """

    label = "the integrand on each half-line"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _equality(claim, self.label)
        if bad:
            return bad
        lmap = _by_interval(sp.expand(unfold(claim.lhs)))
        rmap = _by_interval(sp.expand(unfold(claim.rhs)))
        if lmap is None or rmap is None or set(lmap) != set(rmap):
            return Outcome("failed", "the integrals do not correspond term by term")
        t = sp.Dummy("t", positive=True)
        for (x, a, b), fl in lmap.items():
            fr = rmap[(x, a, b)]
            if b == sp.oo:
                point = a + t
            elif a == -sp.oo:
                point = b - t
            else:
                point = a + (b - a) * t / (1 + t)
            ok, residual = is_zero(sp.simplify((fl - fr).subs(x, point)), ctx.conditions)
            if not ok:
                return Outcome("failed", "the integrands differ on the interval", residual)
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return "the integrand on each interval"


def _key(term: Any) -> Any:
    ints = list(term.atoms(sp.Integral))
    if len(ints) != 1:
        return None
    return tuple(ints[0].limits[0])


def _by_interval(expr: Any) -> dict[Any, Any] | None:
    """``{(x, a, b): integrand}`` of a sum of constant multiples of integrals.

    Terms over the same interval are added (``expand`` may split one integral into
    several); ``None`` if a term is not a multiple of one integral.
    """
    out: dict[Any, Any] = {}
    for term in sp.Add.make_args(expr):
        key = _key(term)
        if key is None:
            return None
        (integral,) = term.atoms(sp.Integral)
        out[key] = out.get(key, sp.Integer(0)) + (term / integral) * integral.function
    return out


_MEMO: dict[Any, Outcome] = {}


def _free(expr: Any) -> set[Any]:
    return set(unfold(sp.sympify(expr)).free_symbols)


@dataclass(frozen=True)
class Memo(Check):
    """Run ``inner`` once per process for one claim under one set of conditions.

    For checks whose verdict depends only on the claim and the conditions (not on
    earlier steps): SymPy evaluation, algebra, changes of variables. The same lemma
    met again in another derivation (a moment shared by two routes) reuses the verdict
    instead of recomputing it; nothing is stored across processes.
    """

    inner: Check

    @property
    def label(self) -> str:  # type: ignore[override]  # Check.label is a class attribute; Memo reports its inner check's
        """The inner check's label."""
        return self.inner.label

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        symbols = _free(claim.lhs) | _free(claim.rhs)
        relevant = tuple(c for c in ctx.conditions if _free(c) & symbols)
        key = (self.inner, claim.lhs, claim.rhs, claim.relation, relevant)
        if key not in _MEMO:
            inner_ctx = Context(relevant, ctx.hypotheses, list(ctx.established))
            _MEMO[key] = self.inner.run(claim, inner_ctx)
        return _MEMO[key]

    def describe(self) -> str:
        return self.inner.describe()


@dataclass(frozen=True)
class Cases(Check):
    r"""A claim for every real gap :math:`d`, by the cases :math:`d > 0`, :math:`< 0`, :math:`= 0`.

    ``symbol`` is eliminated: each case solves :math:`d = t`, :math:`d = -t` and
    :math:`d = 0` for it (``t`` a positive symbol, absent from the claim). ``facts``
    are the three case results, in that order. Checked: ``d`` is real and linear in
    ``symbol`` (so every real value of ``symbol`` falls in exactly one case, with
    :math:`t = |d|`); no condition of the derivation mentions ``symbol`` or ``t``; each
    fact is established; and the claim with ``symbol`` replaced by each case's solution
    is that case's fact.
    """

    symbol: Any
    gap: Any
    t: Any
    facts: tuple[Any, Any, Any]
    label = "by cases on the sign"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _equality(claim, self.label)
        if bad:
            return bad
        if self.t.is_positive is not True or not self.symbol.is_real or not self.gap.is_real:
            return Outcome("failed", "the case variable must be positive and the gap real")
        if self.symbol.is_positive or self.symbol.is_negative or self.symbol.is_nonnegative:
            return Outcome("failed", f"{self.symbol} must range over all reals")
        claim_free = _free(claim.lhs) | _free(claim.rhs)
        if self.t in claim_free:
            return Outcome("failed", f"the case variable {self.t} occurs in the claim")
        if any(c.has(self.symbol, self.t) for c in ctx.conditions):
            return Outcome("failed", "a condition of the derivation mentions the case variables")
        slope = sp.diff(self.gap, self.symbol)
        if slope.has(self.symbol) or not (slope.is_positive or slope.is_negative):
            return Outcome("failed", f"the gap is not linear with a known sign in {self.symbol}")
        for sign, fact in zip((1, -1, 0), self.facts, strict=True):
            if not ctx.is_known(fact):
                return Outcome("failed", "a case is not established", fact)
            solution = sp.solve(sp.Eq(self.gap, sign * self.t), self.symbol, dict=False)
            if len(solution) != 1:
                return Outcome("failed", f"the case d = {sign}·t does not determine {self.symbol}")
            value = solution[0]
            lhs = unfold(claim.lhs).subs(self.symbol, value)
            rhs = unfold(claim.rhs).subs(self.symbol, value)
            for mine, theirs in ((lhs, unfold(fact.lhs)), (rhs, unfold(fact.rhs))):
                ok, residual = _same(mine, theirs, ctx)
                if not ok:
                    return Outcome(
                        "failed", f"the claim at {self.symbol} = {value} is not the case", residual
                    )
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return f"by cases: {sp.sstr(self.gap)} > 0, < 0, = 0"


def _positive(expr: Any) -> bool:
    """Whether SymPy shows ``expr > 0`` for every value the symbols' assumptions allow.

    Directly; factor by factor (a power of a positive base is positive); or as a
    quadratic :math:`a z^2 + b z + c` in a real symbol with :math:`a > 0` and
    :math:`4ac - b^2 > 0` (each shown the same way, with one symbol fewer).
    """
    expr = sp.sympify(expr)
    if expr.is_positive:
        return True
    if isinstance(expr, sp.Pow) and expr.exp.is_integer:
        return _positive(expr.base)
    factors = sp.Mul.make_args(sp.factor(expr))
    if len(factors) > 1:
        return all(_positive(f) for f in factors)
    for z in sorted(expr.free_symbols, key=sp.default_sort_key):
        if not z.is_real:
            continue
        try:
            poly = sp.Poly(expr, z)
        except sp.PolynomialError:
            continue
        if poly.degree() == 2:
            a, b, c = poly.all_coeffs()
            if _positive(a) and _positive(sp.factor(4 * a * c - b**2)):
                return True
    return False


def _open_parameter(z: Any) -> bool:
    """A real symbol ranging over an open interval (the real line or a half-line)."""
    return bool(
        z.is_real
        and not z.is_integer
        and not z.is_rational
        and (
            z.is_positive
            or z.is_negative
            or (z.is_nonnegative is None and z.is_nonpositive is None)
        )
    )


@dataclass(frozen=True)
class RationalIntegral(Check):
    r"""The integral over the real line of a rational function, by partial fractions.

    The claim is ``Integral(f, (t, -oo, oo)) = V`` with ``f`` rational in ``t`` and in the
    parameters, and ``V`` rational in the parameters. Checked: every parameter ranges over
    an open interval (its assumptions: real, positive or negative); the denominator of
    ``f`` is positive for every real ``t`` and every parameter value (no pole on the line,
    and ``f`` continuous in ``t`` and the parameters), its leading coefficient in ``t``
    is positive and its degree exceeds the numerator's by at least 2 (``f = O(t^{-2})``
    locally uniformly in the parameters: the integral converges absolutely, so it is the
    symmetric limit, and it is continuous in the parameters by dominated convergence);
    the partial fractions in ``t`` (SymPy's ``apart``, for generic parameters) add up to
    ``f``; each is :math:`(At + B)/(t^2 + \beta t + c)` with :math:`4c - \beta^2 > 0`,
    and :math:`G = \tfrac{A}{2}\log(t^2 + \beta t + c) + C \arctan\frac{2t +
    \beta}{\sqrt{4c - \beta^2}}` with :math:`C = (2B - A\beta)/\sqrt{4c - \beta^2}`
    differentiates back to it, so its symmetric limit :math:`G(R) - G(-R)` tends to
    :math:`C\pi` (the logarithms' ratio tends to 1, the arctangent runs from
    :math:`-\pi/2` to :math:`\pi/2`); the sum of these equals ``V``; ``V``'s denominator
    is positive. The partial fractions hold off the zero set of their coefficients'
    denominators, a set with empty interior; both sides are continuous in the
    parameters, so the equality holds for every parameter value.
    """

    label = "integral of a rational function over the line (partial fractions)"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _equality(claim, self.label)
        if bad:
            return bad
        lhs, value = unfold(claim.lhs), sp.together(unfold(claim.rhs))
        if not isinstance(lhs, sp.Integral) or len(lhs.limits) != 1:
            return Outcome("failed", "expected one integral on the left")
        t, lo, hi = lhs.limits[0]
        if (lo, hi) != (-sp.oo, sp.oo) or not t.is_real or value.has(sp.Integral):
            return Outcome("failed", "expected an integral over the real line = a closed form")
        f = sp.together(lhs.function)
        params = sorted((f.free_symbols | value.free_symbols) - {t}, key=sp.default_sort_key)
        if not all(_open_parameter(z) for z in params):
            return Outcome("failed", "a parameter does not range over an open interval")
        if not (f.is_rational_function(t, *params) and value.is_rational_function(*params)):
            return Outcome("failed", "the integrand or the value is not a rational function")
        num, den = sp.fraction(f)
        pnum, pden = sp.Poly(num, t), sp.Poly(den, t)
        if pden.degree() < pnum.degree() + 2:
            return Outcome("failed", "the integrand is not O(t^-2): the integral diverges")
        if not (_positive(den) and _positive(pden.LC())):
            return Outcome("unchecked", f"the denominator {sp.sstr(den)} is not shown positive")
        if not _positive(sp.fraction(value)[1]):
            return Outcome("unchecked", "the value's denominator is not shown positive")
        pieces = sp.Add.make_args(sp.apart(f, t))
        if sp.cancel(sp.together(sp.Add(*pieces) - f)) != 0:
            return Outcome("failed", "the partial fractions do not add up to the integrand")
        total = sp.Integer(0)
        for piece in pieces:
            pn, pd = (sp.Poly(e, t) for e in sp.fraction(sp.together(piece)))
            if pd.degree() != 2 or pn.degree() > 1:
                return Outcome("unchecked", f"a partial fraction {sp.sstr(piece)} of another form")
            lead, *rest = pd.all_coeffs()
            a, b = [sp.Integer(0), *pn.all_coeffs()][-2:]
            beta, c, a, b = (sp.cancel(e / lead) for e in (*rest, a, b))
            disc = sp.factor(4 * c - beta**2)
            if not _positive(disc):
                return Outcome("unchecked", f"{sp.sstr(disc)} is not shown positive")
            root = sp.sqrt(disc)
            coeff = (2 * b - a * beta) / root
            anti = a / 2 * sp.log(t**2 + beta * t + c) + coeff * sp.atan((2 * t + beta) / root)
            if sp.cancel(sp.together(sp.diff(anti, t) - piece)) != 0:
                return Outcome("failed", f"the antiderivative of {sp.sstr(piece)} does not check")
            total += sp.pi * coeff
        # for every admissible parameter value (continuity): no condition is used
        return self._decide_equal(
            sp.factor(total), value, Context((), ctx.hypotheses, list(ctx.established)), self.label
        )

    def describe(self) -> str:
        return "integral over the line of a rational function (partial fractions)"


def _smooth(expr: Any, v: Any) -> bool:
    """Whether ``expr`` is shown differentiable in ``v`` for every admissible value.

    Sums and products of: ``v``-free terms, polynomials, integer powers (negative ones of a
    positive base), logarithms and fractional powers of positive arguments, ``exp``,
    ``atan``, ``sin`` and ``cos`` of such expressions.
    """
    if not expr.has(v) or expr.is_Atom:
        return True
    if isinstance(expr, sp.Add | sp.Mul):
        return all(_smooth(a, v) for a in expr.args)
    if isinstance(expr, sp.Pow):
        base, exp = expr.args
        if exp.has(v):
            return _positive(base) and _smooth(base, v) and _smooth(exp, v)
        if exp.is_integer and exp.is_nonnegative:
            return _smooth(base, v)
        return _positive(base) and _smooth(base, v)
    if isinstance(expr, sp.log):
        return _positive(expr.args[0]) and _smooth(expr.args[0], v)
    if isinstance(expr, sp.exp | sp.atan | sp.sin | sp.cos):
        return _smooth(expr.args[0], v)
    return False


@dataclass(frozen=True)
class ZeroDerivative(Check):
    r"""Two functions of ``variable`` with the same derivative on an interval, equal at a point.

    The claim is :math:`F(v) = G(v)`. ``derivative`` is the established equation
    :math:`\partial_v F = g` and ``base`` the established :math:`F(v_0) = c`. Checked:
    ``variable`` is a real symbol whose assumptions make its domain an interval and no
    condition of the derivation restricts it (so the domain stays connected); ``point``
    :math:`v_0` satisfies those assumptions; the two facts are about this :math:`F`
    (``Derivative(F, v)`` and :math:`F` at :math:`v_0`); :math:`G` is differentiable on
    the domain, :math:`\partial_v G = g` and :math:`G(v_0) = c`. Then :math:`F - G` has
    derivative 0 on an interval and vanishes at :math:`v_0`, so it is 0 (mean value
    theorem).
    """

    variable: Any
    point: Any
    derivative: Any
    base: Any
    label = "zero derivative on an interval"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _equality(claim, self.label)
        if bad:
            return bad
        v, point = self.variable, sp.sympify(self.point)
        if not isinstance(v, sp.Symbol) or not v.is_real or v.is_integer or v.is_rational:
            return Outcome("failed", f"{v} does not range over an interval of the real line")
        if any(c.has(v) for c in ctx.conditions):
            return Outcome("failed", f"a condition of the derivation restricts {v}")
        if point.has(v):
            return Outcome("failed", "the point depends on the variable")
        for prop in ("positive", "negative", "nonnegative", "nonpositive"):
            if getattr(v, f"is_{prop}") and not _shown(point, prop, ctx):
                return Outcome("failed", f"{sp.sstr(point)} is not shown {prop}")
        for fact in (self.derivative, self.base):
            if not ctx.is_known(fact):
                return Outcome("failed", "a premise is not established", fact)
        lhs, rhs = unfold(claim.lhs), unfold(claim.rhs)
        if unfold(self.derivative.lhs) != sp.Derivative(lhs, v):
            return Outcome("failed", "the derivative premise is not about the claim's left side")
        at = unfold(self.base.lhs)
        if at != lhs.subs(v, point) and not _same(at, lhs.subs(v, point), ctx)[0]:
            return Outcome("failed", "the base premise is not the left side at the point")
        if not _smooth(rhs, v):
            return Outcome("unchecked", "the right side is not shown differentiable on the domain")
        ok, residual = _same(sp.diff(rhs, v), unfold(self.derivative.rhs), ctx)
        if not ok:
            return Outcome("failed", "the right side's derivative is not the premise's", residual)
        ok, residual = _same(rhs.subs(v, point), unfold(self.base.rhs), ctx)
        if not ok:
            return Outcome("failed", "the right side at the point is not the premise's", residual)
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return f"zero derivative in {sp.sstr(self.variable)} on an interval, equal at one point"
