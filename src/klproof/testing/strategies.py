"""Hypothesis strategies for klproof's families, KL pairs, data sets and models.

The public names are re-exported from the private implementation module, as
``hypothesis.strategies`` does. See :mod:`klproof.testing._strategies`.
"""

from __future__ import annotations

from klproof.testing._strategies import (
    REGIONS,
    RELATIONS,
    categorical_datasets,
    kl_pairs,
    linear_gaussian_models,
    logits,
    parameters,
    positive_floats,
    probabilities,
)

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
