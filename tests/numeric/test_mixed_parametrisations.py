"""KL between a distribution given by logits and one given by probabilities.

Near the diagonal the rounding of the logits side to probabilities decides such KLs
(2 % errors for Bernoulli at relative differences 1e-9; 636 of 800 Categorical rows off
by more than 1e-12); :mod:`klproof.numeric._mixed` redoes those rows in double-double.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from accuracy import _dps, rel_errors
from references import reference_kl

import klproof.numeric as kn
from klproof.numeric import _mixed as MX


def _softmax_mp(a: np.ndarray) -> list[mp.mpf]:
    with mp.workdps(80):
        e = [mp.exp(mp.mpf(float(x))) for x in a]
        s = mp.fsum(e)
        return [x / s for x in e]


def _near_probs(rng: np.random.Generator, exact: list[mp.mpf], rel: float) -> np.ndarray:
    """Probabilities within ``rel`` (relative) of ``exact``, rounded to float64."""
    k = len(exact)
    return np.array([float(x) for x in exact]) * (1.0 + rel * rng.normal(size=k))


@pytest.mark.parametrize("logits_first", [True, False])
def test_categorical_near_diagonal(logits_first: bool) -> None:
    """Relative differences 1e-12 ... 1e-2, K = 3, 5, 10: within 1e-12 (measured 3.6e-15)."""
    rng = np.random.default_rng(11 if logits_first else 12)
    logits, probs = [], []
    for i in range(60):
        k = (3, 5, 10)[i % 3]
        a = rng.normal(0.0, (1.0, 5.0, 20.0)[i % 3 - 1], k)
        logits.append(a)
        probs.append(_near_probs(rng, _softmax_mp(a), 10.0 ** rng.uniform(-12, -2)))
    for a, q in zip(logits, probs, strict=True):
        lg, pr = kn.Categorical(logits=a), kn.Categorical(probs=q, validate=False)
        pa, qb = {"logits": a.tolist()}, {"probs": q.tolist()}
        if not logits_first:
            lg, pr, pa, qb = pr, lg, qb, pa
        ours = np.atleast_1d(np.asarray(kn.kl_divergence(lg, pr)))
        ref = reference_kl("kl/categorical/categorical", pa, qb, dps=_dps(pa, qb) + 40)
        errs, mismatch = rel_errors(ours, [ref])
        assert mismatch == 0
        assert errs.max() <= 1e-12, (a.tolist(), q.tolist(), errs)


@pytest.mark.parametrize("pair", ["bernoulli", "binomial", "geometric"])
@pytest.mark.parametrize("logits_first", [True, False])
def test_bernoulli_family_near_diagonal(pair: str, logits_first: bool) -> None:
    """Logits in [-30, 30], probabilities within 1e-12 ... 1e-2 of sigmoid (vectorised)."""
    rng = np.random.default_rng(21 + logits_first)
    n = 80
    ell = rng.uniform(-30.0, 30.0, n)
    with mp.workdps(80):
        sig = [1 / (1 + mp.exp(-mp.mpf(float(x)))) for x in ell]
    rel = 10.0 ** rng.uniform(-12, -2, n)
    prob = np.array([float(s) for s in sig]) * (1.0 + rel * rng.choice([-1.0, 1.0], n))
    prob = np.clip(prob, 1e-300, 1.0 - 2.0**-53)
    cls = {"bernoulli": kn.Bernoulli, "binomial": kn.Binomial, "geometric": kn.Geometric}[pair]
    extra = {"total_count": np.full(n, 7.0)} if pair == "binomial" else {}
    lg, pr = cls(logits=ell, **extra), cls(probs=prob, **extra)
    if not logits_first:
        lg, pr = pr, lg
    ours = np.asarray(kn.kl_divergence(lg, pr))
    refs = []
    for x, p in zip(ell, prob, strict=True):
        pa: dict[str, object] = {"logits": float(x)}
        qb: dict[str, object] = {"probs": float(p)}
        if pair == "binomial":
            pa["total_count"] = qb["total_count"] = 7.0
        if not logits_first:
            pa, qb = qb, pa
        refs.append(reference_kl(f"kl/{pair}/{pair}", pa, qb, dps=_dps(pa, qb) + 40))
    errs, mismatch = rel_errors(ours, refs)
    assert mismatch == 0
    assert errs.max() <= 1e-12, errs.max()


def test_mixed_support_mismatch_and_zero_atoms() -> None:
    """q = 0 where p > 0 is +inf; atoms where p = 0 add q (0 log 0 = 0)."""
    a = np.array([0.0, 1.0, -np.inf])
    q = np.array([0.2, 0.8, 0.0])
    assert kn.kl_divergence(kn.Categorical(logits=a), kn.Categorical(probs=q)) > 0
    bad = np.array([0.0, 1.0, 0.0])
    assert np.isposinf(kn.kl_divergence(kn.Categorical(logits=a), kn.Categorical(probs=bad)))
    sm = np.exp(a - np.log(np.exp(a[:2]).sum()))
    val = kn.kl_divergence(kn.Categorical(probs=sm), kn.Categorical(logits=a))
    assert 0.0 <= float(val) <= 1e-30


def test_double_double_logs() -> None:
    """log_dd, log_softmax_dd and log_probs_dd to 1e-30 absolute against 80-digit mpmath."""
    rng = np.random.default_rng(5)
    x = np.concatenate([10.0 ** rng.uniform(-300, 300, 50), 1.0 + rng.normal(0, 1e-9, 10)])
    hi, lo = MX.log_dd((x, np.zeros_like(x)))
    a = rng.normal(0.0, 20.0, (20, 6))
    ls = MX.log_softmax_dd(a)
    q = rng.random((20, 6))
    lq = MX.log_probs_dd((q, np.zeros_like(q)))
    with mp.workdps(80):
        for xi, h, low in zip(x, hi, lo, strict=True):
            assert abs(mp.mpf(h) + mp.mpf(low) - mp.log(mp.mpf(xi))) <= 1e-30 * max(
                1.0, abs(float(h))
            )
        for row, lh, ll in zip(a, ls[0], ls[1], strict=True):
            big = [mp.mpf(float(v)) for v in row]
            lz = mp.log(mp.fsum(mp.exp(v) for v in big))
            for v, h, low in zip(big, lh, ll, strict=True):
                assert abs(mp.mpf(h) + mp.mpf(low) - (v - lz)) <= 1e-30 * max(1.0, abs(float(h)))
        for row, lh, ll in zip(q, lq[0], lq[1], strict=True):
            vals = [mp.mpf(float(v)) for v in row]
            lz = mp.log(mp.fsum(vals))
            for v, h, low in zip(vals, lh, ll, strict=True):
                assert abs(mp.mpf(h) + mp.mpf(low) - (mp.log(v) - lz)) <= 1e-30 * max(
                    1.0, abs(float(h))
                )
