"""The registry of derivations: stable names mapped to lazily built objects."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from functools import cache

from klproof.derivation import Derivation

__all__ = ["UnknownDerivationError", "all_derivations", "get", "names", "register"]

_FACTORIES: dict[str, Callable[[], Derivation]] = {}

#: Modules whose import registers derivations (loaded on first listing).
_MODULES = ("klproof.symbolic.identities", "klproof.symbolic.linear_vae", "klproof.symbolic.kl")


class UnknownDerivationError(KeyError):
    """Raised for a name that no derivation is registered under."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no derivation named {name!r}{hint} (see `klproof list`)")

    def __str__(self) -> str:
        return str(self.args[0])


def register(name: str) -> Callable[[Callable[[], Derivation]], Callable[[], Derivation]]:
    """Register a zero-argument factory that builds the derivation ``name``."""

    def decorator(factory: Callable[[], Derivation]) -> Callable[[], Derivation]:
        if name in _FACTORIES:
            raise ValueError(f"derivation {name!r} is registered twice")
        cached = cache(factory)
        _FACTORIES[name] = cached
        return cached

    return decorator


def _load() -> None:
    for module in _MODULES:
        importlib.import_module(module)


def names() -> list[str]:
    """All registered derivation names, sorted."""
    _load()
    return sorted(_FACTORIES)


def get(name: str) -> Derivation:
    """The derivation registered as ``name`` (built once, then cached).

    Raises
    ------
    UnknownDerivationError
        If no derivation has that name; the message lists close names.
    """
    _load()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_FACTORIES), n=5, cutoff=0.4)
        if not close:
            close = [n for n in _FACTORIES if name.rsplit("/", maxsplit=1)[-1] in n][:5]
        raise UnknownDerivationError(name, close) from None
    derivation = factory()
    if derivation.name != name:
        raise RuntimeError(f"factory for {name!r} built {derivation.name!r}")
    return derivation


def all_derivations() -> list[Derivation]:
    """Every registered derivation, in name order."""
    return [get(n) for n in names()]
