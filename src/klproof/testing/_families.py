"""Parameter domains of the numeric families and how to draw them in batches (NumPy only).

The same generators serve the Hypothesis strategies (:mod:`klproof.testing.strategies`,
where Hypothesis draws the structure and a seed) and :func:`klproof.testing.check_kl`
(which draws from a seeded :class:`numpy.random.Generator` directly).

Parameters are dicts of NumPy arrays keyed by the public parameter names, one batch
element per leading index: scalar parameters have shape ``(n,)``, vector parameters
``(n, K)`` and matrices ``(n, K, K)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FAMILIES",
    "PAIRS",
    "REGIONS",
    "RELATIONS",
    "Limits",
    "draw_pair",
    "draw_params",
    "family_names",
    "limits_for",
]

F64 = NDArray[np.float64]
Params = dict[str, F64]

#: Regions of the parameter domain: ``generic`` (moderate values), ``extreme`` (the hard
#: regions: scales 1e±300, probabilities down to 1e-300 and up to 1 - 1e-16, logits
#: ±700, concentrations 1e-150 … 1e150), ``any`` (each element picks one of the two).
REGIONS = ("generic", "extreme", "any")
#: How q is drawn from p: ``equal`` (q = p, or the q nearest to p for cross-family
#: pairs), ``near`` (every parameter moved by a relative 1e-12 … 1e-2), ``far`` (moved by
#: a relative amount of order one), ``sparse`` (near or far, but each parameter
#: element moved or kept at random: vectors that differ in a few coordinates, as logits
#: that differ in one tiny atom), ``independent`` (q drawn on its own from the same
#: region, so p and q can sit at opposite extremes; parameters the pair shares, such as
#: Binomial's total_count, stay equal), ``any`` (each element picks one). For the
#: families given by ``probs`` or ``logits`` (:data:`SWITCHABLE`), every relation but
#: ``equal`` hands a third of the batches q in the other form, converted after the draw
#: (so a near q stays near): KL(logits || probs) near the diagonal is a case of its own.
RELATIONS = ("equal", "near", "far", "sparse", "independent", "any")
#: families whose q may come in the other parametrisation than p's (see RELATIONS)
SWITCHABLE = ("bernoulli", "binomial", "geometric", "categorical")


@dataclass(frozen=True)
class Limits:
    """Ranges of the hard regions for one floating dtype.

    Attributes
    ----------
    scale_exp : float
        Scale-like parameters range over ``10**±scale_exp``.
    conc_exp : float
        Concentrations range over ``10**±conc_exp``.
    prob_exp : float
        Probabilities go down to ``10**-prob_exp``.
    one_minus : float
        Probabilities go up to ``1 - one_minus``.
    logit_max : float
        Logits range over ``±logit_max``.
    min_rel_diff : float
        Smallest relative parameter difference of a ``near`` pair.
    """

    scale_exp: float
    conc_exp: float
    prob_exp: float
    one_minus: float
    logit_max: float
    min_rel_diff: float


_LIMITS = {
    np.dtype(np.float64): Limits(300.0, 150.0, 300.0, 1e-16, 700.0, 1e-12),
    # float32: the same regions, cut to what float32 represents (max 3.4e38, min normal
    # 1.2e-38, exp overflows above 88, eps 1.2e-7)
    np.dtype(np.float32): Limits(30.0, 30.0, 30.0, 1e-7, 80.0, 1e-6),
}


def limits_for(dtype: Any) -> Limits:
    """The hard-region limits for ``dtype`` (``float64`` or ``float32``)."""
    dt = np.dtype(dtype)
    if dt not in _LIMITS:
        raise ValueError(f"dtype must be float64 or float32; got {dt}")
    return _LIMITS[dt]


class Source:
    """Random numbers for the generators: a NumPy ``Generator``, or Hypothesis draws."""

    def uniform(self, lo: float, hi: float, n: int) -> F64:  # pragma: no cover - abstract
        """``n`` floats in ``[lo, hi]``."""
        raise NotImplementedError

    def normal(self, n: int) -> F64:
        """``n`` standard normal deviates (by inversion of :meth:`uniform`)."""
        from statistics import NormalDist  # noqa: PLC0415 - rarely needed, stdlib

        u = self.uniform(1e-12, 1.0 - 1e-12, n)
        inv = NormalDist().inv_cdf
        return np.array([inv(float(x)) for x in u], dtype=np.float64)

    def integers(self, lo: int, hi: int, n: int) -> NDArray[np.int64]:
        """``n`` integers in ``[lo, hi]``."""
        return np.minimum(np.floor(self.uniform(lo, hi + 1, n)), hi).astype(np.int64)

    def sign(self, n: int) -> F64:
        """``n`` random signs ``±1``."""
        return np.where(self.uniform(0.0, 1.0, n) < 0.5, -1.0, 1.0)


class RngSource(Source):
    """A :class:`Source` backed by a :class:`numpy.random.Generator`."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def uniform(self, lo: float, hi: float, n: int) -> F64:
        """``n`` floats in ``[lo, hi)``."""
        return self.rng.uniform(lo, hi, size=n)

    def normal(self, n: int) -> F64:
        """``n`` standard normal deviates."""
        return self.rng.standard_normal(n)


def _logu(src: Source, lo_exp: float, hi_exp: float, n: int) -> F64:
    """Log-uniform on ``[10**lo_exp, 10**hi_exp]``."""
    return np.asarray(10.0 ** src.uniform(lo_exp, hi_exp, n), dtype=np.float64)


def _pick(src: Source, n: int, region: str, generic: F64, extreme: F64) -> F64:
    if region == "generic":
        return generic
    if region == "extreme":
        return extreme
    mask = src.uniform(0.0, 1.0, n) < 0.5
    if generic.ndim > 1:
        mask = mask.reshape((n,) + (1,) * (generic.ndim - 1))
    return np.where(mask, generic, extreme)


# -- parameter kinds ------------------------------------------------------------------


def _scale(src: Source, n: int, region: str, lim: Limits) -> F64:
    return _pick(
        src, n, region, _logu(src, -1.0, 1.0, n), _logu(src, -lim.scale_exp, lim.scale_exp, n)
    )


def _conc(src: Source, n: int, region: str, lim: Limits) -> F64:
    return _pick(
        src, n, region, _logu(src, -1.0, 1.5, n), _logu(src, -lim.conc_exp, lim.conc_exp, n)
    )


def _prob(src: Source, n: int, region: str, lim: Limits) -> F64:
    small = _logu(src, -lim.prob_exp, -1.0, n)
    big = 1.0 - _logu(src, math.log10(lim.one_minus), -1.0, n)
    extreme = np.where(src.uniform(0.0, 1.0, n) < 0.5, small, big)
    return _pick(src, n, region, src.uniform(0.02, 0.98, n), extreme)


def _logit(src: Source, n: int, region: str, lim: Limits) -> F64:
    return _pick(
        src, n, region, 3.0 * src.normal(n), src.sign(n) * src.uniform(1.0, lim.logit_max, n)
    )


# -- families ---------------------------------------------------------------------------

Gen = Callable[..., Params]


def _loc_scale(
    src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
) -> Params:
    scale = _scale(src, n, region, lim)
    generic_loc = 3.0 * src.normal(n)
    return {"loc": _pick(src, n, region, generic_loc, scale * generic_loc), "scale": scale}


def _one(name: str, kind: Callable[[Source, int, str, Limits], F64]) -> Gen:
    def gen(
        src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
    ) -> Params:
        return {name: kind(src, n, region, lim)}

    return gen


def _two(a: str, ka: Callable[..., F64], b: str, kb: Callable[..., F64]) -> Gen:
    def gen(
        src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
    ) -> Params:
        return {a: ka(src, n, region, lim), b: kb(src, n, region, lim)}

    return gen


def _uniform(
    src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
) -> Params:
    width = _scale(src, n, region, lim)
    lo = _pick(src, n, region, 3.0 * src.normal(n), width * 3.0 * src.normal(n))
    hi = lo + width
    bad = ~(hi > lo)
    hi[bad] = np.nextafter(lo[bad], np.inf)
    return {"low": lo, "high": hi}


def _form(src: Source, form: str | None) -> str:
    if form is None:
        return "probs" if src.uniform(0.0, 1.0, 1)[0] < 0.5 else "logits"
    return form


def _probs_or_logits(
    src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
) -> Params:
    if _form(src, form) == "probs":
        return {"probs": _prob(src, n, region, lim)}
    return {"logits": _logit(src, n, region, lim)}


def _binomial(
    src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
) -> Params:
    out = _probs_or_logits(src, n, region, lim, k, form)
    out["total_count"] = src.integers(0, 50, n).astype(np.float64)
    return out


def _categorical(
    src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
) -> Params:
    if _form(src, form) == "logits":
        lg = _logit(src, n * k, region, lim).reshape(n, k)
        return {"logits": lg}
    # probabilities with a spread of magnitudes, normalised in float64
    w = _pick(src, n * k, region, _logu(src, -2, 0, n * k), _logu(src, -lim.prob_exp / 2, 0, n * k))
    w = w.reshape(n, k)
    return {"probs": w / w.sum(-1, keepdims=True)}


def _dirichlet(
    src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
) -> Params:
    return {"concentration": _conc(src, n * k, region, lim).reshape(n, k)}


def _mvn(src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None) -> Params:
    # moderate scales only: K x K linear algebra at 1e±300 overflows in any implementation
    scale = _logu(src, -1.0, 1.0, n * k).reshape(n, k)
    off = 0.3 * src.normal(n * k * k).reshape(n, k, k)
    tril = np.tril(off, -1) * scale[:, :, None]
    tril[:, np.arange(k), np.arange(k)] = scale
    return {"loc": 3.0 * src.normal(n * k).reshape(n, k), "scale_tril": tril}


def _diagonal_normal(
    src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
) -> Params:
    # as the scalar Normal, coordinate by coordinate (each picks its region under "any")
    scale = _scale(src, n * k, region, lim)
    generic_loc = 3.0 * src.normal(n * k)
    loc = _pick(src, n * k, region, generic_loc, scale * generic_loc)
    return {"loc": loc.reshape(n, k), "scale": scale.reshape(n, k)}


def _pareto(
    src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
) -> Params:
    return {"scale": _scale(src, n, region, lim), "alpha": _conc(src, n, region, lim)}


def _weibull(
    src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
) -> Params:
    return {"scale": _scale(src, n, region, lim), "concentration": _conc(src, n, region, lim)}


def _gamma(
    src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None
) -> Params:
    return {"concentration": _conc(src, n, region, lim), "rate": _scale(src, n, region, lim)}


def _beta(src: Source, n: int, region: str, lim: Limits, k: int, form: str | None = None) -> Params:
    return {
        "concentration1": _conc(src, n, region, lim),
        "concentration0": _conc(src, n, region, lim),
    }


#: family name -> generator of p-parameters
FAMILIES: dict[str, Gen] = {
    "normal": _loc_scale,
    "lognormal": _loc_scale,
    "laplace": _loc_scale,
    "gumbel": _loc_scale,
    "cauchy": _loc_scale,
    "halfnormal": _one("scale", _scale),
    "exponential": _one("rate", _scale),
    "poisson": _one("rate", _scale),
    "gamma": _gamma,
    "weibull": _weibull,
    "pareto": _pareto,
    "uniform": _uniform,
    "beta": _beta,
    "dirichlet": _dirichlet,
    "bernoulli": _probs_or_logits,
    "geometric": _probs_or_logits,
    "binomial": _binomial,
    "categorical": _categorical,
    "multivariatenormal": _mvn,
    "diagonalnormal": _diagonal_normal,
}

#: Families whose parameters carry an event axis of length ``K``.
VECTOR_FAMILIES = frozenset({"dirichlet", "categorical", "multivariatenormal", "diagonalnormal"})

#: Parameters that must be equal in p and q (the pair's kernel requires it).
SHARED = {"weibull": ("concentration",), "binomial": ("total_count",)}


def family_names() -> tuple[str, ...]:
    """Names of the families with a parameter generator, sorted."""
    return tuple(sorted(FAMILIES))


def draw_params(
    family: str,
    src: Source,
    n: int,
    *,
    region: str,
    dtype: Any = np.float64,
    k: int = 3,
    form: str | None = None,
) -> Params:
    """Draw ``n`` parameter sets of ``family`` (see the module docstring for shapes).

    ``form`` picks ``"probs"`` or ``"logits"`` for the families that take either.
    """
    lim = limits_for(dtype)
    return _cast(FAMILIES[family](src, n, region, lim, k, form), dtype, family)


# -- pairs ------------------------------------------------------------------------------


def _sqrt(x: F64) -> F64:
    return np.asarray(np.sqrt(x), dtype=np.float64)


#: (p, q) -> the q-parameters nearest to p (KL projection: moment matching), so that the
#: ``equal`` and ``near`` relations reach the smallest KL the pair allows.
MATCH: dict[tuple[str, str], Callable[[Params], Params]] = {
    ("exponential", "gamma"): lambda p: {"concentration": np.ones_like(p["rate"]), **p},
    ("gamma", "exponential"): lambda p: {"rate": p["rate"] / p["concentration"]},
    ("exponential", "normal"): lambda p: {"loc": 1 / p["rate"], "scale": 1 / p["rate"]},
    ("gamma", "normal"): lambda p: {
        "loc": p["concentration"] / p["rate"],
        "scale": _sqrt(p["concentration"]) / p["rate"],
    },
    ("uniform", "normal"): lambda p: {
        "loc": p["low"] + 0.5 * (p["high"] - p["low"]),
        "scale": (p["high"] - p["low"]) / math.sqrt(12.0),
    },
    ("uniform", "exponential"): lambda p: {"rate": 2.0 / (p["low"] + p["high"])},
    ("pareto", "exponential"): lambda p: {
        "rate": (p["alpha"] - 1) / (p["alpha"] * p["scale"]),
    },
    ("laplace", "normal"): lambda p: {"loc": p["loc"], "scale": math.sqrt(2.0) * p["scale"]},
    ("normal", "laplace"): lambda p: {
        "loc": p["loc"],
        "scale": math.sqrt(2.0 / math.pi) * p["scale"],
    },
    ("gumbel", "normal"): lambda p: {
        "loc": p["loc"] + 0.5772156649015329 * p["scale"],
        "scale": (math.pi / math.sqrt(6.0)) * p["scale"],
    },
    ("beta", "uniform"): lambda p: {
        "low": np.zeros_like(p["concentration1"]),
        "high": np.ones_like(p["concentration1"]),
    },
}

#: Registered cross-family pairs whose p-domain is restricted for a finite KL (the rest
#: of the domain is drawn too: it must give +inf).
PAIRS: tuple[tuple[str, str], ...] = (
    *((f, f) for f in sorted(FAMILIES)),
    *sorted(MATCH),
    ("bernoulli", "poisson"),
)


def _bern_probs(p: Params) -> F64:
    if "probs" in p:
        return p["probs"]
    return np.asarray(1.0 / (1.0 + np.exp(-p["logits"])), dtype=np.float64)


MATCH[("bernoulli", "poisson")] = lambda p: {"rate": _bern_probs(p)}


def _positive_names(family: str) -> tuple[str, ...]:
    return {
        "normal": ("scale",),
        "diagonalnormal": ("scale",),
        "lognormal": ("scale",),
        "laplace": ("scale",),
        "gumbel": ("scale",),
        "cauchy": ("scale",),
        "halfnormal": ("scale",),
        "exponential": ("rate",),
        "poisson": ("rate",),
        "gamma": ("concentration", "rate"),
        "weibull": ("scale", "concentration"),
        "pareto": ("scale", "alpha"),
        "beta": ("concentration1", "concentration0"),
        "dirichlet": ("concentration",),
    }.get(family, ())


def _move(
    family: str, q: Params, src: Source, n: int, relation: str, eps: F64, lim: Limits
) -> Params:
    """Move every parameter of ``q`` (of ``family``) by the relation's amount."""
    if relation == "equal":
        return q
    near = relation == "near"
    out: Params = {}
    shared = SHARED.get(family, ())
    for name, v in q.items():
        e = eps.reshape((n,) + (1,) * (v.ndim - 1))
        shape = v.shape
        m = int(np.prod(shape))
        s = src.sign(m).reshape(shape)
        u = src.uniform(0.5, 1.0, m).reshape(shape)
        if name in shared:
            out[name] = v
        elif name in _positive_names(family):
            fac = 1.0 + s * e * u if near else np.exp(src.normal(m).reshape(shape))
            out[name] = v * fac
        elif name == "probs" and family != "categorical":
            out[name] = _move_prob(v, s * e * u if near else None, src, lim)
        elif name == "probs":
            w = v * (1.0 + s * e * u if near else np.exp(src.normal(m).reshape(shape)))
            out[name] = w / w.sum(-1, keepdims=True)
        elif name == "logits":
            step = s * e * u * np.maximum(1.0, np.abs(v)) if near else 3.0 * src.normal(m)
            out[name] = v + np.reshape(step, shape)
        elif name == "scale_tril":
            step = s * e * u if near else 0.3 * src.normal(m).reshape(shape)
            diag = np.diagonal(v, axis1=-2, axis2=-1)
            moved = np.tril(v + step * np.abs(diag)[..., :, None])
            k = shape[-1]
            moved[..., np.arange(k), np.arange(k)] = diag * (
                np.exp(np.diagonal(step, axis1=-2, axis2=-1))
                if not near
                else 1.0 + s[..., 0] * e[..., 0] * u[..., 0]
            )
            out[name] = moved
        else:  # loc, low, high: relative to the value, or to the family's scale
            width = _spread(family, q, name)
            if near:
                out[name] = v + s * e * u * np.maximum(np.abs(v), width)
            else:
                out[name] = v + 2.0 * width * src.normal(m).reshape(shape)
    if family == "uniform":
        lo, hi = out["low"], out["high"]
        bad = ~(hi > lo)
        out["low"], out["high"] = np.where(bad, hi, lo), np.where(bad, lo, hi)
        bad = ~(out["high"] > out["low"])
        out["high"] = np.where(bad, np.nextafter(out["low"], np.inf), out["high"])
    return out


def _spread(family: str, q: Params, name: str) -> F64:
    if "scale" in q:
        s = q["scale"]
        return s if s.ndim == q[name].ndim else np.abs(np.diagonal(s, axis1=-2, axis2=-1))
    if family == "uniform":
        return q["high"] - q["low"]
    return np.ones_like(q[name])


def _move_prob(v: F64, step: F64 | None, src: Source, lim: Limits) -> F64:
    top = 1.0 - lim.one_minus
    if step is not None:
        small = v <= 0.5
        res = np.where(small, v * (1.0 + step), 1.0 - (1.0 - v) * (1.0 + step))
    else:
        with np.errstate(divide="ignore"):
            lg = np.log(v) - np.log1p(-v) + 2.0 * src.normal(v.size).reshape(v.shape)
        res = 1.0 / (1.0 + np.exp(-lg))
    return np.clip(res, np.finfo(np.float64).tiny, top)


def draw_pair(
    pair: tuple[str, str],
    src: Source,
    n: int,
    *,
    region: str,
    relation: str,
    dtype: Any = np.float64,
    min_rel_diff: float | None = None,
    max_rel_diff: float = 1e-2,
    k: int = 3,
    form: str | None = None,
    switch: bool | None = None,
) -> tuple[Params, Params]:
    """Draw ``n`` parameter pairs ``(p, q)`` for ``pair`` (see :data:`RELATIONS`).

    ``switch`` gives q the other form than p's (:data:`SWITCHABLE` families, relations
    other than ``equal``); ``None`` decides at random, one batch in three.
    """
    lim = limits_for(dtype)
    pf, qf = pair
    lo = math.log10(min_rel_diff if min_rel_diff is not None else lim.min_rel_diff)
    p = FAMILIES[pf](src, n, region, lim, k, form)
    p = _cast(p, dtype, pf)
    if pf == qf:
        q0: Params = {key: np.array(v, dtype=np.float64) for key, v in p.items()}
    else:
        with np.errstate(all="ignore"):
            big = np.finfo(np.dtype(dtype)).max
            q0 = {
                key: np.nan_to_num(
                    np.asarray(v, dtype=np.float64), nan=1.0, posinf=big, neginf=-big
                )
                for key, v in MATCH[pair](_f64(p)).items()
                if key in _q_names(qf)
            }
    eps = _logu(src, lo, math.log10(max_rel_diff), n)

    def make(r: str) -> Params:
        if r == "sparse":
            base = "near" if src.uniform(0.0, 1.0, 1)[0] < 0.5 else "far"
            moved = _move(qf, q0, src, n, base, eps, lim)
            out_s: Params = {}
            for key, v in q0.items():
                keep = src.uniform(0.0, 1.0, v.size).reshape(v.shape) < 0.5
                mixed = np.where(keep, v, moved[key])
                if key == "probs" and qf == "categorical":
                    mixed = mixed / mixed.sum(-1, keepdims=True)
                out_s[key] = np.asarray(mixed, dtype=np.float64)
            return out_s
        if r != "independent":
            return _move(qf, q0, src, n, r, eps, lim)
        qform = next((f for f in ("probs", "logits") if f in q0), None)  # as p's
        drawn = FAMILIES[qf](src, n, region, lim, k, qform)
        out = {key: np.asarray(drawn[key], dtype=np.float64) for key in q0}
        for key in SHARED.get(qf, ()):
            out[key] = q0[key]
        return out

    if relation == "any":
        kinds = ("equal", "near", "far", "sparse", "independent")
        choice = src.integers(0, len(kinds) - 1, n)
        parts = [make(r) for r in kinds]
        q = {}
        for key in q0:
            pick = choice.reshape((n,) + (1,) * (q0[key].ndim - 1))
            q[key] = parts[-1][key]
            for i in range(len(kinds) - 2, -1, -1):
                q[key] = np.where(pick == i, parts[i][key], q[key])
    else:
        q = make(relation)
    if switch is None:
        switch = bool(src.uniform(0.0, 1.0, 1)[0] < 1.0 / 3.0)
    if switch and relation != "equal" and qf in SWITCHABLE:
        q = _switch_form(qf, q)
    q = _cast(q, dtype, qf)
    q = _valid(qf, q, dtype)
    return p, q


def _switch_form(family: str, q: Params) -> Params:
    """``probs`` to ``logits`` or back (rounded; the references take q as converted)."""
    out = {key: v for key, v in q.items() if key not in ("probs", "logits")}
    with np.errstate(all="ignore"):
        if "probs" in q:
            pr = np.asarray(q["probs"], dtype=np.float64)
            lg = np.log(pr) if family == "categorical" else np.log(pr) - np.log1p(-pr)
            out["logits"] = np.asarray(lg, dtype=np.float64)
        else:
            lg = np.asarray(q["logits"], dtype=np.float64)
            if family == "categorical":
                e = np.exp(lg - lg.max(-1, keepdims=True))
                out["probs"] = np.asarray(e / e.sum(-1, keepdims=True), dtype=np.float64)
            else:
                out["probs"] = _bern_probs(q)
    return out


def _q_names(family: str) -> tuple[str, ...]:
    return {
        "gamma": ("concentration", "rate"),
        "normal": ("loc", "scale"),
        "laplace": ("loc", "scale"),
        "exponential": ("rate",),
        "poisson": ("rate",),
        "uniform": ("low", "high"),
    }[family]


def _f64(p: Params) -> Params:
    return {k: np.asarray(v, dtype=np.float64) for k, v in p.items()}


def _cast(p: Mapping[str, F64], dtype: Any, family: str) -> Params:
    """Cast to ``dtype``, then repair what rounding broke (zero scales, ``1.0`` probs)."""
    dt = np.dtype(dtype)
    out: Params = {}
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for key, v in p.items():
            a = np.asarray(v, dtype=dt)
            out[key] = a
    return _valid(family, out, dt)


def _valid(family: str, p: Params, dtype: Any) -> Params:
    """Clip values that left the domain through rounding or overflow back inside it."""
    dt = np.dtype(dtype)
    fi = np.finfo(dt)
    tiny, big = dt.type(fi.tiny), dt.type(fi.max)
    for name, v in p.items():
        p[name] = np.nan_to_num(v, nan=1.0, posinf=big, neginf=-big)
    for name in _positive_names(family):
        if name in p:
            p[name] = np.clip(p[name], tiny, big)
    if "probs" in p and family != "categorical":
        p["probs"] = np.clip(p["probs"], tiny, np.nextafter(dt.type(1), dt.type(0)))
    if "loc" in p:
        p["loc"] = np.clip(p["loc"], -big, big)
    if "logits" in p:
        p["logits"] = np.clip(p["logits"], -big, big)
    if family == "uniform":
        lo = np.clip(p["low"], -big, big)
        hi = np.clip(p["high"], -big, big)
        hi = np.where(hi > lo, hi, np.nextafter(lo, dt.type(np.inf)))
        lo = np.where(hi > lo, lo, np.nextafter(hi, dt.type(-np.inf)))
        p["low"], p["high"] = lo, hi
    return p
