r"""Builders of the route derivations, shared by every pair of the catalogue.

* :func:`integral_route` — from the defining integral (or sum): expand
  :math:`\\log p - \\log q` into features of :math:`x`, take each expectation under
  :math:`p` as a checked lemma (evaluated by SymPy, or a lemma chain), recombine.
* :func:`bregman_route` — from the exponential-family form: the normaliser
  :math:`Z(\\eta)` evaluated from the density, :math:`\\mathbb{E}[T_i]` by
  differentiating it under the integral sign, then
  :math:`A(\\eta_2) - A(\\eta_1) - \\langle \\eta_2 - \\eta_1, \\nabla A(\\eta_1)\\rangle`.
* :func:`cross_entropy_route` — :math:`H(p, q) - H(p)`, each from its own lemmas.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from klproof.derivation import (
    KL,
    Algebra,
    Check,
    CrossEntropy,
    Derivation,
    Entropy,
    Evaluate,
    Labelled,
    Rule,
    Step,
)
from klproof.symbolic.families import Family
from klproof.symbolic.kl._checks import Instance, Leibniz, Memo, Using

__all__ = [
    "FINITE_SUM",
    "INTEGRAL_OR_SUM",
    "ITERATED_INTEGRAL",
    "Aggregator",
    "LemmaBuilder",
    "Moments",
    "bregman_route",
    "cross_entropy_route",
    "decompose",
    "entropy_derivation",
    "integral_route",
]

#: A lemma chain: given p's label and limits, steps whose last chain ends at the value.
LemmaBuilder = Callable[[Any, tuple[Any, Any, Any]], list[Step]]
#: Expectations under p of the features of x: a value (evaluated by SymPy) or a chain.
Moments = dict[Any, Any]


def agg(expr: Any, lim: tuple[Any, Any, Any]) -> Any:
    """Integral over a real variable, sum over an integer one."""
    return sp.Sum(expr, lim) if lim[0].is_integer else sp.Integral(expr, lim)


def decompose(expr: Any, x: Any) -> dict[Any, Any]:
    """Split ``expr`` into ``{feature of x: coefficient}`` (``1`` for the constant).

    Logarithms are expanded with ``force=True``: the result is a *claim*, proven by
    the log-ratio lemma (an :class:`~klproof.derivation.Algebra` step under the
    parameters' conditions) before it is used.
    """
    expr = sp.expand(sp.expand_log(sp.expand(expr), force=True))
    groups: dict[Any, Any] = {}
    for term in sp.Add.make_args(expr):
        coeff, feature = term.as_independent(x, as_Add=False)
        groups[feature] = groups.get(feature, sp.Integer(0)) + coeff
    return {f: c for f, c in groups.items() if c != 0}


def _moment_lemmas(
    pl: Any, lim: tuple[Any, Any, Any], features: Sequence[Any], moments: Moments, who: str
) -> tuple[list[Step], dict[Any, Any], list[Any]]:
    """Lemma steps for E_p[f] of each feature; returns steps, values and the facts."""
    steps: list[Step] = []
    values: dict[Any, Any] = {}
    facts: list[Any] = []
    for f in features:
        lhs = agg(pl * f, lim) if f != 1 else agg(pl, lim)
        if f == 1 and 1 not in moments:
            value: Any = sp.Integer(1)
            chain = [Step(lhs=lhs, rhs=value, reason="p is normalised", check=Memo(Evaluate()))]
        elif f in moments:
            spec = moments[f]
            if callable(spec):
                chain = spec(pl, lim)
                value = chain[-1].rhs
            else:
                value = sp.sympify(spec)
                chain = [
                    Step(lhs=lhs, rhs=value, reason="expectation evaluated", check=Memo(Evaluate()))
                ]
        else:
            raise KeyError(f"{who}: no expectation given for the feature {sp.sstr(f)}")
        if chain[-1].rhs != value or _chain_lhs(chain) != lhs:
            raise ValueError(f"{who}: the lemma for {sp.sstr(f)} does not end at its value")
        steps = _merge_chains(steps, chain)
        values[f] = value
        facts.append(sp.Eq(lhs, value, evaluate=False))
    return steps, values, facts


def _chain_lhs(chain: list[Step]) -> Any:
    for step in reversed(chain):
        if step.lhs is not None:
            return step.lhs
    return None


def _expectation_chain(
    op: Any,
    start: Any,
    integrand: Any,
    pl: Any,
    lim: tuple[Any, Any, Any],
    moments: Moments,
    who: str,
    sign: int = 1,
) -> tuple[list[Step], list[Step], Any]:
    """Lemmas and the chain ``op = ±∫ p·start = ±∫ p·Σ c f = ±Σ c ∫ p f = ±Σ c m``.

    ``start`` is the (labelled) logarithmic expression, ``integrand`` its unfolded
    form; returns the lemmas, the chain and the final value.
    """
    x = lim[0]
    groups = decompose(integrand, x)
    lemmas, values, facts = _moment_lemmas(pl, lim, list(groups), moments, who)
    split = sp.Add(*(c * (agg(pl * f, lim) if f != 1 else agg(pl, lim)) for f, c in groups.items()))
    value = sign * sp.Add(*(c * values[f] for f, c in groups.items()))
    expanded = sp.Add(*(c * f for f, c in groups.items()))
    lemmas.append(
        Step(
            lhs=start,
            rhs=expanded,
            reason="expand the logarithms (under the parameters' constraints)",
            check=Algebra(),
        )
    )
    fact = sp.Eq(start, expanded, evaluate=False)
    chain = [
        Step(
            lhs=op,
            rhs=sign * agg(pl * start, lim),
            reason="definition",
            check=Rule("definition"),
        ),
        Step(
            rhs=sign * agg(pl * expanded, lim),
            reason="the log-ratio lemma",
            check=Using("log-ratio", (fact,)),
        ),
        Step(
            rhs=sign * split,
            reason="linearity",
            check=Rule("linearity of the integral"),
        ),
        Step(
            rhs=value,
            reason="the expectations (lemmas above)",
            check=Using("lemmas", tuple(facts)),
        ),
    ]
    return lemmas, chain, value


def integral_route(
    name: str,
    p: Family,
    q: Family,
    closed: Any,
    moments: Moments,
    *,
    title: str,
    references: tuple[str, ...] = (),
    conditions: tuple[Any, ...] = (),
) -> Derivation:
    """KL(p ‖ q) from its defining integral, through lemmas for E_p of each feature."""
    x = p.variable
    lim = p.limits(x)
    pl, ql = p.label("p", x), q.label("q", x)
    kl = KL(pl, ql, lim)
    lemmas, chain, _ = _expectation_chain(
        kl, sp.log(pl) - sp.log(ql), sp.log(p.pdf(x)) - sp.log(q.pdf(x)), pl, lim, moments, name
    )
    steps = [
        *lemmas,
        *chain,
        Step(rhs=closed, reason="collect terms", check=Algebra()),
    ]
    return Derivation(
        name=name,
        title=title,
        steps=tuple(steps),
        symbols=_symbols(p, q),
        conditions=conditions or _conditions(p, q),
        summary=(
            f"From the definition: p is {p!r} and q is {q!r}. The log-ratio is split into "
            "functions of the variable whose expectations under p are lemmas."
        ),
        references=references,
    )


def symbols_of(*fams: Family) -> tuple[Any, ...]:
    """The free symbols of the families' parameters, in order."""
    return _symbols(*fams)


def conditions_of(*fams: Family) -> tuple[Any, ...]:
    """The families' conditions that are not sign assumptions."""
    return _conditions(*fams)


def _symbols(*fams: Family) -> tuple[Any, ...]:
    out: list[Any] = []
    for f in fams:
        for v in f.values.values():
            for s in sorted(v.free_symbols, key=str):
                if s not in out:
                    out.append(s)
    return tuple(out)


def _conditions(*fams: Family) -> tuple[Any, ...]:
    out: list[Any] = []
    for f in fams:
        for c in f.conditions():
            if c not in out and c is not sp.true:
                out.append(c)
    return tuple(out)


def _dot(a: Sequence[Any], b: Sequence[Any]) -> Any:
    return sp.Add(*(u * v for u, v in zip(a, b, strict=True)))


@dataclass(frozen=True)
class Aggregator:
    r"""How :func:`bregman_route` writes an expectation over p's support, and its words.

    ``of(expr, lim)`` is the integral or sum of ``expr`` over ``lim`` (what
    ``p.limits(x)`` returns); ``linearity`` names the rule that splits it;
    ``differentiate(i)`` is the reason for moving :math:`\partial / \partial\eta_i` inside.
    """

    of: Callable[[Any, Any], Any] = agg
    linearity: str = "linearity of the integral"
    differentiate: Callable[[int], str] = lambda i: (
        "differentiate Z under the integral sign (interior of the natural "
        f"parameter space) in η_{i}"
    )


#: The default: an integral over a real variable, a sum over an integer one.
INTEGRAL_OR_SUM = Aggregator()
#: A sum over a finite support, differentiated term by term.
FINITE_SUM = Aggregator(
    of=sp.Sum,
    linearity="linearity of the sum",
    differentiate=lambda i: rf"differentiate $Z$ in $\eta_{{{i}}}$ term by term (a finite sum)",
)
#: An iterated integral; ``lim`` is a tuple of limits, innermost first.
ITERATED_INTEGRAL = Aggregator(of=lambda expr, lims: sp.Integral(expr, *lims))


def bregman_route(
    name: str,
    p: Family,
    q: Family,
    closed: Any,
    *,
    title: str,
    references: tuple[str, ...] = (),
    normaliser_lemma: LemmaBuilder | None = None,
    normaliser_check: Check | None = None,
    eta: tuple[Any, ...] | None = None,
    aggregator: Aggregator = INTEGRAL_OR_SUM,
    pointwise: Check | None = None,
    derivative: Callable[[Any, Any], Any] = sp.diff,
    symbols: tuple[Any, ...] = (),
    conditions: tuple[Any, ...] = (),
    summary: str | None = None,
) -> Derivation:
    r"""KL between two members of one exponential family by the Bregman form.

    Lemmas: :math:`Z(\eta) = \int h e^{\eta\cdot T}` evaluated by SymPy (or a given
    chain); :math:`\int T_i h e^{\eta\cdot T} = \partial_i Z` by differentiation under
    the integral sign; both instantiated at :math:`\eta(\theta_p)`. Then
    :math:`\mathrm{KL} = A(\eta_q) - A(\eta_p) - \langle \eta_q - \eta_p, \nabla A(\eta_p)\rangle`.

    ``eta`` names the natural parameters (default: the family's :meth:`eta_symbols`);
    ``aggregator`` says how the integral over the support is written (a sum over a
    finite support, an iterated integral, …); ``pointwise`` checks the exponential-family
    form and the log-ratio (default :class:`~klproof.derivation.Algebra`; a check on each
    point of the support where SymPy cannot expand the logarithms alone); ``derivative``
    writes :math:`\partial Z / \partial \eta_i` (default ``sp.diff``; a factored form reads
    better where :math:`Z` is a ratio of Gamma functions). ``symbols`` and
    ``conditions`` are added to the derivation's; ``summary`` replaces the default.
    """
    x = p.variable
    lim = p.limits(x)
    eta = type(p).eta_symbols() if eta is None else eta
    total = aggregator.of
    eta_p, eta_q = p.natural(), q.natural()
    z_eta = p.normaliser_of(eta)
    unnorm = p.unnormalised(eta, x)
    z_int = total(unnorm, lim)
    steps: list[Step] = []
    extra_conditions: list[Any] = []
    if p.discrete and normaliser_lemma is None:
        steps += _geometric_normaliser(p, eta, lim, z_int, z_eta, extra_conditions)
    elif normaliser_lemma is not None:
        steps += normaliser_lemma(unnorm, lim)
        if steps[-1].rhs != z_eta or _chain_lhs(steps) != z_int:
            raise ValueError(f"{name}: the normaliser lemma does not go from ∫ h e^(η·T) to Z(η)")
    else:
        steps.append(
            Step(
                lhs=z_int,
                rhs=z_eta,
                reason="the normaliser Z(η), evaluated from the density",
                check=Memo(normaliser_check or Evaluate()),
            )
        )
    z_fact = sp.Eq(z_int, z_eta, evaluate=False)
    stats = p.statistics(x)
    m_facts = []
    for i, (e, t) in enumerate(zip(eta, stats, strict=True)):
        m_int = total(t * unnorm, lim)
        dz = derivative(z_eta, e)
        steps += [
            Step(
                lhs=m_int,
                rhs=sp.Derivative(z_int, e),
                reason=aggregator.differentiate(i + 1),
                check=Memo(Leibniz()),
            ),
            Step(
                rhs=sp.Derivative(z_eta, e),
                reason="the normaliser lemma",
                check=Using("Z", (z_fact,)),
            ),
            Step(rhs=dz, reason="differentiate", check=Memo(Evaluate())),
        ]
        m_facts.append(sp.Eq(m_int, dz, evaluate=False))
    subs = tuple(zip(eta, eta_p, strict=True))
    inst_facts = []
    for fact in (z_fact, *m_facts):
        lhs = fact.lhs.subs(dict(subs))
        rhs = fact.rhs.subs(dict(subs))
        steps.append(
            Step(
                lhs=lhs,
                rhs=rhs,
                reason="at the natural parameters of p",
                check=Instance(fact, subs),
            )
        )
        inst_facts.append(sp.Eq(lhs, rhs, evaluate=False))
    pl, ql = p.label("p", x), q.label("q", x)
    kl = KL(pl, ql, lim)
    z_p = z_eta.subs(dict(subs))
    a_p = Labelled(sp.Symbol(r"A(\eta_p)"), p.log_normaliser_of(eta_p))
    a_q = Labelled(sp.Symbol(r"A(\eta_q)"), q.log_normaliser_of(eta_q))
    grads = [
        Labelled(
            sp.Symbol(rf"\partial_{{{i + 1}}} A(\eta_p)"),
            sp.diff(p.log_normaliser_of(eta), e).subs(dict(subs)),
        )
        for i, e in enumerate(eta)
    ]
    unnorm_p = unnorm.subs(dict(subs))  # the same form as in the instantiated lemmas
    diffs = [ep - eq for ep, eq in zip(eta_p, eta_q, strict=True)]
    log_ratio = sp.Add(*(d * t for d, t in zip(diffs, stats, strict=True))) + a_q - a_p
    ratio_fact = sp.Eq(sp.log(pl) - sp.log(ql), log_ratio, evaluate=False)
    density_fact = sp.Eq(pl, unnorm_p / z_p, evaluate=False)
    split = sp.Add(*(d * total(pl * t, lim) for d, t in zip(diffs, stats, strict=True))) + (
        a_q - a_p
    ) * total(pl, lim)
    expanded = (
        sp.Add(*(d * f.lhs / z_p for d, f in zip(diffs, inst_facts[1:], strict=True)))
        + (a_q - a_p) * inst_facts[0].lhs / z_p
    )
    values = (
        sp.Add(*(d * f.rhs / z_p for d, f in zip(diffs, inst_facts[1:], strict=True)))
        + (a_q - a_p) * inst_facts[0].rhs / z_p
    )
    bregman = a_q - a_p - _dot([eq - ep for ep, eq in zip(eta_p, eta_q, strict=True)], grads)
    steps += [
        Step(
            lhs=pl,
            rhs=unnorm_p / z_p,
            reason="p in exponential-family form",
            check=pointwise or Algebra(),
        ),
        Step(
            lhs=sp.log(pl) - sp.log(ql),
            rhs=log_ratio,
            reason="the log-ratio in exponential-family form",
            check=pointwise or Algebra(),
        ),
        Step(
            lhs=kl,
            rhs=total(pl * (sp.log(pl) - sp.log(ql)), lim),
            reason="definition of the KL divergence",
            check=Rule("definition"),
        ),
        Step(
            rhs=total(pl * log_ratio, lim),
            reason="the log-ratio lemma",
            check=Using("log-ratio", (ratio_fact,)),
        ),
        Step(rhs=split, reason="linearity", check=Rule(aggregator.linearity)),
        Step(
            rhs=expanded,
            reason="p in exponential-family form",
            check=Using("exponential-family form", (density_fact,)),
        ),
        Step(
            rhs=values,
            reason="the normaliser and its derivatives at η_p",
            check=Using("lemmas", tuple(inst_facts)),
        ),
        Step(rhs=bregman, reason="A = log Z, so ∂A = ∂Z / Z: the Bregman form", check=Algebra()),
        Step(rhs=closed, reason="collect terms", check=Algebra()),
    ]
    return Derivation(
        name=name,
        title=title,
        steps=tuple(steps),
        symbols=(*_symbols(p, q), *eta, *symbols),
        conditions=(*(conditions or _conditions(p, q)), *extra_conditions),
        summary=summary
        or (
            "The exponential-family route: the normaliser is evaluated once from the density; "
            "the mean of each sufficient statistic is its derivative; KL is the Bregman "
            "divergence of the log-normaliser A."
        ),
        references=references,
    )


def _geometric_normaliser(
    p: Family,
    eta: tuple[Any, ...],
    lim: tuple[Any, Any, Any],
    z_int: Any,
    z_eta: Any,
    extra_conditions: list[Any],
) -> list[Step]:
    """Z(η) for a discrete family with T = c·k: a power series in y = exp(c η), instantiated."""
    k = lim[0]
    (e,) = eta
    (t,) = p.statistics(k)
    c = t.coeff(k)
    y = sp.Symbol("y", positive=True)
    kernel = p.base_measure(k) * y**k
    z_y = sp.simplify(type(p).normaliser((sp.log(y) / c,)))
    if lim[2] == sp.oo and not sp.limit(z_y, y, sp.oo).is_infinite is False:
        pass
    if type(p).name == "geometric":
        extra_conditions.append(y < 1)
    fact = sp.Eq(agg(kernel, lim), z_y, evaluate=False)
    return [
        Step(
            lhs=agg(kernel, lim),
            rhs=z_y,
            reason="the normaliser as a power series in y, summed by SymPy",
            check=Memo(Evaluate()),
        ),
        Step(
            lhs=z_int,
            rhs=z_eta,
            reason=f"at $y = {sp.latex(sp.exp(c * e))}$",
            check=Instance(fact, ((y, sp.exp(c * e)),)),
        ),
    ]


def cross_entropy_route(
    name: str,
    p: Family,
    q: Family,
    closed: Any,
    moments: Moments,
    *,
    title: str,
    references: tuple[str, ...] = (),
    conditions: tuple[Any, ...] = (),
) -> Derivation:
    """KL(p ‖ q) as cross-entropy minus entropy, each evaluated from its own lemmas."""
    x = p.variable
    lim = p.limits(x)
    pl, ql = p.label("p", x), q.label("q", x)
    h_start = Entropy(pl, lim)
    c_start = CrossEntropy(pl, ql, lim)
    h_lemmas, h_chain, h_value = _expectation_chain(
        h_start, sp.log(pl), sp.log(p.pdf(x)), pl, lim, moments, name, sign=-1
    )
    c_lemmas, c_chain, c_value = _expectation_chain(
        c_start, sp.log(ql), sp.log(q.pdf(x)), pl, lim, moments, name, sign=-1
    )
    steps: list[Step] = _merge_chains(h_lemmas, c_lemmas)
    steps += [*h_chain, *c_chain]
    h_fact = sp.Eq(h_start, h_value, evaluate=False)
    c_fact = sp.Eq(c_start, c_value, evaluate=False)
    kl = KL(pl, ql, lim)
    steps += [
        Step(
            lhs=kl,
            rhs=c_start - h_start,
            reason="KL is cross-entropy minus entropy",
            check=Rule("definitions"),
        ),
        Step(
            rhs=c_value - h_value, reason="the two lemmas", check=Using("lemmas", (h_fact, c_fact))
        ),
        Step(rhs=closed, reason="collect terms", check=Algebra()),
    ]
    return Derivation(
        name=name,
        title=title,
        steps=tuple(steps),
        symbols=_symbols(p, q),
        conditions=conditions or _conditions(p, q),
        summary="Cross-entropy minus entropy, each from the definition through its own lemmas.",
        references=references,
    )


def _merge_chains(*lists: list[Step]) -> list[Step]:
    """Concatenate lemma lists, dropping a chain whose starting lhs was seen."""
    out: list[Step] = []
    seen: list[Any] = []
    for steps in lists:
        chains: list[list[Step]] = []
        for st in steps:
            if st.lhs is not None:
                chains.append([st])
            else:
                chains[-1].append(st)
        for chain in chains:
            if chain[0].lhs in seen:
                continue
            seen.append(chain[0].lhs)
            out.extend(chain)
    return out


def entropy_derivation(
    name: str,
    p: Family,
    closed: Any,
    moments: Moments,
    *,
    title: str,
    references: tuple[str, ...] = (),
) -> Derivation:
    """H(p) from its definition through lemmas for the features of log p."""
    x = p.variable
    lim = p.limits(x)
    pl = p.label("p", x)
    start = Entropy(pl, lim)
    lemmas, chain, _ = _expectation_chain(
        start, sp.log(pl), sp.log(p.pdf(x)), pl, lim, moments, name, sign=-1
    )
    steps = [
        *lemmas,
        *chain,
        Step(rhs=closed, reason="collect terms", check=Algebra()),
    ]
    return Derivation(
        name=name,
        title=title,
        steps=tuple(steps),
        symbols=_symbols(p),
        conditions=_conditions(p),
        summary=f"The entropy of {p!r} from its definition.",
        references=references,
    )
