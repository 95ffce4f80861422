"""Parameter cases per registered pair and accuracy region (shared by tests and bench).

``cases(derivation_id, region, rng, n)`` returns a list of ``(p_params, q_params)`` dicts
of Python floats (lists for vector families). Regions:

- ``generic``: random parameters of moderate size;
- ``near-1e-2`` ... ``near-1e-12``: every parameter of ``q`` differs from the matching
  parameter of ``p`` by a random relative amount of that size (for cross-family pairs,
  from the ``q`` nearest to ``p``, so the KL is as small as the pair allows);
- ``scale``: scale-like parameters at 1e-300 and 1e300;
- ``probs``: probabilities down to 1e-300 and up to 1 - 1e-16;
- ``logits``: logits of magnitude up to 700;
- ``concentration``: concentrations from 1e-150 to 1e150 (and their near-diagonal).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import klproof.numeric as kn

Params = dict[str, Any]
Case = tuple[Params, Params]

NEAR = tuple(f"near-1e-{k}" for k in (2, 4, 6, 8, 10, 12))
REGIONS = ("generic", *NEAR, "scale", "probs", "logits", "concentration")
EULER = 0.5772156649015329


@dataclass
class Spec:
    p: type[kn.Distribution]
    q: type[kn.Distribution]
    gen_p: Callable[[np.random.Generator], Params]
    # q from p for the near-diagonal region (before perturbation)
    match: Callable[[Params], Params]
    gen_q: Callable[[np.random.Generator], Params] | None = None
    # names of q-parameters to perturb and how: "rel" (multiply by 1+e) / "shrink" / "grow"
    perturb: dict[str, str] = field(default_factory=dict)
    regions: tuple[str, ...] = ("generic", *NEAR)
    special: dict[str, Callable[[np.random.Generator, int], list[Case]]] = field(
        default_factory=dict
    )


def _pos(rng: np.random.Generator, lo: float = 0.05, hi: float = 20.0) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _real(rng: np.random.Generator) -> float:
    return float(rng.normal(0.0, 3.0))


def _perturb(x: float, eps: float, rng: np.random.Generator, how: str) -> float:
    u = float(rng.uniform(0.5, 1.0))
    if how == "prob":
        # perturb the smaller of p and 1 - p so the result stays in [0, 1]
        if x <= 0.5:
            return x * (1 + eps * u * float(rng.choice([-1.0, 1.0])))
        return 1 - (1 - x) * (1 + eps * u * float(rng.choice([-1.0, 1.0])))
    if how == "shrink":
        return x * (1 - eps * u)
    if how == "grow":
        return x * (1 + eps * u)
    if how == "logit":
        return x + eps * u * float(rng.choice([-1.0, 1.0])) * max(1.0, abs(x))
    s = float(rng.choice([-1.0, 1.0]))
    if how == "real" and x == 0:
        return eps * u * s
    return x * (1 + eps * u * s)


def _vec_perturb(v: list[float], eps: float, rng: np.random.Generator) -> list[float]:
    return [_perturb(x, eps, rng, "rel") for x in v]


def _loc_scale(rng: np.random.Generator) -> Params:
    return {"loc": _real(rng), "scale": _pos(rng)}


def _same(p: Params) -> Params:
    return dict(p)


LS = {"loc": "real", "scale": "rel"}


def _scale_cases(keys: tuple[str, ...], locs: tuple[str, ...] = ()) -> Callable[..., list[Case]]:
    """p and q with scale parameters around 1e-300 and 1e300 (both nearby and far apart)."""

    def gen(rng: np.random.Generator, n: int) -> list[Case]:
        out: list[Case] = []
        for i in range(n):
            base = 1e300 if i % 2 else 1e-300
            p = {k: base * _pos(rng, 0.5, 2) for k in keys}
            q = {k: base * _pos(rng, 0.5, 2) for k in keys}
            for lk in locs:
                p[lk] = base * _real(rng)
                q[lk] = base * _real(rng)
            out.append((p, q))
            # near-diagonal at extreme scale
            q2 = {k: _perturb(v, 1e-9, rng, "rel") for k, v in p.items()}
            out.append((p, q2))
        # far apart: tiny vs huge (finite KL of a few hundred or overflow to inf)
        p = dict.fromkeys(keys, 1e-300) | dict.fromkeys(locs, 0.0)
        q = dict.fromkeys(keys, 1e-280) | dict.fromkeys(locs, 0.0)
        out.append((p, q))
        out.append((q, p))
        return out

    return gen


def _probs_cases(kind: str) -> Callable[[np.random.Generator, int], list[Case]]:
    extremes = (1e-300, 1e-200, 1e-30, 1e-8, 0.5, 1 - 1e-8, 1 - 1e-16, 1 - 2**-53)

    def gen(rng: np.random.Generator, n: int) -> list[Case]:
        out: list[Case] = []
        for a in extremes:
            for b in extremes:
                out.append(({"probs": a}, {"probs": b}))
            out.append(({"probs": a}, {"probs": _perturb(a, 1e-6, rng, "prob")}))
            out.append(({"probs": a}, {"probs": _perturb(a, 1e-12, rng, "prob")}))
        out.append(({"probs": 0.0}, {"probs": 0.3}))
        out.append(({"probs": 1.0}, {"probs": 0.3}))
        out.append(({"probs": 0.3}, {"probs": 0.0}))
        out.append(({"probs": 0.3}, {"probs": 1.0}))
        out.append(({"probs": 0.0}, {"probs": 0.0}))
        if kind == "geometric":
            out = [(p, q) for p, q in out if p["probs"] > 0 and q["probs"] > 0]
        return out

    return gen


def _logit_cases(rng: np.random.Generator, n: int) -> list[Case]:
    vals = (-700.0, -690.0, -40.0, -1.0, 0.0, 1.0, 40.0, 690.0, 700.0)
    out: list[Case] = []
    for a in vals:
        for b in vals:
            out.append(({"logits": a}, {"logits": b}))
        for eps in (1e-2, 1e-8, 1e-12):
            out.append(({"logits": a}, {"logits": _perturb(a, eps, rng, "logit")}))
    return out


def _bern_gen(rng: np.random.Generator) -> Params:
    return {"probs": float(rng.uniform(0.02, 0.98))}


def _bern_logit_generic(rng: np.random.Generator, n: int) -> list[Case]:
    out = []
    for _ in range(n):
        a = {"logits": _real(rng)}
        out.append((a, {"logits": _real(rng)}))
        for eps in (1e-4, 1e-8, 1e-12):
            out.append((a, {"logits": _perturb(a["logits"], eps, rng, "logit")}))
    return out


def _cat_gen(rng: np.random.Generator, k: int = 10) -> Params:
    x = rng.dirichlet(np.ones(k))
    return {"probs": [float(v) for v in x]}


def _cat_near_probs(p: Params, eps: float, rng: np.random.Generator) -> Params:
    return {"probs": _vec_perturb(p["probs"], eps, rng)}


def _cat_special_probs(rng: np.random.Generator, n: int) -> list[Case]:
    out: list[Case] = []
    for tiny in (1e-300, 1e-200, 1e-30):
        p = [tiny, 0.25, 0.75 - tiny]
        q = [2 * tiny, 0.5, 0.5 - 2 * tiny]
        out.append(({"probs": p}, {"probs": q}))
        out.append(({"probs": p}, {"probs": [tiny * (1 + 1e-8), 0.25, 0.75 - tiny]}))
    out.append(({"probs": [0.0, 0.5, 0.5]}, {"probs": [0.2, 0.4, 0.4]}))
    out.append(({"probs": [0.2, 0.4, 0.4]}, {"probs": [0.0, 0.5, 0.5]}))
    out.append(({"probs": [0.0, 0.5, 0.5]}, {"probs": [0.0, 0.25, 0.75]}))
    out.append(({"probs": [1 - 1e-16, 1e-16]}, {"probs": [1 - 2e-16, 2e-16]}))
    return out


def _cat_logits(rng: np.random.Generator, n: int) -> list[Case]:
    out: list[Case] = []
    for _ in range(n):
        a = [float(x) for x in rng.uniform(-700, 700, size=5)]
        b = [float(x) for x in rng.uniform(-700, 700, size=5)]
        out.append(({"logits": a}, {"logits": b}))
        for eps in (1e-2, 1e-8, 1e-12):
            out.append(({"logits": a}, {"logits": [_perturb(x, eps, rng, "logit") for x in a]}))
        g = [float(x) for x in rng.normal(0, 3, size=10)]
        for eps in (1e-4, 1e-8, 1e-12):
            out.append(({"logits": g}, {"logits": [_perturb(x, eps, rng, "logit") for x in g]}))
    out.append(({"logits": [0.0, -np.inf, 1.0]}, {"logits": [1.0, 2.0, 3.0]}))
    out.append(({"logits": [0.0, 1.0, 1.0]}, {"logits": [1.0, -np.inf, 3.0]}))
    return out


def _conc_cases(keys: tuple[str, ...], vec: bool = False) -> Callable[..., list[Case]]:
    mags = (1e-150, 1e-50, 1e-5, 1.0, 1e5, 1e50, 1e150)

    def make(v: float, rng: np.random.Generator) -> Any:
        return [v * _pos(rng, 0.5, 2) for _ in range(3)] if vec else v * _pos(rng, 0.5, 2)

    def gen(rng: np.random.Generator, n: int) -> list[Case]:
        out: list[Case] = []
        for m in mags:
            p = {k: make(m, rng) for k in keys}
            for eps in (1e-1, 1e-4, 1e-8, 1e-12):
                q = {
                    k: (_vec_perturb(v, eps, rng) if vec else _perturb(v, eps, rng, "rel"))
                    for k, v in p.items()
                }
                out.append((p, q))
            for m2 in mags:
                out.append((p, {k: make(m2, rng) for k in keys}))
        # mixed magnitudes: a concentration <= 1 beside a larger one, moved by a little
        # or a lot (the closed forms' large terms cancel there when the KL is small)
        for small, big in ((1e-3, 5.0), (1e-3, 1e3), (1e-50, 1e5), (1e-5, 1e150)):
            for fs, fb in ((1.0, 1.3), (1.004, 1.27), (0.99, 0.7), (1.0, 1e-2)):
                vals = [small * _pos(rng, 1, 2), big * _pos(rng, 1, 2)]
                moved = [vals[0] * fs, vals[1] * fb]
                if vec:
                    vals.append(small * _pos(rng, 1, 2))
                    moved.append(vals[-1] * fs)
                    pv: Params = {keys[0]: vals}
                    qv: Params = {keys[0]: moved}
                else:
                    pv = dict(zip(keys, vals, strict=True))
                    qv = dict(zip(keys, moved, strict=True))
                out.append((pv, qv))
        return out

    return gen


def _gamma_conc(rng: np.random.Generator, n: int) -> list[Case]:
    mags = (1e-150, 1e-50, 1e-5, 1.0, 1e5, 1e50, 1e150)
    out: list[Case] = []
    for m in mags:
        p = {"concentration": m * _pos(rng, 0.5, 2), "rate": _pos(rng)}
        for eps in (1e-1, 1e-4, 1e-8, 1e-12):
            q = {k: _perturb(v, eps, rng, "rel") for k, v in p.items()}
            out.append((p, q))
        for m2 in mags:
            out.append((p, {"concentration": m2 * _pos(rng, 0.5, 2), "rate": _pos(rng)}))
    out += [
        ({"concentration": a1, "rate": b1}, {"concentration": a2, "rate": b2})
        for a1, b1, a2, b2 in _gamma_far(rng)
    ]
    return out


def _gamma_far(rng: np.random.Generator) -> list[tuple[float, float, float, float]]:
    """Shapes and rates far apart at once: 1e-150 ... 1e150, independently for p and q."""
    mags = (1e-150, 1e-5, 1e5, 1e150)
    out = []
    for m1 in mags:
        for m2 in mags:
            for rates in ((1.0, 1e-150), (1.0, 1e150), (1e-150, 1e150)):
                r1, r2 = rates if rng.uniform() < 0.5 else rates[::-1]
                b1, b2 = r1 * _pos(rng, 1e-3, 1e3), r2 * _pos(rng, 1e-3, 1e3)
                out.append((m1 * _pos(rng, 0.5, 2), b1, m2 * _pos(rng, 0.5, 2), b2))
    return out


def _gamma_normal_conc(rng: np.random.Generator, n: int) -> list[Case]:
    out: list[Case] = []
    for m in (1e-150, 1e-50, 1e-5, 1.0, 1e5, 1e50, 1e150):
        a, b = m * _pos(rng, 0.5, 2), _pos(rng)
        match = {"loc": a / b, "scale": math.sqrt(a) / b}
        out.append(({"concentration": a, "rate": b}, match))
        for eps in (1e-2, 1e-8):
            q = {k: _perturb(v, eps, rng, "rel") for k, v in match.items()}
            out.append(({"concentration": a, "rate": b}, q))
    return out


def _unif_gen(rng: np.random.Generator) -> Params:
    lo = _real(rng)
    return {"low": lo, "high": lo + _pos(rng)}


def _unif_q_contains(rng: np.random.Generator) -> Params:
    return _unif_gen(rng)


def _unif_pos_gen(rng: np.random.Generator) -> Params:
    lo = _pos(rng, 0.001, 5)
    return {"low": lo, "high": lo + _pos(rng)}


def _mvn_gen(rng: np.random.Generator, k: int = 3) -> Params:
    lt = np.tril(rng.normal(size=(k, k)))
    lt[np.diag_indices(k)] = np.exp(rng.normal(size=k) * 0.5)
    return {"loc": [float(x) for x in rng.normal(size=k)], "scale_tril": lt.tolist()}


def _diag_gen(rng: np.random.Generator, k: int = 4) -> Params:
    return {"loc": [_real(rng) for _ in range(k)], "scale": [_pos(rng) for _ in range(k)]}


def _diag_scale(rng: np.random.Generator, n: int) -> list[Case]:
    """Coordinates at 1e-300 and 1e300 (mixed within a vector), near and far."""
    out: list[Case] = []
    for _ in range(n):
        base = [1e300 if rng.random() < 0.5 else 1e-300 for _ in range(4)]
        p = {
            "loc": [b * _real(rng) for b in base],
            "scale": [b * _pos(rng, 0.5, 2) for b in base],
        }
        q = {
            "loc": [b * _real(rng) for b in base],
            "scale": [b * _pos(rng, 0.5, 2) for b in base],
        }
        out.append((p, q))
        out.append((p, {k: _vec_perturb(v, 1e-9, rng) for k, v in p.items()}))
    # tiny against huge: a KL of ~1e3 per coordinate, or overflow to +inf (exactly)
    tiny = {"loc": [0.0, 0.0], "scale": [1e-300, 1e-300]}
    huge = {"loc": [0.0, 0.0], "scale": [1e-280, 1e300]}
    out += [(tiny, huge), (huge, tiny)]
    return out


def _uniform_scale(rng: np.random.Generator, n: int) -> list[Case]:
    out: list[Case] = []
    for base in (1e-300, 1e300):
        for _ in range(n):
            lo = base * _real(rng)
            w = base * _pos(rng, 0.5, 2)
            p = {"low": lo, "high": lo + w}
            q = {"low": lo - 1e-9 * w, "high": lo + w * (1 + 1e-6)}
            out.append((p, q))
            out.append((p, {"low": lo - w, "high": lo + 0.5 * w}))
    return out


SPECS: dict[str, Spec] = {
    "kl/normal/normal": Spec(
        kn.Normal,
        kn.Normal,
        _loc_scale,
        _same,
        perturb=LS,
        regions=("generic", *NEAR, "scale"),
        special={"scale": _scale_cases(("scale",), ("loc",))},
    ),
    "kl/lognormal/lognormal": Spec(
        kn.LogNormal,
        kn.LogNormal,
        _loc_scale,
        _same,
        perturb=LS,
        regions=("generic", *NEAR, "scale"),
        special={"scale": _scale_cases(("scale",), ("loc",))},
    ),
    "kl/halfnormal/halfnormal": Spec(
        kn.HalfNormal,
        kn.HalfNormal,
        lambda r: {"scale": _pos(r)},
        _same,
        perturb={"scale": "rel"},
        regions=("generic", *NEAR, "scale"),
        special={"scale": _scale_cases(("scale",))},
    ),
    "kl/exponential/exponential": Spec(
        kn.Exponential,
        kn.Exponential,
        lambda r: {"rate": _pos(r)},
        _same,
        perturb={"rate": "rel"},
        regions=("generic", *NEAR, "scale"),
        special={"scale": _scale_cases(("rate",))},
    ),
    "kl/laplace/laplace": Spec(
        kn.Laplace,
        kn.Laplace,
        _loc_scale,
        _same,
        perturb=LS,
        regions=("generic", *NEAR, "scale"),
        special={"scale": _scale_cases(("scale",), ("loc",))},
    ),
    "kl/cauchy/cauchy": Spec(
        kn.Cauchy,
        kn.Cauchy,
        _loc_scale,
        _same,
        perturb=LS,
        regions=("generic", *NEAR, "scale"),
        special={"scale": _scale_cases(("scale",), ("loc",))},
    ),
    "kl/gumbel/gumbel": Spec(
        kn.Gumbel,
        kn.Gumbel,
        _loc_scale,
        _same,
        perturb=LS,
        regions=("generic", *NEAR, "scale"),
        special={"scale": _scale_cases(("scale",), ("loc",))},
    ),
    "kl/uniform/uniform": Spec(
        kn.Uniform,
        kn.Uniform,
        _unif_gen,
        _same,
        gen_q=_unif_gen,
        perturb={"low": "lowgrow", "high": "highgrow"},
        regions=("generic", *NEAR, "scale"),
        special={"scale": _uniform_scale},
    ),
    "kl/weibull/weibull": Spec(
        kn.Weibull,
        kn.Weibull,
        lambda r: {"scale": _pos(r), "concentration": _pos(r, 0.2, 5)},
        _same,
        perturb={"scale": "rel"},
        regions=("generic", *NEAR, "scale"),
        special={
            "scale": lambda r, n: [
                (p | {"concentration": 1.5}, q | {"concentration": 1.5})
                for p, q in _scale_cases(("scale",))(r, n)
            ]
        },
    ),
    "kl/pareto/pareto": Spec(
        kn.Pareto,
        kn.Pareto,
        lambda r: {"scale": _pos(r), "alpha": _pos(r, 0.2, 10)},
        _same,
        perturb={"scale": "shrink", "alpha": "rel"},
        regions=("generic", *NEAR, "scale"),
        special={
            "scale": lambda r, n: [
                (p | {"alpha": 2.5}, q | {"alpha": 3.0}) for p, q in _scale_cases(("scale",))(r, n)
            ]
        },
    ),
    "kl/poisson/poisson": Spec(
        kn.Poisson,
        kn.Poisson,
        lambda r: {"rate": _pos(r, 0.01, 100)},
        _same,
        perturb={"rate": "rel"},
        regions=("generic", *NEAR, "scale"),
        special={
            "scale": lambda r, n: [
                *_scale_cases(("rate",))(r, n),
                ({"rate": 0.0}, {"rate": 2.0}),
                ({"rate": 2.0}, {"rate": 0.0}),
                ({"rate": 0.0}, {"rate": 0.0}),
            ]
        },
    ),
    "kl/gamma/gamma": Spec(
        kn.Gamma,
        kn.Gamma,
        lambda r: {"concentration": _pos(r), "rate": _pos(r)},
        _same,
        perturb={"concentration": "rel", "rate": "rel"},
        regions=("generic", *NEAR, "scale", "concentration"),
        special={
            "scale": lambda r, n: [
                (p | {"concentration": 2.0}, q | {"concentration": 3.0})
                for p, q in _scale_cases(("rate",))(r, n)
            ],
            "concentration": _gamma_conc,
        },
    ),
    "kl/exponential/gamma": Spec(
        kn.Exponential,
        kn.Gamma,
        lambda r: {"rate": _pos(r)},
        lambda p: {"concentration": 1.0, "rate": p["rate"]},
        gen_q=lambda r: {"concentration": _pos(r), "rate": _pos(r)},
        perturb={"concentration": "rel", "rate": "rel"},
        regions=("generic", *NEAR, "concentration"),
        special={
            "concentration": lambda r, n: [
                ({"rate": b1}, {"concentration": a2, "rate": b2}) for _, b1, a2, b2 in _gamma_far(r)
            ]
        },
    ),
    "kl/gamma/exponential": Spec(
        kn.Gamma,
        kn.Exponential,
        lambda r: {"concentration": _pos(r, 0.8, 1.25), "rate": _pos(r)},
        lambda p: {"rate": p["rate"] / p["concentration"]},
        gen_q=lambda r: {"rate": _pos(r)},
        perturb={"rate": "rel"},
        regions=("generic", *NEAR, "concentration"),
        special={
            "concentration": lambda r, n: [
                ({"concentration": a1, "rate": b1}, {"rate": b2}) for a1, b1, _, b2 in _gamma_far(r)
            ]
        },
    ),
    "kl/dirichlet/dirichlet": Spec(
        kn.Dirichlet,
        kn.Dirichlet,
        lambda r: {"concentration": [_pos(r) for _ in range(4)]},
        _same,
        perturb={"concentration": "vec"},
        regions=("generic", *NEAR, "concentration"),
        special={"concentration": _conc_cases(("concentration",), vec=True)},
    ),
    "kl/beta/beta": Spec(
        kn.Beta,
        kn.Beta,
        lambda r: {"concentration1": _pos(r), "concentration0": _pos(r)},
        _same,
        perturb={"concentration1": "rel", "concentration0": "rel"},
        regions=("generic", *NEAR, "concentration"),
        special={"concentration": _conc_cases(("concentration1", "concentration0"))},
    ),
    "kl/bernoulli/bernoulli": Spec(
        kn.Bernoulli,
        kn.Bernoulli,
        _bern_gen,
        _same,
        perturb={"probs": "prob"},
        regions=("generic", *NEAR, "probs", "logits"),
        special={
            "probs": _probs_cases("bernoulli"),
            "logits": lambda r, n: _logit_cases(r, n) + _bern_logit_generic(r, n),
        },
    ),
    "kl/binomial/binomial": Spec(
        kn.Binomial,
        kn.Binomial,
        lambda r: {"total_count": float(r.integers(0, 50)), **_bern_gen(r)},
        _same,
        perturb={"probs": "prob"},
        regions=("generic", *NEAR, "probs", "logits"),
        special={
            "probs": lambda r, n: [
                (p | {"total_count": 7.0}, q | {"total_count": 7.0})
                for p, q in _probs_cases("binomial")(r, n)
            ],
            "logits": lambda r, n: [
                (p | {"total_count": 7.0}, q | {"total_count": 7.0}) for p, q in _logit_cases(r, n)
            ],
        },
    ),
    "kl/geometric/geometric": Spec(
        kn.Geometric,
        kn.Geometric,
        _bern_gen,
        _same,
        perturb={"probs": "prob"},
        regions=("generic", *NEAR, "probs", "logits"),
        special={
            "probs": _probs_cases("geometric"),
            "logits": lambda r, n: [(p, q) for p, q in _logit_cases(r, n) if p["logits"] > -650],
        },
    ),
    "kl/categorical/categorical": Spec(
        kn.Categorical,
        kn.Categorical,
        _cat_gen,
        _same,
        perturb={"probs": "simplex"},
        regions=("generic", *NEAR, "probs", "logits"),
        special={"probs": _cat_special_probs, "logits": _cat_logits},
    ),
    "kl/multivariatenormal/multivariatenormal": Spec(
        kn.MultivariateNormal,
        kn.MultivariateNormal,
        _mvn_gen,
        _same,
        perturb={"loc": "vec", "scale_tril": "tril"},
    ),
    "kl/diagonalnormal/diagonalnormal": Spec(
        kn.DiagonalNormal,
        kn.DiagonalNormal,
        _diag_gen,
        _same,
        perturb={"loc": "vec", "scale": "vec"},
        regions=("generic", *NEAR, "scale"),
        special={"scale": _diag_scale},
    ),
    "kl/laplace/normal": Spec(
        kn.Laplace,
        kn.Normal,
        _loc_scale,
        lambda p: {"loc": p["loc"], "scale": math.sqrt(2) * p["scale"]},
        gen_q=_loc_scale,
        perturb=LS,
    ),
    "kl/exponential/normal": Spec(
        kn.Exponential,
        kn.Normal,
        lambda r: {"rate": _pos(r)},
        lambda p: {"loc": 1 / p["rate"], "scale": 1 / p["rate"]},
        gen_q=_loc_scale,
        perturb=LS,
    ),
    "kl/uniform/normal": Spec(
        kn.Uniform,
        kn.Normal,
        _unif_gen,
        lambda p: {
            "loc": (p["low"] + p["high"]) / 2,
            "scale": (p["high"] - p["low"]) / math.sqrt(12),
        },
        gen_q=_loc_scale,
        perturb=LS,
    ),
    "kl/gumbel/normal": Spec(
        kn.Gumbel,
        kn.Normal,
        _loc_scale,
        lambda p: {
            "loc": p["loc"] + EULER * p["scale"],
            "scale": math.pi / math.sqrt(6) * p["scale"],
        },
        gen_q=_loc_scale,
        perturb=LS,
    ),
    "kl/gamma/normal": Spec(
        kn.Gamma,
        kn.Normal,
        lambda r: {"concentration": _pos(r, 0.1, 1000), "rate": _pos(r)},
        lambda p: {
            "loc": p["concentration"] / p["rate"],
            "scale": math.sqrt(p["concentration"]) / p["rate"],
        },
        gen_q=_loc_scale,
        perturb=LS,
        regions=("generic", *NEAR, "concentration"),
        special={"concentration": _gamma_normal_conc},
    ),
    "kl/normal/laplace": Spec(
        kn.Normal,
        kn.Laplace,
        _loc_scale,
        lambda p: {"loc": p["loc"], "scale": p["scale"] * math.sqrt(2 / math.pi)},
        gen_q=_loc_scale,
        perturb=LS,
    ),
    "kl/bernoulli/poisson": Spec(
        kn.Bernoulli,
        kn.Poisson,
        _bern_gen,
        lambda p: {"rate": p["probs"]},
        gen_q=lambda r: {"rate": _pos(r, 0.01, 10)},
        perturb={"rate": "rel"},
        regions=("generic", *NEAR, "probs"),
        special={
            "probs": lambda r, n: [
                ({"probs": a}, {"rate": b})
                for a in (1e-300, 1e-30, 1e-8, 0.5, 1 - 1e-16, 0.0, 1.0)
                for b in (1e-300, 1e-30, 1e-8, a * (1 + 1e-10), 0.5, 3.0, 0.0)
            ]
        },
    ),
    "kl/beta/uniform": Spec(
        kn.Beta,
        kn.Uniform,
        lambda r: {"concentration1": _pos(r), "concentration0": _pos(r)},
        lambda p: {"low": 0.0, "high": 1.0},
        gen_q=lambda r: {"low": -_pos(r, 0.001, 1) if r.random() < 0.8 else 0.1, "high": 2.0},
        perturb={},
        regions=("generic", *NEAR),
        special={},
    ),
    "kl/uniform/exponential": Spec(
        kn.Uniform,
        kn.Exponential,
        _unif_pos_gen,
        lambda p: {"rate": 2 / (p["high"] - p["low"])},
        gen_q=lambda r: {"rate": _pos(r)},
        perturb={"rate": "rel"},
    ),
    "kl/pareto/exponential": Spec(
        kn.Pareto,
        kn.Exponential,
        lambda r: {"scale": _pos(r), "alpha": _pos(r, 0.5, 10)},
        lambda p: {"rate": 1 / p["scale"]},
        gen_q=lambda r: {"rate": _pos(r)},
        perturb={"rate": "rel"},
    ),
}


def _near_q(spec: Spec, p: Params, eps: float, rng: np.random.Generator) -> Params:
    q = spec.match(p)
    out: Params = {}
    for k, v in q.items():
        how = spec.perturb.get(k)
        if how is None:
            out[k] = v
        elif how == "vec":
            out[k] = _vec_perturb(v, eps, rng)
        elif how == "simplex":
            w = np.array(_vec_perturb(v, eps, rng))
            out[k] = [float(x) for x in w / w.sum()]
        elif how == "tril":
            out[k] = [[_perturb(x, eps, rng, "rel") for x in row] for row in v]
        elif how == "lowgrow":
            w = q["high"] - q["low"]
            out[k] = v - eps * w * float(rng.uniform(0.5, 1))
        elif how == "highgrow":
            w = q["high"] - q["low"]
            out[k] = v + eps * w * float(rng.uniform(0.5, 1))
        else:
            out[k] = _perturb(v, eps, rng, how)
    return out


def cases(did: str, region: str, rng: np.random.Generator, n: int = 8) -> list[Case]:
    """Return the cases of ``region`` for pair ``did`` (empty if it does not apply)."""
    spec = SPECS[did]
    if region in spec.special:
        return spec.special[region](rng, n)
    if region not in spec.regions:
        return []
    out: list[Case] = []
    if region == "generic":
        for _ in range(n):
            p = spec.gen_p(rng)
            q = spec.gen_q(rng) if spec.gen_q else spec.gen_p(rng)
            if did == "kl/weibull/weibull":
                q["concentration"] = p["concentration"]
            if did == "kl/binomial/binomial":
                q["total_count"] = p["total_count"]
            out.append((p, q))
        return out
    eps = float(region.split("-", 1)[1])
    for _ in range(n):
        p = spec.gen_p(rng)
        out.append((p, _near_q(spec, p, eps, rng)))
    return out


def build(cls: type[kn.Distribution], params: list[Params]) -> kn.Distribution:
    """Stack a list of parameter dicts into one batched distribution."""
    keys = params[0].keys()
    arrays = {k: np.array([d[k] for d in params], dtype=np.float64) for k in keys}
    return cls(**arrays)


def build_typed(
    cls: type[kn.Distribution], params: list[Params], dtype: Any = np.float64
) -> kn.Distribution:
    """Like :func:`build` with a chosen dtype (total_count stays float64)."""
    keys = params[0].keys()
    arrays = {
        k: np.array([d[k] for d in params], dtype=np.float64 if k == "total_count" else dtype)
        for k in keys
    }
    return cls(**arrays)
