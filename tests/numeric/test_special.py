"""Shared numeric helpers of ``klproof.numeric._special``.

The close-rate atanh form, the row folds and reductions of the block kernels and their
outputs without NumPy's huge-page hint.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import mpmath as mp
import numpy as np
import pytest

from klproof.numeric import _special as S


def _ref(r1: float, r2: float) -> mp.mpf:
    with mp.workdps(60):
        a, b = mp.mpf(r1), mp.mpf(r2)
        return a * mp.log(a / b) - a + b


def test_rate_k_near_matches_mpmath() -> None:
    """r1 log(r1/r2) - r1 + r2 for close rates, 1e-300 to 1e300, to a few ulp.

    Ratios from 1 + 1e-15 up to the form's bound |s| = 0.081 on both sides; measured at
    most 6.7e-16 relative.
    """
    rng = np.random.default_rng(4)
    n = 400
    r2 = np.exp(rng.uniform(np.log(1e-300), np.log(1e300), n))
    s = np.exp(rng.uniform(np.log(1e-15), np.log(S.ATANH_S_MAX), n)) * rng.choice([-1, 1], n)
    s[:4] = [S.ATANH_S_MAX, -S.ATANH_S_MAX, 0.0, 1e-300]
    r1 = r2 * (1 + s) / (1 - s)
    out, tmp = np.empty(n), np.empty(n)
    with np.errstate(all="ignore"):
        ok = S.rate_k_near_into(r1, r2, out, tmp)
    # rounding of r1 may put the bound's own rows a hair outside
    assert ok[2:].all()
    assert (out[ok] >= 0).all()
    with mp.workdps(60):
        errs = [
            abs(mp.mpf(v) - _ref(a, b)) / max(_ref(a, b), mp.mpf(1e-300))
            for a, b, v, k in zip(r1, r2, out, ok, strict=True)
            if k
        ]
    assert max(errs) <= 2e-15
    assert out[2] == 0.0


def test_rate_k_near_flags_what_it_does_not_cover() -> None:
    """Rates far apart, zero, NaN and overflowing sums come back flagged.

    And where fewer than a quarter of the elements are close, all are (the caller's
    general form then serves every element: the series is not formed).
    """
    close = 1.0 + 1e-3 * np.arange(1, 13)
    r1 = np.concatenate([close, [1.2, 0.0, 1.0, np.nan, np.inf, 1.5e308]])
    r2 = np.concatenate([np.ones(12), [1.0, 1.0, 0.0, 1.0, 1.0, 1.5e308]])
    out, tmp = np.empty(18), np.empty(18)
    with np.errstate(all="ignore"):
        ok = S.rate_k_near_into(r1, r2, out, tmp)
        assert ok.tolist() == [True] * 12 + [False] * 6
        mostly_far = S.rate_k_near_into(r1[11:], r2[11:], out[11:], tmp[11:])
        # the probe of the first 64 elements: 40 far ones first, then close ones
        probe_r1 = np.concatenate([np.full(40, 2.0), np.full(60, 1.001)])
        probed = S.rate_k_near_into(probe_r1, np.ones(100), np.empty(100), np.empty(100))
    assert not mostly_far.any()
    assert not probed.any()


def test_atanh_terms_cover_their_range() -> None:
    """The first term left out stays below 2^-60 of B; 9 terms at the bound."""
    for s_max in (0.0, 1e-12, 1e-6, 1e-3, 0.01, 0.05, S.ATANH_S_MAX):
        n = S.atanh_terms(s_max)
        assert 2 <= n <= len(S.ATANH_B)
        if n < len(S.ATANH_B):
            assert 3.0 * s_max ** (2 * n) / (2 * n + 3) <= 2.0**-60
    assert S.atanh_terms(float("nan")) == len(S.ATANH_B)


def test_rm1mlog_near_the_diagonal_matches_mpmath() -> None:
    """r - 1 - log r where most |d| are small (the atanh branch), to a few ulp.

    Blocks of moves up to 1e-8, 1e-3 and 0.2 (the last a fifth of the elements, with
    some past the atanh form's 0.15, which take d - log1p(d): ~13 ulp there); measured
    at most 6.1e-16 relative (1.2e-15 with the d - log1p(d) elements).
    """
    rng = np.random.default_rng(9)
    worst = mp.mpf(0)
    for spread in (1e-8, 1e-3, 0.2):
        d = spread * rng.uniform(-1, 1, 300)
        if spread > 0.15:
            d[60:] *= 1e-3  # still mostly small: the atanh branch
        d[:3] = [0.0, spread, -spread]
        den = np.exp(rng.uniform(-5, 5, 300))
        num = den * (1 + d)
        d = (num - den) / den
        out, tmp = np.empty(300), np.empty(300)
        with np.errstate(all="ignore"):
            S.rm1mlog_into(d, num, den, out, tmp)
        assert out[0] == 0.0
        with mp.workdps(60):
            for x, v in zip(d[1:], out[1:], strict=True):
                r = 1 + mp.mpf(x)
                ref = r - 1 - mp.log(r)
                worst = max(worst, abs(mp.mpf(v) - ref) / ref)
    assert worst <= 5e-15


def test_fold_rows_into_is_the_reduction_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    for op in (np.add, np.multiply):
        for rows in (1, 2, 3, 5, 6, 9):
            x = rng.uniform(0.1, 10.0, (rows, 257))
            out = np.empty(257)
            S.fold_rows_into(op, x, out)
            assert np.array_equal(out, op.reduce(x, axis=0))
            # and on row views of a larger stack, as the Beta kernel calls it
            stack = rng.uniform(0.1, 10.0, (rows + 2, 300))
            view_out = stack[0, :257]
            S.fold_rows_into(op, stack[2:, :257], view_out)
            assert np.array_equal(view_out, op.reduce(stack[2:, :257], axis=0))


def test_row_reduce_is_the_last_axis_reduction() -> None:
    rng = np.random.default_rng(4)
    for k in (1, 2, 3, 7, 17):
        x = rng.uniform(-5.0, 5.0, (301, k))
        x[7, 0] = np.nan  # propagates as in the reduction
        for op in (np.maximum, np.minimum, np.add):
            assert np.array_equal(S.row_reduce(op, x), op.reduce(x, axis=-1), equal_nan=True)
        b = x > 0.0
        assert np.array_equal(S.row_reduce(np.logical_or, b), b.any(-1))
        assert np.array_equal(S.row_reduce(np.logical_and, b), b.all(-1))


def _hugepage_setting() -> bool:
    """NumPy's current huge-page hint (read by setting it and setting it back)."""
    switch = S._HUGEPAGE_SWITCH
    assert switch is not None
    now = switch(True)
    switch(now)
    return bool(now)


def test_empty_small_pages_is_an_empty_array_and_restores_numpys_setting() -> None:
    before = _hugepage_setting()
    a = S.empty_small_pages((3, 1 << 20))
    assert a.shape == (3, 1 << 20)
    assert a.dtype == np.float64
    assert a.flags.c_contiguous
    assert a.flags.owndata
    assert a.flags.writeable
    b = S.empty_small_pages(5, np.float32)
    assert b.shape == (5,)
    assert b.dtype == np.float32
    assert _hugepage_setting() == before


def test_empty_small_pages_restores_the_setting_under_threads() -> None:
    switch = S._HUGEPAGE_SWITCH
    assert switch is not None
    for start in (True, False):
        previous = switch(start)
        try:

            def work() -> None:
                for _ in range(200):
                    S.empty_small_pages(1 << 19)

            threads = [threading.Thread(target=work) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert _hugepage_setting() is start
        finally:
            switch(previous)


def test_empty_small_pages_without_numpys_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S, "_HUGEPAGE_SWITCH", None)
    a = S.empty_small_pages((4, 2), np.float32)
    assert a.shape == (4, 2)
    assert a.dtype == np.float32


#: run in a fresh interpreter: in a long-lived process malloc may place an array below
#: its mmap threshold (at most 32 MB) in heap memory an earlier NumPy array was hinted for
_SMAPS_PROBE = """
import sys
from pathlib import Path

import numpy as np

import klproof
from klproof.numeric import _special as S


def flags(a):
    addr = a.ctypes.data + a.nbytes // 2  # NumPy's hint starts at a page boundary
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(" ", 1)[0]
        if "-" in head and ":" not in head:
            lo, hi = (int(v, 16) for v in head.split("-"))
            inside = lo <= addr < hi
        elif inside and line.startswith("VmFlags:"):
            return line.split()[1:]
    raise SystemExit("no mapping")


S._HUGEPAGE_SWITCH(True)
n = 5 * 10**6  # 40 MB: above glibc's largest mmap threshold, so a fresh mapping
hinted = np.empty(n)
plain = S.empty_small_pages(n)
p = klproof.Beta(np.full(n, 2.0), 3.0, validate=False)
q = klproof.Beta(np.full(n, 4.0), 1.5, validate=False)
out = klproof.kl_divergence(p, q)
print("hg" in flags(hinted), "hg" in flags(plain), "hg" in flags(out))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/smaps")
def test_empty_small_pages_and_beta_outputs_have_no_huge_page_hint() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _SMAPS_PROBE], capture_output=True, text=True, check=True
    )
    # NumPy's own array has the hint (so the check can fail); ours and Beta's output do not
    assert run.stdout.split() == ["True", "False", "False"]
