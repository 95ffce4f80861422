"""The derivation core: checked chains of SymPy expressions.

A :class:`Derivation` is data: explicit assumptions and ordered :class:`Step`
objects, each with a reason for readers and a :class:`Check` for the machine.
:meth:`Derivation.verify` reports per step (``ok`` / ``failed`` with the residual /
``unchecked``); the result is a SymPy expression to substitute into, differentiate,
lambdify or cite from another derivation.
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
from klproof.derivation.checks import (
    Algebra,
    Argmax,
    Check,
    Cite,
    Claim,
    Context,
    Custom,
    Evaluate,
    Gibbs,
    Outcome,
    Rule,
    SupportMismatch,
    Unchecked,
    is_zero,
    linear_normal_form,
)
from klproof.derivation.core import Derivation, Hypothesis, Report, Step, StepResult
from klproof.derivation.ops import KL, CrossEntropy, Entropy, Expectation, Labelled

__all__ = [
    "KL",
    "AffineSubstitution",
    "Algebra",
    "Argmax",
    "Cases",
    "Check",
    "Cite",
    "Claim",
    "Context",
    "CrossEntropy",
    "Custom",
    "Derivation",
    "Entropy",
    "Evaluate",
    "Expectation",
    "Gibbs",
    "Hypothesis",
    "Instance",
    "Integrate",
    "Labelled",
    "Leibniz",
    "Memo",
    "Outcome",
    "RationalIntegral",
    "Report",
    "Restrict",
    "Rule",
    "Split",
    "Step",
    "StepResult",
    "Substitution",
    "SupportMismatch",
    "Unchecked",
    "Using",
    "ZeroDerivative",
    "is_zero",
    "linear_normal_form",
]
