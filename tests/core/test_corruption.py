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


def all_cases() -> list[Any]:
    return [
        pytest.param(name, i, kind, bad, id=f"{name}-step{i + 1}-{kind.replace(' ', '-')}")
        for name in registry.names()
        for i, step in enumerate(registry.get(name).steps)
        for kind, bad in corruptions(step.rhs, step.relation)
    ]


CASES = all_cases()
#: The identities the package exists to prove: every step, every corruption, always.
FULL_PREFIXES = (
    "identity/",
    "mle/",
    "vae/",
    "lemma/",
    "elbo/decomposition",
    "elbo/forms",
    "elbo/scalar-gaussian",
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every step of every derivation in every way with ``--all-corruptions`` (CI).

    By default: every step of the identities (the MLE/ELBO derivations), and for the
    larger catalogue one corruption of one step per derivation, rotating the step and
    the kind by the derivation's position so that together they cover all kinds.
    """
    if "corrupted" not in metafunc.fixturenames:
        return
    if metafunc.config.getoption("--all-corruptions"):
        chosen = CASES
    else:
        chosen = []
        by_name: dict[str, list[Any]] = {}
        for case in CASES:
            by_name.setdefault(case.values[0], []).append(case)
        for position, (name, cases) in enumerate(sorted(by_name.items())):
            if name.startswith(FULL_PREFIXES):
                chosen.extend(cases)
            else:
                chosen.append(cases[(7 * position) % len(cases)])
    metafunc.parametrize(("name", "index", "kind", "corrupted"), chosen)


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
