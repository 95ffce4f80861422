"""Numeric layer: NumPy distributions, closed-form KL, entropies and estimators.

Imports NumPy only (SciPy special functions load on first use); never SymPy.
"""

from __future__ import annotations

from klproof.numeric.distributions import (
    Bernoulli,
    Beta,
    Binomial,
    Categorical,
    Cauchy,
    DiagonalNormal,
    Dirichlet,
    Distribution,
    Exponential,
    Gamma,
    Geometric,
    Gumbel,
    HalfNormal,
    Laplace,
    LogNormal,
    MultivariateNormal,
    Normal,
    Pareto,
    Poisson,
    Uniform,
    Weibull,
)
from klproof.numeric.kl import (
    KLEntry,
    cross_entropy,
    entropy,
    kl_divergence,
    register_kl,
    registered_pairs,
)
from klproof.numeric.monte_carlo import MonteCarloKL, monte_carlo_kl

__all__ = [
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "Cauchy",
    "DiagonalNormal",
    "Dirichlet",
    "Distribution",
    "Exponential",
    "Gamma",
    "Geometric",
    "Gumbel",
    "HalfNormal",
    "KLEntry",
    "Laplace",
    "LogNormal",
    "MonteCarloKL",
    "MultivariateNormal",
    "Normal",
    "Pareto",
    "Poisson",
    "Uniform",
    "Weibull",
    "cross_entropy",
    "entropy",
    "kl_divergence",
    "monte_carlo_kl",
    "register_kl",
    "registered_pairs",
]
