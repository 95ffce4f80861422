"""KL = +∞ from the supports: generated pairs, their checked derivations, and soundness.

The set of +∞ pairs is computed from the families' supports (not listed by hand);
each derivation has one step checked by the core's SupportMismatch rule. The rule
must refuse a set q gives mass to, and a set p gives none.
"""

from __future__ import annotations

import pytest
import sympy as sp

from klproof.derivation import SupportMismatch
from klproof.symbolic import registry
from klproof.symbolic.families import Bernoulli, Beta, Exponential, Normal, Poisson
from klproof.symbolic.kl import get_pair, pairs
from klproof.symbolic.kl.catalogue import SPECS
from klproof.symbolic.kl.mismatch import Mismatch, mismatch_derivation, mismatched

INFINITE = [p for p in pairs(infinite=True) if p.expression == sp.oo]
IDS = [p.id for p in INFINITE]


def test_the_expected_mismatches_are_found() -> None:
    expected = {
        "kl/normal/exponential",
        "kl/normal/beta",
        "kl/normal/uniform",
        "kl/laplace/gamma",
        "kl/exponential/uniform",
        "kl/exponential/pareto",
        "kl/gamma/beta",
        "kl/pareto/beta",
        "kl/poisson/bernoulli",
        "kl/geometric/binomial",
        # a density against a mass function, and the reverse
        "kl/normal/bernoulli",
        "kl/exponential/poisson",
        "kl/beta/binomial",
        "kl/poisson/normal",
        "kl/bernoulli/beta",
    }
    assert expected <= set(IDS)
    # nested for some parameters (finite there): never listed as +oo
    for pid in (
        "kl/uniform/exponential",
        "kl/beta/uniform",
        "kl/binomial/bernoulli",
        "kl/bernoulli/poisson",
    ):
        assert pid not in IDS
    assert len(IDS) >= 120


def test_no_finite_pair_is_also_infinite() -> None:
    assert not set(SPECS) & set(mismatched())
    finite = {p.id for p in pairs(forms=True)}
    assert not finite & set(IDS)


def test_get_pair_gives_infinity_and_pairs_lists_the_finite_ones_by_default() -> None:
    pair = get_pair("normal", "exponential")
    assert pair.expression == sp.oo
    assert pair.routes == ()
    assert set(pair.p_params) == {"loc", "scale"}
    assert set(pair.q_params) == {"rate"}
    assert all(p.expression != sp.oo for p in pairs())


@pytest.mark.parametrize("pair_id", IDS)
def test_infinite_pair_derivation_verifies(pair_id: str) -> None:
    assert pair_id in registry.names()
    d = registry.get(pair_id)
    report = d.verify()
    assert report.ok, str(report)
    assert report.count("unchecked") == 0
    assert d.rhs == sp.oo
    assert [type(s.check) for s in d.steps] == [SupportMismatch]


def _derive(m: Mismatch) -> str:
    return mismatch_derivation("kl/test/mismatch", m).verify().status


def test_the_rule_refuses_a_set_where_q_has_mass() -> None:
    x = sp.Symbol("x", real=True)
    # Exponential -> Normal are nested: (1, oo) has positive mass under both
    m = Mismatch(Exponential.symbolic(1), Normal.symbolic(2), sp.Integer(1), sp.oo, x)
    assert _derive(m) == "failed"


def test_the_rule_refuses_a_set_where_p_has_no_mass() -> None:
    x = sp.Symbol("x", real=True)
    # Beta's density formula is positive on (2, 3), but Beta puts no mass there
    m = Mismatch(Beta.symbolic(1), Normal.symbolic(2), sp.Integer(2), sp.Integer(3), x)
    assert _derive(m) == "failed"


def test_the_rule_refuses_a_gap_that_holds_an_integer() -> None:
    x = sp.Symbol("x", real=True)
    # (-1, 1) contains 0, where a Poisson has mass exp(-rate)
    m = Mismatch(Normal.symbolic(1), Poisson.symbolic(2), sp.Integer(-1), sp.Integer(1), x, "gap")
    assert _derive(m) == "failed"


def test_the_rule_refuses_a_point_outside_the_mass_function() -> None:
    k = sp.Symbol("k", integer=True)
    # Bernoulli gives the point 2 no mass
    m = Mismatch(
        Bernoulli.symbolic(1), Normal.symbolic(2), sp.Integer(2), sp.Integer(2), k, "point"
    )
    assert _derive(m) == "failed"
