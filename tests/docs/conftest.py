"""Fixtures for the documentation checks: the built site and a real Chromium.

The browser test needs a built site (``nox -s docs``) and Debian's ``chromium`` with
Playwright for Python. Locally, anything missing is a skip with the reason. With
``KLPROOF_REQUIRE_DOCS=1`` in the environment (CI sets it) anything missing is a
failure instead: the check must not silently skip where it is required.

``KLPROOF_DOCS_SITE`` overrides the site directory (default ``docs/_build/html``);
``KLPROOF_CHROMIUM`` the browser (default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SITE = Path(os.environ.get("KLPROOF_DOCS_SITE", DOCS / "_build" / "html"))
CHROMIUM = Path(os.environ.get("KLPROOF_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("KLPROOF_REQUIRE_DOCS", "").strip().lower() in {"1", "true", "yes"}

#: Flags that let Chromium run headless as root with no network chatter.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def unavailable(reason: str) -> None:
    """Skip locally; fail where the docs checks are required (CI)."""
    if REQUIRED:
        pytest.fail(f"{reason} (KLPROOF_REQUIRE_DOCS is set, so this is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def site() -> Path:
    """The built HTML site."""
    if not (SITE / "index.html").is_file():
        unavailable(f"no built documentation at {SITE}; run `nox -s docs` first")
    return SITE


@pytest.fixture(scope="session")
def pages(site: Path) -> list[Path]:
    """Every HTML page of the current build (not stale files of earlier builds).

    The pages are the documents in the build's search index, plus Sphinx's own
    index and search pages.
    """
    index = site / "searchindex.js"
    if not index.is_file():
        unavailable(f"no search index in {site}: is the build complete?")
    text = index.read_text(encoding="utf-8")
    data = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    names = [*data["docnames"], "genindex", "search", "py-modindex"]
    return sorted(site / f"{name}.html" for name in names if (site / f"{name}.html").is_file())


@pytest.fixture(scope="session")
def sphinx_build() -> list[str]:
    """The command that runs ``sphinx-build`` with this interpreter."""
    try:
        import sphinx  # noqa: F401
    except ImportError:
        unavailable("Sphinx is not installed (pip install -r docs/requirements.txt)")
    return [sys.executable, "-m", "sphinx"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Playwright (Debian's binary, not a download)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install playwright)")
    if not CHROMIUM.is_file():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
