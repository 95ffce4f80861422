r"""KL between two Cauchy distributions, and the Cauchy entropy and cross-entropy.

.. math::

    \mathrm{KL}\bigl(\mathrm{Cauchy}(\mu_1, \gamma_1) \,\|\, \mathrm{Cauchy}(\mu_2, \gamma_2)\bigr)
    = \log\frac{(\gamma_1 + \gamma_2)^2 + (\mu_1 - \mu_2)^2}{4\gamma_1\gamma_2}.

SymPy does not evaluate :math:`\mathbb{E}\log((T - b)^2 + s^2)` for a standard Cauchy
:math:`T`. The first two routes instead differentiate under the integral sign, where the integrands
become rational functions of the variable (integrated over the line by partial fractions,
:class:`~klproof.derivation.RationalIntegral`), and integrate the derivative back from a
point where the value is 0 because the integrand vanishes there
(:class:`~klproof.derivation.ZeroDerivative`). No constant such as
:math:`\int_0^{\pi/2}\log\sin = -\tfrac{\pi}{2}\log 2` is needed: the constants cancel in
the log-ratio.

* ``integral`` — standardise :math:`x = \mu_1 + \gamma_1 t`; the lemma
  :math:`D(b, s) = \int \frac{1}{\pi(1 + t^2)} \log\frac{(t - b)^2 + s^2}{t^2 + 1}\,dt
  = \log\frac{b^2 + (1 + s)^2}{4}` from :math:`D(0, 1) = 0`, first along :math:`b` at
  :math:`s = 1`, then along :math:`s` at any :math:`b`;
* ``diagonal`` — the KL itself as a function of q's parameters, from :math:`q = p`
  (where it is 0): first along :math:`\gamma_2` at :math:`\mu_2 = \mu_1`, then along
  :math:`\mu_2` at any :math:`\gamma_2`, with no change of variables. The path and every
  integral evaluated differ from the first route's.
* ``cross-entropy`` — :math:`H(p, q) - H(p)`, each from its definition through the
  moments of :func:`moments`. These do need the constant

  .. math::

      \mathbb{E}\log(1 + T^2) = \frac{1}{\pi}\int_{-\infty}^{\infty}
      \frac{\log(1 + t^2)}{1 + t^2}\,dt = 2\log 2,

  which SymPy does not evaluate (nor :math:`\int_0^{\pi/2}\log\sin`). It is taken
  from the Student-t normaliser instead (:func:`log_moment`):
  :math:`Z(c) = \frac{1}{\pi}\int (1 + t^2)^{-c - 1/2}\,dt
  = \Gamma(c)/(\sqrt{\pi}\,\Gamma(c + \tfrac12))` for :math:`c > 0` (evaluated by
  SymPy), and :math:`\frac{1}{\pi}\int \log(1 + t^2)(1 + t^2)^{-c - 1/2}\,dt = -Z'(c)`
  by differentiation under the integral sign; at :math:`c = \tfrac12`,
  :math:`\psi(1) - \psi(\tfrac12) = 2\log 2`. Then
  :math:`F(b, s) = \mathbb{E}\log((T - b)^2 + s^2) = \log(b^2 + (1 + s)^2)` from
  :math:`F(0, 1)`, first along :math:`s` at :math:`b = 0`, then along :math:`b` (a path
  the first route does not take), and :math:`H(p) = \log(4\pi\gamma)`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sympy as sp

from klproof.derivation import (
    KL,
    AffineSubstitution,
    Algebra,
    Derivation,
    Evaluate,
    Instance,
    Integrate,
    Leibniz,
    Memo,
    RationalIntegral,
    Rule,
    Step,
    Using,
    ZeroDerivative,
)
from klproof.symbolic.kl import _routes
from klproof.symbolic.kl._routes import decompose

__all__ = [
    "LEMMA_SYMBOLS",
    "cross_entropy_route",
    "diagonal_route",
    "integral_route",
    "log_moment",
    "moments",
]

log = sp.log


def _dominated(what: str, bound: str, extra: str = "") -> str:
    return (
        f"differentiate under the integral sign in ${what}$ (the derivative of the "
        f"integrand is dominated by ${bound}${extra}, integrable, locally uniformly)"
    )


def integral_route(name: str, spec: Any, *, title: str, references: tuple[str, ...]) -> Derivation:
    """KL from the definition: standardise, then the lemma :math:`D(b, s)` (module docstring)."""
    p, q = spec.p, spec.q
    m1, g1, m2, g2 = p["loc"], p["scale"], q["loc"], q["scale"]
    x = p.variable
    lim = p.limits(x)
    pl, ql = p.label("p", x), q.label("q", x)
    t = sp.Symbol("t", real=True)
    b = sp.Symbol("b", real=True)
    s = sp.Symbol("s", positive=True)
    line = (t, -sp.oo, sp.oo)
    weight = 1 / (sp.pi * (t**2 + 1))

    def d_of(bb: Any, ss: Any) -> Any:
        return sp.Integral(weight * log(((t - bb) ** 2 + ss**2) / (t**2 + 1)), line)

    d = d_of(b, s)
    d_s1 = d.subs(s, 1)
    d_00 = d_s1.subs(b, 0)  # the integrand is 0
    value = log((b**2 + (1 + s) ** 2) / 4)
    value_s1 = value.subs(s, 1)
    db_s1 = 2 * b / (b**2 + 4)
    ds = 2 * (1 + s) / (b**2 + (1 + s) ** 2)
    base = sp.Eq(d_00, 0, evaluate=False)
    slope_b = sp.Eq(sp.Derivative(d_s1, b), db_s1, evaluate=False)
    at_s1 = sp.Eq(d_s1, value_s1, evaluate=False)
    slope_s = sp.Eq(sp.Derivative(d, s), ds, evaluate=False)
    lemma = sp.Eq(d, value, evaluate=False)
    lemma_steps = [
        Step(lhs=d_00, rhs=sp.Integer(0), reason="$D(0, 1)$: the integrand is 0", check=Evaluate()),
        Step(
            lhs=sp.Derivative(d_s1, b),
            rhs=sp.Integral(sp.diff(d_s1.function, b), line),
            reason=_dominated("b", r"\frac{1}{\pi(1 + t^2)}"),
            check=Leibniz(),
        ),
        Step(rhs=db_s1, reason="partial fractions in $t$", check=Memo(RationalIntegral())),
        Step(
            lhs=d_s1,
            rhs=value_s1,
            reason="same derivative in $b$ on the line, equal at $b = 0$",
            check=ZeroDerivative(b, sp.Integer(0), slope_b, base),
        ),
        Step(
            lhs=sp.Derivative(d, s),
            rhs=sp.Integral(sp.diff(d.function, s), line),
            reason=_dominated("s", r"\frac{2}{\pi s (1 + t^2)}"),
            check=Leibniz(),
        ),
        Step(rhs=ds, reason="partial fractions in $t$", check=Memo(RationalIntegral())),
        Step(
            lhs=d,
            rhs=value,
            reason="same derivative in $s$ on $s > 0$, equal at $s = 1$",
            check=ZeroDerivative(s, sp.Integer(1), slope_s, at_s1),
        ),
    ]
    # the KL, standardised
    ratio = log(((x - m2) ** 2 + g2**2) / ((x - m1) ** 2 + g1**2))
    expanded = log(g1 / g2) + ratio
    start = log(pl) - log(ql)
    log_ratio = sp.Eq(start, expanded, evaluate=False)
    normalised = sp.Eq(sp.Integral(pl, lim), 1, evaluate=False)
    bb, ss = (m2 - m1) / g1, g2 / g1
    standardised = d_of(bb, ss)
    substituted = sp.Eq(sp.Integral(pl * ratio, lim), standardised, evaluate=False)
    at_params = sp.Eq(standardised, value.subs({b: bb, s: ss}), evaluate=False)
    kl_steps = [
        Step(
            lhs=start,
            rhs=expanded,
            reason="the log-ratio (the factors $1/\\pi$ cancel)",
            check=Algebra(),
        ),
        Step(
            lhs=sp.Integral(pl, lim),
            rhs=sp.Integer(1),
            reason="p is normalised",
            check=Memo(Evaluate()),
        ),
        Step(
            lhs=sp.Integral(pl * ratio, lim),
            rhs=standardised,
            reason=f"substitute ${sp.latex(x)} = {sp.latex(m1 + g1 * t)}$ (the integrand is "
            r"absolutely integrable: $O(\log|x| / x^2)$)",
            check=Memo(
                AffineSubstitution((x,), (t,), sp.ImmutableMatrix([m1]), sp.ImmutableMatrix([[g1]]))
            ),
        ),
        Step(
            lhs=standardised,
            rhs=at_params.rhs,
            reason=f"the lemma at $b = {sp.latex(bb)}$, $s = {sp.latex(ss)}$",
            check=Instance(lemma, ((b, bb), (s, ss))),
        ),
        Step(
            lhs=KL(pl, ql, lim),
            rhs=sp.Integral(pl * start, lim),
            reason="definition",
            check=Rule("definition"),
        ),
        Step(
            rhs=sp.Integral(pl * expanded, lim),
            reason="the log-ratio",
            check=Using("log-ratio", (log_ratio,)),
        ),
        Step(
            rhs=log(g1 / g2) * sp.Integral(pl, lim) + sp.Integral(pl * ratio, lim),
            reason="linearity",
            check=Rule("linearity of the integral"),
        ),
        Step(
            rhs=log(g1 / g2) + standardised,
            reason="normalisation; the change of variables",
            check=Using("lemmas", (normalised, substituted)),
        ),
        Step(
            rhs=log(g1 / g2) + at_params.rhs, reason="the lemma", check=Using("lemma", (at_params,))
        ),
        Step(rhs=spec.closed, reason="collect terms", check=Algebra()),
    ]
    return Derivation(
        name=name,
        title=title,
        steps=(*lemma_steps, *kl_steps),
        symbols=(m1, g1, m2, g2, b, s),
        conditions=(),
        summary=(
            f"From the definition: p is {p!r} and q is {q!r}. After x = mu_1 + gamma_1 t the "
            "KL is log(gamma_1/gamma_2) + D(b, s), D the expected log-ratio under a standard "
            "Cauchy; D(0, 1) = 0 and its derivatives in b (at s = 1) and in s are integrals "
            "of rational functions."
        ),
        references=references,
    )


def diagonal_route(name: str, spec: Any, *, title: str, references: tuple[str, ...]) -> Derivation:
    """KL as a function of q's parameters, from q = p (module docstring)."""
    p, q = spec.p, spec.q
    m1, g1, m2, g2 = p["loc"], p["scale"], q["loc"], q["scale"]
    x = p.variable
    lim = p.limits(x)
    pl, ql = p.label("p", x), q.label("q", x)
    kl_int = sp.Integral(p.pdf(x) * (log(p.pdf(x)) - log(q.pdf(x))), lim)
    on_loc = kl_int.subs(m2, m1)
    at_p = on_loc.subs(g2, g1)  # the integrand is 0
    value_loc = log((g1 + g2) ** 2 / (4 * g1 * g2))
    d_scale = 2 / (g1 + g2) - 1 / g2
    d_loc = 2 * (m2 - m1) / ((m1 - m2) ** 2 + (g1 + g2) ** 2)
    base = sp.Eq(at_p, 0, evaluate=False)
    slope_scale = sp.Eq(sp.Derivative(on_loc, g2), d_scale, evaluate=False)
    on_diag = sp.Eq(on_loc, value_loc, evaluate=False)
    slope_loc = sp.Eq(sp.Derivative(kl_int, m2), d_loc, evaluate=False)
    result = sp.Eq(kl_int, spec.closed, evaluate=False)
    steps = [
        Step(lhs=at_p, rhs=sp.Integer(0), reason="at q = p the integrand is 0", check=Evaluate()),
        Step(
            lhs=sp.Derivative(on_loc, g2),
            rhs=sp.Integral(sp.diff(on_loc.function, g2), lim),
            reason=_dominated(sp.latex(g2), f"3 p(x) / {sp.latex(g2)}"),
            check=Leibniz(),
        ),
        Step(rhs=d_scale, reason="partial fractions in $x$", check=Memo(RationalIntegral())),
        Step(
            lhs=on_loc,
            rhs=value_loc,
            reason=f"same derivative in ${sp.latex(g2)}$ on ${sp.latex(g2)} > 0$, "
            f"equal at ${sp.latex(g2)} = {sp.latex(g1)}$",
            check=ZeroDerivative(g2, g1, slope_scale, base),
        ),
        Step(
            lhs=sp.Derivative(kl_int, m2),
            rhs=sp.Integral(sp.diff(kl_int.function, m2), lim),
            reason=_dominated(sp.latex(m2), f"p(x) / {sp.latex(g2)}"),
            check=Leibniz(),
        ),
        Step(rhs=d_loc, reason="partial fractions in $x$", check=Memo(RationalIntegral())),
        Step(
            lhs=kl_int,
            rhs=spec.closed,
            reason=f"same derivative in ${sp.latex(m2)}$ on the line, "
            f"equal at ${sp.latex(m2)} = {sp.latex(m1)}$",
            check=ZeroDerivative(m2, m1, slope_loc, on_diag),
        ),
        Step(
            lhs=KL(pl, ql, lim),
            rhs=sp.Integral(pl * (log(pl) - log(ql)), lim),
            reason="definition",
            check=Rule("definition"),
        ),
        Step(rhs=spec.closed, reason="the result above", check=Using("result", (result,))),
    ]
    return Derivation(
        name=name,
        title=title,
        steps=tuple(steps),
        symbols=(m1, g1, m2, g2),
        conditions=(),
        summary=(
            f"p is {p!r} and q is {q!r}. The KL is 0 at q = p; its derivatives in q's scale "
            "(at mu_2 = mu_1) and in q's location are integrals of rational functions, "
            "integrated back from q = p."
        ),
        references=references,
    )


# --------------------------------------------------------------------------- entropy

HALF = sp.Rational(1, 2)
_T = sp.Symbol("t", real=True)
_C = sp.Symbol("c", positive=True)
_B = sp.Symbol("b", real=True)
_S = sp.Symbol("s", positive=True)
_LINE = (_T, -sp.oo, sp.oo)
_WEIGHT = 1 / (sp.pi * (_T**2 + 1))
#: The symbols of the lemmas behind :func:`moments` (declared by the derivations using them).
LEMMA_SYMBOLS = (_B, _S, _C)


def _f(b: Any, s: Any) -> Any:
    r""":math:`F(b, s) = \mathbb{E}\log((T - b)^2 + s^2)`, T standard Cauchy, as an integral."""
    return sp.Integral(_WEIGHT * log((_T - b) ** 2 + s**2), _LINE)


def log_moment() -> list[Step]:
    r"""The constant :math:`\mathbb{E}\log(1 + T^2) = 2\log 2` for a standard Cauchy :math:`T`.

    From the Student-t normaliser
    :math:`Z(c) = \frac{1}{\pi}\int_{-\infty}^{\infty} (1 + t^2)^{-c - 1/2}\,dt
    = \frac{\Gamma(c)}{\sqrt{\pi}\,\Gamma(c + 1/2)}`, :math:`c > 0` (evaluated by
    SymPy, Meijer G): differentiating under the integral sign,
    :math:`\frac{1}{\pi}\int \log(1 + t^2)\,(1 + t^2)^{-c - 1/2}\,dt = -Z'(c)
    = Z(c)\,(\psi(c + \tfrac12) - \psi(c))`, and at :math:`c = \tfrac12` (the standard
    Cauchy density) this is :math:`\psi(1) - \psi(\tfrac12) = 2\log 2`. No value of
    :math:`\int_0^{\pi/2}\log\sin` is used.

    Returns
    -------
    list of Step
        Two chains; the last is :math:`F(0, 1) = 2\log 2`.
    """
    t, c = _T, _C
    kernel = (1 + t**2) ** (-c - HALF) / sp.pi
    z_int = sp.Integral(kernel, _LINE)
    z_val = sp.gamma(c) / (sp.sqrt(sp.pi) * sp.gamma(c + HALF))
    moment = sp.Integral(log(1 + t**2) * kernel, _LINE)
    moment_val = z_val * (sp.digamma(c + HALF) - sp.digamma(c))
    z_fact = sp.Eq(z_int, z_val, evaluate=False)
    moment_fact = sp.Eq(moment, moment_val, evaluate=False)
    return [
        Step(
            lhs=z_int,
            rhs=z_val,
            reason="the Student-t normaliser ($c > 0$), evaluated",
            check=Memo(Integrate()),
        ),
        Step(
            lhs=moment,
            rhs=-sp.Derivative(z_int, c),
            reason=_dominated(
                "c", r"\log(1 + t^2)\,(1 + t^2)^{-c_0 - 1/2}", extra=r" for $c > c_0 > 0$"
            ),
            check=Memo(Leibniz()),
        ),
        Step(
            rhs=-sp.Derivative(z_val, c),
            reason="the normaliser lemma",
            check=Using("normaliser", (z_fact,)),
        ),
        Step(rhs=moment_val, reason="differentiate", check=Memo(Evaluate())),
        Step(
            lhs=_f(0, 1),
            rhs=2 * log(2),
            reason=r"at $c = \frac{1}{2}$: $\Gamma(\frac{1}{2}) = \sqrt{\pi}$ and "
            r"$\psi(1) - \psi(\frac{1}{2}) = 2 \log 2$",
            check=Instance(moment_fact, ((c, HALF),)),
        ),
    ]


def _f_lemma() -> list[Step]:
    r""":math:`F(b, s) = \log(b^2 + (1 + s)^2)` from :math:`F(0, 1) = 2\log 2`.

    First along :math:`s` at :math:`b = 0`, then along :math:`b` at any :math:`s`; the
    derivatives are integrals of rational functions. (The ``integral`` route's lemma
    :math:`D(b, s)` goes along :math:`b` first, from :math:`D(0, 1) = 0`.)
    """
    b, s = _B, _S
    f = _f(b, s)
    f_b0 = f.subs(b, 0)
    slope_s = 2 / (1 + s)
    slope_b = 2 * b / (b**2 + (1 + s) ** 2)
    base = sp.Eq(_f(0, 1), 2 * log(2), evaluate=False)
    ds = sp.Eq(sp.Derivative(f_b0, s), slope_s, evaluate=False)
    along_s = sp.Eq(f_b0, 2 * log(1 + s), evaluate=False)
    db = sp.Eq(sp.Derivative(f, b), slope_b, evaluate=False)
    return [
        Step(
            lhs=sp.Derivative(f_b0, s),
            rhs=sp.Integral(sp.diff(f_b0.function, s), _LINE),
            reason=_dominated("s", r"\frac{2}{\pi s_0 (1 + t^2)}", extra=r" for $s > s_0 > 0$"),
            check=Memo(Leibniz()),
        ),
        Step(rhs=slope_s, reason="partial fractions in $t$", check=Memo(RationalIntegral())),
        Step(
            lhs=f_b0,
            rhs=2 * log(1 + s),
            reason="same derivative in $s$ on $s > 0$, equal at $s = 1$",
            check=ZeroDerivative(s, sp.Integer(1), ds, base),
        ),
        Step(
            lhs=sp.Derivative(f, b),
            rhs=sp.Integral(sp.diff(f.function, b), _LINE),
            reason=_dominated("b", r"\frac{1}{\pi s (1 + t^2)}"),
            check=Memo(Leibniz()),
        ),
        Step(rhs=slope_b, reason="partial fractions in $t$", check=Memo(RationalIntegral())),
        Step(
            lhs=f,
            rhs=log(b**2 + (1 + s) ** 2),
            reason="same derivative in $b$ on the line, equal at $b = 0$",
            check=ZeroDerivative(b, sp.Integer(0), db, along_s),
        ),
    ]


def _standardised(p: Any, feature: Any, loc: Any, scale: Any, value: Any) -> Any:
    r"""Lemma builder: :math:`\mathbb{E}_p\log((x - m)^2 + g^2)` for p Cauchy, by x = μ + γ t.

    ``feature`` is that logarithm as the catalogue writes it (expanded), ``loc`` and
    ``scale`` are :math:`m, g`, ``value`` the closed form it ends at.
    """
    m1, g1 = p["loc"], p["scale"]
    b0, s0 = (loc - m1) / g1, scale / g1
    own = b0 == 0 and s0 == 1

    def build(pl: Any, lim: tuple[Any, Any, Any]) -> list[Step]:
        x = lim[0]
        lemma = [*log_moment(), *([] if own else _f_lemma())]
        at = _f(b0, s0)
        if own:
            fact = sp.Eq(at, 2 * log(2), evaluate=False)
        else:
            fact = sp.Eq(at, log(b0**2 + (1 + s0) ** 2), evaluate=False)
            general = sp.Eq(_f(_B, _S), log(_B**2 + (1 + _S) ** 2), evaluate=False)
            lemma.append(
                Step(
                    lhs=at,
                    rhs=fact.rhs,
                    reason=f"the lemma at $b = {sp.latex(b0)}$, $s = {sp.latex(s0)}$",
                    check=Instance(general, ((_B, b0), (_S, s0))),
                )
            )
        norm = sp.Eq(sp.Integral(_WEIGHT, _LINE), 1, evaluate=False)
        std = sp.Integral(_WEIGHT * (2 * log(g1) + log((_T - b0) ** 2 + s0**2)), _LINE)
        return [
            *lemma,
            Step(
                lhs=norm.lhs,
                rhs=sp.Integer(1),
                reason="the standard Cauchy density is normalised",
                check=Memo(Evaluate()),
            ),
            Step(
                lhs=sp.Integral(pl * feature, lim),
                rhs=std,
                reason=f"substitute ${sp.latex(x)} = {sp.latex(m1 + g1 * _T)}$ (the integrand "
                r"is absolutely integrable: $O(\log|x| / x^2)$)",
                check=Memo(
                    AffineSubstitution(
                        (x,), (_T,), sp.ImmutableMatrix([m1]), sp.ImmutableMatrix([[g1]])
                    )
                ),
            ),
            Step(
                rhs=2 * log(g1) * norm.lhs + at,
                reason="linearity",
                check=Rule("linearity of the integral"),
            ),
            Step(
                rhs=2 * log(g1) + fact.rhs,
                reason="normalisation; the lemma",
                check=Using("lemmas", (norm, fact)),
            ),
            Step(rhs=value, reason="collect terms", check=Algebra()),
        ]

    return build


def moments(p: Any, q: Any) -> dict[Any, Any]:
    r"""Lemma builders for :math:`\mathbb{E}_p\log((x - \mu_j)^2 + \gamma_j^2)`, j = 1, 2.

    The features of :math:`\log p` and :math:`\log q` for the catalogue's generic entropy
    and cross-entropy builders:

    .. math::

        \mathbb{E}_p\log((x - \mu_1)^2 + \gamma_1^2) = \log(4\gamma_1^2), \qquad
        \mathbb{E}_p\log((x - \mu_2)^2 + \gamma_2^2)
        = \log((\mu_1 - \mu_2)^2 + (\gamma_1 + \gamma_2)^2),

    so :math:`H(p) = \log(4\pi\gamma_1)` and
    :math:`H(p, q) = \log\frac{\pi((\mu_1 - \mu_2)^2 + (\gamma_1 + \gamma_2)^2)}{\gamma_2}`.
    """
    x = p.variable
    m1, g1, m2, g2 = p["loc"], p["scale"], q["loc"], q["scale"]
    out: dict[Any, Any] = {}
    for fam, value in (
        (p, log(4 * g1**2)),
        (q, log((m1 - m2) ** 2 + (g1 + g2) ** 2)),
    ):
        (feature,) = [f for f in decompose(sp.log(fam.pdf(x)), x) if f != 1]
        out[feature] = _standardised(p, feature, fam["loc"], fam["scale"], value)
    return out


def cross_entropy_route(
    name: str, spec: Any, *, title: str, references: tuple[str, ...]
) -> Derivation:
    """KL as cross-entropy minus entropy (the generic builder), declaring the lemmas' symbols."""
    d = _routes.cross_entropy_route(
        name, spec.p, spec.q, spec.closed, spec.moments, title=title, references=references
    )
    return replace(d, symbols=(*d.symbols, *LEMMA_SYMBOLS))
