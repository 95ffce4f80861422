"""The catalogue's calculus checks now live in the core: :mod:`klproof.derivation.calculus`.

Re-exported here so that the catalogue's modules keep one import path.
"""

from __future__ import annotations

from klproof.derivation.calculus import (
    AffineSubstitution,
    Cases,
    Instance,
    Integrate,
    Leibniz,
    Memo,
    RationalIntegral,
    Restrict,
    Split,
    Substitution,
    Using,
    ZeroDerivative,
)

__all__ = [
    "AffineSubstitution",
    "Cases",
    "Instance",
    "Integrate",
    "Leibniz",
    "Memo",
    "RationalIntegral",
    "Restrict",
    "Split",
    "Substitution",
    "Using",
    "ZeroDerivative",
]
