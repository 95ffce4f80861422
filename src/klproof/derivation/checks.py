"""The checks a step can carry, and the zero test they share.

Every check answers one question about one claim ``lhs REL rhs``: did the machine
establish it (``ok``), refute it (``failed``, with the residual that did not vanish),
or could it not decide (``unchecked``)? A check never passes a claim it could not
establish.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import sympy as sp

from klproof.derivation.ops import KL, Labelled, rewrite_operators, unfold

if TYPE_CHECKING:
    from klproof.derivation.core import Derivation

__all__ = [
    "Algebra",
    "Argmax",
    "Check",
    "Cite",
    "Claim",
    "Context",
    "Evaluate",
    "Gibbs",
    "Outcome",
    "Rule",
    "Status",
    "SupportMismatch",
    "Unchecked",
    "is_zero",
    "linear_normal_form",
]

Status = Literal["ok", "failed", "unchecked"]
Relation = Literal["=", ">=", "<="]


@dataclass(frozen=True)
class Claim:
    """The statement one step makes: ``lhs relation rhs``."""

    lhs: Any
    rhs: Any
    relation: Relation = "="


@dataclass(frozen=True)
class Outcome:
    """What a check concluded, with the residual when it failed."""

    status: Status
    detail: str = ""
    residual: Any = None


@dataclass
class Context:
    """What a check may rely on: the derivation's assumptions and earlier results."""

    conditions: tuple[Any, ...] = ()
    hypotheses: tuple[Any, ...] = ()
    established: list[Any] = field(default_factory=list)

    def is_known(self, fact: Any) -> bool:
        """Whether ``fact`` (an equation) is a hypothesis or was established before."""
        return any(_same_equation(fact, k) for k in (*self.hypotheses, *self.established))


def _same_equation(a: Any, b: Any) -> bool:
    if not (isinstance(a, sp.Equality) and isinstance(b, sp.Equality)):
        return False
    return bool((a.lhs == b.lhs and a.rhs == b.rhs) or (a.lhs == b.rhs and a.rhs == b.lhs))


# --------------------------------------------------------------------------- zero test


def _has_unevaluated(expr: Any) -> bool:
    return bool(expr.has(sp.Integral, sp.Sum, sp.Derivative, sp.Limit))


def _candidates(expr: Any, conditions: Sequence[Any], quick: bool = False) -> Iterable[Any]:
    yield expr
    yield sp.expand(expr)
    logs = sp.expand_log(expr)
    yield sp.expand(logs)
    if conditions:
        refined = sp.refine(expr, sp.And(*conditions))
        yield sp.expand(sp.expand_log(refined))
    yield sp.expand(sp.expand_log(_factor_log_args(expr)))
    if quick or expr.has(sp.Integral, sp.Sum):
        # With unevaluated integrals or sums the linear normal form decides; general
        # simplification of such expressions is slow and adds nothing sound.
        return
    # doit=False: simplification must not evaluate integrals or sums behind our back
    # (that is Evaluate's job, and it is slow).
    yield sp.simplify(expr, doit=False)
    yield sp.simplify(logs, doit=False)
    yield sp.simplify(sp.expand(sp.powdenest(sp.expand_power_base(logs))), doit=False)
    yield sp.simplify(sp.logcombine(logs), doit=False)


def _factor_log_args(expr: Any) -> Any:
    return expr.replace(lambda e: isinstance(e, sp.log), lambda e: sp.log(sp.factor(e.args[0])))


def _reparametrise(expr: Any, conditions: Sequence[Any]) -> Any:
    """Make interval conditions visible to SymPy's assumptions.

    For a condition ``t < c`` with ``t`` a positive symbol and ``c > 0``, substitute
    ``t = c s / (1 + s)`` with ``s > 0`` — a bijection of ``(0, c)`` onto ``(0, oo)``,
    so the expression is zero iff the substituted one is. For ``a < b`` between two
    real symbols, substitute ``b = a + d`` with ``d > 0``.
    """
    for cond in conditions:
        if not isinstance(cond, sp.StrictLessThan | sp.LessThan):
            continue
        small, big = cond.lhs, cond.rhs
        if isinstance(small, sp.Symbol) and small.is_positive and big.is_positive and big.is_number:
            s = sp.Dummy("s", positive=True)
            expr = expr.subs(small, big * s / (1 + s))
        elif isinstance(big, sp.Symbol) and isinstance(small, sp.Symbol):
            d = sp.Dummy("d", positive=True)
            expr = expr.subs(big, small + d)
    return expr


def is_zero(expr: Any, conditions: Sequence[Any] = (), *, quick: bool = False) -> tuple[bool, Any]:
    """Try to reduce ``expr`` to exactly zero.

    Returns ``(True, 0)`` when some sound SymPy rewrite (expansion, log expansion
    under the symbols' assumptions, ``simplify``) gives the integer ``0``, else
    ``(False, simplest_form_seen)``. Numerical agreement is never accepted as proof.
    ``quick=True`` tries only the cheap rewrites (no ``simplify``).
    """
    expr = sp.sympify(expr)
    best = expr
    variants = [expr, linear_normal_form(expr)] if expr.has(sp.Integral, sp.Sum) else [expr]
    if conditions:
        variants += [_reparametrise(v, conditions) for v in variants]
        if expr.has(sp.Integral, sp.Sum):
            variants.append(linear_normal_form(_reparametrise(expr, conditions)))
    for candidate in (c for v in variants for c in _candidates(v, conditions, quick)):
        if candidate == 0:
            return True, sp.Integer(0)
        if candidate.is_number and candidate.is_zero is False:
            return False, candidate  # an equal form that is a non-zero constant: refuted
        if sp.count_ops(candidate) < sp.count_ops(best):
            best = candidate
    return False, best


def _sample_value(symbol: Any, rng: random.Random) -> Any:
    if symbol.is_integer:
        low = 1 if symbol.is_positive else 0
        return sp.Integer(rng.randint(low if symbol.is_nonnegative else -3, 6))
    if symbol.is_positive or symbol.is_nonnegative:
        return sp.Rational(rng.randint(3, 40), 10)
    if symbol.is_negative:
        return -sp.Rational(rng.randint(3, 40), 10)
    return sp.Rational(rng.randint(-30, 30), 10)


def numerically_nonzero(expr: Any, conditions: Sequence[Any] = (), tries: int = 3) -> Any:
    """Look for a point (satisfying the assumptions) where ``expr`` is clearly not 0.

    A guard against simplifier bugs: a residual that SymPy reduced to zero must
    also vanish numerically. Returns the point found, or ``None``. Expressions with
    undefined functions, integrals or indexed objects are not sampled (``None``).
    """
    expr = sp.sympify(expr)
    if expr.has(sp.Integral, sp.Sum, sp.Indexed, sp.core.function.AppliedUndef, Labelled):
        return None
    cond_symbols = set().union(*(c.free_symbols for c in conditions)) if conditions else set()
    symbols = sorted(expr.free_symbols | cond_symbols, key=str)
    rng = random.Random(20261125)
    for _ in range(tries * 5):
        point = {s: _sample_value(s, rng) for s in symbols}
        if conditions and not all(c.subs(point) == sp.true for c in conditions):
            continue
        value = expr.evalf(30, subs=point)
        if value.is_number and value.is_finite and abs(complex(value)) > 1e-20:
            return point
        tries -= 1
        if tries <= 0:
            break
    return None


# --------------------------------------------------------------------------- checks


class Check(ABC):
    """How a step is verified. Subclasses implement :meth:`run`."""

    #: A short name shown in reports and docs.
    label: str = "check"

    @abstractmethod
    def run(self, claim: Claim, ctx: Context) -> Outcome:
        """Decide ``claim`` in context ``ctx``."""

    def describe(self) -> str:
        """A phrase for readers: how this step was checked."""
        return self.label

    def _decide_equal(self, lhs: Any, rhs: Any, ctx: Context, how: str) -> Outcome:
        difference = sp.sympify(lhs) - sp.sympify(rhs)
        ok, residual = is_zero(difference, ctx.conditions)
        if not ok and difference.has(sp.Sum):
            # Series SymPy can sum in closed form (e.g. of the exponential) are evaluated.
            summed = difference.replace(lambda e: isinstance(e, sp.Sum), lambda e: e.doit())
            # Only if SymPy summed them all: a finite sum with a symbolic bound comes back
            # unsummed in a case distinction (the Binomial sums, under a convergence
            # condition), and rewriting that took 130 s to refute a false claim.
            if not summed.has(sp.Sum):
                ok, residual = is_zero(summed, ctx.conditions)
            how = f"{how} (after SymPy evaluated the sums)" if ok else how
        if not ok:
            return Outcome("failed", f"{how}: the difference does not reduce to 0", residual)
        point = numerically_nonzero(difference, ctx.conditions)
        if point is not None:
            return Outcome(
                "failed",
                f"{how}: SymPy reduced the difference to 0 but it is non-zero at {point}",
                difference,
            )
        return Outcome("ok", how)


def _require_equality(claim: Claim, label: str) -> Outcome | None:
    if claim.relation != "=":
        return Outcome("failed", f"{label} establishes equalities only, not {claim.relation!r}")
    return None


@dataclass(frozen=True)
class Algebra(Check):
    """The two sides are equal by algebra: their difference simplifies to 0.

    Labelled densities are unfolded; integrals are *not* evaluated.
    """

    label = "algebra"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _require_equality(claim, self.label)
        if bad:
            return bad
        return self._decide_equal(unfold(claim.lhs), unfold(claim.rhs), ctx, self.label)

    def describe(self) -> str:
        return "algebra: the difference simplifies to 0"


@dataclass(frozen=True)
class Evaluate(Check):
    """SymPy evaluates the integrals, sums, derivatives and operators on both sides.

    The claim holds when the evaluated difference reduces to 0 and nothing was left
    unevaluated (an integral SymPy cannot do is a failure to check, not a pass).
    """

    label = "evaluated by SymPy"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _require_equality(claim, self.label)
        if bad:
            return bad
        sides = []
        for side in (claim.lhs, claim.rhs):
            expr = _expand_integrands(rewrite_operators(unfold(side)))
            value = expr.doit()
            if ctx.conditions and value.has(sp.Piecewise):
                value = sp.refine(value, sp.And(*ctx.conditions))
            value = sp.piecewise_fold(value)
            if value.has(sp.Piecewise):
                value = _drop_convergence_branches(value)
            sides.append(value)
        lhs, rhs = sides
        outcome = self._decide_equal(lhs, rhs, ctx, self.label)
        leftover = _has_unevaluated(lhs) or _has_unevaluated(rhs) or lhs.has(sp.Piecewise)
        if outcome.status == "failed" and leftover:
            # Not refuted: SymPy could not finish, so nobody checked the claim.
            return Outcome("unchecked", "SymPy left part of it unevaluated", outcome.residual)
        return outcome

    def describe(self) -> str:
        return "integral evaluated by SymPy"


def _expand_integrands(expr: Any) -> Any:
    """Expand logarithms and products inside integrands (an equality-preserving rewrite).

    ``p (log p - log q)`` with Gaussian ``p`` becomes a sum of polynomial-times-Gaussian
    terms, which SymPy integrates far faster than the unexpanded form.
    """

    def expand(node: Any) -> Any:
        return node.func(sp.expand(sp.expand_log(node.function)), *node.limits)

    return expr.replace(lambda e: isinstance(e, sp.Integral), expand)


def _drop_convergence_branches(expr: Any) -> Any:
    """Keep a Piecewise only when its first condition is already True."""

    def pick(pw: Any) -> Any:
        value, condition = pw.args[0]
        if condition == sp.true:
            return value
        return pw

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), pick)


def linear_normal_form(expr: Any) -> Any:
    """Normalise integrals and sums by linearity.

    Expands integrands (including logarithms of products, where the symbols'
    assumptions allow), splits integrals of sums into sums of integrals, pulls
    factors that do not depend on the integration variable outside, and evaluates
    sums of constants. Two expressions equal by linearity have equal normal forms.
    """

    def split(node: Any) -> Any:
        if isinstance(node, sp.Integral) and len(node.limits) > 1:
            return split_iterated(node)
        if not isinstance(node, sp.Integral | sp.Sum) or len(node.limits) != 1:
            return node
        var = node.limits[0][0]
        integrand = sp.expand(sp.expand_log(node.function))
        terms = sp.Add.make_args(integrand)
        total = sp.Integer(0)
        for term in terms:
            const, dependent = term.as_independent(var, as_Add=False)
            inner = _finite_sum_factor(dependent) if isinstance(node, sp.Integral) else None
            if inner is not None:
                # Exchange a finite sum and the integral (linearity).
                summand, rest = inner
                total += const * split(
                    sp.Sum(split(node.func(rest * summand.function, *node.limits)), *summand.limits)
                )
                continue
            if dependent == 1:
                piece = node.func(sp.Integer(1), *node.limits)
                piece = piece.doit() if isinstance(node, sp.Sum) else piece
                total += const * piece
            else:
                total += const * node.func(dependent, *node.limits)
        return total

    def split_iterated(node: Any) -> Any:
        # an iterated integral (several limits, e.g. over a triangle): split the sum in
        # the integrand and pull out the factors free of every integration variable
        variables = [lim[0] for lim in node.limits]
        total = sp.Integer(0)
        for term in sp.Add.make_args(sp.expand(sp.expand_log(node.function))):
            const, dependent = term.as_independent(*variables, as_Add=False)
            total += const * sp.Integral(dependent, *node.limits)
        return total

    expr = sp.expand(sp.expand_log(sp.sympify(expr)))
    return expr.replace(lambda e: isinstance(e, sp.Integral | sp.Sum), split)


def _finite_sum_factor(expr: Any) -> tuple[Any, Any] | None:
    """Split ``expr`` as ``Sum(...) * rest`` when one factor is a finite sum."""
    for factor in sp.Mul.make_args(expr):
        if isinstance(factor, sp.Sum) and len(factor.limits) == 1:
            _, low, high = factor.limits[0]
            if low.is_finite and high.is_finite:
                rest = sp.Mul(*[f for f in sp.Mul.make_args(expr) if f is not factor])
                return factor, rest
    return None


def _substitute(expr: Any, facts: Sequence[Any]) -> Any:
    for fact in facts:
        expr = expr.xreplace({fact.lhs: fact.rhs})
        expr = expr.subs(fact.lhs, fact.rhs)
    return expr


@dataclass(frozen=True)
class Rule(Check):
    """A named rule: rewrite with equations already known, then compare by linearity.

    ``using`` lists equations (``sp.Eq``) the rule needs — e.g. normalisation
    ``Eq(Integral(q(z), z), 1)`` or Bayes' rule ``Eq(p(z|x), p(x, z) / p(x))``. Each must
    be a hypothesis of the derivation or established by an earlier step (that is
    the checked precondition). Both sides are rewritten with them (left to right),
    operators are expanded to their definitions, and the linear normal forms must
    agree.
    """

    name: str
    using: tuple[Any, ...] = ()
    label = "rule"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _require_equality(claim, self.name)
        if bad:
            return bad
        for fact in self.using:
            if not ctx.is_known(fact):
                return Outcome(
                    "failed",
                    f"{self.name}: precondition {sp.sstr(fact)} is neither a hypothesis "
                    "nor established by an earlier step",
                    fact,
                )
        facts = [
            sp.Eq(
                rewrite_operators(unfold(f.lhs)), rewrite_operators(unfold(f.rhs)), evaluate=False
            )
            for f in self.using
        ]
        sides = []
        for side in (claim.lhs, claim.rhs):
            expr = _substitute(rewrite_operators(unfold(side)), facts)
            expr = linear_normal_form(expr)
            expr = _substitute(expr, facts)
            expr = linear_normal_form(_substitute(expr, facts))
            sides.append(expr)
        return self._decide_equal(sides[0], sides[1], ctx, self.name)

    def describe(self) -> str:
        return f"rule: {self.name}"


@dataclass(frozen=True)
class Cite(Check):
    """By another derivation: its verified result, instantiated, closes the step.

    ``derivation`` is a :class:`~klproof.derivation.Derivation` (or a zero-argument
    callable returning one); ``subs`` maps its symbols to this derivation's
    expressions. The cited derivation must verify with every step ``ok``.
    """

    derivation: Any
    subs: tuple[tuple[Any, Any], ...] = ()
    label = "by derivation"

    def resolve(self) -> Derivation:
        """The cited derivation object."""
        target = self.derivation
        return target() if callable(target) and not hasattr(target, "verify") else target  # type: ignore[no-any-return]  # a factory returns Any

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _require_equality(claim, self.label)
        if bad:
            return bad
        cited = self.resolve()
        report = cited.verify()
        if report.status != "ok":
            return Outcome("failed", f"cited derivation {cited.name!r} is {report.status}")
        mapping = dict(self.subs)
        fact = sp.Eq(cited.lhs.xreplace(mapping), cited.rhs.xreplace(mapping), evaluate=False)
        claim_gap = linear_normal_form(rewrite_operators(unfold(claim.lhs - claim.rhs)))
        fact_gap = linear_normal_form(rewrite_operators(unfold(fact.lhs - fact.rhs)))
        for quick in (True, False):
            for sign in (1, -1):
                # The claim is the cited result itself (possibly with sides swapped).
                if is_zero(claim_gap - sign * fact_gap, ctx.conditions, quick=quick)[0]:
                    return self._decide_equal(claim_gap, sign * fact_gap, ctx, f"by {cited.name}")
        sides = []
        for side in (claim.lhs, claim.rhs):
            expr = rewrite_operators(unfold(side))
            fact_l = rewrite_operators(unfold(fact.lhs))
            fact_r = rewrite_operators(unfold(fact.rhs))
            expr = linear_normal_form(expr)
            for pattern in (linear_normal_form(fact_l), fact_l):
                expr = expr.xreplace({pattern: fact_r}).subs(pattern, fact_r)
            sides.append(linear_normal_form(unfold(expr)))
        return self._decide_equal(sides[0], sides[1], ctx, f"by {cited.name}")

    def describe(self) -> str:
        return f"by derivation {self.resolve().name}"


@dataclass(frozen=True)
class Argmax(Check):
    """The right-hand side is the unique maximiser of ``objective`` over ``variables``.

    The claim is ``Tuple(*variables_hat) = Tuple(*values)``. Checked: the gradient
    vanishes there; SymPy's ``solve`` finds no other stationary point in the domain
    the variables' assumptions define; the Hessian there is negative definite
    (leading principal minors alternate in sign, each decided by SymPy).
    """

    objective: Any
    variables: tuple[Any, ...]
    label = "unique stationary point, negative-definite Hessian"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        objective = unfold(self.objective)
        values = tuple(claim.rhs)
        point = dict(zip(self.variables, values, strict=True))
        gradient = [sp.diff(objective, v) for v in self.variables]
        for g in gradient:
            ok, residual = is_zero(g.subs(point), ctx.conditions)
            if not ok:
                return Outcome("failed", "gradient does not vanish at the claimed point", residual)
        solutions = sp.solve(gradient, list(self.variables), dict=True)
        admissible = [
            s for s in solutions if all(_admissible(v, s.get(v, v)) for v in self.variables)
        ]
        others = [
            s
            for s in admissible
            if not all(is_zero(s.get(v, v) - point[v], ctx.conditions)[0] for v in self.variables)
        ]
        if others or not admissible:
            return Outcome(
                "failed",
                f"stationary points in the domain: {admissible}; expected only {point}",
            )
        hessian = sp.hessian(objective, self.variables).subs(point)
        for k in range(1, len(self.variables) + 1):
            minor = sp.simplify(hessian[:k, :k].det())
            sign_ok = minor.is_negative if k % 2 == 1 else minor.is_positive
            if not sign_ok:
                return Outcome(
                    "unchecked" if sign_ok is None else "failed",
                    f"leading principal minor {k} of the Hessian is not "
                    f"{'negative' if k % 2 == 1 else 'positive'} (SymPy: {sign_ok})",
                    minor,
                )
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return "maximiser: unique stationary point with a negative-definite Hessian"


def _admissible(variable: Any, value: Any) -> bool:
    """A solution is admissible unless SymPy knows it violates the variable's domain."""
    value = sp.sympify(value)
    if variable.is_positive and value.is_positive is False:
        return False
    if variable.is_real and value.is_real is False:
        return False
    return not (variable.is_nonnegative and value.is_nonnegative is False)


@dataclass(frozen=True)
class Gibbs(Check):
    r"""Gibbs' inequality: :math:`\mathrm{KL}(p \| q) \ge 0` for probability densities.

    The claim is ``KL(p, q, z) >= 0``. Checked preconditions: both ``p`` and ``q``
    integrate (or sum) to 1, evaluated by SymPy.
    """

    label = "Gibbs' inequality"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        if claim.relation != ">=" or claim.rhs != 0 or not isinstance(claim.lhs, KL):
            return Outcome("failed", "Gibbs' inequality proves claims of the form KL(p, q) >= 0")
        p, q, limits = claim.lhs.args
        for name, density in (("p", p), ("q", q)):
            agg = sp.Sum if limits[0].is_integer else sp.Integral
            total = agg(unfold(density), tuple(limits)).doit()
            ok, residual = is_zero(total - 1, ctx.conditions)
            if not ok:
                return Outcome("failed", f"{name} is not shown to be normalised", residual)
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return "Gibbs' inequality (both densities shown normalised)"


@dataclass(frozen=True)
class Unchecked(Check):
    """A step nobody could check; always reported as ``unchecked``."""

    why: str
    label = "unchecked"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        return Outcome("unchecked", self.why)


@dataclass(frozen=True)
class Custom(Check):
    """A check given as a function of the claim; for one-off lemmas in tests."""

    function: Callable[[Claim, Context], Outcome]
    text: str = "custom check"
    label = "custom"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        return self.function(claim, ctx)

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True)
class SupportMismatch(Check):
    r"""KL is :math:`+\infty` when ``p`` gives positive mass to a set ``q`` gives none.

    The claim is ``KL(p, q) = oo``. ``p_mass`` and ``q_mass`` are expressions for
    the probability of one set under ``p`` and under ``q``; SymPy must evaluate the
    first to something positive and the second to exactly 0 (that is the checked
    precondition of the rule: ``p`` is not absolutely continuous w.r.t. ``q``).

    A ``p_mass`` that is one integral (or sum) is also positive when its integrand is
    positive on the whole interval (SymPy decides it at a generic interior point written
    with a positive parameter) and the interval has positive length (a nonempty
    range): the mass of a normal half-line, ``erfc(μ/(√2σ))/2``, is positive, but
    SymPy cannot tell from the evaluated value.
    """

    p_mass: Any
    q_mass: Any
    label = "support mismatch"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        if claim.relation != "=" or claim.rhs != sp.oo:
            return Outcome("failed", "the support rule proves claims of the form KL = oo")
        unfolded = rewrite_operators(unfold(self.p_mass))
        if not _positive_aggregate(unfolded, ctx.conditions):
            p_mass = sp.simplify(unfolded.doit())
            if p_mass.is_positive is not True:
                return Outcome(
                    "failed", "the set is not shown to have positive mass under p", p_mass
                )
        q_mass = sp.simplify(rewrite_operators(unfold(self.q_mass)).doit())
        if q_mass != 0:
            return Outcome("failed", "the set is not shown to have zero mass under q", q_mass)
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return "support mismatch: a set with positive p-mass and zero q-mass"


def _positive_aggregate(expr: Any, conditions: Sequence[Any] = ()) -> bool:
    """Whether ``expr`` is an integral (sum) of a positive function over a nonempty range.

    The integrand's sign is decided under the symbols' assumptions, and under the
    conditions made visible to them (``probs < 1``: see :func:`_reparametrise`).
    """

    def positive(value: Any) -> bool:
        if sp.simplify(value).is_positive is True:
            return True
        if not conditions:
            return False
        return sp.simplify(_reparametrise(value, conditions)).is_positive is True

    if not isinstance(expr, sp.Integral | sp.Sum) or len(expr.limits) != 1:
        return False
    limit = expr.limits[0]
    if len(limit) != 3:
        return False
    x, a, b = limit
    if isinstance(expr, sp.Sum):
        n = sp.Dummy("n", integer=True, nonnegative=True)
        span = b - a
        if span.is_Integer and 0 <= span <= 20:  # a few terms: each one
            return all(positive(expr.function.subs(x, a + j)) for j in range(int(span) + 1))
        nonempty = b == sp.oo or span.is_nonnegative is True
        return bool(nonempty and a.is_finite and positive(expr.function.subs(x, a + n)))
    t = sp.Dummy("t", positive=True)
    if a == -sp.oo and b == sp.oo:
        points = [x]
        assumptions_ok = x.is_real is True
    elif b == sp.oo:
        points, assumptions_ok = [a + t], a.is_finite is True
    elif a == -sp.oo:
        points, assumptions_ok = [b - t], b.is_finite is True
    else:
        points, assumptions_ok = [a + (b - a) * t / (1 + t)], (b - a).is_positive is True
    if not assumptions_ok:
        return False
    return all(positive(expr.function.xreplace({x: pt})) for pt in points)
