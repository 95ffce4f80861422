"""The pair registry: public metadata per KL pair, and registration of its derivations."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import sympy as sp

from klproof.derivation import KL, Cite, Derivation, Step
from klproof.symbolic.families import Family
from klproof.symbolic.kl import _routes as routes
from klproof.symbolic.kl import diagonal as _diagonal  # noqa: F401 - registers derivations
from klproof.symbolic.kl import discrete as _discrete  # noqa: F401 - registers its specs
from klproof.symbolic.kl import multivariate as _multivariate  # noqa: F401 - registers its specs
from klproof.symbolic.kl import simplex as _simplex  # noqa: F401 - registers its specs
from klproof.symbolic.kl.catalogue import SPECS, PairSpec
from klproof.symbolic.kl.expansion import EXPANDABLE, expansion_derivation
from klproof.symbolic.kl.forms import FORMS
from klproof.symbolic.kl.mismatch import mismatch_factory, mismatched
from klproof.symbolic.registry import get, register

#: A custom route: ``builder(name, spec, title=..., references=...) -> Derivation``, for
#: pairs the generic univariate builders cannot handle (multivariate families, say).
#: Put it in ``PairSpec.extra["builders"][route]``; ``extra["pair_lhs"]`` is then the
#: KL expression the pair derivation states, ``extra["symbols"]`` its symbols,
#: ``extra["titles"][route]`` the route's title suffix, ``extra["cite"]`` the check
#: class citing a route (default :class:`~klproof.derivation.Cite`), and
#: ``extra["lemma_symbols"]`` the symbols of the moments' lemmas that ``entropy/<p>``
#: declares when it uses them.
RouteBuilder = Callable[..., Derivation]

__all__ = ["KLPair", "UnregisteredPairError", "entropies", "get_pair", "pairs"]


@dataclass(frozen=True)
class KLPair:
    """One registered pair: families, derivations, result and metadata.

    Attributes
    ----------
    id
        Stable id and name of the pair's derivation, ``kl/<p>/<q>``.
    p, q
        Lowercase family names.
    routes
        Names of the route derivations (at least two, each verified independently).
    expression
        The closed form (a SymPy expression in the symbols of ``p_params`` and ``q_params``).
    p_params, q_params
        Public parameter name → SymPy symbol (``{"loc": mu_1, "scale": sigma_1}``).
    finite_when
        Conditions for finiteness beyond the families' own constraints (KL = +oo otherwise).
    conditions
        Conditions assumed by the derivations (e.g. ``low < high``).
    sources
        Where the formula is published (checked here, not copied).
    notes
        Remarks (e.g. why a route is missing).
    form
        ``""`` for the families' default parameters, else the parametrisation of this
        entry (``"logits"``: id ``kl/bernoulli-logits/bernoulli-logits``).
    """

    id: str
    p: str
    q: str
    routes: tuple[str, ...]
    expression: Any
    p_params: Mapping[str, Any]
    q_params: Mapping[str, Any]
    finite_when: tuple[Any, ...]
    conditions: tuple[Any, ...]
    sources: tuple[str, ...]
    notes: str = ""
    form: str = ""

    def derivation(self) -> Derivation:
        """The pair's derivation (cites every route)."""
        return get(self.id)

    def route_derivations(self) -> list[Derivation]:
        """The route derivations, in the order of ``routes``."""
        return [get(name) for name in self.routes]

    def evaluate(self, p: Mapping[str, Any], q: Mapping[str, Any]) -> Any:
        """The closed form at parameter dicts keyed by the public names.

        Matrix parameters (``MultivariateNormal``'s ``loc`` and ``covariance_matrix``)
        are given as nested lists or matrices; the dimension is read from them and the
        traces, inverses and determinants are evaluated. Vectors of any length
        (``DiagonalNormal``'s ``loc`` and ``scale``, ``IndexedBase`` symbols) are given as
        lists: the sum over the coordinates is expanded at that length.
        """
        if any(isinstance(v, sp.IndexedBase) for v in self.p_params.values()):
            return self._evaluate_indexed(p, q)
        mapping: dict[Any, Any] = {}
        for params, values in ((self.p_params, p), (self.q_params, q)):
            for k, v in values.items():
                symbol = params[k]
                if isinstance(symbol, sp.Tuple):  # a vector of fixed length (Dirichlet K = 3)
                    entries = [sp.sympify(x) for x in v]
                    if len(entries) != len(symbol):
                        raise ValueError(
                            f"{self.id}: {k} has {len(symbol)} entries here, got {len(entries)}"
                        )
                    mapping.update(zip(symbol, entries, strict=True))
                else:
                    mapping[symbol] = _value_for(symbol, v)
        dims = {
            d: value.shape[0]
            for symbol, value in mapping.items()
            if isinstance(symbol, sp.MatrixSymbol)
            for d in getattr(symbol.shape[0], "free_symbols", ())
        }
        out = self.expression.xreplace(mapping)
        return out.xreplace(dims).doit() if dims else out

    def _evaluate_indexed(self, p: Mapping[str, Any], q: Mapping[str, Any]) -> Any:
        expr = self.expression
        (_, _, upper), *_ = expr.limits
        mapping: dict[Any, Any] = {}
        lengths = set()
        for params, values in ((self.p_params, p), (self.q_params, q)):
            for k, v in values.items():
                entries = [sp.sympify(x) for x in v]
                lengths.add(len(entries))
                mapping.update({params[k][i + 1]: x for i, x in enumerate(entries)})
        if len(lengths) != 1:
            raise ValueError(f"{self.id}: parameter vectors of different lengths {lengths}")
        return expr.xreplace({upper: lengths.pop()}).doit().xreplace(mapping)

    def lambdify(self, modules: Any = "mpmath") -> Callable[..., Any]:
        """A numeric function ``f(p_values..., q_values...)`` in parameter order.

        For matrix parameters (which SymPy's code printers do not handle) the function
        evaluates :meth:`evaluate` exactly and rounds: to an mpmath number at the current
        precision for ``modules="mpmath"``, to a float otherwise. For vectors of any
        length (``DiagonalNormal``) each argument is a sequence of coordinates, and the
        summand is evaluated per coordinate and summed (``fsum``).
        """
        args = [*self.p_params.values(), *self.q_params.values()]
        if any(isinstance(a, sp.IndexedBase) for a in args):  # vectors of any length
            (index, _, _), *_ = self.expression.limits
            plain = [sp.Dummy(a.name, real=True) for a in args]
            term = sp.lambdify(
                plain,
                self.expression.function.xreplace(
                    {a[index]: d for a, d in zip(args, plain, strict=True)}
                ),
                modules=modules,
            )

            def total(*vectors: Any) -> Any:
                terms = [term(*entries) for entries in zip(*vectors, strict=True)]
                if modules == "mpmath":
                    import mpmath  # noqa: PLC0415 - a SymPy dependency

                    return mpmath.fsum(terms)
                return math.fsum(float(t) for t in terms)

            return total
        if any(isinstance(a, sp.MatrixSymbol) for a in args):
            n = len(self.p_params)

            def f(*values: Any) -> Any:
                values = tuple(v.tolist() if hasattr(v, "tolist") else v for v in values)
                value = self.evaluate(
                    dict(zip(self.p_params, values[:n], strict=True)),
                    dict(zip(self.q_params, values[n:], strict=True)),
                )
                if modules == "mpmath":
                    import mpmath  # noqa: PLC0415 - a SymPy dependency

                    return mpmath.mpf(str(sp.N(value, mpmath.mp.dps + 5)))
                return float(value)

            return f
        return sp.lambdify(args, self.expression, modules=modules)  # type: ignore[no-any-return]


def _value_for(symbol: Any, value: Any) -> Any:
    if isinstance(symbol, sp.MatrixSymbol):
        m = sp.ImmutableMatrix(value)
        return m.T if symbol.shape[1] == 1 and m.shape[1] != 1 else m
    return sp.sympify(value)


class UnregisteredPairError(KeyError):
    """No closed-form KL is registered for these two families."""

    def __init__(self, p: str, q: str) -> None:
        same_p = sorted(f"{a}/{b}" for a, b in SPECS if a == p)
        listing = ", ".join(same_p) if same_p else "none"
        super().__init__(
            f"no KL pair registered for p = {p!r}, q = {q!r}; "
            f"registered pairs with p = {p!r}: {listing}"
        )
        self.p, self.q = p, q

    def __str__(self) -> str:
        return str(self.args[0])


def _pair_id(p: str, q: str) -> str:
    return f"kl/{p}/{q}"


def _split(name: str) -> tuple[str, str]:
    """``"bernoulli-logits"`` -> ``("bernoulli", "logits")``; no form -> ``""``."""
    fam, _, form = name.partition("-")
    return fam, form


#: Keys of the pairs in a second parametrisation: ``("bernoulli-logits", ...)``.
_FORM_KEYS = {(f"{p}-{f}", f"{q}-{f}"): (p, q, f) for p, q, f in FORMS}


@cache
def _spec(p: str, q: str) -> PairSpec:
    if (p, q) in _FORM_KEYS:
        return FORMS[_FORM_KEYS[(p, q)]]()
    return SPECS[(p, q)]()


def _params(f: Family) -> dict[str, Any]:
    return dict(f.values)


@cache
def _make_pair(p: str, q: str) -> KLPair:
    s = _spec(p, q)
    p_params, q_params = s.extra.get("params") or (_params(s.p), _params(s.q))
    return KLPair(
        id=_pair_id(p, q),
        p=_split(p)[0],
        q=_split(q)[0],
        routes=tuple(f"{_pair_id(p, q)}/{r}" for r in s.routes),
        expression=s.closed,
        p_params=p_params,
        q_params=q_params,
        finite_when=s.finite_when,
        conditions=tuple(
            c for c in (s.conditions or routes.conditions_of(s.p, s.q)) if not c.has(s.p.variable)
        ),
        sources=s.sources,
        notes=s.notes,
        form=_split(p)[1],
    )


@cache
def _make_infinite(p: str, q: str) -> KLPair:
    m = mismatched()[(p, q)]
    return KLPair(
        id=_pair_id(p, q),
        p=p,
        q=q,
        routes=(),
        expression=sp.oo,
        p_params=_params(m.p),
        q_params=_params(m.q),
        finite_when=(sp.false,),
        conditions=(),
        sources=("T. M. Cover and J. A. Thomas, Elements of Information Theory, 2006, §2.3",),
        notes="+oo for all parameters: p puts mass where q has none (derived from the "
        "supports; the derivation's one step is the support-mismatch rule).",
    )


def _infinite_keys() -> list[tuple[str, str]]:
    return [k for k in mismatched() if k not in SPECS]


def pairs(*, forms: bool = False, infinite: bool = False) -> list[KLPair]:
    """Every registered pair, sorted by id.

    Parameters
    ----------
    forms
        Also list the pairs in a second parametrisation (``kl/bernoulli-logits/...``);
        by default only the families' default parameters (one entry per numeric kernel).
    infinite
        Also list the pairs whose KL is +oo for all parameters (support mismatch,
        ``expression`` is ``oo``, no routes: one derivation, ``kl/<p>/<q>``).
    """
    keys = [*SPECS, *(_FORM_KEYS if forms else ())]
    out = [_make_pair(p, q) for p, q in keys]
    if infinite:
        out += [_make_infinite(p, q) for p, q in _infinite_keys()]
    return sorted(out, key=lambda pr: pr.id)


def get_pair(
    p: str | type[Family] | Family, q: str | type[Family] | Family, *, form: str = ""
) -> KLPair:
    """The registered pair for families ``p`` and ``q`` (names, classes or instances).

    ``form`` picks a second parametrisation (``get_pair("bernoulli", "bernoulli",
    form="logits")``, also reachable as ``get_pair("bernoulli-logits", "bernoulli-logits")``).
    A pair whose KL is +oo for all parameters (the supports say so) is returned with
    ``expression`` ``oo`` (see :func:`pairs` with ``infinite=True``).

    Raises
    ------
    UnregisteredPairError
        Naming both families and listing the registered pairs for ``p``'s family.
    """
    pn, qn = _name(p), _name(q)
    if form:
        pn, qn = f"{pn}-{form}", f"{qn}-{form}"
    if (pn, qn) not in SPECS and (pn, qn) not in _FORM_KEYS:
        if (pn, qn) in mismatched():
            return _make_infinite(pn, qn)
        raise UnregisteredPairError(pn, qn)
    return _make_pair(pn, qn)


def _name(f: str | type[Family] | Family) -> str:
    if isinstance(f, str):
        return f.lower()
    if isinstance(f, type) and issubclass(f, Family):
        return f.name
    if isinstance(f, Family):
        return f.name
    raise TypeError(f"expected a family name, class or instance, got {f!r}")


# --------------------------------------------------------------------------- derivations


_ROUTE_TITLES = {
    "integral": "from the defining integral",
    "sum": "from the defining sum",
    "bregman": "by the Bregman form of the log-normaliser",
    "cross-entropy": "as cross-entropy minus entropy",
}


def _title(s: PairSpec, route: str) -> str:
    what = s.extra.get("titles", {}).get(route) or _ROUTE_TITLES.get(route, f"by the {route} route")
    return f"KL({s.p.title} ‖ {s.q.title}) {what}"


def _route_factory(p: str, q: str, route: str) -> Callable[[], Derivation]:
    name = f"{_pair_id(p, q)}/{route}"

    def build() -> Derivation:
        s = _spec(p, q)
        kw: dict[str, Any] = {"title": _title(s, route), "references": s.sources}
        custom: RouteBuilder | None = s.extra.get("builders", {}).get(route)
        if custom is not None:
            return custom(name, s, **kw)
        if route == "integral":
            return routes.integral_route(
                name, s.p, s.q, s.closed, s.moments, conditions=s.conditions, **kw
            )
        if route == "bregman":
            return routes.bregman_route(
                name,
                s.p,
                s.q,
                s.closed,
                normaliser_lemma=s.extra.get("normaliser_lemma"),
                normaliser_check=s.extra.get("normaliser_check"),
                **kw,
            )
        return routes.cross_entropy_route(
            name, s.p, s.q, s.closed, s.moments, conditions=s.conditions, **kw
        )

    build.__name__ = name
    return build


def _pair_factory(p: str, q: str) -> Callable[[], Derivation]:
    def build() -> Derivation:
        s = _spec(p, q)
        pair = _make_pair(p, q)
        if "pair_lhs" in s.extra:
            kl = s.extra["pair_lhs"]
        else:
            x = s.p.variable
            kl = KL(s.p.label("p", x), s.q.label("q", x), s.p.limits(x))
        steps = tuple(
            Step(
                lhs=kl,
                rhs=s.closed,
                reason=f"route {i + 1}: {route.rsplit('/', 1)[-1]}",
                check=s.extra.get("cite", Cite)(_route_factory_registered[route]),
            )
            for i, route in enumerate(pair.routes)
        )
        return Derivation(
            name=pair.id,
            title=s.extra.get("title") or f"KL({s.p.title} ‖ {s.q.title})",
            steps=steps,
            symbols=s.extra.get("symbols") or routes.symbols_of(s.p, s.q),
            conditions=pair.conditions,
            summary=(
                f"The closed form of KL(p ‖ q) for p = {s.p!r}, q = {s.q!r}, established by "
                f"{len(pair.routes)} independent routes. " + s.notes
            ).strip(),
            references=s.sources,
        )

    return build


_route_factory_registered: dict[str, Callable[[], Derivation]] = {}


def _register_all() -> None:
    for p, q in [*SPECS, *_FORM_KEYS]:
        for route in _spec_routes(p, q):
            name = f"{_pair_id(p, q)}/{route}"
            _route_factory_registered[name] = register(name)(_route_factory(p, q, route))
        register(_pair_id(p, q))(_pair_factory(p, q))
    for p, q in _infinite_keys():
        register(_pair_id(p, q))(mismatch_factory(_pair_id(p, q), (p, q)))
    for fam in EXPANDABLE:
        register(f"kl/{fam}/{fam}/expansion")(_expansion_factory(fam))
    done: set[str] = set()
    for p, q in sorted(SPECS, key=lambda k: k[0] != k[1]):  # same-family specs first
        if p not in done and _spec(p, q).entropy is not None:
            register(f"entropy/{p}")(_entropy_factory(p, q))
            done.add(p)


def _entropy_factory(p: str, q: str) -> Callable[[], Derivation]:
    def build() -> Derivation:
        s = _spec(p, q)
        d = routes.entropy_derivation(
            f"entropy/{p}",
            s.p,
            s.entropy,
            s.moments,
            title=f"Entropy of the {s.p.title} distribution",
            references=s.sources,
        )
        # the symbols of lemmas the entropy uses (``extra["lemma_symbols"]``), declared
        free = {
            z for st in d.steps for e in (st.lhs, st.rhs) if e is not None for z in e.free_symbols
        }
        used = tuple(z for z in s.extra.get("lemma_symbols", ()) if z in free)
        return replace(d, symbols=(*d.symbols, *used))

    return build


def entropies() -> dict[str, Any]:
    """Family name → closed-form entropy (its derivation is ``entropy/<family>``)."""
    out: dict[str, Any] = {}
    for p, q in sorted(SPECS, key=lambda k: k[0] != k[1]):
        s = _spec(p, q)
        if p not in out and s.entropy is not None:
            out[p] = s.entropy
    return out


def _expansion_factory(fam: str) -> Callable[[], Derivation]:
    def build() -> Derivation:
        return expansion_derivation(fam)

    return build


def _spec_routes(p: str, q: str) -> tuple[str, ...]:
    return _spec(p, q).routes


_register_all()
