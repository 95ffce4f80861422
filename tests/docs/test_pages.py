"""The code on the documentation pages runs and prints what the pages say.

Every ``pycon`` (or ``python`` with ``>>>`` prompts) block in ``docs/**/*.md`` is run
as a doctest, one test per page, with the page's blocks sharing one namespace in
order. Needs only klproof (no Sphinx).
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(
    r"^(`{3,})(pycon|python|\{code-block\} pycon)\s*\n(.*?)^\1\s*$", re.MULTILINE | re.DOTALL
)


def examples(page: Path) -> str:
    """The page's interactive examples, joined (blank line between blocks)."""
    blocks = [m.group(3) for m in FENCE.finditer(page.read_text(encoding="utf-8"))]
    return "\n\n".join(b for b in blocks if ">>>" in b)


PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts and examples(p))


def test_some_pages_have_examples() -> None:
    assert len(PAGES) >= 3, PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples(page: Path) -> None:
    text = examples(page)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, str(page.relative_to(DOCS)), str(page), 0)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    failures: list[str] = []
    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)
