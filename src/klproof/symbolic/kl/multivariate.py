r"""KL between multivariate normals (full covariance, any :math:`d`), derived by SymPy.

.. math::

    \mathrm{KL}\bigl(\mathcal N(\mu_1, \Sigma_1) \,\|\, \mathcal N(\mu_2, \Sigma_2)\bigr)
    = \tfrac12\Bigl[\operatorname{tr}(\Sigma_2^{-1}\Sigma_1)
    + (\mu_2 - \mu_1)^\top \Sigma_2^{-1} (\mu_2 - \mu_1) - d
    + \log\det\Sigma_2 - \log\det\Sigma_1\Bigr].

The registered pair ``kl/multivariatenormal/multivariatenormal`` is derived for a
**symbolic dimension** :math:`d` with SymPy matrix expressions (``MatrixSymbol``,
``Trace``, ``Determinant``), by two routes that share the whitening change of variables
:math:`x = \mu_1 + L_1 z` (:math:`\Sigma_1 = L_1 L_1^\top`, the Cholesky factor, lower
triangular with positive diagonal) and the moments :math:`\mathbb{E}[z] = 0`,
:math:`\mathbb{E}[z z^\top] = I_d` of :math:`z \sim \mathcal N(0, I_d)`:

* ``…/integral`` — the defining integral of :math:`\log p - \log q` at once;
* ``…/bregman`` — both log-densities in exponential-family form (natural parameters
  :math:`\Sigma^{-1}\mu`, :math:`-\tfrac12\Sigma^{-1}`, log-normaliser checked against the
  density): KL is the Bregman divergence of the log-normaliser, with the mean parameters
  :math:`(\mu_1, \Sigma_1 + \mu_1\mu_1^\top)` from the moments of :math:`z`;
* ``…/cross-entropy`` — :math:`H(p, q)` and :math:`H(p)` each from its definition.

The checks are those of ``klproof.symbolic.kl._matrix`` (trace linearity and
cyclicity, determinant factorisation, logarithms of positive determinants, linearity of
expectation), each guarded by evaluation at random concrete matrices.

Independent of that machinery, ``kl/multivariatenormal/multivariatenormal/d2`` and
``…/d3`` evaluate the defining integral for :math:`d = 2` and :math:`d = 3` with every
matrix entry a symbol (:math:`\Sigma_k = L_k L_k^\top`, triangular :math:`L_k` with
positive diagonal: every positive-definite matrix has one), as iterated one-dimensional
integrals SymPy evaluates, and compare the result with the general formula evaluated at
those matrices.

The Bregman route takes :math:`\nabla A` as the mean parameters computed from the
moments, not by differentiating :math:`A`: that would need the gradient of
:math:`\log\det` with respect to a matrix of symbolic size, which SymPy's matrix calculus
does not give in a form the checks can use.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import sympy as sp

from klproof.derivation import (
    KL,
    Algebra,
    CrossEntropy,
    Derivation,
    Entropy,
    Evaluate,
    Hypothesis,
    Labelled,
    Step,
)
from klproof.derivation.ops import Expectation, unfold
from klproof.symbolic.families import MultivariateNormal
from klproof.symbolic.kl._checks import Memo
from klproof.symbolic.kl._matrix import (
    AffineChange,
    CiteMatrix,
    ExplicitAffineChange,
    GaussianMoments,
    KLSplit,
    MatrixAlgebra,
    MonomialSplit,
    iterated,
)
from klproof.symbolic.kl.catalogue import PENNY, PairSpec, _spec
from klproof.symbolic.registry import register

__all__ = ["concrete_derivation", "mvn_closed_form", "whitened_steps"]

HALF = sp.Rational(1, 2)
oo = sp.oo
DUCHI = "J. Duchi, Derivations for linear algebra and optimization, 2007 (KL of normals)"
PETERSEN = "K. B. Petersen and M. S. Pedersen, The Matrix Cookbook, 2012 (Gaussians, KL)"
ID = "kl/multivariatenormal/multivariatenormal"


def mvn_closed_form(p: MultivariateNormal, q: MultivariateNormal) -> Any:
    r"""The claimed closed form of :math:`\mathrm{KL}(p \| q)` (matrix expressions)."""
    m1, s1 = p["loc"], p["covariance_matrix"]
    m2, s2 = q["loc"], q["covariance_matrix"]
    diff = m2 - m1
    return HALF * (
        sp.Trace(s2.I * s1)
        + sp.Trace(diff.T * s2.I * diff)
        - p.dim
        + sp.log(sp.Determinant(s2))
        - sp.log(sp.Determinant(s1))
    )


class _Setting:
    """The symbols shared by the general-d routes."""

    def __init__(self) -> None:
        self.p = MultivariateNormal.symbolic(1)
        self.q = MultivariateNormal.symbolic(2)
        self.d = self.p.dim
        self.x = self.p.variable
        self.z = sp.MatrixSymbol("z", self.d, 1)
        self.mu1, self.s1 = self.p["loc"], self.p["covariance_matrix"]
        self.mu2, self.s2 = self.q["loc"], self.q["covariance_matrix"]
        self.l1 = sp.MatrixSymbol("L_1", self.d, self.d)
        self.chol = sp.Eq(self.s1, self.l1 * self.l1.T, evaluate=False)
        self.phi = self.mu1 + self.l1 * self.z
        self.lim = (self.x, -oo, oo)
        self.zlim = (self.z, -oo, oo)
        self.pl = self.p.label("p", self.x)
        self.ql = self.q.label("q", self.x)
        self.p_at = Labelled(sp.Symbol(r"p(\mu_1 + L_1 z)"), self.p.pdf(self.phi))
        self.q_at = Labelled(sp.Symbol(r"q(\mu_1 + L_1 z)"), self.q.pdf(self.phi))
        self.std = Labelled(
            sp.Symbol(r"\varphi_d(z)"),
            (2 * sp.pi) ** (-self.d / 2) * sp.exp(-sp.Trace(self.z.T * self.z) / 2),
        )
        self.kl = KL(self.pl, self.ql, self.lim)
        self.closed = mvn_closed_form(self.p, self.q)
        self.symbols = (self.d, self.mu1, self.s1, self.mu2, self.s2, self.l1)
        self.hypotheses = (
            Hypothesis(
                self.chol,
                "Cholesky factor: Σ₁ is symmetric positive definite, L₁ lower triangular "
                "with positive diagonal (so det L₁ > 0); Σ₂ is symmetric positive definite",
            ),
        )


@cache
def _setting() -> _Setting:
    return _Setting()


def _moment_lemmas() -> tuple[list[Step], tuple[Any, ...]]:
    """∫φ₁ = 1, ∫tφ₁ = 0, ∫t²φ₁ = 1 for the standard normal density φ₁ (SymPy)."""
    t = sp.Symbol("t", real=True)
    phi1 = Labelled(sp.Symbol(r"\varphi_1(t)"), sp.exp(-(t**2) / 2) / sp.sqrt(2 * sp.pi))
    steps, facts = [], []
    for f, value, what in ((1, 1, "normalised"), (t, 0, "mean 0"), (t**2, 1, "variance 1")):
        lhs = sp.Integral(phi1 * f, (t, -oo, oo))
        steps.append(
            Step(
                lhs=lhs,
                rhs=sp.Integer(value),
                reason=f"the standard normal density: {what} (each coordinate of z)",
                check=Memo(Evaluate()),
            )
        )
        facts.append(sp.Eq(lhs, sp.Integer(value), evaluate=False))
    return steps, tuple(facts)


def _density_lemma(s: _Setting) -> tuple[Step, Any]:
    lhs = sp.log(s.p_at) + sp.log(sp.Determinant(s.l1))
    rhs = sp.log(s.std)
    step = Step(
        lhs=lhs,
        rhs=rhs,
        reason="the density of z = L₁⁻¹(x − μ₁) is the standard normal one: "
        "p(μ₁ + L₁z)·det L₁ = φ_d(z)",
        check=MatrixAlgebra(given=(s.chol,)),
    )
    return step, sp.Eq(lhs, rhs, evaluate=False)


def _change(s: _Setting, fact: Any) -> AffineChange:
    return AffineChange(s.x, s.phi, s.l1, fact, given=(s.chol,))


def _log_density(fam: MultivariateNormal, at: Any) -> Any:
    """The log-density N(at; μ, Σ) written out: −d/2 log 2π − ½ log det Σ − ½ (at − μ)ᵀΣ⁻¹(at − μ)."""
    m, cov = fam["loc"], fam["covariance_matrix"]
    r = at - m
    return (
        -fam.dim / 2 * sp.log(2 * sp.pi)
        - HALF * sp.log(sp.Determinant(cov))
        - HALF * sp.Trace(r.T * cov.I * r)
    )


def integral_route(name: str, spec: PairSpec, *, title: str, references: tuple[str, ...]) -> Any:
    """Route (a): the defining integral, whitened by x = μ₁ + L₁z, then Gaussian moments."""
    s = _setting()
    lemmas, moments = _moment_lemmas()
    density_step, density_fact = _density_lemma(s)
    delta = s.mu1 - s.mu2
    log_ratio = _log_density(s.p, s.phi) - _log_density(s.q, s.phi)
    expanded = (
        HALF * sp.log(sp.Determinant(s.s2))
        - HALF * sp.log(sp.Determinant(s.s1))
        - HALF * sp.Trace(s.z.T * s.z)
        + HALF * sp.Trace((delta + s.l1 * s.z).T * s.s2.I * (delta + s.l1 * s.z))
    )
    moments_value = (
        HALF * sp.log(sp.Determinant(s.s2))
        - HALF * sp.log(sp.Determinant(s.s1))
        - s.d / 2
        + HALF * sp.Trace(delta.T * s.s2.I * delta)
        + HALF * sp.Trace(s.l1.T * s.s2.I * s.l1)
    )
    steps = [
        *lemmas,
        density_step,
        Step(
            lhs=s.kl,
            rhs=Expectation(sp.log(s.p_at) - sp.log(s.q_at), s.std, s.zlim),
            reason="definition, then x = μ₁ + L₁z (Jacobian det L₁, the density lemma)",
            check=_change(s, density_fact),
        ),
        Step(
            rhs=Expectation(log_ratio, s.std, s.zlim),
            reason="the two log-densities at x = μ₁ + L₁z",
            check=MatrixAlgebra(given=(s.chol,)),
        ),
        Step(
            rhs=Expectation(expanded, s.std, s.zlim),
            reason="(L₁z)ᵀ(L₁L₁ᵀ)⁻¹(L₁z) = zᵀz; the 2π terms cancel",
            check=MatrixAlgebra(given=(s.chol,)),
        ),
        Step(
            rhs=moments_value,
            reason="linearity; E[z] = 0, E[zzᵀ] = I_d (tr I_d = d)",
            check=GaussianMoments(s.z, s.std, moments, given=(s.chol,)),
        ),
        Step(
            rhs=s.closed,
            reason="tr(L₁ᵀΣ₂⁻¹L₁) = tr(Σ₂⁻¹L₁L₁ᵀ) = tr(Σ₂⁻¹Σ₁) (cyclic trace)",
            check=MatrixAlgebra(given=(s.chol,)),
        ),
    ]
    return Derivation(
        name=name,
        title=title,
        steps=tuple(steps),
        symbols=s.symbols,
        hypotheses=s.hypotheses,
        summary=(
            "From the definition, for any dimension d: the substitution x = μ₁ + L₁z "
            "(Σ₁ = L₁L₁ᵀ) turns p into the standard normal φ_d, so the log-ratio becomes a "
            "polynomial of degree 2 in z whose expectation needs only E[z] = 0 and "
            "E[zzᵀ] = I_d."
        ),
        references=references,
    )


def cross_entropy_route(
    name: str, spec: PairSpec, *, title: str, references: tuple[str, ...]
) -> Any:
    """Route (c): H(p, q) − H(p), each whitened and evaluated separately."""
    s = _setting()
    lemmas, moments = _moment_lemmas()
    density_step, density_fact = _density_lemma(s)
    delta = s.mu1 - s.mu2
    two_pi = s.d / 2 * sp.log(2 * sp.pi)
    h = Entropy(s.pl, s.lim)
    c = CrossEntropy(s.pl, s.ql, s.lim)
    h_value = two_pi + HALF * sp.log(sp.Determinant(s.s1)) + s.d / 2
    c_value = (
        two_pi
        + HALF * sp.log(sp.Determinant(s.s2))
        + HALF * sp.Trace(delta.T * s.s2.I * delta)
        + HALF * sp.Trace(s.l1.T * s.s2.I * s.l1)
    )
    h_fact = sp.Eq(h, h_value, evaluate=False)
    c_fact = sp.Eq(c, c_value, evaluate=False)
    steps = [
        *lemmas,
        density_step,
        Step(
            lhs=h,
            rhs=-Expectation(sp.log(s.p_at), s.std, s.zlim),
            reason="definition of the entropy, then x = μ₁ + L₁z",
            check=_change(s, density_fact),
        ),
        Step(
            rhs=-Expectation(_log_density(s.p, s.phi), s.std, s.zlim),
            reason="log p at x = μ₁ + L₁z",
            check=MatrixAlgebra(given=(s.chol,)),
        ),
        Step(
            rhs=h_value,
            reason="(L₁z)ᵀΣ₁⁻¹(L₁z) = zᵀz; E[zᵀz] = tr I_d = d",
            check=GaussianMoments(s.z, s.std, moments, given=(s.chol,)),
        ),
        Step(
            lhs=c,
            rhs=-Expectation(sp.log(s.q_at), s.std, s.zlim),
            reason="definition of the cross-entropy, then x = μ₁ + L₁z",
            check=_change(s, density_fact),
        ),
        Step(
            rhs=-Expectation(_log_density(s.q, s.phi), s.std, s.zlim),
            reason="log q at x = μ₁ + L₁z",
            check=MatrixAlgebra(given=(s.chol,)),
        ),
        Step(
            rhs=c_value,
            reason="linearity; E[z] = 0, E[zzᵀ] = I_d",
            check=GaussianMoments(s.z, s.std, moments, given=(s.chol,)),
        ),
        Step(
            lhs=s.kl,
            rhs=c - h,
            reason="KL is cross-entropy minus entropy",
            check=KLSplit(),
        ),
        Step(
            rhs=c_value - h_value,
            reason="the two lemmas",
            check=MatrixAlgebra(using=(h_fact, c_fact)),
        ),
        Step(
            rhs=s.closed,
            reason="tr(L₁ᵀΣ₂⁻¹L₁) = tr(Σ₂⁻¹Σ₁) (cyclic trace, Σ₁ = L₁L₁ᵀ)",
            check=MatrixAlgebra(given=(s.chol,)),
        ),
    ]
    return Derivation(
        name=name,
        title=title,
        steps=tuple(steps),
        symbols=s.symbols,
        hypotheses=s.hypotheses,
        summary=(
            "Cross-entropy minus entropy, for any dimension d: H(p) = ½ log det(2πe Σ₁) and "
            "H(p, q) each from its definition after the substitution x = μ₁ + L₁z."
        ),
        references=references,
    )


def _log_normaliser(eta: Any, h: Any) -> Any:
    r""":math:`A(\eta, H) = -\tfrac14 \eta^\top H^{-1} \eta - \tfrac12 \log\det(-2H)`."""
    return -sp.Trace(eta.T * h.I * eta) / 4 - HALF * sp.log(sp.Determinant(-2 * h))


def bregman_route(name: str, spec: PairSpec, *, title: str, references: tuple[str, ...]) -> Any:
    r"""Route (b): the exponential-family form, with the mean parameters from the moments.

    With :math:`T(x) = (x, x x^\top)`, natural parameters :math:`\eta = \Sigma^{-1}\mu`,
    :math:`H = -\tfrac12 \Sigma^{-1}` and log-normaliser :math:`A(\eta, H)` (checked
    against the density), :math:`\log p - \log q = \langle \eta_1 - \eta_2, x\rangle
    + \langle H_1 - H_2, x x^\top\rangle - A_1 + A_2`, so
    :math:`\mathrm{KL} = A_2 - A_1 - \langle (\eta_2, H_2) - (\eta_1, H_1),
    (\mu_1, \Sigma_1 + \mu_1\mu_1^\top)\rangle`: the Bregman divergence of :math:`A`
    with :math:`\nabla A(\eta_1, H_1)` the mean parameters :math:`\mathbb{E}_p[T]`. Those
    are computed from the moments of :math:`z` (after the substitution), not by
    differentiating :math:`A` (SymPy's matrix calculus does not give the gradient of
    :math:`\log\det` of a symbolic-size matrix in a form the checks use).
    """
    s = _setting()
    lemmas, moments = _moment_lemmas()
    density_step, density_fact = _density_lemma(s)
    eta1, h1 = s.s1.I * s.mu1, -s.s1.I / 2
    eta2, h2 = s.s2.I * s.mu2, -s.s2.I / 2
    a1, a2 = _log_normaliser(eta1, h1), _log_normaliser(eta2, h2)

    def natural_form(at: Any, eta: Any, h: Any, a: Any) -> Any:
        return -s.d / 2 * sp.log(2 * sp.pi) + sp.Trace(eta.T * at) + sp.Trace(h.T * at * at.T) - a

    mean, second = s.mu1, s.s1 + s.mu1 * s.mu1.T
    steps = [
        *lemmas,
        density_step,
        Step(
            lhs=sp.log(s.pl),
            rhs=natural_form(s.x, eta1, h1, a1),
            reason="p in exponential-family form: T(x) = (x, xxᵀ), η₁ = Σ₁⁻¹μ₁, H₁ = −½Σ₁⁻¹, "
            "A the log-normaliser",
            check=MatrixAlgebra(),
        ),
        Step(
            lhs=sp.log(s.ql),
            rhs=natural_form(s.x, eta2, h2, a2),
            reason="q in exponential-family form",
            check=MatrixAlgebra(),
        ),
        Step(
            lhs=s.kl,
            rhs=Expectation(sp.log(s.p_at) - sp.log(s.q_at), s.std, s.zlim),
            reason="definition, then x = μ₁ + L₁z (Jacobian det L₁, the density lemma)",
            check=_change(s, density_fact),
        ),
        Step(
            rhs=Expectation(
                natural_form(s.phi, eta1, h1, a1) - natural_form(s.phi, eta2, h2, a2),
                s.std,
                s.zlim,
            ),
            reason="the exponential-family forms at x = μ₁ + L₁z",
            check=MatrixAlgebra(given=(s.chol,)),
        ),
        Step(
            rhs=a2 - a1 + sp.Trace((eta1 - eta2).T * mean) + sp.Trace((h1 - h2).T * second),
            reason="A₂ − A₁ − ⟨(η₂, H₂) − (η₁, H₁), E_p[T]⟩ with E_p[x] = μ₁, "
            "E_p[xxᵀ] = Σ₁ + μ₁μ₁ᵀ (linearity; E[z] = 0, E[zzᵀ] = I)",
            check=GaussianMoments(s.z, s.std, moments, given=(s.chol,)),
        ),
        Step(rhs=s.closed, reason="collect terms", check=MatrixAlgebra(given=(s.chol,))),
    ]
    return Derivation(
        name=name,
        title=title,
        steps=tuple(steps),
        symbols=s.symbols,
        hypotheses=s.hypotheses,
        summary=(
            "The exponential-family route, for any dimension d: both log-densities in natural "
            "parameters (checked against the densities), so KL is the Bregman divergence "
            "A₂ − A₁ − ⟨θ₂ − θ₁, E_p[T]⟩ of the log-normaliser, with the mean parameters "
            "E_p[T] = (μ₁, Σ₁ + μ₁μ₁ᵀ) from the Gaussian moments."
        ),
        references=references,
    )


@_spec("multivariatenormal", "multivariatenormal")
def _mvn_mvn() -> PairSpec:
    s = _setting()
    return PairSpec(
        s.p,
        s.q,
        s.closed,
        {},
        ("integral", "bregman", "cross-entropy"),
        (PENNY + ", eq. (2)", DUCHI, PETERSEN),
        notes=(
            "Derived for a symbolic dimension d with matrix expressions; "
            f"{ID}/d2 and {ID}/d3 check the formula against the defining integral at "
            "d = 2 and d = 3 with every matrix entry a symbol."
        ),
        extra={
            "builders": {
                "integral": integral_route,
                "bregman": bregman_route,
                "cross-entropy": cross_entropy_route,
            },
            "pair_lhs": s.kl,
            "cite": CiteMatrix,
            "symbols": s.symbols[:5],
            "titles": {
                "integral": "from the defining integral, for any dimension d",
                "bregman": "by the exponential-family (Bregman) form, for any dimension d",
            },
        },
    )


# --------------------------------------------------------------------------- concrete d


def _triangular(letter: str, dim: int) -> Any:
    """A lower-triangular matrix of symbols with positive diagonal."""
    return sp.ImmutableMatrix(
        dim,
        dim,
        lambda i, j: (
            sp.Symbol(f"{letter}_{i + 1}{j + 1}", real=True, positive=i == j or None)
            if i >= j
            else 0
        ),
    )


def whitened_steps(
    x: Any, pl: Any, ql: Any, m1: Any, l1: Any, instance: Any, reason: str
) -> tuple[Step, ...]:
    r"""Steps from ``KL(pl ‖ ql)`` over :math:`x \in \mathbb{R}^d` (concrete ``d``) to ``instance``.

    ``pl`` and ``ql`` are labelled densities of the ``d x 1`` ``MatrixSymbol`` ``x``;
    :math:`x = m_1 + L_1 t` must turn ``pl`` into the standard normal density (a checked
    lemma). The log-ratio is expanded into monomials of :math:`t` and each monomial
    integral evaluated by SymPy; the sum must equal ``instance``.
    """
    dim = x.shape[0]
    ts = tuple(sp.Symbol(f"t_{i + 1}", real=True) for i in range(dim))
    phi = m1 + l1 * sp.ImmutableMatrix(ts)
    phi1 = [
        Labelled(sp.Symbol(rf"\varphi_1(t_{i + 1})"), sp.exp(-(t**2) / 2) / sp.sqrt(2 * sp.pi))
        for i, t in enumerate(ts)
    ]
    weight = sp.Mul(*phi1)
    p_at = Labelled(sp.Symbol(r"p(\mu_1 + L_1 t)"), unfold(pl).xreplace({x: phi}).doit())
    q_at = Labelled(sp.Symbol(r"q(\mu_1 + L_1 t)"), unfold(ql).xreplace({x: phi}).doit())
    density_lhs = sp.log(p_at) + sp.log(l1.det())
    density_rhs = sp.Add(*(sp.log(f) for f in phi1))
    density_fact = sp.Eq(density_lhs, density_rhs, evaluate=False)
    log_ratio = sp.expand(sp.expand_log(sp.log(p_at.args[1]) - sp.log(q_at.args[1]), force=True))
    poly = sp.Poly(log_ratio, *ts)
    split = sp.Add(
        *(
            c * iterated(weight * sp.Mul(*(t**k for t, k in zip(ts, mon, strict=True))), ts)
            for mon, c in poly.terms()
        )
    )
    return (
        Step(
            lhs=density_lhs,
            rhs=density_rhs,
            reason="p(μ₁ + L₁t)·det L₁ is the product of standard normal densities",
            check=Algebra(),
        ),
        Step(
            lhs=KL(pl, ql, (x, -oo, oo)),
            rhs=iterated(weight * (sp.log(p_at) - sp.log(q_at)), ts),
            reason="definition, then x = μ₁ + L₁t (Jacobian det L₁ > 0)",
            check=ExplicitAffineChange(x, m1, l1, ts, density_fact),
        ),
        Step(
            rhs=split,
            reason="the log-ratio is a polynomial of degree 2 in t: linearity",
            check=MonomialSplit(ts, weight),
        ),
        Step(rhs=instance, reason=reason, check=Evaluate()),
    )


def concrete_derivation(dim: int) -> Derivation:
    r"""KL of two d-dimensional normals with symbolic entries, from the defining integral.

    :math:`\Sigma_1 = L_1 L_1^\top`, :math:`\Sigma_2 = L_2 L_2^\top` with lower-triangular
    :math:`L_k` of symbols (positive diagonal; every positive-definite matrix has such a
    factor), means of symbols. The integral is whitened by :math:`x = \mu_1 + L_1 t`, the
    log-ratio expanded into monomials of :math:`t`, every monomial integral evaluated by
    SymPy, and the sum compared with the general formula at these matrices.
    """
    name = f"{ID}/d{dim}"
    l1, l2 = _triangular("a", dim), _triangular("b", dim)
    m1 = sp.ImmutableMatrix([sp.Symbol(f"m_{i + 1}", real=True) for i in range(dim)])
    m2 = sp.ImmutableMatrix([sp.Symbol(f"n_{i + 1}", real=True) for i in range(dim)])
    p = MultivariateNormal(loc=m1, covariance_matrix=l1 * l1.T)
    q = MultivariateNormal(loc=m2, covariance_matrix=l2 * l2.T)
    x = p.variable
    general = _setting()
    instance = general.closed.xreplace(
        {general.mu1: m1, general.s1: l1 * l1.T, general.mu2: m2, general.s2: l2 * l2.T}
    )
    instance = sp.expand_log(instance.xreplace({general.d: dim}).doit(), force=True)
    steps = whitened_steps(
        x,
        p.label("p", x),
        q.label("q", x),
        m1,
        l1,
        instance,
        "each monomial integral evaluated by SymPy; compared with the general formula "
        "½[tr(Σ₂⁻¹Σ₁) + (μ₂−μ₁)ᵀΣ₂⁻¹(μ₂−μ₁) − d + log det Σ₂ − log det Σ₁] "
        f"at d = {dim}, Σ₁ = L₁L₁ᵀ, Σ₂ = L₂L₂ᵀ",
    )
    symbols = tuple(
        sorted(
            {s for m in (l1, l2, m1, m2) for e in m for s in e.free_symbols},
            key=lambda s: (str(s)[0] not in "mn", str(s)),
        )
    )
    return Derivation(
        name=name,
        title=f"KL of two {dim}-dimensional normals from the defining integral",
        steps=steps,
        symbols=symbols,
        summary=(
            f"An independent check of the general-d formula at d = {dim}: every entry of the "
            "Cholesky factors and means is a symbol; the defining integral is evaluated by "
            "SymPy as iterated one-dimensional integrals after the change of variables."
        ),
        references=(PENNY + ", eq. (2)",),
    )


@register(f"{ID}/d2")
def _d2() -> Derivation:
    return concrete_derivation(2)


@register(f"{ID}/d3")
def _d3() -> Derivation:
    return concrete_derivation(3)


@register("entropy/multivariatenormal")
def entropy_derivation() -> Derivation:
    r""":math:`H(\mathcal N(\mu, \Sigma)) = \tfrac12 \log\det(2\pi e\,\Sigma)` for any :math:`d`."""
    s = _setting()
    lemmas, moments = _moment_lemmas()
    density_step, density_fact = _density_lemma(s)
    h = Entropy(s.pl, s.lim)
    h_value = s.d / 2 * sp.log(2 * sp.pi) + HALF * sp.log(sp.Determinant(s.s1)) + s.d / 2
    steps = (
        *lemmas,
        density_step,
        Step(
            lhs=h,
            rhs=-Expectation(sp.log(s.p_at), s.std, s.zlim),
            reason="definition of the entropy, then x = μ₁ + L₁z",
            check=_change(s, density_fact),
        ),
        Step(
            rhs=-Expectation(_log_density(s.p, s.phi), s.std, s.zlim),
            reason="log p at x = μ₁ + L₁z",
            check=MatrixAlgebra(given=(s.chol,)),
        ),
        Step(
            rhs=h_value,
            reason="(L₁z)ᵀΣ₁⁻¹(L₁z) = zᵀz; E[zᵀz] = tr I_d = d",
            check=GaussianMoments(s.z, s.std, moments, given=(s.chol,)),
        ),
        Step(
            rhs=HALF * sp.log(sp.Determinant(2 * sp.pi * sp.E * s.s1)),
            reason="det(cΣ) = c^d det Σ",
            check=MatrixAlgebra(),
        ),
    )
    return Derivation(
        name="entropy/multivariatenormal",
        title="Entropy of the multivariate normal distribution, for any dimension d",
        steps=steps,
        symbols=(s.d, s.mu1, s.s1, s.l1),
        hypotheses=s.hypotheses,
        summary="The entropy of N(μ₁, Σ₁) from its definition, whitened by x = μ₁ + L₁z.",
        references=(
            PENNY,
            "T. M. Cover and J. A. Thomas, Elements of Information Theory, 2006, Thm. 8.4.1",
        ),
    )
