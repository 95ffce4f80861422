r"""KL between diagonal normals (independent coordinates), for any dimension :math:`D`.

.. math::

    \mathrm{KL}\Bigl(\prod_{i=1}^D \mathcal N(\mu_{1i}, \sigma_{1i}^2) \,\Big\|\,
    \prod_{i=1}^D \mathcal N(\mu_{2i}, \sigma_{2i}^2)\Bigr)
    = \sum_{i=1}^D \Bigl[\log\frac{\sigma_{2i}}{\sigma_{1i}}
    + \frac{\sigma_{1i}^2 + (\mu_{1i} - \mu_{2i})^2}{2\sigma_{2i}^2} - \frac12\Bigr].

Two derivations:

* ``kl/diagonalnormal/diagonalnormal`` — for a symbolic :math:`D` (``IndexedBase``
  parameters, an indexed ``Sum``): the log of the product density is the sum of the
  coordinates' logs; the expectation of a function of coordinate :math:`i` under the
  product marginalises the other coordinates (each normalised, a checked lemma); each
  coordinate's term is the Normal–Normal KL, cited from ``kl/normal/normal``;
* ``kl/diagonalnormal/diagonalnormal/d2`` — :math:`D = 2` from the defining double
  integral evaluated by SymPy, compared with the general formula at :math:`D = 2`.

These are registered derivations, not a catalogue pair: klproof's numeric layer has no
diagonal-normal kernel (PyTorch's ``Independent(Normal)``), and the registry's meta-test
requires a kernel for every catalogue pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from klproof.derivation import (
    KL,
    Check,
    Cite,
    Claim,
    Context,
    Derivation,
    Evaluate,
    Labelled,
    Outcome,
    Rule,
    Step,
    is_zero,
)
from klproof.derivation.ops import Expectation, unfold
from klproof.symbolic.families import DiagonalNormal, Normal
from klproof.symbolic.kl._checks import Memo
from klproof.symbolic.kl.catalogue import PENNY
from klproof.symbolic.kl.multivariate import whitened_steps
from klproof.symbolic.registry import get, register

__all__ = ["diagonal_closed_form"]

oo = sp.oo
ID = "kl/diagonalnormal/diagonalnormal"
KINGMA_WELLING = "D. P. Kingma and M. Welling, Auto-Encoding Variational Bayes, ICLR 2014, App. B"


def _coordinate_closed(m1: Any, s1: Any, m2: Any, s2: Any) -> Any:
    return sp.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2)


def diagonal_closed_form(p: DiagonalNormal, q: DiagonalNormal) -> Any:
    r"""The claimed closed form: a ``Sum`` over the coordinates of the Normal–Normal KL."""
    i = p.index
    return sp.Sum(
        _coordinate_closed(p["loc"][i], p["scale"][i], q["loc"][i], q["scale"][i]),
        (i, 1, p.dim),
    )


def _product(expr: Any) -> Any:
    expr = unfold(expr)
    return expr if isinstance(expr, sp.Product) else None


@dataclass(frozen=True)
class LogOfProduct(Check):
    r"""The definition of KL with the log of a finite product written as a sum of logs.

    The claim is ``KL(p, q, (x, -oo, oo)) = E_p[Σ_i (log f_i − log g_i)]`` with
    :math:`p = \prod_i f_i` and :math:`q = \prod_i g_i` over the same index range.
    Checked: both densities are such products; every factor is positive (SymPy decides
    it from the assumptions), so :math:`\log\prod_i f_i = \sum_i \log f_i`; the summand
    on the right is :math:`\log f_i - \log g_i`.
    """

    label = "log of a product"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        if not isinstance(claim.lhs, KL) or not isinstance(claim.rhs, Expectation):
            return Outcome("failed", "expected KL(p, q) = E_p[...]")
        p, q, lim = claim.lhs.args
        f, density, elim = claim.rhs.args
        pp, qq = _product(p), _product(q)
        if pp is None or qq is None or pp.limits != qq.limits:
            return Outcome("failed", "p and q are not products over the same index range")
        if density != p or elim != lim:
            return Outcome("failed", "the expectation is not under p over the same variable")
        if not (pp.function.is_positive and qq.function.is_positive):
            return Outcome("failed", "a factor is not shown positive")
        if not isinstance(f, sp.Sum) or f.limits != pp.limits:
            return Outcome("failed", "expected a sum over the product's index range")
        gap = f.function - (sp.log(pp.function) - sp.log(qq.function))
        ok, residual = is_zero(unfold(gap), ctx.conditions)
        if not ok:
            return Outcome("failed", "the summand is not log f_i - log g_i", residual)
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return "definition; log of a product of positive factors = sum of their logs"


@dataclass(frozen=True)
class Marginalise(Check):
    r"""The expectation under a product density of a sum of functions of one coordinate each.

    The claim is ``E_p[Σ_i h(x_i)] = Σ_i ∫ f(t) h(t) dt`` with
    :math:`p(x) = \prod_i f(x_i)` (index ``i``, the factor depends on ``x`` only through
    ``x[i]``). Linearity over the finite sum, then Fubini: the other factors integrate
    to 1 — the precondition ``normalised`` (:math:`\int f(t)\,dt = 1` for a generic
    ``i``) must be established. Checked: the shapes, that ``f`` and ``h`` depend on
    ``x`` only through ``x[i]``, and that the right side is the left with ``x[i] → t``.
    """

    x: Any
    t: Any
    normalised: Any
    label = "marginalisation"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        if not ctx.is_known(self.normalised):
            return Outcome("failed", "the normalisation of a factor is not established")
        if not isinstance(claim.lhs, Expectation):
            return Outcome("failed", "expected an expectation on the left")
        body, density, lim = claim.lhs.args
        prod = _product(density)
        if prod is None or not isinstance(body, sp.Sum) or body.limits != prod.limits:
            return Outcome("failed", "expected E over a product of a sum over the same indices")
        (i, lo, hi) = prod.limits[0]
        if lo != 1 or tuple(lim) != (self.x, -oo, oo):
            return Outcome("failed", "the index range or the variable's range is not as expected")
        coordinate = self.x[i]
        marker = sp.Dummy("u", real=True)
        for part in (prod.function, unfold(body.function)):
            rest = part.xreplace({coordinate: marker})
            if rest.has(self.x):
                return Outcome("failed", f"{sp.sstr(part)} depends on x other than through x_i")
        at = {coordinate: self.t}
        factor = prod.function.xreplace(at)
        if unfold(self.normalised.lhs) != sp.Integral(factor, (self.t, -oo, oo)):
            return Outcome("failed", "the normalisation lemma is not about this factor")
        expected = sp.Sum(
            sp.Integral(factor * unfold(body.function).xreplace(at), (self.t, -oo, oo)),
            (i, lo, hi),
        )
        rhs = unfold(claim.rhs)
        if not isinstance(rhs, sp.Sum) or rhs.limits != expected.limits:
            return Outcome("failed", "expected a sum over the same indices on the right")
        (inner,) = rhs.function.atoms(sp.Integral) or (None,)
        if inner is None or rhs.function != inner or inner.limits != expected.function.limits:
            return Outcome("failed", "expected a sum of integrals over t on the right")
        ok, residual = is_zero(inner.function - expected.function.function, ctx.conditions)
        if not ok:
            return Outcome("failed", "the integrand is not f(t) h(t)", residual)
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return "linearity, then Fubini: the other coordinates integrate to 1"


def _general() -> Derivation:
    p, q = DiagonalNormal.symbolic(1), DiagonalNormal.symbolic(2)
    i, big_d = p.index, p.dim
    x = p.variable
    normal_p, normal_q = Normal.symbolic(1), Normal.symbolic(2)
    t = normal_p.variable
    pi, qi = p.coordinate(i), q.coordinate(i)
    pl, ql = p.label("p", x), q.label("q", x)
    lim = (x, -oo, oo)
    pit = Labelled(sp.Symbol("p_i(t)"), pi.pdf(t))
    qit = Labelled(sp.Symbol("q_i(t)"), qi.pdf(t))
    normalised = sp.Eq(sp.Integral(pit, (t, -oo, oo)), 1, evaluate=False)
    kl_i = KL(pit, qit, (t, -oo, oo))
    closed_i = _coordinate_closed(pi["loc"], pi["scale"], qi["loc"], qi["scale"])
    coordinate_fact = sp.Eq(kl_i, closed_i, evaluate=False)
    summand = sp.log(pi.pdf(x[i])) - sp.log(qi.pdf(x[i]))
    subs = (
        (normal_p["loc"], pi["loc"]),
        (normal_p["scale"], pi["scale"]),
        (normal_q["loc"], qi["loc"]),
        (normal_q["scale"], qi["scale"]),
    )
    steps = (
        Step(
            lhs=normalised.lhs,
            rhs=sp.Integer(1),
            reason="each coordinate's density is normalised",
            check=Memo(Evaluate()),
        ),
        Step(
            lhs=kl_i,
            rhs=closed_i,
            reason="coordinate i: the Normal–Normal pair",
            check=Cite(lambda: get("kl/normal/normal"), subs=subs),
        ),
        Step(
            lhs=KL(pl, ql, lim),
            rhs=Expectation(sp.Sum(summand, (i, 1, big_d)), pl, lim),
            reason="definition; the log of the product is the sum of the logs",
            check=LogOfProduct(),
        ),
        Step(
            rhs=sp.Sum(sp.Integral(pit * (sp.log(pit) - sp.log(qit)), (t, -oo, oo)), (i, 1, big_d)),
            reason="linearity; the other coordinates integrate to 1 (Fubini)",
            check=Marginalise(x, t, normalised),
        ),
        Step(
            rhs=sp.Sum(kl_i, (i, 1, big_d)),
            reason="definition of the KL of coordinate i",
            check=Rule("definition of the KL divergence"),
        ),
        Step(
            rhs=diagonal_closed_form(p, q),
            reason="each coordinate by the Normal–Normal result",
            check=Rule("coordinate by coordinate", using=(coordinate_fact,)),
        ),
    )
    return Derivation(
        name=ID,
        title="KL(Diagonal normal ‖ Diagonal normal), for any dimension D",
        steps=steps,
        symbols=(big_d, i, p["loc"], p["scale"], q["loc"], q["scale"]),
        summary=(
            "Independent coordinates: the log-density ratio is a sum over the coordinates, "
            "the expectation of coordinate i's term needs only coordinate i's marginal, and "
            "each term is the Normal–Normal KL (kl/normal/normal)."
        ),
        references=(PENNY + ", eq. (2)", KINGMA_WELLING),
    )


@register(ID)
def _diagonal_general() -> Derivation:
    return _general()


def _two() -> Derivation:
    """D = 2 from the defining double integral (whitened, moments evaluated by SymPy)."""
    general_p, general_q = DiagonalNormal.symbolic(1), DiagonalNormal.symbolic(2)
    m1 = [sp.Symbol(f"mu_1{k}", real=True) for k in (1, 2)]
    s1 = [sp.Symbol(f"sigma_1{k}", positive=True) for k in (1, 2)]
    m2 = [sp.Symbol(f"mu_2{k}", real=True) for k in (1, 2)]
    s2 = [sp.Symbol(f"sigma_2{k}", positive=True) for k in (1, 2)]
    x = sp.MatrixSymbol("x", 2, 1)

    def density(m: list[Any], sd: list[Any]) -> Any:
        return sp.Mul(*(Normal(loc=m[k], scale=sd[k]).pdf(x[k, 0]) for k in (0, 1)))

    pl = Labelled(sp.Symbol("p(x)"), density(m1, s1))
    ql = Labelled(sp.Symbol("q(x)"), density(m2, s2))
    values: dict[Any, Any] = {}
    for k in (1, 2):
        values.update(
            {
                general_p["loc"][k]: m1[k - 1],
                general_p["scale"][k]: s1[k - 1],
                general_q["loc"][k]: m2[k - 1],
                general_q["scale"][k]: s2[k - 1],
            }
        )
    general = diagonal_closed_form(general_p, general_q).xreplace({general_p.dim: 2})
    instance = sp.expand_log(general.doit().xreplace(values), force=True)
    steps = whitened_steps(
        x,
        pl,
        ql,
        sp.ImmutableMatrix(m1),
        sp.ImmutableMatrix(sp.diag(*s1)),
        instance,
        "each monomial integral evaluated by SymPy; compared with the general formula at D = 2",
    )
    return Derivation(
        name=f"{ID}/d2",
        title="KL of two diagonal normals in two dimensions, from the double integral",
        steps=steps,
        symbols=(*m1, *s1, *m2, *s2),
        summary=(
            "An independent check of the general-D formula at D = 2: the defining double "
            "integral of the product densities, whitened by x = μ₁ + diag(σ₁) t, each "
            "moment evaluated by SymPy."
        ),
        references=(PENNY + ", eq. (2)",),
    )


@register(f"{ID}/d2")
def _diagonal_two() -> Derivation:
    return _two()
