r"""ELBO estimators and latent-variable models with exact evidence (NumPy only).

The evidence lower bound of a variational distribution :math:`q` is

.. math::

    \mathcal L(q) = \mathbb E_q[\log p(x, z) - \log q(z)]
    = \log p(x) - \mathrm{KL}(q \,\|\, p(z \mid x)).

Every model here knows :math:`\log p(x)` and :math:`p(z \mid x)` exactly, so the gap
:math:`\mathrm{KL}(q \| p(z \mid x))` can be watched, not only bounded.
:mod:`klproof.models.linear_vae` trains a linear VAE whose posterior family contains the
true posterior: the gap closes and the VAE recovers maximum-likelihood pPCA.
"""

from __future__ import annotations

from klproof.models.beta_bernoulli import BetaBernoulli
from klproof.models.elbo import (
    DiagonalNormal,
    ELBOEstimate,
    GaussianPriorModel,
    LatentVariableModel,
    LocScale,
    elbo_analytic_kl,
    elbo_monte_carlo,
    iwae_bound,
)
from klproof.models.linear_gaussian import LinearGaussian
from klproof.models.linear_vae import (
    DataStatistics,
    LinearVAE,
    LinearVAEFit,
    PPCASolution,
    TrainingTrace,
    fit_linear_vae,
    ppca_maximum_likelihood,
    synthetic_ppca_data,
    training_trace,
)
from klproof.models.mixture import GapReport, GaussianMixture, MixturePriorModel, gaussian_gap

__all__ = [
    "BetaBernoulli",
    "DataStatistics",
    "DiagonalNormal",
    "ELBOEstimate",
    "GapReport",
    "GaussianMixture",
    "GaussianPriorModel",
    "LatentVariableModel",
    "LinearGaussian",
    "LinearVAE",
    "LinearVAEFit",
    "LocScale",
    "MixturePriorModel",
    "PPCASolution",
    "TrainingTrace",
    "elbo_analytic_kl",
    "elbo_monte_carlo",
    "fit_linear_vae",
    "gaussian_gap",
    "iwae_bound",
    "ppca_maximum_likelihood",
    "synthetic_ppca_data",
    "training_trace",
]
