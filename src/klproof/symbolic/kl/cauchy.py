r"""KL between two Cauchy distributions: two routes through derivatives in the parameters.

.. math::

    \mathrm{KL}\bigl(\mathrm{Cauchy}(\mu_1, \gamma_1) \,\|\, \mathrm{Cauchy}(\mu_2, \gamma_2)\bigr)
    = \log\frac{(\gamma_1 + \gamma_2)^2 + (\mu_1 - \mu_2)^2}{4\gamma_1\gamma_2}.

SymPy does not evaluate :math:`\mathbb{E}\log((T - b)^2 + s^2)` for a standard Cauchy
:math:`T`. Both routes instead differentiate under the integral sign, where the integrands
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
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from klproof.derivation import (
    KL,
    AffineSubstitution,
    Algebra,
    Derivation,
    Evaluate,
    Instance,
    Leibniz,
    Memo,
    RationalIntegral,
    Rule,
    Step,
    Using,
    ZeroDerivative,
)

__all__ = ["diagonal_route", "integral_route"]

log = sp.log


def _dominated(what: str, bound: str) -> str:
    return (
        f"differentiate under the integral sign in ${what}$ (the derivative of the "
        f"integrand is dominated by ${bound}$, integrable, locally uniformly)"
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
