r"""Checks for derivations written with SymPy matrix expressions of a symbolic dimension.

SymPy's general simplifier cannot work on ``MatrixSymbol`` expressions (its sign
simplification rebuilds matrix products with scalar placeholders and fails), so the
multivariate derivations use these checks, each a small set of sound rewrites followed by
an exact structural comparison:

* :func:`normal_form` — substitute stated equations (a Cholesky factorisation
  :math:`\Sigma = L L^\top`), evaluate transposes and inverses of products, expand
  traces by linearity and bring every trace of a product to one canonical rotation
  (:math:`\operatorname{tr}(AB) = \operatorname{tr}(BA)`,
  :math:`\operatorname{tr}(A^\top) = \operatorname{tr}(A)`), factor determinants
  (:math:`\det(AB) = \det A \det B`, :math:`\det A^\top = \det A`,
  :math:`\det A^{-1} = 1 / \det A`), expand logarithms, expand;
* :class:`MatrixAlgebra` — the two sides have the same normal form;
* :class:`AffineChange` — the change of variables :math:`x = \mu + L z` in an integral
  over :math:`\mathbb{R}^d`, with the density of :math:`z` an established lemma;
* :class:`GaussianMoments` — expectation under :math:`z \sim \mathcal{N}(0, I_d)` by
  linearity from :math:`\mathbb{E}[z] = 0` and :math:`\mathbb{E}[z z^\top] = I_d`
  (preconditions: the one-dimensional moment lemmas, established earlier);
* :class:`KLSplit` — :math:`\mathrm{KL}(p \| q) = H(p, q) - H(p)` by the definitions.

Logarithms are expanded with ``force=True``: every determinant in these derivations is of
a symmetric positive-definite matrix or of a triangular factor with positive diagonal
(stated as assumptions), so every logarithm's argument is positive. Every check whose
sides are free of unevaluated operators is also evaluated at random concrete matrices
(``d = 3``, positive-definite covariances, triangular factors with positive diagonal):
a guard against a bug in the rewrites, never a proof.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from klproof.derivation import Check, Claim, Context, Outcome
from klproof.derivation.ops import KL, CrossEntropy, Entropy, Expectation, unfold

__all__ = [
    "AffineChange",
    "CiteMatrix",
    "GaussianMoments",
    "KLSplit",
    "MatrixAlgebra",
    "integrand_parts",
    "normal_form",
]


def _is_symmetric(m: Any) -> bool:
    """Covariance symbols (``Sigma…``) are symmetric by assumption."""
    return isinstance(m, sp.MatrixSymbol) and str(m.name).startswith("Sigma")


def _symmetrise(expr: Any) -> Any:
    """Replace the transpose of a symmetric (covariance) symbol by the symbol."""
    return expr.replace(
        lambda e: isinstance(e, sp.Transpose) and _is_symmetric(e.arg), lambda e: e.arg
    )


def _matrix_terms(arg: Any) -> list[tuple[Any, list[Any]]]:
    """``arg`` (a matrix expression) as a sum of ``coefficient * product of factors``."""
    arg = _symmetrise(sp.expand(_symmetrise(arg.doit())))
    terms = arg.args if isinstance(arg, sp.MatAdd) else (arg,)
    out = []
    for term in terms:
        coeff, product = term.as_coeff_mmul()
        product = _symmetrise(product.doit())
        factors = list(product.args) if isinstance(product, sp.MatMul) else [product]
        scalars = [f for f in factors if not getattr(f, "is_Matrix", False)]
        factors = [f for f in factors if getattr(f, "is_Matrix", False)]
        coeff = coeff * sp.Mul(*scalars)
        if any(isinstance(f, sp.ZeroMatrix) for f in factors):
            continue
        out.append((coeff, [f for f in factors if not isinstance(f, sp.Identity)]))
    return out


def _transpose(factor: Any) -> Any:
    return _symmetrise(sp.Transpose(factor).doit())


def _key(factors: Sequence[Any]) -> tuple[str, ...]:
    return tuple(sp.srepr(f) for f in factors)


def rotations(factors: Sequence[Any]) -> Iterable[list[Any]]:
    """Every cyclic rotation of ``factors`` and of their transposed reversal."""
    reverse = [_transpose(f) for f in reversed(factors)]
    for seq in (list(factors), reverse):
        for k in range(len(seq)):
            yield seq[k:] + seq[:k]


def _canonical_trace(factors: list[Any], dim: Any) -> Any:
    if not factors:
        return dim  # tr(I_d) = d
    best = min(rotations(factors), key=_key)
    return sp.Trace(sp.MatMul(*best) if len(best) > 1 else best[0])


def _trace(arg: Any) -> Any:
    dim = arg.shape[0]
    return sp.Add(*(c * _canonical_trace(fs, dim) for c, fs in _matrix_terms(arg)))


def _det(arg: Any) -> Any:
    arg = _symmetrise(arg.doit())
    if isinstance(arg, sp.MatMul):
        coeff, product = arg.as_coeff_mmul()
        factors = list(product.args) if isinstance(product, sp.MatMul) else [product]
        if any(f.shape[0] != f.shape[1] for f in factors):
            return sp.Determinant(arg)  # det(AB) = det A det B needs square factors
        return coeff ** arg.shape[0] * sp.Mul(*(_det(f) for f in factors))
    if isinstance(arg, sp.Transpose):
        return _det(arg.arg)
    if isinstance(arg, sp.Inverse):
        return 1 / _det(arg.arg)
    if isinstance(arg, sp.Identity):
        return sp.Integer(1)
    return sp.Determinant(arg)


def normal_form(expr: Any, subs: Sequence[tuple[Any, Any]] = ()) -> Any:
    """The canonical form of a scalar expression built from traces and determinants.

    ``subs`` are equations (``lhs -> rhs``) substituted first (a Cholesky factorisation);
    expectations keep their density and limits and have their argument normalised.
    """
    expr = unfold(sp.sympify(expr)).xreplace(dict(subs))

    def inner(e: Any) -> Any:
        return type(e)(normal_form(e.args[0], subs), *e.args[1:])

    expr = expr.replace(lambda e: isinstance(e, Expectation), inner)
    expr = expr.replace(lambda e: isinstance(e, sp.Trace), lambda e: _trace(e.arg))
    expr = expr.replace(lambda e: isinstance(e, sp.Determinant), lambda e: _det(e.arg))
    expr = sp.expand(sp.expand_log(sp.expand(expr), force=True))
    # a second pass: expanding may have produced new traces of sums
    expr = expr.replace(lambda e: isinstance(e, sp.Trace), lambda e: _trace(e.arg))
    return sp.expand(expr)


# --------------------------------------------------------------------------- numeric guard


def _concrete(symbol: Any, rng: random.Random, dims: dict[Any, int]) -> Any:
    def size(n: Any) -> int:
        return int(n.xreplace(dims)) if isinstance(n, sp.Basic) else int(n)

    rows, cols = size(symbol.shape[0]), size(symbol.shape[1])

    def r() -> Any:
        return sp.Rational(rng.randint(-20, 20), 10)

    name = str(symbol.name)
    if name.startswith("Sigma"):
        a = sp.Matrix(rows, rows, lambda i, j: r())
        return sp.ImmutableMatrix(a * a.T + sp.eye(rows))
    if name.startswith("L"):
        return sp.ImmutableMatrix(
            rows,
            cols,
            lambda i, j: sp.Rational(rng.randint(5, 20), 10) if i == j else (r() if i > j else 0),
        )
    return sp.ImmutableMatrix(rows, cols, lambda i, j: r())


def numerically_nonzero(expr: Any) -> bool:
    """Whether ``expr`` is clearly non-zero at random concrete matrices (``d = 3``).

    Expressions with unevaluated operators or integrals are not sampled (``False``).
    """
    expr = unfold(sp.sympify(expr))
    if expr.has(KL, Entropy, CrossEntropy, Expectation, sp.Integral, sp.Sum):
        return False
    mats = sorted(expr.atoms(sp.MatrixSymbol), key=str)
    dims: dict[Any, int] = {}
    for m in mats:
        for n in m.shape:
            for s in getattr(n, "free_symbols", set()):
                dims[s] = 3
    rng = random.Random(20261125)
    for _ in range(2):
        values = {m: _concrete(m, rng, dims) for m in mats}
        value = expr.xreplace(values).xreplace(dims)
        for _ in range(3):  # doit is not always deep enough (det(cA) → c^d det(A))
            value = value.doit()
        value = sp.N(value, 30)
        if not value.is_number:
            return False  # nothing to sample: no evidence either way
        if abs(complex(value)) > 1e-20:
            return True
    return False


# --------------------------------------------------------------------------- checks


def _known(facts: Iterable[Any], ctx: Context) -> Outcome | None:
    for fact in facts:
        if not ctx.is_known(fact):
            return Outcome("failed", f"precondition {sp.sstr(fact)} is not established", fact)
    return None


def _substitute(expr: Any, facts: Sequence[Any]) -> Any:
    for fact in facts:
        expr = expr.xreplace({fact.lhs: fact.rhs})
    return expr


def _compare(lhs: Any, rhs: Any, subs: Sequence[tuple[Any, Any]], how: str) -> Outcome:
    residual = normal_form(lhs - rhs, subs)
    if residual != 0:
        return Outcome("failed", f"{how}: the normal forms differ", residual)
    if numerically_nonzero(unfold(lhs - rhs).xreplace(dict(subs))):
        return Outcome("failed", f"{how}: equal normal forms but numerically different", lhs - rhs)
    return Outcome("ok", how)


def _hypothesis_subs(facts: Sequence[Any]) -> tuple[tuple[Any, Any], ...]:
    return tuple((f.lhs, f.rhs) for f in facts)


@dataclass(frozen=True)
class MatrixAlgebra(Check):
    r"""The sides agree by matrix algebra (see :func:`normal_form`).

    ``given`` are equations substituted everywhere (a factorisation such as
    :math:`\Sigma_1 = L_1 L_1^\top`); ``using`` are established results whose left
    sides (e.g. an entropy) are replaced by their right sides. Each must be a hypothesis
    or established by an earlier step.
    """

    given: tuple[Any, ...] = ()
    using: tuple[Any, ...] = ()
    label = "matrix algebra"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        if claim.relation != "=":
            return Outcome("failed", "matrix algebra establishes equalities only")
        bad = _known((*self.given, *self.using), ctx)
        if bad:
            return bad
        lhs = _substitute(claim.lhs, self.using)
        rhs = _substitute(claim.rhs, self.using)
        return _compare(lhs, rhs, _hypothesis_subs(self.given), self.label)

    def describe(self) -> str:
        extra = " (with the lemmas above)" if self.using else ""
        return f"matrix algebra: traces, determinants, logarithms{extra}"


def integrand_parts(op: Any) -> tuple[Any, Any, Any, int] | None:
    """``(p, G, limits, sign)`` with ``op = sign * ∫ p G``, for KL, H(p), H(p, q)."""
    if isinstance(op, KL):
        p, q, lim = op.args
        return p, sp.log(p) - sp.log(q), lim, 1
    if isinstance(op, Entropy):
        p, lim = op.args
        return p, sp.log(p), lim, -1
    if isinstance(op, CrossEntropy):
        p, q, lim = op.args
        return p, sp.log(q), lim, -1
    return None


@dataclass(frozen=True)
class AffineChange(Check):
    r"""Change of variables :math:`x = \mu + L z` in an integral over :math:`\mathbb{R}^d`.

    The claim is ``Op(p, …, (x, -oo, oo)) = ± E_φ[G(μ + L z)]`` for ``Op`` a KL, entropy
    or cross-entropy with integrand :math:`p(x)\,G(x)`. Checked: the map is affine with
    matrix ``jacobian``; the density lemma
    :math:`\log p(\mu + L z) + \log\det L = \log \varphi(z)` is established (so
    :math:`p(\mu + L z)\,|\det L| = \varphi(z)`, with :math:`\det L > 0` by assumption);
    the new integrand is :math:`G` at :math:`\mu + L z` (same normal form); the limits are
    all of :math:`\mathbb{R}^d` on both sides.
    """

    x: Any
    phi: Any
    jacobian: Any
    density_fact: Any
    given: tuple[Any, ...] = ()
    label = "change of variables"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _known((self.density_fact, *self.given), ctx)
        if bad:
            return bad
        parts = integrand_parts(claim.lhs)
        if parts is None:
            return Outcome("failed", "expected a KL, an entropy or a cross-entropy on the left")
        p, g, lim, sign = parts
        if tuple(lim) != (self.x, -sp.oo, sp.oo):
            return Outcome("failed", f"the integral is not over all of R^d in {self.x}")
        rhs = claim.rhs
        if sign == -1:
            rhs = -rhs
        if not isinstance(rhs, Expectation):
            return Outcome("failed", "expected an expectation on the right")
        f, density, zlim = rhs.args
        z = zlim[0]
        if tuple(zlim) != (z, -sp.oo, sp.oo) or not isinstance(z, sp.MatrixSymbol):
            return Outcome("failed", "the new integral is not over all of R^d")
        if (self.phi - self.jacobian * z).doit().has(z) or self.jacobian.has(z):
            return Outcome("failed", "the map is not affine with the given matrix")
        expected_fact = sp.log(unfold(p).xreplace({self.x: self.phi})) + sp.log(
            sp.Determinant(self.jacobian)
        )
        if normal_form(unfold(self.density_fact.lhs) - expected_fact) != 0:
            return Outcome("failed", "the density lemma is not about p at the new variable")
        if normal_form(sp.log(density) - self.density_fact.rhs) != 0:
            return Outcome("failed", "the new density is not the one of the density lemma")
        moved = unfold(g).xreplace({self.x: self.phi})
        return _compare(moved, f, _hypothesis_subs(self.given), self.label)

    def describe(self) -> str:
        return f"change of variables {sp.sstr(self.x)} = {sp.sstr(self.phi)} on R^d"


def _z_count(factor: Any, z: Any) -> int | None:
    """1 if the factor is z or its transpose, 0 if free of z, None otherwise."""
    if factor == z or factor == sp.Transpose(z):
        return 1
    return None if factor.has(z) else 0


def _expect_trace(factors: list[Any], z: Any, dim: Any) -> tuple[bool, Any]:
    counts = [_z_count(f, z) for f in factors]
    if None in counts:
        return False, None
    n = sum(c for c in counts if c)
    if n == 1:
        return True, sp.Integer(0)  # E[z] = 0 and linearity
    if n == 2:
        for rot in rotations(factors):
            if rot[0] == sp.Transpose(z) and rot[-1] == z:
                # E[z^T M z] = tr(M E[z z^T]) = tr(M)
                return True, _canonical_trace(rot[1:-1], dim)
    return False, None


def _expect(f: Any, z: Any) -> tuple[bool, Any]:
    dim = z.shape[0]
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(f)):
        factors = sp.Mul.make_args(term)
        with_z = [x for x in factors if x.has(z)]
        rest = sp.Mul(*(x for x in factors if not x.has(z)))
        if not with_z:
            total += rest  # E[c] = c: the density is normalised
            continue
        if len(with_z) != 1 or not isinstance(with_z[0], sp.Trace):
            return False, term
        arg = with_z[0].arg
        pieces = _matrix_terms(arg)
        for coeff, fs in pieces:
            ok, value = _expect_trace(fs, z, dim)
            if not ok:
                return False, term
            total += rest * coeff * value
    return True, total


@dataclass(frozen=True)
class GaussianMoments(Check):
    r"""Expectation under :math:`z \sim \mathcal{N}(0, I_d)` by linearity.

    Every ``Expectation(f, φ, (z, -oo, oo))`` on the left with ``φ`` the given density is
    replaced by its value: :math:`f` is expanded into constants, traces linear in
    :math:`z` (expectation 0, as :math:`\mathbb{E}[z] = 0`) and traces
    :math:`\operatorname{tr}(z^\top M z)` (expectation :math:`\operatorname{tr} M`, as
    :math:`\mathbb{E}[z z^\top] = I_d`); anything else is not handled (``unchecked``).
    The moments follow from ``moments``, the one-dimensional lemmas
    :math:`\int\varphi_1 = 1`, :math:`\int t\varphi_1 = 0`, :math:`\int t^2\varphi_1 = 1`
    (which must be established), because the coordinates of :math:`z` are independent
    standard normals: :math:`\mathbb{E}[z_i z_j] = \mathbb{E}[z_i]\mathbb{E}[z_j] = 0`
    for :math:`i \ne j` (Fubini).
    """

    z: Any
    density: Any
    moments: tuple[Any, ...]
    given: tuple[Any, ...] = ()
    label = "Gaussian moments and linearity of expectation"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        if claim.relation != "=":
            return Outcome("failed", "expectations establish equalities only")
        bad = _known((*self.moments, *self.given), ctx)
        if bad:
            return bad
        subs = _hypothesis_subs(self.given)
        failure: list[Any] = []

        def value(e: Any) -> Any:
            f, density, lim = e.args
            if density != self.density or tuple(lim) != (self.z, -sp.oo, sp.oo):
                failure.append(e)
                return e
            ok, v = _expect(normal_form(f, subs), self.z)
            if not ok:
                failure.append(v)
                return e
            return v

        sides = [
            sp.sympify(s).replace(lambda e: isinstance(e, Expectation), value)
            for s in (claim.lhs, claim.rhs)
        ]
        if failure:
            return Outcome("unchecked", "an expectation is not of the handled form", failure[0])
        return _compare(sides[0], sides[1], subs, self.label)

    def describe(self) -> str:
        return "linearity of expectation; E[z] = 0, E[z zᵀ] = I for z ~ N(0, I)"


@dataclass(frozen=True)
class CiteMatrix(Check):
    """By another derivation whose result is a matrix expression.

    Like :class:`~klproof.derivation.Cite` (the cited derivation must verify with every
    step ``ok``), but the claim is compared with the cited result by :func:`normal_form`
    (the core's zero test cannot handle ``MatrixSymbol`` expressions).
    """

    derivation: Any
    label = "by derivation"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        cited = self.derivation() if callable(self.derivation) else self.derivation
        report = cited.verify()
        if report.status != "ok":
            return Outcome("failed", f"cited derivation {cited.name!r} is {report.status}")
        if claim.relation != "=" or claim.lhs != cited.lhs:
            return Outcome("failed", f"the claim is not about the result of {cited.name!r}")
        return _compare(claim.rhs, cited.rhs, (), f"by {cited.name}")

    def describe(self) -> str:
        target = self.derivation() if callable(self.derivation) else self.derivation
        return f"by derivation {target.name}"


@dataclass(frozen=True)
class KLSplit(Check):
    """``KL(p, q) = H(p, q) - H(p)``: the definitions, compared structurally."""

    label = "definitions"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        if not isinstance(claim.lhs, KL):
            return Outcome("failed", "expected KL(p, q) on the left")
        p, q, lim = claim.lhs.args
        if claim.rhs != CrossEntropy(p, q, lim) - Entropy(p, lim):
            return Outcome("failed", "the right side is not H(p, q) - H(p)")
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return "definitions: KL = cross-entropy − entropy"


# --------------------------------------------------------------------------- concrete d


def iterated(integrand: Any, variables: Sequence[Any]) -> Any:
    """``∫…∫ integrand dt_1 … dt_d`` over all of R^d, innermost ``t_1``."""
    out = integrand
    for t in variables:
        out = sp.Integral(out, (t, -sp.oo, sp.oo))
    return out


def _strip(expr: Any, variables: Sequence[Any]) -> Any | None:
    """The integrand of ``iterated(f, variables)``, or ``None`` if ``expr`` is not one."""
    limits: list[Any] = []
    while isinstance(expr, sp.Integral):  # SymPy merges nested integrals into one
        limits = [*expr.limits, *limits]
        expr = expr.function
    if tuple(limits) != tuple((t, -sp.oo, sp.oo) for t in variables):
        return None
    return expr


def _scalar_zero(expr: Any, ctx: Context) -> tuple[bool, Any]:
    from klproof.derivation import is_zero  # noqa: PLC0415 - the core's zero test

    expr = sp.expand(sp.expand_log(unfold(expr), force=True))
    if expr == 0:
        return True, sp.Integer(0)
    return is_zero(expr, ctx.conditions)


@dataclass(frozen=True)
class ExplicitAffineChange(Check):
    r"""Change of variables :math:`x = m + L t` on :math:`\mathbb{R}^d` for a concrete ``d``.

    The claim is ``Op(p, …, (x, -oo, oo)) = ± ∫…∫ W(t) G(m + L t) dt`` with ``Op`` a
    KL, entropy or cross-entropy of integrand :math:`p(x) G(x)` and ``x`` a
    :math:`d \times 1` ``MatrixSymbol``. Checked: :math:`\det L > 0` (SymPy decides it
    from the entries' assumptions); the density lemma
    :math:`\log p(m + L t) + \log\det L = \log W(t)` is established; the new integrand is
    :math:`W(t)\,G(m + L t)` (the difference expands to 0).
    """

    x: Any
    loc: Any
    jacobian: Any
    variables: tuple[Any, ...]
    density_fact: Any
    label = "change of variables"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        bad = _known((self.density_fact,), ctx)
        if bad:
            return bad
        parts = integrand_parts(claim.lhs)
        if parts is None:
            return Outcome("failed", "expected a KL, an entropy or a cross-entropy on the left")
        p, g, lim, sign = parts
        if tuple(lim) != (self.x, -sp.oo, sp.oo):
            return Outcome("failed", f"the integral is not over all of R^d in {self.x}")
        det = sp.ImmutableMatrix(self.jacobian).det()
        if not sp.factor(det).is_positive:
            return Outcome("failed", f"det L = {sp.sstr(det)} is not shown positive")
        phi = sp.ImmutableMatrix(self.loc) + sp.ImmutableMatrix(self.jacobian) * sp.ImmutableMatrix(
            self.variables
        )
        at = {self.x: phi}
        inner = _strip(sign * claim.rhs, self.variables)
        if inner is None:
            return Outcome("failed", "expected an iterated integral over all of R^d on the right")
        fact = self.density_fact
        ok, residual = _scalar_zero(
            unfold(fact.lhs) - sp.log(unfold(p).xreplace(at).doit()) - sp.log(det), ctx
        )
        if not ok:
            return Outcome("failed", "the density lemma is not about p at m + L t", residual)
        weight = sp.exp(unfold(fact.rhs))
        moved = unfold(g).xreplace(at).doit()
        ok, residual = _scalar_zero(sp.log(unfold(inner)) - sp.log(weight * moved), ctx)
        if not ok:
            ok, residual = _scalar_zero(unfold(inner) - weight * moved, ctx)
        if not ok:
            return Outcome("failed", "the new integrand is not W(t) G(m + L t)", residual)
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return f"change of variables {sp.sstr(self.x)} = m + L t on R^{len(self.variables)}"


@dataclass(frozen=True)
class MonomialSplit(Check):
    r"""Linearity of an iterated integral over a polynomial times a fixed weight.

    The claim is ``∫…∫ W F dt = Σ c_α ∫…∫ W t^α dt``; checked: both integrals run over
    all of R^d in the same variables and :math:`F - \sum_\alpha c_\alpha t^\alpha`
    expands to 0.
    """

    variables: tuple[Any, ...]
    weight: Any
    label = "linearity of the integral"

    def run(self, claim: Claim, ctx: Context) -> Outcome:
        inner = _strip(claim.lhs, self.variables)
        if inner is None:
            return Outcome("failed", "expected an iterated integral on the left")
        total = sp.Integer(0)
        for term in sp.Add.make_args(claim.rhs):
            ints = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Integral)]
            if len(ints) != 1:
                return Outcome("failed", "expected a sum of constants times integrals on the right")
            coeff = term / ints[0]
            body = _strip(ints[0], self.variables)
            if body is None or coeff.has(*self.variables):
                return Outcome("failed", "a term is not a constant times an iterated integral")
            total += coeff * body
        ok, residual = _scalar_zero(sp.expand(inner - total), ctx)
        if not ok:
            return Outcome("failed", "the integrands differ", residual)
        return Outcome("ok", self.label)

    def describe(self) -> str:
        return "linearity of the integral (the integrand expanded into monomials)"
