r"""Symbolic distribution families: densities, supports, constraints, exponential form.

Each family is a class whose constructor takes the ecosystem's parameter names
(``loc``, ``scale``, ``rate``, ``concentration``, ``probs``, …; shared with the numeric
layer) and refuses a parameter that SymPy knows violates its constraint::

    >>> import sympy as sp
    >>> from klproof.symbolic.families import Normal
    >>> Normal(loc=0, scale=sp.Symbol("s", negative=True))
    Traceback (most recent call last):
    ...
    ValueError: Normal: scale must be positive (got s)

:meth:`Family.symbolic` builds an instance whose parameters are symbols carrying the
constraints as SymPy assumptions (``Normal.symbolic(1)`` has :math:`\mu_1 \in \mathbb{R}`,
:math:`\sigma_1 > 0`). Constraints that are not sign assumptions (``probs < 1``,
``low < high``) are returned by :meth:`Family.conditions`.

Exponential families also give the form
:math:`p(x) = h(x) \exp(\eta \cdot T(x) - A(\eta))`: :meth:`Family.natural`,
:meth:`Family.statistics`, :meth:`Family.base_measure`, and the normaliser
:math:`Z(\eta) = \int h\, e^{\eta \cdot T}` as a claim (``normaliser``) that the
derivation ``family/<name>/exponential-form`` checks against the density, with
:math:`A = \log Z`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import sympy as sp

from klproof.derivation import Labelled

__all__ = [
    "FAMILIES",
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "Cauchy",
    "DiagonalNormal",
    "Dirichlet",
    "Exponential",
    "Family",
    "Gamma",
    "Geometric",
    "Gumbel",
    "HalfNormal",
    "Laplace",
    "LogNormal",
    "MultivariateNormal",
    "Normal",
    "Param",
    "Pareto",
    "Poisson",
    "Uniform",
    "Weibull",
    "family",
]

oo = sp.oo

#: Constraint kinds: the SymPy assumptions they give and the phrase in errors.
_KINDS: dict[str, tuple[dict[str, bool], str]] = {
    "real": ({"real": True}, "real"),
    "positive": ({"positive": True}, "positive"),
    "unit": ({"positive": True}, "in (0, 1)"),
    "count": ({"integer": True, "positive": True}, "a positive integer"),
    "vector": ({}, "a real vector"),
    "pd": ({}, "symmetric positive definite"),
}


@dataclass(frozen=True)
class Param:
    """A parameter: its public name, its symbol's name and its constraint kind."""

    name: str
    symbol: str
    kind: str


def _violates(value: Any, kind: str) -> bool:
    """Whether SymPy knows ``value`` violates the constraint ``kind``."""
    if value.is_real is False:
        return True
    if kind == "real":
        return False
    if value.is_positive is False:
        return True
    if kind == "unit":
        return bool((value - 1).is_negative is False)
    if kind == "count":
        return value.is_integer is False
    return False


class Family:
    """Base class: a parametric family of distributions on the real line or integers.

    Parameters
    ----------
    **params
        The parameters by their public names (see ``params`` of the subclass).

    Raises
    ------
    TypeError
        For a missing or unknown parameter.
    ValueError
        For a parameter SymPy knows violates its constraint; the message names both.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    discrete: ClassVar[bool] = False
    #: Kind of the support: "real", "positive", "unit", "count", "binary" or "custom".
    support_kind: ClassVar[str] = "real"
    exponential: ClassVar[bool] = False
    #: Signs of the natural parameters (assumptions of the symbols eta_i).
    eta_kinds: ClassVar[tuple[str, ...]] = ()
    references: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        names = [p.name for p in self.params]
        unknown = sorted(set(params) - set(names))
        missing = [n for n in names if n not in params]
        if unknown or missing:
            raise TypeError(
                f"{type(self).__name__}: expected parameters {names}; "
                f"missing {missing}, unknown {unknown}"
            )
        self.values: dict[str, Any] = {n: sp.sympify(params[n]) for n in names}
        self.check()

    def check(self) -> None:
        """Refuse parameters that violate a constraint (raises ``ValueError``)."""
        for p in self.params:
            value = self.values[p.name]
            if _violates(value, p.kind):
                raise ValueError(
                    f"{type(self).__name__}: {p.name} must be {_KINDS[p.kind][1]} "
                    f"(got {sp.sstr(value)})"
                )

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={sp.sstr(v)}" for k, v in self.values.items())
        return f"{type(self).__name__}({args})"

    @classmethod
    def symbolic(cls, index: int | str = "") -> Self:
        """An instance with symbolic parameters carrying their constraints."""
        suffix = f"_{index}" if index != "" else ""
        values = {p.name: sp.Symbol(p.symbol + suffix, **_KINDS[p.kind][0]) for p in cls.params}
        return cls(**values)

    # ----------------------------------------------------------------- support

    @property
    def variable(self) -> Any:
        """The variable of the density (its assumptions follow the support)."""
        if self.discrete:
            return sp.Symbol("k", integer=True, nonnegative=True)
        if self.support_kind in ("positive", "unit") or self._positive_support():
            return sp.Symbol("x", positive=True)
        return sp.Symbol("x", real=True)

    def _positive_support(self) -> bool:
        return False

    def support(self) -> tuple[Any, Any]:
        """The ends of the support (closed or open does not matter for integrals)."""
        return {
            "real": (-oo, oo),
            "positive": (sp.Integer(0), oo),
            "unit": (sp.Integer(0), sp.Integer(1)),
            "count": (sp.Integer(0), oo),
            "binary": (sp.Integer(0), sp.Integer(1)),
        }[self.support_kind]

    def support_set(self) -> Any:
        """The support as a SymPy set."""
        lo, hi = self.support()
        if self.discrete:
            return sp.Range(lo, hi + 1) if hi != oo else sp.Range(lo, oo)
        return sp.Interval(lo, hi)

    def limits(self, x: Any = None) -> tuple[Any, Any, Any]:
        """``(x, low, high)`` for integrals or sums over the support."""
        lo, hi = self.support()
        return (self.variable if x is None else x, lo, hi)

    def conditions(self) -> tuple[Any, ...]:
        """Constraints that are not sign assumptions (e.g. ``probs < 1``).

        For the unit interval this includes ``x < 1`` for the variable: the pointwise
        identities of a derivation hold on the support.
        """
        out = [
            self.values[p.name] < 1
            for p in self.params
            if p.kind == "unit" and isinstance(self.values[p.name], sp.Symbol)
        ]
        if self.support_kind == "unit":
            out.append(self.variable < 1)
        return tuple(out)

    # ----------------------------------------------------------------- density

    def pdf(self, x: Any) -> Any:
        """Density (or mass function) at ``x`` on the support."""
        raise NotImplementedError

    def density(self, x: Any = None) -> Any:
        """The density at the family's variable (or at ``x``)."""
        return self.pdf(self.variable if x is None else x)

    def label(self, name: str = "p", x: Any = None) -> Any:
        """The density as a short :class:`~klproof.derivation.Labelled` symbol."""
        x = self.variable if x is None else x
        return Labelled(sp.Symbol(f"{name}({sp.latex(x)})"), self.pdf(x))

    # ----------------------------------------------------------------- exponential family

    @classmethod
    def eta_symbols(cls) -> tuple[Any, ...]:
        """Symbols for the natural parameters, with their sign assumptions."""
        n = len(cls.eta_kinds)
        return tuple(
            sp.Symbol(f"eta_{i + 1}" if n > 1 else "eta", **_KINDS[k][0])
            for i, k in enumerate(cls.eta_kinds)
        )

    def natural(self) -> tuple[Any, ...]:
        """Natural parameters as functions of the parameters."""
        raise NotImplementedError(f"{self.name} is not an exponential family here")

    def statistics(self, x: Any) -> tuple[Any, ...]:
        """Sufficient statistics T(x)."""
        raise NotImplementedError(f"{self.name} is not an exponential family here")

    def base_measure(self, x: Any) -> Any:
        """Base measure h(x)."""
        raise NotImplementedError(f"{self.name} is not an exponential family here")

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:
        r"""Claimed :math:`Z(\eta) = \int h\, e^{\eta \cdot T}` (checked by a derivation)."""
        raise NotImplementedError(f"{cls.name} is not an exponential family here")

    @classmethod
    def log_normaliser(cls, eta: tuple[Any, ...]) -> Any:
        r""":math:`A(\eta) = \log Z(\eta)`."""
        return sp.expand_log(sp.log(cls.normaliser(eta)), force=False)

    def normaliser_of(self, eta: tuple[Any, ...]) -> Any:
        r""":math:`Z(\eta)` of this member's subfamily (:meth:`normaliser` by default).

        Families that are exponential only for a fixed parameter whose value enters
        :math:`Z` (Binomial's ``total_count``) override this.
        """
        return type(self).normaliser(eta)

    def log_normaliser_of(self, eta: tuple[Any, ...]) -> Any:
        r""":math:`A(\eta) = \log Z(\eta)` of this member's subfamily."""
        return sp.expand_log(sp.log(self.normaliser_of(eta)), force=False)

    def unnormalised(self, eta: tuple[Any, ...], x: Any) -> Any:
        r""":math:`h(x)\, e^{\eta \cdot T(x)}`."""
        factors = []
        for e, s in zip(eta, self.statistics(x), strict=True):
            if isinstance(s, sp.log):
                factors.append(s.args[0] ** e)  # exp(η log y) = y^η
            elif self.discrete and s.is_polynomial(x) and sp.degree(s, x) == 1:
                factors.append(sp.exp(e * s.coeff(x)) ** x)  # a geometric term
            else:
                factors.append(sp.exp(e * s))
        return sp.powsimp(self.base_measure(x) * sp.Mul(*factors), combine="exp")


# --------------------------------------------------------------------------- families


class Normal(Family):
    r"""Normal :math:`\mathcal{N}(\mu, \sigma^2)`: ``loc`` :math:`\mu`, ``scale`` :math:`\sigma`."""

    name = "normal"
    title = "Normal"
    params = (Param("loc", "mu", "real"), Param("scale", "sigma", "positive"))
    exponential = True
    eta_kinds = ("real", "positive")

    def pdf(self, x: Any) -> Any:  # noqa: D102
        m, s = self["loc"], self["scale"]
        return sp.exp(-((x - m) ** 2) / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s)

    def natural(self) -> tuple[Any, ...]:  # noqa: D102
        m, s = self["loc"], self["scale"]
        return (m / s**2, 1 / (2 * s**2))

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return (x, -(x**2))

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        return 1 / sp.sqrt(2 * sp.pi)

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:  # noqa: D102
        e1, e2 = eta
        return sp.exp(e1**2 / (4 * e2)) / sp.sqrt(2 * e2)


class HalfNormal(Family):
    r"""Half-normal on :math:`(0, \infty)`: ``scale`` :math:`\sigma`."""

    name = "halfnormal"
    title = "Half-normal"
    params = (Param("scale", "sigma", "positive"),)
    support_kind = "positive"
    exponential = True
    eta_kinds = ("positive",)

    def pdf(self, x: Any) -> Any:  # noqa: D102
        s = self["scale"]
        return sp.sqrt(2) * sp.exp(-(x**2) / (2 * s**2)) / (sp.sqrt(sp.pi) * s)

    def natural(self) -> tuple[Any, ...]:  # noqa: D102
        return (1 / (2 * self["scale"] ** 2),)

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return (-(x**2),)

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        return sp.sqrt(2) / sp.sqrt(sp.pi)

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:  # noqa: D102
        return 1 / sp.sqrt(2 * eta[0])


class LogNormal(Family):
    r"""Log-normal: :math:`\log X \sim \mathcal{N}(\mu, \sigma^2)`; ``loc``, ``scale``."""

    name = "lognormal"
    title = "Log-normal"
    params = (Param("loc", "mu", "real"), Param("scale", "sigma", "positive"))
    support_kind = "positive"

    def pdf(self, x: Any) -> Any:  # noqa: D102
        m, s = self["loc"], self["scale"]
        return sp.exp(-((sp.log(x) - m) ** 2) / (2 * s**2)) / (x * sp.sqrt(2 * sp.pi) * s)


class Exponential(Family):
    r"""Exponential: ``rate`` :math:`\lambda`, density :math:`\lambda e^{-\lambda x}`."""

    name = "exponential"
    title = "Exponential"
    params = (Param("rate", "lambda", "positive"),)
    support_kind = "positive"
    exponential = True
    eta_kinds = ("positive",)

    def pdf(self, x: Any) -> Any:  # noqa: D102
        r = self["rate"]
        return r * sp.exp(-r * x)

    def natural(self) -> tuple[Any, ...]:  # noqa: D102
        return (self["rate"],)

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return (-x,)

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        return sp.Integer(1)

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:  # noqa: D102
        return 1 / eta[0]


class Gamma(Family):
    r"""Gamma: ``concentration`` :math:`\alpha`, ``rate`` :math:`\beta`."""

    name = "gamma"
    title = "Gamma"
    params = (Param("concentration", "alpha", "positive"), Param("rate", "beta", "positive"))
    support_kind = "positive"
    exponential = True
    eta_kinds = ("positive", "positive")

    def pdf(self, x: Any) -> Any:  # noqa: D102
        a, b = self["concentration"], self["rate"]
        return b**a * x ** (a - 1) * sp.exp(-b * x) / sp.gamma(a)

    def natural(self) -> tuple[Any, ...]:  # noqa: D102
        return (self["concentration"], self["rate"])

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return (sp.log(x), -x)

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        return 1 / x

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:  # noqa: D102
        e1, e2 = eta
        return sp.gamma(e1) * e2 ** (-e1)


class Weibull(Family):
    r"""Weibull: ``scale`` :math:`\lambda`, ``concentration`` :math:`k`."""

    name = "weibull"
    title = "Weibull"
    params = (Param("scale", "lambda", "positive"), Param("concentration", "k", "positive"))
    support_kind = "positive"
    exponential = True  # for a fixed concentration
    eta_kinds = ("positive",)

    def pdf(self, x: Any) -> Any:  # noqa: D102
        lam, k = self["scale"], self["concentration"]
        return k / lam * (x / lam) ** (k - 1) * sp.exp(-((x / lam) ** k))

    def natural(self) -> tuple[Any, ...]:  # noqa: D102
        return (self["scale"] ** (-self["concentration"]),)

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return (-(x ** self["concentration"]),)

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        k = self["concentration"]
        return k * x ** (k - 1)

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:  # noqa: D102
        return 1 / eta[0]


class Beta(Family):
    r"""Beta: ``concentration1`` :math:`\alpha`, ``concentration0`` :math:`\beta`."""

    name = "beta"
    title = "Beta"
    params = (
        Param("concentration1", "alpha", "positive"),
        Param("concentration0", "beta", "positive"),
    )
    support_kind = "unit"
    exponential = True
    eta_kinds = ("positive", "positive")

    def pdf(self, x: Any) -> Any:  # noqa: D102
        a, b = self["concentration1"], self["concentration0"]
        return x ** (a - 1) * (1 - x) ** (b - 1) * sp.gamma(a + b) / (sp.gamma(a) * sp.gamma(b))

    def natural(self) -> tuple[Any, ...]:  # noqa: D102
        return (self["concentration1"], self["concentration0"])

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return (sp.log(x), sp.log(1 - x))

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        return x ** (-1) * (1 - x) ** (-1)

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:  # noqa: D102
        e1, e2 = eta
        return sp.gamma(e1) * sp.gamma(e2) / sp.gamma(e1 + e2)


class Laplace(Family):
    r"""Laplace: ``loc`` :math:`\mu`, ``scale`` :math:`b`."""

    name = "laplace"
    title = "Laplace"
    params = (Param("loc", "mu", "real"), Param("scale", "b", "positive"))

    def pdf(self, x: Any) -> Any:  # noqa: D102
        m, b = self["loc"], self["scale"]
        return sp.exp(-sp.Abs(x - m) / b) / (2 * b)


class Cauchy(Family):
    r"""Cauchy: ``loc`` :math:`\mu`, ``scale`` :math:`\gamma`.

    .. math:: p(x) = \frac{\gamma}{\pi\,((x - \mu)^2 + \gamma^2)}
    """

    name = "cauchy"
    title = "Cauchy"
    params = (Param("loc", "mu", "real"), Param("scale", "gamma", "positive"))

    def pdf(self, x: Any) -> Any:  # noqa: D102
        m, g = self["loc"], self["scale"]
        return g / (sp.pi * ((x - m) ** 2 + g**2))


class Gumbel(Family):
    r"""Gumbel (maximum): ``loc`` :math:`\mu`, ``scale`` :math:`\beta`."""

    name = "gumbel"
    title = "Gumbel"
    params = (Param("loc", "mu", "real"), Param("scale", "beta", "positive"))

    def pdf(self, x: Any) -> Any:  # noqa: D102
        m, b = self["loc"], self["scale"]
        z = (x - m) / b
        return sp.exp(-z - sp.exp(-z)) / b


class Uniform(Family):
    r"""Uniform on :math:`(a, b)`: ``low`` :math:`a`, ``high`` :math:`b`."""

    name = "uniform"
    title = "Uniform"
    params = (Param("low", "a", "real"), Param("high", "b", "real"))
    support_kind = "custom"

    def check(self) -> None:  # noqa: D102
        super().check()
        if (self["high"] - self["low"]).is_positive is False:
            raise ValueError(
                f"Uniform: high must be greater than low (got low={self['low']}, "
                f"high={self['high']})"
            )

    def support(self) -> tuple[Any, Any]:  # noqa: D102
        return (self["low"], self["high"])

    def _positive_support(self) -> bool:
        return bool(self["low"].is_nonnegative)

    def conditions(self) -> tuple[Any, ...]:  # noqa: D102
        return (self["low"] < self["high"],)

    def pdf(self, x: Any) -> Any:  # noqa: D102
        return 1 / (self["high"] - self["low"])


class Pareto(Family):
    r"""Pareto on :math:`(m, \infty)`: ``scale`` :math:`m`, ``alpha`` :math:`\alpha`."""

    name = "pareto"
    title = "Pareto"
    params = (Param("scale", "m", "positive"), Param("alpha", "alpha", "positive"))
    support_kind = "custom"

    def support(self) -> tuple[Any, Any]:  # noqa: D102
        return (self["scale"], oo)

    def _positive_support(self) -> bool:
        return True

    def pdf(self, x: Any) -> Any:  # noqa: D102
        m, a = self["scale"], self["alpha"]
        return a * m**a / x ** (a + 1)


class Bernoulli(Family):
    r"""Bernoulli on :math:`\{0, 1\}`: ``probs`` :math:`\theta` (or ``logits``).

    ``Bernoulli(logits=l)`` is ``Bernoulli(probs=1 / (1 + exp(-l)))``.
    """

    name = "bernoulli"
    title = "Bernoulli"
    params = (Param("probs", "theta", "unit"),)
    discrete = True
    support_kind = "binary"
    exponential = True
    eta_kinds = ("real",)

    def __init__(self, probs: Any = None, logits: Any = None) -> None:
        if (probs is None) == (logits is None):
            raise TypeError("Bernoulli: give exactly one of probs and logits")
        if logits is not None:
            logits = sp.sympify(logits)
            if logits.is_real is False:
                raise ValueError(f"Bernoulli: logits must be real (got {logits})")
            probs = 1 / (1 + sp.exp(-logits))
        super().__init__(probs=probs)

    def pdf(self, x: Any) -> Any:  # noqa: D102
        t = self["probs"]
        return t**x * (1 - t) ** (1 - x)

    def natural(self) -> tuple[Any, ...]:  # noqa: D102
        t = self["probs"]
        return (sp.log(t) - sp.log(1 - t),)

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return (x,)

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        return sp.Integer(1)

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:  # noqa: D102
        return 1 + sp.exp(eta[0])


class Binomial(Family):
    r"""Binomial: ``total_count`` :math:`n`, ``probs`` :math:`\theta`."""

    name = "binomial"
    title = "Binomial"
    params = (Param("total_count", "n", "count"), Param("probs", "theta", "unit"))
    discrete = True
    support_kind = "custom"
    exponential = True  # for a fixed total_count
    eta_kinds = ("real",)

    def support(self) -> tuple[Any, Any]:  # noqa: D102
        return (sp.Integer(0), self["total_count"])

    def pdf(self, x: Any) -> Any:  # noqa: D102
        n, t = self["total_count"], self["probs"]
        return sp.binomial(n, x) * t**x * (1 - t) ** (n - x)

    def natural(self) -> tuple[Any, ...]:  # noqa: D102
        t = self["probs"]
        return (sp.log(t) - sp.log(1 - t),)

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return (x,)

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        return sp.binomial(self["total_count"], x)

    def normaliser_of(self, eta: tuple[Any, ...]) -> Any:
        r""":math:`Z(\eta) = (1 + e^{\eta})^n` for the fixed ``total_count`` :math:`n`."""
        return (1 + sp.exp(eta[0])) ** self["total_count"]


class Geometric(Family):
    r"""Geometric: failures before the first success, ``probs`` :math:`\theta`."""

    name = "geometric"
    title = "Geometric"
    params = (Param("probs", "theta", "unit"),)
    discrete = True
    support_kind = "count"
    exponential = True
    eta_kinds = ("positive",)

    def pdf(self, x: Any) -> Any:  # noqa: D102
        t = self["probs"]
        return t * (1 - t) ** x

    def natural(self) -> tuple[Any, ...]:  # noqa: D102
        return (-sp.log(1 - self["probs"]),)

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return (-x,)

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        return sp.Integer(1)

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:  # noqa: D102
        return 1 / (1 - sp.exp(-eta[0]))


class Poisson(Family):
    r"""Poisson: ``rate`` :math:`\lambda`."""

    name = "poisson"
    title = "Poisson"
    params = (Param("rate", "lambda", "positive"),)
    discrete = True
    support_kind = "count"
    exponential = True
    eta_kinds = ("real",)

    def pdf(self, x: Any) -> Any:  # noqa: D102
        r = self["rate"]
        return r**x * sp.exp(-r) / sp.factorial(x)

    def natural(self) -> tuple[Any, ...]:  # noqa: D102
        return (sp.log(self["rate"]),)

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return (x,)

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        return 1 / sp.factorial(x)

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:  # noqa: D102
        return sp.exp(sp.exp(eta[0]))


# --------------------------------------------------------------------------- multivariate


def _as_matrix(value: Any, name: str, family_name: str) -> Any:
    """A matrix expression as given, or an explicit list / array as an immutable matrix."""
    if isinstance(value, sp.MatrixExpr):  # MatrixSymbol, explicit immutable matrix, ...
        return value
    try:
        return sp.ImmutableMatrix(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{family_name}: {name} must be a matrix or a nested list") from exc


class MultivariateNormal(Family):
    r"""Multivariate normal :math:`\mathcal{N}(\mu, \Sigma)` on :math:`\mathbb{R}^d`.

    ``loc`` :math:`\mu` (a :math:`d \times 1` matrix), ``covariance_matrix``
    :math:`\Sigma` (:math:`d \times d`, symmetric positive definite), with the density

    .. math::

        p(x) = (2\pi)^{-d/2} (\det\Sigma)^{-1/2}
        \exp\left(-\tfrac12 (x - \mu)^\top \Sigma^{-1} (x - \mu)\right).

    The parameters are SymPy matrix expressions: :meth:`symbolic` gives
    ``MatrixSymbol`` s of a symbolic dimension :math:`d` (positive definiteness of a
    ``MatrixSymbol`` is then an assumption the derivations state); an explicit matrix is
    refused when SymPy knows it is not symmetric or not positive definite::

        >>> import sympy as sp
        >>> s = sp.Symbol("s", negative=True)
        >>> MultivariateNormal(loc=[0, 0], covariance_matrix=[[s, 0], [0, 1]])
        Traceback (most recent call last):
        ...
        ValueError: MultivariateNormal: covariance_matrix must be symmetric positive definite (got [[s, 0], [0, 1]])

    The names are PyTorch's, NumPyro's and :class:`klproof.MultivariateNormal`'s.
    """

    name = "multivariatenormal"
    title = "Multivariate normal"
    params = (Param("loc", "mu", "vector"), Param("covariance_matrix", "Sigma", "pd"))

    def __init__(self, loc: Any, covariance_matrix: Any) -> None:
        self.values = {
            "loc": _as_matrix(loc, "loc", "MultivariateNormal"),
            "covariance_matrix": _as_matrix(
                covariance_matrix, "covariance_matrix", "MultivariateNormal"
            ),
        }
        self.check()

    def check(self) -> None:  # noqa: D102
        loc, cov = self["loc"], self["covariance_matrix"]
        if loc.shape[1] != 1 and loc.shape[0] == 1:
            loc = self.values["loc"] = loc.T
        d = loc.shape[0]
        if loc.shape != (d, 1) or cov.shape != (d, d):
            raise ValueError(
                f"MultivariateNormal: covariance_matrix must be {sp.sstr(d)} x {sp.sstr(d)} "
                f"for a loc of length {sp.sstr(d)} (got {sp.sstr(cov.shape)})"
            )
        if isinstance(loc, sp.ImmutableMatrix) and any(v.is_real is False for v in loc):
            raise ValueError(f"MultivariateNormal: loc must be real (got {sp.sstr(loc.tolist())})")
        if isinstance(cov, sp.ImmutableMatrix):
            asymmetric = any(
                (cov[i, j] - cov[j, i]).is_zero is False for i in range(d) for j in range(i)
            )
            if (
                asymmetric
                or any(v.is_real is False for v in cov)
                or cov.is_positive_definite is False
            ):
                raise ValueError(
                    "MultivariateNormal: covariance_matrix must be symmetric positive definite "
                    f"(got {sp.sstr(cov.tolist())})"
                )

    @classmethod
    def symbolic(cls, index: int | str = "", dim: Any = None) -> Self:
        """``MatrixSymbol`` parameters of dimension ``dim`` (default a symbol ``d``)."""
        suffix = f"_{index}" if index != "" else ""
        d = sp.Symbol("d", integer=True, positive=True) if dim is None else sp.sympify(dim)
        return cls(
            loc=sp.MatrixSymbol("mu" + suffix, d, 1),
            covariance_matrix=sp.MatrixSymbol("Sigma" + suffix, d, d),
        )

    @property
    def dim(self) -> Any:
        """The dimension :math:`d`."""
        return self["loc"].shape[0]

    @property
    def variable(self) -> Any:
        r"""The variable :math:`x \in \mathbb{R}^d` (a :math:`d \times 1` ``MatrixSymbol``)."""
        return sp.MatrixSymbol("x", self.dim, 1)

    def pdf(self, x: Any) -> Any:  # noqa: D102
        m, cov = self["loc"], self["covariance_matrix"]
        if isinstance(cov, sp.ImmutableMatrix):  # explicit: evaluate the matrix algebra
            r = sp.ImmutableMatrix(x.as_explicit()) - m
            quad = (r.T * cov.inv() * r)[0, 0]
            det = cov.det()
        else:
            r = x - m
            quad = sp.Trace(r.T * cov.I * r)
            det = sp.Determinant(cov)
        return sp.exp(-quad / 2) / sp.sqrt((2 * sp.pi) ** self.dim * det)


class DiagonalNormal(Family):
    r"""Independent normal coordinates :math:`\prod_{i=1}^D \mathcal{N}(\mu_i, \sigma_i^2)`.

    ``loc`` :math:`\mu` and ``scale`` :math:`\sigma` are vectors of length :math:`D`: an
    ``IndexedBase`` (with :meth:`symbolic`, of a symbolic length :math:`D`) or an explicit
    list. PyTorch writes it ``Independent(Normal(loc, scale), 1)``. A scale SymPy knows is
    not positive is refused::

        >>> import sympy as sp
        >>> DiagonalNormal(loc=sp.IndexedBase("m", real=True),
        ...                scale=sp.IndexedBase("s", negative=True), dim=3)
        Traceback (most recent call last):
        ...
        ValueError: DiagonalNormal: scale must be positive (got s)
    """

    name = "diagonalnormal"
    title = "Diagonal normal"
    params = (Param("loc", "mu", "real"), Param("scale", "sigma", "positive"))

    def __init__(self, loc: Any, scale: Any, dim: Any = None) -> None:
        explicit = [not isinstance(v, sp.IndexedBase) for v in (loc, scale)]
        if all(explicit):
            loc, scale = sp.Tuple(*loc), sp.Tuple(*scale)
            if len(loc) != len(scale):
                raise ValueError("DiagonalNormal: loc and scale must have the same length")
            dim = len(loc)
        elif any(explicit) or dim is None:
            raise TypeError(
                "DiagonalNormal: give loc and scale as two lists, or as two IndexedBase "
                "with their length dim"
            )
        self.values = {"loc": loc, "scale": scale}
        self.dim: Any = sp.sympify(dim)
        self.index = sp.Symbol("i", integer=True, positive=True)
        self.check()

    def check(self) -> None:  # noqa: D102
        for p in self.params:
            value = self.values[p.name]
            entries = list(value) if isinstance(value, sp.Tuple) else [value[self.index]]
            if any(_violates(v, p.kind) for v in entries):
                raise ValueError(
                    f"DiagonalNormal: {p.name} must be {_KINDS[p.kind][1]} (got {sp.sstr(value)})"
                )

    @classmethod
    def symbolic(cls, index: int | str = "", dim: Any = None) -> Self:
        """``IndexedBase`` parameters of length ``dim`` (default a symbol ``D``)."""
        suffix = f"_{index}" if index != "" else ""
        big_d = sp.Symbol("D", integer=True, positive=True) if dim is None else dim
        return cls(
            loc=sp.IndexedBase("mu" + suffix, real=True),
            scale=sp.IndexedBase("sigma" + suffix, positive=True),
            dim=big_d,
        )

    @property
    def variable(self) -> Any:
        r"""The variable :math:`x \in \mathbb{R}^D` (an ``IndexedBase``)."""
        return sp.IndexedBase("x", real=True)

    def coordinate(self, i: Any) -> Normal:
        """The marginal of coordinate ``i``: ``Normal(loc[i], scale[i])``."""
        return Normal(loc=self["loc"][i], scale=self["scale"][i])

    def pdf(self, x: Any) -> Any:  # noqa: D102
        i = self.index
        if isinstance(self["loc"], sp.Tuple):
            return sp.Mul(*(self.coordinate(k).pdf(x[k]) for k in range(int(self.dim))))
        return sp.Product(self.coordinate(i).pdf(x[i]), (i, 1, self.dim))


class Categorical(Family):
    r"""Categorical on :math:`\{0, \dots, K-1\}`: ``probs`` :math:`(p_1, \dots, p_K)`.

    The mass function is :math:`p(k) = \prod_i p_i^{\delta_{k, i-1}}`. ``probs`` is a
    vector of positive entries summing to 1 (the sum is a hypothesis of the derivations,
    :meth:`normalisation`); ``Categorical(logits=l)`` is ``probs = softmax(l)``.
    Exponential family: natural parameters :math:`\eta_i = \log p_i` (the logits, up to a
    common shift), statistics :math:`T_i(k) = \delta_{k, i-1}`,
    :math:`A(\eta) = \log \sum_i e^{\eta_i}`.
    """

    name = "categorical"
    title = "Categorical"
    params = (Param("probs", "p", "unit"),)
    discrete = True
    support_kind = "custom"
    exponential = True

    def __init__(self, probs: Any = None, logits: Any = None) -> None:
        if (probs is None) == (logits is None):
            raise TypeError("Categorical: give exactly one of probs and logits")
        if logits is not None:
            ls = [sp.sympify(v) for v in logits]
            for v in ls:
                if v.is_real is False:
                    raise ValueError(f"Categorical: logits must be real (got {v})")
            total = sp.Add(*(sp.exp(v) for v in ls))
            probs = [sp.exp(v) / total for v in ls]
        #: The logits, when the family was given them (then its natural parameters).
        self.logits = None if logits is None else sp.Tuple(*(sp.sympify(v) for v in logits))
        self.values = {"probs": sp.Tuple(*(sp.sympify(v) for v in probs))}
        self.check()

    def check(self) -> None:  # noqa: D102
        ps = self["probs"]
        if len(ps) < 2:
            raise ValueError(f"Categorical: probs needs at least 2 entries (got {len(ps)})")
        for v in ps:
            if _violates(v, "unit"):
                raise ValueError(f"Categorical: probs must be in (0, 1) (got {sp.sstr(v)})")
        if sp.simplify(sp.Add(*ps) - 1).is_zero is False:
            raise ValueError(f"Categorical: probs must sum to 1 (got {sp.sstr(sp.Add(*ps))})")

    @classmethod
    def symbolic(cls, index: int | str = "", K: int = 3) -> Self:
        """``K`` positive symbols ``p_1 … p_K`` (``q_1 …`` for index 2).

        That they sum to 1 is the hypothesis :meth:`normalisation`, stated by the
        derivations that use it.
        """
        names: dict[int | str, str] = {"": "p", 1: "p", 2: "q"}
        base = names.get(index, f"p{index}")
        return cls(probs=[sp.Symbol(f"{base}_{i + 1}", positive=True) for i in range(K)])

    @property
    def K(self) -> int:
        """The number of categories."""
        return len(self["probs"])

    def support(self) -> tuple[Any, Any]:  # noqa: D102
        return (sp.Integer(0), sp.Integer(self.K - 1))

    def conditions(self) -> tuple[Any, ...]:  # noqa: D102
        return ()

    def normalisation(self) -> Any:
        r"""The hypothesis :math:`\sum_i p_i = 1` (an ``Eq``, unevaluated)."""
        return sp.Eq(sp.Add(*self["probs"]), 1, evaluate=False)

    def pdf(self, x: Any) -> Any:  # noqa: D102
        return sp.Mul(*(p ** sp.KroneckerDelta(x, i) for i, p in enumerate(self["probs"])))

    def natural(self) -> tuple[Any, ...]:
        r"""The logits if given (``Categorical(logits=l)``), else :math:`\log p_i`."""
        if self.logits is not None:
            return tuple(self.logits)
        return tuple(sp.log(p) for p in self["probs"])

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return tuple(sp.KroneckerDelta(x, i) for i in range(self.K))

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        return sp.Integer(1)

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:  # noqa: D102
        return sp.Add(*(sp.exp(e) for e in eta))


class Dirichlet(Family):
    r"""Dirichlet on the open simplex: ``concentration`` :math:`(\alpha_1, \dots, \alpha_K)`.

    The variable is :math:`x = (x_1, \dots, x_{K-1})` with :math:`x_K = 1 - \sum_{i<K}
    x_i` (:meth:`coordinates`), the density

    .. math:: p(x) = \frac{\Gamma(\alpha_0)}{\prod_i \Gamma(\alpha_i)}
        \prod_{i=1}^{K} x_i^{\alpha_i - 1}, \qquad \alpha_0 = \sum_i \alpha_i,

    with respect to Lebesgue measure on :math:`\{x_i > 0, \sum_{i<K} x_i < 1\}`.
    Exponential family: :math:`\eta = \alpha`, :math:`T_i(x) = \log x_i`,
    :math:`Z(\eta) = \prod_i \Gamma(\eta_i) / \Gamma(\sum_i \eta_i)` (a claim that the
    derivations check by iterated integration).
    """

    name = "dirichlet"
    title = "Dirichlet"
    params = (Param("concentration", "alpha", "positive"),)
    support_kind = "custom"
    exponential = True

    def __init__(self, concentration: Any) -> None:
        self.values = {"concentration": sp.Tuple(*(sp.sympify(v) for v in concentration))}
        self.check()

    def check(self) -> None:  # noqa: D102
        alphas = self["concentration"]
        if len(alphas) < 2:
            raise ValueError(
                f"Dirichlet: concentration needs at least 2 entries (got {len(alphas)})"
            )
        for v in alphas:
            if _violates(v, "positive"):
                raise ValueError(f"Dirichlet: concentration must be positive (got {sp.sstr(v)})")

    @classmethod
    def symbolic(cls, index: int | str = "", K: int = 3) -> Self:
        """``K`` positive symbols ``alpha_1 … alpha_K`` (``beta_1 …`` for index 2)."""
        names: dict[int | str, str] = {"": "alpha", 1: "alpha", 2: "beta"}
        base = names.get(index, f"alpha{index}")
        return cls(concentration=[sp.Symbol(f"{base}_{i + 1}", positive=True) for i in range(K)])

    @property
    def K(self) -> int:
        """The number of components."""
        return len(self["concentration"])

    @property
    def variable(self) -> Any:
        r""":math:`(x_1, \dots, x_{K-1})`, positive symbols."""
        return sp.Tuple(*(sp.Symbol(f"x_{i + 1}", positive=True) for i in range(self.K - 1)))

    def coordinates(self, x: Any = None) -> tuple[Any, ...]:
        r""":math:`(x_1, \dots, x_{K-1}, 1 - \sum_{i<K} x_i)`."""
        x = self.variable if x is None else x
        return (*x, 1 - sp.Add(*x))

    def support(self) -> tuple[Any, Any]:  # noqa: D102
        return (sp.Integer(0), sp.Integer(1))

    def limits(self, x: Any = None) -> Any:
        """Limits of the iterated integral over the simplex, innermost first."""
        x = self.variable if x is None else x
        return tuple(
            (v, sp.Integer(0), 1 - sp.Add(*x[:i])) for i, v in reversed(list(enumerate(x)))
        )

    def conditions(self) -> tuple[Any, ...]:  # noqa: D102
        return ()

    def label(self, name: str = "p", x: Any = None) -> Any:  # noqa: D102
        x = self.variable if x is None else x
        return Labelled(sp.Symbol(f"{name}(x)"), self.pdf(x))

    def pdf(self, x: Any) -> Any:  # noqa: D102
        alphas = self["concentration"]
        norm = sp.gamma(sp.Add(*alphas)) / sp.Mul(*(sp.gamma(a) for a in alphas))
        return norm * sp.Mul(
            *(c ** (a - 1) for c, a in zip(self.coordinates(x), alphas, strict=True))
        )

    def natural(self) -> tuple[Any, ...]:  # noqa: D102
        return tuple(self["concentration"])

    def statistics(self, x: Any) -> tuple[Any, ...]:  # noqa: D102
        return tuple(sp.log(c) for c in self.coordinates(x))

    def base_measure(self, x: Any) -> Any:  # noqa: D102
        return 1 / sp.Mul(*self.coordinates(x))

    @classmethod
    def normaliser(cls, eta: tuple[Any, ...]) -> Any:  # noqa: D102
        return sp.Mul(*(sp.gamma(e) for e in eta)) / sp.gamma(sp.Add(*eta))


FAMILIES: dict[str, type[Family]] = {
    cls.name: cls
    for cls in (
        Normal,
        HalfNormal,
        LogNormal,
        Exponential,
        Gamma,
        Weibull,
        Beta,
        Laplace,
        Cauchy,
        Gumbel,
        Uniform,
        Pareto,
        Bernoulli,
        Binomial,
        Geometric,
        Poisson,
        MultivariateNormal,
        DiagonalNormal,
        Categorical,
        Dirichlet,
    )
}


def family(name: str) -> type[Family]:
    """The family class registered under ``name`` (lowercase, e.g. ``"normal"``)."""
    try:
        return FAMILIES[name.lower()]
    except KeyError:
        raise KeyError(f"no family {name!r}; known: {', '.join(sorted(FAMILIES))}") from None
