"""The wide-row Dirichlet kernel: its pieces H and W, and rows spanning many decades."""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
import pytest

import klproof
from klproof.numeric import _dirichlet_wide as DW

_GRID = [1e-150, 1e-40, 1e-3, 0.2, 0.9, 1.0, 1.3, 7.5, 13.0, 1e3, 1e40, 1e150]
_PAIRS = [
    (x, x * f)
    for x, f in itertools.product(_GRID, [1e-300, 1e-20, 0.1, 0.7, 0.999, 1.001, 1.5, 30.0, 1e20])
    if 1e-150 <= x * f <= 1e150
]


def _h_ref(x: float, y: float) -> mp.mpf:
    a, b = mp.mpf(x), mp.mpf(y)
    return (a - b) * mp.digamma(a) - mp.loggamma(a) + mp.loggamma(b) - b * mp.log(b / a) + b - a


def _w_ref(x: float, y: float) -> mp.mpf:
    a, b = mp.mpf(x), mp.mpf(y)
    u = a * a * mp.psi(1, a) - a
    return (b / a - 1) * u - b * (mp.digamma(b) - mp.digamma(a) - mp.log(b / a))


def test_gamma_unit_kl() -> None:
    """H(x, y) = KL(Gamma(x, x) || Gamma(y, y)) to 1e-13 relative (ratios 1e-300 ... 1e20)."""
    x, y = (np.array(v) for v in zip(*_PAIRS, strict=True))
    with np.errstate(all="ignore"):
        h = DW.gamma_unit_kl(x, y)
    with mp.workdps(400):
        for i in range(x.size):
            r = _h_ref(x[i], y[i])
            assert abs(h[i] - r) <= 1e-13 * abs(r), (x[i], y[i], h[i], float(r))


def test_w() -> None:
    """W(X, Y) >= 0 to 1e-15 of |rho - 1| / min(X, 1) (its parts) plus of min(Y, 10) (nu's)."""
    x, y = (np.array(v) for v in zip(*_PAIRS, strict=True))
    with np.errstate(all="ignore"):
        w = DW._w(x, y)
    with mp.workdps(400):
        for i in range(x.size):
            r = _w_ref(x[i], y[i])
            scale = max(abs(y[i] / x[i] - 1.0), 1e-300) * max(1.0, 1.0 / x[i])
            assert w[i] >= 0.0
            tol = 1e-15 * (scale + min(y[i], 10.0)) + 1e-13 * abs(r)
            assert abs(w[i] - r) <= tol, (x[i], y[i], w[i], float(r))


def _kl_ref(x: list[float], y: list[float]) -> mp.mpf:
    with mp.workdps(700):
        a, b = [mp.mpf(v) for v in x], [mp.mpf(v) for v in y]
        a0, b0 = sum(a), sum(b)
        v = mp.loggamma(a0) - mp.loggamma(b0)
        v += sum(mp.loggamma(t) for t in b) - sum(mp.loggamma(t) for t in a)
        return v + sum(
            (s - t) * (mp.digamma(s) - mp.digamma(a0)) for s, t in zip(a, b, strict=True)
        )


@pytest.mark.parametrize(
    ("x", "y"),
    [
        # B = 7.39 dominates both sums: phi(y_B/x_B) - phi(y0/x0) cancelled (half the KL)
        ([3.9e-50, 7.39, 2.2e-111], [1.97, 1.76e149, 19.14]),
        # K = 5, one component dominating, the others at both extremes
        ([1e-120, 3e100, 2e-30, 0.5, 7e80], [4e-90, 2e140, 1e-150, 3.0, 1e100]),
        # no dominant component (the difference H(x_B, y_B) - H(x0, y0) taken directly)
        ([1e-100, 1e100, 1e100, 2.0], [1e-90, 3e100, 1e99, 1e-5]),
        # components equal but for the dominant one: a tiny KL
        ([1e-100, 1e-50], [1e-100, 1e-40]),
        ([1e-100, 1e100], [1e-100, 2e100]),
    ],
)
def test_wide_rows(x: list[float], y: list[float]) -> None:
    """Rows spanning many decades, through kl_divergence, to 1e-13 relative."""
    with np.errstate(all="ignore"):
        v = float(np.asarray(klproof.kl_divergence(klproof.Dirichlet(x), klproof.Dirichlet(y))))
    r = _kl_ref(x, y)
    assert abs(v - r) <= 1e-13 * abs(r), (v, float(r))
