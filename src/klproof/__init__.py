"""klproof: machine-checked derivations and accurate numerics for KL divergence.

The numeric API (distributions, :func:`kl_divergence`, entropies, estimators) is
importable without SymPy. The symbolic layers load on first use::

    import klproof.symbolic            # families, KL derivations, identities
    from klproof.derivation import Derivation
"""

from __future__ import annotations

from klproof.numeric import (
    Bernoulli,
    Beta,
    Binomial,
    Categorical,
    Cauchy,
    Dirichlet,
    Distribution,
    Exponential,
    Gamma,
    Geometric,
    Gumbel,
    HalfNormal,
    KLEntry,
    Laplace,
    LogNormal,
    MonteCarloKL,
    MultivariateNormal,
    Normal,
    Pareto,
    Poisson,
    Uniform,
    Weibull,
    cross_entropy,
    entropy,
    kl_divergence,
    monte_carlo_kl,
    register_kl,
    registered_pairs,
)

__version__ = "0.1.0"

__all__ = [
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "Cauchy",
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
    "__version__",
    "cross_entropy",
    "entropy",
    "kl_divergence",
    "monte_carlo_kl",
    "register_kl",
    "registered_pairs",
]
