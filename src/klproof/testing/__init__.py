r"""Conformance checks and Hypothesis strategies for KL, entropy and ELBO code.

Two audiences: klproof's own test suite, which ties every numeric kernel to its
machine-checked derivation, and anyone who writes KL code (PyTorch, JAX, NumPy) and
wants to know whether it is right.

* :func:`check_kl` runs a callable over the domain of a registered pair — including
  the hard regions where textbook formulas cancel — and compares every result with
  the pair's derived closed form evaluated in mpmath at adaptive precision.
* :func:`check_entropy` and :func:`check_elbo` do the same for entropies (against
  quadrature of the family's density) and for an ELBO on the linear-Gaussian model
  (against the derived closed form).
* :mod:`klproof.testing.strategies` gives the same inputs to Hypothesis.
* :mod:`klproof.testing.policy` is the written policy for randomised (Monte Carlo)
  tests and the tolerance it implies.

``import klproof`` does not import this package; importing it (or
:mod:`klproof.testing.strategies`) does not import SymPy — the symbolic layer loads
when a check first needs a reference.

Examples
--------
>>> import klproof
>>> from klproof.testing import check_kl
>>> report = check_kl(klproof.kl_divergence, "exponential/exponential", n=10)
>>> report.passed, report.n_inputs
(True, 100)
"""

from __future__ import annotations

from klproof.testing._check import CheckReport, Finding, check_kl
from klproof.testing._entropy_elbo import check_elbo, check_entropy

__all__ = ["CheckReport", "Finding", "check_elbo", "check_entropy", "check_kl"]
