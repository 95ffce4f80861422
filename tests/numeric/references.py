"""High-precision reference KL divergences (mpmath), one function per registered pair.

Each function evaluates the *textbook* closed form (or the defining expectation in
closed form) independently of the numeric kernels, at ``mp.dps = DPS`` digits, from the
exact float64 parameter values. They return an ``mpf`` (``+inf`` for infinite KL).
The symbolic layer may later replace these by SymPy-derived expressions: keep the
signature ``ref(p: dict, q: dict) -> mpf``.

Parameters are given as dicts of Python floats (or lists for vector families), named
like the constructors. ``probs``/``logits`` are both accepted where the family has them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath as mp

DPS = 50
Params = dict[str, Any]
INF = mp.inf


def _m(x: Any) -> mp.mpf:
    return mp.mpf(float(x))


def _bern_p(d: Params) -> tuple[mp.mpf, mp.mpf]:
    """Return (p, 1 - p) exactly from probs or logits."""
    if d.get("logits") is not None:
        lg = _m(d["logits"])
        return 1 / (1 + mp.exp(-lg)), 1 / (1 + mp.exp(lg))
    p = _m(d["probs"])
    return p, 1 - p


def _xlogxy(x: mp.mpf, y: mp.mpf) -> mp.mpf:
    if x == 0:
        return mp.mpf(0)
    if y == 0:
        return INF
    return x * mp.log(x / y)


def normal(p: Params, q: Params) -> mp.mpf:
    m1, s1, m2, s2 = _m(p["loc"]), _m(p["scale"]), _m(q["loc"]), _m(q["scale"])
    return mp.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - mp.mpf(1) / 2


lognormal = normal


def halfnormal(p: Params, q: Params) -> mp.mpf:
    s1, s2 = _m(p["scale"]), _m(q["scale"])
    return mp.log(s2 / s1) + s1**2 / (2 * s2**2) - mp.mpf(1) / 2


def exponential(p: Params, q: Params) -> mp.mpf:
    l1, l2 = _m(p["rate"]), _m(q["rate"])
    return mp.log(l1 / l2) + l2 / l1 - 1


def laplace(p: Params, q: Params) -> mp.mpf:
    m1, b1, m2, b2 = _m(p["loc"]), _m(p["scale"]), _m(q["loc"]), _m(q["scale"])
    d = abs(m1 - m2)
    return mp.log(b2 / b1) + d / b2 + (b1 / b2) * mp.exp(-d / b1) - 1


def cauchy(p: Params, q: Params) -> mp.mpf:
    m1, s1, m2, s2 = _m(p["loc"]), _m(p["scale"]), _m(q["loc"]), _m(q["scale"])
    return mp.log(((s1 + s2) ** 2 + (m1 - m2) ** 2) / (4 * s1 * s2))


def uniform(p: Params, q: Params) -> mp.mpf:
    a, b, c, d = _m(p["low"]), _m(p["high"]), _m(q["low"]), _m(q["high"])
    if a < c or b > d:
        return INF
    return mp.log((d - c) / (b - a))


def gumbel(p: Params, q: Params) -> mp.mpf:
    m1, b1, m2, b2 = _m(p["loc"]), _m(p["scale"]), _m(q["loc"]), _m(q["scale"])
    r = b1 / b2
    g = mp.euler
    return (
        mp.log(b2 / b1)
        + (m1 - m2) / b2
        + g * (r - 1)
        + mp.exp((m2 - m1) / b2) * mp.gamma(1 + r)
        - 1
    )


def weibull(p: Params, q: Params) -> mp.mpf:
    l1, l2, k = _m(p["scale"]), _m(q["scale"]), _m(p["concentration"])
    r = (l1 / l2) ** k
    return r - 1 - mp.log(r)


def pareto(p: Params, q: Params) -> mp.mpf:
    x1, a1, x2, a2 = _m(p["scale"]), _m(p["alpha"]), _m(q["scale"]), _m(q["alpha"])
    if x1 < x2:
        return INF
    return mp.log(a1 / a2) + a2 * mp.log(x1 / x2) + a2 / a1 - 1


def poisson(p: Params, q: Params) -> mp.mpf:
    l1, l2 = _m(p["rate"]), _m(q["rate"])
    return _xlogxy(l1, l2) - l1 + l2


def gamma(p: Params, q: Params) -> mp.mpf:
    a1, b1 = _m(p["concentration"]), _m(p["rate"])
    a2, b2 = _m(q["concentration"]), _m(q["rate"])
    return (
        (a1 - a2) * mp.digamma(a1)
        - mp.loggamma(a1)
        + mp.loggamma(a2)
        + a2 * (mp.log(b1) - mp.log(b2))
        + a1 * (b2 - b1) / b1
    )


def exponential_gamma(p: Params, q: Params) -> mp.mpf:
    return gamma({"concentration": 1.0, "rate": p["rate"]}, q)


def gamma_exponential(p: Params, q: Params) -> mp.mpf:
    return gamma(p, {"concentration": 1.0, "rate": q["rate"]})


def dirichlet(p: Params, q: Params) -> mp.mpf:
    a = [_m(x) for x in p["concentration"]]
    b = [_m(x) for x in q["concentration"]]
    a0, b0 = mp.fsum(a), mp.fsum(b)
    return (
        mp.loggamma(a0)
        - mp.fsum(mp.loggamma(x) for x in a)
        - mp.loggamma(b0)
        + mp.fsum(mp.loggamma(y) for y in b)
        + mp.fsum((x - y) * (mp.digamma(x) - mp.digamma(a0)) for x, y in zip(a, b, strict=True))
    )


def beta(p: Params, q: Params) -> mp.mpf:
    a1, b1, a2, b2 = (
        _m(p["concentration1"]),
        _m(p["concentration0"]),
        _m(q["concentration1"]),
        _m(q["concentration0"]),
    )

    def lnb(a: mp.mpf, b: mp.mpf) -> mp.mpf:
        return mp.loggamma(a) + mp.loggamma(b) - mp.loggamma(a + b)

    return (
        lnb(a2, b2)
        - lnb(a1, b1)
        + (a1 - a2) * mp.digamma(a1)
        + (b1 - b2) * mp.digamma(b1)
        + (a2 - a1 + b2 - b1) * mp.digamma(a1 + b1)
    )


def bernoulli(p: Params, q: Params) -> mp.mpf:
    pp, pc = _bern_p(p)
    qq, qc = _bern_p(q)
    return _xlogxy(pp, qq) + _xlogxy(pc, qc)


def binomial(p: Params, q: Params) -> mp.mpf:
    n = _m(p["total_count"])
    if n == 0:
        return mp.mpf(0)
    return n * bernoulli(p, q)


def geometric(p: Params, q: Params) -> mp.mpf:
    pp, _ = _bern_p(p)
    return bernoulli(p, q) / pp


def _cat_probs(d: Params) -> list[mp.mpf]:
    if d.get("logits") is not None:
        lg = [_m(x) if x != float("-inf") else None for x in d["logits"]]
        mx = max(x for x in lg if x is not None)
        e = [mp.exp(x - mx) if x is not None else mp.mpf(0) for x in lg]
        s = mp.fsum(e)
        return [x / s for x in e]
    pr = [_m(x) for x in d["probs"]]
    s = mp.fsum(pr)
    return [x / s for x in pr]


def categorical(p: Params, q: Params) -> mp.mpf:
    pp, qq = _cat_probs(p), _cat_probs(q)
    return mp.fsum(_xlogxy(a, b) for a, b in zip(pp, qq, strict=True))


def multivariatenormal(p: Params, q: Params) -> mp.mpf:
    def cov(d: Params) -> mp.matrix:
        if d.get("covariance_matrix") is not None:
            return mp.matrix([[_m(x) for x in row] for row in d["covariance_matrix"]])
        lt = mp.matrix([[_m(x) for x in row] for row in d["scale_tril"]])
        return lt * lt.T

    s1, s2 = cov(p), cov(q)
    m1 = mp.matrix([_m(x) for x in p["loc"]])
    m2 = mp.matrix([_m(x) for x in q["loc"]])
    k = s1.rows
    s2i = mp.inverse(s2)
    mm = s2i * s1
    tr = mp.fsum(mm[i, i] for i in range(k))
    dm = m2 - m1
    quad = (dm.T * s2i * dm)[0, 0]
    return (tr - k - mp.log(mp.det(s1) / mp.det(s2)) + quad) / 2


def diagonalnormal(p: Params, q: Params) -> mp.mpf:
    """The textbook sum over the coordinates of the Normal-Normal KL."""
    return mp.fsum(
        normal({"loc": a, "scale": b}, {"loc": c, "scale": d})
        for a, b, c, d in zip(p["loc"], p["scale"], q["loc"], q["scale"], strict=True)
    )


def _normal_cross(mean: mp.mpf, var: mp.mpf, m: mp.mpf, s: mp.mpf) -> mp.mpf:
    """-E_p[log N(x; m, s)] from the first two moments of p."""
    return mp.log(2 * mp.pi * s**2) / 2 + (var + (mean - m) ** 2) / (2 * s**2)


def laplace_normal(p: Params, q: Params) -> mp.mpf:
    mu, b = _m(p["loc"]), _m(p["scale"])
    h = 1 + mp.log(2 * b)
    return _normal_cross(mu, 2 * b**2, _m(q["loc"]), _m(q["scale"])) - h


def exponential_normal(p: Params, q: Params) -> mp.mpf:
    r = _m(p["rate"])
    h = 1 - mp.log(r)
    return _normal_cross(1 / r, 1 / r**2, _m(q["loc"]), _m(q["scale"])) - h


def uniform_normal(p: Params, q: Params) -> mp.mpf:
    a, b = _m(p["low"]), _m(p["high"])
    h = mp.log(b - a)
    return _normal_cross((a + b) / 2, (b - a) ** 2 / 12, _m(q["loc"]), _m(q["scale"])) - h


def gumbel_normal(p: Params, q: Params) -> mp.mpf:
    mu, b = _m(p["loc"]), _m(p["scale"])
    h = mp.log(b) + mp.euler + 1
    mean, var = mu + mp.euler * b, mp.pi**2 * b**2 / 6
    return _normal_cross(mean, var, _m(q["loc"]), _m(q["scale"])) - h


def gamma_normal(p: Params, q: Params) -> mp.mpf:
    a, b = _m(p["concentration"]), _m(p["rate"])
    h = a - mp.log(b) + mp.loggamma(a) + (1 - a) * mp.digamma(a)
    return _normal_cross(a / b, a / b**2, _m(q["loc"]), _m(q["scale"])) - h


def normal_laplace(p: Params, q: Params) -> mp.mpf:
    m, s = _m(p["loc"]), _m(p["scale"])
    mu, b = _m(q["loc"]), _m(q["scale"])
    z = (m - mu) / s
    e_abs = s * mp.sqrt(2 / mp.pi) * mp.exp(-(z**2) / 2) + (m - mu) * mp.erf(z / mp.sqrt(2))
    h = mp.log(2 * mp.pi * mp.e * s**2) / 2
    return mp.log(2 * b) + e_abs / b - h


def bernoulli_poisson(p: Params, q: Params) -> mp.mpf:
    pp, pc = _bern_p(p)
    lam = _m(q["rate"])
    if lam == 0:
        return INF if pp > 0 else mp.mpf(0)
    # sum over x in {0, 1} of p(x) [log p(x) - log q(x)]
    t0 = pc * (mp.log(pc) + lam) if pc > 0 else mp.mpf(0)
    t1 = pp * (mp.log(pp) - mp.log(lam) + lam) if pp > 0 else mp.mpf(0)
    return t0 + t1


def beta_uniform(p: Params, q: Params) -> mp.mpf:
    lo, hi = _m(q["low"]), _m(q["high"])
    if lo > 0 or hi < 1:
        return INF
    a, b = _m(p["concentration1"]), _m(p["concentration0"])
    h = (
        mp.loggamma(a)
        + mp.loggamma(b)
        - mp.loggamma(a + b)
        - (a - 1) * mp.digamma(a)
        - (b - 1) * mp.digamma(b)
        + (a + b - 2) * mp.digamma(a + b)
    )
    return mp.log(hi - lo) - h


def uniform_exponential(p: Params, q: Params) -> mp.mpf:
    a, b, r = _m(p["low"]), _m(p["high"]), _m(q["rate"])
    if a < 0:
        return INF
    return -mp.log(b - a) - mp.log(r) + r * (a + b) / 2


def pareto_exponential(p: Params, q: Params) -> mp.mpf:
    xm, a, r = _m(p["scale"]), _m(p["alpha"]), _m(q["rate"])
    if a <= 1:
        return INF
    h = mp.log(xm / a) + 1 + 1 / a
    return -h - mp.log(r) + r * a * xm / (a - 1)


REFERENCES: dict[str, Callable[[Params, Params], mp.mpf]] = {
    "kl/normal/normal": normal,
    "kl/lognormal/lognormal": lognormal,
    "kl/halfnormal/halfnormal": halfnormal,
    "kl/exponential/exponential": exponential,
    "kl/laplace/laplace": laplace,
    "kl/cauchy/cauchy": cauchy,
    "kl/uniform/uniform": uniform,
    "kl/gumbel/gumbel": gumbel,
    "kl/weibull/weibull": weibull,
    "kl/pareto/pareto": pareto,
    "kl/poisson/poisson": poisson,
    "kl/gamma/gamma": gamma,
    "kl/exponential/gamma": exponential_gamma,
    "kl/gamma/exponential": gamma_exponential,
    "kl/dirichlet/dirichlet": dirichlet,
    "kl/beta/beta": beta,
    "kl/bernoulli/bernoulli": bernoulli,
    "kl/binomial/binomial": binomial,
    "kl/geometric/geometric": geometric,
    "kl/categorical/categorical": categorical,
    "kl/multivariatenormal/multivariatenormal": multivariatenormal,
    "kl/diagonalnormal/diagonalnormal": diagonalnormal,
    "kl/laplace/normal": laplace_normal,
    "kl/exponential/normal": exponential_normal,
    "kl/uniform/normal": uniform_normal,
    "kl/gumbel/normal": gumbel_normal,
    "kl/gamma/normal": gamma_normal,
    "kl/normal/laplace": normal_laplace,
    "kl/bernoulli/poisson": bernoulli_poisson,
    "kl/beta/uniform": beta_uniform,
    "kl/uniform/exponential": uniform_exponential,
    "kl/pareto/exponential": pareto_exponential,
}


def reference_kl(derivation_id: str, p: Params, q: Params, dps: int = DPS) -> mp.mpf:
    """Evaluate the reference for ``derivation_id`` at ``dps`` digits."""
    with mp.workdps(dps):
        return +REFERENCES[derivation_id](p, q)
