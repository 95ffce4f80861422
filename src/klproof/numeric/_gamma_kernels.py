r"""Lean block kernels for the Gamma pairs: KL(Gamma || Gamma), Exponential <-> Gamma.

The arithmetic is that of :func:`klproof.numeric.kl._k_gamma` (see there and
:func:`~klproof.numeric._special.mu_nu_fast` for the accuracy argument), reorganised
for speed, which on a cache-sized block is the number of NumPy passes and calls:

* every pass writes into a scratch buffer allocated once per call (``out=``);
* the Stirling remainders :math:`\mu(a_1), \mu(a_2)` are formed in one set of calls on
  the two shapes stacked as one ``(2, m)`` block (half the Python dispatch);
* for Exponential -> Gamma and Gamma -> Exponential one shape is 1, and
  :math:`\mu(1), \nu(1)` are constants: only one remainder per element is formed
  (Gamma -> Exponential needs :math:`\mu(a_1), \nu(a_1)`, Exponential -> Gamma only
  :math:`\mu(a_2)`);
* the elements that need the careful forms (close shapes, a small amplified log-ratio,
  parameters outside the fast range) are only *flagged* per block; after the last
  block they are gathered across the whole batch and recomputed by the careful
  kernel in a few large calls, so a block pays nothing for them but a mask.

Each fast value is the closed form of Penny (2001) as three non-negative terms,

.. math:: \mathrm{KL} = a_1 \sigma\, k(t) + \tfrac12(\rho - 1 - \log\rho)
   + \big[\mu(a_2) - \mu(a_1) + (a_2 - a_1)\,\nu(a_1)\big],

:math:`\rho = a_2/a_1`, :math:`\sigma = b_2/b_1`, :math:`t = \log\rho - \log\sigma`,
:math:`k(t) = t + (t - 1)\,\mathrm{expm1}(t)`, exactly as in ``_k_gamma``: where it is
used (shapes in :math:`[10^{-3}, 10^6]` differing by a relative 1/4 or more, and not
:math:`|t| < 1/2` with :math:`a_1\sigma > 100`) the middle term is at least 0.013 and
the others are formed to a few 1e-15 absolute, so the sum is accurate to ~1e-13
relative. Every other element is recomputed by the careful kernel passed in (the same
``_k_gamma``), so accuracy is exactly that of ``_k_gamma`` everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from klproof.numeric import _special as S

F64 = NDArray[np.float64]
Fix = NDArray[np.bool_] | None
#: a fast block kernel: float64 blocks (or 0-d scalars) and scratch in; the block's
#: values and a mask of the elements to recompute carefully (or None) out
FastKernel = Callable[..., tuple[F64, Fix]]

#: fast-region bounds, as in ``kl._k_gamma``
_LO, _HI, _REL = 1e-3, 1e6, 0.25
_MU_COEF = S._MU_COEF  # the coefficients of mu_nu_fast, shared on purpose
_NU_COEF = S._NU_COEF


#: the careful kernels hold up to ~100 float64 temporaries per element (quadrature
#: nodes of several arrays each): they take the flagged elements in chunks of at most
#: ``n // CAREFUL_SHARE`` (and at most a block), so that their temporaries stay below a
#: quarter of the output
CAREFUL_SHARE = 1000


class _Scratch:
    """Block-sized float64 buffers by name, allocated on first use (one set per call)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.m = rows
        self._bufs: dict[str, F64] = {}

    def __call__(self, name: str, k: int = 1) -> F64:
        key = f"{name}/{k}"
        buf = self._bufs.get(key)
        if buf is None:
            buf = np.empty((k, self.rows) if k > 1 else self.rows)
            self._bufs[key] = buf
        return buf[..., : self.m]


def run_deferred(
    fast: FastKernel,
    careful: Callable[..., F64],
    arrays: Sequence[NDArray[Any]],
    batch_shape: tuple[int, ...],
    dtype: np.dtype[Any],
    block: int,
) -> NDArray[np.floating[Any]]:
    """Evaluate ``fast`` over ``batch_shape`` in blocks; redo flagged elements with ``careful``.

    ``arrays`` are the scalar parameters (event dimension 0), broadcast against
    ``batch_shape``. ``fast(*blocks, scratch=...)`` returns ``(values, fix)``; the
    elements where ``fix`` is true are collected over all blocks and passed to
    ``careful`` (elementwise, like the block kernels of ``kl``) in chunks of
    ``block`` elements after the last block. Extra memory: the scratch buffers, and
    one index per flagged element.
    """
    out = np.empty(batch_shape, dtype=dtype)
    flat = out.reshape(-1)
    n = flat.size
    prepared: list[NDArray[Any]] = []
    for a in arrays:
        if a.size == 1:
            prepared.append(np.asarray(a, dtype=np.float64).reshape(()))
        elif a.shape == batch_shape and a.flags.c_contiguous:
            prepared.append(a.reshape(n))
        else:
            prepared.append(np.ascontiguousarray(np.broadcast_to(a, batch_shape)).reshape(n))
    # ~30 scratch rows per element of a block: blocks small enough that the scratch
    # stays below a quarter of the output (peak extra memory <= 1.5x the output)
    block = min(block, max(256, n // 128))
    scratch = _Scratch(min(block, max(n, 1)))
    pending: list[NDArray[np.intp]] = []
    with np.errstate(all="ignore"):
        for start in range(0, n, block):
            stop = min(start + block, n)
            scratch.m = stop - start
            blk = [a if a.ndim == 0 else np.asarray(a[start:stop], np.float64) for a in prepared]
            vals, fix = fast(*blk, scratch=scratch)
            flat[start:stop] = vals
            if fix is not None:
                idx = np.flatnonzero(fix)
                if idx.size:
                    pending.append(idx + start)
        if pending:
            todo = np.concatenate(pending)
            chunk = max(64, min(block, n // CAREFUL_SHARE))
            for lo in range(0, todo.size, chunk):
                idx = todo[lo : lo + chunk]
                sub = [a if a.ndim == 0 else np.asarray(a[idx], np.float64) for a in prepared]
                flat[idx] = careful(*sub)
    return out


def _horner_into(x: F64, coeffs: tuple[float, ...], out: F64) -> F64:
    """Write ``sum(c_k x**k)`` into ``out`` (coefficients from degree 0 upwards)."""
    np.multiply(x, coeffs[-1], out=out)
    np.add(out, coeffs[-2], out=out)
    for c in coeffs[-3::-1]:
        np.multiply(out, x, out=out)
        np.add(out, c, out=out)
    return out


def mu_nu_into(x: F64, mu: F64, nu: F64 | None, scr: _Scratch, k: int = 1) -> None:
    r"""Write Stirling's remainders :math:`\mu(x)` (and :math:`\nu(x)` of ``x[0]``) in place.

    The arithmetic of :func:`~klproof.numeric._special.mu_nu_fast` (same recurrence,
    same series, same branch-free shift ``y = x + 8 s``, ``s = [x < 8]``), so the
    same accuracy: a few ulp of ``max(1, |log x|)`` for :math:`\mu` and of ``1/x`` for
    :math:`\nu` below 8, a few ulp of the value above, for ``1e-3 <= x <= 1e6``. Every
    pass writes into ``scr`` buffers. ``x`` and ``mu`` may be ``(k, m)`` stacks of
    ``k`` arguments, all evaluated by the same calls; ``nu`` (shape ``(m,)``), if
    given, is formed for the first row only.
    """
    s = scr("s", k)
    y = scr("y", k)
    inv = scr("inv", k)
    inv2 = scr("inv2", k)
    np.less(x, 8.0, out=s)  # bool -> 0.0 / 1.0
    np.multiply(s, 8.0, out=y)
    np.add(y, x, out=y)
    np.divide(1.0, y, out=inv)
    np.multiply(inv, inv, out=inv2)
    _horner_into(inv2, _MU_COEF, mu)
    np.multiply(mu, inv, out=mu)
    x0, s0, inv0, inv20 = (x[0], s[0], inv[0], inv2[0]) if k > 1 else (x, s, inv, inv2)
    if nu is not None:
        _horner_into(inv20, _NU_COEF, nu)
        np.multiply(nu, inv20, out=nu)
    # P(x) = prod_{k<8} (x + k) = z (z + 6) (z + 10) (z + 12), z = x (x + 7); and
    # sum_k 1/(x + k) = (2x + 7) sum_j 1/(z + c_j). Unshifted elements compute finite
    # values that the factor s zeroes exactly (and log(y / x) = 0 there).
    z = scr("z", k)
    p = scr("p", k)
    w = inv2  # inv2 is no longer needed
    np.add(x, 7.0, out=z)
    np.multiply(z, x, out=z)
    acc = scr("acc") if nu is not None else None
    if acc is not None:
        np.divide(1.0, z[0] if k > 1 else z, out=acc)
    np.copyto(p, z)
    for c in (6.0, 10.0, 12.0):
        np.add(z, c, out=w)
        np.multiply(p, w, out=p)
        if acc is not None:
            w0 = w[0] if k > 1 else w
            np.divide(1.0, w0, out=w0)
            np.add(acc, w0, out=acc)
    # mu(x) = mu(y) + s (log(y^8 / P) - 8) + (x - 1/2) log(y / x)
    np.multiply(y, y, out=w)
    np.multiply(w, w, out=w)
    np.multiply(w, w, out=w)
    np.divide(w, p, out=w)
    np.log(w, out=w)
    np.subtract(w, 8.0, out=w)
    np.multiply(w, s, out=w)
    np.add(mu, w, out=mu)
    lyx = z  # z is no longer needed
    np.divide(y, x, out=lyx)
    np.log(lyx, out=lyx)
    np.subtract(x, 0.5, out=w)
    np.multiply(w, lyx, out=w)
    np.add(mu, w, out=mu)
    if nu is not None and acc is not None:
        # nu(x) = nu(y) + s [sum_k 1/(x + k) - (1/x - 1/y) / 2] - log(y / x)
        w0 = w[0] if k > 1 else w
        np.multiply(x0, 2.0, out=w0)
        np.add(w0, 7.0, out=w0)
        np.multiply(acc, w0, out=acc)
        np.divide(1.0, x0, out=w0)
        np.subtract(w0, inv0, out=w0)
        np.multiply(w0, 0.5, out=w0)
        np.subtract(acc, w0, out=acc)
        np.multiply(acc, s0, out=acc)
        np.add(nu, acc, out=nu)
        np.subtract(nu, lyx[0] if k > 1 else lyx, out=nu)
    del inv20


def _fast_region(scr: _Scratch, a: Sequence[F64], b1: F64, ls: F64) -> Fix:
    """Mask of elements outside the fast region (None when the whole block is inside).

    Shapes in ``[1e-3, 1e6]``, ``b1`` in ``[1e-150, 1e150]``, ``|log sigma| <= 230``, as
    in ``kl._k_gamma``; checked first by reductions (no mask when all are inside).
    """
    lo = min(float(np.min(v)) for v in a)
    hi = max(float(np.max(v)) for v in a)
    b_lo, b_hi = float(np.min(b1)), float(np.max(b1))
    l_lo, l_hi = float(np.min(ls)), float(np.max(ls))
    if (
        lo >= _LO
        and hi <= _HI
        and b_lo >= 1e-150
        and b_hi <= 1e150
        and -230.0 <= l_lo <= l_hi <= 230.0
    ):
        return None
    bad = np.zeros(scr.m, dtype=bool)
    for v in a:
        bad |= ~((v >= _LO) & (v <= _HI))  # NaN is outside
    bad |= ~((b1 >= 1e-150) & (b1 <= 1e150))
    bad |= ~(np.abs(ls) <= 230.0)
    return bad


def _lead_into(a1: F64 | None, sig: F64, t: F64, out: F64, tmp: F64) -> F64:
    r"""Write :math:`a_1 \sigma\, k(t)`, :math:`k(t) = t + (t - 1)\,\mathrm{expm1}(t)`, into ``out``.

    ``a1=None`` stands for :math:`a_1 = 1`.
    """
    np.expm1(t, out=out)
    np.subtract(t, 1.0, out=tmp)
    np.multiply(out, tmp, out=out)
    np.add(out, t, out=out)
    np.multiply(out, sig, out=out)
    if a1 is not None:
        np.multiply(out, a1, out=out)
    return out


def _needs_careful(
    rho: F64, t: F64, ls: F64, a1sig: F64, kl: F64, scr: _Scratch
) -> NDArray[np.bool_]:
    r"""Elements of the fast region whose fast value is not proven to ~1e-13 relative.

    ``_k_gamma`` re-forms, by its careful forms, every element with close shapes
    (:math:`|\rho - 1| < 1/4`, where the middle term no longer bounds the error) or a
    small amplified log-ratio (:math:`|t| < 1/2`, :math:`a_1\sigma > 100`). Many of
    those are accurate already, and are kept here when

    * :math:`|t| \ge 0.1` and :math:`|\log\sigma| \le 10`: :math:`t` is formed with
      absolute error :math:`\delta_t \le 1.1\cdot10^{-16}(|\log\rho| + |\log\sigma|
      + |t| + 2) \le 2.5\cdot10^{-15}` (the logs, their arguments' rounding, the
      difference); the relative error of :math:`k(t)` is at most
      :math:`\delta_t\,|t|e^t/k(t) \le 21\,\delta_t` (the maximum of
      :math:`|t|e^t/k(t)` over :math:`|t| \ge 0.1` is 20.7, at :math:`t = 0.1`)
      plus the rounding of :math:`t + (t - 1)\,\mathrm{expm1}(t)`, three ulp of
      :math:`|t|` against :math:`k(t) \ge t^2/2.1`, i.e. :math:`1.4\cdot10^{-14}`:
      in all :math:`\le 7\cdot10^{-14}` relative for the first term;
    * and, for close shapes, the fast value is at least 1/4: then the middle term,
      :math:`\tfrac12(\rho - 1 - \log\rho)` with :math:`\rho` rounded once, is off
      by at most :math:`2.2\cdot10^{-16}|\rho - 1| < 10^{-16}` absolute, and the
      bracket of Stirling remainders by at most :math:`10^{-14}` absolute (3.9e-15 is
      the largest error in 3000 mpmath-checked close pairs over
      :math:`[10^{-3}, 10^6]`, at shapes near the shift point 8), so at most
      :math:`4\cdot10^{-14}` relative to the sum.

    Far shapes need no condition on the sum: the middle term is then at least 0.013
    (as in ``_k_gamma``).
    """
    fix = np.greater(rho, 1.0 - _REL)
    fix &= rho < 1.0 + _REL  # close shapes
    abs_t = np.abs(t, out=scr("abs_t"))
    amp = np.less(abs_t, 0.5)
    amp &= a1sig > 100.0
    small = np.less(kl, 0.05)
    small &= fix  # close shapes and a small sum: always careful
    fix |= amp
    safe = np.greater_equal(abs_t, 0.1)
    safe &= np.abs(ls, out=abs_t) <= 10.0
    fix &= ~safe
    fix |= small
    return fix


def fast_gamma_gamma(a1: F64, b1: F64, a2: F64, b2: F64, *, scratch: _Scratch) -> tuple[F64, Fix]:
    """Fast block of KL(Gamma(a1, b1) || Gamma(a2, b2)); see the module docstring."""
    scr = scratch
    rho, sig, lr, ls, t = scr("rho"), scr("sig"), scr("lr"), scr("ls"), scr("t")
    np.divide(a2, a1, out=rho)
    np.divide(b2, b1, out=sig)
    np.log(rho, out=lr)
    np.log(sig, out=ls)
    bad = _fast_region(scr, (a1, a2), b1, ls)
    np.subtract(lr, ls, out=t)
    out = scr("out")
    tmp = scr("tmp")
    _lead_into(a1, sig, t, out, tmp)
    # + (rho - 1 - log rho) / 2
    np.subtract(rho, 1.0, out=tmp)
    np.subtract(tmp, lr, out=tmp)
    np.multiply(tmp, 0.5, out=tmp)
    np.add(out, tmp, out=out)
    # + mu(a2) - mu(a1) + (a2 - a1) nu(a1), both mu from one stacked call
    x = scr("x", 2)
    mu = scr("mu", 2)
    nu = scr("nu")
    np.copyto(x[0], a1)
    np.copyto(x[1], a2)
    mu_nu_into(x, mu, nu, scr, k=2)
    np.subtract(a2, a1, out=tmp)
    np.multiply(tmp, nu, out=tmp)
    np.add(tmp, mu[1], out=tmp)
    np.subtract(tmp, mu[0], out=tmp)
    np.add(out, tmp, out=out)
    np.multiply(a1, sig, out=tmp)
    fix = _needs_careful(rho, t, ls, tmp, out, scr)
    if bad is not None:
        fix |= bad
    return out, fix


#: Stirling's remainders at 1 (Exponential = Gamma with shape 1), by the same arithmetic
_MU1, _NU1 = (float(v[0]) for v in S.mu_nu_fast(np.ones(1)) if v is not None)


def fast_exponential_gamma(r: F64, a2: F64, b2: F64, *, scratch: _Scratch) -> tuple[F64, Fix]:
    r"""Fast block of KL(Exponential(r) || Gamma(a2, b2)): :func:`fast_gamma_gamma` at ``a1 = 1``.

    With :math:`a_1 = 1`: :math:`\rho = a_2`, :math:`\sigma = b_2 / r`, and the bracket
    is :math:`\mu(a_2) - \mu(1) + (a_2 - 1)\nu(1)` with the constants :math:`\mu(1),
    \nu(1)` (formed once by the same arithmetic): one remainder per element.
    """
    scr = scratch
    sig, lr, ls, t = scr("sig"), scr("lr"), scr("ls"), scr("t")
    np.divide(b2, r, out=sig)
    np.log(a2, out=lr)
    np.log(sig, out=ls)
    bad = _fast_region(scr, (a2,), r, ls)
    np.subtract(lr, ls, out=t)
    out = scr("out")
    tmp = scr("tmp")
    _lead_into(None, sig, t, out, tmp)  # a1 = 1
    np.subtract(a2, 1.0, out=tmp)
    np.subtract(tmp, lr, out=tmp)
    np.multiply(tmp, 0.5, out=tmp)
    np.add(out, tmp, out=out)
    mu = scr("mu")
    mu_nu_into(a2, mu, None, scr)
    # (a2 - 1) nu(1) + mu(a2) - mu(1)
    np.subtract(a2, 1.0, out=tmp)
    np.multiply(tmp, _NU1, out=tmp)
    np.add(tmp, mu, out=tmp)
    np.subtract(tmp, _MU1, out=tmp)
    np.add(out, tmp, out=out)
    fix = _needs_careful(a2, t, ls, sig, out, scr)
    if bad is not None:
        fix |= bad
    return out, fix


def fast_gamma_exponential(a1: F64, b1: F64, r: F64, *, scratch: _Scratch) -> tuple[F64, Fix]:
    r"""Fast block of KL(Gamma(a1, b1) || Exponential(r)): :func:`fast_gamma_gamma` at ``a2 = 1``.

    With :math:`a_2 = 1`: :math:`\rho = 1/a_1`, :math:`\sigma = r / b_1`, and the
    bracket is :math:`\mu(1) - \mu(a_1) + (1 - a_1)\nu(a_1)`: one remainder pair per
    element, the constant :math:`\mu(1)` formed once by the same arithmetic.
    """
    scr = scratch
    rho, sig, lr, ls, t = scr("rho"), scr("sig"), scr("lr"), scr("ls"), scr("t")
    np.divide(1.0, a1, out=rho)
    np.divide(r, b1, out=sig)
    np.log(rho, out=lr)
    np.log(sig, out=ls)
    bad = _fast_region(scr, (a1,), b1, ls)
    np.subtract(lr, ls, out=t)
    out = scr("out")
    tmp = scr("tmp")
    _lead_into(a1, sig, t, out, tmp)
    np.subtract(rho, 1.0, out=tmp)
    np.subtract(tmp, lr, out=tmp)
    np.multiply(tmp, 0.5, out=tmp)
    np.add(out, tmp, out=out)
    mu, nu = scr("mu"), scr("nu")
    mu_nu_into(a1, mu, nu, scr)
    # (1 - a1) nu(a1) + mu(1) - mu(a1)
    np.subtract(1.0, a1, out=tmp)
    np.multiply(tmp, nu, out=tmp)
    np.add(tmp, _MU1, out=tmp)
    np.subtract(tmp, mu, out=tmp)
    np.add(out, tmp, out=out)
    np.multiply(a1, sig, out=tmp)
    fix = _needs_careful(rho, t, ls, tmp, out, scr)
    if bad is not None:
        fix |= bad
    return out, fix


_U = 2.0**-53  # unit roundoff
#: relative error bound below which a fast Gamma -> Normal value is kept
_GN_TOL = 1e-13


def fast_gamma_normal(a: F64, b: F64, m2: F64, s2: F64, *, scratch: _Scratch) -> tuple[F64, Fix]:
    r"""Fast block of KL(Gamma(a, b) || N(m2, s2)), with a per-element error bound.

    With :math:`z = (a/b - m_2)/s_2` and :math:`r = \sqrt a/(b s_2) = 1 + d` (the
    standardised difference of the means and the ratio of the standard deviations),

    .. math:: \mathrm{KL} = (r - 1 - \log r) + \tfrac12 (d^2 + z^2) + g(a),

    three non-negative terms, :math:`g(a) = \tfrac1{2a} - \mu(a) + (1 - a)\nu(a)` the
    entropy gap of :func:`~klproof.numeric._special.gamma_normal_gap` (the same
    arithmetic, in place; 3.7e-14 relative at worst). ``kl._k_gamma_normal`` forms
    :math:`z` and :math:`d` with error-free products (~45 passes), which only matters
    where they cancel. Here they are formed directly, and an element is kept only where
    that is proven harmless. With :math:`u = 2^{-53}`, parameters within
    :math:`[10^{-150}, 10^{150}]` (no underflow or overflow on the way), and
    ``np.log`` within :math:`4u` of its result (1.08 ulp is the largest error
    measured near 1, where :math:`\log r` is small):

    * :math:`\hat z = \mathrm{fl}(\mathrm{fl}(a/b) - m_2)/s_2` is off by
      :math:`e_z \le 1.01\,u\,(|a/b|/s_2 + 2|z|)` (three roundings), so
      :math:`\tfrac12 z^2` by at most :math:`e_z(|z| + e_z)`;
    * :math:`\hat r` carries three roundings, :math:`3u\,r`, and the :math:`r` terms
      :math:`f = r - 1 - \log r + \tfrac12 (r - 1)^2` have
      :math:`|r f'(r)| = |r^2 - 1|`, so they move by :math:`3u|d|(2 + d)`;
      :math:`d = r - 1` is exact for :math:`r \in [1/2, 2]` (Sterbenz), and
      :math:`(r - 1) - \log r` adds :math:`u|d| + 4u|\log r|`. For :math:`d > -1/2`,
      :math:`|\log r| \le 1.4|d|`: at most :math:`15u|d|(2 + |d|)` in all. For
      :math:`d \le -1/2` the :math:`r` terms are at least 0.3 and their error at most
      :math:`4u + 4u|\log r|`, a few ulp of their value.

    An element is kept when :math:`E = e_z(|z| + e_z) + 15u|d|(2 + |d|)` is at most
    :math:`10^{-13}` of the value; with the gap's 4e-14 and a few ulp for the sums,
    the kept values are accurate to 1.5e-13 relative (near :math:`d = 0` the bound
    keeps an element only where :math:`z^2` or the gap outweigh the cancellation in
    :math:`r - 1 - \log r`). NaN values, shapes outside :math:`[10^{-3}, 10^6]` (the
    gap's fast range) and parameters outside the range above go to the careful kernel.
    """
    scr = scratch
    out, tmp, z, d, ez = scr("out"), scr("tmp"), scr("z1"), scr("d1"), scr("ez")
    # z and its error bound
    np.divide(a, b, out=tmp)  # a / b > 0
    np.subtract(tmp, m2, out=z)
    np.divide(z, s2, out=z)
    np.divide(tmp, s2, out=ez)  # |a / b| / s2
    np.abs(z, out=tmp)
    np.multiply(tmp, 2.0, out=out)
    np.add(ez, out, out=ez)
    np.multiply(ez, 1.01 * _U, out=ez)  # e_z
    np.add(tmp, ez, out=tmp)  # |z| + e_z
    np.multiply(ez, tmp, out=ez)  # e_z (|z| + e_z)
    # r (into d for now), log r (into out), then d = r - 1
    np.multiply(b, s2, out=d)
    np.sqrt(a, out=tmp)
    np.divide(tmp, d, out=d)
    np.log(d, out=out)
    np.subtract(d, 1.0, out=d)
    # error bound E (into ez)
    np.abs(d, out=tmp)
    z2 = scr("z2")
    np.add(tmp, 2.0, out=z2)
    np.multiply(z2, tmp, out=z2)
    np.multiply(z2, 15.0 * _U, out=z2)
    np.add(ez, z2, out=ez)
    # value: (d - log r) + (d^2 + z^2) / 2 + gap
    np.subtract(d, out, out=out)
    np.multiply(d, d, out=tmp)
    np.multiply(z, z, out=z2)
    np.add(tmp, z2, out=tmp)
    np.multiply(tmp, 0.5, out=tmp)
    np.add(out, tmp, out=out)
    mu, nu = scr("mu"), scr("nu")
    mu_nu_into(a, mu, nu, scr)
    # gap = 1/(2a) - mu + (1 - a) nu, in gamma_normal_gap's order
    np.divide(0.5, a, out=tmp)
    np.subtract(tmp, mu, out=tmp)
    np.subtract(1.0, a, out=mu)
    np.multiply(mu, nu, out=mu)
    np.add(tmp, mu, out=tmp)
    np.add(out, tmp, out=out)
    # keep where E <= tol * value (a NaN value or bound is not kept)
    np.multiply(out, _GN_TOL, out=tmp)
    fix = np.less_equal(ez, tmp)
    np.logical_not(fix, out=fix)
    lo_a, hi_a = float(np.min(a)), float(np.max(a))
    lo_b = min(float(np.min(b)), float(np.min(s2)))
    hi_b = max(float(np.max(b)), float(np.max(s2)), float(np.max(np.abs(m2))))
    if not (lo_a >= _LO and hi_a <= _HI and lo_b >= 1e-150 and hi_b <= 1e150):
        fix |= ~((a >= _LO) & (a <= _HI))
        for v in (b, s2):
            fix |= ~((v >= 1e-150) & (v <= 1e150))
        fix |= ~(np.abs(m2) <= 1e150)
    return out, fix
