"""Numerically stable building blocks for the KL kernels (float64, block-sized arrays).

Each helper returns a non-negative quantity that the textbook formula computes as a
difference of nearly equal terms. Near the cancellation point a truncated Taylor series
is used on the (usually few) affected elements; elsewhere the direct formula is accurate
to a few ulp. Thresholds are chosen so that the direct branch loses at most a factor
~50 to cancellation (<= 1e-14 relative) and the series is truncated below 1e-17.

SciPy is imported lazily: ``import klproof`` must stay cheap.
"""

from __future__ import annotations

import functools
import importlib
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

EULER_GAMMA = 0.57721566490153286061
LOG_2PI = 1.8378770664093454836
# Bernoulli numbers B_2, B_4, ..., B_20
_BERNOULLI = (
    1 / 6,
    -1 / 30,
    1 / 42,
    -1 / 30,
    5 / 66,
    -691 / 2730,
    7 / 6,
    -3617 / 510,
    43867 / 798,
    -174611 / 330,
)


_K = TypeVar("_K", bound=Callable[..., Any])


def buffers(n: int) -> Callable[[_K], _K]:
    """Mark a kernel as taking ``bufs``: ``n`` block-sized float64 scratch arrays.

    The block driver (``kl._run``) reads the count and passes the arrays.
    """

    def mark(fn: _K) -> _K:
        fn.n_buffers = n  # type: ignore[attr-defined]  # buffer count recorded on the kernel
        return fn

    return mark


def scipy_special() -> Any:
    """Return :mod:`scipy.special`, imported on first use (~200 ms, kept out of import)."""
    from scipy import special  # noqa: PLC0415 - deliberate lazy import

    return special


def _hugepage_switch() -> Callable[[bool], bool] | None:
    """NumPy's switch of its huge-page hint for large arrays (private; absent: None)."""
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        switch = getattr(mod, "_set_madvise_hugepage", None)
        if callable(switch):
            return cast(Callable[[bool], bool], switch)
    return None


_HUGEPAGE_SWITCH = _hugepage_switch()
_HUGEPAGE_LOCK = threading.Lock()


def empty_small_pages(shape: int | tuple[int, ...], dtype: Any = np.float64) -> NDArray[Any]:
    """``np.empty(shape, dtype)`` without NumPy's huge-page hint (for the slowest kernels).

    NumPy asks Linux for transparent huge pages on arrays of 4 MB and more
    (``madvise(MADV_HUGEPAGE)``). On a VM that reports free memory to its host (virtio
    free page reporting, as on the benchmark machine) the free 2 MB blocks such pages
    need are the ones handed back, and the first write of each then waits for the host:
    ~5 ms per huge page, so an 80 MB output cost 0.3 to 20 ns per element depending on
    what ran before (the Beta KL, ~60 ns/elt of arithmetic: 60-63 or 73-85 in one
    process, with PyTorch and a memory-streaming loop run between calls). With 4 KB pages
    the same output cost ~2.5 ns/elt in every call (64-68). The kernels whose arithmetic
    is tens of ns per output element take this; the memory-bound ones (Normal: 5 ns) and
    the Gamma family (12-25 ns: Exponential -> Gamma measured 16.5-17.0 against
    13.6-14.2) keep NumPy's default. The switch is NumPy's own
    (``_set_madvise_hugepage``, private, in NumPy since 1.20), set under a lock and
    restored, so other allocations keep their setting; without it this is ``np.empty``.
    It only leaves NumPy's hint out: an array that malloc places in heap memory an
    earlier array was hinted for (below glibc's mmap threshold, at most 32 MB) keeps
    that memory's hint; larger ones are fresh mappings.
    """
    switch = _HUGEPAGE_SWITCH
    if switch is None:
        return np.empty(shape, dtype=dtype)
    with _HUGEPAGE_LOCK:
        before = switch(False)
        try:
            return np.empty(shape, dtype=dtype)
        finally:
            switch(before)


def _horner(x: F64, coeffs: tuple[float, ...]) -> F64:
    """Evaluate ``sum(c_k x**k)`` (coefficients from degree 0 upwards)."""
    acc = np.full_like(x, coeffs[-1])
    for c in coeffs[-2::-1]:
        acc *= x
        acc += c
    return acc


# d - log1p(d) = d^2 * sum_{k>=0} (-1)^k d^k / (k + 2)
_G_COEF = tuple((-1.0) ** k / (k + 2) for k in range(12))
# expm1(x) - x = x^2 * sum_{k>=0} x^k / (k + 2)!
_EM1MX_COEF = tuple(1.0 / float(np.prod(np.arange(1, k + 3))) for k in range(14))
# k(t) = t e^t - e^t + 1 = t^2 * sum_{k>=0} (k + 1) t^k / (k + 2)!
_K_COEF = tuple((k + 1.0) / float(np.prod(np.arange(1, k + 3))) for k in range(14))
#: q_k_into (and rm1mlog_into) evaluate their series on every element where at least
#: 1/_K_DENSE of them need it (q_k_into on 16384 elements: the two ways cost the same at
#: half, 7.8 ns/elt; at a quarter, gathering took 6.1 and the dense form 7.7)
_K_DENSE = 2

_G_SMALL = 1e-2
_EM1MX_SMALL = 5e-2
_K_SMALL = 5e-2


def _patch_small(out: F64, x: F64, small: float, coeffs: tuple[float, ...]) -> None:
    """Overwrite ``out`` with ``x**2 * poly(x)`` where ``|x| < small``."""
    if x.size == 0:
        return
    x2 = x * x
    mask = x2 < small * small  # NaN compares False (a NaN-aware min would not)
    if not mask.any():
        return
    idx = np.flatnonzero(mask)
    xs = x[idx]
    out[idx] = xs * xs * _horner(xs, coeffs)


def log_ratio(a: F64, b: F64) -> F64:
    """Return ``log(a / b)`` for ``a, b >= 0`` without overflow or underflow of ``a / b``."""
    r = np.asarray(a / b, dtype=np.float64)
    out = np.log(r)
    bad = ~((r > 2.3e-308) & (r < 1e308))
    if np.any(bad):
        direct = np.log(a) - np.log(b)
        out = np.where(bad, direct, out)
    return np.asarray(out, dtype=np.float64)


def log_width(lo: F64, hi: F64) -> F64:
    """Return ``log(hi - lo)`` for ``hi > lo``, also where ``hi - lo`` overflows.

    Past float64's range the width is taken as ``log(hi/2 - lo/2) + log 2`` (halving is
    exact above the subnormal range).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        w = np.asarray(hi - lo, dtype=np.float64)
        return np.asarray(
            np.where(w < np.inf, np.log(w), np.log(hi / 2 - lo / 2) + math.log(2.0)),
            dtype=np.float64,
        )


def dm_log1p(d: F64) -> F64:
    """Return ``d - log1p(d) >= 0`` for ``d > -1``, accurate near ``d = 0``."""
    d = np.atleast_1d(np.asarray(d, dtype=np.float64))
    out = d - np.log1p(d)
    _patch_small(out, d, _G_SMALL, _G_COEF)
    return out


def rm1mlog(num: F64, den: F64) -> tuple[F64, F64]:
    """Return ``(r - 1 - log r, d)`` with ``r = num / den`` and ``d = (num - den) / den``.

    ``num >= 0`` and ``den > 0``. ``d`` is formed from the exact difference ``num - den``
    so that ``r - 1 - log r`` keeps full relative accuracy as ``r -> 1``; for ``r < 1/2``
    ``log r`` is taken from ``r`` itself (``1 + d`` would have lost the digits of a tiny
    ``r``), through :func:`log_ratio` if ``r`` underflows. Call inside
    ``np.errstate(all="ignore")`` (the kernels' block driver does).
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    d = np.atleast_1d(np.asarray((num - den) / den, dtype=np.float64))
    out = d - np.log1p(d)
    out[d == np.inf] = np.inf  # r past float64's range (inf - inf above)
    low = d < -0.5
    if low.any():
        r = np.asarray(num / den, dtype=np.float64)
        lr = np.log(r)
        if (r < 2.3e-308).any():
            lr = log_ratio(np.broadcast_to(num, d.shape), np.broadcast_to(den, d.shape))
        out = np.where(low, r - 1.0 - lr, out)
    _patch_small(out, d, _G_SMALL, _G_COEF)
    return out, d


def expm1mx(x: F64) -> F64:
    """Return ``exp(x) - 1 - x >= 0``, accurate near ``x = 0``."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    out = np.expm1(x) - x
    out[x == np.inf] = np.inf  # inf - inf above
    _patch_small(out, x, _EM1MX_SMALL, _EM1MX_COEF)
    return out


def q_k(q: F64, p: F64, t: F64) -> F64:
    r"""Return :math:`q\,k(t)` with :math:`k(t) = t e^t - e^t + 1 \ge 0` and ``p = q e^t``.

    This is the contribution :math:`p \log(p/q) - p + q` of one atom (or one Poisson
    rate) to a KL divergence, computed without cancellation: a Taylor series for
    :math:`|t| < 0.05`, :math:`q\,(t + (t - 1)\,\mathrm{expm1}(t))` for
    :math:`|t| \le 1` and :math:`p(t - 1) + q` beyond. Conventions: ``p = 0`` gives
    ``q`` (``0 log 0 = 0``); ``q = 0 < p`` arrives as ``t = +inf`` and gives ``+inf``.
    Call inside ``np.errstate(all="ignore")``. (:func:`q_k_into` with fresh arrays: its
    series runs in place where most elements need it, as near the diagonal.)
    """
    q, p, t = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (q, p, t))
    )
    out = np.empty(t.shape)
    return q_k_into(q, p, t, out, np.empty(t.shape))


def kl_atom(p: F64, q: F64, diff: F64, scale: F64 | float = 1.0) -> F64:
    r"""Return :math:`(p\log(p/q) - p + q)/s` given ``diff = p - q`` computed accurately.

    Used for Poisson rates and Bernoulli/Categorical atoms given as probabilities. The
    divisor ``scale`` (:math:`s`) is applied before the final products so that results
    such as KL(Geometric) = KL(Bernoulli)/p do not underflow on the way.
    """
    p, q, diff = (np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (p, q, diff))
    p, q, diff = np.broadcast_arrays(p, q, diff)
    # close p and q: the atanh form (no logarithm, no branches), the rest below
    near_val, tmp = np.empty(p.shape), np.empty(p.shape)
    if isinstance(scale, float) and scale == 1.0:
        near = rate_k_near_into(p, q, near_val, tmp, diff)
    else:
        near = rate_k_near_into(p / scale, q / scale, near_val, tmp, diff / scale)
    if near.all():
        return near_val
    u = diff / q
    t = np.log1p(np.maximum(u, -0.5))
    low = ~((u > -0.5) & (u < np.inf))  # p / q below 1/2, or past float64's range
    if np.any(low):
        t = np.where(low, log_ratio(p, q), t)
    out = q_k(q / scale, p / scale, t)
    np.putmask(out, near, near_val)
    return out


@functools.cache
def gauss_legendre_01(n: int = 8) -> tuple[F64, F64]:
    r"""Nodes and weights of ``n``-point Gauss–Legendre quadrature on ``[0, 1]``."""
    x, w = np.polynomial.legendre.leggauss(n)
    return (x + 1.0) / 2.0, w / 2.0


def trigamma_excess(x: F64) -> F64:
    r"""Return :math:`U(x) = x^2 \psi'(x) - x`, which decreases from 1 (``x -> 0``) to 1/2.

    For ``x >= 20`` the asymptotic series :math:`\tfrac12 + \sum_k B_{2k} x^{1-2k}` is
    used (truncation < 1e-18); below, :func:`trigamma` (cancellation loses < 6 bits).
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    out = np.empty_like(x)
    big = x >= 20.0
    if np.any(big):
        xb = x[big]
        inv2 = 1.0 / (xb * xb)
        s = _horner(inv2, _BERNOULLI[:8])
        out[big] = 0.5 + s / xb
    sm = ~big
    if np.any(sm):
        xs = x[sm]
        out[sm] = xs * (xs * trigamma(xs)) - xs
    return out


def gamma_normal_gap(a: F64) -> F64:
    r"""Return :math:`\tfrac12\log(2\pi e a) - H(\mathrm{Gamma}(a, 1)) \ge 0`.

    This is how far the Gamma entropy falls short of the Gaussian entropy with the same
    variance; it decays like :math:`1/(3a)`. For ``a`` in [1e-3, 1e6] it is
    :math:`1/(2a) - \mu(a) + (1 - a)\nu(a)` with :func:`mu_nu_fast`; elsewhere, for
    ``a >= 8`` the Stirling series (no cancellation), below the direct formula.
    """
    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    if a.size and float(np.min(a)) >= 1e-3 and float(np.max(a)) <= 1e6:
        # 1/(2a) - mu(a) + (1 - a) nu(a): below 1, mu ~ -log(a)/2 against 1/a; above,
        # mu and (a - 1) nu are 1/(12a) + ... against 1/(2a): few digits cancel
        # (3.7e-14 worst in 2000 random cases against mpmath)
        mu, nu = mu_nu_fast(a)
        assert nu is not None
        out = 0.5 / a
        out -= mu
        out += (1.0 - a) * nu
        return out
    special = scipy_special()
    out = np.empty_like(a)
    big = a >= 8.0
    if np.any(big):
        ab = a[big]
        inv = 1.0 / ab
        acc = np.zeros_like(ab)
        # sum over k of -B_{2k}/(2k-1) a^{1-2k} + B_{2k}/(2k) a^{-2k}, plus 1/(2a)
        for k in range(len(_BERNOULLI), 0, -1):
            b = _BERNOULLI[k - 1]
            acc = acc * inv * inv + (-b / (2 * k - 1)) + (b / (2 * k)) * inv
        out[big] = 0.5 * inv + acc * inv
    sm = ~big
    if np.any(sm):
        x = a[sm]
        ent = x + special.gammaln(x) + (1.0 - x) * special.digamma(x)
        out[sm] = 0.5 * (LOG_2PI + 1.0 + np.log(x)) - ent
    return out


@functools.cache
def _zeta_coef(n: int) -> tuple[float, ...]:
    special = scipy_special()
    # lgamma(1 + d) + gamma d = d^2 * sum_{j>=0} zeta(j+2) (-d)^j / (j+2)
    return tuple(float(special.zeta(j + 2.0)) * (-1.0) ** j / (j + 2) for j in range(n))


def lgamma1p_plus_gamma(d: F64) -> F64:
    r"""Return :math:`\log\Gamma(1 + d) + \gamma d \ge 0` (``d > -1``), accurate at ``d -> 0``."""
    special = scipy_special()
    d = np.atleast_1d(np.asarray(d, dtype=np.float64))
    out = np.asarray(special.gammaln(1.0 + d) + EULER_GAMMA * d, dtype=np.float64)
    small = np.abs(d) < 0.1
    if np.any(small):
        ds = d[small]
        out[small] = ds * ds * _horner(ds, _zeta_coef(20))
    return out


def softplus(x: F64) -> F64:
    """Return ``log(1 + exp(x))`` without overflow."""
    x = np.asarray(x, dtype=np.float64)
    return np.asarray(np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))), dtype=np.float64)


def sigmoid(x: F64) -> F64:
    """Return ``1 / (1 + exp(-x))`` without overflow."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.asarray(np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)), dtype=np.float64)


def as_f64(x: Any) -> F64:
    """Return ``x`` as a float64 array (no copy when already float64)."""
    return np.asarray(x, dtype=np.float64)


def stirling_mu(x: F64) -> F64:
    r"""Return :math:`\mu(x) = \log\Gamma(x) - (x - \tfrac12)\log x + x - \tfrac12\log 2\pi`.

    Binet's remainder of Stirling's formula, :math:`\sim 1/(12x)`; series for ``x >= 10``.
    """
    special = scipy_special()
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    out = np.empty_like(x)
    big = x >= 10.0
    if np.any(big):
        xb = x[big]
        inv = 1.0 / xb
        coef = tuple(b / ((2 * k + 2) * (2 * k + 1)) for k, b in enumerate(_BERNOULLI))
        out[big] = inv * _horner(inv * inv, coef)
    sm = ~big
    if np.any(sm):
        xs = x[sm]
        out[sm] = special.gammaln(xs) - (xs - 0.5) * np.log(xs) + xs - 0.5 * LOG_2PI
    return out


def digamma_nu(x: F64) -> F64:
    r"""Return :math:`\nu(x) = \log x - \tfrac{1}{2x} - \psi(x)`, :math:`\sim 1/(12x^2)`."""
    special = scipy_special()
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    out = np.empty_like(x)
    big = x >= 10.0
    if np.any(big):
        xb = x[big]
        inv2 = 1.0 / (xb * xb)
        coef = tuple(b / (2 * k + 2) for k, b in enumerate(_BERNOULLI))
        out[big] = inv2 * _horner(inv2, coef)
    sm = ~big
    if np.any(sm):
        xs = x[sm]
        out[sm] = np.log(xs) - 0.5 / xs - special.digamma(xs)
    return out


def two_prod(a: F64, b: F64) -> tuple[F64, F64]:
    """Return ``(hi, lo)`` with ``hi = fl(a * b)`` and ``hi + lo = a * b`` exactly (Dekker).

    Valid while ``|a|, |b| < 1e300`` (Veltkamp splitting must not overflow).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    hi = a * b
    ca = 134217729.0 * a
    ah = ca - (ca - a)
    al = a - ah
    cb = 134217729.0 * b
    bh = cb - (cb - b)
    bl = b - bh
    lo = ((ah * bh - hi) + ah * bl + al * bh) + al * bl
    return np.asarray(hi, np.float64), np.asarray(lo, np.float64)


def trigamma_v(x: F64) -> F64:
    r"""Return :math:`V(x) = U(x) - \tfrac12 = x^2\psi'(x) - x - \tfrac12` without cancellation.

    Asymptotic series :math:`\sum_k B_{2k} x^{1-2k}` for ``x >= 10``; below,
    :math:`\tfrac12 - x + x^2\psi'(1 + x)`.
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    out = np.empty_like(x)
    big = x >= 10.0
    if np.any(big):
        inv = 1.0 / x[big]
        out[big] = inv * _horner(inv * inv, _BERNOULLI)
    sm = ~big
    if np.any(sm):
        xs = x[sm]
        out[sm] = 0.5 - xs + xs * xs * trigamma(1.0 + xs)
    return out


def trigamma_v_prime(x: F64) -> F64:
    r"""Return :math:`V'(x) = U'(x) < 0` (series for ``x >= 10``, else via :math:`\psi(1+x)`)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    out = np.empty_like(x)
    big = x >= 10.0
    if np.any(big):
        inv2 = 1.0 / (x[big] * x[big])
        coef = tuple(b * (1 - 2 * (k + 1)) for k, b in enumerate(_BERNOULLI))
        out[big] = inv2 * _horner(inv2, coef)
    sm = ~big
    if np.any(sm):
        xs = x[sm]
        out[sm] = -1.0 + 2.0 * xs * trigamma(1.0 + xs) + xs * xs * tetragamma(1.0 + xs)
    return out


def trigamma_excess_diff(x: F64, s: F64) -> F64:
    r"""Return :math:`U(x) - U(x + s) \ge 0` for ``s >= 0``, accurate when ``s << x``.

    For ``s < x / 4`` it is :math:`-s\int_0^1 V'(x + s\tau)\,d\tau` by 8-point
    Gauss–Legendre (no cancellation); otherwise :math:`V(x) - V(x + s)`.
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    s = np.atleast_1d(np.asarray(s, dtype=np.float64))
    x, s = np.broadcast_arrays(x, s)
    out = np.asarray(trigamma_v(x) - trigamma_v(x + s), dtype=np.float64)
    close = s < 0.25 * x
    if np.any(close):
        xc, sc = x[close], s[close]
        nodes, weights = gauss_legendre_01(8)
        vals = trigamma_v_prime((xc[None, :] + sc[None, :] * nodes[:, None]).reshape(-1))
        out[close] = -sc * (weights @ vals.reshape(len(nodes), -1))
    return out


# -- in-place variants for the hot kernels (block-sized buffers, no allocation) ----------
# Freshly allocated block-sized temporaries cost more than the arithmetic on this
# class of machine (glibc returns freed heap to the OS and every new block page-faults),
# so the most used kernels write into buffers that the block driver allocates once.


#: :func:`rm1mlog_into`'s atanh form serves :math:`|d| \le 0.15` (:math:`s = d/(2 + d)`
#: within :math:`[-0.0811, 0.0698]`, the range of ``ATANH_B``)
_RM1_NEAR = 0.15


def _rm1mlog_atanh_into(d: F64, out: F64, terms: int) -> F64:
    r"""Write :math:`r - 1 - \log r`, :math:`r = 1 + d`, for :math:`|d| \le 0.15`.

    With :math:`s = d/(2 + d)`, :math:`r = (1 + s)/(1 - s)`, :math:`\log r =
    2s(1 + s^2 B(s^2))` (``ATANH_B``), exactly

    .. math:: r - 1 - \log r = 2s^2\Big(\frac{1}{1 - s} - s\,B(s^2)\Big),

    whose bracket is at least 0.89 here (no cancellation): a few ulp, no logarithm.
    ``terms`` of :math:`B` (:func:`atanh_terms` of the largest :math:`|s|`).
    """
    s = np.add(d, 2.0)
    np.divide(d, s, out=s)
    s2 = np.multiply(s, s)
    acc = atanh_b_into(s2, terms, np.empty_like(s))
    acc *= s
    np.subtract(1.0, s, out=s)
    np.divide(1.0, s, out=s)
    np.subtract(s, acc, out=out)
    out *= s2
    out *= 2.0
    return out


def rm1mlog_into(d: F64, num: F64, den: F64, out: F64, tmp: F64) -> F64:
    """Write ``r - 1 - log r`` into ``out`` given ``d = (num - den) / den`` (see rm1mlog).

    ``log1p(d)`` is accurate while ``r = 1 + d >= 1e-3`` (absolute error <= 1.1e-13 on a
    result >= 0.19 there); the rare smaller ratios take ``log r`` from ``num / den``.
    """
    np.abs(d, out=tmp)
    small = tmp < _G_SMALL
    count = int(np.count_nonzero(small))
    if count * _K_DENSE >= small.size:
        # mostly small |d| (near the diagonal): the atanh form on every element with
        # |d| <= _RM1_NEAR (no logarithm, only the terms the block needs), and
        # d - log1p(d) for the others
        mid = np.less_equal(tmp, _RM1_NEAR)
        d_max = min(float(tmp.max(initial=0.0)), _RM1_NEAR)
        dc = np.clip(d, -_RM1_NEAR, _RM1_NEAR, out=tmp)
        _rm1mlog_atanh_into(dc, out, atanh_terms(d_max / (2.0 - d_max)))
        if not mid.all():
            idx = np.flatnonzero(~mid)
            ds = d[idx]
            out[idx] = ds - np.log1p(ds)
    else:
        np.log1p(d, out=out)
        np.subtract(d, out, out=out)
        if count:
            idx = np.flatnonzero(small)
            ds = d[idx]
            out[idx] = ds * ds * _horner(ds, _G_COEF)
    # the rare edges, found by two reductions (the masks cost four passes every call)
    if float(np.fmin.reduce(d, axis=None, initial=np.inf)) < -0.999:  # NaN ignored
        idx = np.flatnonzero(d < -0.999)
        n_i = np.broadcast_to(num, d.shape)[idx]
        d_i = np.broadcast_to(den, d.shape)[idx]
        out[idx] = n_i / d_i - 1.0 - log_ratio(n_i, d_i)
    if float(np.fmax.reduce(d, axis=None, initial=-np.inf)) == np.inf:
        # r past float64's range: d - log1p(d) is inf - inf; r - 1 - log r is +inf
        np.putmask(out, d == np.inf, np.inf)
    return out


def q_k_into(q: F64, p: F64, t: F64, out: F64, tmp: F64) -> F64:
    r"""In-place :func:`q_k`: writes :math:`q\,k(t)` into ``out`` (``tmp`` is scratch)."""
    # mid branch q (t + (t - 1) expm1(t)) for |t| <= 1, far branch p (t - 1) + q
    np.minimum(t, 1.0, out=tmp)
    np.expm1(tmp, out=tmp)
    np.subtract(t, 1.0, out=out)
    np.multiply(tmp, out, out=tmp)
    np.add(tmp, t, out=tmp)
    np.multiply(tmp, q, out=tmp)  # mid
    np.multiply(out, p, out=out)
    np.add(out, q, out=out)  # far
    np.putmask(out, np.abs(t) <= 1.0, tmp)
    kmask = np.abs(t) < _K_SMALL
    small = int(np.count_nonzero(kmask))
    if small * _K_DENSE >= kmask.size:
        # mostly small |t| (rows near the diagonal): the series on every element in place,
        # t clipped into its range, then blended (gathering, an allocating Horner and
        # scattering took 35.7 against 9.4 ns/elt with every |t| <= 1e-3)
        ts = np.clip(t, -_K_SMALL, _K_SMALL, out=tmp)
        acc = horner_into(ts, _K_COEF, np.empty_like(out))
        np.multiply(acc, ts, out=acc)
        np.multiply(acc, ts, out=acc)
        np.multiply(acc, q, out=acc)
        np.putmask(out, kmask, acc)
    elif small:
        idx = np.flatnonzero(kmask)
        ts = t.reshape(-1)[idx] if t.ndim > 1 else t[idx]
        qq = np.broadcast_to(q, t.shape)
        qs = qq.reshape(-1)[idx] if t.ndim > 1 else qq[idx]
        val = qs * (ts * ts * _horner(ts, _K_COEF))
        if t.ndim > 1:
            out.reshape(-1)[idx] = val
        else:
            out[idx] = val
    zero = p == 0.0
    if zero.any():
        np.copyto(out, np.broadcast_to(q, out.shape), where=zero)
    return out


#: The block drivers' near mode (``_gamma_kernels.run_deferred``, ``_beta_kernels._driver``,
#: ``_misc_kernels.categorical_probs_rows``): after a block with 3/4 of its elements
#: flagged, the next blocks skip the fast form (rows near the diagonal, which it would
#: flag all the same), but for every ``NEAR_RECHECK``-th, which decides again
NEAR_RECHECK = 8


def mostly_flagged(flagged: int, size: int) -> bool:
    """Whether a block with ``flagged`` of ``size`` elements flagged starts the near mode."""
    return flagged * 4 >= size * 3


#: :math:`B(s^2) = \sum_{j \ge 0} s^{2j}/(2j + 3)`, the atanh series of
#: :func:`rate_k_near_into` (and ``_misc_kernels._categorical_near``): 9 terms, the first
#: left out below 3e-20 relative for :math:`|s| \le` ``ATANH_S_MAX`` (:math:`s^2 \le
#: 6.6\cdot10^{-3}`; the ratio of the two rates within [0.85, 1.18])
ATANH_B = tuple(1.0 / (2.0 * j + 3.0) for j in range(9))
ATANH_S_MAX = 0.081
#: elements :func:`rate_k_near_into` probes before forming anything
_NEAR_PROBE = 64


def atanh_terms(s_max: float) -> int:
    r"""Terms of ``ATANH_B`` needed for ``|s| <= s_max``: at least 2, at most all 9.

    The first term left out, :math:`s^{2n}/(2n + 3)`, is then below :math:`2^{-60}` of
    :math:`B \ge 1/3` (rows moved by 1e-3 need 3 terms: 12 passes fewer than 9).
    """
    s2 = s_max * s_max
    for n in range(2, len(ATANH_B)):
        if 3.0 * s2**n / (2 * n + 3) <= 2.0**-60:
            return n
    return len(ATANH_B)


def row_reduce(op: np.ufunc, x: NDArray[Any]) -> NDArray[Any]:
    """``op.reduce(x, axis=-1)`` of a 2-D block, column by column for a few columns.

    NumPy's reduction over a short last axis costs ~25 ns per row (``np.max`` of 8198
    rows of 2: 0.22 ms); a loop of elementwise ``op`` over the columns ~1 ns per row
    and column (0.007 ms). NaN propagates as in ``np.maximum``/``np.minimum``; the
    dtype is ``x``'s (``np.logical_or`` over a boolean block is ``any``).
    """
    if x.shape[-1] > 16:
        return np.asarray(op.reduce(x, axis=-1))
    acc = np.array(x[:, 0])
    for j in range(1, x.shape[-1]):
        op(acc, x[:, j], out=acc)
    return acc


#: most rows :func:`fold_rows_into` chains (NumPy sums 8 and more in another order)
FOLD_MAX = 5


def fold_rows_into(op: np.ufunc, rows: F64, out: F64) -> F64:
    """Write ``op.reduce(rows, axis=0)`` into ``out``, one binary call per row for a few rows.

    NumPy's reduction over the leading axis of a few long rows costs more than the chained
    calls: 5.8 against 2.4 us for two rows of 10922, 7.5 against 4.2 for three, 8.4 against
    6.6 for five (add; multiply alike). Up to :data:`FOLD_MAX` rows the order is the
    reduction's own (left to right), so the result is the same to the bit.
    """
    n = rows.shape[0]
    if n > FOLD_MAX:
        return np.asarray(op.reduce(rows, axis=0, out=out), np.float64)
    if n == 1:
        np.copyto(out, rows[0])
        return out
    op(rows[0], rows[1], out=out)
    for i in range(2, n):
        op(out, rows[i], out=out)
    return out


def horner_into(x: F64, coeffs: Sequence[float | F64], out: F64) -> F64:
    """Write ``sum(c_k x**k)`` into ``out`` (coefficients from degree 0 upwards, two or more)."""
    np.multiply(x, coeffs[-1], out=out)
    out += coeffs[-2]
    for c in coeffs[-3::-1]:
        out *= x
        out += c
    return out


def atanh_b_into(s2: F64, n: int, out: F64) -> F64:
    """Write :math:`B(s^2)` from its first ``n >= 2`` terms into ``out`` (Horner)."""
    return horner_into(s2, ATANH_B[:n], out)


def _head(v: F64, shape: tuple[int, ...], k: int) -> F64:
    """The first ``k`` elements of ``v`` broadcast to ``shape`` (a view where it can)."""
    if v.shape == shape and v.flags.c_contiguous:
        return v.reshape(-1)[:k]
    return np.asarray(np.broadcast_to(v, shape).flat[:k])


def rate_k_near_into(
    r1: F64, r2: F64, out: F64, tmp: F64, diff: F64 | None = None, share: float = 0.5
) -> NDArray[np.bool_]:
    r"""Write :math:`r_1\log(r_1/r_2) - r_1 + r_2` for close rates; return where it holds.

    With :math:`s = (r_1 - r_2)/(r_1 + r_2)` (so :math:`r_1/r_2 = (1 + s)/(1 - s)` and
    :math:`\log(r_1/r_2) = 2\,\mathrm{atanh}\,s`),

    .. math:: r_1\log\frac{r_1}{r_2} - r_1 + r_2
       = (r_1 + r_2)\, s^2 \big(1 + s(1 + s)\,B(s^2)\big),

    exactly: no term cancels (:math:`s(1 + s)B \ge -0.03` for :math:`|s| \le 0.081`),
    :math:`r_1 - r_2` is exact (Sterbenz), so the value carries a few ulp, with ~27
    passes and no logarithm (``q_k_into`` on ``log1p`` takes three branches and ~40).
    ``diff``, if given, is :math:`r_1 - r_2` formed more accurately than from the
    rounded rates (as :math:`q - p` for the rounded :math:`1 - p, 1 - q`). Elements with
    :math:`|s| > 0.081`, NaN or :math:`r_1 + r_2` overflowing get junk and a False in the
    returned mask; where fewer than ``share`` of the first 64 elements or of all are
    close, all are False (and the series is not formed). Call inside
    ``np.errstate(all="ignore")``.
    """
    shape = out.shape
    if out.size > _NEAR_PROBE:
        # a probe of the first elements: where too few are close, the whole form is
        # skipped (the careful kernels of Poisson and Bernoulli are hot on generic
        # rates, whose flagged elements mix close and far ones)
        a = _head(np.asarray(r1), shape, _NEAR_PROBE)
        b = _head(np.asarray(r2), shape, _NEAR_PROBE)
        if np.count_nonzero(np.abs(a - b) <= ATANH_S_MAX * (a + b)) < share * _NEAR_PROBE:
            return np.zeros(shape, dtype=bool)
    if diff is None:
        np.subtract(r1, r2, out=out)
    else:
        np.copyto(out, diff)
    np.add(r1, r2, out=tmp)
    np.divide(out, tmp, out=out)  # s
    s_abs = np.abs(out)
    ok = s_abs <= ATANH_S_MAX
    ok &= tmp < np.inf  # r1 + r2 overflowing (s would be 0)
    if np.count_nonzero(ok) < share * ok.size:
        # few close rates (generic parameters): the caller's general form for all, the
        # series not formed (both forms on every element made Poisson 17 % slower)
        ok[...] = False
        return ok
    s_max = float(s_abs.max(initial=0.0))
    np.clip(out, -ATANH_S_MAX, ATANH_S_MAX, out=out)
    s2 = np.multiply(out, out)
    acc = atanh_b_into(s2, atanh_terms(min(s_max, ATANH_S_MAX)), s_abs)
    np.add(out, s2, out=out)  # s + s^2
    acc *= out
    acc += 1.0
    acc *= s2
    np.multiply(acc, tmp, out=out)
    return ok


def log1p_ratio_into(p: F64, q: F64, diff: F64, out: F64) -> F64:
    """Write ``log(p / q)`` into ``out`` given ``diff = p - q`` accurately.

    ``log1p(diff / q)`` while ``p / q >= 1e-3``; below, and where ``diff / q`` overflows,
    :func:`log_ratio` (also for ``p = 0`` -> ``-inf`` and ``q = 0`` -> ``+inf``).
    """
    np.divide(diff, q, out=out)
    low = ~(out >= -0.999)
    np.maximum(out, -0.999, out=out)
    np.log1p(out, out=out)
    np.logical_or(low, out == np.inf, out=low)
    if low.any():
        idx = np.flatnonzero(low.reshape(-1))
        pp = np.broadcast_to(p, out.shape).reshape(-1)[idx]
        qq = np.broadcast_to(q, out.shape).reshape(-1)[idx]
        out.reshape(-1)[idx] = log_ratio(pp, qq)
    return out


def _shift_to_10(x: F64, power: int) -> tuple[F64, F64]:
    """Return ``(y, sum_k (x + k)**-power)`` with ``y = x + m >= 10`` (recurrence shift)."""
    y = np.array(x, dtype=np.float64, copy=True)
    acc = np.zeros_like(y)
    for _ in range(10):
        m = y < 10.0
        if not m.any():
            break
        acc += np.where(m, y ** (-power), 0.0)
        y += m
    return y, acc


def trigamma(x: F64) -> F64:
    r"""Trigamma :math:`\psi'(x)`, ``x > 0``: recurrence up to 10, then the asymptotic series.

    :math:`\psi'(x) = \sum_{k<m} (x+k)^{-2} + \psi'(x+m)` and
    :math:`\psi'(y) \sim 1/y + 1/(2y^2) + \sum_k B_{2k}/y^{2k+1}` (truncation < 1e-17 at
    ``y >= 10``); every term is positive, so no cancellation. Much faster than SciPy's
    Hurwitz zeta.
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    y, acc = _shift_to_10(x, 2)
    inv = 1.0 / y
    inv2 = inv * inv
    return np.asarray(acc + inv + 0.5 * inv2 + inv * inv2 * _horner(inv2, _BERNOULLI), np.float64)


_TETRA_COEF = tuple((2 * k + 3) * b for k, b in enumerate(_BERNOULLI))


def tetragamma(x: F64) -> F64:
    r"""Tetragamma :math:`\psi''(x) < 0`, ``x > 0`` (recurrence, then asymptotic series)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    y, acc = _shift_to_10(x, 3)
    inv = 1.0 / y
    inv2 = inv * inv
    tail = inv2 + inv2 * inv + inv2 * inv2 * _horner(inv2, _TETRA_COEF)
    return np.asarray(-2.0 * acc - tail, np.float64)


# -- fast Stirling remainders (NumPy only, no SciPy call) --------------------------------
# mu(x) = log Gamma(x) - (x - 1/2) log x + x - log(2 pi)/2 and nu(x) = log x - 1/(2x) - psi(x),
# from the asymptotic series at y = x + m (m = 8 for x < 8, else 0) and the recurrence
# Gamma(x + m) = Gamma(x) prod_k (x + k). The shift is branch-free: with s = [x < 8] the
# k-th factor is x + k s, so an unshifted element sees factors y / x = 1 and adds exactly 0.
# Truncation of both series at y >= 8 with 10 Bernoulli terms is below 1e-17 (absolute).

_MU_COEF = tuple(b / ((2 * k + 2) * (2 * k + 1)) for k, b in enumerate(_BERNOULLI[:8]))
_NU_COEF = tuple(b / (2 * k + 2) for k, b in enumerate(_BERNOULLI[:9]))
_SHIFT = 8


def mu_nu_fast(x: F64, want_nu: bool = True) -> tuple[F64, F64 | None]:
    r"""Return Stirling's remainders :math:`(\mu(x), \nu(x))` for ``0 < x <= 1e30``.

    :math:`\mu(x) = \log\Gamma(x) - (x - \tfrac12)\log x + x - \tfrac12\log 2\pi` and
    :math:`\nu(x) = \log x - \tfrac{1}{2x} - \psi(x)` (``nu`` only if ``want_nu``),
    without SciPy: the recurrence :math:`\Gamma(x + 8) = \Gamma(x) P(x)`,
    :math:`P(x) = \prod_{k<8}(x + k)`, below 8, then the asymptotic series at
    ``y >= 8`` (8 and 9 terms: truncation below 1e-16 absolute). The shift is
    branch-free: ``y = x + 8 s`` with ``s = [x < 8]``, and the shift's terms are
    multiplied by ``s`` (or vanish, like ``log(y / x)``), so that an unshifted element
    gets exactly the series. Absolute error: a few ulp of ``max(1, |log x|)`` (``mu``) and of
    ``1/x`` (``nu``) below 8; a few ulp of the value above.
    """
    x = np.asarray(x, dtype=np.float64)
    s = (x < 8.0).astype(np.float64)
    y = x + _SHIFT * s
    inv = 1.0 / y
    inv2 = inv * inv
    mu = _horner(inv2, _MU_COEF)
    mu *= inv
    nu = None
    if want_nu:
        nu = _horner(inv2, _NU_COEF)
        nu *= inv2
    if s.any():
        # P(x) = prod_{k<8} (x + k) = z (z + 6) (z + 10) (z + 12) with z = x (x + 7),
        # pairing (x + k)(x + 7 - k); and sum_k 1/(x + k) = (2x + 7) sum_j 1/(z + c_j).
        # Unshifted elements compute finite garbage that the factor s zeroes exactly.
        z = x + 7.0
        z *= x
        p = z.copy()
        acc = 1.0 / z if want_nu else None
        w = np.empty_like(z)
        for c in (6.0, 10.0, 12.0):
            np.add(z, c, out=w)
            p *= w
            if acc is not None:
                acc += 1.0 / w
        del w
        y8 = y * y
        y8 *= y8
        y8 *= y8
        lyx = np.log(y / x)  # exactly 0 when unshifted
        y8 /= p
        del p, z
        sh = np.log(y8)
        sh -= _SHIFT
        sh *= s
        mu += sh
        mu += (x - 0.5) * lyx
        if nu is not None and acc is not None:
            # nu(x) = nu(y) + sum_k 1/(x + k) - log(y / x) - (1/x - 1/y) / 2
            acc *= 2.0 * x + 7.0
            acc -= 0.5 * (1.0 / x - inv)  # exactly 0 when unshifted: then s zeroes acc
            acc *= s
            nu += acc
            nu -= lyx
    return np.asarray(mu, np.float64), (None if nu is None else np.asarray(nu, np.float64))


def bregman_mu(x: F64, d: F64, nodes: int = 8) -> F64:
    r"""Return :math:`\mu(x + d) - \mu(x) + d\,\nu(x) \ge 0` for ``|d| <= x / 4``, to a few ulp.

    The Bregman divergence of Stirling's remainder :math:`\mu` (convex, with
    :math:`\mu'' = V(x)/x^2`, :math:`V` from :func:`trigamma_v`), as
    :math:`d^2 \int_0^1 (1 - \tau)\, \mu''(x + \tau d)\, d\tau` by Gauss–Legendre
    quadrature: every term is positive, so no digits cancel however small ``d`` is.
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    d = np.atleast_1d(np.asarray(d, dtype=np.float64))
    tau, w = gauss_legendre_01(nodes)
    pts = x[None, :] + tau[:, None] * d[None, :]
    vals = trigamma_v(pts.reshape(-1)).reshape(pts.shape) / (pts * pts)
    return np.asarray(d * d * ((w * (1.0 - tau)) @ vals), dtype=np.float64)
