"""Every registered derivation verifies, with no failed and no unchecked step."""

from __future__ import annotations

import pytest
import sympy as sp

from klproof.derivation import Algebra, Derivation, Evaluate, Step, Unchecked
from klproof.symbolic import registry

IDENTITIES = [
    "identity/cross-entropy",
    "mle/population",
    "mle/empirical-discrete",
    "mle/empirical-continuous",
    "mle/bernoulli-optimiser",
    "mle/normal-optimiser",
    "elbo/decomposition",
    "elbo/forms",
    "elbo/scalar-gaussian",
    "vae/gaussian-kl",
]


def test_the_identities_are_registered() -> None:
    assert set(IDENTITIES) <= set(registry.names())


@pytest.mark.parametrize("name", registry.names())
def test_registered_derivation_verifies(name: str) -> None:
    report = registry.get(name).verify()
    assert report.status == "ok", str(report)
    assert report.count("unchecked") == 0
    assert report.count("failed") == 0
    assert len(report.steps) == len(registry.get(name).steps)


def test_unchecked_step_is_reported_not_passed() -> None:
    x = sp.Symbol("x", positive=True)
    d = Derivation(
        name="t/unchecked",
        title="t",
        steps=(
            Step(lhs=x, rhs=x, reason="trivial"),
            Step(rhs=x + 0, reason="nobody checked", check=Unchecked("no method")),
        ),
    )
    report = d.verify()
    assert report.status == "unchecked"
    assert [s.status for s in report.steps] == ["ok", "unchecked"]


def test_unevaluated_integral_is_unchecked_not_ok() -> None:
    x = sp.Symbol("x", positive=True)
    f = sp.Function("f")
    d = Derivation(
        name="t/integral",
        title="t",
        steps=(
            Step(
                lhs=sp.Integral(f(x) * sp.exp(-x), (x, 0, sp.oo)),
                rhs=sp.Integer(1),
                reason="claimed",
                check=Evaluate(),
            ),
        ),
    )
    assert d.verify().status == "unchecked"


def test_failed_step_reports_reason_and_residual() -> None:
    x = sp.Symbol("x", real=True)
    d = Derivation(
        name="t/wrong",
        title="t",
        steps=(Step(lhs=(x + 1) ** 2, rhs=x**2 + 1, reason="forgot the cross term"),),
    )
    report = d.verify()
    assert report.status == "failed"
    text = str(report)
    assert "forgot the cross term" in text
    assert "residual: 2*x" in text
    assert sp.simplify(report.steps[0].residual - 2 * x) == 0


def _busy(seconds: float) -> None:
    import time

    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_timeout_is_unchecked() -> None:
    x = sp.Symbol("x", real=True)

    class Slow(Algebra):
        def run(self, claim, ctx):  # type: ignore[no-untyped-def]
            _busy(2.0)
            return super().run(claim, ctx)

    d = Derivation(name="t/slow", title="t", steps=(Step(lhs=x, rhs=x, reason="r", check=Slow()),))
    report = d.verify(timeout=0.2)
    assert report.steps[0].status == "unchecked"
    assert "did not finish" in report.steps[0].detail
    assert report.steps[0].seconds < 1.5


def test_the_time_limit_counts_cpu_time_not_waiting() -> None:
    """A busy machine must not turn a verdict into 'unchecked': waiting does not count."""
    x = sp.Symbol("x", real=True)

    class Waits(Algebra):
        def run(self, claim, ctx):  # type: ignore[no-untyped-def]
            import time

            time.sleep(0.6)
            return super().run(claim, ctx)

    d = Derivation(name="t/wait", title="t", steps=(Step(lhs=x, rhs=x, reason="r", check=Waits()),))
    assert d.verify(timeout=0.3).steps[0].status == "ok"


def test_a_cited_derivation_keeps_the_citing_steps_budget() -> None:
    """The cited derivation's own (larger) limit does not reset the citing step's limit."""
    x = sp.Symbol("x", real=True)

    class Slow(Algebra):
        def run(self, claim, ctx):  # type: ignore[no-untyped-def]
            _busy(3.0)
            return super().run(claim, ctx)

    inner = Derivation(
        name="t/inner", title="t", steps=(Step(lhs=x, rhs=x, reason="r", check=Slow()),)
    )

    class CitesSlowly(Algebra):
        def run(self, claim, ctx):  # type: ignore[no-untyped-def]
            inner.verify(timeout=60)  # would take 3 s of CPU
            _busy(3.0)
            return super().run(claim, ctx)

    outer = Derivation(
        name="t/outer", title="t", steps=(Step(lhs=x, rhs=x, reason="r", check=CitesSlowly()),)
    )
    report = outer.verify(timeout=0.5)
    assert report.steps[0].status == "unchecked"
    assert report.steps[0].seconds < 2.0


def test_results_are_reusable() -> None:
    d = registry.get("vae/gaussian-kl")
    neg_kl = d.chain_results()[0].rhs
    mu, sigma = sorted(neg_kl.free_symbols, key=str)
    # differentiate: d/dσ of −KL vanishes at σ = 1, d/dμ at μ = 0
    assert sp.diff(neg_kl, sigma).subs(sigma, 1) == -mu * 0
    assert sp.diff(neg_kl, mu).subs(mu, 0) == 0
    # substitute and lambdify
    assert neg_kl.subs({mu: 0, sigma: 1}) == 0
    f = sp.lambdify((mu, sigma), neg_kl)
    assert f(0.0, 1.0) == 0.0


def test_derivation_cites_another() -> None:
    d = registry.get("elbo/scalar-gaussian")
    text = d.to_text()
    assert "lemma/normal-kl" in text


def test_rendering_has_one_row_per_step() -> None:
    for name in IDENTITIES:
        d = registry.get(name)
        assert len(d.rows()) == len(d.steps)
        latex = d.to_latex()
        assert latex.startswith("\\begin{aligned}")
        assert latex.count("&") >= len(d.steps)
        assert d.title in d.to_text()
