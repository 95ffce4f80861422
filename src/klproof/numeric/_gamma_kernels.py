r"""Lean block kernels for the Gamma pairs and Gamma -> Normal.

KL(Gamma || Gamma), Exponential <-> Gamma and Gamma -> Normal, with the closed forms
and accuracy arguments of :func:`klproof.numeric.kl._k_gamma` and
``kl._k_gamma_normal``, reorganised for speed, which on a cache-sized block is the
number of NumPy passes and calls (each pass ~0.13 ns per element, each call ~0.6 us):

* every pass writes into a scratch buffer allocated once per call (``out=``): the
  previous kernels allocated ~150 block-sized temporaries per block;
* Stirling's remainders come from the recurrence of
  :func:`~klproof.numeric._special.mu_nu_fast` with economised series, with
  :math:`\mu(a_1), \mu(a_2)` formed by one set of calls on the two shapes stacked:
  by :func:`mu_nu_into` (Gamma -> Exponential, Gamma -> Normal), or with their
  logarithms gathered across the terms (:func:`fast_gamma_gamma`, and
  :func:`_mu_into` for Exponential -> Gamma: four logarithms per element instead of
  seven and an ``expm1``);
* for Exponential -> Gamma and Gamma -> Exponential one shape is 1, and
  :math:`\mu(1), \nu(1)` are constants: one remainder per element;
* the elements whose fast value is not proven accurate (close shapes with a small sum,
  a small amplified log-ratio, parameters outside the fast range) are only *flagged*
  per block, gathered, and recomputed by a careful kernel in chunks
  (:func:`run_deferred`), so a block pays nothing for them but a mask.

Each fast Gamma value is the closed form of Penny (2001) as three non-negative terms,

.. math:: \mathrm{KL} = a_1 \sigma\, k(t) + \tfrac12(\rho - 1 - \log\rho)
   + \big[\mu(a_2) - \mu(a_1) + (a_2 - a_1)\,\nu(a_1)\big],

:math:`\rho = a_2/a_1`, :math:`\sigma = b_2/b_1`, :math:`t = \log\rho - \log\sigma`,
:math:`k(t) = t + (t - 1)\,\mathrm{expm1}(t)`, as in ``_k_gamma``: for shapes in
:math:`[10^{-3}, 10^6]` differing by a relative 1/4 or more (and not :math:`|t| < 1/2`
with :math:`a_1\sigma > 100`) the middle term is at least 0.013 and the others are
formed to a few 1e-15 absolute, so the sum is accurate to ~1e-13 relative; closer
shapes are kept under the conditions of :func:`_needs_careful`. Flagged elements go to
:func:`careful_gamma_gamma` / :func:`careful_exponential_gamma` (exact close-shape
forms) and from there to ``_k_gamma`` for everything else; Gamma -> Exponential and
Gamma -> Normal send them to ``_k_gamma`` and ``_k_gamma_normal``.
"""

from __future__ import annotations

import functools
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
#: the fast region's bounds on sigma (|log sigma| <= 230) and on the kept close shapes'
#: sigma (|log sigma| <= 10), as bounds on sigma itself
_SIG_LO, _SIG_HI = float(np.exp(-230.0)), float(np.exp(230.0))
_SIG_SAFE_LO, _SIG_SAFE_HI = float(np.exp(-10.0)), float(np.exp(10.0))
#: Stirling's series for mu(y) / (1/y) and nu(y) / (1/y^2) in u = 1/y^2, truncated at
#: 8 and 9 terms (those of ``_special.mu_nu_fast``), then Chebyshev-economised on
#: u in [0, 1/64] (y >= 8) to 6 terms each: ``Chebyshev`` series of the truncated
#: polynomial on that interval, cut after degree 5, converted back to powers of u
#: (numpy.polynomial). Largest difference from the truncated series for y >= 8, after
#: the factor 1/y (1/y^2): 6.9e-18 (7.4e-18), sampled at 2e5 points.
_MU_ECON = (
    0.0833333333333333,
    -0.0027777777776156628,
    0.0007936506711780919,
    -0.0005952040676590605,
    0.0008374306537200844,
    -0.0016580787025735557,
)
_NU_ECON = (
    0.08333333333333286,
    -0.008333333331168796,
    0.00396825233826102,
    -0.004166215707897651,
    0.00751883074764338,
    -0.017700097683668235,
)


#: the careful kernels hold up to ~100 float64 temporaries per element (quadrature
#: nodes of several arrays each): they take the flagged elements in chunks of at most
#: ``n // CAREFUL_SHARE`` (so that their temporaries stay below a quarter of the
#: output) and at most ``CAREFUL_CHUNK``: the quadrature's points go through
#: :func:`mu2` in cache-sized passes whatever the chunk, so longer chunks pay fewer
#: NumPy calls per element (the bench's Gamma pairs at N = 1e7: 1.95 ns per batch
#: element for their 1 % flagged elements in chunks of 8192, 3.25 in chunks of 2048)
CAREFUL_SHARE = 1000
CAREFUL_CHUNK = 8192
#: in the near mode (``_special.NEAR_RECHECK``) the careful chunks are at most
#: n / NEAR_SHARE elements (their ~350 bytes an element then take the place of the
#: released scratch buffers: measured peak 1.4 times the output)
NEAR_SHARE = 250
#: these kernels run ~130 NumPy calls per block, ~0.6 us of dispatch each: blocks of
#: twice the driver's size were 5% faster (4e6 Gamma pairs: 23.8 against 25.0 ns per
#: element, the working set then spills from L2 to L3 without a loss)
BLOCK_SCALE = 2


class _Scratch:
    """Block-sized float64 buffers by name, allocated on first use (one set per call)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.m = rows
        self._bufs: dict[str, F64] = {}
        self._bools: dict[str, NDArray[np.bool_]] = {}

    def __call__(self, name: str, k: int = 1) -> F64:
        key = f"{name}/{k}"
        buf = self._bufs.get(key)
        if buf is None:
            buf = np.empty((k, self.rows) if k > 1 else self.rows)
            self._bufs[key] = buf
        return buf[..., : self.m]

    def release(self) -> None:
        """Drop the buffers (allocated again on next use)."""
        self._bufs.clear()
        self._bools.clear()

    def bools(self, name: str, k: int = 1) -> NDArray[np.bool_]:
        """A block-sized boolean buffer (``k`` rows), like :meth:`__call__`."""
        key = f"{name}/{k}/bool"
        buf = self._bools.get(key)
        if buf is None:
            buf = np.empty((k, self.rows) if k > 1 else self.rows, dtype=bool)
            self._bools[key] = buf
        return buf[..., : self.m]


class _Pending:
    """Flagged elements' parameters, gathered per block while it is in cache.

    Gathering from the full arrays after the last block would miss the caches on every
    element; here each block's flagged parameters are copied out at once, and the
    careful kernel runs whenever ``chunk`` of them are pending (its results are
    scattered into the output, whose recent part is still cached).
    """

    def __init__(
        self,
        prepared: Sequence[NDArray[Any]],
        careful: Callable[..., F64],
        flat: NDArray[Any],
        chunk: int,
    ) -> None:
        self.scalar = [a if a.ndim == 0 else None for a in prepared]
        self.careful = careful
        self.flat = flat
        self.chunk = chunk
        self.idx: list[NDArray[np.intp]] = []
        self.args: list[list[F64]] = [[] for _ in prepared]
        self.count = 0

    def add(self, blk: Sequence[F64], idx: NDArray[np.intp], start: int) -> None:
        if not idx.size:
            return
        self.idx.append(idx + start)
        for k, a in enumerate(blk):
            if self.scalar[k] is None:
                self.args[k].append(a[idx])
        self.count += idx.size
        if self.count >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self.count:
            return
        idx = np.concatenate(self.idx)
        sub = [
            s if s is not None else np.concatenate(parts)
            for s, parts in zip(self.scalar, self.args, strict=True)
        ]
        # at most a chunk per call: a block wholly flagged (rows near the diagonal) is
        # larger, and the careful kernels' temporaries scale with their input
        for lo in range(0, idx.size, self.chunk):
            hi = lo + self.chunk
            part = [v if v.ndim == 0 else v[lo:hi] for v in sub]
            self.flat[idx[lo:hi]] = self.careful(*part)
        self.idx = []
        self.args = [[] for _ in self.scalar]
        self.count = 0


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
    ``batch_shape``; blocks have ``BLOCK_SCALE * block`` elements (fewer for small
    batches). ``fast(*blocks, scratch=...)`` returns ``(values, fix)``; the parameters
    of the elements where ``fix`` is true are gathered per block and passed to
    ``careful`` (elementwise, like the block kernels of ``kl``) whenever a chunk of
    them is pending (:class:`_Pending`). Extra memory: the scratch buffers, the
    pending chunk and the careful kernel's temporaries (see ``CAREFUL_SHARE``).
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
    # stays below a quarter of the output (peak extra memory <= 1.5x the output);
    # otherwise BLOCK_SCALE blocks of the driver's size (fewer Python calls per element)
    block = min(BLOCK_SCALE * block, max(256, n // 128))
    scratch = _Scratch(min(block, max(n, 1)))
    chunk = max(64, min(CAREFUL_CHUNK, n // CAREFUL_SHARE))
    near_chunk = max(chunk, min(CAREFUL_CHUNK, n // NEAR_SHARE))
    pending = _Pending(prepared, careful, flat, chunk)
    none_flagged = np.zeros(0, dtype=np.intp)
    every: NDArray[np.intp] | None = None  # a block's element numbers, once needed
    near_mode = False
    with np.errstate(all="ignore"):
        for i, start in enumerate(range(0, n, block)):
            stop = min(start + block, n)
            m = scratch.m = stop - start
            blk = [a if a.ndim == 0 else np.asarray(a[start:stop], np.float64) for a in prepared]
            if near_mode and i % S.NEAR_RECHECK:
                # elements near the diagonal: the fast block would flag them all, so
                # they go to the careful kernel directly (Gamma pairs moved by 1e-3:
                # the fast blocks were 23 % of the time); every NEAR_RECHECK-th block
                # is tested again
                if every is None:
                    every = np.arange(block)
                pending.add(blk, every[:m], start)
                continue
            vals, fix = fast(*blk, scratch=scratch)
            flat[start:stop] = vals
            idx = np.flatnonzero(fix) if fix is not None else none_flagged
            near_mode = S.mostly_flagged(idx.size, m)
            if near_mode:
                # the fast block's scratch (~30 rows of a block) is idle in this mode:
                # its memory goes to longer careful chunks (fewer NumPy calls each)
                scratch.release()
                pending.chunk = near_chunk
            else:
                pending.chunk = chunk
            pending.add(blk, idx, start)
        pending.flush()
    return out


#: ``sum(c_k x**k)`` into ``out``
_horner_into = S.horner_into


def mu_nu_into(x: F64, mu: F64, nu: F64 | None, scr: _Scratch, k: int = 1) -> None:
    r"""Write Stirling's remainders :math:`\mu(x)` (and :math:`\nu(x)` of ``x[0]``) in place.

    The recurrence and branch-free shift of :func:`~klproof.numeric._special.mu_nu_fast`
    (``y = x + 8 s``, ``s = [x < 8]``, :math:`P(x) = \prod_{k<8}(x + k)`), with two
    changes that save passes and add at most 1e-17 absolute:

    * the asymptotic series at ``y >= 8`` are Chebyshev-economised
      (:data:`_MU_ECON`, :data:`_NU_ECON`: 6 terms instead of 8 and 9; the economised
      polynomials differ from the truncated series by at most 6.9e-18 and 7.4e-18
      for ``y >= 8``, after the factors :math:`1/y` and :math:`1/y^2`, against their
      own truncation of 7.9e-17 and 2.3e-17);
    * :math:`\sum_{k<8} 1/(x + k) = (2x + 7)\, Q'(z)/Q(z)` with :math:`z = x(x + 7)`
      and :math:`P = Q(z) = z(z + 6)(z + 10)(z + 12)`,
      :math:`Q'(z) = 4z^3 + 84z^2 + 504z + 720` (positive terms: a few ulp), one
      division instead of four; and :math:`\tfrac12(1/x - 1/y) = 4/(xy)` where shifted.

    So the accuracy is that of ``mu_nu_fast``: a few ulp of ``max(1, |log x|)`` for
    :math:`\mu` and of ``1/x`` for :math:`\nu` below 8, a few ulp of the value (and
    at most 1e-17 absolute) above, for ``1e-3 <= x <= 1e6``: the kernels here use it
    only where an absolute error bound suffices. ``x`` and ``mu`` may be ``(k, m)``
    stacks of ``k`` arguments, all evaluated by the same calls; ``nu`` (shape
    ``(m,)``), if given, is formed for the first row only.
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
    _horner_into(inv2, _MU_ECON, mu)
    np.multiply(mu, inv, out=mu)
    x0, s0, inv0, inv20 = (x[0], s[0], inv[0], inv2[0]) if k > 1 else (x, s, inv, inv2)
    if nu is not None:
        _horner_into(inv20, _NU_ECON, nu)
        np.multiply(nu, inv20, out=nu)
    # P(x) = z (z + 6) (z + 10) (z + 12), z = x (x + 7), pairing (x + k)(x + 7 - k).
    # Unshifted elements compute finite values that the factor s zeroes exactly (and
    # log(y / x) = 0 there).
    z = scr("z", k)
    p = scr("p", k)
    w = inv2  # inv2 is no longer needed
    np.add(x, 7.0, out=z)
    np.multiply(z, x, out=z)
    np.add(z, 6.0, out=w)
    np.multiply(z, w, out=p)
    for c in (10.0, 12.0):
        np.add(z, c, out=w)
        np.multiply(p, w, out=p)
    acc = None
    if nu is not None:
        # sum_k 1/(x + k) = (2x + 7) Q'(z) / P, Q'(z) = ((4z + 84) z + 504) z + 720
        z0, p0 = (z[0], p[0]) if k > 1 else (z, p)
        acc = scr("acc")
        np.multiply(z0, 4.0, out=acc)
        np.add(acc, 84.0, out=acc)
        np.multiply(acc, z0, out=acc)
        np.add(acc, 504.0, out=acc)
        np.multiply(acc, z0, out=acc)
        np.add(acc, 720.0, out=acc)
        np.divide(acc, p0, out=acc)
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
        # nu(x) = nu(y) + s [sum_k 1/(x + k) - 4 / (x y)] - log(y / x)
        w0 = w[0] if k > 1 else w
        np.multiply(x0, 2.0, out=w0)
        np.add(w0, 7.0, out=w0)
        np.multiply(acc, w0, out=acc)
        np.divide(inv0, x0, out=w0)
        np.multiply(w0, 4.0, out=w0)
        np.subtract(acc, w0, out=acc)
        np.multiply(acc, s0, out=acc)
        np.add(nu, acc, out=nu)
        np.subtract(nu, lyx[0] if k > 1 else lyx, out=nu)


def _fast_region(scr: _Scratch, a: Sequence[F64], b1: F64, sig: F64) -> Fix:
    """Mask of elements outside the fast region (None when the whole block is inside).

    Shapes (``a``: arrays, or ``(k, m)`` stacks of them) in ``[1e-3, 1e6]``, ``b1`` in
    ``[1e-150, 1e150]``, ``|log sigma| <= 230`` (tested on ``sig`` itself), as in
    ``kl._k_gamma``; checked first by reductions (no mask when all are inside).
    """
    # ufunc reductions: np.min's Python wrapper cost ~1 us a call, 0.5 ns per element of
    # a block for the eight here
    mn, mx = np.minimum.reduce, np.maximum.reduce
    lo = min(float(mn(v, axis=None)) for v in a)
    hi = max(float(mx(v, axis=None)) for v in a)
    b_lo, b_hi = float(mn(b1, axis=None)), float(mx(b1, axis=None))
    s_lo, s_hi = float(mn(sig, axis=None)), float(mx(sig, axis=None))
    if (
        lo >= _LO
        and hi <= _HI
        and b_lo >= 1e-150
        and b_hi <= 1e150
        and _SIG_LO <= s_lo <= s_hi <= _SIG_HI
    ):
        return None
    bad = np.zeros(scr.m, dtype=bool)
    for v in a:
        for row in np.atleast_2d(v):  # a stack of shapes: row by row
            bad |= ~((row >= _LO) & (row <= _HI))  # NaN is outside
    bad |= ~((b1 >= 1e-150) & (b1 <= 1e150))
    bad |= ~((sig >= _SIG_LO) & (sig <= _SIG_HI))
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
    rho: F64, t: F64, sig: F64, a1sig: F64, kl: F64, scr: _Scratch
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
    (as in ``_k_gamma``). :func:`fast_gamma_gamma` and :func:`fast_exponential_gamma`
    form :math:`k` as :math:`E t - (E - 1)` with :math:`t = \log E` instead: its
    relative error for :math:`|t| \ge 0.1` is at most 1.2e-14 (see there), within the
    same allowance. ``sig`` is :math:`\sigma`, tested against :math:`e^{\pm 10}`.
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
    safe &= sig >= _SIG_SAFE_LO
    safe &= sig <= _SIG_SAFE_HI  # |log sigma| <= 10
    fix &= ~safe
    fix |= small
    return fix


def _c(x: float) -> F64:
    """A 0-d float64 array: a ufunc takes it faster than a Python float."""
    return np.asarray(x, dtype=np.float64)


#: _MU_ECON over its leading coefficient (monic: one Horner pass fewer); the leading
#: coefficient multiplies the difference of the two remainders instead
_MU_LEAD = _MU_ECON[-1]
_MU_MONIC = tuple(_c(v / _MU_LEAD) for v in _MU_ECON[:-1])
_NU_C = tuple(_c(v) for v in _NU_ECON)
_ONE, _HALF, _EIGHT = _c(1.0), _c(0.5), _c(8.0)
#: e^2 / 8: times c_8 = 8 s it is e^2 (exactly) or 0
_E2_8 = _c(float(np.exp(2.0)) / 8.0)
_C3, _C6, _C7, _C10, _C11, _C12, _C175 = (_c(v) for v in (3.0, 6.0, 7.0, 10.0, 11.0, 12.0, 1.75))


def _monic_into(u: F64, coeffs: Sequence[float | F64], out: F64) -> F64:
    """Write ``u**d + sum(c_k u**k)`` into ``out``, ``d = len(coeffs)``."""
    np.add(u, coeffs[-1], out=out)
    for c in coeffs[-2::-1]:
        np.multiply(out, u, out=out)
        np.add(out, c, out=out)
    return out


def shift_into(x: F64, sb: NDArray[np.bool_], c8: F64, yy: F64, inv: F64, u: F64) -> None:
    """Write the branch-free shift of Stirling's remainders and its powers.

    ``sb = [x < 8]``, ``c8 = 8 sb`` (the boolean viewed as uint8 times 8: two passes of
    0.05 and 0.18 ns/elt, where the bool -> float cast alone took 0.25), ``Y = x + c8``
    (``yy``), ``1/Y`` (``inv``) and ``u = 1/Y^2``. ``x`` may be a stack of rows.
    """
    np.less(x, _EIGHT, sb)
    np.multiply(sb.view(np.uint8), _EIGHT, c8)
    np.add(x, c8, yy)
    np.divide(_ONE, yy, inv)
    np.multiply(inv, inv, u)


def _shift_g_into(
    x: F64, u: F64, c8: F64, sb: NDArray[np.bool_], work: Sequence[F64], g: F64
) -> None:
    r"""Write :math:`G = 1/F`: :math:`(e^2 u)^4 P(x)` where shifted, exactly 1 elsewhere.

    :math:`P = z(z + 6)(z + 10)(z + 12) = AB`, :math:`z = x(x + 7)`. The shift enters
    as :math:`(e^2 s\,u)^4 P = Gs` with :math:`e^2 s = c_8 \cdot e^2/8` (:math:`e^2` or 0
    exactly: 8 is a power of 2), and :math:`1 - s` is added as the uint8 view of the
    negated mask ``sb`` (``sb = [x < 8]`` on entry, ``[x >= 8]`` on return): :math:`Gs + (1
    - s)` is exact. Two passes fewer than forming :math:`s = c_8/8`, :math:`Gs` and
    :math:`1 - s` (Beta: 42.8 against 33.5 us per 65536 elements). ``work`` is ``(z, A,
    B, P, scratch)``: the first four are left holding those values.
    """
    mul, add = np.multiply, np.add
    z, aa, bb, pp, w = work
    mul(c8, _E2_8, g)
    mul(g, u, g)
    mul(g, g, g)
    mul(g, g, g)  # (e^2 s u)^4 = s (e/Y)^8
    add(x, _C7, z)
    mul(z, x, z)
    add(z, _C6, w)
    mul(z, w, aa)
    add(z, _C10, w)
    add(z, _C12, bb)
    mul(w, bb, bb)
    mul(aa, bb, pp)
    mul(g, pp, g)  # G s
    np.logical_not(sb, sb)
    add(g, sb.view(np.uint8), g)  # + (1 - s)


def fast_gamma_gamma(a1: F64, b1: F64, a2: F64, b2: F64, *, scratch: _Scratch) -> tuple[F64, Fix]:
    r"""Fast block of KL(Gamma(a1, b1) || Gamma(a2, b2)); see the module docstring.

    The module's three terms, rearranged (as ``_beta_kernels._fast`` does for Beta) to
    four logarithms per element where they took seven (and an ``expm1``):

    * with :math:`E = \rho/\sigma = e^t`, :math:`t = \log E`, the lead term is
      :math:`a_1\sigma\,(E t - (E - 1))` (no ``expm1``; :math:`\log\sigma` is not
      formed: the range tests bound :math:`\sigma` itself);
    * :math:`\nu` enters as :math:`\tilde\nu(x) = \nu(x) + 1/(2x)`: the
      :math:`(a_2 - a_1)/(2a_1) = (\rho - 1)/2` this adds cancels the :math:`\rho - 1`
      of the middle term, which becomes :math:`-\tfrac12\log\rho`;
    * with :math:`Y = x + 8s`, :math:`s = [x < 8]`,
      :math:`\mu(x) = \mu^*(Y) + (x - \tfrac12)\log(Y/x) + s[\log(Y^8/P(x)) - 8]` and
      :math:`\tilde\nu(x) = \nu^*(Y) + 1/(2Y) + s H(x) - \log(Y/x)`
      (:func:`mu_nu_into`), the logarithms of :math:`Y/x` gather into
      :math:`(a_2 - \tfrac12)\log R`, :math:`R = Y_2 a_1/(a_2 Y_1)` (exactly 1 where
      neither shape is shifted), and the two shift logarithms into
      :math:`\log(G_1/G_2)` with :math:`G = 1/F = (e^2/Y^2)^4 P(x)` where shifted, 1
      elsewhere (exact blend);
    * :math:`\mu^*` is a monic polynomial (its leading coefficient :math:`L` multiplies
      the difference), the shift's 8s the boolean viewed as uint8 times 8.

    So :math:`\mathrm{KL} = a_1\sigma k + L(m_2 - m_1) + (a_2 - a_1)\tilde\nu(a_1)
    + (a_2 - \tfrac12)\log R + \log(G_1/G_2) - \tfrac12\log\rho` with the same terms'
    errors as before, a few 1e-15 absolute each (the :math:`\tilde\nu` term carries a
    few ulp of :math:`|\rho - 1|`, as :math:`(a_2 - a_1)\nu(a_1)` and
    :math:`\tfrac12(\rho - 1)` did together; :math:`\log R` three roundings where the two
    logarithms of :math:`Y/x` had two each). The lead term's relative error for
    :math:`|t| \ge 0.1`: :math:`E` carries three roundings, which enter :math:`k` times
    :math:`|t|E`, and the product and difference add an ulp of :math:`E|t|` and of
    :math:`|E - 1|`; as :math:`E|t|/k \le 21.4` and :math:`|E - 1|/k \le 21` there, at
    most ~110 ulp, 1.2e-14 (:func:`_needs_careful` allows 7e-14). Against 50-digit
    mpmath (1500 pairs each: the bench's, shapes and rates over wide ranges, shapes
    around 8, :math:`|t| < 0.12`, close shapes) the kept values' worst relative error
    is 2.8e-14 to 5e-14 per sample, as before (3.2e-14 to 5.9e-14), with the same
    elements kept. 25.0 -> 21.7 ns per element on the bench's blocks.
    """
    scr = scratch
    mul, add, sub, div, log = np.multiply, np.add, np.subtract, np.divide, np.log
    rho, sig, e, lr, t = scr("rho"), scr("sig"), scr("e"), scr("lr"), scr("t")
    div(a2, a1, rho)
    div(b2, b1, sig)
    div(rho, sig, e)
    log(rho, lr)
    log(e, t)
    # lead: a1 sigma (E t - (E - 1))
    out, tmp, a1sig = scr("out"), scr("tmp"), scr("a1sig")
    mul(e, t, out)
    sub(e, _ONE, tmp)
    sub(out, tmp, out)
    mul(a1, sig, a1sig)
    mul(out, a1sig, out)
    # the shapes stacked: one call per pass for both
    x = scr("x", 2)
    np.copyto(x[0], a1)
    np.copyto(x[1], a2)
    bad = _fast_region(scr, (x,), b1, sig)
    sb = scr.bools("sb", 2)
    c8, yy, inv, u, g = scr("c8", 2), scr("yy", 2), scr("inv", 2), scr("u", 2), scr("g", 2)
    shift_into(x, sb, c8, yy, inv, u)
    m = scr("m", 2)
    _monic_into(u, _MU_MONIC, m)
    mul(m, inv, m)  # mu*(Y) / _MU_LEAD
    sub(m[1], m[0], tmp)
    mul(tmp, _MU_LEAD, tmp)
    add(out, tmp, out)
    # (a2 - 1/2) log R, R = (Y2 a1) / (a2 Y1)
    r1 = scr("r1")
    mul(yy[1], a1, tmp)
    mul(a2, yy[0], r1)
    div(tmp, r1, tmp)
    log(tmp, tmp)
    sub(a2, _HALF, r1)
    mul(tmp, r1, tmp)
    add(out, tmp, out)
    z, aa, bb, w = scr("z", 2), scr("aa", 2), scr("bb", 2), scr("w", 2)
    pp = yy  # Y is no longer needed
    _shift_g_into(x, u, c8, sb, (z, aa, bb, pp, w), g)
    div(g[0], g[1], tmp)
    log(tmp, tmp)
    add(out, tmp, out)
    # - log(rho) / 2
    mul(lr, _HALF, tmp)
    sub(out, tmp, out)
    # (a2 - a1) nu~(a1): nu~ = (1/2 + h(u)/Y)/Y + s H, s H = c8 (x/2 + 7/4) N / P,
    # N = (z + 3) B + (z + 11) A
    nu, h, h2 = scr("nu"), scr("h"), scr("h2")
    _horner_into(u[0], _NU_C, nu)
    mul(nu, inv[0], nu)
    add(nu, _HALF, nu)
    mul(nu, inv[0], nu)
    add(z[0], _C3, h)
    mul(h, bb[0], h)
    add(z[0], _C11, h2)
    mul(h2, aa[0], h2)
    add(h, h2, h)
    mul(a1, _HALF, h2)
    add(h2, _C175, h2)
    mul(h2, c8[0], h2)
    mul(h, h2, h)
    div(h, pp[0], h)
    add(nu, h, nu)
    sub(a2, a1, tmp)
    mul(tmp, nu, tmp)
    add(out, tmp, out)
    fix = _needs_careful(rho, t, sig, a1sig, out, scr)
    if bad is not None:
        fix |= bad
    return out, fix


#: Stirling's remainders at 1 (Exponential = Gamma with shape 1), by the same arithmetic
_MU1, _NU1 = (float(v[0]) for v in S.mu_nu_fast(np.ones(1)) if v is not None)


def _mu_into(x: F64, out: F64, scr: _Scratch) -> F64:
    r"""Write Stirling's remainder :math:`\mu(x)` of one row ``x`` into ``out``.

    The pieces of :func:`fast_gamma_gamma` for one shape:
    :math:`\mu(x) = L\,m(Y) + (x - \tfrac12)\log(Y/x) - \log G`, with the shift
    :math:`Y = x + 8s`, the monic :math:`m = \mu^*/L` and :math:`G = (e^2/Y^2)^4 P(x)`
    where shifted, 1 elsewhere (exact blend). Two logarithms, where
    :func:`mu_nu_into` takes :math:`\log(Y^8/P)` and :math:`\log(Y/x)` and a few more
    passes.
    """
    mul, add, sub, div, log = np.multiply, np.add, np.subtract, np.divide, np.log
    sb = scr.bools("sb1")
    c8, yy, inv, u, g, w = (scr(name) for name in ("c8", "yy", "inv", "u", "g", "w"))
    shift_into(x, sb, c8, yy, inv, u)
    _monic_into(u, _MU_MONIC, out)
    mul(out, inv, out)
    mul(out, _MU_LEAD, out)  # mu*(Y)
    # (x - 1/2) log(Y/x)
    div(yy, x, w)
    log(w, w)
    sub(x, _HALF, inv)  # 1/Y is no longer needed
    mul(w, inv, w)
    add(out, w, out)
    # - log G
    _shift_g_into(x, u, c8, sb, (yy, inv, scr("bb"), scr("pp"), w), g)  # Y, x - 1/2: done
    log(g, g)
    sub(out, g, out)
    return out


def _mu_one_same() -> float:
    r""":math:`\mu(1)` by :func:`_mu_into`'s own arithmetic (so that it cancels exactly)."""
    scr = _Scratch(1)
    out = np.empty(1)
    _mu_into(np.ones(1), out, scr)
    return float(out[0])


#: mu(1) by _mu_into's arithmetic, and nu~(1) = nu(1) + 1/2 = Euler's gamma
_MU1_SAME = _mu_one_same()
_NU1_TILDE = _c(S.EULER_GAMMA)


def fast_exponential_gamma(r: F64, a2: F64, b2: F64, *, scratch: _Scratch) -> tuple[F64, Fix]:
    r"""Fast block of KL(Exponential(r) || Gamma(a2, b2)): :func:`fast_gamma_gamma` at ``a1 = 1``.

    With :math:`a_1 = 1`: :math:`\rho = a_2`, :math:`\sigma = b_2 / r`,
    :math:`E = a_2/\sigma`, and, as in :func:`fast_gamma_gamma`,

    .. math:: \mathrm{KL} = \sigma\,(E t - (E - 1)) + (a_2 - 1)\,\tilde\nu(1)
       - \tfrac12\log a_2 + \mu(a_2) - \mu(1),

    :math:`t = \log E`, :math:`\tilde\nu(1) = \nu(1) + \tfrac12 = \gamma` (Euler's
    constant), :math:`\mu(a_2)` from :func:`_mu_into` and :math:`\mu(1)` formed once by
    the same arithmetic: four logarithms per element where there were five and an
    ``expm1``.
    """
    scr = scratch
    mul, add, sub, div, log = np.multiply, np.add, np.subtract, np.divide, np.log
    sig, e, lr, t = scr("sig"), scr("e"), scr("lr"), scr("t")
    div(b2, r, sig)
    div(a2, sig, e)
    log(a2, lr)
    log(e, t)
    bad = _fast_region(scr, (a2,), r, sig)
    out, tmp = scr("out"), scr("tmp")
    mul(e, t, out)
    sub(e, _ONE, tmp)
    sub(out, tmp, out)
    mul(out, sig, out)  # sigma (E t - (E - 1))
    sub(a2, _ONE, tmp)
    mul(tmp, _NU1_TILDE, tmp)
    add(out, tmp, out)
    mul(lr, _HALF, tmp)
    sub(out, tmp, out)
    mu = scr("mu")
    _mu_into(a2, mu, scr)
    sub(mu, _MU1_SAME, mu)
    add(out, mu, out)
    fix = _needs_careful(a2, t, sig, sig, out, scr)
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
    bad = _fast_region(scr, (a1,), b1, sig)
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
    fix = _needs_careful(rho, t, sig, tmp, out, scr)
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


def lgamma1p_bregman(x1: F64, x2: F64) -> F64:
    r"""Return :math:`G(x_2) - G(x_1) - (x_2 - x_1)\,G'(x_1)`, :math:`G(x) = \log\Gamma(1 + x)`.

    The Bregman divergence of the convex :math:`G` (the linear :math:`\gamma x` of
    :func:`~klproof.numeric._special.lgamma1p_plus_gamma` drops out of it). Forming
    ``1.0 + x`` first, as SciPy's ``gammaln(1 + x)`` needs, rounds away the low bits of
    a small ``x``: an absolute error of :math:`0.58 \cdot 1.1\cdot10^{-16}` per term,
    which is 2e-12 of a KL of 1e-4 (Gamma shapes near 1e-3 with far rates). Here, for
    ``|x| < 0.1``, :math:`G(x) + \gamma x` is the zeta series of ``lgamma1p_plus_gamma``
    and :math:`G'(x) + \gamma = \sum_{j \ge 0} (-1)^j \zeta(j + 2)\, x^{j + 1}`
    (20 terms: truncation below :math:`0.1^{21}` relative), both formed from ``x``
    itself; elsewhere SciPy's ``digamma(1 + x)`` (the rounding of ``1 + x`` is then at
    most 1.1e-15 relative to ``x``).
    """
    special = S.scipy_special()
    x1 = np.atleast_1d(np.asarray(x1, dtype=np.float64))
    x2 = np.atleast_1d(np.asarray(x2, dtype=np.float64))
    g1 = S.lgamma1p_plus_gamma(x1)
    g2 = S.lgamma1p_plus_gamma(x2)
    dg = np.asarray(special.digamma(1.0 + x1) + S.EULER_GAMMA, dtype=np.float64)
    small = np.abs(x1) < 0.1
    if np.any(small):
        xs = x1[small]
        coef = tuple(c * (j + 2) for j, c in enumerate(S._zeta_coef(20)))  # zeta(j+2)(-1)^j
        dg[small] = xs * S._horner(xs, coef)
    return np.asarray(g2 - g1 - (x2 - x1) * dg, dtype=np.float64)


def _trigamma8(x: F64) -> F64:
    r"""Trigamma :math:`\psi'(x)`, ``x > 0``, with a branch-free shift by 8 (no loop, no pow).

    :math:`\psi'(x) = \sum_{k<8} (x + k)^{-2} + \psi'(x + 8)` where ``x < 8`` (the
    sum in pairs :math:`(x + k)^{-2} + (x + 7 - k)^{-2} = (2z + k^2 + (7 - k)^2)/(z +
    k(7 - k))^2`, :math:`z = x(x + 7)`), then the asymptotic series
    :math:`1/y + 1/(2y^2) + \sum_{k \le 10} B_{2k}/y^{2k+1}` at ``y >= 8`` (truncation
    below 1e-19 absolute). Every term is positive: a few ulp, like
    :func:`~klproof.numeric._special.trigamma` (whose loop of up to ten masked
    ``y**-2`` passes costs ~1 us per element).
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    s = (x < 8.0).astype(np.float64)
    y = x + 8.0 * s
    inv = 1.0 / y
    inv2 = inv * inv
    out = inv + 0.5 * inv2 + inv * inv2 * S._horner(inv2, S._BERNOULLI)
    if s.any():
        z = x * (x + 7.0)
        acc = np.zeros_like(x)
        for c, c2 in ((0.0, 49.0), (6.0, 37.0), (10.0, 29.0), (12.0, 25.0)):
            w = z + c
            acc += (2.0 * z + c2) / (w * w)
        out += s * acc
    return out


#: :math:`\mu''(Y) = \psi'(Y) - 1/Y - 1/(2Y^2) = r(u)/Y^3` on :math:`Y \ge 8`,
#: :math:`u = 1/Y^2`: :math:`r` interpolates :math:`Y^3\mu''(Y)` at the 8 Chebyshev nodes
#: of :math:`[0, 1/64]` (mpmath, 50 digits). Largest error relative to :math:`\mu''(Y)` on
#: :math:`Y \ge 8`: 5.6e-17 (tests/numeric/test_gamma_kernels.py), where 7 nodes leave
#: 8.8e-16 and the asymptotic series with 10 Bernoulli terms ~3e-14 at 8.
MU2_COEF = (
    0.16666666666666666,
    -0.03333333333330476,
    0.023809523770911365,
    -0.03333331335581846,
    0.07575246348177586,
    -0.2523946862734603,
    1.1093601965597248,
    -4.575304142113963,
)
#: points per pass of :func:`mu2`: its ~10 chunk-sized buffers (64 KB each) stay in cache
MU2_CHUNK = 8192


def _mu2_into(x: F64, out: F64, buf: F64, sb: NDArray[np.bool_]) -> None:
    """Write :func:`mu2` of ``x`` (1-d) into ``out``; ``buf`` is ``(8, x.size)`` scratch."""
    mul, add, div = np.multiply, np.add, np.divide
    half_s, y, inv, u, sq0, sq1, sq2, acc = buf
    np.less(x, 8.0, out=sb)
    mul(sb.view(np.uint8), 8.0, half_s)
    add(x, half_s, y)
    div(1.0, y, inv)
    mul(inv, inv, u)
    _horner_into(u, MU2_COEF, out)
    mul(out, u, out)
    mul(out, inv, out)  # mu''(Y)
    # s * sum_{k<8} 1/(2 q_k^2 q_{k+1}^2), q_k = x + k, in the pairs (k, k + 1) for even k:
    # (q_k^2 + q_{k+2}^2) / (q_k^2 q_{k+1}^2 q_{k+2}^2); on min(x, 8) (all q <= 16)
    xc = inv  # 1/Y is no longer needed
    np.minimum(x, 8.0, out=xc)
    mul(xc, xc, sq0)
    for k in (0.0, 2.0, 4.0, 6.0):
        add(xc, k + 1.0, sq1)
        mul(sq1, sq1, sq1)
        add(xc, k + 2.0, sq2)
        mul(sq2, sq2, sq2)
        mul(sq1, sq0, sq1)
        mul(sq1, sq2, sq1)
        add(sq0, sq2, u)
        if k == 0.0:
            div(u, sq1, acc)
        else:
            div(u, sq1, u)
            add(acc, u, acc)
        sq0, sq2 = sq2, sq0
    mul(half_s, 0.0625, half_s)  # s / 2
    mul(acc, half_s, acc)
    add(out, acc, out)


def mu2(x: F64) -> F64:
    r"""Return :math:`\mu''(x) = \psi'(x) - 1/x - 1/(2x^2)`, ``1e-150 <= x``, to a few ulp.

    :math:`\mu` is Stirling's remainder of :math:`\log\Gamma` (its second derivative is
    positive and decreasing). Branch-free, as :func:`_trigamma8`: at
    :math:`Y = x + 8s \ge 8`, :math:`s = [x < 8]`, the polynomial ``MU2_COEF``, and below 8
    the recurrence :math:`\mu''(x) - \mu''(x + 1) = 1/(2x^2(x + 1)^2)` (from
    :math:`\psi'(x) - \psi'(x + 1) = 1/x^2`), so

    .. math:: \mu''(x) = \mu''(Y) + s\sum_{k<8} \frac{1}{2\,q_k^2\,q_{k+1}^2},
       \qquad q_k = x + k,

    with the terms summed in pairs over a common denominator (four divisions). Every
    term is positive: a few ulp relative for every ``x``, where
    :math:`\tfrac12 - x + x^2\psi'(1 + x)` (the old integrand :math:`V(x) = x^2\mu''(x)`)
    cancels ~300 ulp near 10 and needs a series branch above.
    """
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(-1)
    n = flat.size
    out = np.empty(n)
    m = max(1, min(n, MU2_CHUNK))
    buf = np.empty((8, m))
    sb = np.empty(m, dtype=bool)
    for lo in range(0, n, m):
        hi = min(lo + m, n)
        _mu2_into(flat[lo:hi], out[lo:hi], buf[:, : hi - lo], sb[: hi - lo])
    return out.reshape(x.shape)


#: node counts of :func:`bregman_mu_fast` by the largest :math:`|d/x|` they serve (each
#: rule's error at its bound is below the integrand's rounding: see there)
_BREG_NODES = ((1e-3, 3), (0.01, 4), (0.03, 5), (0.1, 6), (np.inf, 8))
_BREG_BOUNDS = np.array([b for b, _ in _BREG_NODES[:-1]])
_BREG_COUNTS = tuple(n for _, n in _BREG_NODES)


@functools.cache
def _breg_rule(nodes: int) -> tuple[F64, F64]:
    """Gauss–Legendre nodes on [0, 1] and the weights times ``1 - tau``."""
    tau, w = S.gauss_legendre_01(nodes)
    return tau, w * (1.0 - tau)


def bregman_mu_fast(x: F64, d: F64) -> F64:
    r"""The Bregman divergence of Stirling's remainder :math:`\mu`, for ``|d| <= x/4``.

    :math:`\mu(x + d) - \mu(x) - d\,\mu'(x) = d^2\int_0^1 (1 - \tau)\,
    \mu''(x + \tau d)\,d\tau`, by Gauss–Legendre quadrature of :func:`mu2` (a positive
    integrand formed to a few ulp, so the relative error is the integrand's plus the
    rule's). The integrand's nearest singularity, the pole of :math:`\mu''` at 0, lies
    :math:`|x/d|` segment lengths away, so the rule's error falls like
    :math:`(|d/x|/4)^{2n}` with :math:`n` nodes: 3, 4, 5, 6 and 8 nodes up to
    :math:`|d/x|` = 1e-3, 0.01, 0.03, 0.1 and 1/4 (``_BREG_NODES``). Against 80-digit
    mpmath at each bound, shapes in :math:`[10^{-3}, 10^6]`: at most 7.7e-16 relative,
    where one node fewer is off by 1.4e-12 (3 at 0.01), 3.3e-14 (4 at 0.03), 2.3e-13
    (5 at 0.1) and 9.3e-14 (7 at 1/4). Before, the integrand was
    :math:`(\tfrac12 - x + x^2\psi'(1 + x))/x^2`, which cancels ~300 ulp near 10
    (5.1e-14 at worst), with a series branch above 10 and 5 or 8 nodes. All classes'
    points go through one call of :func:`mu2` (per class, the ~2000 flagged elements of
    a careful chunk took ~6 calls of its ~45 NumPy calls each).
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    d = np.atleast_1d(np.asarray(d, dtype=np.float64))
    out = np.empty_like(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(d / x)
    # the class: how many bounds the ratio exceeds (NaN: none, so it is given the
    # largest rule below); comparisons cost a fifth of np.searchsorted here
    cls = np.zeros(x.shape, dtype=np.int8)
    for bound in _BREG_BOUNDS:
        cls += ratio > bound
    cls[np.isnan(ratio)] = len(_BREG_COUNTS) - 1
    groups = []
    parts = []
    for c, nodes in enumerate(_BREG_COUNTS):
        idx = np.flatnonzero(cls == c)
        if idx.size:
            tau, wt = _breg_rule(nodes)
            pts = tau[:, None] * d[idx]
            pts += x[idx]
            groups.append((idx, wt))
            parts.append(pts.reshape(-1))
    vals = mu2(np.concatenate(parts)) if parts else np.empty(0)
    start = 0
    for idx, wt in groups:
        stop = start + wt.size * idx.size
        ds = d[idx]
        out[idx] = (wt @ vals[start:stop].reshape(wt.size, idx.size)) * (ds * ds)
        start = stop
    return out


@functools.cache
def _shape_series() -> tuple[float, ...]:
    r"""Coefficients :math:`c_k = \zeta(k)/k - 1/(k(k - 1))`, :math:`k = 2, \dots, 28`."""
    special = S.scipy_special()
    return tuple(float(special.zeta(k)) / k - 1.0 / (k * (k - 1)) for k in range(2, 29))


def careful_exponential_gamma(r: F64, a2: F64, b2: F64, fallback: Callable[..., F64]) -> F64:
    r"""KL(Exponential(r) || Gamma(a2, b2)) where the fast form is not proven accurate.

    For shapes :math:`a_2 = 1 + d`, :math:`|d| < 1/4` (and rates in
    :math:`[10^{-150}, 10^{150}]`), exactly

    .. math:: \mathrm{KL} = \sigma\,k(t) + S(d),\qquad
       S(d) = \log\Gamma(1 + d) + \gamma d - (1 + d)\log(1 + d) + d
       = \sum_{k \ge 2} \Big(\frac{\zeta(k)}{k} - \frac{1}{k(k - 1)}\Big)(-d)^k,

    with :math:`\sigma = b_2/r` and :math:`e^t = a_2/\sigma`: :math:`S` is the sum of the
    last two terms of the module's form at :math:`a_1 = 1` (the series of
    :math:`\log\Gamma(1 + d) + \gamma d` and of :math:`(1 + d)\log(1 + d) - d`), a
    function of :math:`d` alone, summed to 27 terms (truncation below 1e-17 relative
    for :math:`|d| \le 1/4`; :math:`d = a_2 - 1` is exact there, Sterbenz). Its terms
    alternate for :math:`d > 0` with decreasing size, so it keeps full relative
    accuracy down to :math:`d \to 0`. The first term is
    :func:`~klproof.numeric._special.kl_atom` on the exact
    :math:`a_2 r - b_2` (error-free product), as in ``kl._k_gamma``'s close-shape
    path. This replaces that path's quadrature of the Stirling remainder (~400 ns per
    element). Everything else goes to ``fallback`` (``kl._k_gamma``).
    """
    r, a2, b2 = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(v, np.float64)) for v in (r, a2, b2))
    )
    out = np.empty(a2.shape)
    d = a2 - 1.0
    close = np.abs(d) < _REL
    for v in (r, b2):
        close &= (v >= 1e-150) & (v <= 1e150)
    if np.any(close):
        rr, x2, y2, dd = r[close], a2[close], b2[close], d[close]
        hi, lo = S.two_prod(x2, rr)
        det = (hi - y2) + lo  # a2 r - b2 to a few ulp
        lead = S.kl_atom(x2, y2 / rr, det / rr)
        out[close] = lead + dd * dd * S._horner(-dd, _shape_series())
    rest = ~close
    if np.any(rest):
        out[rest] = fallback(np.ones(()), r[rest], a2[rest], b2[rest])
    return out


def careful_gamma_gamma(a1: F64, b1: F64, a2: F64, b2: F64, fallback: Callable[..., F64]) -> F64:
    r"""KL(Gamma(a1, b1) || Gamma(a2, b2)) where the fast form is not proven accurate.

    For close shapes (:math:`|a_2/a_1 - 1| < 1/4`) in the fast region, the close-shape
    path of ``kl._k_gamma`` without its recomputation of the fast form: the first two
    terms from the exact determinant :math:`a_2 b_1 - a_1 b_2` (error-free products,
    :func:`~klproof.numeric._special.kl_atom`,
    :func:`~klproof.numeric._special.rm1mlog`), and the bracket of Stirling remainders
    by quadrature (:func:`bregman_mu_fast`) for every such element — ``_k_gamma`` does
    so where the first two terms are below 0.1 and otherwise keeps the fast bracket
    (1e-14 absolute); the quadrature is accurate to ~1e-13 relative in either case.
    Everything else goes to ``fallback`` (``kl._k_gamma``).
    """
    a1, b1, a2, b2 = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(v, np.float64)) for v in (a1, b1, a2, b2))
    )
    out = np.empty(a1.shape)
    rho = a2 / a1
    close = (rho > 1.0 - _REL) & (rho < 1.0 + _REL)
    for v in (a1, a2):
        close &= (v >= _LO) & (v <= _HI)
    close &= (b1 >= 1e-150) & (b1 <= 1e150)
    close &= np.abs(np.log(b2 / b1)) <= 230.0
    if np.any(close):
        x1, y1, x2, y2 = a1[close], b1[close], a2[close], b2[close]
        hi1, lo1 = S.two_prod(x2, y1)
        hi2, lo2 = S.two_prod(x1, y2)
        det = (hi1 - hi2) + (lo1 - lo2)  # a2 b1 - a1 b2 to a few ulp
        lead = x1 * S.kl_atom(rho[close], y2 / y1, det / x1 / y1) + 0.5 * S.rm1mlog(x2, x1)[0]
        out[close] = lead + bregman_mu_fast(x1, x2 - x1)
    rest = ~close
    if np.any(rest):
        out[rest] = fallback(a1[rest], b1[rest], a2[rest], b2[rest])
    return out
