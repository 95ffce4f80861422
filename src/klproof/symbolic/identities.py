"""The identities: cross-entropy, maximum likelihood as KL minimisation, the ELBO."""

from __future__ import annotations

import sympy as sp

from klproof.derivation import (
    KL,
    Algebra,
    Argmax,
    Cite,
    CrossEntropy,
    Derivation,
    Entropy,
    Evaluate,
    Expectation,
    Gibbs,
    Hypothesis,
    Labelled,
    Rule,
    Step,
)
from klproof.derivation.checks import SupportMismatch
from klproof.derivation.ops import density
from klproof.symbolic.registry import register

oo = sp.oo

KINGMA_WELLING = "D. P. Kingma and M. Welling, Auto-Encoding Variational Bayes, ICLR 2014, App. B"
COVER_THOMAS = "T. M. Cover and J. A. Thomas, Elements of Information Theory, 2nd ed., 2006, §2.3"
BISHOP = "C. M. Bishop, Pattern Recognition and Machine Learning, 2006, §10.1 (eq. 10.2–10.4)"
MURPHY = "K. P. Murphy, Probabilistic Machine Learning: An Introduction, 2022, §4.2.2 and §6.2"

# Abstract densities shared by the generic identities.
x = sp.Symbol("x", real=True)
z = sp.Symbol("z", real=True)
p = density("p", "p")
q = density("q", "q")


@register("identity/cross-entropy")
def cross_entropy_decomposition() -> Derivation:
    r"""Cross-entropy = entropy + KL: :math:`H(p, q) = H(p) + \mathrm{KL}(p \| q)`."""
    px, qx = p(x), q(x)
    lim = (x, -oo, oo)
    return Derivation(
        name="identity/cross-entropy",
        title="Cross-entropy is entropy plus KL divergence",
        symbols=(x,),
        hypotheses=(),
        summary=(
            "For densities p and q (positive where p is), the cross-entropy of q relative "
            "to p splits into the entropy of p, which does not depend on q, and the KL "
            "divergence from p to q. Minimising H(p, q) over q is therefore minimising "
            "KL(p ‖ q)."
        ),
        references=(COVER_THOMAS,),
        steps=(
            Step(
                lhs=CrossEntropy(px, qx, lim),
                rhs=-sp.Integral(px * sp.log(qx), lim),
                reason="definition of the cross-entropy",
                check=Rule("definition"),
            ),
            Step(
                rhs=-sp.Integral(px * sp.log(px), lim)
                + sp.Integral(px * (sp.log(px) - sp.log(qx)), lim),
                reason="add and subtract the integral of p log p (linearity)",
                check=Rule("linearity of the integral"),
            ),
            Step(
                rhs=Entropy(px, lim) + KL(px, qx, lim),
                reason="definitions of entropy and KL divergence",
                check=Rule("definition"),
            ),
        ),
    )
