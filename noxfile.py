"""Task runner: ``nox -s tests lint typecheck docs bench``.

Every session installs what it needs into its own virtual environment, so a fresh
machine with only Python and pip can run any of them.
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.default_venv_backend = "venv"

SPHINX_BUILD = ["-j", "auto", "-W", "--keep-going", "-n", "-b", "html"]
SITE = "docs/_build/html"


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (doctests included) on both cores (pytest-xdist).

    With ``CI=true`` in the environment (as CI sets it) the run is stronger: the
    Hypothesis ``ci`` profile (many more examples per property), and the documentation
    built first and then required — its browser test opens every page in Chromium, and a missing site,
    browser or Playwright is a failure, not a skip. Locally those docs checks run when
    ``docs/_build/html`` (``nox -s docs``) and ``/usr/bin/chromium`` exist.
    ``nox -s tests -- --all-corruptions`` corrupts every step of every derivation in
    every way (about 1,400 checks; too slow for CI's time budget on two cores).
    """
    ci = bool(os.environ.get("CI"))
    session.install(".[test]")
    extra: list[str] = []
    if ci:
        session.install("-r", "docs/requirements.txt", "playwright>=1.45")
        session.run("sphinx-build", *SPHINX_BUILD, "docs", SITE)
        session.env["KLPROOF_REQUIRE_DOCS"] = "1"
        extra = ["--hypothesis-profile=ci"]
    session.run("pytest", "-n", "auto", "--dist", "loadgroup", *extra, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Mypy in strict mode on ``src/``."""
    session.install(
        "mypy>=1.10", "types-docutils", "pytest", "-r", "docs/requirements.txt", "-e", "."
    )
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx site with warnings as errors, verifying every derivation shown.

    Open ``docs/_build/html/index.html``; it works offline (MathJax is copied in).
    Extra arguments go to ``sphinx-build`` (e.g. ``nox -s docs -- -E`` to rebuild all).
    """
    session.install(".", "-r", "docs/requirements.txt")
    session.run("sphinx-build", *SPHINX_BUILD, *session.posargs, "docs", SITE)


@nox.session
def bench(session: nox.Session) -> None:
    """Accuracy and speed benchmarks against the baselines (prints ratios)."""
    session.install(".", "mpmath>=1.3", "torch==2.13.0")
    session.run("python", "bench/run.py", *session.posargs)


@nox.session
def kit_torch(session: nox.Session) -> None:
    """The new-user trial: ``klproof.testing.check_kl`` on PyTorch's ``kl_divergence``.

    Installs klproof as a user would (plus Hypothesis and mpmath, which
    ``klproof.testing`` needs) and the pinned CPU build of torch, then prints the
    reports for Normal, Gamma and Beta.
    """
    session.install(".", "hypothesis>=6.100", "mpmath>=1.3", "torch==2.13.0")
    session.run("python", "tests/testing/torch_trial.py", *session.posargs)
