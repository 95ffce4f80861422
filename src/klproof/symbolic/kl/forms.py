r"""Pairs in a second parametrisation of their families (Bernoulli in ``logits``).

A *form* is a pair of the catalogue written in other parameters than the families'
defaults: ``Bernoulli(logits=ℓ)`` is ``Bernoulli(probs=σ(ℓ))`` with
:math:`\sigma(\ell) = 1 / (1 + e^{-\ell})`. Its closed form is derived again, in the
form's own parameters, by independent routes:

* ``integral`` and ``bregman`` — the generic routes of ``klproof.symbolic.kl._routes``, run on the
  families written in the form's parameters (for Bernoulli the logits *are* the
  natural parameter, so the Bregman route is the natural one);
* ``substitution`` — the verified default-form pair (``kl/bernoulli/bernoulli``),
  instantiated at the form's parameters by the checked :class:`Instance` rule (which
  checks the substituted values satisfy the default parameters' constraints), then
  simplified to the form's closed form.

Ids: ``kl/<p>-<form>/<q>-<form>`` for the pair (``kl/bernoulli-logits/bernoulli-logits``)
and ``kl/<p>-<form>/<q>-<form>/<route>`` for its routes; the families and the numeric
kernel are the default pair's (:class:`klproof.Bernoulli` takes either parameter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from klproof.derivation import KL, Algebra, Cite, Derivation, Step
from klproof.symbolic.families import Bernoulli
from klproof.symbolic.kl import _routes as routes
from klproof.symbolic.kl._checks import Instance
from klproof.symbolic.kl.catalogue import COVER, NIELSEN, SPECS, PairSpec
from klproof.symbolic.registry import get

__all__ = ["FORMS", "form_id"]

#: ``(p, q, form) -> spec`` in the form's parameters; ``spec.extra["params"]`` gives
#: the public parameter names of p and q in that form.
FORMS: dict[tuple[str, str, str], Callable[[], PairSpec]] = {}


def form_id(p: str, q: str, form: str) -> str:
    """The pair id of a form: ``kl/<p>-<form>/<q>-<form>``."""
    return f"kl/{p}-{form}/{q}-{form}"


def _form(p: str, q: str, form: str) -> Callable[[Callable[[], PairSpec]], Callable[[], PairSpec]]:
    def deco(fn: Callable[[], PairSpec]) -> Callable[[], PairSpec]:
        FORMS[(p, q, form)] = fn
        return fn

    return deco


def substitution_route(
    name: str, spec: PairSpec, *, title: str, references: tuple[str, ...] = ()
) -> Derivation:
    r"""The default-form pair, instantiated at the form's parameters, then simplified.

    Step 1 cites the verified default pair; step 2 instantiates it with the checked
    :class:`Instance` rule (the values must satisfy the default parameters' sign
    assumptions and conditions, e.g. :math:`0 < \sigma(\ell) < 1`); step 3 is algebra.
    """
    p_name, q_name = spec.p.name, spec.q.name
    default = get(f"kl/{p_name}/{q_name}")
    base = SPECS[(p_name, q_name)]()
    subs = tuple(
        (sym, fam.values[k])
        for default_fam, fam in ((base.p, spec.p), (base.q, spec.q))
        for k, sym in default_fam.values.items()
    )
    fact = sp.Eq(default.lhs, default.rhs, evaluate=False)
    x = spec.p.variable
    kl = KL(spec.p.label("p", x), spec.q.label("q", x), spec.p.limits(x))
    steps = (
        Step(
            lhs=default.lhs,
            rhs=default.rhs,
            reason=f"the pair in its default parameters ({default.name})",
            check=Cite(lambda: get(f"kl/{p_name}/{q_name}")),
        ),
        Step(
            lhs=kl,
            rhs=default.rhs.xreplace(dict(subs)),
            reason="at " + ", ".join(f"${sp.latex(a)} = {sp.latex(b)}$" for a, b in subs),
            check=Instance(fact, subs),
        ),
        Step(rhs=spec.closed, reason="simplify", check=Algebra()),
    )
    return Derivation(
        name=name,
        title=title,
        steps=steps,
        symbols=(*routes.symbols_of(spec.p, spec.q), *(a for a, _ in subs)),
        conditions=(*routes.conditions_of(base.p, base.q), *routes.conditions_of(spec.p, spec.q)),
        summary=(f"By substitution: the verified {default.name} at the parameters of this form."),
        references=references,
    )


class _BernoulliLogits(Bernoulli):
    r"""``Bernoulli(logits=ℓ)`` whose natural parameter is stated as ℓ itself.

    The density is the family's, at ``probs`` :math:`\sigma(\ell)`; only
    :meth:`natural` is written in the logits (the Bregman route checks the
    exponential-family form against the density).
    """

    def __init__(self, logits: Any) -> None:
        super().__init__(logits=logits)
        self.logits = sp.sympify(logits)

    def natural(self) -> tuple[Any, ...]:
        return (self.logits,)


@_form("bernoulli", "bernoulli", "logits")
def _bernoulli_logits() -> PairSpec:
    l1, l2 = sp.Symbol("ell_1", real=True), sp.Symbol("ell_2", real=True)
    p, q = _BernoulliLogits(l1), _BernoulliLogits(l2)

    def softplus(v: Any) -> Any:
        return sp.log(1 + sp.exp(v))

    return PairSpec(
        p,
        q,
        (l1 - l2) / (1 + sp.exp(-l1)) + softplus(l2) - softplus(l1),
        {p.variable: 1 / (1 + sp.exp(-l1))},
        ("bregman", "substitution"),
        (COVER, NIELSEN),
        extra={
            "params": ({"logits": l1}, {"logits": l2}),
            "title": "KL(Bernoulli ‖ Bernoulli) in logits",
            "builders": {"substitution": substitution_route},
            "titles": {
                "bregman": "in logits (the natural parameter), by the Bregman form",
                "substitution": "in logits, by substitution into the probs form",
            },
        },
        notes="In logits (the natural parameter): sigma(l_1) (l_1 - l_2) + softplus(l_2) "
        "- softplus(l_1).",
    )
