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

from klproof.derivation import Check, Claim, Context, Evaluate, Outcome, Step, is_zero
from klproof.derivation.ops import unfold
from klproof.symbolic.families import Binomial
from klproof.symbolic.kl._checks import Instance, Leibniz, Memo, Using
from klproof.symbolic.kl.catalogue import PairSpec, _spec

__all__ = ["BinomialTheorem"]

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
