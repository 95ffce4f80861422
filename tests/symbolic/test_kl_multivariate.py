"""Multivariate normals (full covariance, any d) and diagonal normals (any D).

The catalogue suite (test_kl_catalogue.py) verifies the routes of
``kl/multivariatenormal/multivariatenormal`` and compares its closed form with an
oracle; here: the derivations outside the catalogue (concrete d, the diagonal normal)
verify with no unchecked step, the matrix checks refuse wrong claims, the families refuse
invalid parameters, and the diagonal result agrees with the definition and with the
multivariate one at diagonal covariances.
"""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import product
from typing import Any

import mpmath
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from klproof.derivation import Claim, Context
from klproof.derivation.ops import Expectation
from klproof.symbolic import get
from klproof.symbolic.families import DiagonalNormal, MultivariateNormal
from klproof.symbolic.kl import get_pair
from klproof.symbolic.kl._matrix import GaussianMoments, MatrixAlgebra, normal_form
from klproof.symbolic.kl.diagonal import diagonal_closed_form
from klproof.symbolic.kl.multivariate import _setting, mvn_closed_form

MVN = "kl/multivariatenormal/multivariatenormal"
DIAG = "kl/diagonalnormal/diagonalnormal"
NAMES = [
    f"{MVN}/d2",
    f"{MVN}/d3",
    "entropy/multivariatenormal",
    DIAG,
    f"{DIAG}/product",
    f"{DIAG}/cross-entropy",
    f"{DIAG}/d2",
]


@pytest.mark.parametrize("name", NAMES)
def test_derivation_verifies_with_no_unchecked_step(name: str) -> None:
    report = get(name).verify()
    assert report.ok, str(report)
    assert report.count("unchecked") == 0


def _wrong_closed_forms() -> list[Any]:
    s = _setting()
    closed = s.closed
    half = sp.Rational(1, 2)
    return [
        closed + s.d / 2,  # the -d forgotten
        closed.xreplace({s.s2.I * s.s1: s.s1.I * s.s2}),  # tr(Σ₁⁻¹Σ₂) for tr(Σ₂⁻¹Σ₁)
        closed + half * sp.log(sp.Determinant(s.s1)),  # log det Σ₁ forgotten
        closed - half * sp.Trace((s.mu2 - s.mu1).T * s.s2.I * (s.mu2 - s.mu1)),  # no mean term
        closed + half * sp.Trace((s.mu2 - s.mu1).T * (s.s1.I - s.s2.I) * (s.mu2 - s.mu1)),
    ]


@pytest.mark.parametrize("route", ["integral", "bregman", "cross-entropy"])
@pytest.mark.parametrize("k", range(5))
def test_mvn_route_refuses_a_wrong_closed_form(route: str, k: int) -> None:
    d = get(f"{MVN}/{route}")
    wrong = _wrong_closed_forms()[k]
    assert wrong != d.rhs
    result = d.with_step(len(d.steps) - 1, wrong).check_step(len(d.steps) - 1)
    assert result.status == "failed", result


@pytest.mark.parametrize("route", ["product", "cross-entropy"])
def test_diagonal_route_refuses_a_wrong_closed_form(route: str) -> None:
    d = get(f"{DIAG}/{route}")
    s = d.rhs
    for wrong in (
        sp.Sum(s.function + sp.Rational(1, 2), *s.limits),
        sp.Sum(2 * s.function, *s.limits),
    ):
        assert d.with_step(len(d.steps) - 1, wrong).check_step(len(d.steps) - 1).status == "failed"


def test_mvn_entropy_refuses_a_wrong_value() -> None:
    d = get("entropy/multivariatenormal")
    s = _setting()
    last = len(d.steps) - 1
    for wrong in (
        sp.log(sp.Determinant(2 * sp.pi * s.s1)) / 2,  # e forgotten
        sp.log(2 * sp.pi * sp.E * sp.Determinant(s.s1)) / 2,  # det(cΣ) = c det Σ
    ):
        assert d.with_step(last, wrong).check_step(last).status == "failed"


@pytest.mark.parametrize("name", [f"{MVN}/d2", f"{DIAG}/d2"])
def test_concrete_derivation_refuses_a_wrong_value(name: str) -> None:
    d = get(name)
    last = len(d.steps) - 1
    result = d.with_step(last, d.rhs + sp.Rational(1, 100)).check_step(last)
    assert result.status == "failed"


def test_normal_form_knows_cyclic_traces_and_not_more() -> None:
    n = sp.Symbol("n", integer=True, positive=True)
    a, b, c = (sp.MatrixSymbol(x, n, n) for x in "ABC")
    assert normal_form(sp.Trace(a * b * c) - sp.Trace(c * a * b)) == 0
    assert normal_form(sp.Trace(a * b) - sp.Trace(b.T * a.T)) == 0
    assert normal_form(sp.Trace(a * b * c) - sp.Trace(b * a * c)) != 0  # not a rotation
    assert normal_form(sp.Trace(a * b) - sp.Trace(a * b.T)) != 0
    assert normal_form(sp.log(sp.Determinant(a * b)) - sp.log(sp.Determinant(a))) != 0
    assert normal_form(sp.log(sp.Determinant(a * b.T)) - sp.log(sp.Determinant(b * a))) == 0
    u, v = sp.MatrixSymbol("u", n, 1), sp.MatrixSymbol("v", n, 1)
    # det(u vᵀ) is not det(u) det(vᵀ) (neither is defined): left alone
    assert normal_form(sp.Determinant(u * v.T)) == sp.Determinant(u * v.T)


def test_gaussian_moments_refuses_a_wrong_second_moment() -> None:
    s = _setting()
    moments = get(f"{MVN}/integral").chain_results()[:3]
    ctx = Context(established=list(moments))
    quad = Expectation(sp.Trace(s.z.T * s.s2 * s.z), s.std, s.zlim)
    check = GaussianMoments(s.z, s.std, tuple(moments))
    assert check.run(Claim(quad, sp.Trace(s.s2)), ctx).status == "ok"
    assert check.run(Claim(quad, 2 * sp.Trace(s.s2)), ctx).status == "failed"
    assert check.run(Claim(quad, sp.Trace(s.s2) + 1), ctx).status == "failed"
    linear = Expectation(sp.Trace(s.mu1.T * s.z), s.std, s.zlim)
    assert check.run(Claim(linear, 0), ctx).status == "ok"
    # without the one-dimensional moment lemmas the rule does not apply
    assert check.run(Claim(linear, 0), Context()).status == "failed"


def test_matrix_algebra_needs_its_factorisation() -> None:
    s = _setting()
    claim = Claim(sp.Trace(s.l1.T * s.s2.I * s.l1), sp.Trace(s.s2.I * s.s1))
    check = MatrixAlgebra(given=(s.chol,))
    assert check.run(claim, Context(hypotheses=(s.chol,))).status == "ok"
    assert check.run(claim, Context()).status == "failed"  # the Cholesky equation unknown


# --------------------------------------------------------------------------- families


def test_mvn_family_refuses_a_covariance_that_is_not_positive_definite() -> None:
    neg = sp.Symbol("s", negative=True)
    with pytest.raises(ValueError, match="covariance_matrix must be symmetric positive definite"):
        MultivariateNormal(loc=[0, 0], covariance_matrix=[[neg, 0], [0, 1]])
    with pytest.raises(ValueError, match="covariance_matrix must be symmetric positive definite"):
        MultivariateNormal(loc=[0, 0], covariance_matrix=[[1, 2], [2, 1]])
    with pytest.raises(ValueError, match="covariance_matrix must be symmetric positive definite"):
        MultivariateNormal(loc=[0, 0], covariance_matrix=[[1, 0], [sp.Rational(1, 2), 1]])
    with pytest.raises(ValueError, match="covariance_matrix must be 3 x 3"):
        MultivariateNormal(loc=[0, 0, 0], covariance_matrix=[[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="loc must be real"):
        MultivariateNormal(loc=[sp.I, 0], covariance_matrix=[[1, 0], [0, 1]])
    pos = sp.Symbol("a", positive=True)
    ok = MultivariateNormal(loc=[0, 1], covariance_matrix=[[pos, 0], [0, 1]])
    assert ok.dim == 2


def test_diagonal_family_refuses_a_negative_scale() -> None:
    with pytest.raises(ValueError, match="scale must be positive"):
        DiagonalNormal(loc=[0, 1], scale=[1, -2])
    with pytest.raises(ValueError, match="scale must be positive"):
        DiagonalNormal(
            loc=sp.IndexedBase("m", real=True), scale=sp.IndexedBase("s", negative=True), dim=3
        )
    with pytest.raises(ValueError, match="loc must be real"):
        DiagonalNormal(loc=[sp.I, 0], scale=[1, 1])


def test_mvn_pair_metadata() -> None:
    pair = get_pair("multivariatenormal", "multivariatenormal")
    assert set(pair.p_params) == {"loc", "covariance_matrix"}
    assert len(pair.routes) == 3
    assert pair.finite_when == ()
    # KL(N(0, I_2) || N((1, 0), 2 I_2)) = (2 · 1/2 + 1/2 - 2 + 2 log 2) / 2 = log 2 - 1/4
    value = pair.evaluate(
        {"loc": [0, 0], "covariance_matrix": [[1, 0], [0, 1]]},
        {"loc": [1, 0], "covariance_matrix": [[2, 0], [0, 2]]},
    )
    assert sp.simplify(value - (sp.log(2) - sp.Rational(1, 4))) == 0
    with mpmath.workdps(40):
        f = pair.lambdify()
        got = f(mpmath.matrix([0, 0]), mpmath.eye(2), mpmath.matrix([1, 0]), 2 * mpmath.eye(2))
        assert abs(got - (mpmath.log(2) - mpmath.mpf(1) / 4)) < mpmath.mpf(10) ** -35


# --------------------------------------------------------------------------- diagonal values


def _exact(v: Fraction) -> Any:
    return sp.Rational(v.numerator, v.denominator)


@st.composite
def _diag_draw(draw: st.DrawFn) -> tuple[int, list[list[Fraction]]]:
    big_d = draw(st.integers(2, 3))
    vals = []
    for kind in ("loc", "scale", "loc", "scale"):
        if kind == "loc":
            vals.append([Fraction(draw(st.integers(-24, 24)), 8) for _ in range(big_d)])
        else:
            vals.append([Fraction(draw(st.integers(4, 32)), 8) for _ in range(big_d)])
    return big_d, vals


def _diag_value(big_d: int, vals: list[list[Fraction]]) -> Any:
    p, q = DiagonalNormal.symbolic(1), DiagonalNormal.symbolic(2)
    subs: dict[Any, Any] = {}
    for base, v in zip((p["loc"], p["scale"], q["loc"], q["scale"]), vals, strict=True):
        subs.update({base[k + 1]: _exact(v[k]) for k in range(big_d)})
    return diagonal_closed_form(p, q).xreplace({p.dim: big_d}).doit().xreplace(subs)


@settings(max_examples=10)
@given(_diag_draw())
def test_diagonal_equals_mvn_at_diagonal_covariance(
    drawn: tuple[int, list[list[Fraction]]],
) -> None:
    """Two derivations, one value: the diagonal result is the full-covariance one at a
    diagonal covariance (exact rational arithmetic; both sides reduce to 0 difference)."""
    big_d, (m1, s1, m2, s2) = drawn
    p, q = MultivariateNormal.symbolic(1), MultivariateNormal.symbolic(2)
    subs = {
        p["loc"]: sp.ImmutableMatrix([_exact(v) for v in m1]),
        p["covariance_matrix"]: sp.ImmutableMatrix(sp.diag(*(_exact(v) ** 2 for v in s1))),
        q["loc"]: sp.ImmutableMatrix([_exact(v) for v in m2]),
        q["covariance_matrix"]: sp.ImmutableMatrix(sp.diag(*(_exact(v) ** 2 for v in s2))),
    }
    mvn = mvn_closed_form(p, q).xreplace(subs).xreplace({p.dim: big_d}).doit()
    diff = sp.expand(sp.expand_log(mvn - _diag_value(big_d, [m1, s1, m2, s2]), force=True))
    assert sp.nsimplify(diff) == 0, diff


@settings(max_examples=10)
@given(_diag_draw())
def test_diagonal_matches_the_definition(drawn: tuple[int, list[list[Fraction]]]) -> None:
    """Against E_p[log p - log q] of the product densities by the tensor Gauss-Hermite rule
    (3 nodes per axis, exact for the quadratic log-ratio in whitened coordinates), 30 digits.
    """
    big_d, vals = drawn
    m1, s1, m2, s2 = ([mpmath.mpf(v.numerator) / v.denominator for v in vec] for vec in vals)
    with mpmath.workdps(45):
        closed = mpmath.mpf(str(sp.N(_diag_value(big_d, vals), 45)))
        nodes = (
            (-mpmath.sqrt(3), mpmath.mpf(1) / 6),
            (0, mpmath.mpf(2) / 3),
            (mpmath.sqrt(3), mpmath.mpf(1) / 6),
        )

        def log_density(x: list[Any], m: list[Any], s: list[Any]) -> Any:
            return mpmath.fsum(
                -((xi - mi) ** 2) / (2 * si**2) - mpmath.log(si) - mpmath.log(2 * mpmath.pi) / 2
                for xi, mi, si in zip(x, m, s, strict=True)
            )

        total = mpmath.mpf(0)
        for idx in product(range(3), repeat=big_d):
            x = [m1[k] + s1[k] * nodes[i][0] for k, i in enumerate(idx)]
            w = mpmath.fprod(nodes[i][1] for i in idx)
            total += w * (log_density(x, m1, s1) - log_density(x, m2, s2))
        assert abs(closed - total) <= mpmath.mpf(10) ** -30 * max(1, abs(total))


def test_diagonal_pair_metadata_and_values() -> None:
    pair = get_pair("diagonalnormal", "diagonalnormal")
    assert set(pair.p_params) == set(pair.q_params) == {"loc", "scale"}
    assert pair.routes == (f"{DIAG}/product", f"{DIAG}/cross-entropy")
    assert pair.finite_when == ()
    # KL(N((0, 1), diag(1, 4)) || N((1, 0), diag(4, 1))) = 3/8 + 3/2 + 0 (logs cancel) = 7/4
    value = pair.evaluate({"loc": [0, 1], "scale": [1, 2]}, {"loc": [1, 0], "scale": [2, 1]})
    assert sp.simplify(value - sp.Rational(7, 4)) == 0
    with mpmath.workdps(40):
        got = pair.lambdify()([0, 1], [1, 2], [1, 0], [2, 1])
        assert abs(got - mpmath.mpf(7) / 4) < mpmath.mpf(10) ** -35
    assert pair.lambdify("math")([0.0], [1.0], [0.0], [2.0]) == pytest.approx(
        math.log(2) + 1 / 8 - 1 / 2, rel=1e-15
    )
    with pytest.raises(ValueError, match="different lengths"):
        pair.evaluate({"loc": [0, 1], "scale": [1, 2]}, {"loc": [1], "scale": [2]})
