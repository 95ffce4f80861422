"""The Sphinx extension: a failing derivation fails the build at its file and line.

Builds tiny throwaway projects with ``sphinx-build`` (in a subprocess, so the build
runs as users run it). Needs Sphinx; see ``conftest.py`` for skip vs failure.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from klproof.derivation.ops import latex
from klproof.sphinxext._render import derivation_rows, split_sum, visual_width

Builder = Callable[[str], "subprocess.CompletedProcess[str]"]

CONF = """
import sys
sys.path.insert(0, {here!r})
extensions = ["klproof.sphinxext"]
klproof_derivation_pages = None
klproof_offline_math = False
"""

MODULE = """
import sympy as sp
from klproof.derivation import Derivation, Step

x = sp.Symbol("x", positive=True)


def good():
    return Derivation(
        name="demo/good",
        title="A true identity",
        symbols=(x,),
        steps=(Step(lhs=(x + 1) ** 2, rhs=x**2 + 2 * x + 1, reason="expand", label="square"),),
    )


def bad():
    return Derivation(
        name="demo/bad",
        title="A false identity",
        symbols=(x,),
        steps=(Step(lhs=(x + 1) ** 2, rhs=x**2 + 1, reason="forget the cross term"),),
    )
"""


@pytest.fixture
def build(
    tmp_path: Path, sphinx_build: list[str]
) -> Callable[[str], subprocess.CompletedProcess[str]]:
    """Build a one-page project with the extension; return the finished process."""

    def run(page: str) -> subprocess.CompletedProcess[str]:
        return _build(tmp_path, sphinx_build, page)

    return run


def _build(tmp_path: Path, sphinx_build: list[str], page: str) -> subprocess.CompletedProcess[str]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "demo_derivations.py").write_text(MODULE, encoding="utf-8")
    (src / "conf.py").write_text(CONF.format(here=str(src)), encoding="utf-8")
    (src / "index.rst").write_text(textwrap.dedent(page), encoding="utf-8")
    return subprocess.run(
        [*sphinx_build, "-W", "-n", "-q", "-b", "html", str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_a_verified_derivation_builds_with_labels(build: Builder, tmp_path: Path) -> None:
    result = build(
        """
        Demo
        ====

        .. derivation:: demo_derivations:good

        See :eq:`demo/good/square`.
        """,
    )
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "klproof-status-ok" in html
    assert 'id="equation-demo-good-square"' in html


def test_a_failing_derivation_fails_the_build_at_its_line(build: Builder, tmp_path: Path) -> None:
    result = build(
        """
        Demo
        ====

        Some text.

        .. derivation:: demo_derivations:bad
        """,
    )
    assert result.returncode != 0
    assert "index.rst:7" in result.stderr, result.stderr
    assert "demo/bad does not verify" in result.stderr
    assert "step 1 failed" in result.stderr


def test_an_unknown_derivation_is_an_error_with_location(build: Builder, tmp_path: Path) -> None:
    result = build(
        """
        Demo
        ====

        .. derivation:: no/such-derivation
        """,
    )
    assert result.returncode != 0
    assert "index.rst:5" in result.stderr, result.stderr
    assert "no derivation named 'no/such-derivation'" in result.stderr


def test_long_sums_are_broken_into_short_rows() -> None:
    import sympy as sp

    xs = sp.symbols("x_1:13")
    pieces = split_sum(sum(sp.log(x) for x in xs), width=30)
    assert len(pieces) > 1
    assert all(visual_width(p) <= 30 for p in pieces)
    assert all(p.startswith(("+", "-")) for p in pieces[1:])


def test_every_registered_derivation_has_rows() -> None:
    from klproof.symbolic import registry

    for name in registry.names()[:5]:
        rows = derivation_rows(registry.get(name))
        assert rows
        assert all(row.latex for row in rows)


def test_pre_verification_groups_keep_shared_work_together() -> None:
    from klproof.sphinxext._verify import groups
    from klproof.symbolic import registry

    names = registry.names()
    by_name = {name: i for i, group in enumerate(groups(names)) for name in group}
    assert sorted(by_name) == names  # every derivation exactly once
    # a pair, its routes and the family's entropy (shared memoised lemmas)
    family = [n for n in names if n.startswith("kl/normal/normal")] + ["entropy/normal"]
    assert len({by_name[n] for n in family}) == 1
    # a derivation and every derivation it cites, across families
    for name in names:
        derivation = registry.get(name)
        for other in derivation.uses:
            if other in by_name:
                assert by_name[other] == by_name[name], (name, other)


def test_pre_verified_reports_are_adopted_only_by_the_same_object() -> None:
    import dataclasses

    from klproof.sphinxext import _verify
    from klproof.symbolic import registry

    names = [n for n in registry.names() if n.startswith("kl/halfnormal/halfnormal")]
    _verify._forget()
    try:
        adopted, _ = _verify.verify_all(2, names)
        assert adopted == len(names)
        for name in names:
            derivation = registry.get(name)
            report = _verify.adopted_report(derivation)
            assert report is not None
            assert report.status == "ok"
            assert len(report.steps) == len(derivation.steps)
            assert [s.claim for s in report.steps] == derivation.claims()
            # an equal-looking copy (not the object rendered) is verified afresh
            assert _verify.adopted_report(dataclasses.replace(derivation, _cache={})) is None
    finally:
        _verify._forget()


def test_a_wide_term_of_a_sum_is_broken_too() -> None:
    import sympy as sp

    xs = sp.symbols("x_1:13")
    t = sp.Symbol("t")
    # the last term is a product of a long sum and an integral: too wide for one row
    wide = sum(sp.log(x) for x in xs) * sp.Integral(sp.exp(-t), (t, 0, 1))
    pieces = split_sum(xs[0] + wide, width=30)
    assert len(pieces) > 2
    # (the opening line may exceed by a glyph or two: the prefix counts half)
    assert max(visual_width(p) for p in pieces) <= 33 < visual_width(latex(wide)) // 2


def test_an_integral_is_not_set_inside_a_fraction() -> None:
    import sympy as sp

    a, b, t = sp.symbols("a b t", positive=True)
    expr = sp.gamma(a) * sp.Integral(t ** (a - 1) * (1 - t) ** (b - 1) * sp.log(t), (t, 0, 1))
    pieces = split_sum(expr / sp.gamma(b), width=20)
    assert pieces[0].startswith(r"\frac{\Gamma\left(a\right)}{\Gamma\left(b\right)}")
    assert not any(r"\frac{" in p and r"\int" in p.split(r"\frac{", 1)[1][:30] for p in pieces)


def test_every_citing_step_names_the_derivation_it_cites() -> None:
    from klproof.derivation import Cite
    from klproof.sphinxext._verify import cited_name
    from klproof.symbolic import registry

    # The matrix pairs cite their routes with their own check class: linked too.
    pair = registry.get("kl/multivariatenormal/multivariatenormal")
    assert all(cited_name(step.check) in registry.names() for step in pair.steps)
    normal = registry.get("kl/normal/normal")
    assert [cited_name(s.check) for s in normal.steps] == [
        s.check.resolve().name for s in normal.steps if isinstance(s.check, Cite)
    ]
