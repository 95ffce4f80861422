"""Parameter conversion and validation shared by the numeric families.

Every check raises :class:`ValueError` naming the parameter, the constraint and the
first offending value with its index, e.g. ``scale must be > 0; got -1.0 at index (3,)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "SIMPLEX_RTOL",
    "as_float",
    "broadcast_params",
    "check",
    "result_dtype",
]

#: Relative tolerance for ``probs`` summing to one along the last axis: ``|sum - 1| <=
#: SIMPLEX_RTOL * K`` for ``K`` categories (a few ulp per summand in float64, loose enough
#: for float32 input, which is checked at ``1e-5 * K``).
SIMPLEX_RTOL = 1e-12
SIMPLEX_RTOL_F32 = 1e-5

FloatArray = NDArray[np.floating[Any]]


def result_dtype(*arrays: NDArray[Any]) -> np.dtype[Any]:
    """Return the common floating dtype (``float32`` stays ``float32``; ints give ``float64``)."""
    dt = np.result_type(*arrays)
    if dt in (np.float32, np.float64):
        return np.dtype(dt)
    if dt == np.float16:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def as_float(name: str, value: ArrayLike) -> FloatArray:
    """Convert ``value`` to a real floating array, rejecting complex, bool-free garbage."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy raises many types
        raise ValueError(f"{name} must be a real array; got {value!r}") from exc
    if arr.dtype.kind == "b" or arr.dtype.kind in "iu":
        return arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise ValueError(f"{name} must be a real array; got dtype {arr.dtype}")
    if arr.dtype == np.float16 or arr.dtype.itemsize > 8:
        return arr.astype(np.float64 if arr.dtype.itemsize > 8 else np.float32)
    return arr


def _fmt_value(v: Any) -> str:
    return repr(float(v)) if np.ndim(v) == 0 else repr(v)


def check(
    name: str,
    arr: NDArray[Any],
    predicate: Callable[[NDArray[Any]], NDArray[np.bool_]],
    constraint: str,
) -> None:
    """Raise ``ValueError`` at the first element of ``arr`` where ``predicate`` is false.

    ``constraint`` completes "``name`` must be ...", e.g. ``"> 0"``.
    """
    with np.errstate(invalid="ignore"):
        ok = np.asarray(predicate(arr), dtype=bool)
    if ok.all():
        return
    flat = int(np.flatnonzero(~ok.reshape(-1))[0])
    ok_shape = ok.shape
    index = tuple(int(i) for i in np.unravel_index(flat, ok_shape)) if ok_shape else ()
    value = np.broadcast_to(arr, ok_shape)[index] if ok_shape else arr[()]
    raise ValueError(f"{name} must be {constraint}; got {_fmt_value(value)} at index {index}")


def broadcast_params(**arrays: NDArray[Any]) -> tuple[int, ...]:
    """Return the broadcast shape of the named arrays, or raise naming both shapes."""
    items = list(arrays.items())
    shape: tuple[int, ...] = ()
    seen_name, seen_shape = items[0][0], items[0][1].shape if items else ()
    for name, arr in items:
        try:
            shape = np.broadcast_shapes(shape, arr.shape)
        except ValueError:
            raise ValueError(
                f"{seen_name} with shape {seen_shape} and {name} with shape {arr.shape} "
                "cannot be broadcast together"
            ) from None
        seen_name, seen_shape = name, arr.shape
    return shape
