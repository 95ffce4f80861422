"""Accuracy measurement: a KL implementation against the mpmath references."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath as mp
import numpy as np
from cases import SPECS, Case, Params, build_typed, cases
from references import reference_kl

import klproof.numeric as kn

TINY = float(np.finfo(np.float64).tiny)


@dataclass
class Report:
    did: str
    region: str
    n: int
    max_rel_err: float
    negatives: int
    nans: int
    inf_mismatch: int
    worst: Case | None


def _signature(pq: Case) -> tuple[Any, ...]:
    p, q = pq
    return tuple((k, np.shape(v)) for k, v in sorted(p.items())) + tuple(
        (k, np.shape(v)) for k, v in sorted(q.items())
    )


def evaluate(
    did: str,
    items: list[Case],
    dtype: Any = np.float64,
    kl: Callable[[kn.Distribution, kn.Distribution], Any] = kn.kl_divergence,
) -> tuple[np.ndarray, list[Any]]:
    """Return (ours, references) for the cases, computed batch-wise per signature."""
    spec = SPECS[did]
    ours = np.empty(len(items))
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, c in enumerate(items):
        groups.setdefault(_signature(c), []).append(i)
    for idx in groups.values():
        p = build_typed(spec.p, [items[i][0] for i in idx], dtype)
        q = build_typed(spec.q, [items[i][1] for i in idx], dtype)
        ours[idx] = np.asarray(kl(p, q), dtype=np.float64)
    refs = [reference_kl(did, p, q, dps=_dps(p, q)) for p, q in items]
    return ours, refs


def _dps(p: Params, q: Params) -> int:
    """50 digits, more when parameters are so large that 50 digits cancel away."""
    big, logit, small = 1.0, 0.0, 1.0
    for d in (p, q):
        for k, v in d.items():
            a = np.abs(np.asarray(v, dtype=np.float64))
            a = a[np.isfinite(a) & (a > 0)]
            if k == "logits":
                lg = np.asarray(v, dtype=np.float64)
                lg = lg[np.isfinite(lg)]
                if lg.size:
                    logit = max(logit, float(np.abs(lg).max()), float(lg.max() - lg.min()))
                if a.size:
                    small = min(small, float(a.min()))
            elif a.size:
                big = max(big, float(a.max()))
                small = min(small, float(a.min()))
    extra = 0
    if small < 1e-8:  # 1 - p for tiny p, or x - log1p(x) at tiny x, needs the digits
        extra = 2 * int(-math.log10(small))
    # large parameters cancel ~2 log10(big) digits (e.g. Gamma entropy at 1e150);
    # logits l need |l| / ln(10) digits to resolve 1 - sigmoid(-|l|)
    return 50 + 2 * int(math.log10(big)) + extra + int(logit / 2.3)


def rel_errors(ours: np.ndarray, refs: list[Any]) -> tuple[np.ndarray, int]:
    """Relative errors (inf where finiteness disagrees) and the count of such mismatches."""
    errs = np.empty(len(refs))
    mismatch = 0
    for i, (o, r) in enumerate(zip(ours, refs, strict=True)):
        if mp.isinf(r) or (not mp.isnan(r) and abs(r) > 1.7e308):
            ok = bool(np.isposinf(o))
            errs[i] = 0.0 if ok else np.inf
            mismatch += not ok
            continue
        if np.isinf(o) or np.isnan(o):
            errs[i] = np.inf
            mismatch += 1
            continue
        # Relative to |r|, floored at the smallest normal float64: results in the
        # subnormal range cannot carry 1e-12 relative accuracy (fewer than 52 bits).
        errs[i] = float(abs(mp.mpf(float(o)) - r) / max(abs(r), mp.mpf(TINY)))
    return errs, mismatch


def report(did: str, region: str, n: int = 8, seed: int = 1234, dtype: Any = np.float64) -> Report:
    rng = np.random.default_rng(seed)
    items = cases(did, region, rng, n)
    if not items:
        return Report(did, region, 0, 0.0, 0, 0, 0, None)
    ours, refs = evaluate(did, items, dtype)
    errs, mism = rel_errors(ours, refs)
    worst = int(np.argmax(errs))
    return Report(
        did,
        region,
        len(items),
        float(errs.max()),
        int((ours < 0).sum()),
        int(np.isnan(ours).sum()),
        mism,
        items[worst],
    )
