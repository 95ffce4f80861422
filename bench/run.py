"""Accuracy and speed of klproof's KL kernels against naive NumPy, PyTorch and SciPy.

Run with ``nox -s bench`` (installs ``.``, mpmath and ``torch==2.13.0``) or directly::

    python bench/run.py [--sizes 1e6 1e7] [--repeats 5] [--only normal categorical]

A full run writes ``docs/benchmarks/results.md`` (``--no-markdown`` to skip; a run
restricted with ``--only`` never writes it) and ``docs/benchmarks/results.json``, the
machine-readable results from which the docs draw their plots (``--no-json`` to skip).
Every run updates the JSON file section by section: a restricted run replaces only the
rows it measured and keeps the rest, each section records when and where it was measured.

``--curve-only`` is the fast mode (a few minutes): only the near-diagonal error curve
(section 5) for Normal, Gamma, Beta and Categorical, written to the JSON file.

Sections
--------
1. Import cost of ``import klproof`` over ``import numpy`` (subprocesses, median of 7).
2. Speed, float64, for every registered pair at each size: klproof (validation off),
   the naive NumPy formula, ``torch.distributions.kl_divergence`` (CPU, one thread,
   ``validate_args=False``), SciPy ``rel_entr``/``kl_div`` where they apply, and the
   memory floor (one streaming read of every input byte plus one write of the output).
   Distributions are built before timing; times are medians over interleaved repeats,
   each pair in a fresh interpreter (``--no-isolate``: all in this one), in
   ``--passes`` passes over all the pairs (default 3; the table takes each contender's
   median over them and shows the range of torch/ours). Peak extra
   memory (tracemalloc, NumPy allocations) is reported relative to the output array.
   Sizes count scalar parameters: Categorical uses N/10 rows of 10 categories,
   Dirichlet N/4 rows of 4, MultivariateNormal N/9 rows of 3x3 (so the bytes moved
   are comparable across pairs).
3. Validation cost: construction with ``validate=True`` vs ``False``.
4. Accuracy near the diagonal (relative parameter differences 1e-4 and 1e-8): max
   relative error against 50-digit mpmath references (tests/numeric/references.py) and
   the number of negative results, for klproof, naive NumPy, PyTorch and SciPy.
5. Error curve near the diagonal: the same measurement at relative parameter
   differences 1e-1, 1e-2, ..., 1e-14 for Normal, Gamma, Beta and Categorical.
6. klproof's max relative error in every accuracy region of tests/numeric/cases.py.
7. Speed near the diagonal: klproof and PyTorch at N = 1e6 where q's parameters are p's
   moved by up to 10 % and 0.1 % (the generic draws of section 2 are far apart), for a
   selection of pairs (``NEAR_SPEED_PAIRS``), in this process.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "numeric"))
try:
    import klproof
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))
    import klproof

from scipy import special as sp

import klproof.numeric as kn

Dist = kn.Distribution
A = np.ndarray

try:
    import torch
    import torch.distributions as td

    torch.set_num_threads(1)
    HAVE_TORCH = True
except ImportError:  # degrade gracefully
    HAVE_TORCH = False

EG = 0.5772156649015329


# -- parameter generators (vectorised) ---------------------------------------------------


def _pos(rng: np.random.Generator, n: int, lo: float = 0.05, hi: float = 20.0) -> A:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def _real(rng: np.random.Generator, n: int) -> A:
    return rng.normal(0.0, 3.0, n)


def _prob(rng: np.random.Generator, n: int) -> A:
    return rng.uniform(0.02, 0.98, n)


def gen(did: str, n: int, rng: np.random.Generator) -> tuple[Dist, Dist]:
    """Random generic parameters for the pair (validated once, then rebuilt unvalidated)."""
    fam_p, fam_q = did.split("/")[1:]
    P: dict[str, A] = {}
    Q: dict[str, A] = {}

    def loc_scale(d: dict[str, A]) -> None:
        d["loc"], d["scale"] = _real(rng, n), _pos(rng, n)

    simple = {"normal", "lognormal", "laplace", "cauchy", "gumbel"}
    if fam_p == fam_q and fam_p in simple:
        loc_scale(P)
        loc_scale(Q)
    elif did == "kl/halfnormal/halfnormal":
        P["scale"], Q["scale"] = _pos(rng, n), _pos(rng, n)
    elif did == "kl/exponential/exponential":
        P["rate"], Q["rate"] = _pos(rng, n), _pos(rng, n)
    elif did == "kl/uniform/uniform":
        P["low"] = _real(rng, n)
        P["high"] = P["low"] + _pos(rng, n)
        Q["low"], Q["high"] = P["low"] - _pos(rng, n), P["high"] + _pos(rng, n)
    elif did == "kl/weibull/weibull":
        P["scale"], P["concentration"] = _pos(rng, n), _pos(rng, n, 0.2, 5)
        Q["scale"], Q["concentration"] = _pos(rng, n), P["concentration"]
    elif did == "kl/pareto/pareto":
        P["scale"], P["alpha"] = _pos(rng, n), _pos(rng, n)
        Q["scale"], Q["alpha"] = P["scale"] * rng.uniform(0.2, 1.0, n), _pos(rng, n)
    elif did == "kl/poisson/poisson":
        P["rate"], Q["rate"] = _pos(rng, n), _pos(rng, n)
    elif did == "kl/gamma/gamma":
        P["concentration"], P["rate"] = _pos(rng, n), _pos(rng, n)
        Q["concentration"], Q["rate"] = _pos(rng, n), _pos(rng, n)
    elif did == "kl/exponential/gamma":
        P["rate"] = _pos(rng, n)
        Q["concentration"], Q["rate"] = _pos(rng, n), _pos(rng, n)
    elif did == "kl/gamma/exponential":
        P["concentration"], P["rate"] = _pos(rng, n), _pos(rng, n)
        Q["rate"] = _pos(rng, n)
    elif did == "kl/dirichlet/dirichlet":
        P["concentration"] = _pos(rng, n).reshape(-1, 4)
        Q["concentration"] = _pos(rng, n).reshape(-1, 4)
    elif did in ("kl/beta/beta", "kl/beta/uniform"):
        P["concentration1"], P["concentration0"] = _pos(rng, n), _pos(rng, n)
        if did == "kl/beta/beta":
            Q["concentration1"], Q["concentration0"] = _pos(rng, n), _pos(rng, n)
        else:
            Q["low"], Q["high"] = -_pos(rng, n, 0.001, 1), 1 + _pos(rng, n, 0.001, 1)
    elif did in ("kl/bernoulli/bernoulli", "kl/geometric/geometric"):
        P["probs"], Q["probs"] = _prob(rng, n), _prob(rng, n)
    elif did == "kl/binomial/binomial":
        cnt = rng.integers(1, 50, n).astype(np.float64)
        P["total_count"], P["probs"] = cnt, _prob(rng, n)
        Q["total_count"], Q["probs"] = cnt, _prob(rng, n)
    elif did == "kl/categorical/categorical":
        P["probs"] = rng.dirichlet(np.ones(10), n // 10)
        Q["probs"] = rng.dirichlet(np.ones(10), n // 10)
    elif did == "kl/multivariatenormal/multivariatenormal":
        m = max(n // 9, 1)
        for d in (P, Q):
            lt = np.tril(rng.normal(size=(m, 3, 3)))
            idx = np.arange(3)
            lt[:, idx, idx] = np.exp(0.5 * rng.normal(size=(m, 3)))
            d["loc"], d["scale_tril"] = rng.normal(size=(m, 3)), lt
    elif did == "kl/diagonalnormal/diagonalnormal":  # N coordinates: N / 8 vectors of 8
        for d in (P, Q):
            d["loc"], d["scale"] = _real(rng, n).reshape(-1, 8), _pos(rng, n).reshape(-1, 8)
    elif fam_q == "normal" or did == "kl/normal/laplace":
        src = {
            "laplace": lambda: loc_scale(P),
            "gumbel": lambda: loc_scale(P),
            "normal": lambda: loc_scale(P),
            "exponential": lambda: P.__setitem__("rate", _pos(rng, n)),
        }
        if fam_p in src:
            src[fam_p]()
        elif fam_p == "uniform":
            P["low"] = _real(rng, n)
            P["high"] = P["low"] + _pos(rng, n)
        elif fam_p == "gamma":
            P["concentration"], P["rate"] = _pos(rng, n), _pos(rng, n)
        loc_scale(Q)
    elif did == "kl/bernoulli/poisson":
        P["probs"], Q["rate"] = _prob(rng, n), _pos(rng, n, 0.01, 10)
    elif did == "kl/uniform/exponential":
        P["low"] = _pos(rng, n, 0.001, 5)
        P["high"] = P["low"] + _pos(rng, n)
        Q["rate"] = _pos(rng, n)
    elif did == "kl/pareto/exponential":
        P["scale"], P["alpha"] = _pos(rng, n), rng.uniform(1.5, 10, n)
        Q["rate"] = _pos(rng, n)
    else:  # pragma: no cover - every registered pair is listed above
        raise KeyError(did)
    entry = next(e for e in kn.registered_pairs() if e.derivation_id == did)
    entry.p(**P, validate=True)  # the generated parameters are valid
    entry.q(**Q, validate=True)
    return entry.p(**P, validate=False), entry.q(**Q, validate=False)


# -- naive NumPy formulas (textbook, full-size temporaries) --------------------------------


def _f(x: Any) -> A:
    return np.asarray(x, dtype=np.float64)


def _n_normal(p: Any, q: Any) -> A:
    m1, s1, m2, s2 = _f(p.loc), _f(p.scale), _f(q.loc), _f(q.scale)
    return np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def _n_gamma(a1: A, b1: A, a2: A, b2: A) -> A:
    return (
        (a1 - a2) * sp.digamma(a1)
        - sp.gammaln(a1)
        + sp.gammaln(a2)
        + a2 * (np.log(b1) - np.log(b2))
        + a1 * (b2 - b1) / b1
    )


def _n_dirichlet(a: A, b: A) -> A:
    a0, b0 = a.sum(-1), b.sum(-1)
    return (
        sp.gammaln(a0)
        - sp.gammaln(a).sum(-1)
        - sp.gammaln(b0)
        + sp.gammaln(b).sum(-1)
        + ((a - b) * (sp.digamma(a) - sp.digamma(a0)[..., None])).sum(-1)
    )


def _n_bern(p: A, q: A) -> A:
    return p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))


def _ncross(mean: A, var: A, h: A, q: Any) -> A:
    m, s = _f(q.loc), _f(q.scale)
    return 0.5 * np.log(2 * np.pi * s**2) + (var + (mean - m) ** 2) / (2 * s**2) - h


def _n_mvn(p: Any, q: Any) -> A:
    l1, l2 = _f(p.scale_tril), _f(q.scale_tril)
    s1 = l1 @ np.swapaxes(l1, -1, -2)
    s2 = l2 @ np.swapaxes(l2, -1, -2)
    s2i = np.linalg.inv(s2)
    d = _f(q.loc) - _f(p.loc)
    tr = np.trace(s2i @ s1, axis1=-2, axis2=-1)
    quad = np.einsum("...i,...ij,...j->...", d, s2i, d)
    k = s1.shape[-1]
    return 0.5 * (tr - k + np.log(np.linalg.det(s2) / np.linalg.det(s1)) + quad)


def _probs(d: Any) -> A:
    return _f(d.probs)


NAIVE: dict[str, Callable[[Any, Any], A]] = {
    "kl/normal/normal": _n_normal,
    "kl/lognormal/lognormal": _n_normal,
    "kl/halfnormal/halfnormal": lambda p, q: (
        np.log(_f(q.scale) / _f(p.scale)) + _f(p.scale) ** 2 / (2 * _f(q.scale) ** 2) - 0.5
    ),
    "kl/exponential/exponential": lambda p, q: (
        np.log(_f(p.rate) / _f(q.rate)) + _f(q.rate) / _f(p.rate) - 1
    ),
    "kl/laplace/laplace": lambda p, q: (
        np.log(_f(q.scale) / _f(p.scale))
        + np.abs(_f(p.loc) - _f(q.loc)) / _f(q.scale)
        + _f(p.scale) / _f(q.scale) * np.exp(-np.abs(_f(p.loc) - _f(q.loc)) / _f(p.scale))
        - 1
    ),
    "kl/cauchy/cauchy": lambda p, q: np.log(
        ((_f(p.scale) + _f(q.scale)) ** 2 + (_f(p.loc) - _f(q.loc)) ** 2)
        / (4 * _f(p.scale) * _f(q.scale))
    ),
    "kl/uniform/uniform": lambda p, q: np.where(
        (_f(p.low) >= _f(q.low)) & (_f(p.high) <= _f(q.high)),
        np.log((_f(q.high) - _f(q.low)) / (_f(p.high) - _f(p.low))),
        np.inf,
    ),
    "kl/gumbel/gumbel": lambda p, q: (
        -np.log(_f(p.scale) / _f(q.scale))
        - _f(q.loc) / _f(q.scale)
        + _f(p.loc) / _f(q.scale)
        + EG * _f(p.scale) / _f(q.scale)
        + np.exp(
            _f(q.loc) / _f(q.scale)
            + sp.gammaln(1 + _f(p.scale) / _f(q.scale))
            - _f(p.loc) / _f(q.scale)
        )
        - (1 + EG)
    ),
    "kl/weibull/weibull": lambda p, q: (
        (_f(p.scale) / _f(q.scale)) ** _f(p.concentration)
        - 1
        - _f(p.concentration) * np.log(_f(p.scale) / _f(q.scale))
    ),
    "kl/pareto/pareto": lambda p, q: np.where(
        _f(p.scale) >= _f(q.scale),
        np.log(_f(p.alpha) / _f(q.alpha))
        + _f(q.alpha) * np.log(_f(p.scale) / _f(q.scale))
        + _f(q.alpha) / _f(p.alpha)
        - 1,
        np.inf,
    ),
    "kl/poisson/poisson": lambda p, q: (
        _f(p.rate) * np.log(_f(p.rate) / _f(q.rate)) - _f(p.rate) + _f(q.rate)
    ),
    "kl/gamma/gamma": lambda p, q: _n_gamma(
        _f(p.concentration), _f(p.rate), _f(q.concentration), _f(q.rate)
    ),
    "kl/exponential/gamma": lambda p, q: _n_gamma(
        np.ones_like(_f(p.rate)), _f(p.rate), _f(q.concentration), _f(q.rate)
    ),
    "kl/gamma/exponential": lambda p, q: _n_gamma(
        _f(p.concentration), _f(p.rate), np.ones_like(_f(q.rate)), _f(q.rate)
    ),
    "kl/dirichlet/dirichlet": lambda p, q: _n_dirichlet(_f(p.concentration), _f(q.concentration)),
    "kl/beta/beta": lambda p, q: _n_dirichlet(
        np.stack([_f(p.concentration1), _f(p.concentration0)], -1),
        np.stack([_f(q.concentration1), _f(q.concentration0)], -1),
    ),
    "kl/bernoulli/bernoulli": lambda p, q: _n_bern(_probs(p), _probs(q)),
    "kl/binomial/binomial": lambda p, q: _f(p.total_count) * _n_bern(_probs(p), _probs(q)),
    "kl/geometric/geometric": lambda p, q: _n_bern(_probs(p), _probs(q)) / _probs(p),
    "kl/categorical/categorical": lambda p, q: (_probs(p) * np.log(_probs(p) / _probs(q))).sum(-1),
    "kl/multivariatenormal/multivariatenormal": _n_mvn,
    "kl/diagonalnormal/diagonalnormal": lambda p, q: _n_normal(p, q).sum(-1),
    "kl/laplace/normal": lambda p, q: _ncross(
        _f(p.loc), 2 * _f(p.scale) ** 2, 1 + np.log(2 * _f(p.scale)), q
    ),
    "kl/exponential/normal": lambda p, q: _ncross(
        1 / _f(p.rate), 1 / _f(p.rate) ** 2, 1 - np.log(_f(p.rate)), q
    ),
    "kl/uniform/normal": lambda p, q: _ncross(
        (_f(p.low) + _f(p.high)) / 2,
        (_f(p.high) - _f(p.low)) ** 2 / 12,
        np.log(_f(p.high) - _f(p.low)),
        q,
    ),
    "kl/gumbel/normal": lambda p, q: _ncross(
        _f(p.loc) + EG * _f(p.scale),
        np.pi**2 * _f(p.scale) ** 2 / 6,
        np.log(_f(p.scale)) + EG + 1,
        q,
    ),
    "kl/gamma/normal": lambda p, q: _ncross(
        _f(p.concentration) / _f(p.rate),
        _f(p.concentration) / _f(p.rate) ** 2,
        _f(p.concentration)
        - np.log(_f(p.rate))
        + sp.gammaln(_f(p.concentration))
        + (1 - _f(p.concentration)) * sp.digamma(_f(p.concentration)),
        q,
    ),
    "kl/normal/laplace": lambda p, q: (
        np.log(2 * _f(q.scale))
        + (
            _f(p.scale)
            * np.sqrt(2 / np.pi)
            * np.exp(-((_f(p.loc) - _f(q.loc)) ** 2) / (2 * _f(p.scale) ** 2))
            + (_f(p.loc) - _f(q.loc)) * sp.erf((_f(p.loc) - _f(q.loc)) / (np.sqrt(2) * _f(p.scale)))
        )
        / _f(q.scale)
        - 0.5 * np.log(2 * np.pi * np.e * _f(p.scale) ** 2)
    ),
    "kl/bernoulli/poisson": lambda p, q: (
        _probs(p) * np.log(_probs(p))
        + (1 - _probs(p)) * np.log(1 - _probs(p))
        + _f(q.rate)
        - _probs(p) * np.log(_f(q.rate))
    ),
    "kl/beta/uniform": lambda p, q: (
        np.log(_f(q.high) - _f(q.low))
        - (
            sp.betaln(_f(p.concentration1), _f(p.concentration0))
            - (_f(p.concentration1) - 1) * sp.digamma(_f(p.concentration1))
            - (_f(p.concentration0) - 1) * sp.digamma(_f(p.concentration0))
            + (_f(p.concentration1) + _f(p.concentration0) - 2)
            * sp.digamma(_f(p.concentration1) + _f(p.concentration0))
        )
    ),
    "kl/uniform/exponential": lambda p, q: (
        -np.log(_f(p.high) - _f(p.low))
        - np.log(_f(q.rate))
        + _f(q.rate) * (_f(p.low) + _f(p.high)) / 2
    ),
    "kl/pareto/exponential": lambda p, q: (
        -(np.log(_f(p.scale) / _f(p.alpha)) + 1 + 1 / _f(p.alpha))
        - np.log(_f(q.rate))
        + _f(q.rate) * _f(p.alpha) * _f(p.scale) / (_f(p.alpha) - 1)
    ),
}

SCIPY: dict[str, dict[str, Callable[[Any, Any], A]]] = {
    "kl/categorical/categorical": {
        "rel_entr": lambda p, q: sp.rel_entr(_probs(p), _probs(q)).sum(-1),
        "kl_div": lambda p, q: sp.kl_div(_probs(p), _probs(q)).sum(-1),
    },
    "kl/bernoulli/bernoulli": {
        "rel_entr": lambda p, q: (
            sp.rel_entr(_probs(p), _probs(q)) + sp.rel_entr(1 - _probs(p), 1 - _probs(q))
        ),
    },
    "kl/poisson/poisson": {"kl_div": lambda p, q: sp.kl_div(_f(p.rate), _f(q.rate))},
}


# -- torch ---------------------------------------------------------------------------------


def _ctor_names(cls: type) -> list[str]:
    return [n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "validate")]


def to_torch(d: Any) -> Any:
    """Build the PyTorch twin of a klproof distribution (same parameter names)."""
    if type(d).__name__ == "DiagonalNormal":  # PyTorch: Independent(Normal(loc, scale), 1)
        loc, scale = (
            torch.from_numpy(np.ascontiguousarray(a, np.float64)) for a in (d.loc, d.scale)
        )
        return td.Independent(td.Normal(loc, scale, validate_args=False), 1, validate_args=False)
    cls = getattr(td, type(d).__name__)
    kwargs: dict[str, Any] = {}
    for name in _ctor_names(type(d)):
        if name in ("probs", "logits"):
            if name != d._given:
                continue
            val = d._raw_probs if (name == "probs" and hasattr(d, "_raw_probs")) else None
            arr = val if val is not None else getattr(d, name)
        elif name in ("covariance_matrix", "scale_tril"):
            if name != d._given:
                continue
            arr = getattr(d, name)
        else:
            arr = getattr(d, name)
        kwargs[name] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64))
    return cls(**kwargs, validate_args=False)


def torch_kl(p: Any, q: Any) -> A:
    tp, tq = to_torch(p), to_torch(q)
    with torch.no_grad():
        return td.kl_divergence(tp, tq).numpy()


# -- timing helpers ------------------------------------------------------------------------


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median times of several callables, run in interleaved rounds.

    The machine is shared (other processes come and go); interleaving spreads any
    slow period over all contenders instead of penalising one.
    """
    for fn in fns.values():
        fn()  # warm-up
    ts: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in ts.items()}


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up (lazy imports, caches)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def input_arrays(d: Any) -> list[A]:
    out = []
    for name in _ctor_names(type(d)):
        if name in ("probs", "logits", "covariance_matrix", "scale_tril") and name != getattr(
            d, "_given", name
        ):
            continue
        arr = d._raw_probs if name == "probs" and hasattr(d, "_raw_probs") else getattr(d, name)
        out.append(np.ascontiguousarray(arr))
    return out


def _floor_fn(p: Any, q: Any, out_size: int) -> Callable[[], None]:
    """One streaming read of every input byte and one write of the output."""
    arrays = input_arrays(p) + input_arrays(q)
    out = np.empty(out_size)

    def run() -> None:
        for a in arrays:
            a.sum()
        out.fill(0.0)

    return run


def peak_extra(fn: Callable[[], Any]) -> float:
    """Peak NumPy allocation during ``fn`` (bytes), via tracemalloc."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return float(peak)


# -- sections ------------------------------------------------------------------------------


def import_cost() -> tuple[float, float]:
    code = "import time; t=time.perf_counter(); import {m}; print(time.perf_counter()-t)"

    def one(mod: str) -> float:
        ts = []
        for _ in range(7):
            r = subprocess.run(
                [sys.executable, "-c", code.format(m=mod)],
                capture_output=True,
                text=True,
                check=True,
            )
            ts.append(float(r.stdout.strip()))
        return statistics.median(ts)

    return one("numpy"), one("klproof")


#: what the times at N = 1e7 include besides arithmetic (measured on the machine the
#: table comes from, a Firecracker VM that reports free memory to its host); printed
#: under the speed table
PAGE_FAULT_NOTE = (
    "**Page faults.** Every contender allocates its output (and PyTorch and the naive "
    "formula their temporaries) afresh in each call, so at N = 1e7 the times include "
    "page faults, and on this machine (a VM that hands free memory back to its host) "
    "these vary. (1) PyTorch's allocator returns large blocks to the system after each "
    "call: a Beta KL took 566,000 page faults. With glibc told to keep freed memory "
    "(`GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736`), "
    "PyTorch measured 121 instead of ~200 ns/elt for Beta, 45 instead of ~88 for Gamma and "
    "8.2 instead of ~37 for Normal, and ours 64, 30 and 5.2 (unchanged): the ratios to "
    "PyTorch above are those of the default setting, which is what users get. (2) NumPy "
    "asks for huge pages for arrays of 4 MB and more. When such a page lands on memory "
    "the host has taken back, faulting it costs ~4 ms: the first write of an 80 MB "
    "output right after a PyTorch call took 127-158 ms instead of 5 ms, so a NumPy "
    "contender timed after PyTorch can pay 13-17 ns/elt more (ours: Beta 63 against "
    "73-84, Gamma 30 against 41-46), depending on where the allocator puts the output. "
    "`NUMPY_MADVISE_HUGEPAGE=0` removes that spread (Beta 65-67 ns/elt in every "
    "round) but costs 4 KB faults instead (~25 ms per 80 MB output; Gamma 31-33). "
    "klproof's Beta, Beta -> Uniform and Dirichlet kernels, tens of ns of arithmetic per "
    "output element, therefore allocate their outputs on 4 KB pages (the extra 2.5 "
    "ns/elt is steady); the Gamma family and the memory-bound kernels keep NumPy's "
    "default. "
    "The count of faults is not what varies: in five fresh processes our Beta call at 1e7 "
    "took 625 faults every time, and the time outside the kernel's blocks (output, "
    "loading, flagged rows) was 3.6-5.0 ns/elt in four of them and 14.8 in the fifth; "
    "runs of the Beta row on the same code gave torch/ours from 2.66 to 3.26. "
    "The slow spells come and go over minutes, not with the process: with PyTorch and the "
    "naive formula run before each call, our Beta call took 59-61 ns/elt in one "
    "process and 86-92 in another 20 minutes earlier (the time outside the kernel 2.7 "
    "against 24-30 ns/elt), and a whole bench pass measured Beta at 79 ns/elt at both "
    "sizes. Hence the passes: each pair is timed in every pass, the passes minutes apart. "
    "The table uses the defaults."
)


def speed(
    sizes: list[int],
    repeats: int,
    only: list[str],
    *,
    isolate: bool = False,
    exact: bool = False,
    passes: int = 1,
) -> list[dict[str, Any]]:
    """Speed rows of the pairs ``only`` selects (substrings of pair ids; ``exact``: ids).

    With ``isolate`` each pair is timed in a fresh interpreter (its contenders still side
    by side in that one process), so no pair inherits the heap of the pairs before it,
    and that ``passes`` times over all the pairs, one pass after the other; each
    contender's time is the median of its passes (:func:`combine_passes`). What remains
    of the spread is page faults, measured on this VM (see :data:`PAGE_FAULT_NOTE`):
    the first write of a NumPy output can cost 13-25 ns/elt more at N = 1e7 in slow
    spells of a few minutes (Beta 59 against 72-92), whichever process it is.
    """
    dids = [
        did
        for did in sorted(NAIVE)
        if not only or any((o == did) if exact else (o in did) for o in only)
    ]
    if isolate:
        runs = []
        for k in range(passes):
            if passes > 1:
                print(f"-- speed, pass {k + 1} of {passes}", flush=True)
            runs.append([r for did in dids for r in _speed_isolated(did, sizes, repeats)])
        if passes == 1:
            return runs[0]
        combined = combine_passes(runs)
        print(f"-- speed, median of {passes} passes", flush=True)
        for r in combined:
            _print_speed_row(r)
        return combined
    rows = []
    for did in dids:
        for n in sizes:
            rng = np.random.default_rng(0)
            p, q = gen(did, n, rng)
            out = kn.kl_divergence(p, q)
            # every size gets all repeats: at 1e7 a median of 3 followed this VM's slow spells
            # (one process measured Gamma at 30 ns/elt, the next at 46, the kernel unchanged)
            reps = repeats
            row: dict[str, Any] = {"pair": did, "N": n, "out_size": out.size}
            fns: dict[str, Callable[[], Any]] = {
                "ours": lambda p=p, q=q: kn.kl_divergence(p, q),
                "naive": lambda p=p, q=q, did=did: NAIVE[did](p, q),
                "floor": _floor_fn(p, q, out.size),
            }
            if HAVE_TORCH:
                try:
                    tp, tq = to_torch(p), to_torch(q)
                    td.kl_divergence(tp, tq)

                    def tk(tp: Any = tp, tq: Any = tq) -> Any:
                        with torch.no_grad():
                            return td.kl_divergence(tp, tq)

                    fns["torch"] = tk
                except NotImplementedError:
                    pass
            for name, f in SCIPY.get(did, {}).items():
                fns[f"scipy.{name}"] = lambda f=f, p=p, q=q: f(p, q)
            with np.errstate(all="ignore"):
                times = interleaved(fns, reps)
            row["ours"], row["naive"], row["floor"] = times["ours"], times["naive"], times["floor"]
            row["torch"] = times.get("torch")
            row["scipy"] = {k[6:]: v for k, v in times.items() if k.startswith("scipy.")}
            out_bytes = out.nbytes
            row["mem_ours"] = peak_extra(lambda p=p, q=q: kn.kl_divergence(p, q)) / out_bytes
            row["mem_naive"] = peak_extra(lambda p=p, q=q, did=did: NAIVE[did](p, q)) / out_bytes
            rows.append(row)
            _print_speed_row(row)
    return rows


def _speed_isolated(did: str, sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    """:func:`speed` for one pair in a child interpreter; its rows come back as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--speed-rows-json", str(out)]
        cmd += ["--only", did, "--repeats", str(repeats), "--sizes", *map(str, sizes)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        rows: list[dict[str, Any]] = json.loads(out.read_text(encoding="utf-8"))
    for row in rows:
        _print_speed_row(row)
    return rows


def combine_passes(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per pair and size from the rows of several passes (same pairs, same order).

    Each contender's time is the median of its per-pass medians; peak memory the largest
    of the passes; ``pass_ratios`` keeps each pass's torch/ours, so the table can show
    their range.
    """
    out = []
    for rows in zip(*runs, strict=True):
        first = rows[0]
        assert all((r["pair"], r["N"]) == (first["pair"], first["N"]) for r in rows)
        row = dict(first)
        for key in ("ours", "naive", "floor", "torch"):
            vals = [r[key] for r in rows]
            row[key] = None if any(v is None for v in vals) else statistics.median(vals)
        row["scipy"] = {k: statistics.median(r["scipy"][k] for r in rows) for k in first["scipy"]}
        row["mem_ours"] = max(r["mem_ours"] for r in rows)
        row["mem_naive"] = max(r["mem_naive"] for r in rows)
        if row["torch"] is not None:
            row["pass_ratios"] = [r["torch"] / r["ours"] for r in rows]
        out.append(row)
    return out


def _fmt_ns(t: float | None, n: int) -> str:
    return "—" if t is None else f"{1e9 * t / n:7.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a / b:6.2f}"


def _ratio_cell(r: dict[str, Any]) -> str:
    """torch/ours, with the range over the passes where there were several."""
    cell = _ratio(r["torch"], r["ours"]).strip()
    spread = r.get("pass_ratios")
    if spread and len(spread) > 1:
        cell += f" ({min(spread):.2f}–{max(spread):.2f})"
    return cell


def _print_speed_row(r: dict[str, Any]) -> None:
    n = r["N"]
    sc = " ".join(f"{k}={_fmt_ns(v, n)}" for k, v in r["scipy"].items())
    print(
        f"{r['pair']:42s} N={n:>9d} ns/elt ours={_fmt_ns(r['ours'], n)} "
        f"naive={_fmt_ns(r['naive'], n)} torch={_fmt_ns(r['torch'], n)} "
        f"floor={_fmt_ns(r['floor'], n)} | torch/ours={_ratio(r['torch'], r['ours'])} "
        f"naive/ours={_ratio(r['naive'], r['ours'])} ours/floor={_ratio(r['ours'], r['floor'])} "
        f"| mem ours={r['mem_ours']:.2f} naive={r['mem_naive']:.2f} {sc}",
        flush=True,
    )


#: pairs timed near the diagonal (section 7)
NEAR_SPEED_PAIRS = (
    "kl/normal/normal",
    "kl/gamma/gamma",
    "kl/poisson/poisson",
    "kl/bernoulli/bernoulli",
    "kl/beta/beta",
    "kl/dirichlet/dirichlet",
    "kl/categorical/categorical",
)


def _moved(p: Any, rel: float, rng: np.random.Generator) -> Any:
    """A q whose parameters are p's moved by up to ``rel``: scale-like ones relatively,
    locations by ``rel`` absolutely, Bernoulli probabilities by ``rel min(p, 1 - p)``,
    Categorical probabilities by a factor ``exp(rel u)`` and renormalised."""
    kw = {}
    for name in _ctor_names(type(p)):
        if name == "logits":
            continue
        v = np.asarray(getattr(p, name), dtype=np.float64)
        u = rng.uniform(-1.0, 1.0, v.shape)
        if name == "probs" and v.ndim > 1:
            w = v * np.exp(rel * u)
            kw[name] = w / w.sum(-1, keepdims=True)
        elif name == "probs":
            kw[name] = v + rel * u * np.minimum(v, 1.0 - v)
        elif name == "loc":
            kw[name] = v + rel * u
        else:
            kw[name] = v * (1.0 + rel * u)
    type(p)(**kw, validate=True)  # the moved parameters are valid
    return type(p)(**kw, validate=False)


def near_speed(
    n: int, repeats: int, only: list[str], rels: tuple[float, ...] = (1e-1, 1e-3)
) -> list[dict[str, Any]]:
    """Section 7: klproof and PyTorch on pairs whose parameters differ by ``rels``."""
    rows = []
    for did in NEAR_SPEED_PAIRS:
        if only and not any(o in did for o in only):
            continue
        p, _ = gen(did, n, np.random.default_rng(0))
        for rel in rels:
            q = _moved(p, rel, np.random.default_rng(1))
            fns: dict[str, Callable[[], Any]] = {
                "ours": lambda p=p, q=q: kn.kl_divergence(p, q),
            }
            if HAVE_TORCH:
                tp, tq = to_torch(p), to_torch(q)

                def tk(tp: Any = tp, tq: Any = tq) -> Any:
                    with torch.no_grad():
                        return td.kl_divergence(tp, tq)

                fns["torch"] = tk
            with np.errstate(all="ignore"):
                times = interleaved(fns, repeats)
            row = {"pair": did, "N": n, "rel_diff": rel, **times}
            row.setdefault("torch", None)
            rows.append(row)
            print(
                f"near-speed {did:32s} N={n:.0e} rel={rel:.0e} ns/elt "
                f"ours={_fmt_ns(row['ours'], n)} torch={_fmt_ns(row['torch'], n)} | "
                f"torch/ours={_ratio(row['torch'], row['ours'])}",
                flush=True,
            )
    return rows


def near_speed_markdown(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Speed near the diagonal",
        "",
        (
            "The pairs of the speed table above are drawn independently, far apart. Here "
            "q's parameters are p's moved by up to the stated relative amount (N = 1e6, "
            "float64, same settings, all pairs in one process): where PyTorch loses its "
            "digits (the accuracy tables below), klproof does the extra work that keeps "
            "them, and is then slower than PyTorch for most of these pairs."
        ),
        "",
        "| pair | N | moved by | ours | torch | torch/ours |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = r["N"]
        lines.append(
            f"| {r['pair']} | {n:.0e} | {r['rel_diff']:.0e} | {_fmt_ns(r['ours'], n).strip()} | "
            f"{_fmt_ns(r['torch'], n).strip()} | {_ratio(r['torch'], r['ours']).strip()} |"
        )
    return [*lines, ""]


def validation_cost(n: int) -> list[tuple[str, float, float]]:
    res = []
    for did in ("kl/normal/normal", "kl/categorical/categorical", "kl/gamma/gamma"):
        rng = np.random.default_rng(1)
        p, q = gen(did, n, rng)
        entry = next(e for e in kn.registered_pairs() if e.derivation_id == did)

        def params(d: Any) -> dict[str, Any]:
            names = _ctor_names(type(d))
            arrays = input_arrays(d)
            keep = [
                nm
                for nm in names
                if not (
                    nm in ("probs", "logits", "covariance_matrix", "scale_tril")
                    and nm != getattr(d, "_given", nm)
                )
            ]
            return dict(zip(keep, arrays, strict=True))

        pp, qq = params(p), params(q)

        def build(v: bool, pp: dict[str, Any] = pp, qq: dict[str, Any] = qq, e: Any = entry) -> Any:
            return kn.kl_divergence(e.p(**pp, validate=v), e.q(**qq, validate=v))

        t_on = median_time(lambda b=build: b(True), 3)
        t_off = median_time(lambda b=build: b(False), 3)
        res.append((did, t_on, t_off))
        print(
            f"validation {did:32s} N={n}: on {1e3 * t_on:8.1f} ms, off {1e3 * t_off:8.1f} ms "
            f"(+{100 * (t_on / t_off - 1):.0f}%)",
            flush=True,
        )
    return res


def accuracy(regions: tuple[str, ...] = ("near-1e-4", "near-1e-8")) -> list[dict[str, Any]]:
    from cases import cases

    rows = []
    for did in sorted(NAIVE):
        for region in regions:
            rng = np.random.default_rng(99)
            items = cases(did, region, rng, 40)
            if items:
                rows.append(_accuracy_row(did, region, items))
    return rows


#: The pairs and relative parameter differences of the near-diagonal error curve.
CURVE_PAIRS = (
    "kl/normal/normal",
    "kl/gamma/gamma",
    "kl/beta/beta",
    "kl/categorical/categorical",
)
CURVE_DIFFS = tuple(10.0**-k for k in range(1, 15))


def accuracy_curve(
    pairs: tuple[str, ...] = CURVE_PAIRS, diffs: tuple[float, ...] = CURVE_DIFFS, n: int = 40
) -> list[dict[str, Any]]:
    """Accuracy rows at each relative parameter difference (cases as tests/numeric/cases.py).

    Every parameter of ``q`` differs from the matching parameter of ``p`` by a random
    relative amount between ``eps/2`` and ``eps`` (the ``near-<eps>`` regions).
    """
    from cases import SPECS, _near_q

    rows = []
    for did in pairs:
        spec = SPECS[did]
        for eps in diffs:
            rng = np.random.default_rng(99)
            items = []
            for _ in range(n):
                p = spec.gen_p(rng)
                items.append((p, _near_q(spec, p, eps, rng)))
            rows.append(_accuracy_row(did, f"near-{eps:.0e}", items, rel_diff=eps))
    return rows


def _accuracy_row(
    did: str, region: str, items: list[Any], rel_diff: float | None = None
) -> dict[str, Any]:
    """Max relative error, negatives and NaNs of every implementation on ``items``."""
    from accuracy import evaluate

    if rel_diff is None and region.startswith("near-"):
        rel_diff = float(region.split("-", 1)[1])
    row: dict[str, Any] = {"pair": did, "region": region, "rel_diff": rel_diff, "n": len(items)}
    todo: dict[str, Callable[[Any, Any], Any]] = {"naive": NAIVE[did]}
    if HAVE_TORCH:
        todo["torch"] = torch_kl
    for name, f in SCIPY.get(did, {}).items():
        todo[f"scipy.{name}"] = f
    ours_vals, refs = evaluate(did, items)
    row["ours"] = _summary(ours_vals, refs)
    for name, fn in todo.items():
        try:
            with np.errstate(all="ignore"):
                vals, _ = _eval_only(did, items, fn)
        except NotImplementedError:
            row[name] = None
            continue
        row[name] = _summary(vals, refs)
    print(
        f"accuracy {did:42s} {region:10s} "
        + " ".join(f"{k}={_fmt_acc(row[k])}" for k in ("ours", *todo) if k in row),
        flush=True,
    )
    return row


def _summary(vals: A, refs: list[Any]) -> tuple[float, int, int]:
    from accuracy import rel_errors

    errs, _ = rel_errors(vals, refs)
    return float(np.max(errs)), int((vals < 0).sum()), int(np.isnan(vals).sum())


def _eval_only(did: str, items: list[Any], fn: Callable[[Any, Any], Any]) -> tuple[A, None]:
    from accuracy import _signature
    from cases import SPECS, build_typed

    spec = SPECS[did]
    vals = np.empty(len(items))
    groups: dict[Any, list[int]] = {}
    for i, c in enumerate(items):
        groups.setdefault(_signature(c), []).append(i)
    for idx in groups.values():
        p = build_typed(spec.p, [items[i][0] for i in idx])
        q = build_typed(spec.q, [items[i][1] for i in idx])
        vals[idx] = np.asarray(fn(p, q), dtype=np.float64)
    return vals, None


def _fmt_acc(v: Any) -> str:
    if v is None:
        return "—"
    err, neg, nan = v
    s = f"{err:.1e}"
    if neg:
        s += f" ({neg} neg)"
    if nan:
        s += f" ({nan} NaN)"
    return s


def regions_table() -> list[tuple[str, str, int, float, int, int]]:
    """klproof's max relative error per pair and accuracy region (tests/numeric/cases.py)."""
    from accuracy import report
    from cases import REGIONS

    rows = []
    for did in sorted(NAIVE):
        for region in REGIONS:
            r = report(did, region, n=8, seed=20240611)
            if r.n:
                rows.append((did, region, r.n, r.max_rel_err, r.negatives, r.nans))
    return rows


def regions_markdown(rows: list[tuple[str, str, int, float, int, int]]) -> str:
    from cases import REGIONS

    by_pair: dict[str, dict[str, str]] = {}
    for did, region, _n, err, neg, nan in rows:
        cell = f"{err:.0e}" + (f" ({neg} neg)" if neg else "") + (f" ({nan} NaN)" if nan else "")
        by_pair.setdefault(did, {})[region] = cell
    lines = [
        "## klproof accuracy in every region",
        "",
        (
            "Max relative error (float64) against the mpmath references, measured against "
            "max(|ref|, smallest normal); blank = region not applicable to the pair. "
            "Regions as in tests/numeric/cases.py (8 random cases each plus pinned extremes)."
        ),
        "",
        "| pair | " + " | ".join(REGIONS) + " |",
        "|---|" + "---|" * len(REGIONS),
    ]
    for did, cells in by_pair.items():
        lines.append(f"| {did} | " + " | ".join(cells.get(r, "") for r in REGIONS) + " |")
    return "\n".join(lines) + "\n"


# -- markdown ------------------------------------------------------------------------------


def markdown(
    imp: tuple[float, float],
    rows: list[dict[str, Any]],
    val: list[tuple[str, float, float]],
    acc: list[dict[str, Any]],
    near: list[dict[str, Any]] | None = None,
) -> str:
    passes = max((len(r.get("pass_ratios") or []) for r in rows), default=1)
    lines = [
        "# Benchmark results",
        "",
        (
            "Generated by `python bench/run.py --markdown docs/benchmarks/results.md` "
            "(`nox -s bench`). Machine: 2-core AMD EPYC, float64, one process; PyTorch "
            f"{torch.__version__ if HAVE_TORCH else '(not installed)'} on CPU with one thread "
            "and `validate_args=False`; klproof with `validate=False`. Times are medians "
            "over interleaved repeats, each pair timed in a fresh interpreter with all its "
            "contenders side by side, in ns per element; ratios > 1 mean klproof is faster."
            + (
                f" The speed table is the median of {passes} passes over all the pairs, run "
                "one after the other (each contender's median over the passes); the "
                "torch/ours column gives the range over the passes in parentheses. This "
                "VM has slow spells of a few minutes (see *Page faults* below), which a "
                "single pass records as they fall."
                if passes > 1
                else ""
            )
        ),
        "",
        (
            f"`import klproof` costs {1e3 * (imp[1] - imp[0]):.0f} ms more than `import numpy` "
            f"({1e3 * imp[0]:.0f} ms vs {1e3 * imp[1]:.0f} ms, median of 7 fresh interpreters)."
        ),
        "",
        "## Speed",
        "",
        (
            "| pair | N | ours | naive | torch | floor | torch/ours | naive/ours | ours/floor "
            "| peak mem ours | peak mem naive | scipy |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = r["N"]
        sc = ", ".join(f"{k} {_fmt_ns(v, n).strip()}" for k, v in r["scipy"].items()) or "—"
        lines.append(
            f"| {r['pair']} | {n:.0e} | {_fmt_ns(r['ours'], n).strip()} | "
            f"{_fmt_ns(r['naive'], n).strip()} | {_fmt_ns(r['torch'], n).strip()} | "
            f"{_fmt_ns(r['floor'], n).strip()} | {_ratio_cell(r)} | "
            f"{_ratio(r['naive'], r['ours']).strip()} | {_ratio(r['ours'], r['floor']).strip()} "
            f"| {r['mem_ours']:.2f}× | {r['mem_naive']:.2f}× | {sc} |"
        )
    lines += [
        "",
        (
            "Peak memory is the peak NumPy allocation during the call divided by the size of "
            "the output array (so 1.00× is the output alone). The floor is one streaming read "
            "of every input byte plus one write of the output."
        ),
        "",
        PAGE_FAULT_NOTE,
        "",
        *(near_speed_markdown(near) if near else []),
        "## Validation cost",
        "",
        "| pair | N | validate=True | validate=False | overhead |",
        "|---|---|---|---|---|",
    ]
    for did, on, off in val:
        lines.append(
            f"| {did} | 1e7 | {1e3 * on:.0f} ms | {1e3 * off:.0f} ms | "
            f"{100 * (on / off - 1):+.0f}% |"
        )
    names = ["ours", "naive", "torch", "scipy.rel_entr", "scipy.kl_div"]
    lines += [
        "",
        "(construction of both distributions plus the KL).",
        "",
        "## Accuracy near the diagonal",
        "",
        (
            "Max relative error against 50-digit mpmath references over 40 random cases whose "
            "parameters differ by the stated relative amount (tests/numeric/cases.py); "
            "'neg' counts negative results."
        ),
        "",
        "| pair | region | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for r in acc:
        lines.append(
            f"| {r['pair']} | {r['region']} | "
            + " | ".join(_fmt_acc(r.get(k)) if k in r else "n/a" for k in names)
            + " |"
        )
    return "\n".join(lines) + "\n"


# -- JSON ----------------------------------------------------------------------------------

#: Version of the layout of results.json (docs/figures/benchmarks.py reads it).
JSON_SCHEMA = 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def metadata() -> dict[str, Any]:
    """When, where and with what the numbers were measured."""
    import mpmath
    import scipy

    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "bench/run.py", *sys.argv[1:]]),
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
        "versions": {
            "python": platform.python_version(),
            "klproof": klproof.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "torch": torch.__version__ if HAVE_TORCH else None,
            "mpmath": mpmath.__version__,
        },
        "settings": {
            "dtype": "float64",
            "threads": 1,
            "klproof": "validate=False",
            "torch": "CPU, validate_args=False, no_grad" if HAVE_TORCH else None,
        },
    }


def _number(x: float | None) -> float | None:
    """A JSON number: inf and NaN become null (their counts are recorded beside)."""
    return None if x is None or not math.isfinite(x) else float(x)


def _acc_json(v: tuple[float, int, int] | None) -> dict[str, Any] | None:
    if v is None:
        return None
    err, neg, nan = v
    return {
        "max_rel_err": _number(err),
        "finite": bool(math.isfinite(err)),
        "negatives": neg,
        "nans": nan,
    }


def _impl_names(row: dict[str, Any]) -> list[str]:
    return [k for k in row if k == "ours" or k in ("naive", "torch") or k.startswith("scipy.")]


def speed_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        seconds = {"ours": r["ours"], "naive": r["naive"], "torch": r["torch"], "floor": r["floor"]}
        seconds.update({f"scipy.{k}": v for k, v in r["scipy"].items()})

        def ratio(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a / b

        out.append(
            {
                "pair": r["pair"],
                "N": r["N"],
                "out_size": int(r["out_size"]),
                "seconds": seconds,
                "ns_per_element": {
                    k: None if v is None else 1e9 * v / r["N"] for k, v in seconds.items()
                },
                "ratios": {
                    "torch/ours": ratio(r["torch"], r["ours"]),
                    "naive/ours": ratio(r["naive"], r["ours"]),
                    "ours/floor": ratio(r["ours"], r["floor"]),
                },
                "peak_memory_over_output": {"ours": r["mem_ours"], "naive": r["mem_naive"]},
                "torch/ours per pass": r.get("pass_ratios"),
            }
        )
    return out


def near_speed_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Section 7's rows as measured (seconds per call; inf and NaN as null)."""
    return [{k: _number(v) if isinstance(v, float) else v for k, v in r.items()} for r in rows]


def validation_json(val: list[tuple[str, float, float]], n: int) -> list[dict[str, Any]]:
    return [
        {
            "pair": did,
            "N": n,
            "seconds_validate": on,
            "seconds_no_validate": off,
            "overhead": on / off - 1,
        }
        for did, on, off in val
    ]


def accuracy_json(acc: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "pair": r["pair"],
            "region": r["region"],
            "rel_diff": r["rel_diff"],
            "n": r["n"],
            "results": {k: _acc_json(r[k]) for k in _impl_names(r)},
        }
        for r in acc
    ]


def regions_json(rows: list[tuple[str, str, int, float, int, int]]) -> list[dict[str, Any]]:
    return [
        {
            "pair": did,
            "region": region,
            "n": n,
            "max_rel_err": _number(err),
            "finite": bool(math.isfinite(err)),
            "negatives": neg,
            "nans": nan,
        }
        for did, region, n, err, neg, nan in rows
    ]


#: What each section of results.json holds (written into the file for readers).
SECTION_NOTES = {
    "import": "seconds of `import numpy` and of `import klproof` (median of 7 interpreters)",
    "speed": (
        "median seconds per call (contenders interleaved); N counts scalar parameters; "
        "ratios > 1 in torch/ours and naive/ours mean klproof is faster; the floor is one "
        "streaming read of every input byte plus one write of the output; peak memory is "
        "the peak NumPy allocation during the call over the size of the output array"
    ),
    "validation": "construction of both distributions plus the KL, validate=True vs False",
    "accuracy": (
        "max relative error against 50-digit mpmath references over n random cases whose "
        "parameters differ by rel_diff (tests/numeric/cases.py); negatives and NaNs counted; "
        "max_rel_err is null when a result was inf or NaN where the KL is finite"
    ),
    "curve": "as accuracy, at relative parameter differences 1e-1 ... 1e-14",
    "regions": "klproof's max relative error in every region of tests/numeric/cases.py",
    "near_speed": (
        "median seconds per call, klproof and PyTorch, where q's parameters are p's moved "
        "by up to rel_diff (relatively; locations absolutely); N = 1e6, one process"
    ),
}


def write_json(path: Path, sections: dict[str, Any], only: list[str]) -> None:
    """Update ``path`` with the measured ``sections`` (others are kept as they were).

    A section of a run restricted with ``--only`` replaces just the rows of the pairs
    it measured.
    """
    data: dict[str, Any] = {}
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != JSON_SCHEMA:
            data = {}
    data["schema"] = JSON_SCHEMA
    data["about"] = (
        "klproof benchmark results, written by bench/run.py (nox -s bench); the docs "
        "draw their accuracy and speed plots from this file"
    )
    old = data.get("sections", {})
    meta = metadata()
    for name, value in sections.items():
        entry = {"note": SECTION_NOTES[name], "meta": meta, "data": value}
        previous = old.get(name)
        if only and isinstance(value, list) and previous is not None:
            measured = {row["pair"] for row in value}
            kept = [row for row in previous["data"] if row["pair"] not in measured]
            entry["data"] = sorted(
                kept + value,
                key=lambda row: (row["pair"], row.get("N", 0), row.get("rel_diff") or 0),
            )
            entry["meta"] = {**meta, "pairs_updated": sorted(measured)}
        old[name] = entry
    data["sections"] = {k: old[k] for k in SECTION_NOTES if k in old}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    print(f"wrote {path} ({', '.join(sections)})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="*", type=float, default=[1e6, 1e7])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", nargs="*", default=[])
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument(
        "--markdown",
        type=Path,
        default=ROOT / "docs" / "benchmarks" / "results.md",
        help="where to write the results table (rendered by the docs)",
    )
    ap.add_argument("--no-markdown", action="store_true", help="print only")
    ap.add_argument(
        "--json",
        type=Path,
        default=ROOT / "docs" / "benchmarks" / "results.json",
        help="machine-readable results, updated section by section (the docs plot them)",
    )
    ap.add_argument("--no-json", action="store_true", help="do not update the JSON file")
    ap.add_argument(
        "--no-isolate",
        action="store_true",
        help="time every pair in this process (default: each pair in a fresh interpreter)",
    )
    ap.add_argument(
        "--passes",
        type=int,
        default=3,
        help="passes of the speed section over all pairs (each pair in a fresh interpreter "
        "each time); the table takes each contender's median over the passes",
    )
    ap.add_argument("--speed-rows-json", type=Path, help=argparse.SUPPRESS)  # child of isolate
    ap.add_argument(
        "--regions-only", action="store_true", help="only the per-region accuracy table"
    )
    ap.add_argument(
        "--curve-only",
        action="store_true",
        help="fast mode: only the near-diagonal error curve (Normal, Gamma, Beta, Categorical)",
    )
    args = ap.parse_args(argv)
    if args.speed_rows_json:  # one isolated pair (see speed): rows only, as JSON
        sizes = [int(v) for v in args.sizes]
        rows = speed(sizes, args.repeats, args.only, exact=True)
        args.speed_rows_json.write_text(json.dumps(rows), encoding="utf-8")
        return 0
    if args.no_markdown or args.only or args.skip_accuracy or args.curve_only:
        args.markdown = None  # a partial run must not overwrite the full table
    if args.no_json:
        args.json = None
    if args.curve_only:
        pairs = tuple(d for d in CURVE_PAIRS if not args.only or any(o in d for o in args.only))
        curve = accuracy_curve(pairs)
        if args.json:
            write_json(args.json, {"curve": accuracy_json(curve)}, args.only)
        return 0
    if args.regions_only:
        region_rows = regions_table()
        text = regions_markdown(region_rows)
        print(text)
        if args.markdown:
            args.markdown.write_text(text, encoding="utf-8")
        if args.json:
            write_json(args.json, {"regions": regions_json(region_rows)}, args.only)
        return 0
    if not HAVE_TORCH:
        print("torch not installed: PyTorch columns are skipped (nox -s bench installs it)")
    imp = import_cost()
    print(
        f"import numpy {1e3 * imp[0]:.1f} ms, import klproof {1e3 * imp[1]:.1f} ms "
        f"(+{1e3 * (imp[1] - imp[0]):.1f} ms)",
        flush=True,
    )
    rows = speed(
        [int(s) for s in args.sizes],
        args.repeats,
        args.only,
        isolate=not args.no_isolate,
        passes=args.passes if not args.no_isolate else 1,
    )
    n_val = int(max(args.sizes))
    val = validation_cost(n_val)
    near = near_speed(10**6, args.repeats, args.only)
    sections: dict[str, Any] = {
        "import": {"numpy": imp[0], "klproof": imp[1]},
        "speed": speed_json(rows),
        "validation": validation_json(val, n_val),
        "near_speed": near_speed_json(near),
    }
    acc: list[dict[str, Any]] = []
    regions = ""
    if not args.skip_accuracy:
        acc = accuracy()
        sections["accuracy"] = accuracy_json(acc)
        if not args.only:
            curve_rows = accuracy_curve()
            sections["curve"] = accuracy_json(curve_rows)
            region_rows = regions_table()
            sections["regions"] = regions_json(region_rows)
            regions = regions_markdown(region_rows)
    if args.json:
        write_json(args.json, sections, args.only)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(
            markdown(imp, rows, val, acc, near) + "\n" + regions, encoding="utf-8"
        )
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
