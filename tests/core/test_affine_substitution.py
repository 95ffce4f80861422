"""The change of variables x = m + L t on R^d (AffineSubstitution) refutes what is wrong.

The check moves an expectation under the correlated Gaussian N(m, L Lᵀ) to one under
N(0, I): the density lemma ``log p(m + L t) + log det L = log φ(t₁) + log φ(t₂)`` is a
step checked by algebra, and the change step must be refuted (``failed``, never
``unchecked`` or ``ok``) for a wrong Jacobian, a wrong map, a lemma about another
density, a wrong new density or a wrong integrand.
"""

from __future__ import annotations

from typing import Any

import pytest
import sympy as sp

from klproof.derivation import (
    AffineSubstitution,
    Algebra,
    Claim,
    Context,
    Derivation,
    Labelled,
    Step,
)
from klproof.derivation.ops import unfold
from klproof.symbolic import registry
from klproof.symbolic.families import MultivariateNormal

oo = sp.oo
M = sp.ImmutableMatrix(sp.symbols("m_1 m_2", real=True))
A, C = sp.symbols("a c", positive=True)
B = sp.Symbol("b", real=True)
L = sp.ImmutableMatrix([[A, 0], [B, C]])
XS = sp.symbols("x_1 x_2", real=True)
TS = sp.symbols("t_1 t_2", real=True)
PHI = [
    Labelled(sp.Symbol(f"phi(t_{i + 1})"), sp.exp(-(t**2) / 2) / sp.sqrt(2 * sp.pi))
    for i, t in enumerate(TS)
]
WEIGHT = PHI[0] * PHI[1]


def _density(loc: Any, chol: Any) -> Any:
    return MultivariateNormal(loc=loc, covariance_matrix=chol * chol.T).pdf(sp.ImmutableMatrix(XS))


def _at(loc: Any, chol: Any) -> dict[Any, Any]:
    return dict(zip(XS, loc + chol * sp.ImmutableMatrix(TS), strict=True))


DENSITY = _density(M, L)
PL = Labelled(sp.Symbol("p(x)"), DENSITY)


def _lemma(density: Any = DENSITY, chol: Any = L, det: Any = None) -> Any:
    """``log p(m + L t) + log det L = log φ(t₁) + log φ(t₂)`` (or a corrupted variant)."""
    p_at = Labelled(sp.Symbol("p(m + L t)"), density.xreplace(_at(M, chol)))
    det = L.det() if det is None else det
    return sp.Eq(sp.log(p_at) + sp.log(det), sp.log(PHI[0]) + sp.log(PHI[1]), evaluate=False)


def _integral(f: Any, variables: tuple[Any, ...]) -> Any:
    return sp.Integral(f, *((v, -oo, oo) for v in variables))


#: E[(x₁ − m₁)²] = a² (x₁ − m₁ = a t₁), E[(x₂ − m₂)(x₁ − m₁)] = a b
SECOND = _integral(PL * (XS[0] - M[0]) ** 2, XS)
SECOND_T = _integral(WEIGHT * A**2 * TS[0] ** 2, TS)
CROSS = -_integral(PL * (XS[1] - M[1]) * (XS[0] - M[0]), XS)
CROSS_T = _integral(WEIGHT * (-A * B * TS[0] ** 2 - A * C * TS[0] * TS[1]), TS)


def _run(lhs: Any, rhs: Any, check: AffineSubstitution, *known: Any) -> Any:
    return check.run(Claim(lhs, rhs), Context(established=list(known)))


def test_the_lemma_and_the_change_verify_as_a_derivation() -> None:
    lemma = _lemma()
    d = Derivation(
        name="test/affine",
        title="x = m + L t",
        steps=(
            Step(lhs=lemma.lhs, rhs=lemma.rhs, reason="density lemma", check=Algebra()),
            Step(
                lhs=SECOND,
                rhs=SECOND_T,
                reason="x = m + L t",
                check=AffineSubstitution(XS, TS, M, L, lemma),
            ),
            Step(
                lhs=CROSS,
                rhs=CROSS_T,
                reason="x = m + L t",
                check=AffineSubstitution(XS, TS, M, L, lemma),
            ),
        ),
        symbols=(*M, A, B, C),
    )
    report = d.verify()
    assert report.ok, str(report)
    assert report.count("unchecked") == 0


@pytest.mark.parametrize(
    "lemma",
    [
        _lemma(det=1),  # the Jacobian forgotten
        _lemma(det=A),  # a wrong Jacobian
        _lemma(chol=L.T),  # p pushed forward by another map
    ],
    ids=["no-jacobian", "wrong-jacobian", "wrong-map"],
)
def test_algebra_refutes_a_wrong_density_lemma(lemma: Any) -> None:
    step = Step(lhs=lemma.lhs, rhs=lemma.rhs, reason="", check=Algebra())
    d = Derivation(name="test/lemma", title="", steps=(step,), symbols=(*M, A, B, C))
    assert d.verify().steps[0].status == "failed"


def test_the_correct_change_is_ok() -> None:
    lemma = _lemma()
    assert _run(SECOND, SECOND_T, AffineSubstitution(XS, TS, M, L, lemma), lemma).status == "ok"
    assert _run(CROSS, CROSS_T, AffineSubstitution(XS, TS, M, L, lemma), lemma).status == "ok"


def _wrong_changes() -> list[Any]:
    lemma = _lemma()
    wrong_jacobian = _lemma(det=1)  # as if established: the change must still refuse it
    other_density = _lemma(density=_density(M, 2 * L))
    shifted = sp.ImmutableMatrix([M[0] + 1, M[1]])
    half_weight = PHI[0] * Labelled(sp.Symbol("phi(t_2)"), sp.exp(-(TS[1] ** 2)) / sp.sqrt(sp.pi))
    return [
        ("wrong Jacobian in the lemma", SECOND, SECOND_T, (XS, TS, M, L, wrong_jacobian)),
        ("lemma about another density", SECOND, SECOND_T, (XS, TS, M, L, other_density)),
        ("the matrix transposed", CROSS, CROSS_T, (XS, TS, M, L.T, lemma)),
        ("another shift", CROSS, CROSS_T, (XS, TS, shifted, L, lemma)),
        ("wrong new density", SECOND, _integral(half_weight * A**2 * TS[0] ** 2, TS), None),
        (
            "integrand without the Jacobian's scale",
            SECOND,
            _integral(WEIGHT * TS[0] ** 2, TS),
            None,
        ),
        ("sign flipped", SECOND, -SECOND_T, None),
        ("a constant added", SECOND, SECOND_T + sp.Rational(1, 7), None),
        ("the cross term dropped", CROSS, _integral(WEIGHT * -A * B * TS[0] ** 2, TS), None),
        ("the other coordinate", SECOND, _integral(WEIGHT * A**2 * TS[1] ** 2, TS), None),
    ]


@pytest.mark.parametrize("case", _wrong_changes(), ids=lambda c: c[0].replace(" ", "-"))
def test_a_wrong_change_is_refuted(case: Any) -> None:
    _, lhs, rhs, args = case
    lemma = _lemma()
    args = args or (XS, TS, M, L, lemma)
    outcome = _run(lhs, rhs, AffineSubstitution(*args), args[-1])
    assert outcome.status == "failed", outcome


def test_the_lemma_must_be_established() -> None:
    lemma = _lemma()
    outcome = _run(SECOND, SECOND_T, AffineSubstitution(XS, TS, M, L, lemma))
    assert outcome.status == "failed"
    assert "not established" in outcome.detail


def test_a_singular_map_is_refuted_and_an_undecided_sign_is_unchecked() -> None:
    singular = sp.ImmutableMatrix([[A, 0], [B, 0]])
    assert _run(SECOND, SECOND_T, AffineSubstitution(XS, TS, M, singular)).status == "failed"
    undecided = sp.ImmutableMatrix([[B, 0], [0, C]])
    assert _run(SECOND, SECOND_T, AffineSubstitution(XS, TS, M, undecided)).status == "unchecked"


def test_without_a_density_lemma_the_jacobian_factor_is_checked() -> None:
    f = sp.exp(-(XS[0] ** 2) - XS[1] ** 2)
    moved = unfold(f).xreplace(_at(M, L))
    lhs = _integral(f, XS)
    check = AffineSubstitution(XS, TS, M, L)
    assert _run(lhs, _integral(A * C * moved, TS), check).status == "ok"
    assert _run(lhs, _integral(moved, TS), check).status == "failed"
    assert _run(lhs, _integral(A * moved, TS), check).status == "failed"


def test_the_registered_expansion_refutes_corrupted_changes() -> None:
    """Every change-of-variables step of the MVN expansion, corrupted, is refuted."""
    d = registry.get("kl/multivariatenormal/multivariatenormal/expansion")
    changes = [i for i, s in enumerate(d.steps) if isinstance(s.check, AffineSubstitution)]
    assert len(changes) == 15  # one per entry of the symmetric 5 x 5 Fisher information
    for i in changes[:4]:
        rhs = d.steps[i].rhs
        doubled = sp.Integral(2 * rhs.function, *rhs.limits)
        for bad in (-rhs, rhs + sp.Rational(1, 7), doubled):
            result = d.with_step(i, bad).check_step(i)
            assert result.status == "failed", (i, bad, result.detail)


def test_three_dimensions() -> None:
    """d = 3: E[(x₃ − m₃)(x₁ − m₁)] = l₃₁ l₁₁; a wrong Jacobian (det L²) is refuted."""
    chol = sp.ImmutableMatrix(
        3,
        3,
        lambda i, j: (
            sp.Symbol(f"l_{i + 1}{j + 1}", real=True, positive=i == j or None) if i >= j else 0
        ),
    )
    loc = sp.ImmutableMatrix(sp.symbols("m_1:4", real=True))
    xs = sp.symbols("x_1:4", real=True)
    ts = sp.symbols("t_1:4", real=True)
    phi = [
        Labelled(sp.Symbol(f"phi(t_{i + 1})"), sp.exp(-(t**2) / 2) / sp.sqrt(2 * sp.pi))
        for i, t in enumerate(ts)
    ]
    density = MultivariateNormal(loc=loc, covariance_matrix=chol * chol.T).pdf(
        sp.ImmutableMatrix(xs)
    )
    at = dict(zip(xs, loc + chol * sp.ImmutableMatrix(ts), strict=True))
    p_at = Labelled(sp.Symbol("p(m + L t)"), density.xreplace(at))

    def lemma(det: Any) -> Any:
        return sp.Eq(sp.log(p_at) + sp.log(det), sum(sp.log(f) for f in phi), evaluate=False)

    lhs = _integral(Labelled(sp.Symbol("p(x)"), density) * (xs[2] - loc[2]) * (xs[0] - loc[0]), xs)
    poly = sp.expand(
        chol[0, 0] * ts[0] * (chol[2, 0] * ts[0] + chol[2, 1] * ts[1] + chol[2, 2] * ts[2])
    )
    rhs = _integral(phi[0] * phi[1] * phi[2] * poly, ts)
    good = lemma(chol.det())
    step = Step(lhs=good.lhs, rhs=good.rhs, reason="", check=Algebra())
    d = Derivation(
        name="test/lemma3", title="", steps=(step,), symbols=(*loc, *(e for e in chol if e != 0))
    )
    assert d.verify().ok
    assert _run(lhs, rhs, AffineSubstitution(xs, ts, loc, chol, good), good).status == "ok"
    bad = lemma(chol.det() ** 2)
    assert _run(lhs, rhs, AffineSubstitution(xs, ts, loc, chol, bad), bad).status == "failed"
    assert _run(lhs, 2 * rhs, AffineSubstitution(xs, ts, loc, chol, good), good).status == "failed"
