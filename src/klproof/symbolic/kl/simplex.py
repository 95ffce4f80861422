r"""KL between Dirichlet distributions (K = 3), by iterated integration over the simplex.

The normaliser, the multivariate Beta integral

.. math:: Z(\eta) = \int_0^1 \int_0^{1 - x_1} x_1^{\eta_1 - 1} x_2^{\eta_2 - 1}
    (1 - x_1 - x_2)^{\eta_3 - 1} \, dx_2 \, dx_1
    = \frac{\Gamma(\eta_1)\Gamma(\eta_2)\Gamma(\eta_3)}{\Gamma(\eta_1 + \eta_2 + \eta_3)},

is checked in three steps: SymPy evaluates the one-dimensional lemma
:math:`\int_0^c t^{a-1} (c - t)^{b-1} dt = c^{a+b-1} B(a, b)` for a positive :math:`c`
(Meijer G); it is instantiated at :math:`c = 1 - x_1` (checked positive for
:math:`x_1 < 1`) inside the outer integral; the remaining Beta integral in :math:`x_1`
is evaluated. :math:`\mathbb{E}[\log x_i]` then comes from differentiating :math:`Z`
under the integral sign. Pointwise identities on the simplex (the log-ratio) are
checked by :class:`OnSimplex`, which maps the open simplex onto the positive orthant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from klproof.derivation import (
    KL,
    Algebra,
    Check,
    Claim,
    Context,
    CrossEntropy,
    Derivation,
    Entropy,
    Evaluate,
    Outcome,
    Rule,
    Step,
)
from klproof.derivation.ops import unfold
from klproof.symbolic.families import Dirichlet
from klproof.symbolic.kl._checks import Instance, Integrate, Leibniz, Memo, Using
from klproof.symbolic.kl._routes import ITERATED_INTEGRAL, bregman_route, symbols_of
from klproof.symbolic.kl.catalogue import PairSpec, _spec
from klproof.symbolic.registry import register

__all__ = ["InnerFactor", "OnSimplex"]

PENNY = "W. D. Penny, KL-divergences of Normal, Gamma, Dirichlet and Wishart densities, 2001"
BROWN = "L. D. Brown, Fundamentals of Statistical Exponential Families, 1986, Thm. 2.2"
TORCH = "PyTorch torch/distributions/kl.py (formula cross-checked here, not copied)"


@dataclass(frozen=True)
class OnSimplex(Check):
    r"""A pointwise identity on the open simplex :math:`\{x_i > 0, \sum_i x_i < 1\}`.

    Checked by substituting :math:`x_i = s_i / (1 + \sum_j s_j)` with :math:`s_j > 0` — a
    bijection of the positive orthant onto the open simplex, under which every
    coordinate and :math:`1 - \sum_i x_i = 1 / (1 + \sum_j s_j)` is positive, so SymPy
    may expand the logarithms — and reducing the difference of the two sides to 0.
    """

    variables: tuple[Any, ...]
    label = "pointwise on the simplex"

    def run(self, claim: Claim, ctx: Context) -> Outcome:  # noqa: D102
        if claim.relation != "=":
            return Outcome("failed", "establishes equalities only")
        s = [sp.Dummy(f"s_{i + 1}", positive=True) for i in range(len(self.variables))]
        total = 1 + sp.Add(*s)
        mapping = {x: si / total for x, si in zip(self.variables, s, strict=True)}
        sides = [unfold(side).xreplace(mapping) for side in (claim.lhs, claim.rhs)]
        if any(side.has(sp.Integral, sp.Sum) for side in sides):
            return Outcome("failed", "a pointwise identity has no integrals")
        return self._decide_equal(sides[0], sides[1], ctx, self.label)

    def describe(self) -> str:  # noqa: D102
        return "pointwise on the open simplex (mapped onto the positive orthant)"


@dataclass(frozen=True)
class InnerFactor(Check):
    r"""Linearity of the inner integral of an iterated one.

    :math:`\int_a^b f(x) \int_c^{d(x)} g(x, y)\,dy\,dx = \int_a^b \int_c^{d(x)} f(x)
    g(x, y)\,dy\,dx`: a factor free of the inner variable moves into the inner integral.
    Both sides are brought to that form (every factor of an integrand that is an
    integral, checked free of its variable, is moved in) and must then agree.
    """

    label = "linearity of the inner integral"

    def run(self, claim: Claim, ctx: Context) -> Outcome:  # noqa: D102
        if claim.relation != "=":
            return Outcome("failed", "establishes equalities only")
        sides = [_move_in(unfold(side)) for side in (claim.lhs, claim.rhs)]
        return self._decide_equal(sides[0], sides[1], ctx, self.label)

    def describe(self) -> str:  # noqa: D102
        return "rule: a factor free of the inner variable moves into the inner integral"


def _move_in(expr: Any) -> Any:
    def merge(node: Any) -> Any:
        inner = [f for f in sp.Mul.make_args(node.function) if isinstance(f, sp.Integral)]
        if len(inner) != 1:
            return node
        (integral,) = inner
        rest = node.function / integral
        if rest.has(*(lim[0] for lim in integral.limits)):
            return node
        return sp.Integral(rest * integral.function, *integral.limits, *node.limits)

    return expr.replace(lambda e: isinstance(e, sp.Integral), merge)


def _integral(expr: Any, limits: tuple[Any, ...]) -> Any:
    return sp.Integral(expr, *limits)


def _kernel(f: Dirichlet, eta: tuple[Any, ...], x: Any) -> Any:
    r""":math:`h(x) e^{\eta \cdot T(x)} = \prod_i x_i^{\eta_i - 1}`."""
    return sp.Mul(*(c ** (e - 1) for c, e in zip(f.coordinates(x), eta, strict=True)))


def _normaliser_steps(f: Dirichlet, eta: tuple[Any, ...]) -> tuple[list[Step], Any]:
    """Z(η) by iterated integration (K = 3); returns the steps and the established fact.

    The two Beta integrals are stated once in generic symbols ``a``, ``b``, ``c`` (so a
    second route in the same process reuses SymPy's verdict) and instantiated.
    """
    x1, x2 = f.variable
    a1, a2, a3 = eta
    lim = f.limits()
    a, b, c = (sp.Symbol(n, positive=True) for n in ("a", "b", "c"))

    def beta(u: Any, v: Any) -> Any:
        return sp.gamma(u) * sp.gamma(v) / sp.gamma(u + v)

    g1 = sp.Integral(x2 ** (a - 1) * (c - x2) ** (b - 1), (x2, 0, c))
    g1_fact = sp.Eq(g1, c ** (a + b - 1) * beta(a, b), evaluate=False)
    g2 = sp.Integral(x1 ** (a - 1) * (1 - x1) ** (b - 1), (x1, 0, 1))
    g2_fact = sp.Eq(g2, beta(a, b), evaluate=False)
    inner_subs = ((a, a2), (b, a3), (c, 1 - x1))
    inner = g1.subs(dict(inner_subs))
    inner_value = g1_fact.rhs.subs(dict(inner_subs))
    inner_fact = sp.Eq(inner, inner_value, evaluate=False)
    outer_subs = ((a, a1), (b, a2 + a3))
    outer = g2.subs(dict(outer_subs))
    outer_value = g2_fact.rhs.subs(dict(outer_subs))
    z_int = _integral(_kernel(f, eta, f.variable), lim)
    z = Dirichlet.normaliser(eta)
    steps = [
        Step(
            lhs=g1,
            rhs=g1_fact.rhs,
            reason=r"Euler's Beta integral on $(0, c)$, $c > 0$",
            check=Memo(Integrate()),
        ),
        Step(
            lhs=g2,
            rhs=g2_fact.rhs,
            reason="Euler's Beta integral",
            check=Memo(Integrate()),
        ),
        Step(
            lhs=inner,
            rhs=inner_value,
            reason=rf"at $a = {sp.latex(a2)}$, $b = {sp.latex(a3)}$, $c = 1 - x_1$ (positive "
            r"for $x_1 < 1$)",
            check=Instance(g1_fact, inner_subs),
        ),
        Step(
            lhs=outer,
            rhs=outer_value,
            reason=rf"at $a = {sp.latex(a1)}$, $b = {sp.latex(a2 + a3)}$",
            check=Instance(g2_fact, outer_subs),
        ),
        Step(
            lhs=z_int,
            rhs=sp.Integral(x1 ** (a1 - 1) * inner, (x1, 0, 1)),
            reason="iterated integral: the factor of $x_1$ outside the inner integral",
            check=InnerFactor(),
        ),
        Step(
            rhs=sp.Integral(x1 ** (a1 - 1) * inner_value, (x1, 0, 1)),
            reason="the inner integral (above)",
            check=Using("inner integral", (inner_fact,)),
        ),
        Step(
            rhs=beta(a2, a3) * outer,
            reason="linearity",
            check=Rule("linearity of the integral"),
        ),
        Step(
            rhs=z,
            reason=rf"the Beta integral in $x_1$ (above); $\Gamma({sp.latex(a2 + a3)})$ cancels",
            check=Using("outer integral", (sp.Eq(outer, outer_value, evaluate=False),)),
        ),
    ]
    return steps, sp.Eq(z_int, z, evaluate=False)


def _conditions(f: Dirichlet) -> tuple[Any, ...]:
    x1 = f.variable[0]
    return (x1 < 1,)


def _dirichlet_lhs(p: Dirichlet, q: Dirichlet) -> Any:
    return KL(p.label("p"), q.label("q"), p.limits())


def _dirichlets(s: PairSpec) -> tuple[Dirichlet, Dirichlet]:
    if not (isinstance(s.p, Dirichlet) and isinstance(s.q, Dirichlet)):
        raise TypeError("expected a pair of Dirichlet families")
    return s.p, s.q


def _log_ratio(p: Dirichlet, q: Dirichlet, constant: Any) -> tuple[Any, Any, Step]:
    """The log-ratio lemma: log p - log q = Σ (α_i - β_i) log x_i + constant."""
    x = p.variable
    pl, ql = p.label("p"), q.label("q")
    ratio = (
        sp.Add(
            *(
                (a - b) * t
                for a, b, t in zip(
                    p["concentration"], q["concentration"], p.statistics(x), strict=True
                )
            )
        )
        + constant
    )
    step = Step(
        lhs=sp.log(pl) - sp.log(ql),
        rhs=ratio,
        reason="the log-ratio, pointwise on the simplex",
        check=OnSimplex(tuple(x)),
    )
    return ratio, sp.Eq(sp.log(pl) - sp.log(ql), ratio, evaluate=False), step


def _dirichlet_bregman(name: str, s: PairSpec, *, title: str, references: tuple[str, ...]) -> Any:
    r"""KL by the Bregman form of :math:`A(\eta) = \sum_i \log\Gamma(\eta_i) - \log\Gamma(\eta_0)`."""
    p, q = _dirichlets(s)
    eta = tuple(sp.Symbol(f"eta_{i + 1}", positive=True) for i in range(p.K))
    return bregman_route(
        name,
        p,
        q,
        s.closed,
        title=title,
        references=references,
        normaliser_lemma=lambda unnorm, lim: _normaliser_steps(p, eta)[0],
        eta=eta,
        aggregator=ITERATED_INTEGRAL,
        pointwise=OnSimplex(tuple(p.variable)),
        derivative=lambda z, e: sp.factor_terms(sp.diff(z, e)),  # Γ' = Γψ: Z (ψ(η_i) − ψ(η_0))
        symbols=tuple(p.variable),
        conditions=_conditions(p),
        summary=r"The exponential-family route: $T_i = \log x_i$, the normaliser (the "
        r"multivariate Beta integral) by iterated integration over the simplex, its "
        r"gradient by differentiating under the integral sign; KL is the Bregman "
        r"divergence of $A = \log Z$.",
    )


def _log_moments(p: Dirichlet) -> tuple[list[Step], list[Any], list[Any]]:
    """Lemmas: p is normalised and E_p[log x_i] = ψ(α_i) - ψ(α_0), from the normaliser."""
    x = p.variable
    lim = p.limits()
    alpha = tuple(p["concentration"])
    a0 = sp.Add(*alpha)
    steps, z_fact = _normaliser_steps(p, alpha)
    z_int, z = z_fact.lhs, z_fact.rhs
    pl = p.label("p")
    stats = p.statistics(x)
    means = []
    one = _integral(pl, lim)
    steps += [
        Step(
            lhs=one,
            rhs=z_int / z,
            reason="p = kernel / Z; linearity",
            check=Rule("linearity of the integral"),
        ),
        Step(rhs=sp.Integer(1), reason="the normaliser lemma", check=Using("Z", (z_fact,))),
    ]
    facts = [sp.Eq(one, 1, evaluate=False)]
    for i, (a, t) in enumerate(zip(alpha, stats, strict=True)):
        lhs = _integral(pl * t, lim)
        value = sp.digamma(a) - sp.digamma(a0)
        steps += [
            Step(
                lhs=lhs,
                rhs=_integral(t * z_int.function, lim) / z,
                reason="p = kernel / Z; linearity",
                check=Rule("linearity of the integral"),
            ),
            Step(
                rhs=sp.Derivative(z_int, a) / z,
                reason=rf"$\log x_{{{i + 1}}}$ times the kernel is its derivative in "
                rf"$\alpha_{{{i + 1}}}$; differentiate under the integral sign",
                check=Memo(Leibniz()),
            ),
            Step(
                rhs=sp.Derivative(z, a) / z,
                reason="the normaliser lemma",
                check=Using("Z", (z_fact,)),
            ),
            Step(rhs=value, reason="differentiate", check=Memo(Evaluate())),
        ]
        means.append(value)
        facts.append(sp.Eq(lhs, value, evaluate=False))
    return steps, facts, means


def _dirichlet_integral(name: str, s: PairSpec, *, title: str, references: tuple[str, ...]) -> Any:
    """KL from the defining integral: the log-ratio, then E_p[log x_i] as lemmas."""
    p, q = _dirichlets(s)
    x = p.variable
    lim = p.limits()
    alpha, beta = tuple(p["concentration"]), tuple(q["concentration"])
    a0, b0 = sp.Add(*alpha), sp.Add(*beta)
    pl, ql = p.label("p"), q.label("q")
    stats = p.statistics(x)
    one = _integral(pl, lim)
    steps, facts, means = _log_moments(p)
    constant = (
        sp.log(sp.gamma(a0))
        - sp.Add(*(sp.log(sp.gamma(a)) for a in alpha))
        - sp.log(sp.gamma(b0))
        + sp.Add(*(sp.log(sp.gamma(b)) for b in beta))
    )
    log_ratio, ratio_fact, ratio_step = _log_ratio(p, q, constant)
    diffs = [a - b for a, b in zip(alpha, beta, strict=True)]
    split = (
        sp.Add(*(d * _integral(pl * t, lim) for d, t in zip(diffs, stats, strict=True)))
        + constant * one
    )
    steps += [
        ratio_step,
        Step(
            lhs=_dirichlet_lhs(p, q),
            rhs=_integral(pl * (sp.log(pl) - sp.log(ql)), lim),
            reason="definition of the KL divergence",
            check=Rule("definition"),
        ),
        Step(
            rhs=_integral(pl * log_ratio, lim),
            reason="the log-ratio lemma",
            check=Using("log-ratio", (ratio_fact,)),
        ),
        Step(rhs=split, reason="linearity", check=Rule("linearity of the integral")),
        Step(
            rhs=sp.Add(*(d * m for d, m in zip(diffs, means, strict=True))) + constant,
            reason=r"the lemmas: $\mathbb{E}_p[\log x_i] = \psi(\alpha_i) - \psi(\alpha_0)$, p normalised",
            check=Using("lemmas", tuple(facts)),
        ),
        Step(rhs=s.closed, reason="collect terms", check=Algebra()),
    ]
    return Derivation(
        name=name,
        title=title,
        steps=tuple(steps),
        symbols=(*symbols_of(p, q), *x),
        conditions=_conditions(p),
        summary=r"From the definition: the log-ratio is linear in $\log x_i$; "
        r"$\mathbb{E}_p[\log x_i] = \psi(\alpha_i) - \psi(\alpha_0)$ by differentiating the "
        r"normaliser, which is evaluated by iterated integration over the simplex.",
        references=references,
    )


def _log_gamma_constant(f: Dirichlet) -> Any:
    r""":math:`\log\Gamma(\alpha_0) - \sum_i \log\Gamma(\alpha_i)`, the log of the density's constant."""
    alpha = tuple(f["concentration"])
    return sp.log(sp.gamma(sp.Add(*alpha))) - sp.Add(*(sp.log(sp.gamma(a)) for a in alpha))


def _minus_expected_log(
    start: Any, p: Dirichlet, f: Dirichlet, label: Any, facts: list[Any], means: list[Any]
) -> tuple[list[Step], Any]:
    r"""Steps for ``start`` :math:`= -\int p \log f` (``f`` is p or q).

    Through the log-density of ``f`` and the lemmas ``facts`` (normalisation,
    :math:`\mathbb{E}_p[\log x_i]`).
    """
    x = p.variable
    lim = p.limits()
    pl = p.label("p")
    stats = p.statistics(x)
    coeffs = [a - 1 for a in f["concentration"]]
    constant = _log_gamma_constant(f)
    density = sp.Add(*(c * t for c, t in zip(coeffs, stats, strict=True))) + constant
    fact = sp.Eq(sp.log(label), density, evaluate=False)
    value = -(sp.Add(*(c * m for c, m in zip(coeffs, means, strict=True))) + constant)
    steps = [
        Step(
            lhs=sp.log(label),
            rhs=density,
            reason="the log-density, pointwise on the simplex",
            check=OnSimplex(tuple(x)),
        ),
        Step(
            lhs=start,
            rhs=-_integral(pl * sp.log(label), lim),
            reason="definition",
            check=Rule("definition"),
        ),
        Step(
            rhs=-_integral(pl * density, lim),
            reason="the log-density (above)",
            check=Using("log-density", (fact,)),
        ),
        Step(
            rhs=-(
                sp.Add(*(c * _integral(pl * t, lim) for c, t in zip(coeffs, stats, strict=True)))
                + constant * _integral(pl, lim)
            ),
            reason="linearity",
            check=Rule("linearity of the integral"),
        ),
        Step(rhs=value, reason="the lemmas (above)", check=Using("lemmas", tuple(facts))),
    ]
    return steps, value


def _dirichlet_cross_entropy(
    name: str, s: PairSpec, *, title: str, references: tuple[str, ...]
) -> Any:
    """KL = H(p, q) - H(p), each through the same lemmas E_p[log x_i]."""
    p, q = _dirichlets(s)
    lim = p.limits()
    pl, ql = p.label("p"), q.label("q")
    steps, facts, means = _log_moments(p)
    h_steps, h_value = _minus_expected_log(Entropy(pl, lim), p, p, pl, facts, means)
    c_steps, c_value = _minus_expected_log(CrossEntropy(pl, ql, lim), p, q, ql, facts, means)
    h_fact = sp.Eq(Entropy(pl, lim), h_value, evaluate=False)
    c_fact = sp.Eq(CrossEntropy(pl, ql, lim), c_value, evaluate=False)
    steps += [
        *h_steps,
        *c_steps,
        Step(
            lhs=_dirichlet_lhs(p, q),
            rhs=CrossEntropy(pl, ql, lim) - Entropy(pl, lim),
            reason="KL is cross-entropy minus entropy",
            check=Rule("definitions"),
        ),
        Step(
            rhs=c_value - h_value, reason="the two lemmas", check=Using("lemmas", (h_fact, c_fact))
        ),
        Step(rhs=s.closed, reason="collect terms", check=Algebra()),
    ]
    return Derivation(
        name=name,
        title=title,
        steps=tuple(steps),
        symbols=(*symbols_of(p, q), *p.variable),
        conditions=_conditions(p),
        summary="Cross-entropy minus entropy, each from its definition through the lemmas "
        r"$\mathbb{E}_p[\log x_i] = \psi(\alpha_i) - \psi(\alpha_0)$.",
        references=references,
    )


def entropy_closed_form(p: Dirichlet) -> Any:
    """The claimed entropy (proven by ``entropy/dirichlet``)."""
    alpha = tuple(p["concentration"])
    a0 = sp.Add(*alpha)
    return (
        -_log_gamma_constant(p)
        + (a0 - p.K) * sp.digamma(a0)
        - sp.Add(*((a - 1) * sp.digamma(a) for a in alpha))
    )


@register("entropy/dirichlet")
def _dirichlet_entropy() -> Derivation:
    p = Dirichlet.symbolic(1)
    lim = p.limits()
    pl = p.label("p")
    steps, facts, means = _log_moments(p)
    h_steps, _ = _minus_expected_log(Entropy(pl, lim), p, p, pl, facts, means)
    steps += [*h_steps, Step(rhs=entropy_closed_form(p), reason="collect terms", check=Algebra())]
    return Derivation(
        name="entropy/dirichlet",
        title="Entropy of the Dirichlet distribution (K = 3)",
        steps=tuple(steps),
        symbols=(*symbols_of(p), *p.variable),
        conditions=_conditions(p),
        summary="The entropy from its definition: the log-density is linear in the "
        r"$\log x_i$, whose means are lemmas from the normaliser (iterated integration).",
        references=(PENNY,),
    )


def closed_form(p: Dirichlet, q: Dirichlet) -> Any:
    """The claimed closed form (proven by the routes)."""
    alpha, beta = tuple(p["concentration"]), tuple(q["concentration"])
    a0, b0 = sp.Add(*alpha), sp.Add(*beta)

    def lg(v: Any) -> Any:
        return sp.log(sp.gamma(v))

    return (
        lg(a0)
        - sp.Add(*(lg(a) for a in alpha))
        - lg(b0)
        + sp.Add(*(lg(b) for b in beta))
        + sp.Add(
            *((a - b) * (sp.digamma(a) - sp.digamma(a0)) for a, b in zip(alpha, beta, strict=True))
        )
    )


@_spec("dirichlet", "dirichlet")
def _dirichlet_dirichlet() -> PairSpec:
    p, q = Dirichlet.symbolic(1), Dirichlet.symbolic(2)
    return PairSpec(
        p,
        q,
        closed_form(p, q),
        {},
        ("integral", "bregman", "cross-entropy"),
        (PENNY + " (the Dirichlet section)", BROWN, TORCH),
        extra={
            "builders": {
                "integral": _dirichlet_integral,
                "bregman": _dirichlet_bregman,
                "cross-entropy": _dirichlet_cross_entropy,
            },
            "pair_lhs": _dirichlet_lhs(p, q),
            "symbols": symbols_of(p, q),
        },
        notes=f"Derived for K = {p.K} components (the normaliser by iterated integration "
        "over the triangle); for K = 2 the closed form is kl/beta/beta's (a test checks it). "
        "Finite for all positive concentrations.",
    )
