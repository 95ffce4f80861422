"""The Gamma block kernels' pieces: mu'' (MU2_COEF and the recurrence) and its Bregman quadrature."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import klproof
from klproof.numeric import _gamma_kernels as G


def _mu2_ref(x: float) -> mp.mpf:
    with mp.workdps(60):
        a = mp.mpf(x)
        return mp.psi(1, a) - 1 / a - 1 / (2 * a * a)


def _bregman_ref(x: float, d: float) -> mp.mpf:
    def mu(t: mp.mpf) -> mp.mpf:
        return mp.loggamma(t) - (t - mp.mpf(1) / 2) * mp.log(t) + t - mp.log(2 * mp.pi) / 2

    def dmu(t: mp.mpf) -> mp.mpf:
        return mp.digamma(t) - mp.log(t) + 1 / (2 * t)

    with mp.workdps(80):
        a, b = mp.mpf(x), mp.mpf(d)
        return mu(a + b) - mu(a) - b * dmu(a)


@pytest.mark.parametrize("y", [*np.linspace(8.0, 40.0, 65), 55.5, 1e2, 1e3, 1e4, 1e6])
def test_mu2_polynomial(y: float) -> None:
    """r(u)/Y^3 = mu''(Y) on Y >= 8 to 1e-16 relative (MU2_COEF, evaluated exactly).

    The fit's own error (5.6e-17 at worst); the float evaluation is mu2's test.
    """
    ref = _mu2_ref(y)
    with mp.workdps(40):
        u = 1 / mp.mpf(y) ** 2
        acc = mp.mpf(0)
        for c in G.MU2_COEF[::-1]:
            acc = acc * u + mp.mpf(c)
        assert abs(acc * u / mp.mpf(y) / ref - 1) <= 1e-16


def test_mu2_against_mpmath() -> None:
    """mu2 to a few ulp relative on [1e-150, 1e6], around the shift at 8 and at chunk joins.

    Every term is positive (module docstring): measured 8.1e-16 at worst.
    """
    xs = np.concatenate(
        [
            np.geomspace(1e-150, 1e-3, 25),
            np.geomspace(1e-3, 1e6, 400),
            np.linspace(7.5, 8.5, 41),
            [np.nextafter(8.0, 0.0), 8.0, np.nextafter(8.0, 9.0)],
        ]
    )
    # longer than a chunk: the joins between chunks are crossed
    big = np.tile(xs, G.MU2_CHUNK // xs.size + 2)
    vals = G.mu2(big)
    assert vals.shape == big.shape
    np.testing.assert_array_equal(vals[: xs.size], vals[-xs.size :])
    with mp.workdps(40):
        worst = max(abs(mp.mpf(v) / _mu2_ref(x) - 1) for x, v in zip(xs, vals, strict=False))
    assert worst <= 2e-15


@pytest.mark.parametrize("bound", [1e-3, 0.01, 0.03, 0.1, 0.25])
def test_bregman_mu_fast_at_rule_bounds(bound: float) -> None:
    """The quadrature with each node count at the largest |d/x| it serves (and 1/4).

    Measured against 80-digit mpmath: at most 7.7e-16 relative (the rounding of the
    positive integrand); one node fewer is 2e-14 to 1.4e-11 off at these bounds.
    """
    rng = np.random.default_rng(7)
    x = np.exp(rng.uniform(np.log(1e-3), np.log(1e6), 60))
    x[:20] = rng.uniform(6.0, 12.0, 20)  # around the shift
    x[20:30] = rng.uniform(1e-3, 1e-2, 10)
    d = x * bound * (1.0 - 1e-12) * rng.choice([-1.0, 1.0], x.size)
    vals = G.bregman_mu_fast(x, d)
    with mp.workdps(40):
        worst = max(
            abs(mp.mpf(v) / _bregman_ref(a, b) - 1) for a, b, v in zip(x, d, vals, strict=True)
        )
    assert worst <= 2e-15


def test_bregman_mu_fast_mixed_classes() -> None:
    """Rows of every node class in one call come back in their own places."""
    rng = np.random.default_rng(8)
    x = np.exp(rng.uniform(np.log(1e-3), np.log(1e4), 40))
    ratio = np.array([1e-6, 5e-4, 5e-3, 0.02, 0.07, 0.2, 0.0, 0.24] * 5)
    d = x * ratio * rng.choice([-1.0, 1.0], x.size)
    vals = G.bregman_mu_fast(x, d)
    one_by_one = np.array([G.bregman_mu_fast(x[i : i + 1], d[i : i + 1])[0] for i in range(x.size)])
    # the weighted sums over the nodes go through BLAS, whose order of summation depends
    # on the number of rows: an ulp apart, not bit for bit
    np.testing.assert_allclose(vals, one_by_one, rtol=1e-15, atol=0.0)
    assert np.all(vals[ratio == 0.0] == 0.0)
    assert np.all(vals[ratio > 0.0] > 0.0)


def test_near_mode_blocks_and_generic_elements_after_them() -> None:
    """A stretch of near-diagonal Gamma pairs, then generic ones, then near ones again.

    After a block with 3/4 of its elements flagged, run_deferred sends the next blocks
    straight to the careful kernel (releasing the fast block's scratch) until a re-test;
    generic elements met in that mode are the careful kernel's too. Every element must
    equal its value computed alone (to the last bits of BLAS sums in the quadrature).
    """
    rng = np.random.default_rng(13)
    n = 300_000
    a1 = np.exp(rng.uniform(np.log(0.05), np.log(20.0), n))
    b1 = np.exp(rng.uniform(np.log(0.05), np.log(20.0), n))
    a2 = np.exp(rng.uniform(np.log(0.05), np.log(20.0), n))
    b2 = np.exp(rng.uniform(np.log(0.05), np.log(20.0), n))
    for lo, hi in ((0, 100_000), (250_000, n)):
        a2[lo:hi] = a1[lo:hi] * (1 + 1e-6 * rng.uniform(-1, 1, hi - lo))
        b2[lo:hi] = b1[lo:hi] * (1 + 1e-6 * rng.uniform(-1, 1, hi - lo))
    p, q = klproof.Gamma(a1, b1), klproof.Gamma(a2, b2)
    batch = klproof.kl_divergence(p, q)
    assert (batch >= 0).all()
    pick = np.concatenate([rng.choice(n, 60, replace=False), [99_999, 100_000, 100_001]])
    alone = np.array(
        [
            klproof.kl_divergence(klproof.Gamma(a1[i], b1[i]), klproof.Gamma(a2[i], b2[i]))
            for i in pick
        ]
    )
    np.testing.assert_allclose(batch[pick], alone, rtol=1e-13, atol=0.0)
