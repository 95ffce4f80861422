r"""Fast block kernels for Gumbel–Gumbel, Geometric–Geometric, Normal–Laplace, Categorical.

Each kernel takes float64 blocks (and ``bufs``, block-sized scratch arrays that the block
driver :func:`klproof.numeric.kl._run` allocates once) and returns the KL of the block.
They replace special-function calls (SciPy's ``gammaln`` and ``erf`` cost 15-25 ns per
element) by short NumPy polynomials whose accuracy argument is written in each docstring,
and keep a careful kernel for the rare elements that the fast form does not cover (those
are recomputed, so the fast form only has to be right where it is used).

Polynomial coefficients were fitted against 40-digit mpmath values (weighted least squares
at Chebyshev nodes) and checked on a 3001- or 4001-point grid; the approximation errors
quoted are those maxima, well below the float64 rounding of the evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from klproof.numeric import _special as S

F64 = NDArray[np.float64]


_buffers = S.buffers


_horner_into = S.horner_into


def _redo(
    careful: Callable[..., F64], out: F64, bad: NDArray[np.bool_], args: tuple[F64, ...]
) -> F64:
    """Recompute ``out`` with ``careful`` where ``bad`` (args broadcast to ``out``)."""
    if bad.any():
        idx = np.flatnonzero(bad)
        out[idx] = careful(*(np.broadcast_to(a, out.shape)[idx] for a in args))
    return out


# -- Geometric ------------------------------------------------------------------------

# phi(u) = (1 + u) log1p(u) - u = u^2 sum_{k>=0} (-u)^k / ((k + 1)(k + 2)) for |u| < 1
_PHI_COEF = tuple((-1.0) ** k / ((k + 1) * (k + 2)) for k in range(13))
_PHI_SMALL = 0.05


def _phi_into(u: F64, out: F64, tmp: F64) -> F64:
    r"""Write :math:`\varphi(u) = (1 + u)\log(1 + u) - u \ge 0` (``u >= -1``) into ``out``.

    Direct form for :math:`|u| \ge 0.05`: the rounding errors, a few ulp of
    :math:`(1 + u)|\log(1 + u)| + |u| \le 2.2|u|` against :math:`\varphi(u) \ge 0.48 u^2`
    there, are below :math:`5\epsilon/|u| \le 100\epsilon` relative. Below 0.05 the Taylor
    series :math:`u^2\sum_{k<13} (-u)^k/((k+1)(k+2))` (alternating; the first omitted term
    is :math:`< 0.05^{13}/210 < 10^{-18}` of the sum). ``u = -1`` gives NaN (0 log 0),
    ``u = +inf`` gives NaN (inf - inf): the callers recompute those.
    """
    np.log1p(u, out=tmp)
    np.add(u, 1.0, out=out)
    out *= tmp
    out -= u
    np.abs(u, out=tmp)
    small = tmp < _PHI_SMALL
    if small.any():
        idx = np.flatnonzero(small)
        us = u[idx]
        out[idx] = us * us * S._horner(us, _PHI_COEF)
    return out


@_buffers(9)
def geometric_probs_careful(p: F64, q: F64, *, bufs: list[F64]) -> F64:
    r"""KL(Geometric(p) || Geometric(q)) = KL(Bernoulli)/p, scaled before the products.

    The careful kernel: each atom's :math:`q\,k(t)` (:func:`~klproof.numeric._special.q_k_into`),
    with :math:`\log(p/q)` from the exact difference, divided by ``p`` first so that
    nothing underflows; it keeps the conventions at the support's edges.
    """
    pc, qc, diff, t, o1, o2, tmp, qs, ones = bufs
    np.subtract(1.0, p, out=pc)
    np.subtract(1.0, q, out=qc)
    np.subtract(p, q, out=diff)
    S.log1p_ratio_into(p, q, diff, t)
    np.divide(q, p, out=qs)
    np.divide(p, p, out=ones)
    S.q_k_into(qs, ones, t, o1, tmp)
    np.negative(diff, out=diff)
    S.log1p_ratio_into(pc, qc, diff, t)
    np.divide(qc, p, out=qs)
    np.divide(pc, p, out=ones)
    S.q_k_into(qs, ones, t, o2, tmp)
    np.add(o1, o2, out=o1)
    return o1


def _geometric_careful(p: F64, q: F64) -> F64:
    return geometric_probs_careful(p, q, bufs=[np.empty(p.size) for _ in range(9)])


@_buffers(5)
def geometric_probs(p: F64, q: F64, *, bufs: list[F64]) -> F64:
    r"""KL(Geometric(p) ‖ Geometric(q)) from probabilities, in about 20 passes.

    With :math:`\delta = p - q`, :math:`u_1 = \delta/q`, :math:`u_2 = -\delta/(1 - q)` and
    :math:`\varphi(u) = (1 + u)\log(1 + u) - u \ge 0` (:func:`_phi_into`),

    .. math:: \mathrm{KL} = \frac{q\,\varphi(u_1) + (1 - q)\,\varphi(u_2)}{p},

    since :math:`q\varphi(u_1) = p\log(p/q) - \delta` and
    :math:`(1-q)\varphi(u_2) = (1-p)\log\frac{1-p}{1-q} + \delta`. Both terms are
    non-negative, so no digits cancel between them; :math:`\varphi` is evaluated to
    :math:`\le 100\epsilon` relative, and its condition number
    :math:`u\varphi'(u)/\varphi(u) = u\log(1+u)/\varphi(u)` is at most 2, so the
    roundings of :math:`\delta/q` (and of :math:`1 - q`) cost a few ulp. Where
    :math:`1 + u_1 = p/q` is below :math:`\epsilon`, :math:`(1 + u_1)\log(1 + u_1)` is
    tiny in absolute terms (:math:`\le 37\epsilon`) against :math:`\varphi \approx 1`.
    The weights :math:`q/p` and :math:`(1-q)/p` multiply :math:`\varphi` last, so that a
    tiny ``p`` (down to 1e-300) does not underflow the products. Elements where the form
    gives NaN or infinity (``p/q`` rounding to 0, a zero or subnormal ``q`` or ``1 - q``,
    overflow) are recomputed by
    :func:`geometric_probs_careful`.
    """
    d, u, qc, o, tmp = bufs
    np.subtract(p, q, out=d)
    np.divide(d, q, out=u)
    _phi_into(u, o, tmp)
    np.divide(q, p, out=tmp)
    o *= tmp  # (q/p) phi(u1)
    np.subtract(1.0, q, out=qc)
    np.divide(d, qc, out=u)
    np.negative(u, out=u)
    _phi_into(u, d, tmp)
    np.divide(qc, p, out=tmp)
    d *= tmp  # ((1 - q)/p) phi(u2)
    o += d
    return _redo(_geometric_careful, o, ~(o < np.inf), (p, q))


@_buffers(5)
def binomial_probs(n: F64, p: F64, q: F64, *, careful: Callable[..., F64], bufs: list[F64]) -> F64:
    r"""KL(Binomial(n, p) ‖ Binomial(n, q)) from probabilities, in about 20 passes.

    The form of :func:`geometric_probs` without the division by ``p``:

    .. math:: \mathrm{KL} = n\,\big[q\,\varphi(u_1) + (1 - q)\,\varphi(u_2)\big],
       \qquad u_1 = \frac{p - q}{q},\quad u_2 = -\frac{p - q}{1 - q},

    two non-negative terms with the same error argument (each :math:`\varphi` to
    :math:`\le 100\epsilon` relative, condition number at most 2), so the result is
    accurate to a few hundred ulp everywhere, near the diagonal included, with no
    rounding-bound test and no recomputation of close pairs. Elements where the form
    gives NaN or infinity (``p`` or ``q`` at 0 or 1, ``p/q`` overflowing) are recomputed
    by ``careful``, the kernel that keeps the conventions at the support's edges; a
    finite value times ``n = 0`` is the exact 0.
    """
    d, u, qc, o, tmp = bufs
    np.subtract(p, q, out=d)
    np.divide(d, q, out=u)
    _phi_into(u, o, tmp)
    o *= q
    np.subtract(1.0, q, out=qc)
    np.divide(d, qc, out=u)
    np.negative(u, out=u)
    _phi_into(u, d, tmp)
    d *= qc
    o += d
    o *= n
    return _redo(careful, o, ~(o < np.inf), (n, p, q))


# -- Gumbel ---------------------------------------------------------------------------

# Q(d) = (lgamma(2 + d) - (1 - gamma) d) / d^2 on d in [-1/2, 1], as a polynomial in
# x = (d - 1/4) / (3/4); max relative error 6e-17 (weighted least squares, degree 20)
_LG2_COEF = (
    0.30681009788447694,
    -0.043715009003652244,
    0.008980368343619411,
    -0.002154558757884111,
    0.0005625393928922202,
    -0.00015473865847878609,
    4.40687327839821e-05,
    -1.2860880063002964e-05,
    3.821099173365968e-06,
    -1.1508086496189263e-06,
    3.502849197929212e-07,
    -1.0753781309634745e-07,
    3.324069959678914e-08,
    -1.0313499142894168e-08,
    3.2216788125634607e-09,
    -1.0375515297813112e-09,
    3.2699723433986685e-10,
    -8.197691356557724e-11,
    2.5821003398084927e-11,
    -1.76691653562786e-11,
    5.653407931093793e-12,
)
# Stirling: mu(y) = sum_k B_2k / (2k (2k - 1)) y^(1 - 2k), 8 terms (y >= 9: < 2e-17)
_MU_COEF = tuple(b / ((2 * k + 2) * (2 * k + 1)) for k, b in enumerate(S._BERNOULLI[:8]))
_HALF_LOG_2PI = 0.5 * S.LOG_2PI
_EXP_OVERFLOW = 709.8  # exp(x) overflows float64 beyond log(max float) = 709.78


def _lgamma1p_into(r: F64, out: F64, y: F64, t: F64, u: F64) -> F64:
    r"""Write :math:`\log\Gamma(1 + r)` into ``out`` for ``0 < r < 1e300`` (Stirling).

    With :math:`x = 1 + r` and :math:`y = x + 8[x < 8] \ge 8`,

    .. math:: \log\Gamma(x) = (y - \tfrac12)\log y - y + \tfrac12\log 2\pi + \mu(y)
              - [x < 8]\,\log\prod_{k<8}(x + k),

    :math:`\mu(y) = \sum_{k=1}^{8} \frac{B_{2k}}{2k(2k-1)} y^{1-2k}` (the first omitted
    term is below 2e-17 at :math:`y \ge 9`, and the series' error is below it). The
    product is :math:`z(z+6)(z+10)(z+12)` with :math:`z = x_8(x_8 + 7)`,
    :math:`x_8 = 1 + rs` (:math:`x` when shifted, else 1: finite, and multiplied by 0).
    The absolute error is a few ulp of the largest term, :math:`(y - \tfrac12)\log y`:
    below 3e-14 for :math:`x < 8` (terms below 45) and a few ulp of
    :math:`x\log x` above; the callers use it where that suffices (see :func:`gumbel`).
    """
    x = out
    np.add(r, 1.0, out=x)
    np.less(x, 8.0, out=u)  # shift indicator s in {0, 1}
    np.multiply(r, u, out=t)
    t += 1.0  # x8 = 1 + r s: x when shifted, 1 otherwise (finite P)
    np.multiply(u, 8.0, out=y)
    y += x  # y = x + 8 s
    # log P(x) s, P = z (z + 6)(z + 10)(z + 12), z = x8 (x8 + 7)
    np.add(t, 7.0, out=out)
    t *= out  # z
    np.add(t, 6.0, out=out)
    out *= t
    t += 10.0
    out *= t
    t += 2.0
    out *= t
    np.log(out, out=out)
    u *= out  # s log P
    # (y - 1/2) log y - y + log(2 pi)/2 - s log P, into u
    np.log(y, out=t)
    y -= 0.5
    t *= y
    y += 0.5
    np.subtract(t, u, out=u)
    u -= y
    u += _HALF_LOG_2PI
    # mu(y) = inv * poly(inv^2)
    np.divide(1.0, y, out=t)
    np.multiply(t, t, out=out)
    _horner_into(out, _MU_COEF, y)
    y *= t
    np.add(u, y, out=out)
    return out


def _gumbel_careful(m1: F64, b1: F64, m2: F64, b2: F64) -> F64:
    """Gumbel KL through SciPy's ``gammaln`` (the former kernel; rare elements only)."""
    special = S.scipy_special()
    d = np.atleast_1d((b1 - b2) / b2)
    r = np.atleast_1d(b1 / b2)
    z = (m1 - m2) / b2
    s = S.lgamma1p_plus_gamma(d)
    lg1r = np.log1p(d) + s - S.EULER_GAMMA * d
    far = d < -0.5
    if np.any(far):
        rf = r[far]
        s[far] = special.gammaln(rf) + S.EULER_GAMMA * (rf - 1.0)
        lg1r[far] = special.gammaln(1.0 + rf)
        tiny = far & (r < 1e-300)  # r (under)flows (scales 1e-133, 1e218): log Gamma(r)
        if np.any(tiny):  # = -log r - gamma r + O(r^2), with log r from the scales
            b1t, b2t = (np.broadcast_to(v, r.shape)[tiny] for v in (b1, b2))
            s[tiny] = -S.log_ratio(b1t, b2t) - S.EULER_GAMMA
    w = lg1r - z
    return np.asarray(s + S.expm1mx(w), dtype=np.float64)


#: float64's smallest normal number
_TINY = float(np.finfo(np.float64).tiny)


@_buffers(7)
def gumbel(m1: F64, b1: F64, m2: F64, b2: F64, *, bufs: list[F64]) -> F64:
    r"""KL(Gumbel(m1, b1) ‖ Gumbel(m2, b2)) without SciPy on the common range.

    With :math:`r = b_1/b_2`, :math:`d = r - 1`, :math:`z = (m_1 - m_2)/b_2` and
    :math:`L = \log\Gamma(1 + r)`,

    .. math:: \mathrm{KL} = \underbrace{\log\Gamma(r) + \gamma d}_{s \,\ge\, 0}
              + \underbrace{e^{w} - 1 - w}_{E \,\ge\, 0}, \qquad w = L - z,

    :math:`s = L - \log r + \gamma d`. Two sums of non-negative terms, so the relative
    error is at most that of :math:`s` or :math:`E`.

    *Near* :math:`r \in [\tfrac12, 2]`: :math:`L = (1 - \gamma)d + d^2 Q(d)` and
    :math:`s = (d - \log(1 + d)) + d^2 Q(d)` with :math:`Q` the degree-20 polynomial
    :data:`_LG2_COEF` (relative error 6e-17; :math:`d^2Q(d) = \log\Gamma(2 + d) -
    (1-\gamma)d` is convex with zero value and slope at 0), both terms non-negative; ``d``
    is exact there (Sterbenz) and :math:`d - \log(1+d)` uses a series for
    :math:`|d| < 0.01`, so :math:`s` has a few ulp of relative error however small ``d``
    is, and :math:`E` is :func:`~klproof.numeric._special.expm1mx` (as the former kernel).

    *Elsewhere* (:math:`r < \tfrac12` or :math:`r > 2`): :math:`L` by Stirling's series
    (:func:`_lgamma1p_into`, absolute error :math:`\delta_L \le 3\times10^{-14}` for
    :math:`r < 7`, a few ulp of :math:`r\log r` above) and :math:`s \ge 0.28` there.
    An error :math:`\delta_L` moves :math:`s` by :math:`\delta_L` and :math:`E` by
    :math:`|e^w - 1|\delta_L`; as :math:`|e^w - 1| \le E + |w|` and
    :math:`|w| \le (s + w^2/2)/\sqrt{2s}`, the relative error is below
    :math:`\delta_L(1 + 1/\sqrt{2s}) + \delta_L \le 3\delta_L` plus the roundings of
    :math:`E = (e^w - 1) - w` (a few ulp of :math:`e^w + 1 + |w|`, against
    :math:`K \ge 0.28 + E`). For large :math:`r` the relative error of :math:`e^w` is
    :math:`\delta_L`, a few ulp of :math:`r\log r` — inherent: :math:`z`'s own rounding
    does as much.

    Where :math:`w > 709.8`, :math:`E > e^w/2` exceeds the float64 range and the result
    is ``+inf``. Other elements with a non-finite result (:math:`r` rounding to 0,
    infinite parameters) are recomputed by :func:`_gumbel_careful` (SciPy ``gammaln``),
    which keeps the former kernel's results there.
    """
    r, z, s, o, y, t, u = bufs
    np.divide(b1, b2, out=r)
    # r below the normal range has lost bits, and so has its log (3.8e-10 at 3.7e-318):
    # those rows go to the careful kernel (one reduction; r's buffer is reused below)
    sub = np.flatnonzero(r < _TINY) if r.size and r.min() < _TINY else None
    np.subtract(m1, m2, out=z)
    z /= b2
    L = _lgamma1p_into(r, o, y, t, u)
    # s = L - log r + gamma (r - 1)
    np.log(r, out=s)
    np.subtract(L, s, out=s)
    np.subtract(r, 1.0, out=t)
    t *= S.EULER_GAMMA
    s += t
    # E = (e^w - 1) - w, w = L - z
    np.subtract(L, z, out=y)
    np.exp(y, out=t)
    t -= 1.0
    t -= y
    np.add(s, t, out=o)
    # near r = 1: s and E from the polynomial
    np.subtract(r, 1.25, out=t)
    np.abs(t, out=t)
    near = t <= 0.75
    if near.any():
        idx = np.flatnonzero(near)
        k = idx.size
        dn, x, q, w = (b[:k] for b in (r, s, t, u))  # free from here; y keeps w
        b2n = np.broadcast_to(b2, r.shape)[idx]
        np.subtract(np.broadcast_to(b1, r.shape)[idx], b2n, out=dn)
        dn /= b2n  # exact difference (Sterbenz), one rounding
        np.subtract(dn, 0.25, out=x)
        x *= 4.0 / 3.0
        _horner_into(x, _LG2_COEF, q)
        q *= dn
        q *= dn  # R = d^2 Q(d) = log Gamma(2 + d) - (1 - gamma) d
        np.multiply(dn, 1.0 - S.EULER_GAMMA, out=w)
        w += q  # L
        w -= z[idx]  # w = L - z
        sn = S.dm_log1p(dn)  # d - log1p(d) (series below 0.01)
        sn += q
        sn += S.expm1mx(w)
        o[idx] = sn
    bad = ~(o < np.inf)
    if sub is not None:
        bad[sub] = True
    if bad.any():
        idx = np.flatnonzero(bad)
        b1i, b2i = (np.broadcast_to(v, o.shape)[idx] for v in (b1, b2))
        ri = b1i / b2i
        # e^w overflows, or r does (s ~ r log r): the KL exceeds float64's range (s may be
        # inf - inf = NaN there)
        over = (y[idx] > _EXP_OVERFLOW) | (ri == np.inf)
        o[idx[over]] = np.inf
        bad[idx] = ~over & (~(o[idx] < np.inf) | (ri < _TINY))
    return _redo(_gumbel_careful, o, bad, (m1, b1, m2, b2))


# -- Normal -> Laplace ----------------------------------------------------------------

# H(z) ~ h(z) = 1 - z M(z), M the Mills ratio sqrt(pi/2) exp(z^2/2) erfc(z/sqrt 2), as a
# degree-14 polynomial in x = (2/T) t - 1, t = z/(z + 4), T = 8.5/12.5, z clipped to 8.5;
# max of |H - h| exp(-z^2/2) / max(1, f) is 4.3e-17 (weighted least squares).
_H_COEF = (
    0.1509668786591368,
    -0.31517130286383543,
    0.29539433254597114,
    -0.16645786561307344,
    0.06008544756646129,
    -0.012186346923629583,
    0.0002576394257683432,
    0.00048800308188467594,
    -5.618388437379426e-05,
    -2.256526128808456e-05,
    3.238621629565047e-06,
    1.4064659809330365e-06,
    -1.1856953365448756e-07,
    -1.0973775395859338e-07,
    -1.5216774614059662e-08,
)
_H_CLIP = 8.5
_H_ALPHA = 2.0 * (_H_CLIP + 4.0) / _H_CLIP - 1.0  # x = (alpha z - 4) / (z + 4)
_SQRT_PI_2 = math.sqrt(math.pi / 2.0)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_GAP_NORMAL_LAPLACE = math.log(2.0) - math.log(math.pi) + 0.5


def _normal_laplace_careful(m: F64, s: F64, m2: F64, b2: F64) -> F64:
    """Normal -> Laplace KL through SciPy's ``erf`` (the former kernel; rare elements)."""
    special = S.scipy_special()
    z = np.abs(m - m2) / s
    f = np.expm1(-0.5 * z * z) + _SQRT_PI_2 * z * special.erf(z / math.sqrt(2))
    e_abs = s * _SQRT_2_PI * (1.0 + f)
    out = S.rm1mlog(e_abs, b2)[0] + _GAP_NORMAL_LAPLACE + np.log1p(f)
    far = ~(z <= 40.0)  # z or E|X - m2| past the range: scales 1e-133 and 1e218
    if far.any():
        # 1 + f = sqrt(pi/2) z + e^{-z^2/2} h(z), the last below 1e-347 of the first: so
        # E|X - m2| = |m - m2| and log(1 + f) = log sqrt(pi/2) + log(|m - m2| / s), in
        # halves where |m - m2| overflows
        mf, sf, m2f, bf = (np.broadcast_to(v, z.shape)[far] for v in (m, s, m2, b2))
        half = ~(np.abs(mf - m2f) < np.inf)
        dist = np.where(half, np.abs(mf / 2 - m2f / 2), np.abs(mf - m2f))
        g = S.rm1mlog(dist, np.where(half, bf / 2, bf))[0]
        lf = 0.5 * math.log(math.pi / 2) + S.log_ratio(dist, np.where(half, sf / 2, sf))
        out = np.array(out, dtype=np.float64)
        out[far] = g + _GAP_NORMAL_LAPLACE + lf
    return np.asarray(out, dtype=np.float64)


@_buffers(4)
def normal_laplace(m: F64, s: F64, m2: F64, b2: F64, *, bufs: list[F64]) -> F64:
    r"""KL(Normal(m, s) ‖ Laplace(m2, b2)) without SciPy's ``erf``.

    With :math:`z = |m - m_2|/s`, :math:`\mathbb E|X - m_2| = s\sqrt{2/\pi}\,(1 + f)`,
    :math:`f(z) = \sqrt{\pi/2}\,z\,\mathrm{erf}(z/\sqrt2) + e^{-z^2/2} - 1 \ge 0`, and
    :math:`\rho = \sqrt{2/\pi}(s/b_2)(1 + f)`,

    .. math:: \mathrm{KL} = (\rho - 1 - \log\rho) + \log(1 + f)
              + \underbrace{\log 2 - \log\pi + \tfrac12}_{0.0484},

    three non-negative terms with a constant floor, so an *absolute* error
    :math:`\delta` in :math:`f` gives a relative error below
    :math:`\delta(1 + |\rho - 1|)/(0.0484 + \rho - 1 - \log\rho) \le 42\delta`.

    :math:`f` is computed as :math:`\sqrt{\pi/2}\,z - 1 + e^{-z^2/2} H(z)`, where
    :math:`H` (:data:`_H_COEF`) approximates :math:`h(z) = 1 - z M(z)`, :math:`M` the
    Mills ratio :math:`\sqrt{\pi/2}e^{z^2/2}\mathrm{erfc}(z/\sqrt2)`, so that
    :math:`e^{-z^2/2}h(z) = e^{-z^2/2} - \sqrt{\pi/2}\,z\,\mathrm{erfc}(z/\sqrt2)`.
    The fit is weighted by :math:`e^{-z^2/2}/\max(1, f)`: its error in :math:`f` is below
    4.3e-17 of :math:`\max(1, f)` on :math:`[0, 8.5]`; beyond, ``z`` is clipped to 8.5 and
    :math:`e^{-z^2/2}|h(8.5) - h(z)| < 3\times10^{-21} f`. The evaluation rounds the
    terms :math:`\sqrt{\pi/2}z`, 1 and :math:`e^{-z^2/2}H \le 1` (measured: at most
    4.6e-16 of :math:`\max(1, f)`, one ulp), so the result is within
    :math:`\sim 2\times10^{-14}` relative. :math:`\rho - 1 - \log\rho` is evaluated
    directly: its rounding, a few ulp of :math:`|\rho - 1| + |\log\rho|`, is small against the
    floor 0.0484 and the term itself (:math:`\rho - 1` first: exact near 1). Elements where :math:`\rho` under- or overflows
    (non-finite result) are recomputed by :func:`_normal_laplace_careful`.
    """
    z, f, t, o = bufs
    np.subtract(m, m2, out=z)
    np.abs(z, out=z)
    z /= s
    # x = (alpha zc - 4) / (zc + 4), zc = min(z, 8.5)
    np.minimum(z, _H_CLIP, out=t)
    np.add(t, 4.0, out=o)
    t *= _H_ALPHA
    t -= 4.0
    t /= o
    _horner_into(t, _H_COEF, f)  # H
    np.multiply(z, z, out=t)
    t *= -0.5
    np.exp(t, out=t)
    f *= t
    np.multiply(z, _SQRT_PI_2, out=t)
    t -= 1.0
    f += t  # f
    # rho = sqrt(2/pi) (s / b2) (1 + f)
    np.add(f, 1.0, out=t)
    t *= s
    t /= b2
    t *= _SQRT_2_PI
    np.log(t, out=o)
    t -= 1.0  # exact near rho = 1 (Sterbenz)
    np.subtract(t, o, out=o)
    o += _GAP_NORMAL_LAPLACE
    np.log1p(f, out=t)
    o += t
    return _redo(_normal_laplace_careful, o, ~(o < np.inf), (m, s, m2, b2))


# -- Categorical ----------------------------------------------------------------------

#: Elements (rows times categories) per block of :func:`categorical_probs_rows`: a block of
#: p, q and the scratch array (3 x 512 KiB) stays in L2/L3 and the ~20 NumPy calls per
#: block are amortised. Measured at N = 1e7 (K = 10): 2.7 ns per element with blocks of
#: 1024 rows, 2.3 at 2048, 2.2 at 4096, 2.0 at 6554 to 16384 rows.
CAT_BLOCK = 65536

#: The rounding-error bound's constant per category, :math:`\epsilon = 2.3\times10^{-16}`
#: as a fraction of the 1e-13 relative error for which the fast form is kept.
_CAT_TOL = 2.3e-16 / 1e-13

#: Flagged rows are gathered into buffers of n / (K _CAT_FLUSH_SHARE) rows (three of a
#: row each: p, q and a scratch array of :func:`_categorical_near`, whose other is the
#: block's) and recomputed when they are full; the careful kernel takes the rows that
#: kernel leaves in parts of n / (K _CAT_CAREFUL_SHARE) rows (~25 temporaries of a row
#: each): either below a fifth of the output
_CAT_FLUSH_SHARE = 16
_CAT_CAREFUL_SHARE = 100


def _categorical_careful(p: F64, q: F64) -> F64:
    """Rows that fail the rounding bound: the careful kernel of :mod:`klproof.numeric.kl`."""
    from klproof.numeric import kl  # noqa: PLC0415 - kl imports this module

    return kl._k_categorical_probs(p, q)


#: :func:`_categorical_near` covers rows whose every :math:`|t_i|` is at most
#: ``_CAT_NEAR_T``, i.e. :math:`|s_i| \le 0.081`: its series :math:`B(s^2)` is
#: ``_special.ATANH_B``
_CAT_NEAR_T = 0.15
#: least q_i for _categorical_near (its differences stay above the subnormal range), and
#: its largest |Q - P| per category (4 units of roundoff: totals of rows that sum to 1)
_CAT_NEAR_QMIN = 1e-290
_CAT_NEAR_GAP = 2.0**-51


def _categorical_near(
    p: F64, q: F64, work: tuple[F64, F64]
) -> tuple[F64, NDArray[np.bool_], F64 | None]:
    r"""KL of rows near the diagonal, the careful kernel's form without its rescaling.

    For rows whose totals :math:`P, Q` lie within 1/4 of 1 and agree to their rounding
    (:math:`|Q - P| \le 4Ku`, :math:`u = 2^{-53}`: rows that sum to 1), whose
    :math:`q_i \ge 10^{-290}` and whose every :math:`|t_i| \le 0.15` (below), the form
    of ``kl._k_categorical_probs`` (its docstring has the notation and the error
    argument) with three changes that make it several times cheaper:

    * no scaling by powers of two (the totals are near 1 already);
    * :math:`d_i = p_i Q - q_i P` as :math:`(p_i - q_i)\,Q + q_i\,(Q - P)` instead of
      two error-free products: :math:`p_i - q_i` and :math:`Q - P` are exact (Sterbenz),
      so :math:`d_i` carries three roundings of :math:`|p_i - q_i|\,Q + q_i|Q - P|`,
      and :math:`v_i = d_i/(q_i P)` is off by ~3u of :math:`|v_i|` plus
      :math:`u|Q - P| \le 4Ku^2`, an error common to all :math:`\tau_i` of the size the
      careful kernel's bound already carries (with totals far apart this term is what
      breaks: rows scaled by 1.2 lost up to 4e-3 at moves of 1e-14, hence the test
      on :math:`|Q - P|`);
    * :math:`k = (1 + t)\log(1 + t) - t` from :math:`s = t/(2 + t)`,
      :math:`\log(1 + t) = 2\,\mathrm{atanh}\,s`:

      .. math:: k = \frac{2s^2\,\big(1 + s(1 + s)\,B(s^2)\big)}{1 - s},
         \qquad B(s^2) = \sum_{j \ge 0} \frac{s^{2j}}{2j + 3},

      no cancellation (:math:`s(1 + s)B \ge -0.03` for :math:`|t| \le 0.15`), branch-free,
      a few ulp relative (where ``q_k_into`` evaluates three branches).

    Then :math:`t_i = v_i(1 + y) + y`, :math:`y = -\sum_j d_j/(PQ)`, and the KL is
    :math:`\sum_i q_i k(t_i)/Q`, non-negative term by term. Against 60-digit mpmath
    (K = 2, 10, 100, 400; moves 1e-1 to 1e-14; totals scaled alike by 0.8 to 1.2; an atom
    of 1e-200): at most 7.8e-16, where the careful kernel has 4.2e-15.

    ``p`` is overwritten (it takes the series); ``work`` are two scratch arrays of at
    least ``p``'s rows. Returns the values, the mask of the rows this form covers, and
    ``p``'s rows that it does not (for the careful kernel), or None.
    """
    m, k = p.shape
    w1, w2 = work[0][:m], work[1][:m]
    ones = np.ones(k)
    tp = p @ ones
    tq = q @ ones
    ok = np.abs(tp - 1.0) <= 0.25
    gap = np.subtract(tq, tp)
    ok &= np.abs(gap) <= k * _CAT_NEAR_GAP  # equal totals up to their rounding
    t = np.subtract(p, q, out=w1)
    t *= tq[:, None]
    np.multiply(q, gap[:, None], out=w2)
    t += w2  # d = p Q - q P
    y = t @ ones
    y /= tp * tq
    np.negative(y, out=y)
    np.multiply(q, tp[:, None], out=w2)
    t /= w2  # v
    t *= (1.0 + y)[:, None]
    t += y[:, None]  # alpha/beta - 1 = (1 + v)(1 + y) - 1
    np.abs(t, out=w2)
    w_max, q_min = float(w2.max(initial=0.0)), float(q.min(initial=np.inf))
    if not (w_max <= _CAT_NEAR_T and q_min >= _CAT_NEAR_QMIN):  # also NaN
        atoms = w2 <= _CAT_NEAR_T
        atoms &= q >= _CAT_NEAR_QMIN
        ok &= atoms.all(axis=1)
        np.clip(t, -_CAT_NEAR_T, _CAT_NEAR_T, out=t)  # rows left to the careful kernel
    # s = t / (2 + t) in w2; t's array takes s^2, then s (1 + s); p's the series
    np.add(t, 2.0, out=w2)
    np.divide(t, w2, out=w2)
    s2 = np.multiply(w2, w2, out=t)
    rest = None if ok.all() else p[~ok]
    t_max = min(w_max, _CAT_NEAR_T)  # NaN stays NaN: atanh_terms then takes all terms
    acc = S.atanh_b_into(s2, S.atanh_terms(t_max / (2.0 - t_max)), p)
    s2 += w2  # s + s^2
    acc *= s2
    acc += 1.0
    np.multiply(w2, w2, out=s2)
    acc *= s2
    np.subtract(1.0, w2, out=w2)
    acc /= w2
    acc *= q
    vals = acc @ ones
    vals *= 2.0 / tq
    return vals, ok, rest


def _categorical_block(p: F64, q: F64, t: F64, o: F64, r: F64, lr: F64) -> NDArray[np.intp]:
    r"""Write the fast Categorical KL of the rows of ``p``, ``q`` into ``o``.

    ``t`` is scratch of the block's shape, ``r`` and ``lr`` scratch of its rows (they end
    holding :math:`Q/P` and :math:`\log(Q/P)`). Returns the rows that the rounding-error
    bound of :func:`categorical_probs_rows` does not cover (to be recomputed).
    """
    k = p.shape[-1]
    ones = np.ones(k)
    np.divide(p, q, out=t)
    np.log(t, out=t)
    t *= p
    np.matmul(t, ones, out=lr)  # L
    ptot = p @ ones
    np.matmul(q, ones, out=r)
    r /= ptot  # Q/P
    np.divide(lr, ptot, out=o)  # L/P
    r_max, r_min = float(r.max()), float(r.min())  # NaN if a total is
    np.log(r, out=lr)
    o += lr
    c = k * _CAT_TOL
    if c >= 1.0:  # K >= 435: the bound never holds
        return np.arange(o.size)
    c /= 1.0 - c
    log_inv = -math.log(r_min) if r_min > 0.0 else math.inf
    bound = c * (1.0 + 2.0 * r_max + 2.0 * max(0.0, log_inv))
    o_max = float(o.max())
    if float(o.min()) >= bound and o_max < math.inf:  # the common case: one test a block
        return np.zeros(0, dtype=np.intp)
    idx = np.flatnonzero(~(o >= bound) | (o == math.inf))  # also NaN
    if idx.size > o.size // 64:  # totals that differ between rows: each row's own bound
        own = np.negative(lr[idx])
        np.maximum(own, 0.0, out=own)
        own += r[idx]
        own *= 2.0
        own += 1.0
        own *= c
        sub = o[idx]
        idx = idx[~((sub >= own) & (sub < math.inf))]
    if idx.size and o_max == math.inf:
        # +inf from a q_i = 0 < p_i is the KL; from p_i/q_i overflowing it is not
        support = ((q[idx] == 0.0) & (p[idx] > 0.0)).any(axis=-1) & (o[idx] == math.inf)
        idx = idx[~support]
    return idx


def categorical_probs_rows(p: F64, q: F64) -> F64:
    r"""Categorical KL from raw probabilities, rows of ``(n, K)`` C-contiguous float64.

    With row totals :math:`P, Q` and :math:`L = \sum_i w_i`,
    :math:`w_i = p_i \log(p_i/q_i)`, the exact KL of the normalised rows is

    .. math:: D = L/P + \log r, \qquad r = Q/P:

    one division, one ``log`` and one product per atom, three row sums through BLAS (a
    matrix-vector product with ones; NumPy's reduction over a short last axis is several
    times slower), in blocks of :data:`CAT_BLOCK` elements.

    *Rounding.* Each :math:`w_i` is off by a few ulp of :math:`p_i + |w_i|` (the
    quotient's rounding moves the ``log`` by one ulp absolute) and a row sum of :math:`K`
    terms adds :math:`K\epsilon\sum_i|\text{terms}|`, so with :math:`\epsilon =
    2.3\times10^{-16}` (two units of roundoff, which also covers the totals' relative
    errors in :math:`\log r`) the error of :math:`D` is below
    :math:`K\epsilon\,(1 + \sum_i |w_i|/P + |\log r|)`. The sum of :math:`|w_i|` is bounded
    without another pass: :math:`w_i < 0` only where :math:`p_i < q_i`, and there
    :math:`|w_i| = p_i\log(q_i/p_i) \le q_i - p_i \le q_i`, so
    :math:`\sum_i |w_i| \le L + 2Q`. As :math:`L/P = D - \log r`,

    .. math:: \frac{\sum_i |w_i|}{P} + |\log r| \le D + 2r + |\log r| - \log r
              = D + 2r + 2\max(0, -\log r),

    and the error is below :math:`10^{-13} D` where
    :math:`D \ge c\,(1 + D + 2r + 2\max(0, -\log r))`, :math:`c = K\epsilon/10^{-13}`, i.e.

    .. math:: D \ge \beta(r) = \frac{c}{1 - c}\big(1 + 2r + 2\max(0, -\log r)\big)

    (:math:`c < 1`: :math:`K \le 434`; larger :math:`K` goes to the careful kernel).
    :math:`\beta` grows with :math:`r` in the first term and falls in the second, so
    one threshold serves a block: :math:`\beta(r) \le
    \frac{c}{1 - c}(1 + 2r_{\max} + 2\max(0, -\log r_{\min}))`, tested against the
    block's minimum of :math:`D` (NaN, from a :math:`0 \log 0`, fails the test) and
    maximum (:math:`+\infty`). For normalised rows of 10 the threshold is
    :math:`3c/(1 - c) = 0.071`; the common case costs four reductions a block (the
    extremes of :math:`r` and :math:`D`). In a block that fails, the rows below the
    threshold (and NaN or :math:`+\infty`) are flagged; when they are more than 1/64
    of the block (totals that differ between rows), each row's own :math:`\beta(r)`
    decides. :math:`+\infty` rows with a :math:`q_i = 0 < p_i` are the KL; other
    flagged rows (NaN terms at a zero probability, :math:`p_i/q_i` overflowing, totals
    zero or far apart) are recomputed by the careful kernel (non-negative terms), in
    chunks gathered while the block is in cache.
    """
    n, k = p.shape
    out = np.empty(n)
    # scratch below a quarter of the output (peak extra memory <= 1.5x the output)
    rows = min(max(1, CAT_BLOCK // max(k, 1)), max(256, n // (4 * max(k, 1))), max(n, 1))
    t = np.empty((rows, k))
    r, lr = np.empty(rows), np.empty(rows)
    chunk = max(64, min(rows, n // (_CAT_FLUSH_SHARE * max(k, 1))))
    part = max(64, n // (_CAT_CAREFUL_SHARE * max(k, 1)))
    pend = _CatPending(out, chunk, k, part, t)
    every: NDArray[np.intp] | None = None  # the row numbers of a block, once needed
    near_mode = False
    with np.errstate(all="ignore"):
        for i, start in enumerate(range(0, n, rows)):
            stop = min(start + rows, n)
            m = stop - start
            pb, qb = p[start:stop], q[start:stop]
            if near_mode and i % S.NEAR_RECHECK:
                # rows near the diagonal: the fast form would flag them all, so they go
                # to _categorical_near directly (a fast block it then redoes cost ~3
                # ns/elt of ~15); every NEAR_RECHECK-th block is tested again
                if every is None:
                    every = np.arange(rows)
                pend.add(pb, qb, every[:m], start)
                continue
            idx = _categorical_block(pb, qb, t[:m], out[start:stop], r[:m], lr[:m])
            near_mode = S.mostly_flagged(idx.size, m)
            if idx.size:
                pend.add(pb, qb, idx, start)
        pend.finish()
    return out


class _CatPending:
    """Flagged rows gathered into buffers of ``chunk`` rows, recomputed when full.

    By :func:`_categorical_near` where it applies (rows near the diagonal), with the
    driver's block scratch ``t`` (free between blocks) and one more array as its scratch;
    the rows it leaves are gathered again and go to the careful kernel ``part`` at a
    time (a call of it costs ~150 us however few its rows). The buffers grow with the
    rows gathered (:meth:`_reserve`).
    """

    def __init__(self, out: F64, chunk: int, k: int, part: int, scratch: F64) -> None:
        self.out, self.chunk, self.k, self.part = out, chunk, k, part
        self.scratch = scratch
        self.bufs: list[F64] = []
        self.idx = np.empty(chunk, dtype=np.intp)
        self.count = 0
        self.left: list[tuple[NDArray[np.intp], F64, F64]] = []
        self.left_count = 0

    def add(self, pb: F64, qb: F64, idx: NDArray[np.intp], start: int) -> None:
        """Gather the rows ``idx`` of the block ``pb``, ``qb`` (at ``start`` in ``out``)."""
        pos = 0
        while pos < idx.size:
            take = min(idx.size - pos, self.chunk - self.count)
            self._reserve(self.count + take)
            sel = idx[pos : pos + take]
            lo, hi = self.count, self.count + take
            np.take(pb, sel, axis=0, out=self.bufs[0][lo:hi])
            np.take(qb, sel, axis=0, out=self.bufs[1][lo:hi])
            self.idx[lo:hi] = sel + start
            self.count = hi
            pos += take
            if self.count == self.chunk:
                self.flush()

    def _reserve(self, rows: int) -> None:
        """Grow the buffers (doubling, up to ``chunk`` rows) to hold ``rows`` rows.

        Few flagged rows (generic input) then take small buffers: full ones from the
        first flagged row raised the peak memory of generic rows of 10 from 1.35 to
        1.53 times the output at N = 1e6.
        """
        cap = self.bufs[0].shape[0] if self.bufs else 0
        if rows <= cap:
            return
        new = min(self.chunk, max(rows, 2 * cap, 64))
        grown = [np.empty((new, self.k)) for _ in range(3)]
        for old, buf in zip(self.bufs, grown, strict=False):
            buf[: self.count] = old[: self.count]
        self.bufs = grown

    def flush(self) -> None:
        """Recompute the gathered rows and scatter them into ``out``."""
        m = self.count
        if not m:
            return
        pp, qq = self.bufs[0][:m], self.bufs[1][:m]
        vals, ok, rest_p = _categorical_near(pp, qq, (self.scratch, self.bufs[2]))
        self.out[self.idx[:m]] = vals
        self.count = 0
        if rest_p is not None:
            rest = np.flatnonzero(~ok)
            self.left.append((self.idx[rest], rest_p, qq[rest]))
            self.left_count += rest.size
            if self.left_count >= self.part:
                self.careful()

    def careful(self) -> None:
        """The careful kernel on the rows :func:`_categorical_near` left."""
        if not self.left:
            return
        idx = np.concatenate([v[0] for v in self.left])
        pp = np.concatenate([v[1] for v in self.left])
        qq = np.concatenate([v[2] for v in self.left])
        self.left, self.left_count = [], 0
        for lo in range(0, idx.size, self.part):
            hi = lo + self.part
            self.out[idx[lo:hi]] = _categorical_careful(pp[lo:hi], qq[lo:hi])

    def finish(self) -> None:
        """Flush what is pending."""
        self.flush()
        self.careful()


@_buffers(1)
def categorical_probs(p: F64, q: F64, *, bufs: list[F64]) -> F64:
    r"""Categorical KL of blocks for the block driver (broadcast or non-float64 input).

    The form and rounding-error argument of :func:`categorical_probs_rows`, one block
    at a time; flagged rows are recomputed by the careful kernel within the block.
    """
    if p.ndim < 2 or p.shape != q.shape:
        return _categorical_careful(p, q)
    (t,) = bufs
    m = p.shape[0]
    out, r, lr = np.empty(m), np.empty(m), np.empty(m)
    idx = _categorical_block(p, q, t, out, r, lr)
    if idx.size:
        out[idx] = _categorical_careful(p[idx], q[idx])
    return out
