"""Implementation of :mod:`klproof.testing.strategies` (import that module, not this one).

Each strategy returns NumPy arrays. With ``batch_size=None`` one example is one input
(0-d arrays, every value drawn by Hypothesis, so it shrinks). With ``batch_size=n``
one example is ``n`` inputs along a leading axis: the first is drawn by Hypothesis,
the other ``n - 1`` by a :class:`numpy.random.Generator` whose seed Hypothesis draws —
a profile reaches many inputs at the cost of one example each, and every failure
replays from its seed.

Every option is keyword-only and checked when the strategy is built, as in
``hypothesis.strategies``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from numpy.typing import NDArray

from klproof.testing import _families as F

__all__ = [
    "REGIONS",
    "RELATIONS",
    "categorical_datasets",
    "kl_pairs",
    "linear_gaussian_models",
    "logits",
    "parameters",
    "positive_floats",
    "probabilities",
]

REGIONS = F.REGIONS
RELATIONS = F.RELATIONS
Params = dict[str, NDArray[Any]]


class _DrawSource(F.Source):
    """A :class:`~klproof.testing._families.Source` whose numbers Hypothesis draws."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def uniform(self, lo: float, hi: float, n: int) -> NDArray[np.float64]:
        """``n`` floats in ``[lo, hi]`` drawn by Hypothesis."""
        elems = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
        return np.array(self.draw(st.lists(elems, min_size=n, max_size=n)), dtype=np.float64)


# -- argument validation ----------------------------------------------------------------


def _check_dtype(dtype: Any) -> np.dtype[Any]:
    try:
        dt: np.dtype[Any] = np.dtype(dtype)
    except TypeError:
        raise InvalidArgument(f"dtype must be float64 or float32; got {dtype!r}") from None
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise InvalidArgument(f"dtype must be float64 or float32; got {dt}")
    return np.dtype(dt)


def _check_batch(batch_size: int | None) -> None:
    if batch_size is not None and (
        not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
    ):
        raise InvalidArgument(f"batch_size must be None or an int >= 1; got {batch_size!r}")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidArgument(f"{name} must be one of {allowed}; got {value!r}")


def _check_range(name_lo: str, lo: float, name_hi: str, hi: float, low: float, high: float) -> None:
    for name, v in ((name_lo, lo), (name_hi, hi)):
        if not isinstance(v, int | float) or math.isnan(v):
            raise InvalidArgument(f"{name} must be a number; got {v!r}")
        if not low <= v <= high:
            raise InvalidArgument(f"{name} must be in [{low!r}, {high!r}]; got {v!r}")
    if lo > hi:
        raise InvalidArgument(f"{name_lo}={lo!r} must not exceed {name_hi}={hi!r}")


def _family(name: str) -> str:
    fam = str(name).lower()
    if fam not in F.FAMILIES:
        raise InvalidArgument(f"unknown family {name!r}; known: {', '.join(F.family_names())}")
    return fam


def _pair(pair: str | tuple[str, str]) -> tuple[str, str]:
    parts = (
        pair.lower().removeprefix("kl/").split("/")
        if isinstance(pair, str)
        else [str(x).lower() for x in pair]
    )
    if len(parts) != 2:
        raise InvalidArgument(f"pair must look like 'normal/normal'; got {pair!r}")
    out = (_family(parts[0]), _family(parts[1]))
    if out[0] != out[1] and out not in F.MATCH:
        known = ", ".join(f"{a}/{b}" for a, b in F.PAIRS)
        raise InvalidArgument(f"no generator for the pair {pair!r}; known: {known}")
    return out


# -- batches ----------------------------------------------------------------------------


def _batched(draw: st.DrawFn, batch_size: int | None, make: Any) -> tuple[Params, ...]:
    """``make(src, n)`` for the Hypothesis-drawn head and the seeded NumPy tail."""
    head = make(_DrawSource(draw), 1)
    if batch_size is None:
        return tuple({k: v[0] for k, v in d.items()} for d in head)
    if batch_size == 1:
        return tuple(head)
    seed = draw(st.integers(0, 2**63 - 1))
    tail = make(F.RngSource(np.random.default_rng(seed)), batch_size - 1)
    return tuple(
        {k: np.concatenate([h[k], t[k]]) for k in h} for h, t in zip(head, tail, strict=True)
    )


def _form_for(draw: st.DrawFn, family: str) -> str | None:
    if family in ("bernoulli", "geometric", "binomial", "categorical"):
        return str(draw(st.sampled_from(("probs", "logits"))))
    return None


@st.composite
def _parameters(
    draw: st.DrawFn, family: str, batch_size: int | None, region: str, dtype: Any, k: int | None
) -> Params:
    form = _form_for(draw, family)
    kk = draw(st.integers(2, 6)) if k is None else k

    def make(src: F.Source, n: int) -> tuple[Params]:
        with np.errstate(all="ignore"):
            return (F.draw_params(family, src, n, region=region, dtype=dtype, k=kk, form=form),)

    return _batched(draw, batch_size, make)[0]


def parameters(
    family: str,
    *,
    batch_size: int | None = None,
    region: str = "any",
    dtype: Any = np.float64,
    k: int | None = None,
) -> st.SearchStrategy[Params]:
    """Valid parameters of ``family``, as a dict of arrays keyed by the parameter names.

    Parameters
    ----------
    family : str
        Lowercase family name (``"normal"``, ``"gamma"``, ``"categorical"`` …).
    batch_size : int, optional
        ``None``: one input (0-d arrays); ``n``: ``n`` inputs along a leading axis.
    region : {"any", "generic", "extreme"}
        ``extreme``: scales 1e±300, probabilities 1e-300 and 1 - 1e-16, logits ±700,
        concentrations 1e±150 (cut to the float32 range for ``float32``).
    dtype : {float64, float32}
        dtype of the arrays.
    k : int, optional
        Event size of vector families (default: drawn in 2 … 6).

    Returns
    -------
    SearchStrategy
        Of ``dict[str, numpy.ndarray]``; ``Bernoulli``-like families give either
        ``probs`` or ``logits``.

    Examples
    --------
    >>> from klproof.testing.strategies import parameters
    >>> from hypothesis import given
    >>> @given(parameters("gamma", batch_size=4))
    ... def test_shapes(p):
    ...     assert sorted(p) == ["concentration", "rate"] and p["rate"].shape == (4,)
    >>> test_shapes()
    >>> parameters("gamma", region="everywhere")
    Traceback (most recent call last):
    ...
    hypothesis.errors.InvalidArgument: region must be one of ('generic', 'extreme', 'any'); got 'everywhere'
    """
    fam = _family(family)
    _check_batch(batch_size)
    _check_choice("region", region, REGIONS)
    dt = _check_dtype(dtype)
    if k is not None and (not isinstance(k, int) or k < 1):
        raise InvalidArgument(f"k must be an int >= 1; got {k!r}")
    return _parameters(fam, batch_size, region, dt, k)


@st.composite
def _kl_pairs(
    draw: st.DrawFn,
    pair: tuple[str, str],
    batch_size: int | None,
    region: str,
    relation: str,
    dtype: Any,
    min_rel_diff: float | None,
    max_rel_diff: float,
    k: int | None,
) -> tuple[Params, Params]:
    form = _form_for(draw, pair[0])
    kk = draw(st.integers(2, 6)) if k is None else k
    # one batch in three gives q the other parametrisation (F.RELATIONS)
    switch = pair[1] in F.SWITCHABLE and draw(st.integers(0, 2)) == 0

    def make(src: F.Source, n: int) -> tuple[Params, Params]:
        with np.errstate(all="ignore"):
            return F.draw_pair(
                pair,
                src,
                n,
                region=region,
                relation=relation,
                dtype=dtype,
                min_rel_diff=min_rel_diff,
                max_rel_diff=max_rel_diff,
                k=kk,
                form=form,
                switch=switch,
            )

    p, q = _batched(draw, batch_size, make)
    return p, q


def kl_pairs(
    pair: str | tuple[str, str],
    *,
    batch_size: int | None = None,
    region: str = "any",
    relation: str = "any",
    dtype: Any = np.float64,
    min_rel_diff: float | None = None,
    max_rel_diff: float = 1e-2,
    k: int | None = None,
) -> st.SearchStrategy[tuple[Params, Params]]:
    """Parameter pairs ``(p, q)`` for a KL pair, including the near-equal regime.

    Parameters
    ----------
    pair : str or tuple of str
        ``"normal/normal"``, ``"kl/gamma/normal"`` or ``("gamma", "normal")``.
    batch_size : int, optional
        ``None`` for one input, ``n`` for ``n`` along a leading axis.
    region : {"any", "generic", "extreme"}
        As in :func:`parameters`.
    relation : {"any", "equal", "near", "far", "sparse", "independent"}
        ``equal``: ``q = p`` (for two families, the ``q`` nearest to ``p``); ``near``:
        every parameter moved by a relative ``min_rel_diff`` … ``max_rel_diff``;
        ``far``: moved by a relative amount of order one; ``sparse``: ``near`` or
        ``far`` in a random subset of the parameter elements only (vectors that differ
        in a few coordinates); ``independent``: ``q`` drawn
        on its own from the region (``p`` and ``q`` can sit at opposite extremes), with
        parameters the pair shares (Binomial's ``total_count``) kept equal. For the
        families given by ``probs`` or ``logits``, one draw in three (relations other
        than ``equal``) gives ``q`` in the other form than ``p``, converted after the
        move: KL(logits ‖ probs) near the diagonal depends on how each is rounded.
    dtype : {float64, float32}
        dtype of the arrays.
    min_rel_diff, max_rel_diff : float
        Range of the relative differences of ``near`` pairs (default 1e-12 … 1e-2;
        1e-6 … 1e-2 in float32).
    k : int, optional
        Event size of vector families (default: drawn in 2 … 6).

    Returns
    -------
    SearchStrategy
        Of ``(p_params, q_params)``, dicts of arrays of equal leading shape.

    Examples
    --------
    >>> from klproof.testing.strategies import kl_pairs
    >>> import klproof
    >>> from hypothesis import given
    >>> @given(kl_pairs("normal/normal", batch_size=8, relation="near"))
    ... def test_nonnegative(pq):
    ...     p, q = pq
    ...     assert (klproof.kl_divergence(klproof.Normal(**p), klproof.Normal(**q)) >= 0).all()
    >>> test_nonnegative()
    >>> kl_pairs("normal/normal", min_rel_diff=1e-3, max_rel_diff=1e-6)
    Traceback (most recent call last):
    ...
    hypothesis.errors.InvalidArgument: min_rel_diff=0.001 must not exceed max_rel_diff=1e-06
    """
    pn = _pair(pair)
    _check_batch(batch_size)
    _check_choice("region", region, REGIONS)
    _check_choice("relation", relation, RELATIONS)
    dt = _check_dtype(dtype)
    lo = F.limits_for(dt).min_rel_diff if min_rel_diff is None else min_rel_diff
    _check_range("min_rel_diff", lo, "max_rel_diff", max_rel_diff, 1e-300, 1.0)
    if k is not None and (not isinstance(k, int) or k < 1):
        raise InvalidArgument(f"k must be an int >= 1; got {k!r}")
    return _kl_pairs(pn, batch_size, region, relation, dt, min_rel_diff, max_rel_diff, k)


# -- scalar kinds with min_value / max_value ----------------------------------------------


def _floats_log(lo: float, hi: float, batch_size: int | None, dtype: Any) -> Any:
    llo, lhi = math.log10(lo), math.log10(hi)

    @st.composite
    def strat(draw: st.DrawFn) -> NDArray[Any]:
        def make(src: F.Source, n: int) -> tuple[Params]:
            x = np.clip(10.0 ** src.uniform(llo, lhi, n), lo, hi)
            return ({"x": x.astype(dtype)},)

        return _batched(draw, batch_size, make)[0]["x"]

    return strat()


def positive_floats(
    *,
    min_value: float = 1e-300,
    max_value: float = 1e300,
    batch_size: int | None = None,
    dtype: Any = np.float64,
) -> st.SearchStrategy[NDArray[Any]]:
    """Positive floats, log-uniform between ``min_value`` and ``max_value``.

    Parameters
    ----------
    min_value, max_value : float
        ``0 < min_value <= max_value`` (finite, within ``dtype``'s normal range).
    batch_size : int, optional
        ``None`` for a 0-d array, ``n`` for shape ``(n,)``.
    dtype : {float64, float32}
        dtype of the array.

    Returns
    -------
    SearchStrategy
        Of :class:`numpy.ndarray`.

    Examples
    --------
    >>> from klproof.testing.strategies import positive_floats
    >>> from hypothesis import given
    >>> @given(positive_floats(min_value=1.0, max_value=2.0, batch_size=5))
    ... def test_range(x):
    ...     assert ((1.0 <= x) & (x <= 2.0)).all()
    >>> test_range()
    """
    dt = _check_dtype(dtype)
    fi = np.finfo(dt)
    _check_range("min_value", min_value, "max_value", max_value, float(fi.tiny), float(fi.max))
    _check_batch(batch_size)
    strat: st.SearchStrategy[NDArray[Any]] = _floats_log(
        float(min_value), float(max_value), batch_size, dt
    )
    return strat


def probabilities(
    *,
    min_value: float = 1e-300,
    max_value: float = 1.0 - 1e-16,
    batch_size: int | None = None,
    dtype: Any = np.float64,
) -> st.SearchStrategy[NDArray[Any]]:
    """Probabilities in ``[min_value, max_value]``, dense near both ends.

    Half of the values are log-uniform near ``min_value`` and half have ``1 - x``
    log-uniform near ``1 - max_value``, so both tails of ``(0, 1)`` are reached.

    Parameters
    ----------
    min_value, max_value : float
        ``0 < min_value <= max_value < 1``.
    batch_size : int, optional
        ``None`` for a 0-d array, ``n`` for shape ``(n,)``.
    dtype : {float64, float32}
        dtype of the array.

    Returns
    -------
    SearchStrategy
        Of :class:`numpy.ndarray`.

    Examples
    --------
    >>> from klproof.testing.strategies import probabilities
    >>> from hypothesis import given
    >>> @given(probabilities(batch_size=100))
    ... def test_open_interval(x):
    ...     assert ((0 < x) & (x < 1)).all()
    >>> test_open_interval()
    """
    dt = _check_dtype(dtype)
    _check_range("min_value", min_value, "max_value", max_value, float(np.finfo(dt).tiny), 1.0)
    if max_value >= 1.0:
        raise InvalidArgument(f"max_value must be < 1; got {max_value!r}")
    _check_batch(batch_size)
    lo, hi = float(min_value), float(max_value)
    top = float(np.nextafter(dt.type(1), dt.type(0)))

    @st.composite
    def strat(draw: st.DrawFn) -> NDArray[Any]:
        def make(src: F.Source, n: int) -> tuple[Params]:
            u = src.uniform(0.0, 1.0, n)
            small = 10.0 ** src.uniform(math.log10(lo), 0.0, n)
            big = 1.0 - 10.0 ** src.uniform(math.log10(max(1.0 - hi, 1e-300)), 0.0, n)
            x = np.clip(np.where(u < 0.5, small, big), lo, min(hi, top)).astype(dt)
            return ({"x": np.clip(x, dt.type(lo), dt.type(min(hi, top)))},)

        return _batched(draw, batch_size, make)[0]["x"]

    return strat()


def logits(
    *,
    min_value: float = -700.0,
    max_value: float = 700.0,
    batch_size: int | None = None,
    dtype: Any = np.float64,
) -> st.SearchStrategy[NDArray[Any]]:
    """Logits, uniform on ``[min_value, max_value]``.

    Parameters
    ----------
    min_value, max_value : float
        Finite, ``min_value <= max_value``.
    batch_size : int, optional
        ``None`` for a 0-d array, ``n`` for shape ``(n,)``.
    dtype : {float64, float32}
        dtype of the array.

    Returns
    -------
    SearchStrategy
        Of :class:`numpy.ndarray`.

    Examples
    --------
    >>> from klproof.testing.strategies import logits
    >>> from hypothesis import given
    >>> @given(logits(min_value=-1.0, max_value=1.0))
    ... def test_range(x):
    ...     assert abs(x) <= 1.0
    >>> test_range()
    """
    dt = _check_dtype(dtype)
    big = float(np.finfo(dt).max)
    _check_range("min_value", min_value, "max_value", max_value, -big, big)
    _check_batch(batch_size)
    lo, hi = float(min_value), float(max_value)

    @st.composite
    def strat(draw: st.DrawFn) -> NDArray[Any]:
        def make(src: F.Source, n: int) -> tuple[Params]:
            return ({"x": np.clip(src.uniform(lo, hi, n), lo, hi).astype(dt)},)

        return _batched(draw, batch_size, make)[0]["x"]

    return strat()


# -- data sets and models ---------------------------------------------------------------


def categorical_datasets(
    *,
    min_categories: int = 2,
    max_categories: int = 10,
    min_size: int = 1,
    max_size: int = 200,
) -> st.SearchStrategy[tuple[int, NDArray[np.int64]]]:
    """Discrete data sets for maximum-likelihood checks: ``(K, observations)``.

    Observations are integers in ``0 … K-1``; some categories may be absent (then the
    empirical distribution has zeros, the case that needs ``0 log 0 = 0``).

    Parameters
    ----------
    min_categories, max_categories : int
        Range of ``K`` (``2 <= min_categories <= max_categories``).
    min_size, max_size : int
        Range of the number of observations (``1 <= min_size <= max_size``).

    Returns
    -------
    SearchStrategy
        Of ``(K, numpy.ndarray of int64)``.

    Examples
    --------
    >>> from klproof.testing.strategies import categorical_datasets
    >>> from hypothesis import given
    >>> @given(categorical_datasets(max_categories=3))
    ... def test_range(data):
    ...     k, x = data
    ...     assert ((0 <= x) & (x < k)).all()
    >>> test_range()
    """
    for name, v, lo in (
        ("min_categories", min_categories, 2),
        ("max_categories", max_categories, 2),
        ("min_size", min_size, 1),
        ("max_size", max_size, 1),
    ):
        if not isinstance(v, int) or v < lo:
            raise InvalidArgument(f"{name} must be an int >= {lo}; got {v!r}")
    if min_categories > max_categories:
        raise InvalidArgument(
            f"min_categories={min_categories} must not exceed max_categories={max_categories}"
        )
    if min_size > max_size:
        raise InvalidArgument(f"min_size={min_size} must not exceed max_size={max_size}")

    @st.composite
    def strat(draw: st.DrawFn) -> tuple[int, NDArray[np.int64]]:
        k = draw(st.integers(min_categories, max_categories))
        xs = draw(st.lists(st.integers(0, k - 1), min_size=min_size, max_size=max_size))
        return k, np.asarray(xs, dtype=np.int64)

    return strat()


def linear_gaussian_models(
    *,
    max_data_dim: int = 4,
    max_latent_dim: int = 3,
    min_noise: float = 1e-2,
    max_noise: float = 1e2,
) -> st.SearchStrategy[dict[str, Any]]:
    """Parameters of the linear-Gaussian latent model, an observation and a Gaussian ``q``.

    For :class:`klproof.models.LinearGaussian`: ``weight`` (D × d), ``bias`` (D,),
    ``noise_scale``; an observation ``x`` (D,); a diagonal Gaussian ``q`` over ``z``
    with ``q_loc`` and ``q_scale`` (d,).

    Parameters
    ----------
    max_data_dim, max_latent_dim : int
        Upper bounds of ``D`` and ``d`` (at least 1).
    min_noise, max_noise : float
        Range of the observation noise scale (log-uniform, positive).

    Returns
    -------
    SearchStrategy
        Of ``dict`` with keys ``weight``, ``bias``, ``noise_scale``, ``x``, ``q_loc``,
        ``q_scale``.

    Examples
    --------
    >>> from klproof.testing.strategies import linear_gaussian_models
    >>> from hypothesis import given
    >>> @given(linear_gaussian_models(max_data_dim=2, max_latent_dim=1))
    ... def test_keys(m):
    ...     assert sorted(m) == ["bias", "noise_scale", "q_loc", "q_scale", "weight", "x"]
    >>> test_keys()
    """
    for name, v in (("max_data_dim", max_data_dim), ("max_latent_dim", max_latent_dim)):
        if not isinstance(v, int) or v < 1:
            raise InvalidArgument(f"{name} must be an int >= 1; got {v!r}")
    _check_range("min_noise", min_noise, "max_noise", max_noise, 1e-300, 1e300)
    lo, hi = math.log10(min_noise), math.log10(max_noise)

    @st.composite
    def strat(draw: st.DrawFn) -> dict[str, Any]:
        d_big = draw(st.integers(1, max_data_dim))
        d_lat = draw(st.integers(1, max_latent_dim))
        seed = draw(st.integers(0, 2**63 - 1))
        noise = 10.0 ** draw(st.floats(lo, hi))
        rng = np.random.default_rng(seed)
        return {
            "weight": rng.normal(0.0, 1.0, (d_big, d_lat)),
            "bias": rng.normal(0.0, 2.0, d_big),
            "noise_scale": float(noise),
            "x": rng.normal(0.0, 3.0, d_big),
            "q_loc": rng.normal(0.0, 1.0, d_lat),
            "q_scale": np.exp(rng.normal(-0.5, 0.5, d_lat)),
        }

    return strat()
