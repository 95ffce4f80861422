"""Task runner: ``nox -s tests lint typecheck docs bench``.

Every session installs what it needs into its own virtual environment, so a fresh
machine with only Python and pip can run any of them.
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.default_venv_backend = "venv"

@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (doctests included).

    Runs on both cores (pytest-xdist). With ``CI=true`` in the environment the
    Hypothesis ``ci`` profile is used (many more examples per property) and every
    step of every derivation is corrupted (``--all-corruptions``).
    """
    session.install(".[test]")
    args = session.posargs or []
    ci = bool(os.environ.get("CI"))
    extra = ["--hypothesis-profile=ci", "--all-corruptions"] if ci else []
    session.run("pytest", "-n", "auto", "--dist", "loadgroup", *extra, *args)


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Mypy in strict mode on ``src/``."""
    session.install("mypy>=1.10", "numpy>=1.26", "pytest", "hypothesis", "-e", ".")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx site with warnings as errors, verifying every derivation shown.

    Open ``docs/_build/html/index.html``; it works offline (MathJax is copied in).
    Extra arguments go to ``sphinx-build`` (e.g. ``nox -s docs -- -E`` to rebuild all).
    """
    session.install(".", "-r", "docs/requirements.txt")
    session.run(
        "sphinx-build",
        "-j",
        "auto",
        "-W",
        "--keep-going",
        "-n",
        "-b",
        "html",
        *session.posargs,
        "docs",
        "docs/_build/html",
    )


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
