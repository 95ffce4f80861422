"""The symbolic layer: families, KL derivations and identities (imports SymPy).

Derivations are looked up by name through :mod:`klproof.symbolic.registry`.
"""

from __future__ import annotations

from klproof.symbolic.registry import all_derivations, get, names

__all__ = ["all_derivations", "get", "names"]
