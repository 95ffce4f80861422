r"""Near-diagonal expansion of KL within a family, with the Fisher information.

For a same-family pair with parameters :math:`\theta` (of p) and :math:`\theta + t\delta`
(of q), SymPy derives the Taylor coefficients of
:math:`K(t) = \mathrm{KL}(p_\theta \,\|\, p_{\theta + t\delta})` at :math:`t = 0` up to
third order from the pair's verified closed form. The derivation
``kl/<f>/<f>/expansion`` checks that :math:`K(0) = K'(0) = 0` and that the quadratic
coefficient is :math:`\tfrac12 \delta^\top I(\theta)\, \delta` with the Fisher information
:math:`I_{ij} = -\mathbb{E}_\theta[\partial_i \partial_j \log p]` derived from the density
(each expectation a checked lemma). :func:`near_diagonal` exposes the coefficients for
numeric kernels (where p ≈ q the closed form cancels; the series does not).

Families whose support depends on a parameter (Uniform, Pareto) are not regular and
have no such expansion; Laplace's log-density is not twice differentiable in ``loc``.
Parameters p and q share (Weibull's concentration) are not expanded. Gumbel's Fisher
information in the scale needs :math:`\mathbb{E}[U^k \log^n U]` for
:math:`U \sim \mathrm{Exp}(1)`, derived as :math:`\Gamma^{(n)}(k + 1)` (SymPy's direct
integral is a Meijer G function).

Multivariate pairs start from the pair's closed form at a concrete size: Categorical at
K = 3 in the free coordinates :math:`(p_1, p_2)` (the Fisher information is a finite sum
over the categories), Dirichlet at K = 3 (the Hessian of :math:`\log p` is free of
:math:`x`, so only :math:`\int p = 1` is needed), DiagonalNormal at D = 2 (Gaussian double
integrals). Binomial holds its shared ``total_count`` fixed. MultivariateNormal is
expanded at d = 2 in ``loc`` and the Cholesky factor ``scale_tril``
(:math:`\Sigma = L L^\top`): its Fisher information needs expectations under a
correlated Gaussian, which SymPy does not integrate directly in useful time (∫p = 1 alone
ran past 200 s), so each is moved to :math:`t \sim \mathcal{N}(0, I)` by the checked
change of variables :math:`x = m + L t`
(:class:`~klproof.derivation.AffineSubstitution`) and follows from the standard normal
moments. The same construction at d = 3 (9 parameters, 45 Fisher entries) verifies
too but takes about 35 s, so it is not registered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import sympy as sp

from klproof.derivation import (
    AffineSubstitution,
    Algebra,
    Derivation,
    Evaluate,
    Labelled,
    Rule,
    Step,
)
from klproof.symbolic.families import (
    Categorical,
    DiagonalNormal,
    Dirichlet,
    MultivariateNormal,
    Normal,
)
from klproof.symbolic.kl._checks import Integrate, Memo, Using
from klproof.symbolic.kl._matrix import MonomialSplit, iterated
from klproof.symbolic.kl._routes import _moment_lemmas, agg, decompose
from klproof.symbolic.kl.catalogue import SPECS, PairSpec

__all__ = ["EXPANDABLE", "Expansion", "expansion_derivation", "near_diagonal"]

#: Same-family pairs with a near-diagonal expansion (regular families).
EXPANDABLE = (
    "normal",
    "halfnormal",
    "exponential",
    "gamma",
    "poisson",
    "bernoulli",
    "geometric",
    "beta",
    "gumbel",
    "lognormal",
    "weibull",
    "binomial",
    "categorical",
    "dirichlet",
    "diagonalnormal",
    "multivariatenormal",
)


@dataclass(frozen=True)
class Expansion:
    r"""Taylor coefficients of :math:`K(t) = \mathrm{KL}(p_\theta \| p_{\theta + t\delta})`.

    Attributes
    ----------
    family
        Family name.
    params
        Public parameter name → symbol of :math:`\theta`.
    deltas
        Public parameter name → symbol of the direction :math:`\delta`.
    t
        The expansion variable.
    coefficients
        ``(c0, c1, c2, c3)`` with :math:`K(t) = c_2 t^2 + c_3 t^3 + O(t^4)` (``c0 = c1 = 0``).
    fisher
        The Fisher information matrix :math:`I(\theta)` (rows in parameter order).
    substitution
        The symbols of the pair's closed form (:func:`~klproof.symbolic.kl.get_pair`)
        → their values in :math:`\theta`, :math:`\delta` and :math:`t`: q's parameters at
        :math:`\theta + t\delta`, and p's dependent coordinates (Categorical's
        :math:`p_K = 1 - \sum_{i<K} p_i`) in the free ones.
    """

    family: str
    params: Mapping[str, Any]
    deltas: Mapping[str, Any]
    t: Any
    coefficients: tuple[Any, ...]
    fisher: Any
    substitution: Mapping[Any, Any] = field(default_factory=dict)

    def series(self) -> Any:
        """The polynomial :math:`c_2 t^2 + c_3 t^3` (the error is :math:`O(t^4)`)."""
        return sum(c * self.t**k for k, c in enumerate(self.coefficients))


def _varying(spec: PairSpec) -> dict[str, Any]:
    """The parameters of p that q does not share (Weibull's concentration is shared)."""
    return {k: v for k, v in spec.p.values.items() if spec.q.values[k] != v}


@cache
def _data(name: str) -> tuple[PairSpec, dict[str, Any], Any, Any]:
    spec = SPECS[(name, name)]()
    deltas = {k: sp.Symbol(f"delta_{k}", real=True) for k in _varying(spec)}
    t = sp.Symbol("t", positive=True)
    shifted = {spec.q.values[k]: spec.p.values[k] + t * deltas[k] for k in deltas}
    return spec, deltas, t, spec.closed.xreplace(shifted)


def _fisher(spec: PairSpec) -> Any:
    p = spec.p
    x = p.variable
    theta = list(_varying(spec).values())
    log_p = sp.expand_log(sp.log(p.pdf(x)), force=True)
    n = len(theta)
    entries = [[sp.Integer(0)] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            d2 = sp.diff(log_p, theta[i], theta[j])
            groups = decompose(d2, x)
            moments = {f: spec.moments[f] for f in groups if f != 1}
            values = {
                f: (m if not callable(m) else m(p.label("p", x), p.limits(x))[-1].rhs)
                for f, m in moments.items()
            }
            values[sp.Integer(1)] = sp.Integer(1)
            entries[i][j] = sp.simplify(-sum(c * values[f] for f, c in groups.items()))
    return sp.Matrix(entries)


@cache
def near_diagonal(family: str) -> Expansion:
    """The near-diagonal expansion of the same-family KL for ``family``.

    Raises
    ------
    KeyError
        If the family has no regular expansion here (see :data:`EXPANDABLE`).
    """
    name = family.lower()
    if name not in EXPANDABLE:
        raise KeyError(
            f"no near-diagonal expansion for {family!r}; available: {', '.join(EXPANDABLE)}"
        )
    if name in _CUSTOM:
        c = _custom(name)
        return Expansion(
            family=name,
            params=c.params,
            deltas=c.deltas,
            t=c.t,
            coefficients=_coefficients(c.k_t, c.t, c.canonical),
            fisher=c.fisher,
            substitution=c.substitution,
        )
    spec, deltas, t, k_t = _data(name)
    return Expansion(
        family=name,
        params=_varying(spec),
        deltas=deltas,
        t=t,
        coefficients=_coefficients(k_t, t),
        fisher=_fisher(spec),
        substitution={spec.q.values[k]: spec.p.values[k] + t * deltas[k] for k in deltas},
    )


def _coefficients(
    k_t: Any, t: Any, canonical: Callable[[Any], Any] = sp.simplify
) -> tuple[Any, ...]:
    return tuple(canonical(sp.diff(k_t, t, k).subs(t, 0) / sp.factorial(k)) for k in range(4))


def expansion_derivation(family: str) -> Derivation:
    """The checked expansion: zeroth and first order vanish; quadratic = ½ δᵀ I δ."""
    name = family.lower()
    if name in _CUSTOM:
        return _custom_derivation(name)
    spec, deltas, t, k_t = _data(name)
    exp = near_diagonal(name)
    p = spec.p
    x = p.variable
    lim = p.limits(x)
    pl = p.label("p", x)
    theta = list(_varying(spec).values())
    d = list(deltas.values())
    log_p = sp.expand_log(sp.log(p.pdf(x)), force=True)
    n = len(theta)
    steps: list[Step] = []
    needed: list[Any] = []
    groups_ij: dict[tuple[int, int], dict[Any, Any]] = {}
    for i in range(n):
        for j in range(i, n):
            groups_ij[(i, j)] = decompose(sp.diff(log_p, theta[i], theta[j]), x)
            needed += [f for f in groups_ij[(i, j)] if f not in needed]
    lemmas, _values, facts = _moment_lemmas(pl, lim, needed, spec.moments, f"{name} expansion")
    steps += lemmas
    fisher_int = {}
    for (i, j), groups in groups_ij.items():
        d2 = sp.diff(log_p, theta[i], theta[j])
        start = -agg(pl * d2, lim)
        split = -sp.Add(
            *(c * (agg(pl * f, lim) if f != 1 else agg(pl, lim)) for f, c in groups.items())
        )
        value = exp.fisher[i, j]
        steps += [
            Step(lhs=start, rhs=split, reason="linearity", check=Rule("linearity of the integral")),
            Step(
                rhs=value,
                reason="the expectations (lemmas above)",
                check=Using("lemmas", tuple(facts)),
            ),
        ]
        fisher_int[(i, j)] = fisher_int[(j, i)] = start
    steps += _order_steps(k_t, t, exp.coefficients, d, exp.fisher, fisher_int)
    return Derivation(
        name=f"kl/{name}/{name}/expansion",
        title=f"KL({p.title} ‖ {p.title}) near the diagonal",
        steps=tuple(steps),
        symbols=(*theta, *d, t),
        conditions=tuple(spec.p.conditions()),
        summary=(
            "Taylor expansion of KL(p_θ ‖ p_{θ+tδ}) in t to third order from the verified "
            "closed form; the quadratic coefficient is ½ δᵀ I(θ) δ with the Fisher "
            "information derived from the density."
        ),
        references=("S. Kullback, Information Theory and Statistics, 1959, §2.6",),
    )


def _order_steps(
    k_t: Any, t: Any, c: tuple[Any, ...], d: list[Any], fisher: Any, fisher_int: dict[Any, Any]
) -> list[Step]:
    """Orders 0, 1, 3 from the closed form; order 2 equals ½ δᵀ I δ with I from the lemmas.

    ``fisher_int[(i, j)]`` is the expectation whose value ``fisher[i, j]`` a fact
    established earlier in the derivation states.
    """
    n = len(d)
    steps: list[Step] = []
    for k in (0, 1, 3):
        steps.append(
            Step(
                lhs=sp.Subs(sp.Derivative(k_t, (t, k)), t, 0) / sp.factorial(k)
                if k
                else k_t.subs(t, 0),
                rhs=c[k],
                reason=f"order {k} of the Taylor expansion of the closed form",
                check=Memo(Evaluate()),
            )
        )
    facts = tuple(
        sp.Eq(fisher_int[(i, j)], fisher[i, j], evaluate=False)
        for i in range(n)
        for j in range(i, n)
    )
    quad_form = sp.Rational(1, 2) * sum(
        d[i] * d[j] * fisher[i, j] for i in range(n) for j in range(n)
    )
    quad_int = sp.Rational(1, 2) * sum(
        d[i] * d[j] * fisher_int[(i, j)] for i in range(n) for j in range(n)
    )
    steps += [
        Step(
            lhs=sp.Subs(sp.Derivative(k_t, (t, 2)), t, 0) / 2,
            rhs=c[2],
            reason="order 2 of the Taylor expansion of the closed form",
            check=Memo(Evaluate()),
        ),
        Step(rhs=quad_form, reason="½ δᵀ I(θ) δ", check=Algebra()),
        Step(
            rhs=quad_int,
            reason="the Fisher information from the density (lemmas above)",
            check=Using("Fisher information", facts),
        ),
    ]
    return steps


# --------------------------------------------------------------------------- multivariate


@dataclass(frozen=True)
class _Custom:
    """A family whose pair the generic univariate builder cannot expand."""

    spec: PairSpec
    params: dict[str, Any]
    deltas: dict[str, Any]
    t: Any
    substitution: dict[Any, Any]
    k_t: Any
    lemmas: list[Step]
    fisher_int: dict[tuple[int, int], Any]
    fisher: Any
    conditions: tuple[Any, ...]
    note: str
    #: How the Taylor coefficients are brought to a readable form (``simplify`` by default).
    canonical: Callable[[Any], Any] = sp.simplify


def _rational_canonical(expr: Any) -> Any:
    """Logarithms expanded, then a rational function in factored form (cheaper than simplify)."""
    return sp.factor(sp.cancel(sp.expand_log(expr)))


def _free(names: list[str], theta: list[Any]) -> tuple[dict[str, Any], dict[str, Any], Any]:
    params = dict(zip(names, theta, strict=True))
    deltas = {k: sp.Symbol(f"delta_{k}", real=True) for k in names}
    return params, deltas, sp.Symbol("t", positive=True)


def _categorical() -> _Custom:
    r"""K = 3 in the free coordinates :math:`(p_1, p_2)`, :math:`p_3 = 1 - p_1 - p_2`.

    The Fisher information is the finite sum
    :math:`-\sum_k p(k)\, \partial_i \partial_j \log p(k)` of the mass function, which
    SymPy evaluates: :math:`\operatorname{diag}(1/p_1, 1/p_2) + \mathbf{1}\mathbf{1}^\top / p_3`.
    """
    spec = SPECS[("categorical", "categorical")]()
    (p1, p2, p3), (q1, q2, q3) = spec.p["probs"], spec.q["probs"]
    params, deltas, t = _free(["probs_1", "probs_2"], [p1, p2])
    d1, d2 = deltas.values()
    substitution = {
        p3: 1 - p1 - p2,
        q1: p1 + t * d1,
        q2: p2 + t * d2,
        q3: 1 - p1 - p2 - t * (d1 + d2),
    }
    free = Categorical(probs=[p1, p2, 1 - p1 - p2])
    k = sp.Symbol("k", integer=True, nonnegative=True)
    log_p = sp.expand_log(sp.log(free.pdf(k)), force=True)
    theta = [p1, p2]
    lemmas: list[Step] = []
    fisher_int: dict[tuple[int, int], Any] = {}
    entries = [[sp.Integer(0)] * 2 for _ in range(2)]
    for i in range(2):
        for j in range(i, 2):
            lhs = -sp.Sum(free.pdf(k) * sp.diff(log_p, theta[i], theta[j]), (k, 0, 2))
            value = sp.simplify(lhs.doit())
            lemmas.append(
                Step(
                    lhs=lhs,
                    rhs=value,
                    reason="the expectation under p: a sum over the three categories",
                    check=Memo(Evaluate()),
                )
            )
            fisher_int[(i, j)] = fisher_int[(j, i)] = lhs
            entries[i][j] = entries[j][i] = value
    return _Custom(
        spec=spec,
        params=params,
        deltas=deltas,
        t=t,
        substitution=substitution,
        k_t=spec.closed.xreplace(substitution),
        lemmas=lemmas,
        fisher_int=fisher_int,
        fisher=sp.Matrix(entries),
        conditions=(sp.Lt(p1 + p2, 1),),
        note="K = 3 in the free coordinates (p_1, p_2), p_3 = 1 − p_1 − p_2 (and so for "
        "q: δ_3 = −δ_1 − δ_2); ",
    )


def _dirichlet() -> _Custom:
    r"""K = 3 in the concentrations.

    :math:`\partial_i \partial_j \log p = \psi'(\alpha_0) - \delta_{ij} \psi'(\alpha_i)`
    does not depend on x, so its expectation is itself times :math:`\int p = 1` (the
    normaliser by iterated integration, as in the pair's routes).
    """
    from klproof.symbolic.kl.simplex import _conditions, _normaliser_steps  # noqa: PLC0415

    spec = SPECS[("dirichlet", "dirichlet")]()
    p = spec.p
    if not isinstance(p, Dirichlet):
        raise TypeError("dirichlet expansion: the pair's p is not a Dirichlet")
    alpha = list(p["concentration"])
    beta = list(spec.q["concentration"])
    names = [f"concentration_{i + 1}" for i in range(len(alpha))]
    params, deltas, t = _free(names, alpha)
    substitution = {b: a + t * d for a, b, d in zip(alpha, beta, deltas.values(), strict=True)}
    x = p.variable
    lim = p.limits()
    pl = p.label("p")
    lemmas, z_fact = _normaliser_steps(p, tuple(alpha))
    one = sp.Integral(pl, *lim)
    lemmas += [
        Step(
            lhs=one,
            rhs=z_fact.lhs / z_fact.rhs,
            reason="p = kernel / Z; linearity",
            check=Rule("linearity of the integral"),
        ),
        Step(rhs=sp.Integer(1), reason="the normaliser lemma", check=Using("Z", (z_fact,))),
    ]
    one_fact = sp.Eq(one, 1, evaluate=False)
    log_p = sp.expand_log(sp.log(p.pdf(x)), force=True)
    n = len(alpha)
    fisher_int: dict[tuple[int, int], Any] = {}
    entries = [[sp.Integer(0)] * n for _ in range(n)]
    for i in range(n):
        for j in range(i, n):
            d2 = sp.diff(log_p, alpha[i], alpha[j])
            if d2.has(*x):
                raise ValueError("dirichlet expansion: the Hessian of log p depends on x")
            lhs = -sp.Integral(pl * d2, *lim)
            value = -d2
            lemmas += [
                Step(
                    lhs=lhs,
                    rhs=-d2 * one,
                    reason="the second derivative of log p does not depend on x; linearity",
                    check=Rule("linearity of the integral"),
                ),
                Step(rhs=value, reason="p is normalised", check=Using("normalised", (one_fact,))),
            ]
            fisher_int[(i, j)] = fisher_int[(j, i)] = lhs
            entries[i][j] = entries[j][i] = value
    return _Custom(
        spec=spec,
        params=params,
        deltas=deltas,
        t=t,
        substitution=substitution,
        k_t=spec.closed.xreplace(substitution),
        lemmas=lemmas,
        fisher_int=fisher_int,
        fisher=sp.Matrix(entries),
        conditions=_conditions(p),  # x_1 < 1 inside the simplex (the iterated integral)
        note=f"K = {n}; ",
    )


def _diagonalnormal() -> _Custom:
    r"""D = 2, in ``loc`` and ``scale`` of both coordinates.

    The pair's closed form (for any D) is taken at D = 2. The Fisher information is
    :math:`-\mathbb{E}[\partial_i \partial_j \log p]` over the product density, each a
    double Gaussian integral SymPy evaluates: per coordinate the Normal's
    :math:`\operatorname{diag}(1/\sigma_k^2, 2/\sigma_k^2)`, no coupling between coordinates.
    """
    spec = SPECS[("diagonalnormal", "diagonalnormal")]()
    gp, gq = spec.p, spec.q
    if not isinstance(gp, DiagonalNormal):
        raise TypeError("diagonalnormal expansion: the pair's p is not a DiagonalNormal")
    dims = 2
    mu = [sp.Symbol(f"mu_1{k}", real=True) for k in range(1, dims + 1)]
    sigma = [sp.Symbol(f"sigma_1{k}", positive=True) for k in range(1, dims + 1)]
    names = [*(f"loc_{k}" for k in range(1, dims + 1)), *(f"scale_{k}" for k in range(1, dims + 1))]
    theta = [*mu, *sigma]
    params, deltas, t = _free(names, theta)
    d = list(deltas.values())
    substitution: dict[Any, Any] = {gp.dim: dims}
    for k in range(dims):
        substitution.update(
            {
                gp["loc"][k + 1]: mu[k],
                gp["scale"][k + 1]: sigma[k],
                gq["loc"][k + 1]: mu[k] + t * d[k],
                gq["scale"][k + 1]: sigma[k] + t * d[dims + k],
            }
        )
    x = [sp.Symbol(f"x_{k}", real=True) for k in range(1, dims + 1)]
    density = sp.Mul(*(Normal(loc=mu[k], scale=sigma[k]).pdf(x[k]) for k in range(dims)))
    pl = Labelled(sp.Symbol("p(x)"), density)
    lim = [(v, -sp.oo, sp.oo) for v in x]
    log_p = sp.expand_log(sp.log(density), force=True)
    n = len(theta)
    lemmas: list[Step] = []
    fisher_int: dict[tuple[int, int], Any] = {}
    entries = [[sp.Integer(0)] * n for _ in range(n)]
    for i in range(n):
        for j in range(i, n):
            lhs = -sp.Integral(pl * sp.diff(log_p, theta[i], theta[j]), *lim)
            value = sp.simplify(-sp.integrate(density * sp.diff(log_p, theta[i], theta[j]), *lim))
            lemmas.append(
                Step(
                    lhs=lhs,
                    rhs=value,
                    reason="the expectation under p: a Gaussian double integral",
                    check=Memo(Integrate()),
                )
            )
            fisher_int[(i, j)] = fisher_int[(j, i)] = lhs
            entries[i][j] = entries[j][i] = value
    closed = spec.closed.xreplace({gp.dim: dims}).doit()
    return _Custom(
        spec=spec,
        params=params,
        deltas=deltas,
        t=t,
        substitution=substitution,
        k_t=closed.xreplace(substitution),
        lemmas=lemmas,
        fisher_int=fisher_int,
        fisher=sp.Matrix(entries),
        conditions=(),
        note=f"D = {dims}; ",
    )


def _multivariatenormal(dims: int = 2) -> _Custom:
    r"""At d = ``dims`` (2 registered), in ``loc`` and the Cholesky factor ``scale_tril``.

    :math:`\Sigma = L L^\top`, :math:`L` lower triangular with positive diagonal (every
    positive-definite :math:`\Sigma` has one such factor); at d = 2
    :math:`\theta = (m_1, m_2, l_{11}, l_{21}, l_{22})`. The pair's closed form (for any
    d) is taken at d = ``dims``, with q at
    :math:`(m + t\delta_m,\ (L + t\Delta)(L + t\Delta)^\top)`.

    The Fisher information is :math:`-\mathbb{E}[\partial_i \partial_j \log p]` under the
    correlated Gaussian p, which SymPy does not integrate directly in useful time. Each
    expectation is moved to :math:`t \sim \mathcal{N}(0, I_d)` by the change of variables
    :math:`x = m + L t` (:class:`~klproof.derivation.AffineSubstitution`, with the density
    lemma :math:`p(m + L t)\det L = \prod_i \varphi(t_i)` checked by algebra on the
    log-densities); :math:`\partial_i \partial_j \log p` is then a polynomial of degree
    at most 2 in :math:`t`, whose expectation follows by linearity from the standard
    normal moments, each an iterated integral SymPy evaluates.
    """
    spec = SPECS[("multivariatenormal", "multivariatenormal")]()
    gp, gq = spec.p, spec.q
    if not isinstance(gp, MultivariateNormal):
        raise TypeError("multivariatenormal expansion: the pair's p is not a MultivariateNormal")
    m = [sp.Symbol(f"m_{i + 1}", real=True) for i in range(dims)]
    tril = [(i, j) for i in range(dims) for j in range(i + 1)]
    ell = {
        (i, j): sp.Symbol(f"l_{i + 1}{j + 1}", real=True, positive=i == j or None) for i, j in tril
    }
    names = [
        *(f"loc_{i + 1}" for i in range(dims)),
        *(f"scale_tril_{i + 1}{j + 1}" for i, j in tril),
    ]
    theta = [*m, *ell.values()]
    params, deltas, t = _free(names, theta)
    d = list(deltas.values())
    d_tril = dict(zip(tril, d[dims:], strict=True))
    loc = sp.ImmutableMatrix(m)
    chol = sp.ImmutableMatrix(dims, dims, lambda i, j: ell.get((i, j), 0))
    loc_q = sp.ImmutableMatrix([m[i] + t * d[i] for i in range(dims)])
    chol_q = sp.ImmutableMatrix(
        dims, dims, lambda i, j: ell[(i, j)] + t * d_tril[(i, j)] if i >= j else 0
    )
    substitution: dict[Any, Any] = {
        gp.dim: dims,
        gp["loc"]: loc,
        gp["covariance_matrix"]: chol * chol.T,
        gq["loc"]: loc_q,
        gq["covariance_matrix"]: chol_q * chol_q.T,
    }
    # the change of variables x = m + L t to t ~ N(0, I)
    xs = tuple(sp.Symbol(f"x_{i + 1}", real=True) for i in range(dims))
    ts = tuple(sp.Symbol(f"t_{i + 1}", real=True) for i in range(dims))
    density = MultivariateNormal(loc=loc, covariance_matrix=chol * chol.T).pdf(
        sp.ImmutableMatrix(xs)
    )
    pl = Labelled(sp.Symbol("p(x)"), density)
    at = dict(zip(xs, loc + chol * sp.ImmutableMatrix(ts), strict=True))
    p_at = Labelled(sp.Symbol("p(m + L t)"), density.xreplace(at))
    phi1 = [
        Labelled(sp.Symbol(rf"\varphi(t_{i + 1})"), sp.exp(-(v**2) / 2) / sp.sqrt(2 * sp.pi))
        for i, v in enumerate(ts)
    ]
    weight = sp.Mul(*phi1)
    density_lhs = sp.log(p_at) + sp.log(chol.det())
    density_rhs = sp.Add(*(sp.log(f) for f in phi1))
    density_fact = sp.Eq(density_lhs, density_rhs, evaluate=False)
    lemmas: list[Step] = [
        Step(
            lhs=density_lhs,
            rhs=density_rhs,
            reason="the density lemma: p(m + L t)·det L = ∏ φ(tᵢ), the standard normal "
            "density of t = L⁻¹(x − m)",
            check=Algebra(),
        )
    ]
    change = AffineSubstitution(xs, ts, loc, chol, density_fact)
    log_p = sp.expand_log(sp.log(density), force=True)  # every factor is positive
    n = len(theta)
    hessian: dict[tuple[int, int], Any] = {}
    needed: list[tuple[int, ...]] = []
    for i in range(n):
        for j in range(i, n):
            d2 = sp.factor(sp.diff(log_p, theta[i], theta[j]))
            moved = sp.Poly(sp.expand(-d2.xreplace(at)), *ts)
            hessian[(i, j)] = d2, moved
            needed += [mon for mon in moved.monoms() if mon not in needed]
    moments: dict[tuple[int, ...], Any] = {}
    facts = []
    for mon in sorted(needed, key=lambda mon: (sum(mon), [-k for k in mon])):
        lhs = iterated(weight * sp.Mul(*(v**k for v, k in zip(ts, mon, strict=True))), ts)
        moments[mon] = sp.Mul(*(sp.factorial2(k - 1) if k % 2 == 0 else 0 for k in mon))
        lemmas.append(
            Step(
                lhs=lhs,
                rhs=moments[mon],
                reason="a standard normal moment (SymPy evaluates the iterated integral)",
                check=Memo(Evaluate()),
            )
        )
        facts.append(sp.Eq(lhs, moments[mon], evaluate=False))
    fisher_int: dict[tuple[int, int], Any] = {}
    entries = [[sp.Integer(0)] * n for _ in range(n)]
    for (i, j), (d2, poly) in hessian.items():
        lhs = -iterated(pl * d2, xs)
        terms = [(mon, sp.factor(c)) for mon, c in poly.terms()]
        polynomial = sp.Add(
            *(c * sp.Mul(*(v**k for v, k in zip(ts, mon, strict=True))) for mon, c in terms)
        )
        split = sp.Add(
            *(
                c * iterated(weight * sp.Mul(*(v**k for v, k in zip(ts, mon, strict=True))), ts)
                for mon, c in terms
            )
        )
        value = sp.factor(sp.Add(*(c * moments[mon] for mon, c in terms)))
        lemmas += [
            Step(
                lhs=lhs,
                rhs=iterated(weight * polynomial, ts),
                reason="x = m + L t (Jacobian det L > 0; the density lemma); the integrand "
                "is a Gaussian times a polynomial, absolutely integrable",
                check=change,
            ),
            Step(
                rhs=split,
                reason="linearity: a polynomial of degree ≤ 2 in t",
                check=MonomialSplit(ts, weight),
            ),
            Step(
                rhs=value,
                reason="the standard normal moments (lemmas above)",
                check=Using("standard normal moments", tuple(facts)),
            ),
        ]
        fisher_int[(i, j)] = fisher_int[(j, i)] = lhs
        entries[i][j] = entries[j][i] = value
    return _Custom(
        spec=spec,
        params=params,
        deltas=deltas,
        t=t,
        substitution=substitution,
        # SymPy's default inverse of a symbolic matrix (dotprodsimp) took 2.5 s here
        k_t=spec.closed.xreplace(substitution)
        .replace(
            lambda e: isinstance(e, sp.Inverse),
            lambda e: sp.ImmutableMatrix(e.arg.as_explicit().inv(method="ADJ")),
        )
        .doit(),
        lemmas=lemmas,
        fisher_int=fisher_int,
        fisher=sp.Matrix(entries),
        conditions=(),
        note=f"d = {dims} in loc and the Cholesky factor scale_tril, Σ = LLᵀ; ",
        canonical=_rational_canonical,
    )


_CUSTOM: dict[str, Callable[[], _Custom]] = {
    "diagonalnormal": _diagonalnormal,
    "categorical": _categorical,
    "dirichlet": _dirichlet,
    "multivariatenormal": _multivariatenormal,
}


@cache
def _custom(name: str) -> _Custom:
    return _CUSTOM[name]()


def _custom_derivation(name: str) -> Derivation:
    c = _custom(name)
    exp = near_diagonal(name)
    p = c.spec.p
    d = list(c.deltas.values())
    # a closed form too long to print (MultivariateNormal: a page of terms, which did not
    # fit the column and slowed the page past its typesetting budget) is shown as K(t);
    # the checks unfold the label, so they see the closed form itself
    k_t = c.k_t if sp.count_ops(c.k_t) < 200 else Labelled(sp.Symbol("K(t)"), c.k_t)
    steps = [*c.lemmas, *_order_steps(k_t, c.t, exp.coefficients, d, exp.fisher, c.fisher_int)]
    return Derivation(
        name=f"kl/{name}/{name}/expansion",
        title=f"KL({p.title} ‖ {p.title}) near the diagonal",
        steps=tuple(steps),
        symbols=(*c.params.values(), *d, c.t),
        conditions=c.conditions,
        summary=(
            "Taylor expansion of K(t) = KL(p_θ ‖ p_{θ+tδ}) in t to third order from the "
            "verified "
            f"closed form ({c.note}the closed form is that of kl/{name}/{name}); the "
            "quadratic coefficient is ½ δᵀ I(θ) δ with the Fisher information derived from "
            "the density."
        ),
        references=("S. Kullback, Information Theory and Statistics, 1959, §2.6",),
    )
