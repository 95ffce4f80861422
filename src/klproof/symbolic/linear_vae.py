r"""The linear VAE's ELBO and its gradient, derived and checked by SymPy.

The model and encoder of Lucas et al. (2019), "Don't Blame the ELBO!":

.. math::

    p(z) = \mathcal N(0, I_d), \quad
    p(x \mid z) = \mathcal N(W z + \mu, \sigma^2 I_D), \quad
    q(z \mid x) = \mathcal N\left(V (x - \mu), \operatorname{diag}(s_1^2, \dots, s_d^2)\right).

The derivation works at the concrete dimensions :math:`D = d = 2` with every
matrix entry a symbol, so each step is an identity SymPy can decide:

1. the ELBO's defining double integral, evaluated by SymPy, equals the closed form

   .. math::

       \mathcal L(x) = -\tfrac D2 \log(2\pi\sigma^2)
       - \frac{\lVert \tilde x - W m\rVert^2 + \operatorname{tr}(W S W^\top)}{2\sigma^2}
       - \tfrac12\left(\operatorname{tr} S + \lVert m\rVert^2 - d - \log\det S\right),

   with :math:`\tilde x = x - \mu`, :math:`m = V \tilde x` and :math:`S = \operatorname{diag} s^2`;
2. for every parameter block, the directional derivative
   :math:`\sum_e G_e\, \partial\mathcal L / \partial\theta_e` (any direction :math:`G`)
   equals :math:`\langle G, \nabla_\theta \mathcal L\rangle` for the matrix-form gradient

   .. math::

       \nabla_W = \frac{(\tilde x - W m) m^\top - W S}{\sigma^2}, \quad
       \nabla_V = \frac{W^\top (\tilde x - W m)\tilde x^\top}{\sigma^2} - m \tilde x^\top, \quad
       \frac{\partial \mathcal L}{\partial s_j} = \frac1{s_j} - s_j
       - \frac{s_j \lVert W_{:j}\rVert^2}{\sigma^2},

   .. math::

       \frac{\partial \mathcal L}{\partial \sigma} = -\frac D\sigma
       + \frac{\lVert \tilde x - W m\rVert^2 + \operatorname{tr}(W S W^\top)}{\sigma^3}, \quad
       \nabla_\mu = \frac{(I - W V)^\top(\tilde x - W m)}{\sigma^2} + V^\top m.

The matrix forms hold for every :math:`D, d` (each entry is a polynomial identity whose
shape does not depend on the dimensions; :math:`D = d = 2` keeps every step, and every
corrupted step, decidable in seconds, and the tests check the NumPy transcription
against finite differences at other dimensions); :mod:`klproof.models.linear_vae` transcribes
them to NumPy and its tests compare the transcription with :func:`lambdified` here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import sympy as sp

from klproof.derivation import Argmax, Derivation, Evaluate, Labelled, Step
from klproof.symbolic.registry import register

__all__ = [
    "DATA_DIM",
    "GAP_DIMS",
    "LATENT_DIM",
    "gradient_formulas",
    "lambdified",
    "linear_gaussian_elbo_derivation",
    "linear_vae_derivation",
    "linear_vae_elbo",
    "linear_vae_gap_derivation",
    "linear_vae_optimal_encoder_derivation",
    "symbols",
]

LUCAS = (
    "J. Lucas, G. Tucker, R. Grosse and M. Norouzi, Don't Blame the ELBO! A Linear VAE "
    "Perspective on Posterior Collapse, NeurIPS 2019, §3 and App. C"
)
TIPPING_BISHOP = (
    "M. E. Tipping and C. M. Bishop, Probabilistic Principal Component Analysis, "
    "J. R. Statist. Soc. B 61(3), 1999, 611–622"
)
KINGMA_WELLING = "D. P. Kingma and M. Welling, Auto-Encoding Variational Bayes, ICLR 2014, App. B"

#: The concrete dimensions of the symbolic derivation.
DATA_DIM = 2
LATENT_DIM = 2


def _vec(name: str, n: int, **assumptions: Any) -> sp.Matrix:
    return sp.Matrix([sp.Symbol(f"{name}_{i + 1}", **assumptions) for i in range(n)])


def _mat(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True))


Dims = tuple[int, int]
_DIMS: Dims = (DATA_DIM, LATENT_DIM)


@cache
def symbols(dims: Dims = _DIMS) -> dict[str, Any]:
    """Return the SymPy symbols of the derivation, by role.

    Parameters
    ----------
    dims : tuple of int
        ``(D, d)``; default ``(DATA_DIM, LATENT_DIM)``.

    Returns
    -------
    dict
        ``x``, ``mu`` (``D``-vectors), ``W`` (``D × d``), ``V`` (``d × D``), ``s``
        (``d``-vector, positive), ``sigma`` (positive), ``z`` and ``m`` (``d``-vectors).
    """
    big, small = dims
    return {
        "x": _vec("x", big, real=True),
        "mu": _vec("mu", big, real=True),
        "W": _mat("w", big, small),
        "V": _mat("v", small, big),
        "s": _vec("s", small, positive=True),
        "sigma": sp.Symbol("sigma", positive=True),
        "z": _vec("z", small, real=True),
        "m": _vec("m", small, real=True),
    }


def _pieces(*, encoder: bool = True, dims: Dims = _DIMS) -> dict[str, Any]:
    """Return the building blocks; ``encoder=False`` keeps the mean of q a free vector ``m``."""
    sy = symbols(dims)
    x, mu, w, v, s = (sy[k] for k in ("x", "mu", "W", "V", "s"))
    xt = x - mu
    m = v * xt if encoder else sy["m"]
    cov = sp.diag(*[si**2 for si in s])
    resid = xt - w * m
    return {
        "xt": xt,
        "m": m,
        "S": cov,
        "resid": resid,
        "sq_resid": (resid.T * resid)[0, 0],
        "trace_wsw": (w * cov * w.T).trace(),
        "trace_s": cov.trace(),
        "sq_m": (m.T * m)[0, 0],
        "logdet_s": sum(2 * sp.log(si) for si in s),
    }


def _label(latex: str, formula: Any) -> Any:
    return Labelled(sp.Symbol(latex), formula)


def _closed_form(*, labelled: bool, encoder: bool = True, dims: Dims = _DIMS) -> Any:
    sy, pc = symbols(dims), _pieces(encoder=encoder, dims=dims)
    sigma = sy["sigma"]
    big, small = dims

    def lab(latex: str, key: str) -> Any:
        return _label(latex, pc[key]) if labelled else pc[key]

    rec = -sp.Rational(big, 2) * sp.log(2 * sp.pi * sigma**2) - (
        lab(r"\lVert \tilde{x} - W m \rVert^{2}", "sq_resid")
        + lab(r"\operatorname{tr}(W S W^{\top})", "trace_wsw")
    ) / (2 * sigma**2)
    kl = sp.Rational(1, 2) * (
        lab(r"\operatorname{tr} S", "trace_s")
        + lab(r"\lVert m \rVert^{2}", "sq_m")
        - small
        - lab(r"\log \det S", "logdet_s")
    )
    return rec - kl


def linear_vae_elbo() -> Any:
    """Return the closed-form per-observation ELBO as a plain SymPy expression (no labels)."""
    return _closed_form(labelled=False)


def _densities(*, encoder: bool, dims: Dims = _DIMS) -> tuple[Any, Any, Any]:
    sy, pc = symbols(dims), _pieces(encoder=encoder, dims=dims)
    x, mu, w, s, sigma, z = (sy[k] for k in ("x", "mu", "W", "s", "sigma", "z"))
    mean_x = w * z + mu
    lik = sp.Mul(
        *[
            sp.exp(-((x[i] - mean_x[i]) ** 2) / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2)
            for i in range(dims[0])
        ]
    )
    prior = sp.Mul(*[sp.exp(-(zj**2) / 2) / sp.sqrt(2 * sp.pi) for zj in z])
    q = sp.Mul(
        *[
            sp.exp(-((z[j] - pc["m"][j]) ** 2) / (2 * s[j] ** 2)) / sp.sqrt(2 * sp.pi * s[j] ** 2)
            for j in range(dims[1])
        ]
    )
    return (
        _label(r"p(x \mid z)", lik),
        _label("p(z)", prior),
        _label(r"q(z \mid x)", q),
    )


@cache
def gradient_formulas() -> dict[str, sp.Matrix]:
    """Return the matrix-form gradient of the per-observation ELBO, by parameter block.

    Returns
    -------
    dict of sympy.Matrix
        ``W`` (``D × d``), ``V`` (``d × D``), ``s`` (``d × 1``), ``sigma`` (``1 × 1``)
        and ``mu`` (``D × 1``), each the gradient of :func:`linear_vae_elbo`.
    """
    sy, pc = symbols(), _pieces()
    w, v, s, sigma = (sy[k] for k in ("W", "V", "s", "sigma"))
    xt, m, cov, resid = pc["xt"], pc["m"], pc["S"], pc["resid"]
    col_sq = [(w[:, j].T * w[:, j])[0, 0] for j in range(LATENT_DIM)]
    eye = sp.eye(DATA_DIM)
    return {
        "W": (resid * m.T - w * cov) / sigma**2,
        "V": w.T * resid * xt.T / sigma**2 - m * xt.T,
        "s": sp.Matrix([1 / s[j] - s[j] - s[j] * col_sq[j] / sigma**2 for j in range(LATENT_DIM)]),
        "sigma": sp.Matrix(
            [-sp.Integer(DATA_DIM) / sigma + (pc["sq_resid"] + pc["trace_wsw"]) / sigma**3]
        ),
        "mu": (eye - w * v).T * resid / sigma**2 + v.T * m,
    }


_BLOCKS = (
    ("W", "W", r"\nabla_W", "decoder weights W"),
    ("V", "V", r"\nabla_V", "encoder weights V"),
    ("s", "s", r"\partial_s", "encoder scales s"),
    ("sigma", "sigma", r"\partial_\sigma", "noise scale σ"),
    ("mu", "mu", r"\nabla_\mu", "bias μ"),
)


def _params(key: str) -> list[Any]:
    value = symbols()[key]
    return list(value) if isinstance(value, sp.MatrixBase) else [value]


def _elbo_integral(*, encoder: bool, dims: Dims = _DIMS) -> Any:
    lik, prior, q = _densities(encoder=encoder, dims=dims)
    limits = [(zj, -sp.oo, sp.oo) for zj in symbols(dims)["z"]]
    return sp.Integral(q * (sp.log(lik) + sp.log(prior) - sp.log(q)), *limits)


def _all_symbols(*keys: str, dims: Dims = _DIMS) -> tuple[Any, ...]:
    out: list[Any] = []
    for key in keys:
        value = symbols(dims)[key]
        out.extend(value if isinstance(value, sp.MatrixBase) else [value])
    return tuple(out)


@register("elbo/ppca-diagonal-q")
def linear_gaussian_elbo_derivation() -> Derivation:
    r"""Build the ELBO of a diagonal Gaussian q for the linear-Gaussian model (:math:`D = d = 2`)."""
    return Derivation(
        name="elbo/ppca-diagonal-q",
        title="ELBO of a diagonal Gaussian q under a linear-Gaussian decoder",
        steps=(
            Step(
                lhs=_elbo_integral(encoder=False),
                rhs=_closed_form(labelled=True, encoder=False),
                reason="Gaussian integrals of a quadratic in z, evaluated by SymPy",
                check=Evaluate(),
                label="linear-gaussian-elbo",
            ),
        ),
        symbols=_all_symbols("x", "mu", "W", "m", "s", "sigma", "z"),
        summary=(
            "For p(z) = N(0, I), p(x | z) = N(Wz + μ, σ² I) and q(z) = N(m, diag s²), the "
            "ELBO's defining integral E_q[log p(x | z) + log p(z) − log q(z)] is evaluated by "
            "SymPy, at D = d = 2 with every entry a symbol, to the closed form: the "
            "expected reconstruction term minus KL(q ‖ p(z))."
        ),
        references=(KINGMA_WELLING, TIPPING_BISHOP),
    )


@register("elbo/linear-vae")
def linear_vae_derivation() -> Derivation:
    r"""Build the linear VAE's ELBO in closed form and its gradient (:math:`D = d = 2`).

    Examples
    --------
    >>> d = linear_vae_derivation()
    >>> d.name, len(d.steps)
    ('elbo/linear-vae', 6)
    >>> [s.label for s in d.steps][-1]
    'linear-vae-grad-mu'
    """
    sy = symbols()
    encoder_mean = _pieces()["m"]
    mapping = {sy["m"][j]: encoder_mean[j] for j in range(LATENT_DIM)}
    elbo_label = _label(r"\mathcal{L}", linear_vae_elbo())
    grads = gradient_formulas()
    steps = [
        Step(
            lhs=_label(
                r"\mathcal{L}_{q}\big|_{m = V (x - \mu)}",
                _closed_form(labelled=False, encoder=False).xreplace(mapping),
            ),
            rhs=_closed_form(labelled=True),
            reason="elbo/ppca-diagonal-q (the ELBO integral, evaluated) at m = V(x − μ)",
            label="linear-vae-elbo",
        ),
    ]
    for key, _name, nabla, text in _BLOCKS:
        params = _params(key)
        directions = [sp.Symbol(f"G_{p}", real=True) for p in params]
        formula = list(grads[key])
        lhs = sp.Add(
            *[g * sp.Derivative(elbo_label, p) for g, p in zip(directions, params, strict=True)]
        )
        rhs = _label(
            rf"\langle G, {nabla} \mathcal{{L}} \rangle",
            sp.Add(*[g * f for g, f in zip(directions, formula, strict=True)]),
        )
        steps.append(
            Step(
                lhs=lhs,
                rhs=rhs,
                reason=f"gradient in the {text}: directional derivative along any G",
                check=Evaluate(),
                label=f"linear-vae-grad-{key}",
            )
        )
    return Derivation(
        name="elbo/linear-vae",
        title="The linear VAE's ELBO and its gradient in closed form",
        steps=tuple(steps),
        symbols=_all_symbols("x", "mu", "W", "V", "s", "sigma", "z"),
        summary=(
            "A linear decoder x | z ~ N(Wz + μ, σ² I) with a standard normal prior and a linear "
            "encoder q(z | x) = N(V(x − μ), diag s²). The ELBO's closed form is that of "
            "elbo/ppca-diagonal-q (its defining integral evaluated by SymPy at D = d = 2, "
            "every entry a symbol) at the encoder's mean m = V(x − μ); SymPy checks the "
            "matrix-form gradient of every parameter block against the entrywise derivatives, "
            "along an arbitrary direction G. Gradient ascent on the averaged ELBO recovers the "
            "maximum-likelihood pPCA solution and closes the gap: the exact posterior of pPCA "
            "at its optimum is a Gaussian with diagonal covariance, inside the encoder's family."
        ),
        references=(LUCAS, TIPPING_BISHOP, KINGMA_WELLING),
        uses=("elbo/ppca-diagonal-q",),
    )


@cache
def lambdified() -> dict[str, Callable[..., Any]]:
    """Return NumPy functions of the derived ELBO and gradient blocks.

    Each takes ``(x, mu, W, V, s, sigma)`` as arrays of the derivation's shapes
    (``(D,)``, ``(D,)``, ``(D, d)``, ``(d, D)``, ``(d,)``, scalar) with
    ``(D, d) = (DATA_DIM, LATENT_DIM) = (2, 2)``.

    Returns
    -------
    dict
        ``"elbo"`` and one entry per gradient block (``"W"``, ``"V"``, ``"s"``,
        ``"sigma"``, ``"mu"``), the latter returning nested lists of the block's shape.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambdified()
    >>> args = (np.zeros(2), np.zeros(2), np.zeros((2, 2)), np.zeros((2, 2)), np.ones(2), 1.0)
    >>> round(float(f["elbo"](*args)), 6)   # -D/2 log(2π) - tr(S)/2 + d/2 + log det(S)/2
    -1.837877
    >>> float(np.asarray(f["sigma"](*args))[0, 0])   # -D/σ: no residual, W = 0
    -2.0
    """
    sy = symbols()
    args = [
        list(sy["x"]),
        list(sy["mu"]),
        sy["W"].tolist(),
        sy["V"].tolist(),
        list(sy["s"]),
        sy["sigma"],
    ]
    out: dict[str, Callable[..., Any]] = {
        "elbo": sp.lambdify(args, linear_vae_elbo(), modules="numpy"),
    }
    for key, formula in gradient_formulas().items():
        out[key] = sp.lambdify(args, formula.tolist(), modules="numpy")
    return out


#: Dimensions of the gap-closing derivation (one latent: the exact posterior is always
#: a one-dimensional Gaussian, inside the encoder's family).
GAP_DIMS: Dims = (3, 1)


@register("elbo/linear-vae-gap-closes")
def linear_vae_gap_derivation() -> Derivation:
    r"""Build the statement that the ELBO at the exact posterior is the log evidence (:math:`d = 1`).

    Examples
    --------
    >>> d = linear_vae_gap_derivation()
    >>> d.steps[1].check.describe()
    'algebra: the difference simplifies to 0'
    """
    dims = GAP_DIMS
    big = dims[0]
    sy = symbols(dims)
    x, mu, w, s, sigma, m = (sy[k] for k in ("x", "mu", "W", "s", "sigma", "m"))
    xt = x - mu
    precision = (w.T * w)[0, 0] + sigma**2  # M = w^T w + σ^2
    posterior = {
        m[0]: (w.T * xt)[0, 0] / precision,  # M^{-1} w^T (x − μ)
        s[0]: sigma / sp.sqrt(precision),  # s^2 = σ^2 / M
    }
    cov = w * w.T + sigma**2 * sp.eye(big)
    log_evidence = _label(
        r"\log \mathcal{N}(x; \mu, W W^{\top} + \sigma^{2} I)",
        -sp.Rational(big, 2) * sp.log(2 * sp.pi)
        - sp.log(sp.factor(cov.det())) / 2
        - (xt.T * cov.inv() * xt)[0, 0] / 2,
    )
    lemma_step = Step(
        lhs=_elbo_integral(encoder=False, dims=dims),
        rhs=_closed_form(labelled=True, encoder=False, dims=dims),
        reason="Gaussian integral of a quadratic in z, evaluated by SymPy",
        check=Evaluate(),
    )
    steps = (
        lemma_step,
        Step(
            lhs=_label(
                r"\mathcal{L}\big|_{q = p(z \mid x)}",
                _closed_form(labelled=False, encoder=False, dims=dims).xreplace(posterior),
            ),
            rhs=log_evidence,
            reason="the closed form at q = p(z | x) = N(M⁻¹wᵀ(x − μ), σ²/M) is log N(x; μ, C)",
            label="linear-vae-gap-closes",
        ),
    )
    return Derivation(
        name="elbo/linear-vae-gap-closes",
        title="The ELBO at the exact posterior equals the log evidence (pPCA, one latent)",
        steps=steps,
        symbols=_all_symbols("x", "mu", "W", "m", "s", "sigma", "z", dims=dims),
        summary=(
            "With the encoder equal to the exact posterior of pPCA, q(z | x) = "
            "N(M⁻¹wᵀ(x − μ), σ²/M) with M = wᵀw + σ², the ELBO is the exact log evidence "
            "log N(x; μ, wwᵀ + σ² I): the gap KL(q ‖ p(z | x)) is zero. The encoder's "
            "family (linear mean, data-independent diagonal covariance) contains this "
            "posterior, which is why a linear VAE can reach the maximum-likelihood pPCA "
            "solution (checked at D = 3, d = 1; for d > 1 the posterior covariance "
            "σ²M⁻¹ is diagonal at the optimum, where WᵀW is diagonal)."
        ),
        references=(LUCAS, TIPPING_BISHOP),
    )


@register("elbo/linear-vae-optimal-encoder")
def linear_vae_optimal_encoder_derivation() -> Derivation:
    r"""Build the best encoder for a fixed decoder (:math:`D = d = 2`).

    Examples
    --------
    >>> d = linear_vae_optimal_encoder_derivation()
    >>> [s.check.label for s in d.steps]
    ['algebra', 'algebra', 'algebra', 'unique stationary point, negative-definite Hessian']
    """
    sy = symbols()
    w, v, s, sigma = (sy[k] for k in ("W", "V", "s", "sigma"))
    small = LATENT_DIM
    precision = w.T * w + sigma**2 * sp.eye(small)  # M = WᵀW + σ² I
    adjugate = precision.adjugate()  # M⁻¹ = adj(M) / det(M): polynomial entries
    col_sq = [(w[:, j].T * w[:, j])[0, 0] for j in range(small)]
    s_star = [sigma / sp.sqrt(sigma**2 + col_sq[j]) for j in range(small)]
    grads = gradient_formulas()
    g_v = [sp.Symbol(f"G_{p}", real=True) for p in v]
    g_s = [sp.Symbol(f"G_{p}", real=True) for p in s]
    xt = _pieces()["xt"]
    factored = (w.T - precision * v) * xt * xt.T / sigma**2
    at_s = dict(zip(list(s), s_star, strict=True))
    # The part of the ELBO that depends on s (per observation): terms with tr(W S Wᵀ),
    # tr S and log det S.
    s_objective = sum(
        -(s[j] ** 2) * col_sq[j] / (2 * sigma**2) - s[j] ** 2 / 2 + sp.log(s[j])
        for j in range(small)
    )
    return Derivation(
        name="elbo/linear-vae-optimal-encoder",
        title="The linear VAE's best encoder for a fixed decoder",
        steps=(
            Step(
                lhs=_label(
                    r"\langle G, \nabla_V \mathcal{L} \rangle",
                    sp.Add(*[g * f for g, f in zip(g_v, grads["V"], strict=True)]),
                ),
                rhs=_label(
                    r"\langle G, (W^{\top} - M V)\, \tilde{x} \tilde{x}^{\top} \rangle / \sigma^{2}",
                    sp.Add(*[g * f for g, f in zip(g_v, factored, strict=True)]),
                ),
                reason="collect the V-gradient: (Wᵀ − MV) x̃x̃ᵀ/σ² with M = WᵀW + σ² I",
                label="linear-vae-v-gradient-factored",
            ),
            Step(
                lhs=_label(
                    r"\langle G, \det(M)\, (W^{\top} - M V) \rangle \big|_{V = M^{-1} W^{\top}}",
                    sp.Add(
                        *[
                            g * f
                            for g, f in zip(
                                g_v, precision.det() * w.T - precision * adjugate * w.T, strict=True
                            )
                        ]
                    ),
                ),
                rhs=sp.Integer(0),
                reason="so the V-gradient vanishes at V = M⁻¹Wᵀ = adj(M)Wᵀ/det M (posterior mean map)",
                label="linear-vae-optimal-v",
            ),
            Step(
                lhs=_label(
                    r"\langle G, \partial_s \mathcal{L} \rangle \big|_{s_j^2 = \sigma^2 / M_{jj}}",
                    sp.Add(*[g * f for g, f in zip(g_s, grads["s"], strict=True)]).xreplace(at_s),
                ),
                rhs=sp.Integer(0),
                reason="the s-gradient vanishes at s_j² = σ²/(σ² + ‖W_j‖²) = σ²/M_jj",
                label="linear-vae-optimal-s",
            ),
            Step(
                lhs=sp.Tuple(*[sp.Symbol(rf"\hat{{s}}_{{{j + 1}}}") for j in range(small)]),
                rhs=sp.Tuple(*s_star),
                reason="the s-part of the ELBO is maximised there, uniquely",
                check=Argmax(s_objective, tuple(s)),
                label="linear-vae-optimal-s-argmax",
            ),
        ),
        symbols=_all_symbols("W", "V", "s", "sigma"),
        summary=(
            "For a fixed decoder, the ELBO is concave in the encoder's mean map V and "
            "stationary at V = M⁻¹Wᵀ with M = WᵀW + σ² I — the exact posterior mean map of "
            "pPCA — and is maximised in the encoder scales at s_j² = σ²/M_jj. The exact "
            "posterior covariance is σ² M⁻¹; the two agree exactly when M (that is, WᵀW) is "
            "diagonal, which holds at the optimum (Lucas et al. 2019): there the encoder is "
            "the posterior and the ELBO equals the log-likelihood."
        ),
        references=(LUCAS, TIPPING_BISHOP),
        uses=("elbo/linear-vae",),
    )
