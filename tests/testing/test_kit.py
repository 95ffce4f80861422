"""The public kit itself: strategies draw valid inputs, options fail eagerly, checks report."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis.errors import InvalidArgument

import klproof
from klproof.testing import CheckReport, check_elbo, check_entropy, check_kl
from klproof.testing import _families as F
from klproof.testing import strategies as kst

CLASSES = {
    name: getattr(klproof, cls)
    for cls in klproof.__all__
    if isinstance(getattr(klproof, cls), type) and (name := cls.lower()) in F.FAMILIES
}


def test_every_generator_family_is_a_numeric_family() -> None:
    assert set(F.FAMILIES) == set(CLASSES)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("family", sorted(F.FAMILIES))
def test_parameters_are_valid(family: str, dtype: type) -> None:
    """Every drawn parameter set passes the constructor's validation, in its dtype."""

    @given(kst.parameters(family, batch_size=8, dtype=dtype))
    def test(p: dict[str, np.ndarray]) -> None:
        d = CLASSES[family](**p)
        assert d.batch_shape == (8,)
        assert d.dtype == np.dtype(dtype)

    test()


@pytest.mark.parametrize("pair", [f"{a}/{b}" for a, b in F.PAIRS])
def test_pairs_are_valid(pair: str) -> None:
    a, b = pair.split("/")

    @given(kst.kl_pairs(pair, batch_size=8))
    def test(pq: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]) -> None:
        p, q = pq
        assert CLASSES[a](**p).batch_shape == CLASSES[b](**q).batch_shape == (8,)

    test()


@given(kst.kl_pairs("gamma/gamma", batch_size=64, relation="near"))
def test_near_pairs_differ_by_the_stated_relative_amount(
    pq: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
) -> None:
    p, q = pq
    for name in p:
        rel = np.abs(q[name] / p[name] - 1)
        # 1e-12 … 1e-2, up to rounding of the product (2 ulp) and clipping at the range
        assert (rel <= 1e-2 * (1 + 1e-12)).all()
        assert ((rel >= 0.5e-12 * (1 - 1e-3)) | (p[name] == q[name])).all()


@given(kst.positive_floats(min_value=1e-3, max_value=1e3))
def test_scalar_strategies_give_0d_arrays(x: np.ndarray) -> None:
    assert x.shape == ()
    assert 1e-3 <= x <= 1e3


@pytest.mark.parametrize(
    "make",
    [
        lambda: kst.parameters("nonsense"),
        lambda: kst.parameters("normal", batch_size=0),
        lambda: kst.parameters("normal", region="middle"),
        lambda: kst.parameters("normal", dtype=np.int64),
        lambda: kst.kl_pairs("normal/gamma"),
        lambda: kst.kl_pairs("normal"),
        lambda: kst.kl_pairs("normal/normal", relation="close"),
        lambda: kst.kl_pairs("normal/normal", min_rel_diff=0.1, max_rel_diff=0.01),
        lambda: kst.positive_floats(min_value=2.0, max_value=1.0),
        lambda: kst.positive_floats(min_value=0.0),
        lambda: kst.probabilities(max_value=1.0),
        lambda: kst.logits(min_value=math.nan),
        lambda: kst.categorical_datasets(min_categories=1),
        lambda: kst.categorical_datasets(min_size=5, max_size=2),
        lambda: kst.linear_gaussian_models(max_data_dim=0),
    ],
)
def test_strategy_arguments_fail_eagerly(make: object) -> None:
    with pytest.raises(InvalidArgument):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pair": "normal/cauchyish"},
        {"pair": "normal/normal", "n": 0},
        {"pair": "normal/normal", "regions": ("middle",)},
        {"pair": "normal/normal", "relations": ("close",)},
        {"pair": "normal/normal", "dtype": np.float16},
    ],
)
def test_check_kl_arguments_fail_eagerly(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        check_kl(klproof.kl_divergence, **kwargs)  # type: ignore[arg-type]


def _normal_kl(m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray) -> np.ndarray:
    return np.asarray(klproof.kl_divergence(klproof.Normal(m1, s1), klproof.Normal(m2, s2)))


def test_param_map_forms_agree() -> None:
    seq = check_kl(
        _normal_kl, "normal/normal", param_map=["p.loc", "p.scale", "q.loc", "q.scale"], n=5
    )
    kw = check_kl(
        _normal_kl,
        "normal/normal",
        param_map={"m1": "p.loc", "s1": "p.scale", "m2": "q.loc", "s2": "q.scale"},
        n=5,
    )
    one = check_kl(klproof.kl_divergence, "normal/normal", n=5, vectorized=False)
    assert seq.passed
    assert kw.passed
    assert one.passed
    assert seq.n_inputs == kw.n_inputs == one.n_inputs == 2 * 5 * 5  # regions x relations x n


def test_check_kl_float32() -> None:
    report = check_kl(klproof.kl_divergence, "gamma/gamma", dtype=np.float32, n=5)
    assert report.passed, report
    assert report.rtol == 1e-6


def test_report_counts_every_kind_of_failure() -> None:
    params = ["p.rate", "q.rate"]

    def bad(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
        out = np.log(r1 / r2) + r2 / r1 - 1  # the textbook form: cancels near r1 = r2
        out[::7] = np.nan
        out[1::7] = -1.0
        out[2::7] = np.inf
        return out

    report = check_kl(bad, "exponential/exponential", param_map=params, n=14)
    assert isinstance(report, CheckReport)
    assert report.n_nan > 0
    assert report.n_negative > 0
    assert report.n_wrong_inf > 0
    assert not report.passed
    assert "FAILED" in str(report)

    def boom(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
        raise RuntimeError("no")

    crashed = check_kl(boom, "exponential/exponential", param_map=params, n=3)
    assert crashed.n_raised == 2 * 5 * 3
    assert crashed.raised[0] == "RuntimeError: no"


def test_support_mismatch_must_be_infinite() -> None:
    """A function returning a finite value where p has mass outside q's support fails."""

    def finite_everywhere(lo: np.ndarray, hi: np.ndarray, r: np.ndarray) -> np.ndarray:
        return -np.log(hi - lo) - np.log(r) + r * (lo + hi) / 2

    report = check_kl(
        finite_everywhere, "uniform/exponential", param_map=["p.low", "p.high", "q.rate"], n=20
    )
    assert report.n_wrong_inf > 0


def test_check_entropy_and_elbo_catch_wrong_formulas() -> None:
    assert check_entropy(klproof.entropy, "normal", n=2).passed
    halved = check_entropy(
        lambda s: 0.5 * np.log(2 * np.pi * np.e * s), "halfnormal", param_map=["scale"], n=2
    )
    assert not halved.passed
    ok = check_elbo(lambda model, q, x: model.elbo(q, x), n=3)
    assert ok.passed
    off = check_elbo(lambda model, q, x: model.elbo(q, x) + 1e-9, n=3)
    assert not off.passed


def test_check_entropy_references_agree() -> None:
    """The derived entropy and the quadrature of -p log p are independent oracles."""
    for family in ("normal", "gamma", "beta", "gumbel", "geometric", "weibull"):
        for reference in ("derivation", "quadrature"):
            report = check_entropy(klproof.entropy, family, n=4, reference=reference, seed=3)
            assert report.passed, (family, reference, str(report))


ENTROPY_FAMILIES = (
    "bernoulli",
    "beta",
    "cauchy",
    "exponential",
    "gamma",
    "geometric",
    "gumbel",
    "halfnormal",
    "laplace",
    "lognormal",
    "normal",
    "pareto",
    "uniform",
    "weibull",
)


@pytest.mark.parametrize("family", ENTROPY_FAMILIES)
def test_entropy_in_the_extreme_region(family: str) -> None:
    """klproof.entropy against the derived entropy, scales 1e±300, concentrations 1e±150.

    Found by this check when it gained the region: Gamma returned 9.6e52 for an entropy
    of -389 (a = 5e66), Beta 1.3e92 for -123 and NaN past 1e154, Pareto +inf for 2.6e115
    (log(scale / alpha) overflowed), Weibull +inf for -5e137 (log(scale / k)); each is
    pinned below.
    """
    report = check_entropy(klproof.entropy, family, n=300, region="extreme")
    assert report.passed, str(report)


@pytest.mark.parametrize(
    ("family", "params"),
    [
        ("gamma", {"concentration": 5.169543324009278e66, "rate": 9.477507866364474e202}),
        (
            "beta",
            {"concentration1": 3.6075476959966757e105, "concentration0": 1.2307921355547318e103},
        ),
        ("beta", {"concentration1": 1e200, "concentration0": 3e160}),
        ("pareto", {"scale": 2.8435172985500986e277, "alpha": 3.8342985343123214e-116}),
        ("pareto", {"scale": 5.3819121974448196e-253, "alpha": 2.309743985410855e65}),
        ("weibull", {"scale": 1.3e181, "concentration": 1.2e-138}),
    ],
)
def test_entropy_pinned_extremes(family: str, params: dict[str, float]) -> None:
    """Each against the derived closed form in mpmath at these exact binary values."""
    from klproof.testing._entropy_elbo import _derived_entropy

    ref = _derived_entropy(family)
    assert ref is not None
    want = float(ref({k: np.float64(v) for k, v in params.items()}))
    dist = getattr(klproof, family.capitalize())(**params)
    got = float(klproof.entropy(dist))
    assert abs(got - want) <= 1e-12 * max(abs(want), 1.0), (got, want)


def test_check_entropy_cauchy_has_a_derived_reference() -> None:
    """entropy/cauchy = log(4 pi gamma) is the reference; a log(2 pi gamma) slip fails.

    The quadrature reference does not serve here: it centres its cut-off search on the
    mean, which a Cauchy lacks (NaN; it raises ValueError), and the tails of -p log p
    are O(log|x| / x^2). So ``"auto"`` needs the derivation for Cauchy.
    """
    report = check_entropy(klproof.entropy, "cauchy", n=50, reference="derivation")
    assert report.passed, str(report)
    halved = check_entropy(
        lambda s: np.log(2 * np.pi * s), "cauchy", param_map=["scale"], n=3, seed=1
    )
    assert not halved.passed


def test_check_entropy_resolves_logits_far_from_zero() -> None:
    """At logits -181.5, 1 - probs rounds to 1 at 70 digits: the precision must follow."""
    from klproof.testing._entropy_elbo import _derived_entropy

    ref = _derived_entropy("geometric")
    assert ref is not None
    value = float(ref({"logits": np.float64(-181.5338056541983)}))
    # H = -log p + (-(1 - p) log(1 - p)) / p, and the second term tends to 1
    assert value == pytest.approx(182.5338056541983, rel=1e-15)


def test_check_entropy_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="region must be one of"):
        check_entropy(klproof.entropy, "normal", region="huge")
    with pytest.raises(ValueError, match="reference must be"):
        check_entropy(klproof.entropy, "normal", reference="table")
    with pytest.raises(ValueError, match="region='generic' only"):
        check_entropy(klproof.entropy, "normal", reference="quadrature", region="extreme")


def _run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True)


def test_strategies_import_without_sympy() -> None:
    _run(
        "import sys, klproof.testing.strategies, klproof.testing\n"
        "assert 'sympy' not in sys.modules, 'klproof.testing imported SymPy'"
    )


def test_import_klproof_does_not_import_the_testing_kit() -> None:
    _run("import sys, klproof\nassert 'klproof.testing' not in sys.modules")
