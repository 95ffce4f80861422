"""klproof: machine-checked derivations and accurate numerics for KL divergence.

The numeric API (distributions, :func:`kl_divergence`, entropies, estimators) is
importable without SymPy. The symbolic layers load on first use::

    import klproof.symbolic            # families, KL derivations, identities
    from klproof.derivation import Derivation
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
