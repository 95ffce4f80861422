r"""KL pairs of discrete families on a finite support: Binomial (same ``total_count``).

SymPy sums :math:`\sum_{k=0}^{n} \binom{n}{k} a^k b^{n-k}` for a symbolic :math:`n` as a
hypergeometric series and wraps the result in a convergence condition
(:math:`|a/b| \le 1`) that a *finite* sum does not need. The sum is therefore taken by
:class:`BinomialTheorem`, a named rule whose preconditions are checked: the summand
has exactly the binomial form, the range is :math:`0, \dots, n` with :math:`n` a
nonnegative integer, and :math:`a`, :math:`b` do not depend on :math:`k`. The mean
:math:`\mathbb{E}[k] = n\theta` then follows by differentiating the binomial theorem
(term by term: the sum is finite).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from klproof.derivation import (
    KL,
    Algebra,
    Check,
    Cite,
    Claim,
    Context,
    Derivation,
    Entropy,
    Evaluate,
    Hypothesis,
    Labelled,
    Outcome,
    Rule,
    Step,
    is_zero,
    linear_normal_form,
)
from klproof.derivation.ops import rewrite_operators, unfold
from klproof.symbolic.families import Binomial, Categorical
from klproof.symbolic.kl._checks import Instance, Leibniz, Memo, Using
from klproof.symbolic.kl._routes import FINITE_SUM, bregman_route, symbols_of
from klproof.symbolic.kl.catalogue import SPECS, PairSpec, _spec
from klproof.symbolic.kl.forms import FORMS, substitution_route
from klproof.symbolic.registry import get, register

__all__ = ["BinomialTheorem", "Differentiated", "OnSupport", "Renamed"]

COVER = "T. M. Cover and J. A. Thomas, Elements of Information Theory, 2nd ed., 2006, §2.3"
BROWN = "L. D. Brown, Fundamentals of Statistical Exponential Families, 1986, Thm. 2.2"
TORCH = "PyTorch torch/distributions/kl.py (formula cross-checked here, not copied)"


@dataclass(frozen=True)
class BinomialTheorem(Check):
    r"""The binomial theorem :math:`\sum_{k=0}^{n} \binom{n}{k} a^k b^{n-k} = (a + b)^n`.

    The claim's left side must be one ``Sum`` over ``(k, 0, n)``. Checked: ``n`` is a
    nonnegative integer (SymPy assumptions); ``a`` and ``b`` do not contain ``k``; the
    summand equals :math:`\binom{n}{k} a^k b^{n-k}` (the difference reduces to 0); the
    right side equals :math:`(a + b)^n`.
    """

    a: Any
    b: Any
    label = "the binomial theorem"

    def run(self, claim: Claim, ctx: Context) -> Outcome:  # noqa: D102
        if claim.relation != "=":
            return Outcome("failed", "the binomial theorem establishes equalities only")
        lhs = unfold(claim.lhs)
        if not isinstance(lhs, sp.Sum) or len(lhs.limits) != 1:
            return Outcome("failed", "expected one finite sum on the left")
        k, low, n = lhs.limits[0]
        if low != 0 or not (n.is_integer and n.is_nonnegative):
            return Outcome("failed", f"the range is not 0, ..., n with n >= 0 an integer: {n}")
        if self.a.has(k) or self.b.has(k):
            return Outcome("failed", f"a or b depends on the summation index {k}")
        term = sp.binomial(n, k) * self.a**k * self.b ** (n - k)
        ok, residual = is_zero(lhs.function - term, ctx.conditions)
        if not ok:
            return Outcome("failed", "the summand is not C(n, k) a^k b^(n-k)", residual)
        return self._decide_equal(claim.rhs, (self.a + self.b) ** n, ctx, self.label)

    def describe(self) -> str:  # noqa: D102
        return "the binomial theorem (summand form and range checked)"


@dataclass(frozen=True)
class OnSupport(Check):
    """A pointwise identity on a finite support, checked at each of its points.

    ``variable`` takes each value of ``points`` in turn; at each the two sides (densities
    unfolded) must reduce to the same expression.
    """

    variable: Any
    points: tuple[Any, ...]
    label = "pointwise on the support"

    def run(self, claim: Claim, ctx: Context) -> Outcome:  # noqa: D102
        if claim.relation != "=":
            return Outcome("failed", "establishes equalities only")
        for point in self.points:
            at = [
                sp.sympify(unfold(side)).subs(self.variable, point)
                for side in (claim.lhs, claim.rhs)
            ]
            outcome = self._decide_equal(at[0], at[1], ctx, f"{self.label} ({point})")
            if outcome.status != "ok":
                return outcome
        return Outcome("ok", self.label)

    def describe(self) -> str:  # noqa: D102
        pts = ", ".join(sp.sstr(v) for v in self.points)
        return f"at each point of the support ({sp.sstr(self.variable)} = {pts})"


def _binomial_moments(p: Binomial) -> dict[Any, Any]:
    n, t = p["total_count"], p["probs"]
    k = p.variable
    lim = (k, sp.Integer(0), n)

    def normalised(pl: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
        return [
            Step(
                lhs=sp.Sum(pl, lim),
                rhs=sp.Integer(1),
                reason=r"the binomial theorem: $\sum_k \binom{n}{k} \theta^k (1-\theta)^{n-k}"
                r" = (\theta + 1 - \theta)^n$",
                check=Memo(BinomialTheorem(t, 1 - t)),
            )
        ]

    a, b = sp.Symbol("a", positive=True), sp.Symbol("b", positive=True)
    kernel = sp.binomial(n, k) * a**k * b ** (n - k)
    z = (a + b) ** n
    z_sum = sp.Sum(kernel, lim)
    z_fact = sp.Eq(z_sum, z, evaluate=False)
    mean_sum = sp.Sum(k * kernel, lim)
    mean_value = n * a * (a + b) ** (n - 1)
    mean_fact = sp.Eq(mean_sum, mean_value, evaluate=False)

    def mean(pl: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
        return [
            Step(
                lhs=z_sum,
                rhs=z,
                reason="the binomial theorem",
                check=Memo(BinomialTheorem(a, b)),
            ),
            Step(
                lhs=mean_sum,
                rhs=a * sp.Derivative(z_sum, a),
                reason=r"$k a^k = a \partial_a a^k$; a finite sum is differentiated term by "
                "term",
                check=Memo(Leibniz()),
            ),
            Step(
                rhs=a * sp.Derivative(z, a),
                reason="the binomial theorem (above)",
                check=Using("binomial theorem", (z_fact,)),
            ),
            Step(rhs=mean_value, reason="differentiate", check=Memo(Evaluate())),
            Step(
                lhs=sp.Sum(pl * k, lim),
                rhs=n * t,
                reason=r"at $a = \theta$, $b = 1 - \theta$",
                check=Instance(mean_fact, ((a, t), (b, 1 - t))),
            ),
        ]

    return {1: normalised, k: mean}


@_spec("binomial", "binomial")
def _binomial_binomial() -> PairSpec:
    n = sp.Symbol("n", integer=True, positive=True)
    t1, t2 = sp.Symbol("theta_1", positive=True), sp.Symbol("theta_2", positive=True)
    p, q = Binomial(total_count=n, probs=t1), Binomial(total_count=n, probs=t2)
    log = sp.log
    return PairSpec(
        p,
        q,
        n * (t1 * log(t1 / t2) + (1 - t1) * log((1 - t1) / (1 - t2))),
        _binomial_moments(p),
        ("integral", "bregman"),
        (COVER + " (n independent Bernoulli trials: n times the Bernoulli KL)", BROWN, TORCH),
        extra={
            "titles": {"integral": "from the defining sum"},
            "normaliser_lemma": _binomial_normaliser,
        },
        notes="Both Binomials share total_count n (then an exponential family in k with "
        "natural parameter logit θ and A(η) = n log(1 + e^η)). The entropy has no closed "
        "form, so there is no cross-entropy route. KL is finite for θ₁, θ₂ in (0, 1); at "
        "the ends of [0, 1] it is +∞ where θ₂ ∈ {0, 1} differs from θ₁ (support mismatch) "
        "and follows by continuity (0 log 0 = 0) otherwise.",
    )


def _binomial_normaliser(unnorm: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
    """Z(η) = Σ C(n, k) e^{ηk} = (1 + e^η)^n by the binomial theorem (b = 1)."""
    (eta,) = Binomial.eta_symbols()
    n = lim[2]
    return [
        Step(
            lhs=sp.Sum(unnorm, lim),
            rhs=(1 + sp.exp(eta)) ** n,
            reason=r"the binomial theorem with $a = e^{\eta}$, $b = 1$",
            check=Memo(BinomialTheorem(sp.exp(eta), sp.Integer(1))),
        )
    ]


# --------------------------------------------------------------------------- categorical


def _categoricals(s: PairSpec) -> tuple[Categorical, Categorical]:
    if not (isinstance(s.p, Categorical) and isinstance(s.q, Categorical)):
        raise TypeError("expected a pair of Categorical families")
    return s.p, s.q


def _normalisation(f: Categorical, who: str) -> Hypothesis:
    return Hypothesis(f.normalisation(), f"{who} is normalised: its probabilities sum to 1")


def _support_contained(p: Categorical, q: Categorical) -> tuple[Any, ...]:
    """KL < oo iff q_i > 0 wherever p_i > 0 (stated, unevaluated, for zero entries)."""
    return tuple(
        sp.Or(sp.Gt(b, 0, evaluate=False), sp.Eq(a, 0, evaluate=False), evaluate=False)
        for a, b in zip(p["probs"], q["probs"], strict=True)
    )


def _categorical_lhs(p: Categorical, q: Categorical) -> Any:
    k = p.variable
    return KL(p.label("p", k), q.label("q", k), p.limits(k))


def _categorical_sum(name: str, s: PairSpec, *, title: str, references: tuple[str, ...]) -> Any:
    """KL(p ‖ q) from the defining sum over the K categories."""
    p, q = _categoricals(s)
    k = p.variable
    lim = p.limits(k)
    pl, ql = p.label("p", k), q.label("q", k)
    terms = sp.Add(
        *(a * (sp.log(a) - sp.log(b)) for a, b in zip(p["probs"], q["probs"], strict=True))
    )
    steps = (
        Step(
            lhs=KL(pl, ql, lim),
            rhs=sp.Sum(pl * (sp.log(pl) - sp.log(ql)), lim),
            reason="definition of the KL divergence",
            check=Rule("definition"),
        ),
        Step(
            rhs=terms,
            reason=rf"the sum over the ${p.K}$ categories, $p(k) = p_{{k+1}}$",
            check=Evaluate(),
        ),
        Step(rhs=s.closed, reason="collect terms", check=Algebra()),
    )
    return Derivation(
        name=name,
        title=title,
        steps=steps,
        symbols=symbols_of(p, q),
        summary=f"From the definition, the sum over the {p.K} categories of "
        r"$p(k)\,(\log p(k) - \log q(k))$; no normalisation is used.",
        references=references,
    )


def _categorical_bregman(name: str, s: PairSpec, *, title: str, references: tuple[str, ...]) -> Any:
    r"""KL(p ‖ q) by the Bregman form of :math:`A(\eta) = \log \sum_i e^{\eta_i}`."""
    p, q = _categoricals(s)
    k = p.variable
    if p.logits is None or q.logits is None:
        raise TypeError("the Bregman route is written in the logits (natural parameters)")
    eta = tuple(sp.Symbol(f"eta_{i + 1}", real=True) for i in range(p.K))

    def normaliser(unnorm: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
        return [
            Step(
                lhs=sp.Sum(unnorm, lim),
                rhs=Categorical.normaliser(eta),
                reason=r"the normaliser $Z(\eta) = \sum_k e^{\eta \cdot T(k)}$, summed over the "
                "categories",
                check=Memo(Evaluate()),
            )
        ]

    return bregman_route(
        name,
        p,
        q,
        s.closed,
        title=title,
        references=references,
        normaliser_lemma=normaliser,
        eta=eta,
        aggregator=FINITE_SUM,
        pointwise=OnSupport(k, tuple(sp.Integer(i) for i in range(p.K))),
        summary=r"The exponential-family route: the logits are the natural parameters, "
        r"statistics $T_i(k) = \delta_{k, i-1}$, the normaliser summed from the "
        r"mass function and its gradient (the softmax) by differentiating it; KL is the "
        r"Bregman divergence of $A = \log Z$.",
    )


def _categorical_bregman_probs(
    name: str, s: PairSpec, *, title: str, references: tuple[str, ...]
) -> Any:
    r"""The Bregman route in probabilities: the logits route at :math:`\ell_i = \log p_i`.

    In probabilities :math:`A(\eta_p) = \log \sum_i p_i` is 0 by normalisation, so the
    Bregman form is written in the natural parameters (the logits), where it is derived
    without hypotheses (``kl/categorical-logits/categorical-logits/bregman``), then
    instantiated at :math:`\ell_i = \log p_i`, :math:`m_i = \log q_i` (checked real);
    :math:`\operatorname{softmax}(\log p) = p` is where the normalisation is used.
    """
    p, q = _categoricals(s)
    route_name = "kl/categorical-logits/categorical-logits/bregman"
    cited = get(route_name)
    logits = _categorical_logits()
    ell, m = logits.p.natural(), logits.q.natural()
    subs = (
        *((a, sp.log(v)) for a, v in zip(ell, p["probs"], strict=True)),
        *((b, sp.log(v)) for b, v in zip(m, q["probs"], strict=True)),
    )
    fact = sp.Eq(cited.lhs, cited.rhs, evaluate=False)
    at_lhs = cited.lhs.xreplace(dict(subs))
    at_rhs = cited.rhs.xreplace(dict(subs))
    norm_p, norm_q = p.normalisation(), q.normalisation()
    steps = (
        Step(
            lhs=cited.lhs,
            rhs=cited.rhs,
            reason=f"the Bregman form in the natural parameters ({route_name})",
            check=Cite(lambda: get(route_name)),
        ),
        Step(
            lhs=at_lhs,
            rhs=at_rhs,
            reason=r"at $\ell_i = \log p_i$, $m_i = \log q_i$",
            check=Instance(fact, subs),
        ),
        Step(
            lhs=_categorical_lhs(p, q),
            rhs=at_lhs,
            reason=r"$\operatorname{softmax}(\log p) = p$ as $\sum_i p_i = 1$ (and for q)",
            check=Rule("normalisation of p and q", (norm_p, norm_q)),
        ),
        Step(
            rhs=at_rhs,
            reason="the instance (above)",
            check=Rule("instance", (sp.Eq(at_lhs, at_rhs, evaluate=False),)),
        ),
        Step(
            rhs=s.closed,
            reason=r"$\log \sum_i p_i = \log \sum_i q_i = 0$; collect terms",
            check=Rule("normalisation of p and q", (norm_p, norm_q)),
        ),
    )
    return Derivation(
        name=name,
        title=title,
        steps=steps,
        symbols=(*symbols_of(p, q), *ell, *m),
        hypotheses=(_normalisation(p, "p"), _normalisation(q, "q")),
        summary=r"The exponential-family route: KL is the Bregman divergence of "
        r"$A(\eta) = \log \sum_i e^{\eta_i}$ in the natural parameters (the logits), "
        r"derived there from the mass function; here at $\eta = \log p$, where "
        r"normalisation makes $A(\eta_p) = A(\eta_q) = 0$.",
        references=references,
    )


@_spec("categorical", "categorical")
def _categorical_categorical() -> PairSpec:
    p, q = Categorical.symbolic(1), Categorical.symbolic(2)
    closed = sp.Add(*(a * sp.log(a / b) for a, b in zip(p["probs"], q["probs"], strict=True)))
    return PairSpec(
        p,
        q,
        closed,
        {},
        ("sum", "bregman"),
        (COVER, BROWN, TORCH),
        finite_when=_support_contained(p, q),
        entropy=None,
        extra={
            "builders": {"sum": _categorical_sum, "bregman": _categorical_bregman_probs},
            "pair_lhs": _categorical_lhs(p, q),
            "symbols": symbols_of(p, q),
            "titles": {"sum": "from the defining sum"},
        },
        notes=f"Derived for K = {p.K} categories with positive probabilities summing to 1 "
        "(a hypothesis of the Bregman route; the sum route does not use it). The finiteness "
        "conditions extend it to zero probabilities: with 0 log 0 = 0 a category with "
        "p_i = 0 contributes nothing, and KL = +∞ exactly when some q_i = 0 < p_i (p puts "
        "mass where q has none).",
    )


# --------------------------------------------------------------------------- categorical, logits


def _logsumexp(v: Any) -> Any:
    return sp.log(sp.Add(*(sp.exp(e) for e in v)))


def _categorical_substitution(
    name: str, s: PairSpec, *, title: str, references: tuple[str, ...]
) -> Any:
    """The probs pair's sum route (no normalisation used) at p = softmax(l), q = softmax(m)."""
    p, q = _categoricals(s)
    base = SPECS[("categorical", "categorical")]()
    default = get("kl/categorical/categorical/sum")
    subs = tuple(
        (sym, value)
        for default_fam, fam in ((base.p, p), (base.q, q))
        for sym, value in zip(default_fam["probs"], fam["probs"], strict=True)
    )
    fact = sp.Eq(default.lhs, default.rhs, evaluate=False)
    steps = (
        Step(
            lhs=default.lhs,
            rhs=default.rhs,
            reason=f"the pair in probabilities ({default.name}, which needs no normalisation)",
            check=Cite(lambda: get("kl/categorical/categorical/sum")),
        ),
        Step(
            lhs=_categorical_lhs(p, q),
            rhs=default.rhs.xreplace(dict(subs)),
            reason="at $p = \\operatorname{softmax}(\\ell)$, "
            "$q = \\operatorname{softmax}(m)$ (positive)",
            check=Instance(fact, subs),
        ),
        Step(
            rhs=s.closed,
            reason="log-softmax: $\\log p_i = \\ell_i - \\log \\sum_j e^{\\ell_j}$; collect terms",
            check=Algebra(),
        ),
    )
    return Derivation(
        name=name,
        title=title,
        steps=steps,
        symbols=symbols_of(p, q),
        summary="By substitution: the verified sum over the categories in probabilities, at "
        "the softmax of the logits, simplified by the log-softmax.",
        references=references,
    )


def _categorical_logits() -> PairSpec:
    big_k = 3
    ell = sp.Tuple(*(sp.Symbol(f"ell_{i + 1}", real=True) for i in range(big_k)))
    m = sp.Tuple(*(sp.Symbol(f"m_{i + 1}", real=True) for i in range(big_k)))
    p, q = Categorical(logits=ell), Categorical(logits=m)
    closed = (
        sp.Add(*(pi * (a - b) for pi, a, b in zip(p["probs"], ell, m, strict=True)))
        - _logsumexp(ell)
        + _logsumexp(m)
    )
    return PairSpec(
        p,
        q,
        closed,
        {},
        ("sum", "bregman", "substitution"),
        (COVER, BROWN),
        extra={
            "params": ({"logits": ell}, {"logits": m}),
            "title": "KL(Categorical ‖ Categorical) in logits",
            "builders": {
                "sum": _categorical_sum,
                "bregman": _categorical_bregman,
                "substitution": _categorical_substitution,
            },
            "pair_lhs": _categorical_lhs(p, q),
            "symbols": symbols_of(p, q),
            "titles": {
                "sum": "in logits, from the defining sum (log-softmax)",
                "bregman": "in logits (the natural parameters), by the Bregman form",
                "substitution": "in logits, by substitution into the probs form",
            },
        },
        notes=f"K = {big_k}. In logits l (p) and m (q): sum_i softmax(l)_i (l_i - m_i) - "
        "logsumexp(l) + logsumexp(m); no normalisation hypothesis is needed.",
    )


FORMS[("categorical", "categorical", "logits")] = _categorical_logits


@register("entropy/categorical")
def _categorical_entropy() -> Derivation:
    p = Categorical.symbolic(1)
    k = p.variable
    lim = p.limits(k)
    pl = p.label("p", k)
    probs = p["probs"]
    steps = (
        Step(
            lhs=Entropy(pl, lim),
            rhs=-sp.Sum(pl * sp.log(pl), lim),
            reason="definition of the entropy",
            check=Rule("definition"),
        ),
        Step(
            rhs=-sp.Add(*(v * sp.log(v) for v in probs)),
            reason=rf"the sum over the ${p.K}$ categories",
            check=Evaluate(),
        ),
    )
    return Derivation(
        name="entropy/categorical",
        title=f"Entropy of the Categorical distribution (K = {p.K})",
        steps=steps,
        symbols=symbols_of(p),
        summary="The entropy from its definition, summed over the categories "
        "(0 log 0 = 0 extends it to zero probabilities by continuity).",
        references=(COVER,),
    )


# --------------------------------------------------------------------------- categorical, any K


@dataclass(frozen=True)
class Renamed(Check):
    r"""Linearity, up to the names of bound summation indices.

    Both sides (densities unfolded, operators rewritten) are brought to their linear
    normal forms and every bound index is given a canonical name (SymPy's ``as_dummy``):
    :math:`\sum_k e^{\ell_k}` and :math:`\sum_i e^{\ell_i}` are then one expression.
    """

    name: str = "linearity"
    label = "linearity (bound indices renamed)"

    def run(self, claim: Claim, ctx: Context) -> Outcome:  # noqa: D102
        if claim.relation != "=":
            return Outcome("failed", "establishes equalities only")
        sides = [
            linear_normal_form(rewrite_operators(unfold(side))).as_dummy()
            for side in (claim.lhs, claim.rhs)
        ]
        return self._decide_equal(sides[0], sides[1], ctx, self.label)

    def describe(self) -> str:  # noqa: D102
        return f"rule: {self.name} (bound summation indices renamed)"


@dataclass(frozen=True)
class Differentiated(Check):
    """SymPy evaluates the derivatives on the left; the right side is compared as written.

    (``Evaluate`` would also sum the right side's sums, which is a separate step here.)
    """

    label = "differentiated by SymPy"

    def run(self, claim: Claim, ctx: Context) -> Outcome:  # noqa: D102
        if claim.relation != "=":
            return Outcome("failed", "establishes equalities only")
        lhs = sp.sympify(unfold(claim.lhs))
        if not lhs.has(sp.Derivative):
            return Outcome("failed", "no derivative on the left")
        value = (
            lhs.doit(deep=False)
            if isinstance(lhs, sp.Derivative)
            else lhs.replace(lambda e: isinstance(e, sp.Derivative), lambda e: e.doit(deep=False))
        )
        if value.has(sp.Derivative):
            return Outcome("unchecked", "SymPy left a derivative unevaluated", value)
        return self._decide_equal(value, unfold(claim.rhs), ctx, self.label)

    def describe(self) -> str:  # noqa: D102
        return "derivative evaluated by SymPy"


class _AnyK:
    """Symbols of the general-K categorical derivations."""

    def __init__(self) -> None:
        self.K = sp.Symbol("K", integer=True, positive=True)
        self.k = sp.Symbol("k", integer=True, nonnegative=True)
        self.i = sp.Symbol("i", integer=True, nonnegative=True)
        self.lim = (self.k, sp.Integer(0), self.K - 1)
        self.inner = (self.i, sp.Integer(0), self.K - 1)
        self.in_range = sp.Le(self.k, self.K - 1)


def _any_k_probs() -> Derivation:
    s = _AnyK()
    k = s.k
    p, q = sp.IndexedBase("p", positive=True), sp.IndexedBase("q", positive=True)
    pl = Labelled(sp.Symbol("p(k)"), p[k])
    ql = Labelled(sp.Symbol("q(k)"), q[k])
    closed = sp.Sum(p[k] * sp.log(p[k] / q[k]), s.lim)
    steps = (
        Step(
            lhs=KL(pl, ql, s.lim),
            rhs=sp.Sum(pl * (sp.log(pl) - sp.log(ql)), s.lim),
            reason="definition of the KL divergence",
            check=Rule("definition"),
        ),
        Step(rhs=closed, reason=r"$p(k) = p_k$, $q(k) = q_k$; collect", check=Algebra()),
    )
    return Derivation(
        name="kl/categorical/categorical/any-k",
        title="KL(Categorical ‖ Categorical) for any number K of categories",
        steps=steps,
        symbols=(s.K, p, q),
        summary="From the definition, for a symbolic number K of categories with positive "
        "probabilities (indexed symbols p_k, q_k). The registered pair is written out for "
        "K = 3 (kl/categorical/categorical); a test checks this sum there.",
        references=(COVER,),
    )


def _any_k_logits_setting() -> tuple[_AnyK, Any, Any, Any, Any, Any, Any]:
    s = _AnyK()
    ell, m = sp.IndexedBase("ell", real=True), sp.IndexedBase("m", real=True)
    z_p = sp.Sum(sp.exp(ell[s.i]), s.inner)
    z_q = sp.Sum(sp.exp(m[s.i]), s.inner)
    pl = Labelled(sp.Symbol("p(k)"), sp.exp(ell[s.k]) / z_p)
    ql = Labelled(sp.Symbol("q(k)"), sp.exp(m[s.k]) / z_q)
    return s, ell, m, z_p, z_q, pl, ql


def _any_k_logits_closed() -> Any:
    s, ell, m, z_p, z_q, _, _ = _any_k_logits_setting()
    k = s.k
    return sp.Sum(sp.exp(ell[k]) * (ell[k] - m[k]), s.lim) / z_p - sp.log(z_p) + sp.log(z_q)


def _any_k_logits_common(s: _AnyK, ell: Any, m: Any, z_p: Any, z_q: Any, pl: Any, ql: Any) -> Any:
    """Lemmas (log-softmax, normalisation) and the chain to Σ p(k)(ℓ_k − m_k) + A(m) − A(ℓ)."""
    k = s.k
    a_p = Labelled(sp.Symbol(r"A(\ell)"), sp.log(z_p))
    a_q = Labelled(sp.Symbol(r"A(m)"), sp.log(z_q))
    ratio = ell[k] - m[k] - a_p + a_q
    ratio_fact = sp.Eq(sp.log(pl) - sp.log(ql), ratio, evaluate=False)
    one = sp.Eq(sp.Sum(pl, s.lim), 1, evaluate=False)
    mean = sp.Sum(pl * (ell[k] - m[k]), s.lim)
    steps = [
        Step(
            lhs=sp.log(pl) - sp.log(ql),
            rhs=ratio,
            reason=r"log-softmax: $\log p(k) = \ell_k - A(\ell)$, "
            r"$A(\ell) = \log \sum_i e^{\ell_i}$",
            check=Algebra(),
        ),
        Step(
            lhs=sp.Sum(pl, s.lim),
            rhs=sp.Integer(1),
            reason="p is normalised: the normaliser does not depend on k",
            check=Renamed(),
        ),
        Step(
            lhs=KL(pl, ql, s.lim),
            rhs=sp.Sum(pl * (sp.log(pl) - sp.log(ql)), s.lim),
            reason="definition of the KL divergence",
            check=Rule("definition"),
        ),
        Step(
            rhs=sp.Sum(pl * ratio, s.lim),
            reason="the log-ratio (above)",
            check=Rule("log-ratio", (ratio_fact,)),
        ),
        Step(
            rhs=mean + (a_q - a_p) * sp.Sum(pl, s.lim),
            reason="linearity",
            check=Rule("linearity of the sum"),
        ),
        Step(
            rhs=mean + a_q - a_p, reason="p is normalised (above)", check=Rule("normalised", (one,))
        ),
    ]
    return steps, mean, a_p, a_q


def _any_k_logits_sum() -> Derivation:
    s, ell, m, z_p, z_q, pl, ql = _any_k_logits_setting()
    steps, _, _, _ = _any_k_logits_common(s, ell, m, z_p, z_q, pl, ql)
    steps.append(Step(rhs=_any_k_logits_closed(), reason="collect terms", check=Algebra()))
    return Derivation(
        name="kl/categorical-logits/categorical-logits/any-k/sum",
        title="KL(Categorical ‖ Categorical) in logits, any K, from the defining sum",
        steps=tuple(steps),
        symbols=(s.K, ell, m),
        summary="From the definition through the log-softmax, for a symbolic number K of "
        "categories (indexed logits).",
        references=(COVER,),
    )


def _any_k_logits_bregman() -> Derivation:
    s, ell, m, z_p, z_q, pl, ql = _any_k_logits_setting()
    k = s.k
    steps, _, a_p, a_q = _any_k_logits_common(s, ell, m, z_p, z_q, pl, ql)
    grad = sp.Derivative(sp.log(z_p), ell[k])
    grad_fact = sp.Eq(grad, sp.exp(ell[k]) / z_p, evaluate=False)
    bregman = a_q - a_p - sp.Sum((m[k] - ell[k]) * grad, s.lim)
    delta_sum = sp.Sum(sp.KroneckerDelta(s.i, k) * sp.exp(ell[s.i]), s.inner)
    delta_fact = sp.Eq(delta_sum, sp.exp(ell[k]), evaluate=False)
    steps = [
        Step(
            lhs=delta_sum,
            rhs=sp.exp(ell[k]),
            reason=r"the sum picks the term $i = k$, for a category $k \le K - 1$",
            check=Evaluate(),
        ),
        Step(
            lhs=grad,
            rhs=sp.diff(sp.log(z_p), ell[k]),
            reason=r"differentiate $A(\ell) = \log \sum_i e^{\ell_i}$ (SymPy)",
            check=Differentiated(),
        ),
        Step(
            rhs=sp.exp(ell[k]) / z_p,
            reason="the sum (above): the gradient is the softmax",
            check=Rule("the sum picks i = k", (delta_fact,)),
        ),
        *steps,
        Step(
            rhs=sp.Sum((ell[k] - m[k]) * grad, s.lim) + a_q - a_p,
            reason=r"the mean of the statistic is the gradient: $p(k) = \partial_k A(\ell)$",
            check=Rule("gradient of A", (grad_fact,)),
        ),
        Step(
            rhs=bregman,
            reason=r"the Bregman form $A(m) - A(\ell) - \langle m - \ell, \nabla A(\ell)\rangle$",
            check=Algebra(),
        ),
        Step(
            rhs=_any_k_logits_closed(),
            reason="the gradient (above); collect",
            check=Rule("gradient of A", (grad_fact,)),
        ),
    ]
    return Derivation(
        name="kl/categorical-logits/categorical-logits/any-k/bregman",
        title="KL(Categorical ‖ Categorical) in logits, any K, by the Bregman form",
        steps=tuple(steps),
        symbols=(s.K, ell, m, k),
        conditions=(s.in_range,),
        summary=r"The exponential-family route for a symbolic K: the logits are the natural "
        r"parameters, $A(\ell) = \log \sum_i e^{\ell_i}$, its gradient (the softmax) "
        r"differentiated by SymPy; KL is the Bregman divergence of $A$.",
        references=(COVER, BROWN),
    )


register("kl/categorical/categorical/any-k")(_any_k_probs)
register("kl/categorical-logits/categorical-logits/any-k/sum")(_any_k_logits_sum)
register("kl/categorical-logits/categorical-logits/any-k/bregman")(_any_k_logits_bregman)


# --------------------------------------------------------------------------- binomial, logits


class _BinomialLogits(Binomial):
    r"""``Binomial(total_count=n, logits=ℓ)``: probs :math:`\sigma(\ell)`, natural parameter ℓ.

    The mass function is the family's at ``probs`` :math:`1 / (1 + e^{-\ell})`; only
    :meth:`natural` is written in the logits (the Bregman route checks the
    exponential-family form against the mass function).
    """

    def __init__(self, total_count: Any, logits: Any) -> None:
        ell = sp.sympify(logits)
        if ell.is_real is False:
            raise ValueError(f"Binomial: logits must be real (got {ell})")
        super().__init__(total_count=total_count, probs=1 / (1 + sp.exp(-ell)))
        self.logits = ell

    def natural(self) -> tuple[Any, ...]:
        return (self.logits,)


def _binomial_logits() -> PairSpec:
    n = sp.Symbol("n", integer=True, positive=True)
    l1, l2 = sp.Symbol("ell_1", real=True), sp.Symbol("ell_2", real=True)
    p, q = _BinomialLogits(n, l1), _BinomialLogits(n, l2)

    def softplus(v: Any) -> Any:
        return sp.log(1 + sp.exp(v))

    return PairSpec(
        p,
        q,
        n * ((l1 - l2) / (1 + sp.exp(-l1)) + softplus(l2) - softplus(l1)),
        {},
        ("bregman", "substitution"),
        (COVER, BROWN),
        extra={
            "params": ({"total_count": n, "logits": l1}, {"total_count": n, "logits": l2}),
            "title": "KL(Binomial ‖ Binomial) in logits",
            "normaliser_lemma": _binomial_normaliser,
            "builders": {"substitution": substitution_route},
            "titles": {
                "bregman": "in logits (the natural parameter), by the Bregman form",
                "substitution": "in logits, by substitution into the probs form",
            },
        },
        notes="Same total_count n. In logits: n [sigma(l_1) (l_1 - l_2) + softplus(l_2) - "
        "softplus(l_1)], A(l) = n log(1 + e^l).",
    )


FORMS[("binomial", "binomial", "logits")] = _binomial_logits
