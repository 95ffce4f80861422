"""The command line: verify, list, show; errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from klproof.cli import main


def test_verify_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["verify", "identity/cross-entropy", "mle/population", "-j", "1"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "identity/cross-entropy" in out
    assert "0 failed, 0 unchecked" in out
    assert "[2/2] mle/population: ok" in err  # progress goes to stderr


def test_verify_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--format", "json", "elbo/forms", "-j", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    (entry,) = data["derivations"]
    assert entry["name"] == "elbo/forms"
    assert entry["status"] == "ok"
    assert [s["status"] for s in entry["steps"]] == ["ok"] * len(entry["steps"])
    assert all(isinstance(s["seconds"], float) for s in entry["steps"])


def test_verify_fails_with_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sympy as sp

    from klproof.symbolic import registry

    good = registry.get("identity/cross-entropy")
    bad = good.with_step(1, -good.steps[1].rhs)
    monkeypatch.setattr(registry, "get", lambda name: bad)
    assert main(["verify", "identity/cross-entropy", "-j", "1"]) == 1
    out = capsys.readouterr().out
    assert "failed" in out
    assert "residual" in out
    assert sp  # imported for the monkeypatched registry's expressions


def test_show_text_and_latex(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "elbo/decomposition"]) == 0
    text = capsys.readouterr().out
    assert "Bayes' rule" in text
    assert main(["show", "elbo/decomposition", "--format", "latex"]) == 0
    assert "\\begin{aligned}" in capsys.readouterr().out


def test_show_unknown_name_is_one_line_with_suggestions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "elbo/decompositon"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "elbo/decomposition" in err
    assert "Traceback" not in err


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "mle/empirical-discrete" in out


def test_python_dash_m_works() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "klproof", "show", "no-such-name"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("klproof: error: no derivation named 'no-such-name'")


def test_import_is_cheap_and_verifies_nothing() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); import klproof; "
        "dt = time.perf_counter() - t; "
        "assert 'klproof.symbolic.identities' not in sys.modules; "
        "print(dt)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(proc.stdout) < 1.0


def test_list_kl_lists_the_pair_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    from klproof.symbolic.kl import pairs

    assert main(["list", "--kl"]) == 0
    out = capsys.readouterr().out
    for pair in pairs():
        assert pair.id in out
    assert "kl/normal/normal/integral" not in out  # routes are named per pair, not listed


def test_show_a_kl_pair(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "kl/normal/normal"]) == 0
    assert "kl/normal/normal" in capsys.readouterr().out


def test_models_are_exported_lazily() -> None:
    code = (
        "import sys, klproof; assert 'klproof.models' not in sys.modules; "
        "m = klproof.LinearGaussian; assert 'klproof.models' in sys.modules; "
        "assert 'sympy' not in sys.modules; print(m.__name__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "LinearGaussian"
