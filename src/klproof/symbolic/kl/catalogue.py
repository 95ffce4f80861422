"""The catalogue of KL pairs: specifications, from which every route is built.

Each entry names the two families (symbolic, p with index 1 and q with index 2 for a
same-family pair), the claimed closed form, the expectations under p that the
integral route needs (each proven by a lemma), the routes, the finiteness
conditions and the sources. Nothing here is trusted: every route derivation built
from an entry must verify.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from klproof.derivation import Step
from klproof.symbolic.families import (
    Bernoulli,
    Beta,
    Cauchy,
    Exponential,
    Family,
    Gamma,
    Geometric,
    Gumbel,
    HalfNormal,
    Laplace,
    LogNormal,
    Normal,
    Pareto,
    Poisson,
    Uniform,
    Weibull,
)
from klproof.symbolic.kl import cauchy as _cauchy
from klproof.symbolic.kl._checks import Integrate, Memo
from klproof.symbolic.kl._routes import Moments
from klproof.symbolic.kl.lemmas import (
    by_derivative,
    by_halves,
    by_sign,
    by_substitution,
    by_substitution_log_power,
)

__all__ = ["SPECS", "PairSpec"]

log, gamma, digamma = sp.log, sp.gamma, sp.digamma
EG = sp.EulerGamma
HALF = sp.Rational(1, 2)

PENNY = "W. D. Penny, KL-divergences of Normal, Gamma, Dirichlet and Wishart densities, 2001"
GIL = (
    "M. Gil, F. Alajaji and T. Linder, Rényi divergence measures for commonly used "
    "univariate continuous distributions, Information Sciences 249, 2013 (Table 3)"
)
NIELSEN = "F. Nielsen and R. Nock, Entropies and cross-entropies of exponential families, ICIP 2010"
COVER = "T. M. Cover and J. A. Thomas, Elements of Information Theory, 2nd ed., 2006, §8.6"
BROWN = "L. D. Brown, Fundamentals of Statistical Exponential Families, 1986, Thm. 2.2"
CHYZAK = (
    "F. Chyzak and F. Nielsen, A closed-form formula for the Kullback-Leibler divergence "
    "between Cauchy distributions, arXiv:1905.10965, 2019"
)
TORCH = "PyTorch torch/distributions/kl.py (formula cross-checked here, not copied)"


@dataclass(frozen=True)
class PairSpec:
    """Everything needed to build and describe one pair's derivations."""

    p: Family
    q: Family
    closed: Any
    moments: Moments
    routes: tuple[str, ...]
    sources: tuple[str, ...]
    finite_when: tuple[Any, ...] = ()
    conditions: tuple[Any, ...] = ()
    entropy: Any = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


SPECS: dict[tuple[str, str], Callable[[], PairSpec]] = {}

SAME = ("integral", "bregman", "cross-entropy")
CROSS = ("integral", "cross-entropy")


def _spec(p: str, q: str) -> Callable[[Callable[[], PairSpec]], Callable[[], PairSpec]]:
    def deco(fn: Callable[[], PairSpec]) -> Callable[[], PairSpec]:
        SPECS[(p, q)] = fn
        return fn

    return deco


# --------------------------------------------------------------------------- moments


def _gamma_log_moment(p: Gamma, x: Any) -> Any:
    a, b = p["concentration"], p["rate"]
    return by_derivative(
        x ** (a - 1) * sp.exp(-b * x), a, gamma(a) * b ** (-a), digamma(a) - log(b), log(x)
    )


def _normal_moments(p: Normal, x: Any) -> Moments:
    m, s = p["loc"], p["scale"]
    return {x: m, x**2: m**2 + s**2}


def _gamma_moments(p: Gamma, x: Any) -> Moments:
    a, b = p["concentration"], p["rate"]
    return {x: a / b, x**2: a * (a + 1) / b**2, log(x): _gamma_log_moment(p, x)}


def _beta_moments(p: Beta, x: Any) -> Moments:
    a, b = p["concentration1"], p["concentration0"]
    kernel = x ** (a - 1) * (1 - x) ** (b - 1)
    z = gamma(a) * gamma(b) / gamma(a + b)

    def normalised(pl: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
        return [
            Step(
                lhs=sp.Integral(pl, lim),
                rhs=sp.Integer(1),
                reason="p is normalised (Euler's Beta integral)",
                check=Memo(Integrate()),
            )
        ]

    return {
        1: normalised,
        log(x): by_derivative(
            kernel, a, z, digamma(a) - digamma(a + b), log(x), normaliser_check=Integrate()
        ),
        log(1 - x): by_derivative(
            kernel, b, z, digamma(b) - digamma(a + b), log(1 - x), normaliser_check=Integrate()
        ),
    }


def _gumbel_moments(p: Gumbel, x: Any, other_scale: Any = None) -> Moments:
    m, b = p["loc"], p["scale"]
    u = sp.Symbol("u", positive=True)
    phi = m - b * log(u)
    lim = (u, 0, sp.oo)
    out: Moments = {
        x: by_substitution_log_power(x, phi, lim, m + EG * b, x),
        sp.exp(-x / b): by_substitution(x, phi, lim, sp.exp(-m / b), sp.exp(-x / b)),
        x**2: by_substitution_log_power(x, phi, lim, (m + EG * b) ** 2 + sp.pi**2 * b**2 / 6, x**2),
        # for the Fisher information in the scale (the near-diagonal expansion)
        x * sp.exp(-x / b): by_substitution_log_power(
            x, phi, lim, sp.exp(-m / b) * (m - b * (1 - EG)), x * sp.exp(-x / b)
        ),
        x**2 * sp.exp(-x / b): by_substitution_log_power(
            x,
            phi,
            lim,
            sp.exp(-m / b) * (m**2 - 2 * m * b * (1 - EG) + b**2 * (sp.pi**2 / 6 - 2 * EG + EG**2)),
            x**2 * sp.exp(-x / b),
        ),
    }
    if other_scale is not None:
        c = other_scale
        out[sp.exp(-x / c)] = by_substitution(
            x, phi, lim, sp.exp(-m / c) * gamma(1 + b / c), sp.exp(-x / c)
        )
    return out


def _lognormal_moments(p: LogNormal, x: Any) -> Moments:
    m, s = p["loc"], p["scale"]
    u = sp.Symbol("u", real=True)
    lim = (u, -sp.oo, sp.oo)
    return {
        1: by_substitution(x, sp.exp(u), lim, sp.Integer(1), sp.Integer(1)),
        log(x): by_substitution(x, sp.exp(u), lim, m, log(x)),
        log(x) ** 2: by_substitution(x, sp.exp(u), lim, m**2 + s**2, log(x) ** 2),
    }


def _laplace_moments(p: Laplace, x: Any) -> Moments:
    m, b = p["loc"], p["scale"]
    return {
        sp.Abs(x - m): by_halves(m, b, sp.Abs(x - m)),
        x: by_halves(m, m, x),
        x**2: by_halves(m, m**2 + 2 * b**2, x**2),
    }


# --------------------------------------------------------------------------- same family


@_spec("normal", "normal")
def _normal_normal() -> PairSpec:
    p, q = Normal.symbolic(1), Normal.symbolic(2)
    m1, s1, m2, s2 = p["loc"], p["scale"], q["loc"], q["scale"]
    return PairSpec(
        p,
        q,
        log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - HALF,
        _normal_moments(p, p.variable),
        SAME,
        (PENNY + ", eq. (2)", GIL),
        entropy=HALF * log(2 * sp.pi * sp.E * s1**2),
    )


@_spec("halfnormal", "halfnormal")
def _halfnormal_halfnormal() -> PairSpec:
    p, q = HalfNormal.symbolic(1), HalfNormal.symbolic(2)
    s1, s2 = p["scale"], q["scale"]
    x = p.variable
    return PairSpec(
        p,
        q,
        log(s2 / s1) + s1**2 / (2 * s2**2) - HALF,
        {x**2: s1**2},
        SAME,
        (GIL,),
        entropy=HALF * log(sp.pi * s1**2 / 2) + HALF,
    )


@_spec("exponential", "exponential")
def _exponential_exponential() -> PairSpec:
    p, q = Exponential.symbolic(1), Exponential.symbolic(2)
    r1, r2 = p["rate"], q["rate"]
    return PairSpec(
        p,
        q,
        log(r1 / r2) + r2 / r1 - 1,
        {p.variable: 1 / r1},
        SAME,
        (GIL,),
        entropy=1 - log(r1),
    )


@_spec("gamma", "gamma")
def _gamma_gamma() -> PairSpec:
    p, q = Gamma.symbolic(1), Gamma.symbolic(2)
    a1, b1, a2, b2 = p["concentration"], p["rate"], q["concentration"], q["rate"]
    return PairSpec(
        p,
        q,
        (a1 - a2) * digamma(a1)
        - log(gamma(a1))
        + log(gamma(a2))
        + a2 * log(b1 / b2)
        + a1 * (b2 - b1) / b1,
        _gamma_moments(p, p.variable),
        SAME,
        (PENNY + ", eq. (6)", GIL),
        entropy=a1 - log(b1) + log(gamma(a1)) + (1 - a1) * digamma(a1),
    )


@_spec("poisson", "poisson")
def _poisson_poisson() -> PairSpec:
    p, q = Poisson.symbolic(1), Poisson.symbolic(2)
    r1, r2 = p["rate"], q["rate"]
    return PairSpec(
        p,
        q,
        r1 * log(r1 / r2) - r1 + r2,
        {p.variable: r1},
        ("integral", "bregman"),
        (TORCH,),
        notes="The Poisson entropy has no closed form, so there is no cross-entropy route.",
    )


@_spec("bernoulli", "bernoulli")
def _bernoulli_bernoulli() -> PairSpec:
    p, q = Bernoulli.symbolic(1), Bernoulli.symbolic(2)
    t1, t2 = p["probs"], q["probs"]
    return PairSpec(
        p,
        q,
        t1 * log(t1 / t2) + (1 - t1) * log((1 - t1) / (1 - t2)),
        {p.variable: t1},
        SAME,
        (COVER,),
        entropy=-t1 * log(t1) - (1 - t1) * log(1 - t1),
    )


@_spec("geometric", "geometric")
def _geometric_geometric() -> PairSpec:
    p, q = Geometric.symbolic(1), Geometric.symbolic(2)
    t1, t2 = p["probs"], q["probs"]
    return PairSpec(
        p,
        q,
        log(t1 / t2) + (1 - t1) / t1 * log((1 - t1) / (1 - t2)),
        {p.variable: (1 - t1) / t1},
        SAME,
        (TORCH,),
        entropy=-log(t1) - (1 - t1) / t1 * log(1 - t1),
    )


# --------------------------------------------------------------------------- cross family


@_spec("exponential", "gamma")
def _exponential_gamma() -> PairSpec:
    p, q = Exponential.symbolic(1), Gamma.symbolic(2)
    r = p["rate"]
    a, b = q["concentration"], q["rate"]
    x = p.variable
    return PairSpec(
        p,
        q,
        log(r) - 1 - a * log(b) + (a - 1) * (EG + log(r)) + b / r + log(gamma(a)),
        {x: 1 / r, log(x): -EG - log(r)},
        CROSS,
        (TORCH,),
        entropy=1 - log(r),
    )


@_spec("gamma", "exponential")
def _gamma_exponential() -> PairSpec:
    p, q = Gamma.symbolic(1), Exponential.symbolic(2)
    a, b = p["concentration"], p["rate"]
    r = q["rate"]
    return PairSpec(
        p,
        q,
        log(b) + (a - 1) * digamma(a) - a - log(gamma(a)) - log(r) + r * a / b,
        _gamma_moments(p, p.variable),
        CROSS,
        (TORCH,),
        entropy=a - log(b) + log(gamma(a)) + (1 - a) * digamma(a),
    )


@_spec("exponential", "normal")
def _exponential_normal() -> PairSpec:
    p, q = Exponential.symbolic(1), Normal.symbolic(2)
    r = p["rate"]
    m, s = q["loc"], q["scale"]
    x = p.variable
    return PairSpec(
        p,
        q,
        log(r) - 1 + HALF * log(2 * sp.pi) + log(s) + (2 / r**2 - 2 * m / r + m**2) / (2 * s**2),
        {x: 1 / r, x**2: 2 / r**2},
        CROSS,
        (TORCH,),
        entropy=1 - log(r),
    )


@_spec("gamma", "normal")
def _gamma_normal() -> PairSpec:
    p, q = Gamma.symbolic(1), Normal.symbolic(2)
    a, b = p["concentration"], p["rate"]
    m, s = q["loc"], q["scale"]
    return PairSpec(
        p,
        q,
        a * log(b)
        + (a - 1) * (digamma(a) - log(b))
        - a
        - log(gamma(a))
        + HALF * log(2 * sp.pi)
        + log(s)
        + (a * (a + 1) / b**2 - 2 * m * a / b + m**2) / (2 * s**2),
        _gamma_moments(p, p.variable),
        CROSS,
        (TORCH,),
        entropy=a - log(b) + log(gamma(a)) + (1 - a) * digamma(a),
    )


@_spec("bernoulli", "poisson")
def _bernoulli_poisson() -> PairSpec:
    p, q = Bernoulli.symbolic(1), Poisson.symbolic(2)
    t = p["probs"]
    r = q["rate"]
    k = p.variable
    return PairSpec(
        p,
        q,
        t * log(t) + (1 - t) * log(1 - t) - t * log(r) + r,
        {k: t, log(sp.factorial(k)): 0},
        CROSS,
        (TORCH,),
        entropy=-t * log(t) - (1 - t) * log(1 - t),
    )


@_spec("uniform", "normal")
def _uniform_normal() -> PairSpec:
    p, q = Uniform.symbolic(1), Normal.symbolic(2)
    a, b = p["low"], p["high"]
    m, s = q["loc"], q["scale"]
    x = p.variable
    return PairSpec(
        p,
        q,
        -log(b - a)
        + HALF * log(2 * sp.pi)
        + log(s)
        + ((a**2 + a * b + b**2) / 3 - m * (a + b) + m**2) / (2 * s**2),
        {x: (a + b) / 2, x**2: (a**2 + a * b + b**2) / 3},
        CROSS,
        (TORCH,),
        entropy=log(b - a),
    )


@_spec("uniform", "exponential")
def _uniform_exponential() -> PairSpec:
    a = sp.Symbol("a_1", positive=True)
    b = sp.Symbol("b_1", positive=True)
    p, q = Uniform(low=a, high=b), Exponential.symbolic(2)
    r = q["rate"]
    x = p.variable
    return PairSpec(
        p,
        q,
        -log(b - a) - log(r) + r * (a + b) / 2,
        {x: (a + b) / 2},
        CROSS,
        (TORCH,),
        finite_when=(sp.Ge(a, 0),),
        entropy=log(b - a),
        notes="Finite only for low >= 0; otherwise p puts mass where q has none (KL = +oo).",
    )


@_spec("pareto", "exponential")
def _pareto_exponential() -> PairSpec:
    p, q = Pareto.symbolic(1), Exponential.symbolic(2)
    m, a = p["scale"], p["alpha"]
    r = q["rate"]
    x = p.variable
    log_moment = by_derivative(x ** (-a - 1), a, m ** (-a) / a, log(m) + 1 / a, log(x), sign=-1)
    return PairSpec(
        p,
        q,
        log(a) - log(m) - 1 - 1 / a - log(r) + r * a * m / (a - 1),
        {x: a * m / (a - 1), log(x): log_moment},
        CROSS,
        (TORCH,),
        finite_when=(sp.Gt(a, 1),),
        conditions=(sp.Gt(a, 1),),
        entropy=log(m / a) + 1 / a + 1,
        notes="Finite only for alpha > 1 (p must have a mean).",
    )


@_spec("beta", "beta")
def _beta_beta() -> PairSpec:
    p, q = Beta.symbolic(1), Beta.symbolic(2)
    a1, b1 = p["concentration1"], p["concentration0"]
    a2, b2 = q["concentration1"], q["concentration0"]

    def log_b(a: Any, b: Any) -> Any:
        return log(gamma(a)) + log(gamma(b)) - log(gamma(a + b))

    return PairSpec(
        p,
        q,
        log_b(a2, b2)
        - log_b(a1, b1)
        + (a1 - a2) * digamma(a1)
        + (b1 - b2) * digamma(b1)
        + (a2 - a1 + b2 - b1) * digamma(a1 + b1),
        _beta_moments(p, p.variable),
        SAME,
        (PENNY, GIL),
        entropy=log_b(a1, b1)
        - (a1 - 1) * digamma(a1)
        - (b1 - 1) * digamma(b1)
        + (a1 + b1 - 2) * digamma(a1 + b1),
        extra={"normaliser_check": Integrate()},
    )


@_spec("beta", "uniform")
def _beta_uniform() -> PairSpec:
    p = Beta.symbolic(1)
    q = Uniform(low=0, high=1)
    a, b = p["concentration1"], p["concentration0"]
    return PairSpec(
        p,
        q,
        -log(gamma(a))
        - log(gamma(b))
        + log(gamma(a + b))
        + (a - 1) * digamma(a)
        + (b - 1) * digamma(b)
        - (a + b - 2) * digamma(a + b),
        _beta_moments(p, p.variable),
        CROSS,
        (TORCH,),
        notes="q is the uniform distribution on (0, 1): KL is minus the Beta entropy.",
    )


@_spec("weibull", "weibull")
def _weibull_weibull() -> PairSpec:
    k = sp.Symbol("k", positive=True)
    l1, l2 = sp.Symbol("lambda_1", positive=True), sp.Symbol("lambda_2", positive=True)
    p, q = Weibull(scale=l1, concentration=k), Weibull(scale=l2, concentration=k)
    x = p.variable
    u = sp.Symbol("u", positive=True)
    return PairSpec(
        p,
        q,
        k * log(l2 / l1) + (l1 / l2) ** k - 1,
        {
            x**k: l1**k,
            # for the entropy: x = λ u^{1/k} makes p(x) dx = e^{-u} du, so
            # E[log X] = log λ + E[log U]/k = log λ − γ/k
            log(x): by_substitution_log_power(
                x, l1 * u ** (1 / k), (u, 0, sp.oo), log(l1) - EG / k, log(x)
            ),
        },
        ("integral", "bregman"),
        (GIL,),
        entropy=EG * (1 - 1 / k) + log(l1 / k) + 1,
        notes="Both Weibull distributions share the concentration k (then an exponential "
        "family in the statistic x^k). No cross-entropy route is registered; E[log X] "
        "(by the substitution x = λ u^{1/k}) is a lemma of entropy/weibull.",
    )


@_spec("lognormal", "lognormal")
def _lognormal_lognormal() -> PairSpec:
    p, q = LogNormal.symbolic(1), LogNormal.symbolic(2)
    m1, s1, m2, s2 = p["loc"], p["scale"], q["loc"], q["scale"]
    return PairSpec(
        p,
        q,
        log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - HALF,
        _lognormal_moments(p, p.variable),
        CROSS,
        (GIL,),
        entropy=m1 + HALF * log(2 * sp.pi * sp.E * s1**2),
    )


@_spec("uniform", "uniform")
def _uniform_uniform() -> PairSpec:
    p, q = Uniform.symbolic(1), Uniform.symbolic(2)
    a1, b1, a2, b2 = p["low"], p["high"], q["low"], q["high"]
    # in this order, the zero test's reparametrisation (b2 = b1 + d, b1 = a1 + d', …)
    # makes every length positive
    nested = (sp.Lt(b1, b2), sp.Lt(a1, b1), sp.Lt(a2, a1))
    return PairSpec(
        p,
        q,
        log((b2 - a2) / (b1 - a1)),
        {},
        CROSS,
        (TORCH,),
        finite_when=(sp.Le(a2, a1), sp.Le(b1, b2)),
        conditions=nested,
        notes="Finite only when (low_1, high_1) lies inside (low_2, high_2); derived here "
        "for strict nesting (the boundary cases follow by continuity).",
    )


@_spec("pareto", "pareto")
def _pareto_pareto() -> PairSpec:
    p, q = Pareto.symbolic(1), Pareto.symbolic(2)
    m1, a1, m2, a2 = p["scale"], p["alpha"], q["scale"], q["alpha"]
    x = p.variable
    log_moment = by_derivative(x ** (-a1 - 1), a1, m1 ** (-a1) / a1, log(m1) + 1 / a1, log(x), -1)
    return PairSpec(
        p,
        q,
        log(a1 / a2) + a2 * log(m1 / m2) + a2 / a1 - 1,
        {log(x): log_moment},
        CROSS,
        (GIL,),
        finite_when=(sp.Le(m2, m1),),
        conditions=(sp.Lt(m2, m1),),
        notes="Finite only when scale_2 <= scale_1 (derived for <; equality by continuity).",
    )


@_spec("gumbel", "gumbel")
def _gumbel_gumbel() -> PairSpec:
    p, q = Gumbel.symbolic(1), Gumbel.symbolic(2)
    m1, b1, m2, b2 = p["loc"], p["scale"], q["loc"], q["scale"]
    return PairSpec(
        p,
        q,
        log(b2 / b1)
        - EG
        - 1
        + (m1 + EG * b1 - m2) / b2
        + sp.exp((m2 - m1) / b2) * gamma(1 + b1 / b2),
        _gumbel_moments(p, p.variable, b2),
        CROSS,
        (GIL,),
        entropy=log(b1) + EG + 1,
    )


@_spec("gumbel", "normal")
def _gumbel_normal() -> PairSpec:
    p, q = Gumbel.symbolic(1), Normal.symbolic(2)
    m1, b1 = p["loc"], p["scale"]
    m2, s2 = q["loc"], q["scale"]
    mean = m1 + EG * b1
    return PairSpec(
        p,
        q,
        -log(b1)
        - EG
        - 1
        + HALF * log(2 * sp.pi)
        + log(s2)
        + (sp.pi**2 * b1**2 / 6 + (mean - m2) ** 2) / (2 * s2**2),
        _gumbel_moments(p, p.variable),
        CROSS,
        (TORCH + " (whose 2018 form had πr/12 for π²r²/12)",),
    )


@_spec("laplace", "laplace")
def _laplace_laplace() -> PairSpec:
    p, q = Laplace.symbolic(1), Laplace.symbolic(2)
    m1, b1, m2, b2 = p["loc"], p["scale"], q["loc"], q["scale"]
    x = p.variable
    d = sp.Abs(m1 - m2)
    mean_abs = d + b1 * sp.exp(-d / b1)  # E_p |X - mu_2|
    moments = _laplace_moments(p, x)
    moments[sp.Abs(x - m2)] = by_sign(m2, m1 - m2, m1, mean_abs, sp.Abs(x - m2))
    return PairSpec(
        p,
        q,
        log(b2 / b1) + d / b2 + b1 / b2 * sp.exp(-d / b1) - 1,
        moments,
        CROSS,
        (GIL, TORCH),
        entropy=log(2 * b1) + 1,
        notes="Laplace is not an exponential family in its location, so there is no Bregman "
        "route; E_p|X - mu_2| is derived by cases on the sign of mu_1 - mu_2.",
    )


@_spec("cauchy", "cauchy")
def _cauchy_cauchy() -> PairSpec:
    p, q = Cauchy.symbolic(1), Cauchy.symbolic(2)
    m1, g1, m2, g2 = p["loc"], p["scale"], q["loc"], q["scale"]
    return PairSpec(
        p,
        q,
        log(((g1 + g2) ** 2 + (m1 - m2) ** 2) / (4 * g1 * g2)),
        _cauchy.moments(p, q),
        ("integral", "diagonal", "cross-entropy"),
        (CHYZAK,),
        entropy=log(4 * sp.pi * g1),
        notes="Cauchy is not an exponential family, and SymPy does not evaluate "
        "E log((T - b)^2 + s^2) for a standard Cauchy T: the first two routes differentiate "
        "in the parameters under the integral sign (rational integrands, by partial "
        "fractions) and integrate back from a point where the KL is 0. The entropy and "
        "cross-entropy need E log(1 + T^2) = 2 log 2, taken from the derivative of the "
        "Student-t normaliser in its exponent.",
        extra={
            "builders": {
                "integral": _cauchy.integral_route,
                "diagonal": _cauchy.diagonal_route,
                "cross-entropy": _cauchy.cross_entropy_route,
            },
            "titles": {"diagonal": "by its derivatives in q's parameters, from q = p"},
            "lemma_symbols": _cauchy.LEMMA_SYMBOLS,
        },
    )


@_spec("laplace", "normal")
def _laplace_normal() -> PairSpec:
    p, q = Laplace.symbolic(1), Normal.symbolic(2)
    m1, b = p["loc"], p["scale"]
    m2, s = q["loc"], q["scale"]
    return PairSpec(
        p,
        q,
        -log(2 * b) - 1 + HALF * log(2 * sp.pi) + log(s) + (2 * b**2 + (m1 - m2) ** 2) / (2 * s**2),
        _laplace_moments(p, p.variable),
        CROSS,
        (TORCH,),
        entropy=log(2 * b) + 1,
    )


@_spec("normal", "laplace")
def _normal_laplace() -> PairSpec:
    p, q = Normal.symbolic(1), Laplace.symbolic(2)
    m1, s = p["loc"], p["scale"]
    m2, b = q["loc"], q["scale"]
    x = p.variable
    d = m1 - m2
    mean_abs = s * sp.sqrt(2 / sp.pi) * sp.exp(-(d**2) / (2 * s**2)) + d * sp.erf(
        d / (sp.sqrt(2) * s)
    )
    moments = _normal_moments(p, x)
    moments[sp.Abs(x - m2)] = by_halves(m2, mean_abs, sp.Abs(x - m2))
    return PairSpec(
        p,
        q,
        log(2 * b) - HALF * log(2 * sp.pi * sp.E * s**2) + mean_abs / b,
        moments,
        CROSS,
        (TORCH,),
    )
