r"""KL of discrete distributions given in different parametrisations (logits against probs).

When p comes as logits and q as probabilities (or the reverse), the fast kernels turn
the logits into rounded probabilities first. Each rounding moves an atom by a few ulp
of itself, and near the diagonal the KL is of second order in the difference, so those
moves dominate: at relative differences 1e-9 the mixed Bernoulli KL was off by up to 2 %,
and 636 of 800 mixed Categorical rows (relative differences 1e-12 ... 1e-2) by more than
1e-12.

Here the log-ratios :math:`t_i = \log(p_i/q_i)` are formed in double-double from the
parameters as given: the log-softmax of the logits, :math:`a_i - m - \log\sum_j
e^{a_j - m}`, and the logarithms of the normalised probabilities,
:math:`\log q_i - \log\sum_j q_j`, each to ~1e-30 absolute (:func:`log_dd`). Rounded
once, :math:`t_i` keeps its relative accuracy however small it is, and the KL is the
sum of the non-negative terms :math:`q_i k(t_i)`, :math:`k(t) = t e^t - e^t + 1`
(``_special.q_k``). About 300 NumPy operations per atom: the callers use it only for
the rows whose fast value the rounding could move by more than 1e-13 relative
(:func:`needs_care`), and where even double-double cannot resolve the KL (two
representations of nearly one distribution, KLs down to 1e-51 and below) they take
the row from mpmath (:func:`kl_rows_mp`).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from klproof.numeric import _dd as D
from klproof.numeric import _special as S

__all__ = [
    "Side",
    "kl_rows",
    "kl_rows_mp",
    "log_dd",
    "log_probs_dd",
    "log_softmax_dd",
    "needs_care",
    "redo",
]

F64 = NDArray[np.float64]
DD = tuple[F64, F64]

_EPS = 2.0**-53
#: absolute resolution of a log from :func:`log_dd`, relative to max(1, |log|) (measured
#: ~1e-32: a factor of 100 kept)
_NOISE = 1e-30


def log_dd(x: DD) -> DD:
    r"""Natural logarithm of a positive double-double (``-inf`` where ``x`` is 0).

    :math:`y_0 = \log x_{hi}` in float64, then one Newton step
    :math:`\log x = y_0 + \log(1 + r)`, :math:`r = x e^{-y_0} - 1` (:math:`|r|` of a few
    ulp), with :math:`e^{y_0} = 2^k m` from :func:`_dd.exp_scaled` so that ``x`` is
    scaled by :math:`2^{-k}` exactly: :math:`\log(1 + r) = r - r^2/2` to ~1e-48.
    """
    hi, lo = x
    zero = hi <= 0.0
    h = np.where(zero, 1.0, hi)
    lw = np.where(zero, 0.0, lo)
    y0 = np.log(h)
    m, k = D.exp_scaled(y0)
    xs = (np.ldexp(h, -k), np.ldexp(lw, -k))
    r = D.div(D.add(xs, (-m[0], -m[1])), m)
    corr = D.add(r, (-0.5 * r[0] * r[0], np.zeros_like(y0)))
    out = D.add((y0, np.zeros_like(y0)), corr)
    return np.where(zero, -np.inf, out[0]), np.where(zero, 0.0, out[1])


def _exp_dd(u: DD) -> DD:
    """``exp(u_hi + u_lo)`` as a double-double (0 below float64's range)."""
    finite = np.isfinite(u[0])
    uh = np.where(finite, u[0], 0.0)
    m, k = D.exp_scaled(uh)
    lo = np.where(finite, u[1], 0.0)
    e = D.mul(m, (np.ones_like(lo), lo))  # e^lo = 1 + lo to 2^-106 (lo below ulp(1))
    out = (np.ldexp(e[0], k), np.ldexp(e[1], k))
    return np.where(finite, out[0], 0.0), np.where(finite, out[1], 0.0)


def _row_sum(x: DD) -> DD:
    acc: DD = (x[0][:, 0], x[1][:, 0])
    for j in range(1, x[0].shape[1]):
        acc = D.add(acc, (x[0][:, j], x[1][:, j]))
    return acc


def log_softmax_dd(a: F64) -> DD:
    r"""Rows ``(n, K)`` of logits to :math:`\log p_i` in double-double (``-inf`` logits: p = 0).

    :math:`u_i = a_i - m` by :func:`_dd.two_sum` (:math:`m` the row's largest logit),
    :math:`\log p_i = u_i - \log\sum_j e^{u_j}` with the sum (at least 1) in double-double.
    """
    a = np.asarray(a, dtype=np.float64)
    m = np.max(np.where(np.isneginf(a), -np.inf, a), axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    u = D.two_sum(a, np.broadcast_to(-m, a.shape))
    u = (u[0], np.where(np.isfinite(u[0]), u[1], 0.0))
    ls = log_dd(_row_sum(_exp_dd(u)))
    out = D.add(
        u, (np.broadcast_to(-ls[0][:, None], a.shape), np.broadcast_to(-ls[1][:, None], a.shape))
    )
    dead = np.isneginf(a)
    return np.where(dead, -np.inf, out[0]), np.where(dead, 0.0, out[1])


def log_probs_dd(q: DD) -> DD:
    r"""Rows ``(n, K)`` of probabilities (as double-doubles, maybe unnormalised) to :math:`\log q_i`."""
    total = log_dd(_row_sum(q))
    lq = log_dd((q[0].reshape(-1), q[1].reshape(-1)))
    lq = (lq[0].reshape(q[0].shape), lq[1].reshape(q[0].shape))
    shape = q[0].shape
    out = D.add(
        lq, (np.broadcast_to(-total[0][:, None], shape), np.broadcast_to(-total[1][:, None], shape))
    )
    dead = q[0] <= 0.0
    return np.where(dead, -np.inf, out[0]), np.where(dead, 0.0, out[1])


def kl_rows(lp: DD, lq: DD, scale: F64 | float = 1.0) -> tuple[F64, NDArray[np.bool_]]:
    r"""KL of rows ``(n, K)`` given :math:`\log p_i` and :math:`\log q_i` in double-double.

    :math:`t_i = \log p_i - \log q_i` rounded once; atoms with :math:`p_i = 0` add
    :math:`q_i`, atoms with :math:`q_i = 0 < p_i` make the row :math:`+\infty`. Divided
    by ``scale`` (one per row) before the terms are formed, so that KL / p of a Geometric
    with p ~ 1e-284 does not pass through the subnormal range.

    Returns the values and the rows they may not hold to 1e-13: each :math:`t_i` is good
    to :data:`_NOISE` :math:`\max(1, |\log p_i|, |\log q_i|)`, which moves the KL by at
    most :math:`\sum_i p_i(|t_i| + \delta_i)\delta_i` (a KL of 2e-51 from two
    representations of nearly one distribution came out 7e-12 off): the caller takes
    those rows from :func:`kl_rows_mp`.
    """
    with np.errstate(all="ignore"):
        d = D.add(lp, (-lq[0], -lq[1]))
        t = d[0] + d[1]
        p0 = np.isneginf(lp[0])
        q0 = np.isneginf(lq[0])
        t = np.where(p0, -np.inf, np.where(q0, np.inf, t))
        s = np.asarray(scale, dtype=np.float64).reshape(-1, 1) if np.ndim(scale) else scale
        p = np.exp(lp[0]) / s
        q = np.exp(lq[0]) / s
        p, q = np.broadcast_arrays(p, q)
        terms = S.q_k(q.reshape(-1), p.reshape(-1), t.reshape(-1)).reshape(t.shape)
        terms = np.where(p0 & q0, 0.0, terms)
        val = np.asarray(terms.sum(-1), dtype=np.float64)
        delta = _NOISE * np.maximum(1.0, np.maximum(np.abs(lp[0]), np.abs(lq[0])))
        per = np.where(np.isfinite(t), p * (np.abs(t) + delta) * delta, 0.0)
        unsure = np.isfinite(val) & ~(4.0 * per.sum(-1) <= 1e-13 * val)
    return val, np.asarray(unsure, dtype=bool)


def kl_rows_mp(p_rows: F64, p_kind: str, q_rows: F64, q_kind: str, scale: F64 | None = None) -> F64:
    r"""KL of rows from the parameters as given, in mpmath (the rows :func:`kl_rows` doubts).

    Kinds: ``"logits"`` (a row of logits), ``"probs"`` (a row of probabilities, maybe
    unnormalised) and ``"bernoulli"`` (one probability :math:`q`, the atoms
    :math:`1 - q` and :math:`q` exactly). The precision starts at 40 digits beyond those
    the smallest atoms reach and doubles until two precisions agree to 1e-17 (at most
    2560 digits: two representations of one distribution then give 0). mpmath comes
    with SymPy and is imported only here, so ``import klproof`` stays light.
    """
    import mpmath  # noqa: PLC0415 - lazy: only rows beyond double-double; keeps import light

    def atoms(row: list[float], kind: str) -> list[mpmath.mpf]:
        if kind == "logits":
            finite = [x for x in row if x != -math.inf]
            top = max(finite)
            e = [mpmath.exp(mpmath.mpf(x) - top) if x != -math.inf else mpmath.mpf(0) for x in row]
        elif kind == "bernoulli":
            e = [1 - mpmath.mpf(row[0]), mpmath.mpf(row[0])]
        else:
            e = [mpmath.mpf(x) for x in row]
        total = mpmath.fsum(e)
        return [x / total for x in e]

    pr = np.asarray(p_rows, dtype=np.float64)
    qr = np.asarray(q_rows, dtype=np.float64)
    out = np.empty(pr.shape[0])

    def one(i: int, dps: int) -> mpmath.mpf:
        with mpmath.workdps(dps):
            pa = atoms(np.atleast_1d(pr[i]).tolist(), p_kind)
            qa = atoms(np.atleast_1d(qr[i]).tolist(), q_kind)
            if any(a > 0 and b == 0 for a, b in zip(pa, qa, strict=True)):
                return mpmath.inf
            kl = mpmath.fsum(a * mpmath.log(a / b) for a, b in zip(pa, qa, strict=True) if a > 0)
            if scale is not None:
                kl = kl / mpmath.mpf(float(scale[i]))
            return +kl

    for i in range(pr.shape[0]):
        # start with the digits the smallest atom needs (1 - 1e-110 must not round to 1)
        dps = 40 + _digits_needed(pr[i], p_kind) + _digits_needed(qr[i], q_kind)
        prev = one(i, dps)
        while True:
            dps *= 2
            cur = one(i, dps)
            if cur == prev or abs(cur - prev) <= abs(cur) * mpmath.mpf(10) ** -17 or dps >= 2560:
                break
            prev = cur
        out[i] = float(cur) if cur > 0 else 0.0
    return out


def _digits_needed(row: F64, kind: str) -> int:
    """Decimal digits below 1 that the atoms of ``row`` reach (their smallest, roughly)."""
    x = np.atleast_1d(np.asarray(row, dtype=np.float64))
    with np.errstate(all="ignore"):
        if kind == "logits":
            fin = x[np.isfinite(x)]
            spread = float(fin.max() - fin.min()) if fin.size else 0.0
            return int(spread / math.log(10.0)) + 1
        pos = x[x > 0.0]
        if kind == "probs":
            pos = pos / pos.sum() if pos.size else pos
        return int(-math.log10(float(pos.min()))) + 1 if pos.size else 0


def needs_care(val: F64, p: F64, q: F64, w: F64, scale: F64 | float = 1.0) -> NDArray[np.bool_]:
    r"""Rows ``(n, K)`` whose fast value ``val`` the rounding of the logits side may spoil.

    ``p``, ``q`` are the normalised probabilities the fast kernel used and ``w`` those of
    the side given as logits; ``val`` is the KL divided by ``scale`` (one per row, as
    Geometric's KL / p). Each :math:`w_i` carries a relative error
    :math:`|\epsilon_i| \le 2\epsilon(1 + |\log w_i|)` (the roundings of
    :math:`a_i - \log\sum e^a` and of the exponential). After normalisation, relative
    moves :math:`\epsilon_i` of :math:`p` change the KL by
    :math:`\sum_i p_i\epsilon_i(t_i - \mathrm{KL})` and moves :math:`\eta_i` of
    :math:`q` by :math:`\sum_i (q_i - p_i)\eta_i` (first order), so a row is kept only
    where :math:`4\sum_i |\epsilon_i|\,(p_i(|t_i| + \mathrm{KL}) + |p_i - q_i|)` is at
    most :math:`10^{-13}` of its value (and the value is finite and positive), with
    :math:`|t_i|` and :math:`|p_i - q_i|` from the rounded probabilities raised by their
    own rounding (they can be 0 where the true ones are not); both sides are divided by
    ``scale`` before they are compared.
    """
    with np.errstate(all="ignore"):
        s = np.asarray(scale, dtype=np.float64).reshape(-1, 1) if np.ndim(scale) else scale
        t = np.log(p / q)
        eps_i = 2.0 * _EPS * (1.0 + np.abs(np.log(w)))
        ps, qs = p / s, q / s
        # |t| and |p - q| from the rounded p, q can be 0 where the true ones are not:
        # each is raised by its own rounding (eps_i relative), which also covers the
        # second-order change sum p eps_i^2 / 2 (6.3e-34 kept for 9.5e-34 before)
        per = np.where(
            p > 0.0,
            eps_i
            * (ps * (np.abs(t) + eps_i) + p * val[:, None] + np.abs(ps - qs) + eps_i * (ps + qs)),
            eps_i * qs,
        )
        bound = 4.0 * np.where(np.isnan(per), np.inf, per).sum(-1)
        ok = np.isfinite(val) & (val > 0.0) & (bound <= 1e-13 * val)
    return np.asarray(~ok, dtype=bool)


#: rows per block of :func:`redo`
ROWS = 4096


class Side(NamedTuple):
    """One distribution of a mixed pair, row by row (``n`` rows of ``K`` atoms).

    ``par``: the parameters as given, of ``kind`` ``"logits"`` (rows of logits; a
    Bernoulli's logit ``l`` as the row ``[0, l]``), ``"probs"`` (rows of probabilities,
    maybe unnormalised) or ``"bernoulli"`` (one probability ``p`` a row, the atoms
    ``[1 - p, p]``); ``raw``: the float probabilities the fast kernel used, ``(n, K)``.
    """

    par: F64
    kind: str
    raw: F64


def _positive(side: Side, sl: slice) -> NDArray[np.bool_]:
    """Atoms of positive probability, from the parameters as given (a logit of -800 is)."""
    par = side.par[sl]
    if side.kind == "logits":
        return np.asarray(~np.isneginf(par), dtype=bool)
    if side.kind == "bernoulli":
        return np.stack([par < 1.0, par > 0.0], -1)
    return np.asarray(par > 0.0, dtype=bool)


def _logs(side: Side, idx: NDArray[np.intp]) -> DD:
    par = side.par[idx]
    if side.kind == "logits":
        return log_softmax_dd(par)
    if side.kind == "bernoulli":  # 1 - p exact as a double-double
        hi, lo = D.two_sum(np.ones_like(par), -par)
        return log_probs_dd((np.stack([hi, par], -1), np.stack([lo, np.zeros_like(par)], -1)))
    return log_probs_dd((par, np.zeros_like(par)))


def redo(flat: NDArray[np.floating[Any]], p: Side, q: Side, scale: F64 | None = None) -> None:
    r"""Redo in place the rows of ``flat`` (the fast values, KL / ``scale``) that need it.

    Per block of :data:`ROWS` rows: rows where p has an atom that q lacks (as given) are
    :math:`+\infty`; rows :func:`needs_care` flags get :func:`kl_rows`, and those it
    doubts :func:`kl_rows_mp`.
    """
    n = flat.size
    w_side = p if p.kind == "logits" else q
    with np.errstate(all="ignore"):
        for lo in range(0, n, ROWS):
            sl = slice(lo, min(n, lo + ROWS))
            pn = p.raw[sl] / p.raw[sl].sum(-1, keepdims=True)
            qn = q.raw[sl] / q.raw[sl].sum(-1, keepdims=True)
            w = pn if w_side is p else qn
            s = 1.0 if scale is None else scale[sl]
            val = np.asarray(flat[sl], dtype=np.float64)
            infinite = (_positive(p, sl) & ~_positive(q, sl)).any(-1)
            care = needs_care(val, pn, qn, w, s) & ~infinite
            flat[sl][infinite] = np.inf
            idx = np.flatnonzero(care)
            if not idx.size:
                continue
            rows = idx + lo
            sc = None if scale is None else scale[rows]
            vals, unsure = kl_rows(_logs(p, rows), _logs(q, rows), 1.0 if sc is None else sc)
            if unsure.any():
                u = rows[unsure]
                vals[unsure] = kl_rows_mp(
                    p.par[u], p.kind, q.par[u], q.kind, None if sc is None else sc[unsure]
                )
            flat[sl][idx] = vals
