"""``check_kl``: conformance of any KL implementation against the symbolic derivations."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from klproof.testing import _families as F

__all__ = ["CheckReport", "Finding", "check_kl", "parse_pair"]

Params = dict[str, NDArray[np.float64]]
ParamMap = Mapping[str, str] | Sequence[str] | None

#: klproof's accuracy targets (issue "Numeric KL"): relative error in float64 and float32.
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-6}
#: How many offending inputs of each kind a report keeps.
KEEP = 5


@dataclass(frozen=True)
class Finding:
    """One input and what the checked function returned for it.

    Attributes
    ----------
    p, q : dict
        Parameters (Python floats, lists for vector parameters).
    value : float
        What the function returned.
    reference : float
        The derivation's value, rounded to the dtype (``inf`` where KL is infinite).
    rel_error : float
        ``|value - reference| / max(|reference|, tiny)``; ``0`` when both are ``+inf``,
        ``inf`` for a wrong infinity, ``nan`` for a NaN result.
    case : str
        ``"<region>/<relation>"`` the input was drawn from.
    """

    p: dict[str, Any]
    q: dict[str, Any]
    value: float
    reference: float
    rel_error: float
    case: str

    def __str__(self) -> str:
        return (
            f"value {self.value!r} vs reference {self.reference!r} "
            f"(rel. error {self.rel_error:.3g}) at p={self.p}, q={self.q} [{self.case}]"
        )


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_kl`, :func:`check_entropy` or :func:`check_elbo` found.

    Attributes
    ----------
    check : str
        Which check ran (``"check_kl"``, ``"check_entropy"``, ``"check_elbo"``).
    target : str
        What the results were compared with: the derivation id (``kl/<p>/<q>``,
        ``elbo/ppca-diagonal-q``) or ``entropy/<family>``.
    dtype : str
        Floating dtype of the inputs.
    rtol : float
        Accuracy required for :attr:`passed`.
    n_inputs : int
        Number of parameter pairs tried.
    worst : Finding or None
        The input with the largest relative error among the finite, non-NaN results.
    worst_by_case : dict
        ``"<region>/<relation>"`` → worst finding of that case.
    n_inaccurate, n_negative, n_nan, n_wrong_inf, n_raised : int
        Counts of results with relative error above ``rtol``, below zero, NaN,
        infinite where the KL is finite (or finite where it is infinite), and of
        calls that raised.
    negative, nan, wrong_inf : tuple of Finding
        The first few offending inputs of each kind.
    raised : tuple of str
        The first few exception messages.
    """

    check: str
    target: str
    dtype: str
    rtol: float
    n_inputs: int
    worst: Finding | None
    worst_by_case: dict[str, Finding] = field(default_factory=dict)
    n_inaccurate: int = 0
    n_negative: int = 0
    n_nan: int = 0
    n_wrong_inf: int = 0
    n_raised: int = 0
    negative: tuple[Finding, ...] = ()
    nan: tuple[Finding, ...] = ()
    wrong_inf: tuple[Finding, ...] = ()
    raised: tuple[str, ...] = ()

    @property
    def worst_error(self) -> float:
        """Largest relative error over the finite results (``0`` if none)."""
        return 0.0 if self.worst is None else self.worst.rel_error

    @property
    def passed(self) -> bool:
        """No inaccurate, negative, NaN or wrong-infinity result and no exception."""
        return (
            self.n_inaccurate + self.n_negative + self.n_nan + self.n_wrong_inf + self.n_raised == 0
        )

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [
            (
                f"{self.check} {self.target} ({self.dtype}, rtol {self.rtol:g}): {verdict} "
                f"on {self.n_inputs} inputs"
            ),
            f"  worst relative error {self.worst_error:.3g}",
            (
                f"  inaccurate {self.n_inaccurate}, negative {self.n_negative}, "
                f"NaN {self.n_nan}, wrong infinities {self.n_wrong_inf}, raised {self.n_raised}"
            ),
        ]
        lines += [f"  {case:16s} worst {f.rel_error:.3g}" for case, f in self.worst_by_case.items()]
        if self.worst is not None and self.worst.rel_error > self.rtol:
            lines.append(f"  worst: {self.worst}")
        lines += [f"  negative: {f}" for f in self.negative[:1]]
        lines += [f"  NaN: {f}" for f in self.nan[:1]]
        lines += [f"  wrong infinity: {f}" for f in self.wrong_inf[:1]]
        lines += [f"  raised: {m}" for m in self.raised[:1]]
        return "\n".join(lines)


def parse_pair(pair: str | tuple[str, str]) -> tuple[str, str]:
    """``"normal/normal"``, ``"kl/normal/normal"`` or ``("Normal", "Normal")`` → names.

    Raises
    ------
    ValueError
        If the pair is malformed or a family has no parameter generator.
    """
    if isinstance(pair, str):
        parts = pair.lower().removeprefix("kl/").split("/")
    else:
        parts = [str(x).lower() for x in pair]
    if len(parts) != 2:
        raise ValueError(f"pair must look like 'normal/normal'; got {pair!r}")
    for f in parts:
        if f not in F.FAMILIES:
            raise ValueError(f"unknown family {f!r}; known: {', '.join(F.family_names())}")
    return parts[0], parts[1]


def _numeric_class(name: str) -> Any:
    import klproof.numeric as kn  # noqa: PLC0415 - keeps ``klproof.testing`` import light

    for cls_name in kn.__all__:
        obj = getattr(kn, cls_name)
        if isinstance(obj, type) and cls_name.lower() == name:
            return obj
    raise ValueError(f"klproof.numeric has no family {name!r}")


def _lookup(d: Mapping[str, NDArray[np.float64]], name: str) -> NDArray[Any]:
    if name in d:
        return d[name]
    with np.errstate(all="ignore"):
        if name == "probs" and "logits" in d:
            return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(d["logits"], np.float64))))
        if name == "logits" and "probs" in d:
            pr = np.asarray(d["probs"], np.float64)
            return np.asarray(np.log(pr) - np.log1p(-pr))
    raise KeyError(f"no parameter {name!r} in {sorted(d)}")


def _caller(
    fn: Callable[..., Any], pair: tuple[str, str], param_map: ParamMap
) -> Callable[[Params, Params], Any]:
    if param_map is None:
        pc, qc = _numeric_class(pair[0]), _numeric_class(pair[1])
        return lambda p, q: fn(pc(**p), qc(**q))

    def path(spec: str, p: Params, q: Params) -> NDArray[Any]:
        side, _, name = spec.partition(".")
        if side not in ("p", "q") or not name:
            raise ValueError(f"param_map entries look like 'p.loc' or 'q.scale'; got {spec!r}")
        return _lookup(p if side == "p" else q, name)

    if isinstance(param_map, Mapping):
        items = dict(param_map)
        return lambda p, q: fn(**{arg: path(s, p, q) for arg, s in items.items()})
    specs = list(param_map)
    return lambda p, q: fn(*(path(s, p, q) for s in specs))


def _element(d: Params, i: int) -> dict[str, Any]:
    return {k: (v[i].tolist()) for k, v in d.items()}


def _slice(d: Params, i: int) -> Params:
    return {k: v[i : i + 1] for k, v in d.items()}


def check_kl(
    fn: Callable[..., Any],
    pair: str | tuple[str, str],
    *,
    param_map: ParamMap = None,
    regions: Sequence[str] = ("generic", "extreme"),
    relations: Sequence[str] = ("equal", "near", "far", "sparse", "independent"),
    n: int = 50,
    dtype: Any = np.float64,
    rtol: float | None = None,
    vectorized: bool = True,
    seed: int = 0,
) -> CheckReport:
    r"""Check a KL implementation against the machine-checked derivation of ``pair``.

    Draws parameter pairs over the pair's domain (see
    :data:`~klproof.testing.strategies.REGIONS` and
    :data:`~klproof.testing.strategies.RELATIONS`), calls ``fn`` on them and
    compares each result with the closed form of the symbolic pair registry
    (:func:`klproof.symbolic.kl.get_pair`) evaluated in mpmath at adaptive precision
    (at least 40 digits, more until two evaluations agree to 25 digits).

    Parameters
    ----------
    fn : callable
        The implementation. With ``param_map=None`` it is called as
        ``fn(P(**p), Q(**q))`` with klproof's numeric distributions (so
        ``klproof.kl_divergence`` itself can be checked); otherwise with the
        parameters ``param_map`` selects.
    pair : str or tuple of str
        ``"normal/normal"``, ``"kl/normal/normal"`` or ``("normal", "normal")``.
    param_map : mapping or sequence of str, optional
        How to call ``fn``: a mapping ``{argument: "p.loc", ...}`` calls it with those
        keyword arguments; a sequence ``["p.loc", "p.scale", "q.loc", "q.scale"]``
        positionally. ``"p.probs"`` and ``"p.logits"`` are converted into each other
        when the other one was drawn.
    regions : sequence of str
        ``"generic"`` and/or ``"extreme"`` (scales 1e±300, probabilities 1e-300 and
        1 - 1e-16, logits ±700, concentrations 1e±150; narrower in float32).
    relations : sequence of str
        ``"equal"``, ``"near"`` (relative differences 1e-12 … 1e-2), ``"far"`` (order
        one), ``"sparse"`` (near or far in a random subset of the parameter elements)
        and/or ``"independent"`` (q drawn on its own from the region: p and q at
        opposite extremes).
    n : int
        Inputs per (region, relation) case.
    dtype : dtype
        ``float64`` or ``float32``: the dtype of the parameters passed to ``fn``.
    rtol : float, optional
        Relative error tolerated (default 1e-12 for float64, 1e-6 for float32:
        klproof's own accuracy targets).
    vectorized : bool
        Call ``fn`` once per case with arrays of ``n`` inputs (default) or once per
        input with 1-element arrays.
    seed : int
        Seed of the :class:`numpy.random.Generator` the inputs are drawn from.

    Returns
    -------
    CheckReport
        Worst relative error and where, and every negative, NaN or wrong infinity.

    Raises
    ------
    ValueError
        At once, for a malformed ``pair``, an unknown region, relation or dtype, or
        ``n < 1``.
    klproof.symbolic.kl.UnregisteredPairError
        If the symbolic catalogue has no derivation for the pair.

    Notes
    -----
    Parameters the derivation fixes are drawn fixed (``kl/beta/uniform`` is derived for
    ``q = Uniform(0, 1)``), and parameters it shares between ``p`` and ``q`` (Weibull's
    concentration) are drawn equal. The reference is the *derived* closed form, not a hand-typed one; +inf comes from
    the supports and the pair's finiteness conditions. Results past the dtype's range
    (a finite KL above 1.8e308) are expected to be ``+inf``. The relative error is
    measured against ``max(|reference|, tiny)``, so results in the subnormal range
    are judged by their absolute error.

    Examples
    --------
    The textbook formula loses every digit when ``p`` and ``q`` are close:

    >>> import numpy as np
    >>> import klproof
    >>> from klproof.testing import check_kl
    >>> def naive(m1, s1, m2, s2):
    ...     return np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    >>> report = check_kl(
    ...     naive, "normal/normal", param_map=["p.loc", "p.scale", "q.loc", "q.scale"], n=20
    ... )
    >>> report.passed, report.worst_error > 1e-3, report.worst.case.endswith("near")
    (False, True, True)

    klproof's own kernel passes:

    >>> check_kl(klproof.kl_divergence, "normal/normal", n=20).passed
    True
    """
    pn = parse_pair(pair)
    dt = np.dtype(dtype)
    if dt not in RTOL:
        raise ValueError(f"dtype must be float64 or float32; got {dt}")
    for r in regions:
        if r not in ("generic", "extreme"):
            raise ValueError(f"regions must be 'generic' or 'extreme'; got {r!r}")
    for r in relations:
        if r not in F.RELATIONS[:-1]:
            allowed = ", ".join(repr(v) for v in F.RELATIONS[:-1])
            raise ValueError(f"relations must be one of {allowed}; got {r!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    tol = RTOL[dt] if rtol is None else float(rtol)
    from klproof.testing._reference import pair_reference, to_float  # noqa: PLC0415

    pid = f"kl/{pn[0]}/{pn[1]}"
    ref = pair_reference(pid)
    call = _caller(fn, pn, param_map)
    src = F.RngSource(np.random.default_rng(seed))
    acc = _Accumulator("check_kl", pid, str(dt), tol)
    for region in regions:
        for relation in relations:
            case = f"{region}/{relation}"
            with np.errstate(all="ignore"):
                p, q = F.draw_pair(
                    pn, src, n, region=region, relation=relation, dtype=dt, k=ref.event_size or 3
                )
            p, q = ref.restrict(p, q)
            refs = [to_float(ref.evaluate(_element(p, i), _element(q, i)), dt) for i in range(n)]
            values = _call_all(call, p, q, n, vectorized, acc)
            for i in range(n):
                if values is not None and not math.isnan(values[i] if values.ndim else math.nan):
                    acc.add(_element(p, i), _element(q, i), float(values[i]), refs[i], case)
                elif values is not None:
                    acc.add(_element(p, i), _element(q, i), math.nan, refs[i], case)
    return acc.report()


def _call_all(
    call: Callable[[Params, Params], Any],
    p: Params,
    q: Params,
    n: int,
    vectorized: bool,
    acc: _Accumulator,
) -> NDArray[np.float64] | None:
    def one(pp: Params, qq: Params, m: int) -> NDArray[np.float64]:
        with np.errstate(all="ignore"):
            out = np.asarray(call(pp, qq), dtype=np.float64)
        return np.broadcast_to(out, (m,)).astype(np.float64) if out.size in (1, m) else out

    if vectorized:
        try:
            return one(p, q, n)
        except Exception as exc:  # noqa: BLE001 - an exception is a finding, reported
            acc.raised(exc, n)
            return None
    out = np.full(n, np.nan)
    for i in range(n):
        try:
            out[i] = one(_slice(p, i), _slice(q, i), 1)[0]
        except Exception as exc:  # noqa: BLE001 - an exception is a finding, reported
            acc.raised(exc, 1)
    return out


class _Accumulator:
    def __init__(self, check: str, target: str, dtype: str, rtol: float) -> None:
        self.check, self.target, self.dtype, self.rtol = check, target, dtype, rtol
        self.n = 0
        self.worst: Finding | None = None
        self.by_case: dict[str, Finding] = {}
        self.counts = {"inaccurate": 0, "negative": 0, "nan": 0, "wrong_inf": 0, "raised": 0}
        self.kept: dict[str, list[Finding]] = {"negative": [], "nan": [], "wrong_inf": []}
        self.messages: list[str] = []
        self.tiny = float(np.finfo(np.dtype(dtype)).tiny)
        #: whether a negative result is wrong (KL: yes; entropy, ELBO: no)
        self.nonnegative = check == "check_kl"

    def raised(self, exc: Exception, count: int) -> None:
        self.n += count
        self.counts["raised"] += count
        if len(self.messages) < KEEP:
            self.messages.append(f"{type(exc).__name__}: {exc}")

    def _keep(self, kind: str, f: Finding) -> None:
        self.counts[kind] += 1
        if len(self.kept[kind]) < KEEP:
            self.kept[kind].append(f)

    def add(
        self, p: dict[str, Any], q: dict[str, Any], value: float, reference: float, case: str
    ) -> None:
        self.n += 1
        if math.isnan(value):
            self._keep("nan", Finding(p, q, value, reference, math.nan, case))
            return
        if math.isinf(value) or math.isinf(reference):
            err = 0.0 if value == reference else math.inf
        else:
            err = abs(value - reference) / max(abs(reference), self.tiny)
        f = Finding(p, q, value, reference, err, case)
        if value < 0 and self.nonnegative:
            self._keep("negative", f)
        if math.isinf(err):
            self._keep("wrong_inf", f)
            return
        if err > self.rtol:
            self.counts["inaccurate"] += 1
        if self.worst is None or err > self.worst.rel_error:
            self.worst = f
        old = self.by_case.get(case)
        if old is None or err > old.rel_error:
            self.by_case[case] = f

    def report(self) -> CheckReport:
        c = self.counts
        return CheckReport(
            check=self.check,
            target=self.target,
            dtype=self.dtype,
            rtol=self.rtol,
            n_inputs=self.n,
            worst=self.worst,
            worst_by_case=dict(self.by_case),
            n_inaccurate=c["inaccurate"],
            n_negative=c["negative"],
            n_nan=c["nan"],
            n_wrong_inf=c["wrong_inf"],
            n_raised=c["raised"],
            negative=tuple(self.kept["negative"]),
            nan=tuple(self.kept["nan"]),
            wrong_inf=tuple(self.kept["wrong_inf"]),
            raised=tuple(self.messages),
        )
