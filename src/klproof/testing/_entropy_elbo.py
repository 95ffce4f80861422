"""``check_entropy`` and ``check_elbo``: conformance of entropy and ELBO code."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import mpmath as mp
import numpy as np
from numpy.typing import NDArray

from klproof.testing import _families as F
from klproof.testing._check import RTOL, CheckReport, _Accumulator, _lookup, _numeric_class
from klproof.testing._reference import MAX_DPS, adaptive

__all__ = ["check_elbo", "check_entropy"]

Params = dict[str, NDArray[np.float64]]
ArgMap = Mapping[str, str] | Sequence[str] | None

#: Working precisions of the two quadratures whose agreement accepts a reference.
_DPS = (25, 35)
#: Digits they must agree to (float64 needs 17).
_AGREE = 18


def _name_of(spec: str) -> str:
    return spec.removeprefix("p.")


def _caller(fn: Callable[..., Any], default: Callable[[Params], Any], arg_map: ArgMap) -> Any:
    if arg_map is None:
        return default
    if isinstance(arg_map, Mapping):
        items = {k: _name_of(v) for k, v in arg_map.items()}
        return lambda d: fn(**{arg: _lookup(d, name) for arg, name in items.items()})
    names = [_name_of(v) for v in arg_map]
    return lambda d: fn(*(_lookup(d, name) for name in names))


def _evaluate(
    call: Callable[[Params], Any], d: Params, n: int, acc: _Accumulator
) -> NDArray[np.float64] | None:
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(call(d), dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - an exception is a finding, reported
        acc.raised(exc, n)
        return None
    return np.broadcast_to(out, (n,)).astype(np.float64) if out.size in (1, n) else out


# -- entropy ----------------------------------------------------------------------------


@functools.cache
def _entropy_oracle(family: str) -> Callable[[Mapping[str, Any], Any], Any]:
    """H(p) by mpmath quadrature (or summation) of -p log p from the symbolic density."""
    import sympy as sp  # noqa: PLC0415 - the symbolic layer loads only when used

    from klproof.symbolic.families import family as family_class  # noqa: PLC0415

    cls = family_class(family)
    sym = cls.symbolic()
    names = [p.name for p in cls.params]
    args = [sym[n] for n in names]
    x = sym.variable
    logpdf = sp.lambdify([*args, x], sp.expand_log(sp.log(sym.pdf(x)), force=True), "mpmath")
    lo_f, hi_f = (sp.lambdify(args, e, "mpmath") for e in sym.support())
    discrete = bool(cls.discrete)

    def oracle(params: Mapping[str, Any], numeric: Any) -> Any:
        vals = [
            1 / (1 + mp.exp(-mp.mpf(float(params["logits"]))))
            if n == "probs" and "probs" not in params
            else mp.mpf(float(params[n]))
            for n in names
        ]
        lo, hi = lo_f(*vals), hi_f(*vals)

        def term(t: Any) -> Any:
            lp = logpdf(*vals, t)
            return -mp.exp(lp) * lp if mp.isfinite(lp) else mp.mpf(0)

        if discrete:
            return mp.nsum(term, [lo, hi])
        return _integrate(lambda t: logpdf(*vals, t), lo, hi, numeric)

    return oracle


@functools.cache
def _derived_entropy(family: str) -> Callable[[Mapping[str, Any]], Any] | None:
    """H(p) from the derivation ``entropy/<family>``, evaluated in mpmath (``None`` if none).

    The closed form is evaluated at the exact binary value of each parameter at ``D`` and
    ``D + 30`` digits, ``D`` doubled until the two agree to 25 digits relative to
    ``max(|H|, 1)``, so cancellation inside the closed form is resolved, not inherited.
    """
    import sympy as sp  # noqa: PLC0415 - the symbolic layer loads only when used

    from klproof.symbolic.families import family as family_class  # noqa: PLC0415
    from klproof.symbolic.kl import entropies  # noqa: PLC0415

    closed = entropies().get(family)
    if closed is None:
        return None
    free = closed.free_symbols
    symbols: Mapping[str, Any] = family_class(family).symbolic(1).values
    if not free <= set(symbols.values()):
        # the entropy is stated in its pair's symbols (Weibull's shared concentration k)
        from klproof.symbolic.kl import get_pair  # noqa: PLC0415

        symbols = get_pair(family, family).p_params
    used = [(name, value) for name, value in symbols.items() if value in free]
    fn = sp.lambdify([v for _, v in used], closed, modules="mpmath")

    def reference(params: Mapping[str, Any]) -> Any:
        def args() -> list[Any]:
            out = []
            for name, _ in used:
                if name == "probs" and "probs" not in params:
                    out.append(1 / (1 + mp.exp(-mp.mpf(float(params["logits"])))))
                else:
                    out.append(mp.mpf(float(params[name])))
            return out

        # a parameter of magnitude 10^m needs m more digits; a logit l gives a
        # probability within e^-|l| of 0 or 1, which takes |l| / ln 10 digits
        mags = [
            abs(float(v)) / math.log(10.0) if name == "logits" else abs(math.log10(abs(float(v))))
            for name, v in params.items()
            if float(v) != 0.0
        ]
        return adaptive(
            fn,
            args,
            40 + int(max(mags, default=0.0)),
            floor=1,
            failure=lambda: f"entropy/{family}: no agreement at {MAX_DPS} digits at {params}",
        )

    return reference


def _integrate(logpdf: Callable[[Any], Any], lo: Any, hi: Any, numeric: Any) -> Any:
    r"""``-∫ p log p`` over ``[lo, hi]``, on a variable that removes endpoint singularities.

    ``x = lo + e^u`` on ``[lo, ∞)``, ``x = lo + (hi - lo) / (1 + e^{-u})`` on a bounded
    interval, ``x = u`` on the line. The range of ``u`` is cut where the integrand falls
    below ``10^-(dps + 15)``, found by doubling steps out from the mean (so the density
    is never evaluated far in a double-exponential tail), and the steps are the
    quadrature's breakpoints.
    """
    if lo == -mp.inf and hi == mp.inf:

        def to_x(u: Any) -> Any:
            return u

        def log_jac(u: Any) -> Any:
            return mp.mpf(0)
    elif hi == mp.inf:

        def to_x(u: Any) -> Any:
            return lo + mp.exp(u)

        def log_jac(u: Any) -> Any:
            return u
    else:

        def to_x(u: Any) -> Any:
            # near an end, hi - x ~ e^-u needs |u| / ln 10 more digits than x itself
            with mp.extradps(int(abs(u) / 2.3) + 10):
                return +(lo + (hi - lo) / (1 + mp.exp(-u)))

        def log_jac(u: Any) -> Any:
            return mp.log(hi - lo) - mp.log(1 + mp.exp(-u)) - mp.log(1 + mp.exp(u))

    mean = float(np.asarray(numeric.mean, dtype=np.float64))
    sd = math.sqrt(float(np.asarray(numeric.variance, dtype=np.float64)))
    if lo == -mp.inf and hi == mp.inf:
        center, step = mp.mpf(mean), mp.mpf(sd if math.isfinite(sd) and sd > 0 else 1.0)
    elif hi == mp.inf:
        ok = math.isfinite(mean) and mean > float(lo)
        center, step = (mp.log(mp.mpf(mean) - lo) if ok else mp.mpf(0)), mp.mpf(1)
    else:
        frac = (mp.mpf(mean) - lo) / (hi - lo)
        center = mp.log(frac) - mp.log(1 - frac) if 0 < frac < 1 else mp.mpf(0)
        step = mp.mpf(1)
    cut = -(mp.mp.dps + 15) * mp.log(10)

    def log_size(u: Any) -> Any:
        lp = _at(logpdf, to_x, u)
        if not mp.isfinite(lp):
            return -mp.inf
        return lp + log_jac(u) + mp.log(max(abs(lp), 1))

    points = [center]
    for sign in (-1, 1):
        k = 0
        while k < 80:
            u = center + sign * step * 2**k
            points.append(u)
            if log_size(u) < cut:
                break
            k += 1
    points.sort()

    def integrand(u: Any) -> Any:
        lp = _at(logpdf, to_x, u)
        return -mp.exp(lp + log_jac(u)) * lp if mp.isfinite(lp) else mp.mpf(0)

    return mp.quad(integrand, points)


def _at(logpdf: Callable[[Any], Any], to_x: Callable[[Any], Any], u: Any) -> Any:
    """``logpdf(to_x(u))`` with the digits ``to_x`` needed near an end of the support."""
    with mp.extradps(int(abs(u) / 2.3) + 10):
        return +logpdf(to_x(u))


def check_entropy(
    fn: Callable[..., Any],
    family: str,
    *,
    param_map: ArgMap = None,
    n: int = 30,
    rtol: float | None = None,
    seed: int = 0,
    region: str = "generic",
    reference: str = "auto",
) -> CheckReport:
    r"""Check an entropy implementation against a high-precision reference.

    Two references, independent of each other:

    * ``"derivation"``: the closed form of the derivation ``entropy/<family>`` (verified
      by :mod:`klproof.symbolic`), evaluated by mpmath with adaptive precision (two
      precisions 30 digits apart must agree to 25 digits). Fast, and valid in every
      region, including scales of 1e±300 and concentrations of 1e±150.
    * ``"quadrature"``: :math:`H(p) = -\int p \log p` (a sum for discrete families),
      evaluated by mpmath at 25 and at 35 digits from the symbolic density of
      :mod:`klproof.symbolic.families`; the two must agree to 18 digits. Moderate
      parameters only (``region="generic"``).

    ``"auto"`` takes the derivation where the family has one, quadrature otherwise.

    Parameters
    ----------
    fn : callable
        With ``param_map=None`` called as ``fn(P(**params))`` with klproof's numeric
        distribution (so ``klproof.entropy`` itself can be checked); otherwise with the
        parameters ``param_map`` selects: a mapping ``{argument: "scale"}`` (keywords) or a
        sequence ``["loc", "scale"]`` (positional).
    family : str
        Lowercase family name with a symbolic density (``"normal"``, ``"gamma"`` …).
    param_map : mapping or sequence of str, optional
        How to call ``fn`` (see above).
    n : int
        Inputs tried.
    rtol : float, optional
        Tolerated error relative to ``max(|H|, 1)`` (differential entropies cross 0;
        default 1e-12).
    seed : int
        Seed of the inputs.
    region : {"generic", "extreme", "any"}
        Where parameters are drawn (see ``klproof.testing.strategies.REGIONS``); the
        quadrature reference supports ``"generic"`` only.
    reference : {"auto", "derivation", "quadrature"}
        The oracle (see above).

    Returns
    -------
    CheckReport
        As for :func:`check_kl` (negative values are not findings: differential
        entropies can be negative).

    Raises
    ------
    ValueError
        At once, for an unknown family, ``n < 1``, an unknown region or reference, a
        family without a derived entropy with ``reference="derivation"``, or quadrature
        outside the generic region.

    Examples
    --------
    >>> import numpy as np
    >>> import klproof
    >>> from klproof.testing import check_entropy
    >>> check_entropy(klproof.entropy, "exponential", n=3).passed
    True
    >>> check_entropy(klproof.entropy, "lognormal", n=50, region="extreme").passed
    True

    A textbook formula that forgets the Gamma's digamma term fails:

    >>> from scipy.special import gammaln
    >>> def wrong(a, b):
    ...     return a - np.log(b) + gammaln(a)
    >>> check_entropy(wrong, "gamma", param_map=["concentration", "rate"], n=3).passed
    False
    """
    fam = str(family).lower()
    if fam not in F.FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(F.family_names())}")
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    if region not in F.REGIONS:
        raise ValueError(f"region must be one of {F.REGIONS}; got {region!r}")
    if reference not in ("auto", "derivation", "quadrature"):
        raise ValueError(
            f"reference must be 'auto', 'derivation' or 'quadrature'; got {reference!r}"
        )
    derived = _derived_entropy(fam) if reference != "quadrature" else None
    if reference == "derivation" and derived is None:
        raise ValueError(f"reference='derivation': no derived entropy for family {fam!r}")
    if derived is None and region != "generic":
        raise ValueError(f"the quadrature reference supports region='generic' only; got {region!r}")
    oracle = _entropy_oracle(fam)
    cls = _numeric_class(fam)
    call = _caller(fn, lambda d: fn(cls(**d)), param_map)
    src = F.RngSource(np.random.default_rng(seed))
    with np.errstate(all="ignore"):
        params = F.draw_params(fam, src, n, region=region)
    acc = _Accumulator("check_entropy", f"entropy/{fam}", "float64", RTOL[np.dtype(np.float64)])
    if rtol is not None:
        acc.rtol = float(rtol)
    acc.tiny = 1.0
    values = _evaluate(call, params, n, acc)
    if values is None:
        return acc.report()
    for i in range(n):
        pi = {k: v[i] for k, v in params.items()}
        if derived is not None:
            ref = derived(pi)
            acc.add(
                {k: v.tolist() for k, v in pi.items()}, {}, float(values[i]), float(ref), region
            )
            continue
        numeric = cls(**{k: v[i] for k, v in params.items()})
        refs = []
        for dps in _DPS:
            with mp.workdps(dps):
                refs.append(oracle(pi, numeric))
        with mp.workdps(_DPS[1]):
            if abs(refs[0] - refs[1]) > mp.mpf(10) ** (-_AGREE) * max(abs(refs[1]), 1):
                raise ArithmeticError(f"entropy/{fam}: quadrature did not converge at {pi}")
        acc.add(
            {k: v.tolist() for k, v in pi.items()}, {}, float(values[i]), float(refs[1]), "generic"
        )
    return acc.report()


# -- ELBO -------------------------------------------------------------------------------

#: The derivation whose closed form is the reference (its dimensions D and d are read
#: from its symbols ``x_i`` and ``m_j``).
ELBO_DERIVATION = "elbo/ppca-diagonal-q"


@functools.cache
def _elbo_oracle() -> tuple[Callable[..., Any], int, int]:
    import sympy as sp  # noqa: PLC0415 - the symbolic layer loads only when used

    from klproof.derivation.ops import unfold  # noqa: PLC0415
    from klproof.symbolic import get  # noqa: PLC0415

    d = get(ELBO_DERIVATION)
    expr = unfold(d.rhs)
    by_name = {s.name: s for s in d.symbols}
    big = sum(1 for n in by_name if n.startswith("x_"))
    lat = sum(1 for n in by_name if n.startswith("m_"))
    order = [
        *(f"x_{i + 1}" for i in range(big)),
        *(f"mu_{i + 1}" for i in range(big)),
        *(f"w_{i + 1}{j + 1}" for i in range(big) for j in range(lat)),
        *(f"m_{j + 1}" for j in range(lat)),
        *(f"s_{j + 1}" for j in range(lat)),
        "sigma",
    ]
    fn = sp.lambdify([by_name[n] for n in order], expr, "mpmath")

    def oracle(m: Mapping[str, NDArray[np.float64]]) -> Any:
        vals = [
            *m["x"],
            *m["bias"],
            *np.asarray(m["weight"]).ravel(),
            *m["q_loc"],
            *m["q_scale"],
            m["noise_scale"],
        ]
        return fn(*(mp.mpf(float(v)) for v in vals))

    return oracle, big, lat


def _draw_models(rng: np.random.Generator, n: int, big: int, lat: int) -> list[dict[str, Any]]:
    return [
        {
            "weight": rng.normal(0.0, 1.0, (big, lat)),
            "bias": rng.normal(0.0, 2.0, big),
            "noise_scale": float(10.0 ** rng.uniform(-1.0, 1.0)),
            "x": rng.normal(0.0, 3.0, big),
            "q_loc": rng.normal(0.0, 1.0, lat),
            "q_scale": np.exp(rng.normal(-0.5, 0.5, lat)),
        }
        for _ in range(n)
    ]


def check_elbo(
    fn: Callable[..., Any],
    *,
    param_map: ArgMap = None,
    n: int = 30,
    rtol: float | None = None,
    seed: int = 0,
) -> CheckReport:
    r"""Check an ELBO implementation on the linear-Gaussian model against its derivation.

    Model: :math:`z \sim \mathcal N(0, I_d)`, :math:`x \mid z \sim \mathcal N(Wz + \mu,
    \sigma^2 I_D)`, variational :math:`q(z) = \mathcal N(m, \operatorname{diag} s^2)`.
    The reference is the closed form of the derivation ``elbo/ppca-diagonal-q`` (the
    ELBO's defining integral evaluated by SymPy at the dimensions it is derived for,
    currently D = d = 2), evaluated in mpmath at 40 digits.

    Parameters
    ----------
    fn : callable
        With ``param_map=None`` called as ``fn(model, q, x)`` with a
        :class:`klproof.models.LinearGaussian`, a :class:`klproof.models.DiagonalNormal`
        and the observation (so ``lambda m, q, x: m.elbo(q, x)`` checks klproof's own);
        otherwise with the values ``param_map`` selects among ``weight`` (D × d),
        ``bias`` (D,), ``noise_scale``, ``x`` (D,), ``q_loc`` (d,), ``q_scale`` (d,).
    param_map : mapping or sequence of str, optional
        ``{argument: name}`` (keywords) or a sequence of names (positional).
    n : int
        Models tried, one observation and one ``q`` each.
    rtol : float, optional
        Tolerated error relative to ``max(|ELBO|, 1)`` (default 1e-12).
    seed : int
        Seed of the inputs.

    Returns
    -------
    CheckReport
        As for :func:`check_kl`.

    Raises
    ------
    ValueError
        At once, if ``n < 1``.

    Examples
    --------
    >>> from klproof.testing import check_elbo
    >>> check_elbo(lambda model, q, x: model.elbo(q, x), n=5).passed
    True
    """
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    oracle, big, lat = _elbo_oracle()
    acc = _Accumulator("check_elbo", ELBO_DERIVATION, "float64", RTOL[np.dtype(np.float64)])
    if rtol is not None:
        acc.rtol = float(rtol)
    acc.tiny = 1.0

    def default(d: Params) -> Any:
        from klproof.models import DiagonalNormal, LinearGaussian  # noqa: PLC0415

        model = LinearGaussian(d["weight"], d["bias"], float(d["noise_scale"]))
        return fn(model, DiagonalNormal(d["q_loc"], d["q_scale"]), d["x"])

    call = _caller(fn, default, param_map)
    for m in _draw_models(np.random.default_rng(seed), n, big, lat):
        value = _evaluate(call, m, 1, acc)
        if value is None:
            continue
        with mp.workdps(40):
            ref = float(oracle(m))
        model = {k: np.asarray(v).tolist() for k, v in m.items() if not k.startswith("q_")}
        q = {"loc": m["q_loc"].tolist(), "scale": m["q_scale"].tolist()}
        acc.add(model, q, float(value[0]), ref, "generic")
    return acc.report()
