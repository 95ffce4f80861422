"""Meta-tests: the numeric KL registry, the symbolic pair registry and the docs agree.

Invariant 4 of the design: every numeric pair names a registered, verified derivation;
every symbolic pair has a numeric kernel; the docs' supported-pairs table is generated
from the registry (so it cannot miss a pair); and every pair has a property test.
"""

from __future__ import annotations

import pytest

import klproof
from klproof.testing import _families as F

NUMERIC = {e.derivation_id: e for e in klproof.registered_pairs()}


def _symbolic_ids() -> set[str]:
    from klproof.symbolic.kl import pairs

    return {p.id for p in pairs()}


def test_every_numeric_pair_names_a_registered_derivation() -> None:
    from klproof.symbolic import names

    registered = set(names())
    missing = sorted(set(NUMERIC) - registered)
    assert not missing, f"numeric KL pairs without a registered derivation: {missing}"


def test_every_numeric_pair_is_in_the_symbolic_pair_registry() -> None:
    missing = sorted(set(NUMERIC) - _symbolic_ids())
    assert not missing, f"numeric KL pairs missing from klproof.symbolic.kl.pairs(): {missing}"


def test_every_symbolic_pair_has_a_numeric_kernel() -> None:
    missing = sorted(_symbolic_ids() - set(NUMERIC))
    assert not missing, f"symbolic pairs without a numeric kernel: {missing}"


@pytest.mark.parametrize("pair_id", sorted(NUMERIC))
def test_numeric_pair_derivation_verifies(pair_id: str) -> None:
    """The pair's derivation cites its routes; each route verifies with 0 unchecked steps."""
    from klproof.symbolic.kl import UnregisteredPairError, get_pair

    _, p, q = pair_id.split("/")
    try:
        pair = get_pair(p, q)
    except UnregisteredPairError:
        pytest.fail(f"{pair_id} has a numeric kernel but no symbolic pair")
    assert len(pair.routes) >= 2, f"{pair_id}: fewer than two independent routes"
    report = pair.derivation().verify()
    assert report.ok, f"{pair_id} does not verify:\n{report}"


def test_every_numeric_pair_has_a_property_test() -> None:
    """The property suite draws parameters for every registered pair."""
    from tests.testing.test_kl_properties import PAIR_IDS

    missing = sorted(set(NUMERIC) - set(PAIR_IDS))
    assert not missing, f"numeric pairs without property tests: {missing}"


def test_every_numeric_pair_has_a_parameter_generator() -> None:
    known = {f"kl/{a}/{b}" for a, b in F.PAIRS}
    missing = sorted(set(NUMERIC) - known)
    assert not missing, f"klproof.testing.strategies cannot draw parameters for {missing}"


def test_docs_catalogue_is_generated_from_the_registry() -> None:
    """The docs render one entry per symbolic pair with the ``kl-catalogue`` directive.

    The directive iterates :func:`klproof.symbolic.kl.pairs` (nothing typed by hand), so
    with the two registry tests above every numeric pair has a docs entry.
    """
    from pathlib import Path

    page = Path(__file__).parent.parent / "docs" / "reference" / "catalogue.md"
    assert "{kl-catalogue}" in page.read_text(encoding="utf-8")
    from klproof.sphinxext import _catalogue

    assert _catalogue.pairs is __import__("klproof.symbolic.kl", fromlist=["pairs"]).pairs
