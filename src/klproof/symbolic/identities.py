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


@register("mle/population")
def mle_population() -> Derivation:
    r"""Expected log-likelihood = −entropy − KL: the population form of MLE = min KL."""
    p_star = density("p_star", r"p^{*}")
    p_theta = density("p_theta", r"p_{\theta}")
    ps, pt = p_star(x), p_theta(x)
    lim = (x, -oo, oo)
    return Derivation(
        name="mle/population",
        title="Maximum likelihood is KL minimisation (population form)",
        symbols=(x,),
        summary=(
            "For any data distribution p* and model p_θ, the expected log-likelihood is "
            "minus the entropy of p* (free of θ) minus KL(p* ‖ p_θ). Maximising expected "
            "log-likelihood over θ is therefore minimising the forward KL from data to "
            "model. The same steps hold with sums for discrete data."
        ),
        references=(MURPHY, COVER_THOMAS),
        steps=(
            Step(
                lhs=Expectation(sp.log(pt), ps, lim),
                rhs=sp.Integral(ps * sp.log(pt), lim),
                reason="definition of the expectation",
                check=Rule("definition"),
            ),
            Step(
                rhs=sp.Integral(ps * sp.log(ps), lim)
                - sp.Integral(ps * (sp.log(ps) - sp.log(pt)), lim),
                reason="add and subtract the integral of p* log p* (linearity)",
                check=Rule("linearity of the integral"),
            ),
            Step(
                rhs=-Entropy(ps, lim) - KL(ps, pt, lim),
                reason="definitions of entropy and KL divergence",
                check=Rule("definition"),
            ),
        ),
    )


@register("mle/empirical-discrete")
def mle_empirical_discrete() -> Derivation:
    r"""KL from the empirical distribution of discrete data = −H(p̂) − (1/n) log L(θ)."""
    k = sp.Symbol("k", integer=True, positive=True)
    big_k = sp.Symbol("K", integer=True, positive=True)
    n = sp.Symbol("n", positive=True)
    theta = sp.Symbol("theta", real=True)
    c = sp.IndexedBase("c", positive=True)
    p_model = density("p_model", r"p_{\theta}")
    lim = (k, 1, big_k)
    phat = Labelled(sp.Symbol(r"\hat{p}_{k}"), c[k] / n)
    pk = p_model(k, theta)
    log_l = Labelled(sp.Symbol(r"\log L(\theta)"), sp.Sum(c[k] * sp.log(pk), lim))
    return Derivation(
        name="mle/empirical-discrete",
        title="Maximum likelihood is KL minimisation (empirical form, discrete data)",
        symbols=(k, big_k, n, theta),
        hypotheses=(
            Hypothesis(
                sp.Eq(n, sp.Sum(c[k], lim)),
                "n observations; c_k > 0 of them equal support point k (points with "
                "zero count contribute 0 log 0 = 0 to every term)",
            ),
        ),
        summary=(
            "With counts c_k on K support points and n = Σ c_k, the empirical distribution "
            "is p̂_k = c_k / n. Its KL divergence to the model is minus its entropy, which "
            "does not depend on θ, minus the average log-likelihood. The θ-derivatives "
            "differ by the factor −1/n, so the two objectives have the same optimisers."
        ),
        references=(MURPHY,),
        steps=(
            Step(
                lhs=KL(phat, pk, lim),
                rhs=sp.Sum(phat * sp.log(phat), lim) - sp.Sum(phat * sp.log(pk), lim),
                reason="definition of KL; split the logarithm of the ratio",
                check=Rule("definition and linearity of the sum"),
            ),
            Step(
                rhs=-Entropy(phat, lim) - sp.Sum(c[k] * sp.log(pk), lim) / n,
                reason="definition of entropy; p̂_k = c_k / n and 1/n leaves the sum",
                check=Rule("definition and linearity of the sum"),
            ),
            Step(
                rhs=-Entropy(phat, lim) - log_l / n,
                reason="log L(θ) = Σ_k c_k log p_θ(k): the log-likelihood of the data",
                check=Rule("definition of the likelihood"),
                label="mle-empirical",
            ),
            Step(
                lhs=sp.Derivative(KL(phat, pk, lim), theta),
                rhs=-sp.Derivative(log_l, theta) / n,
                reason="differentiate both sides in θ: the entropy term is constant",
                check=Evaluate(),
            ),
        ),
    )


a = sp.Symbol("a", real=True)


@register("lemma/dirac-sifting")
def dirac_sifting() -> Derivation:
    r"""Sifting: :math:`\int \delta(x - a) \log p(x)\,dx = \log p(a)`."""
    p_theta = density("p_theta", r"p_{\theta}")
    lim = (x, -oo, oo)
    return Derivation(
        name="lemma/dirac-sifting",
        title="Sifting property of the Dirac delta",
        symbols=(x, a),
        summary="Integrating against a point mass at a evaluates the integrand at a.",
        references=("Any text on distributions; e.g. Bracewell, The Fourier Transform, ch. 5",),
        steps=(
            Step(
                lhs=sp.Integral(sp.DiracDelta(x - a) * sp.log(p_theta(x)), lim),
                rhs=sp.log(p_theta(a)),
                reason="SymPy integrates the delta against log p_θ",
                check=Evaluate(),
            ),
        ),
    )


@register("mle/empirical-continuous")
def mle_empirical_continuous() -> Derivation:
    r"""For continuous data: cross-entropy to p̂ is −(1/n) Σ log p_θ(x_i); KL(p̂ ‖ p_θ) = +∞."""
    n = sp.Symbol("n", integer=True, positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    xs = sp.IndexedBase("x", real=True)
    p_theta = density("p_theta", r"p_{\theta}")
    lim = (x, -oo, oo)
    delta_sum = sp.Sum(sp.DiracDelta(x - xs[i]), (i, 1, n)) / n
    phat = Labelled(sp.Symbol(r"\hat{p}(x)"), delta_sum)
    return Derivation(
        name="mle/empirical-continuous",
        title="Continuous data: the cross-entropy to the empirical distribution, and an infinite KL",
        symbols=(x, n, i),
        summary=(
            "The empirical distribution of n real observations is p̂ = (1/n) Σ δ(x − x_i): "
            "point masses, with no density. Its cross-entropy to a model with a density "
            "is the average negative log-likelihood, so minimising it is maximum likelihood. "
            "Its KL divergence to that model is +∞ for every θ: p̂ puts mass 1/n on the "
            "point x_1, which the model gives probability 0. Libraries that define "
            "KL(δ_v ‖ q) = −log q(v) are computing the cross-entropy, not the KL."
        ),
        references=(MURPHY, "Cover and Thomas (2006), §8.5 (relative entropy for densities)"),
        steps=(
            Step(
                lhs=CrossEntropy(phat, p_theta(x), lim),
                rhs=-sp.Integral(delta_sum * sp.log(p_theta(x)), lim),
                reason="definition of the cross-entropy, p̂ written out",
                check=Rule("definition"),
            ),
            Step(
                rhs=-sp.Sum(
                    sp.Integral(sp.DiracDelta(x - xs[i]) * sp.log(p_theta(x)), lim), (i, 1, n)
                )
                / n,
                reason="a finite sum leaves the integral (linearity)",
                check=Rule("linearity: exchange a finite sum and the integral"),
            ),
            Step(
                rhs=-sp.Sum(sp.log(p_theta(xs[i])), (i, 1, n)) / n,
                reason="the sifting lemma at a = x_i",
                check=Cite(dirac_sifting, subs=((a, xs[i]),)),
                label="cross-entropy-empirical",
            ),
            Step(
                lhs=KL(Labelled(sp.Symbol(r"\hat{p}"), delta_sum), p_theta(x), lim),
                rhs=oo,
                reason="p̂ gives mass 1/n ≥ 1/n to {x_1}; p_θ gives it ∫ over a point = 0",
                check=SupportMismatch(
                    p_mass=sp.Integer(1) / n,
                    q_mass=sp.Integral(p_theta(x), (x, xs[1], xs[1])),
                ),
            ),
        ),
    )


@register("mle/bernoulli-optimiser")
def mle_bernoulli_optimiser() -> Derivation:
    r"""Bernoulli: argmax log L = argmin KL(p̂ ‖ Bernoulli(θ)) = k / n."""
    theta = sp.Symbol("theta", positive=True)
    k = sp.Symbol("k", integer=True, positive=True)
    m = sp.Symbol("m", integer=True, positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    y = sp.Symbol("y", integer=True, nonnegative=True)
    xs = sp.IndexedBase("x")
    n = k + m
    log_l = k * sp.log(theta) + m * sp.log(1 - theta)
    phat = y * k / n + (1 - y) * m / n
    model = y * theta + (1 - y) * (1 - theta)
    kl_closed = k / n * sp.log(k / (n * theta)) + m / n * sp.log(m / (n * (1 - theta)))
    count = sp.Eq(sp.Sum(xs[i], (i, 1, n)), k)
    theta_hat = sp.Symbol(r"\hat{\theta}_{\mathrm{MLE}}")
    theta_kl = sp.Symbol(r"\hat{\theta}_{\mathrm{KL}}")
    return Derivation(
        name="mle/bernoulli-optimiser",
        title="Bernoulli: the likelihood maximiser and the KL minimiser are both k/n",
        symbols=(theta, k, m),
        conditions=(sp.StrictLessThan(theta, 1),),
        hypotheses=(Hypothesis(count, "x_i ∈ {0, 1}; k successes and m failures among n = k + m"),),
        summary=(
            "For n = k + m coin flips with k ones, the log-likelihood is maximised at "
            "θ = k/n (SymPy solves the score equation; the second derivative is negative "
            "there). Independently, the KL divergence from the empirical distribution "
            "(k/n, m/n) to Bernoulli(θ) is minimised at the same point."
        ),
        references=(MURPHY,),
        steps=(
            Step(
                lhs=sp.Sum(xs[i] * sp.log(theta) + (1 - xs[i]) * sp.log(1 - theta), (i, 1, n)),
                rhs=log_l,
                reason="log-likelihood of n flips; Σ x_i = k",
                check=Rule("linearity of the sum", using=(count,)),
            ),
            Step(
                lhs=sp.Tuple(theta_hat),
                rhs=sp.Tuple(k / n),
                reason="the unique zero of the score k/θ − m/(1−θ); log L is concave there",
                check=Argmax(log_l, (theta,)),
            ),
            Step(
                lhs=KL(phat, model, (y, 0, 1)),
                rhs=kl_closed,
                reason="KL from the empirical distribution (k/n, m/n), summed over y ∈ {0, 1}",
                check=Evaluate(),
            ),
            Step(
                lhs=sp.Tuple(theta_kl),
                rhs=sp.Tuple(k / n),
                reason="the unique zero of ∂KL/∂θ; KL is convex there — the same point",
                check=Argmax(-kl_closed, (theta,)),
            ),
        ),
    )


@register("mle/normal-optimiser")
def mle_normal_optimiser() -> Derivation:
    r"""Normal: the MLE is the sample mean and the 1/n sample variance."""
    n = sp.Symbol("n", integer=True, positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    xs = sp.IndexedBase("x", real=True)
    mu = sp.Symbol("mu", real=True)
    v = sp.Symbol("v", positive=True)
    xbar = sp.Symbol(r"\bar{x}", real=True)
    s2 = sp.Symbol("s^2", positive=True)
    lim = (i, 1, n)
    mean_def = sp.Eq(sp.Sum(xs[i], lim), n * xbar)
    var_def = sp.Eq(sp.Sum((xs[i] - xbar) ** 2, lim), n * s2)
    sum_sq = sp.Sum(xs[i] ** 2, lim)
    log_pdf = -((xs[i] - mu) ** 2) / (2 * v) - sp.log(2 * sp.pi * v) / 2
    ell = -n * sp.log(2 * sp.pi * v) / 2 - n * (s2 + (xbar - mu) ** 2) / (2 * v)
    hat = sp.Tuple(sp.Symbol(r"\hat{\mu}"), sp.Symbol(r"\hat{\sigma}^2"))
    return Derivation(
        name="mle/normal-optimiser",
        title="Normal: the MLE is the sample mean and the 1/n sample variance",
        symbols=(n, mu, v, xbar, s2),
        hypotheses=(
            Hypothesis(mean_def, "x̄ is the sample mean"),
            Hypothesis(var_def, "s² is the 1/n sample variance, > 0 unless all x_i are equal"),
        ),
        summary=(
            "For real data x_1..x_n and the model N(μ, v), the log-likelihood depends on "
            "the data only through x̄ and s². Its unique stationary point is μ = x̄, "
            "v = s² (the biased, 1/n variance), with a negative-definite Hessian. The "
            "cross-entropy to the empirical distribution is −(1/n) log L "
            "(mle/empirical-continuous), so it has the same minimiser."
        ),
        references=(MURPHY, "Casella and Berger, Statistical Inference, 2nd ed., Ex. 7.2.11"),
        steps=(
            Step(
                lhs=sum_sq,
                rhs=n * s2 + n * xbar**2,
                reason="expand Σ(x_i − x̄)² = n s² with Σ x_i = n x̄",
                check=Rule("linearity of the sum", using=(var_def.reversed, mean_def)),
            ),
            Step(
                lhs=sp.Sum(log_pdf, lim),
                rhs=-sum_sq / (2 * v)
                + mu * n * xbar / v
                - n * mu**2 / (2 * v)
                - n * sp.log(2 * sp.pi * v) / 2,
                reason="sum of log N(x_i; μ, v); Σ x_i = n x̄",
                check=Rule("linearity of the sum", using=(mean_def,)),
            ),
            Step(
                rhs=ell,
                reason="the lemma Σ x_i² = n(s² + x̄²)",
                check=Rule("substitute the lemma", using=(sp.Eq(sum_sq, n * s2 + n * xbar**2),)),
            ),
            Step(
                lhs=hat,
                rhs=sp.Tuple(xbar, s2),
                reason="unique zero of the gradient; Hessian negative definite",
                check=Argmax(ell, (mu, v)),
            ),
        ),
    )


# Abstract densities of a latent-variable model p(x, z) = p(x | z) p(z).
p_joint = density("p_joint", "p")
p_post = density("p_post", "p|")
p_lik = density("p_lik", "p|")
p_prior = density("p_prior", "p")
p_evidence = density("p_evidence", "p")
ZLIM = (z, -oo, oo)
ELBO_SYMBOL = sp.Symbol(r"\mathrm{ELBO}(q)")


def _elbo_label() -> Labelled:
    qz = q(z)
    return Labelled(ELBO_SYMBOL, sp.Integral(qz * (sp.log(p_joint(x, z)) - sp.log(qz)), ZLIM))


@register("elbo/decomposition")
def elbo_decomposition() -> Derivation:
    r"""Log p(x) = ELBO(q) + KL(q(z) ‖ p(z | x)) for any density q."""
    qz = q(z)
    normalised = sp.Eq(sp.Integral(qz, ZLIM), 1)
    bayes = sp.Eq(p_post(z, x), p_joint(x, z) / p_evidence(x))
    return Derivation(
        name="elbo/decomposition",
        title="The evidence is the ELBO plus the KL to the posterior",
        symbols=(x, z),
        hypotheses=(
            Hypothesis(normalised, "q is a probability density"),
            Hypothesis(bayes, "Bayes' rule, with p(x) > 0"),
        ),
        summary=(
            "For any density q(z), the log evidence splits into the evidence lower bound "
            "ELBO(q) = E_q[log p(x, z) − log q(z)] and KL(q(z) ‖ p(z | x)) ≥ 0. Maximising "
            "the ELBO over q therefore pushes q towards the posterior (reverse KL), and the "
            "ELBO equals log p(x) exactly when q is the posterior."
        ),
        references=(BISHOP, KINGMA_WELLING),
        steps=(
            Step(
                lhs=sp.log(p_evidence(x)),
                rhs=sp.log(p_evidence(x)) * sp.Integral(qz, ZLIM),
                reason="q integrates to 1",
                check=Rule("normalisation", using=(normalised,)),
            ),
            Step(
                rhs=sp.Integral(qz * sp.log(p_evidence(x)), ZLIM),
                reason="log p(x) does not depend on z",
                check=Rule("linearity of the integral"),
            ),
            Step(
                rhs=sp.Integral(qz * sp.log(p_joint(x, z) / p_post(z, x)), ZLIM),
                reason="Bayes' rule: p(x) = p(x, z) / p(z | x)",
                check=Rule("Bayes' rule", using=(bayes,)),
            ),
            Step(
                rhs=sp.Integral(qz * (sp.log(p_joint(x, z)) - sp.log(qz)), ZLIM)
                + sp.Integral(qz * (sp.log(qz) - sp.log(p_post(z, x))), ZLIM),
                reason="add and subtract log q(z) inside the integral",
                check=Rule("linearity of the integral"),
            ),
            Step(
                rhs=_elbo_label() + KL(qz, p_post(z, x), ZLIM),
                reason="definitions of the ELBO and of KL",
                check=Rule("definition"),
                label="elbo-decomposition",
            ),
        ),
    )


@register("elbo/forms")
def elbo_forms() -> Derivation:
    r"""ELBO = E_q[log p(x, z)] + H(q) = E_q[log p(x | z)] − KL(q(z) ‖ p(z))."""
    qz = q(z)
    product = sp.Eq(p_joint(x, z), p_lik(x, z) * p_prior(z))
    return Derivation(
        name="elbo/forms",
        title="Three forms of the ELBO",
        symbols=(x, z),
        hypotheses=(Hypothesis(product, "the model factorises as p(x | z) p(z)"),),
        summary=(
            "The ELBO is the expected complete-data log-likelihood plus the entropy of q; "
            "with the model's factorisation it is the expected reconstruction "
            "log-likelihood minus KL(q(z) ‖ p(z)) — the KL to the *prior* that a VAE "
            "computes in closed form. This KL is not the one in the gap; that one is "
            "KL(q(z) ‖ p(z | x)) (elbo/decomposition)."
        ),
        references=(KINGMA_WELLING, BISHOP),
        steps=(
            Step(
                lhs=_elbo_label(),
                rhs=Expectation(sp.log(p_joint(x, z)), qz, ZLIM) + Entropy(qz, ZLIM),
                reason="definitions of expectation and entropy; linearity",
                check=Rule("definition and linearity"),
            ),
            Step(
                rhs=sp.Integral(qz * sp.log(p_lik(x, z) * p_prior(z)), ZLIM)
                - sp.Integral(qz * sp.log(qz), ZLIM),
                reason="the model factorises: p(x, z) = p(x | z) p(z)",
                check=Rule("product rule", using=(product,)),
            ),
            Step(
                rhs=Expectation(sp.log(p_lik(x, z)), qz, ZLIM) - KL(qz, p_prior(z), ZLIM),
                reason="log of a product; definition of KL",
                check=Rule("definition and linearity"),
                label="elbo-vae-form",
            ),
        ),
    )


def normal_pdf(v: sp.Expr, loc: sp.Expr, scale: sp.Expr) -> sp.Expr:
    """The normal density formula (used to build labelled densities)."""
    return sp.exp(-((v - loc) ** 2) / (2 * scale**2)) / (sp.sqrt(2 * sp.pi) * scale)


def _normal(label: str, v: sp.Expr, loc: sp.Expr, scale: sp.Expr) -> Labelled:
    return Labelled(sp.Symbol(label), normal_pdf(v, loc, scale))


_M1, _M2 = sp.symbols("mu_1 mu_2", real=True)
_S1, _S2 = sp.symbols("sigma_1 sigma_2", positive=True)


def _normal_kl_subs(
    m1: sp.Expr, s1: sp.Expr, m2: sp.Expr, s2: sp.Expr
) -> tuple[tuple[sp.Expr, sp.Expr], ...]:
    return ((_M1, m1), (_S1, s1), (_M2, m2), (_S2, s2))


@register("lemma/normal-kl")
def normal_kl_lemma() -> Derivation:
    r"""KL between two univariate normals, integrated from the definition."""
    p1 = _normal(r"\mathcal{N}(z; \mu_1, \sigma_1^2)", z, _M1, _S1)
    p2 = _normal(r"\mathcal{N}(z; \mu_2, \sigma_2^2)", z, _M2, _S2)
    return Derivation(
        name="lemma/normal-kl",
        title="KL divergence between two univariate normal distributions",
        symbols=(_M1, _S1, _M2, _S2),
        summary="Integrated from the definition; used by the ELBO derivations.",
        references=("Kullback (1959), Information Theory and Statistics, ch. 9",),
        steps=(
            Step(
                lhs=KL(p1, p2, ZLIM),
                rhs=sp.log(_S2 / _S1)
                + (_S1**2 + (_M1 - _M2) ** 2) / (2 * _S2**2)
                - sp.Rational(1, 2),
                reason="integrate N(μ₁, σ₁²) against the log-density ratio",
                check=Evaluate(),
            ),
        ),
    )


@register("elbo/scalar-gaussian")
def elbo_linear_gaussian() -> Derivation:
    r"""The ELBO decomposition computed in closed form on z ~ N(0,1), x|z ~ N(wz+b, σ²)."""
    w = sp.Symbol("w", real=True)
    b = sp.Symbol("b", real=True)
    sigma = sp.Symbol("sigma", positive=True)
    m = sp.Symbol("m", real=True)
    s = sp.Symbol("s", positive=True)
    prior = _normal(r"\mathcal{N}(z; 0, 1)", z, 0, 1)
    lik = _normal(r"\mathcal{N}(x; wz + b, \sigma^2)", x, w * z + b, sigma)
    qz = _normal(r"\mathcal{N}(z; m, s^2)", z, m, s)
    tau2 = w**2 + sigma**2
    post_mean = w * (x - b) / tau2
    post_scale = sigma / sp.sqrt(tau2)
    post = _normal(r"\mathcal{N}(z; \mu_{z|x}, s_{z|x}^2)", z, post_mean, post_scale)
    evidence = sp.Integral(lik * prior, ZLIM)
    log_evidence = -sp.log(2 * sp.pi * tau2) / 2 - (x - b) ** 2 / (2 * tau2)
    elbo_closed = (
        -sp.log(2 * sp.pi * sigma**2) / 2
        - ((x - b - w * m) ** 2 + w**2 * s**2) / (2 * sigma**2)
        - (m**2 + s**2) / 2
        + sp.log(s)
        + sp.Rational(1, 2)
    )
    kl_closed = (
        sp.log(post_scale / s)
        + (s**2 + (m - post_mean) ** 2) / (2 * post_scale**2)
        - sp.Rational(1, 2)
    )
    q_at_optimum = _normal(r"\mathcal{N}(z; \hat{m}, \hat{s}^2)", z, post_mean, post_scale)
    elbo_def = sp.Integral(qz * (sp.log(lik) + sp.log(prior) - sp.log(qz)), ZLIM)
    elbo_label = Labelled(sp.Symbol(r"\mathrm{ELBO}(m, s)"), elbo_def)
    kl_op = KL(qz, post, ZLIM)
    m_hat = sp.Symbol(r"\hat{m}")
    s_hat = sp.Symbol(r"\hat{s}")
    return Derivation(
        name="elbo/scalar-gaussian",
        title="ELBO, evidence and posterior of a linear-Gaussian model, in closed form",
        symbols=(w, b, sigma, x, m, s, z),
        summary=(
            "z ~ N(0, 1), x | z ~ N(w z + b, σ²), q(z) = N(m, s²). SymPy integrates each "
            "piece: the evidence, the exact posterior, the ELBO and KL(q ‖ posterior). "
            "The decomposition log p(x) = ELBO + KL holds identically in (m, s); the gap is "
            "a KL between normalised densities, hence ≥ 0; the ELBO's unique maximiser is "
            "the exact posterior, where the gap is 0."
        ),
        references=(BISHOP, "Bishop (2006), §2.3.3 (Bayes' theorem for Gaussian variables)"),
        steps=(
            Step(
                lhs=sp.log(evidence),
                rhs=log_evidence,
                reason="marginalise z: p(x) = N(x; b, w² + σ²)",
                check=Evaluate(),
                label="lg-evidence",
            ),
            Step(
                lhs=sp.log(lik) + sp.log(prior) - log_evidence,
                rhs=sp.log(post),
                reason="Bayes' rule: the posterior is N(μ, s²) with μ = w(x − b)/(w² + σ²), "
                "s² = σ²/(w² + σ²)",
                check=Algebra(),
                label="lg-posterior",
            ),
            Step(
                lhs=elbo_label,
                rhs=elbo_closed,
                reason="E_q of log p(x | z) + log p(z) − log q(z): Gaussian moments",
                check=Evaluate(),
                label="lg-elbo",
            ),
            Step(
                lhs=kl_op,
                rhs=kl_closed,
                reason="KL between two normals (lemma/normal-kl) at the posterior's parameters",
                check=Cite(normal_kl_lemma, subs=_normal_kl_subs(m, s, post_mean, post_scale)),
                label="lg-kl",
            ),
            Step(
                lhs=sp.log(evidence) - elbo_closed,
                rhs=kl_closed,
                reason="the gap log p(x) − ELBO is exactly KL(q ‖ posterior)",
                check=Rule("closed forms above", using=(sp.Eq(sp.log(evidence), log_evidence),)),
            ),
            Step(
                lhs=kl_op,
                rhs=sp.Integer(0),
                relation=">=",
                reason="Gibbs' inequality: the gap is a KL between normalised densities",
                check=Gibbs(),
            ),
            Step(
                lhs=sp.Tuple(m_hat, s_hat),
                rhs=sp.Tuple(post_mean, post_scale),
                reason="the ELBO's unique maximiser over (m, s) is the exact posterior",
                check=Argmax(elbo_closed, (m, s)),
            ),
            Step(
                lhs=KL(q_at_optimum, post, ZLIM),
                rhs=sp.Integer(0),
                reason="at the maximiser q is the posterior and the gap closes: ELBO = log p(x)",
                check=Cite(
                    normal_kl_lemma,
                    subs=_normal_kl_subs(post_mean, post_scale, post_mean, post_scale),
                ),
            ),
        ),
    )


def _vae_kl_1d() -> Derivation:
    """The first chain of vae/gaussian-kl, as a citable derivation."""
    full = vae_gaussian_kl()
    return Derivation(
        name="vae/gaussian-kl", title=full.title, symbols=full.symbols, steps=full.steps[:1]
    )


@register("vae/gaussian-kl")
def vae_gaussian_kl() -> Derivation:
    r"""−KL(N(μ, σ²) ‖ N(0, 1)) = ½(1 + log σ² − μ² − σ²) and its diagonal D-dim sum."""
    mu = sp.Symbol("mu", real=True)
    sigma = sp.Symbol("sigma", positive=True)
    j = sp.Symbol("j", integer=True, positive=True)
    big_d = sp.Symbol("D", integer=True, positive=True)
    mus = sp.IndexedBase(r"\mu", real=True)
    sigmas = sp.IndexedBase(r"\sigma", positive=True)
    qz = _normal(r"\mathcal{N}(z; \mu, \sigma^2)", z, mu, sigma)
    prior = _normal(r"\mathcal{N}(z; 0, 1)", z, 0, 1)
    closed = (1 + sp.log(sigma**2) - mu**2 - sigma**2) / 2
    kl_j = KL(_normal(r"\mathcal{N}(z; \mu_j, \sigma_j^2)", z, mus[j], sigmas[j]), prior, ZLIM)
    closed_j = closed.subs({mu: mus[j], sigma: sigmas[j]})
    z1, z2 = sp.symbols("z_1 z_2", real=True)
    mu1, mu2 = sp.symbols(r"\mu_1 \mu_2", real=True)
    sigma1, sigma2 = sp.symbols(r"\sigma_1 \sigma_2", positive=True)
    q2 = normal_pdf(z1, mu1, sigma1) * normal_pdf(z2, mu2, sigma2)
    p2 = normal_pdf(z1, 0, 1) * normal_pdf(z2, 0, 1)
    kl2 = sp.Integral(
        sp.Integral(q2 * sp.expand(sp.expand_log(sp.log(q2) - sp.log(p2))), (z1, -oo, oo)),
        (z2, -oo, oo),
    )
    return Derivation(
        name="vae/gaussian-kl",
        title="The Gaussian VAE's KL term",
        symbols=(mu, sigma, j, big_d),
        summary=(
            "The closed-form KL between a diagonal Gaussian encoder and the standard "
            "normal prior (Kingma and Welling 2014, App. B), derived from the integral for "
            "one coordinate, checked by a double integral for two, and summed over D "
            "independent coordinates."
        ),
        references=(KINGMA_WELLING,),
        steps=(
            Step(
                lhs=-KL(qz, prior, ZLIM),
                rhs=closed,
                reason="integrate the log-density ratio against N(μ, σ²)",
                check=Evaluate(),
                label="vae-kl-1d",
            ),
            Step(
                lhs=Labelled(
                    sp.Symbol(
                        r"\mathrm{KL}\left(\mathcal{N}(\mu, \operatorname{diag}\sigma^2)"
                        r" \,\middle\|\, \mathcal{N}(0, I_2)\right)"
                    ),
                    kl2,
                ),
                rhs=-closed.subs({mu: mu1, sigma: sigma1}) - closed.subs({mu: mu2, sigma: sigma2}),
                reason="D = 2 directly: the double integral is the sum of the two terms",
                check=Evaluate(),
            ),
            Step(
                lhs=kl_j,
                rhs=-closed_j,
                reason="coordinate j by the one-dimensional result",
                check=Cite(_vae_kl_1d, subs=((mu, mus[j]), (sigma, sigmas[j]))),
            ),
            Step(
                lhs=-sp.Sum(kl_j, (j, 1, big_d)),
                rhs=sp.Sum(closed_j, (j, 1, big_d)),
                reason="the D independent coordinates add",
                check=Rule("sum over coordinates", using=(sp.Eq(kl_j, -closed_j),)),
                label="vae-kl-diag",
            ),
        ),
    )
