"""High-precision references from the symbolic pair registry (mpmath, adaptive precision).

The closed form of a registered pair (:func:`klproof.symbolic.kl.get_pair`) is
lambdified to mpmath once and evaluated at the exact binary value of each float
parameter. The working precision adapts: the expression is evaluated at ``D`` and at
``D + 30`` digits, and ``D`` is doubled until the two agree to 25 significant digits,
so catastrophic cancellation in the closed form (near-equal parameters,
concentrations of 1e150) is resolved, not inherited. ``+inf`` is returned where the
support of ``p`` is not contained in that of ``q`` or a finiteness condition of the
pair fails.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mpmath as mp
import numpy as np
from numpy.typing import NDArray

__all__ = ["PairReference", "adaptive", "pair_reference", "to_float"]

#: Digits the two evaluations must agree to before a value is accepted.
AGREE_DIGITS = 25
#: Values below this are 0 in every binary floating format (float64's smallest
#: subnormal is 4.9e-324). A closed form that cancels to (nearly) 0 is accepted as 0 only
#: at a working precision of ``2 m + ZERO_DPS`` digits for parameters of decimal magnitude
#: ``m``: a KL second order in a small parameter 10^-m cancels 2 m digits, so an exact 0
#: at lower precision may be a cancelled KL of 1e-135 (Weibull, concentration 1e-63).
_NEGLIGIBLE = mp.mpf("1e-400")
ZERO_DPS = 60
#: Largest working precision tried, in decimal digits.
MAX_DPS = 4000


def _mpf(x: Any) -> Any:
    return mp.mpf(float(x))


def _probs_from_logits(x: Any) -> Any:
    return 1 / (1 + mp.exp(-_mpf(x)))


@dataclass(frozen=True)
class PairReference:
    """The mpmath reference of one registered pair.

    Attributes
    ----------
    id : str
        The pair's derivation id, ``kl/<p>/<q>``.
    same_family : bool
        Whether ``p`` and ``q`` are of one family (then KL(p, p) = 0 needs no evaluation).
    sources : tuple of (str, str, int or None)
        For each argument of the closed form (one per distinct symbol), the side
        (``"p"`` or ``"q"``), the parameter name it is read from and, for an entry of a
        vector parameter (Categorical ``probs``, Dirichlet ``concentration``), its index
        on the last axis. A symbol shared by both sides (Weibull's common concentration)
        is read from ``p``.
    fixed : tuple of (str, str, float)
        Parameters the derivation fixes to a number (``kl/beta/uniform`` is derived for
        ``Uniform(0, 1)``): side, name, value.
    shared : tuple of str
        Parameter names that ``p`` and ``q`` share (one symbol on both sides).
    event_size : int or None
        The length ``K`` of the vector parameters the derivation is for (``None`` for
        scalar families): parameters must be drawn with ``k = event_size``.
    function : callable
        The closed form, lambdified to mpmath.
    finite : callable
        ``finite(*args) -> bool``: the support of ``p`` lies in that of ``q`` and the
        pair's finiteness conditions hold.
    """

    id: str
    same_family: bool
    sources: tuple[tuple[str, str, int | None], ...]
    fixed: tuple[tuple[str, str, float], ...]
    shared: tuple[str, ...]
    event_size: int | None
    function: Callable[..., Any]
    finite: Callable[..., bool]
    finite_numpy: Callable[..., Any]
    #: Whether the closed form takes matrix parameters (MultivariateNormal: ``loc`` and
    #: ``covariance_matrix``, the latter from ``scale_tril`` when that was drawn), passed
    #: exactly as SymPy matrices of rationals.
    matrix: bool = False
    #: Whether the closed form is a sum over the coordinates of vector parameters of any
    #: length (DiagonalNormal: ``IndexedBase`` ``loc`` and ``scale``, a symbolic ``D``):
    #: each parameter is passed as a list of ``mpf``, one per coordinate.
    indexed: bool = False

    def finite_mask(
        self, p: Mapping[str, NDArray[Any]], q: Mapping[str, NDArray[Any]]
    ) -> NDArray[np.bool_]:
        """Vectorised :attr:`finite` over batches (float comparisons are exact)."""
        if self.matrix or self.indexed:  # normals on R^d: finite for every valid pair
            return np.ones(np.shape(p["loc"])[:-1], dtype=bool)
        self._check_size(p, q)
        args = [_array(p if side == "p" else q, name, i) for side, name, i in self.sources]
        n = np.broadcast_shapes(*(a.shape for a in args)) if args else ()
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(self.finite_numpy(*args), dtype=bool), n)

    def args(self, p: Mapping[str, Any], q: Mapping[str, Any]) -> list[Any]:
        """The mpmath arguments from parameter dicts (``logits`` become ``probs``).

        A probability vector is normalised (at the working precision) as the numeric
        Categorical normalises it; logits give its softmax.
        """
        if self.matrix:
            return [_exact_matrix(p if side == "p" else q, name) for side, name, _ in self.sources]
        if self.indexed:
            return [
                [_mpf(v) for v in np.asarray((p if side == "p" else q)[name]).reshape(-1)]
                for side, name, _ in self.sources
            ]
        self._check_size(p, q)
        return [_value(p if side == "p" else q, name, i) for side, name, i in self.sources]

    def _check_size(self, p: Mapping[str, Any], q: Mapping[str, Any]) -> None:
        if self.event_size is None:
            return
        for d in (p, q):
            for v in d.values():
                k = np.shape(v)[-1] if np.ndim(v) else None
                if k != self.event_size:
                    raise ValueError(
                        f"{self.id}: the derivation is for vectors of length "
                        f"{self.event_size}; got shape {np.shape(v)} (draw with "
                        f"k={self.event_size})"
                    )

    def restrict(
        self, p: Mapping[str, NDArray[Any]], q: Mapping[str, NDArray[Any]]
    ) -> tuple[dict[str, NDArray[Any]], dict[str, NDArray[Any]]]:
        """Set what the derivation fixes: numbers it is derived for, shared parameters.

        Parameters outside the derivation's scope (a ``Uniform(low, high)`` other than
        ``(0, 1)`` for ``kl/beta/uniform``) have no reference, so checks draw them fixed.
        """
        pp, qq = dict(p), dict(q)
        for side, name, value in self.fixed:
            d = pp if side == "p" else qq
            if name in d:
                d[name] = np.full_like(d[name], value)
        for name in self.shared:
            if name in pp and name in qq:
                qq[name] = pp[name].copy()
        return pp, qq

    def evaluate(self, p: Mapping[str, Any], q: Mapping[str, Any]) -> Any:
        """KL(p ‖ q) as an ``mpf`` (``+inf`` when infinite), accurate to 25 digits."""
        mags = [_digits(v, logit=k == "logits") for d in (p, q) for k, v in d.items()]
        mags_max = int(max(mags, default=0.0))

        def settle(args: list[Any]) -> Any:
            if any(_isnan(a) for a in args):
                raise ValueError(f"{self.id}: NaN parameter in p={p!r}, q={q!r}")
            return None if self.finite(*args) else mp.inf

        def negligible(dps: int) -> int | None:
            if dps >= ZERO_DPS + 2 * mags_max:
                return None  # rounds to 0 in every float format
            if self.same_family and _same_params(p, q):
                return None  # KL(p, p) = 0 by definition
            return max(dps, ZERO_DPS + 2 * mags_max) // 2  # doubled next

        return adaptive(
            self.function,
            lambda: self.args(p, q),
            40 + mags_max,
            settle=settle,
            negligible=negligible,
            failure=lambda: (
                f"{self.id}: the reference did not converge at {MAX_DPS} digits "
                f"for p={dict(p)!r}, q={dict(q)!r}"
            ),
        )


def adaptive(
    function: Callable[..., Any],
    args: Callable[[], list[Any]],
    dps: int,
    *,
    failure: Callable[[], str],
    floor: Any = 0,
    settle: Callable[[list[Any]], Any] | None = None,
    negligible: Callable[[int], int | None] | None = None,
) -> Any:
    """``function(*args())`` to :data:`AGREE_DIGITS` digits, the working precision adapted.

    Evaluated at ``dps`` and ``dps + 30`` digits (``args`` is called at each, so the
    inputs are formed at that precision); ``dps`` is doubled until the two values agree
    to :data:`AGREE_DIGITS` digits relative to ``max(|value|, floor)``, and an
    ``ArithmeticError`` with the message ``failure()`` is raised beyond :data:`MAX_DPS`.
    A ``ZeroDivisionError`` (a difference rounded to 0) means more digits.

    ``settle(args)``, at the first precision of each round, may decide the value before
    the evaluation (by returning it, or by raising); ``None`` goes on. ``negligible(dps)``
    is asked when both values are below ``1e-400``: ``None`` accepts 0, an ``int`` is the
    precision to double next. Without it such values are compared like any other.
    """
    while True:
        try:
            with mp.workdps(dps):
                inputs = args()
                if settle is not None and (decided := settle(inputs)) is not None:
                    return decided
                a = function(*inputs)
            with mp.workdps(dps + 30):
                b = function(*args())
                if negligible is not None and abs(a) < _NEGLIGIBLE and abs(b) < _NEGLIGIBLE:
                    again = negligible(dps)
                    if again is None:
                        return mp.mpf(0)
                    dps = again
                elif abs(a - b) <= max(abs(b), floor) * mp.mpf(10) ** (-AGREE_DIGITS):
                    return +b
        except ZeroDivisionError:
            pass
        dps *= 2
        if dps > MAX_DPS:
            raise ArithmeticError(failure())


def _sympy_nan() -> Any:
    import sympy as sp  # noqa: PLC0415 - only for matrix pairs

    return sp.nan


def _isnan(a: Any) -> bool:
    if isinstance(a, mp.mpf):
        return bool(mp.isnan(a))
    if isinstance(a, list):
        return any(mp.isnan(x) for x in a)
    return any(x is _sympy_nan() for x in a)  # a SymPy matrix of exact rationals


def _exact_matrix(d: Mapping[str, Any], name: str) -> Any:
    """A vector or matrix parameter as a SymPy matrix of the floats' exact rational values.

    ``covariance_matrix`` is computed exactly as ``L Lᵀ`` when ``scale_tril`` was given.
    """
    import sympy as sp  # noqa: PLC0415 - only for matrix pairs, which are symbolic anyway

    def exact(v: Any) -> Any:
        a = np.asarray(v, dtype=np.float64)
        if not np.isfinite(a).all():
            return sp.ImmutableMatrix(np.full(a.shape, sp.nan).tolist())
        rows = a.reshape(a.shape[0], -1)
        return sp.ImmutableMatrix([[sp.Rational(float(x)) for x in row] for row in rows])

    if name == "covariance_matrix" and name not in d and "scale_tril" in d:
        tril = exact(d["scale_tril"])
        return tril * tril.T
    return exact(d[name])


def _same_params(p: Mapping[str, Any], q: Mapping[str, Any]) -> bool:
    """Whether two parameter dicts are equal (vector parameters compared entrywise)."""
    return p.keys() == q.keys() and all(np.array_equal(p[k], q[k]) for k in p)


def _digits(v: Any, *, logit: bool = False) -> float:
    """Decimal magnitude of a parameter (bigger values need more working digits).

    A logit ``l`` gives a probability within ``e**-|l|`` of 1, which takes
    ``|l| / ln 10`` digits to tell from 1; a vector of logits gives one within
    ``e**-(max - min)`` of 1 (softmax depends on the differences only), so it takes the
    larger of ``max |l|`` and the spread (a spread of 698 with ``max |l|`` 503 took 303
    digits where 222 were given: the reference came out -5.9e-332 for 3.7e-299).
    """
    raw = np.asarray(v, dtype=np.float64)
    a = np.abs(raw)
    a = a[np.isfinite(a) & (a > 0)]
    if logit:
        fin = raw[np.isfinite(raw)]
        spread = float(fin.max() - fin.min()) if fin.size > 1 else 0.0
        return max(float(a.max()) if a.size else 0.0, spread) / math.log(10.0)
    if a.size == 0:
        return 0.0
    return float(max(abs(math.log10(float(a.max()))), abs(math.log10(float(a.min())))))


def _array(d: Mapping[str, Any], name: str, index: int | None = None) -> NDArray[np.float64]:
    if index is not None:
        with np.errstate(all="ignore"):
            if name == "probs" and "probs" not in d and "logits" in d:
                lg = np.asarray(d["logits"], dtype=np.float64)
                w = np.exp(lg - lg.max(-1, keepdims=True))
                prob = w[..., index] / w.sum(-1)
                # (for the finiteness mask) an entry with a finite logit is positive even
                # where its float64 probability underflows to 0 (a logit 746 below the top)
                tiny = np.finfo(np.float64).tiny
                return np.where(np.isneginf(lg[..., index]), 0.0, np.maximum(prob, tiny))
            elif name == "probs":
                w = np.asarray(d["probs"], dtype=np.float64)
            else:
                return np.asarray(np.asarray(d[name], dtype=np.float64)[..., index])
            return np.asarray(w[..., index] / w.sum(-1), dtype=np.float64)
    if name == "probs" and "probs" not in d and "logits" in d:
        with np.errstate(over="ignore"):
            lg = np.asarray(d["logits"], dtype=np.float64)
            return np.asarray(1.0 / (1.0 + np.exp(-lg)), dtype=np.float64)
    return np.asarray(d[name], dtype=np.float64)


def _value(d: Mapping[str, Any], name: str, index: int | None = None) -> Any:
    if index is not None:
        if name == "probs" and "probs" not in d and "logits" in d:
            lg = [_mpf(v) for v in np.asarray(d["logits"]).reshape(-1)]
            top = max(lg)
            w = [mp.exp(v - top) for v in lg]
        elif name == "probs":
            w = [_mpf(v) for v in np.asarray(d["probs"]).reshape(-1)]
        else:
            return _mpf(np.asarray(d[name]).reshape(-1)[index])
        return w[index] / mp.fsum(w)
    if name == "probs" and "probs" not in d and "logits" in d:
        return _probs_from_logits(d["logits"])
    return _mpf(d[name])


@functools.cache
def pair_reference(pair_id: str) -> PairReference:
    """Build (once) the reference of the symbolic pair ``pair_id`` (``kl/<p>/<q>``).

    Raises
    ------
    klproof.symbolic.kl.UnregisteredPairError
        If the symbolic catalogue has no such pair.
    """
    import sympy as sp  # noqa: PLC0415 - the symbolic layer loads only when used

    from klproof.symbolic.families import family as family_class  # noqa: PLC0415
    from klproof.symbolic.kl import get_pair  # noqa: PLC0415

    _, pn, qn = pair_id.split("/")
    pair = get_pair(pn, qn)
    if any(
        isinstance(v, sp.MatrixSymbol) for v in (*pair.p_params.values(), *pair.q_params.values())
    ):
        return _matrix_reference(pair)
    if any(isinstance(v, sp.IndexedBase) for v in pair.p_params.values()):
        return _indexed_reference(pair)
    args: list[Any] = []
    sources: list[tuple[str, str, int | None]] = []
    fixed: list[tuple[str, str, float]] = []
    event_size: int | None = None
    for side, params in (("p", pair.p_params), ("q", pair.q_params)):
        for name, value in params.items():
            if isinstance(value, sp.Tuple):  # a vector parameter: one symbol per entry
                event_size = len(value)
                for i, entry in enumerate(value):
                    if not isinstance(entry, sp.Symbol):
                        raise TypeError(f"{pair.id}: entry {i} of {name} is not a symbol")
                    if entry not in args:
                        args.append(entry)
                        sources.append((side, name, i))
            elif not isinstance(value, sp.Symbol):
                fixed.append((side, name, float(value)))
            elif value not in args:
                args.append(value)
                sources.append((side, name, None))
    shared = tuple(
        n
        for n, v in pair.q_params.items()
        if isinstance(v, sp.Symbol) and pair.p_params.get(n) == v
    )
    fn = sp.lambdify(args, pair.expression, modules="mpmath")
    pf, qf = _families(pair, family_class)
    # support containment with plain real symbols: under the closed form's sign
    # assumptions (e.g. a positive ``low``) SymPy would decide it as True at once
    plain = {s: sp.Dummy(s.name, real=True) for s in args}

    lo_p, hi_p = (sp.sympify(e).xreplace(plain) for e in pf.support())
    lo_q, hi_q = (sp.sympify(e).xreplace(plain) for e in qf.support())
    conds = [sp.Le(lo_q, lo_p), sp.Le(hi_p, hi_q), *(c.xreplace(plain) for c in pair.finite_when)]
    plain_args = [plain[s] for s in args]
    checks = [
        sp.lambdify(plain_args, c, modules="mpmath") for c in conds if c not in (sp.true, True)
    ]
    positive = [i for i, s in enumerate(args) if s.is_positive]

    both = sp.And(*[c for c in conds if c not in (sp.true, True)])
    finite_numpy = sp.lambdify(plain_args, both, modules="numpy")

    def finite(*values: Any) -> bool:
        if not all(bool(c(*values)) for c in checks):
            return False
        if any(values[i] < 0 for i in positive):
            raise ValueError(
                f"{pair.id}: parameter {args[min(i for i in positive if values[i] < 0)]} "
                "must be >= 0 for the closed form to apply"
            )
        return True

    return PairReference(
        pair.id,
        pn == qn,
        tuple(sources),
        tuple(fixed),
        shared,
        event_size,
        fn,
        finite,
        finite_numpy,
    )


def _matrix_reference(pair: Any) -> PairReference:
    """The reference of a pair with matrix parameters (multivariate normals).

    The closed form is evaluated with the parameters as exact rational matrices (SymPy
    computes traces, inverses and determinants exactly) and its logarithms at the working
    precision of mpmath plus 10 digits (SymPy's ``evalf`` raises its own precision until
    that many digits are correct, so cancellation near ``p = q`` is resolved).
    """
    import sympy as sp  # noqa: PLC0415

    sides = (("p", pair.p_params), ("q", pair.q_params))
    symbols = [v for _, params in sides for v in params.values()]
    dims = {s for v in symbols for n in v.shape for s in getattr(n, "free_symbols", ())}
    sources = tuple((side, name, None) for side, params in sides for name in params)

    def function(*values: Any) -> Any:
        subs = dict(zip(symbols, values, strict=True))
        k = values[0].shape[0]
        expr = pair.expression.xreplace(subs).xreplace(dict.fromkeys(dims, k)).doit()
        return mp.mpf(str(sp.N(expr, mp.mp.dps + 10)))

    def finite(*values: Any) -> bool:
        return True  # normals on R^d: mutually absolutely continuous

    return PairReference(
        pair.id,
        pair.p == pair.q,
        sources,
        (),
        (),
        None,
        function,
        finite,
        finite,
        matrix=True,
    )


def _indexed_reference(pair: Any) -> PairReference:
    """The reference of a pair over vectors of any length (diagonal normals).

    The closed form is ``Sum(f(loc_1[i], scale_1[i], loc_2[i], scale_2[i]), (i, 1, D))``:
    its summand is lambdified to mpmath once and summed over the coordinates with
    ``fsum`` at the working precision (the evaluation doubles it until two agree).
    """
    import sympy as sp  # noqa: PLC0415

    expr = pair.expression
    if not isinstance(expr, sp.Sum) or len(expr.limits) != 1:
        raise TypeError(f"{pair.id}: expected a closed form summed over one index")
    (index, _, _), summand = expr.limits[0], expr.function
    sides = (("p", pair.p_params), ("q", pair.q_params))
    plain = {
        base[index]: sp.Dummy(f"{side}_{name}", real=True)
        for side, params in sides
        for name, base in params.items()
    }
    term = sp.lambdify(list(plain.values()), summand.xreplace(plain), modules="mpmath")
    sources = tuple((side, name, None) for side, params in sides for name in params)

    def function(*vectors: Any) -> Any:
        sizes = {len(v) for v in vectors}
        if len(sizes) != 1:
            raise ValueError(f"{pair.id}: coordinate vectors of different lengths {sizes}")
        return mp.fsum(term(*entries) for entries in zip(*vectors, strict=True))

    def finite(*values: Any) -> bool:
        return True  # normals on R^D: mutually absolutely continuous

    return PairReference(
        pair.id,
        pair.p == pair.q,
        sources,
        (),
        (),
        None,
        function,
        finite,
        finite,
        indexed=True,
    )


def _families(pair: Any, family_class: Callable[[str], Any]) -> tuple[Any, Any]:
    """The symbolic families of a pair, rebuilt from its parameters."""
    return (
        family_class(pair.p)(**pair.p_params),
        family_class(pair.q)(**pair.q_params),
    )


def to_float(value: Any, dtype: Any = np.float64) -> float:
    """Round an ``mpf`` to the nearest value of ``dtype`` (``inf`` past its range)."""
    v = float(value) if mp.isfinite(value) else math.inf
    with np.errstate(over="ignore"):  # past the dtype's range: inf, as intended
        return float(np.asarray(v, dtype=np.float64).astype(np.dtype(dtype)))


def evaluate_batch(
    ref: PairReference, p: Mapping[str, NDArray[Any]], q: Mapping[str, NDArray[Any]]
) -> list[Any]:
    """References for every element of a batch of parameter arrays (leading axis)."""
    n = len(next(iter(p.values())))
    return [
        ref.evaluate({k: v[i] for k, v in p.items()}, {k: v[i] for k, v in q.items()})
        for i in range(n)
    ]
