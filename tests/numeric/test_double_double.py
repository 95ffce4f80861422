"""Double-double sigmoid and the Bernoulli(logits) -> Poisson difference it serves.

The numeric claims of :mod:`klproof.numeric._dd` (constants, the relative error bound
``REL_ERR`` of the double-double sigmoid) and the accuracy of KL(Bernoulli(logits) ||
Poisson(rate)) where the rate is sigmoid(logits) rounded -- the region that was a known
gap of the property suite (logits below -30, 0.34 relative error at worst).
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
import pytest

import klproof
from klproof.numeric import _dd
from klproof.numeric import kl as kl_mod
from klproof.testing._reference import pair_reference, to_float


def _logits(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            -rng.uniform(0.0, 745.0, n),
            -rng.uniform(0.0, 40.0, n),
            -(10.0 ** rng.uniform(-20.0, 0.0, n // 4)),
            [0.0, -745.0, -744.4, -708.4, -0.34657359, -math.log(2.0) / 2],
        ]
    )


def _mp_sigmoid(x: float) -> Any:
    return 1 / (1 + mpmath.exp(-mpmath.mpf(x)))


def test_ln2_pieces() -> None:
    with mpmath.workdps(60):
        total = mpmath.mpf(_dd.LN2_HI) + mpmath.mpf(_dd.LN2_MID) + mpmath.mpf(_dd.LN2_LO)
        assert abs(total - mpmath.log(2)) < mpmath.mpf(2) ** -140
    for piece in (_dd.LN2_HI, _dd.LN2_MID):  # 42 significant bits: k * piece is exact
        mant, _ = math.frexp(piece)
        assert (mant * 2**42).is_integer()


def test_inverse_factorials() -> None:
    with mpmath.workdps(50):
        for n, (hi, lo) in enumerate(_dd._INV_FACT, 1):
            err = abs((mpmath.mpf(hi) + mpmath.mpf(lo)) * mpmath.factorial(n) - 1)
            assert err < 1e-32, n


def test_sigmoid_within_its_stated_bound() -> None:
    x = _logits(0, 1000)
    (hi, lo), k = _dd.sigmoid_scaled(x)
    (ehi, elo), ek = _dd.exp_scaled(x)
    with mpmath.workdps(60):
        worst = max(
            abs(
                (mpmath.mpf(float(hi[i])) + mpmath.mpf(float(lo[i])))
                * mpmath.mpf(2) ** int(k[i])
                / _mp_sigmoid(float(x[i]))
                - 1
            )
            for i in range(x.size)
        )
        worst_exp = max(
            abs(
                (mpmath.mpf(float(ehi[i])) + mpmath.mpf(float(elo[i])))
                * mpmath.mpf(2) ** int(ek[i])
                / mpmath.exp(mpmath.mpf(float(x[i])))
                - 1
            )
            for i in range(x.size)
        )
    assert worst <= _dd.REL_ERR
    assert worst_exp <= _dd.REL_ERR


def test_sigmoid_minus_error_bound_holds() -> None:
    """The difference from the rounded sigmoid, its neighbours and rates 1e-12 off."""
    x = _logits(1, 300)
    x = x[x < -1.0]
    lam = np.array([float(_mp_sigmoid(v)) for v in x])
    for rate in (lam, np.nextafter(lam, 0.0), lam * (1.0 + 1e-12)):
        d, rel = _dd.sigmoid_minus(x, rate)
        with mpmath.workdps(80):
            for i in range(x.size):
                true = _mp_sigmoid(float(x[i])) - mpmath.mpf(float(rate[i]))
                bound = rel[i] * abs(true) + mpmath.mpf(2) ** -1075  # subnormal rounding
                assert abs(mpmath.mpf(float(d[i])) - true) <= bound, (x[i], rate[i])


def test_sigmoid_minus_mp_is_correctly_rounded() -> None:
    x = np.array([-89.96054265853793, -80.2639303891023, -700.0, -30.5])
    lam = np.array([float(_mp_sigmoid(v)) for v in x])
    d = _dd.sigmoid_minus_mp(x, lam)
    with mpmath.workdps(200):
        for i in range(x.size):
            true = _mp_sigmoid(float(x[i])) - mpmath.mpf(float(lam[i]))
            assert float(d[i]) == float(true)


def _stress(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits in [-745, -1], rates at sigmoid rounded, one ulp off, or 1e-18 ... 1e-2 off."""
    rng = np.random.default_rng(seed)
    ells, lams = [], []
    for _ in range(n):
        ell = -(10.0 ** rng.uniform(0.0, math.log10(745.0)))
        with mpmath.workdps(50):
            sig = _mp_sigmoid(ell)
            kind = int(rng.integers(3))
            if kind == 0:
                lam = float(sig)
            elif kind == 1:
                lam = float(np.nextafter(float(sig), float(rng.choice([0.0, 1.0]))))
            else:
                rel = mpmath.mpf(10) ** rng.uniform(-18.0, -2.0) * int(rng.choice([-1, 1]))
                lam = float(sig * (1 + rel))
        if lam > 0.0:
            ells.append(ell)
            lams.append(lam)
    return np.array(ells), np.array(lams)


def test_bernoulli_logits_poisson_near_sigmoid(monkeypatch: pytest.MonkeyPatch) -> None:
    """<= 1e-12 where the rate is sigmoid(logits) to a few ulp (0.34 before double-double)."""
    ells, lams = _stress(3, 600)
    calls: list[int] = []
    exact = _dd.sigmoid_minus_mp

    def counting(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        calls.append(a.size)
        return exact(a, b)

    monkeypatch.setattr(kl_mod.DDA, "sigmoid_minus_mp", counting)
    kl = np.asarray(klproof.kl_divergence(klproof.Bernoulli(logits=ells), klproof.Poisson(lams)))
    assert not np.isnan(kl).any()
    assert (kl >= 0).all()
    ref = pair_reference("kl/bernoulli/poisson")
    for i in range(ells.size):
        r = to_float(ref.evaluate({"logits": ells[i]}, {"rate": lams[i]}))
        err = abs(kl[i] - r) / max(abs(r), float(np.finfo(np.float64).tiny))
        assert err <= 1e-12, (ells[i], lams[i], kl[i], r, err)
    # the mpmath rows (rates within ~1e-18 of sigmoid, logits below ~-78) were exercised
    assert sum(calls) > 0
