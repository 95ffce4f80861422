"""Meta-tests: the numeric KL registry, the symbolic pair registry and the docs agree.

Invariant 4 of the design: every numeric pair names a registered, verified derivation;
every symbolic pair has a numeric kernel; the docs' supported-pairs table is generated
from the registry (so it cannot miss a pair); and every pair has a property test.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from types import ModuleType

import klproof
from klproof.testing import _families as F

ALL_NUMERIC = {e.derivation_id: e for e in klproof.registered_pairs()}
TESTS = Path(__file__).parent

#: Numeric kernels whose derivation the symbolic catalogue does not have yet (issue 3
#: is open for them). Listed here one by one so that the gap is explicit: a new numeric
#: pair without a derivation still fails every test below, and
#: ``test_awaiting_derivation_list_is_current`` fails as soon as one of these gets its
#: derivation, so the entry must then be deleted and the pair is held to all checks.
AWAITING_DERIVATION: frozenset[str] = frozenset()
NUMERIC = {k: v for k, v in ALL_NUMERIC.items() if k not in AWAITING_DERIVATION}


def _load(relpath: str) -> ModuleType:
    """Import a test module by path (the tests directory is not a package)."""
    name = "_registry_meta_" + relpath.replace("/", "_").removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, TESTS / relpath)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _symbolic_ids() -> set[str]:
    from klproof.symbolic.kl import pairs

    return {p.id for p in pairs()}


def test_awaiting_derivation_list_is_current() -> None:
    from klproof.symbolic import names

    assert set(ALL_NUMERIC) >= AWAITING_DERIVATION, "stale entries: no such numeric pair"
    derived = sorted(AWAITING_DERIVATION & (_symbolic_ids() | set(names())))
    assert not derived, f"these now have derivations; delete them from the list: {derived}"


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


def test_every_numeric_pair_is_verified_by_the_catalogue_suite() -> None:
    """Each numeric pair's routes are verified by tests/symbolic (not re-run here: 20 s each).

    ``test_routes_verify_and_agree`` verifies every route of every id in its ``IDS`` and
    requires 0 unchecked steps; this test makes sure every numeric pair is among them and
    has at least two routes.
    """
    ids = _load("symbolic/test_kl_catalogue.py").IDS

    from klproof.symbolic.kl import get_pair

    missing = sorted(set(NUMERIC) - set(ids))
    assert not missing, f"numeric pairs whose derivations no test verifies: {missing}"
    for pid in NUMERIC:
        _, p, q = pid.split("/")
        assert len(get_pair(p, q).routes) >= 2, f"{pid}: fewer than two independent routes"


def test_every_numeric_pair_has_a_property_test() -> None:
    """The property suite draws parameters for every registered pair."""
    pair_ids = _load("testing/test_kl_properties.py").PAIR_IDS
    missing = sorted(set(NUMERIC) - set(pair_ids))
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
    page = TESTS.parent / "docs" / "reference" / "catalogue.md"
    assert "{kl-catalogue}" in page.read_text(encoding="utf-8")
    # the directive's module takes its pairs from the registry (read, not imported:
    # Sphinx is a docs-only dependency)
    source = TESTS.parent / "src" / "klproof" / "sphinxext" / "_catalogue.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imports = {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert ("klproof.symbolic.kl", "pairs") in imports
    assert "registered_pairs" in source.read_text(encoding="utf-8")
