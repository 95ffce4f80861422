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
    DiagonalNormal,
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

#: ELBO estimators and latent-variable models, imported on first use
#: (``klproof.models`` pulls in SciPy, which ``import klproof`` does not).
_LAZY_MODELS = frozenset(
    {
        "BetaBernoulli",
        "ELBOEstimate",
        "GaussianMixture",
        "LinearGaussian",
        "elbo_analytic_kl",
        "elbo_monte_carlo",
        "iwae_bound",
    }
)


def __getattr__(name: str) -> object:
    if name in _LAZY_MODELS:
        from klproof import models  # noqa: PLC0415 - lazy: models import SciPy

        return getattr(models, name)
    raise AttributeError(f"module 'klproof' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_MODELS})


# Includes the lazily imported names of klproof.models (see __getattr__).
__all__ = [
    "Bernoulli",
    "Beta",
    "BetaBernoulli",
    "Binomial",
    "Categorical",
    "Cauchy",
    "DiagonalNormal",
    "Dirichlet",
    "Distribution",
    "ELBOEstimate",
    "Exponential",
    "Gamma",
    "GaussianMixture",
    "Geometric",
    "Gumbel",
    "HalfNormal",
    "KLEntry",
    "Laplace",
    "LinearGaussian",
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
    "elbo_analytic_kl",
    "elbo_monte_carlo",
    "entropy",
    "iwae_bound",
    "kl_divergence",
    "monte_carlo_kl",
    "register_kl",
    "registered_pairs",
]
