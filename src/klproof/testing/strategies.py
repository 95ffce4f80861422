"""Hypothesis strategies for klproof's families, KL pairs, data sets and models.

The public names are re-exported from the private implementation module
``klproof.testing._strategies``, as ``hypothesis.strategies`` does.
"""

from __future__ import annotations

from klproof.testing import _strategies
from klproof.testing._strategies import (
    categorical_datasets,
    kl_pairs,
    linear_gaussian_models,
    logits,
    parameters,
    positive_floats,
    probabilities,
)

#: Regions of the parameter domain: ``"generic"`` (moderate values), ``"extreme"`` (the
#: hard regions: scales 1e±300, probabilities down to 1e-300 and up to 1 - 1e-16, logits
#: ±700, concentrations 1e-150 … 1e150), ``"any"`` (each element picks one of the two).
REGIONS = _strategies.REGIONS

#: How ``q`` is drawn from ``p``: ``"equal"`` (q = p, or the q nearest to p for
#: cross-family pairs), ``"near"`` (every parameter moved by a relative 1e-12 … 1e-2),
#: ``"far"`` (moved by a relative amount of order one), ``"any"`` (each element picks one).
RELATIONS = _strategies.RELATIONS

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
