"""The checker cannot pass a false statement.

For every registered derivation and every step, we corrupt the step's result — flip its
sign, change a constant, drop a term, swap the arguments of a KL — and require that
checking that step does not pass. Where the step is about concrete expressions the
checker must *refute* it (``failed``, with a residual). Where it is about abstract
densities (undefined functions) and SymPy is left with integrals or sums it cannot
evaluate, it cannot exhibit a counterexample; it must then refuse (``unchecked``), never
pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sympy as sp

from klproof.derivation import KL
from klproof.symbolic import registry


def corruptions(rhs: Any, relation: str) -> Iterator[tuple[str, Any]]:
    if relation == ">=":
        yield "raise the bound", rhs + 1
        return
    if isinstance(rhs, sp.Tuple):
        yield "change a constant", sp.Tuple(rhs[0] * 2 + sp.Rational(1, 3), *rhs[1:])
        return
    kls = [k for k in sp.preorder_traversal(rhs) if isinstance(k, KL)]
    if kls:
        k = kls[0]
        swapped = KL(k.args[1], k.args[0], k.args[2])
        yield "swap the arguments of a KL", rhs.xreplace({k: swapped})
    candidates = [("flip a sign", -rhs), ("change a constant", rhs + sp.Rational(1, 7))]
    if isinstance(rhs, sp.Add) and len(rhs.args) > 1:
        candidates.append(("drop a term", sp.Add(*rhs.args[1:])))
    for kind, bad in candidates:
        if bad != rhs:  # e.g. oo + 1/7 is oo: not a corruption
            yield kind, bad


CASES = [
    pytest.param(name, i, kind, bad, id=f"{name}-step{i + 1}-{kind.replace(' ', '-')}")
    for name in registry.names()
    for i, step in enumerate(registry.get(name).steps)
    for kind, bad in corruptions(step.rhs, step.relation)
]


@pytest.mark.parametrize(("name", "index", "kind", "corrupted"), CASES)
def test_corrupted_step_fails(name: str, index: int, kind: str, corrupted: Any) -> None:
    d = registry.get(name)
    result = d.with_step(index, corrupted).check_step(index, timeout=60)
    claim = result.claim
    abstract = any(
        e.has(sp.core.function.AppliedUndef) for e in (sp.sympify(claim.lhs), sp.sympify(claim.rhs))
    )
    allowed = {"failed", "unchecked"} if abstract else {"failed"}
    assert result.status in allowed, (
        f"{name} step {index + 1} with '{kind}' was {result.status}: {result.detail}"
    )


def test_every_derivation_has_corruption_cases() -> None:
    covered = {c.values[0] for c in CASES}
    assert covered == set(registry.names())
