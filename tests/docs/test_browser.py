"""Open every built page from ``file://`` in real Chromium, offline, and check it.

Each page must: make no request that is not ``file:`` (all others are blocked and
reported), log no console error, finish typesetting within 5 s, leave no raw TeX
(``\\(``, ``\\[``, ``$$``, ``\\begin{``) outside code, contain no MathJax error node
(``mjx-merror``), and keep every displayed equation inside the content column.

Requires a built site and Chromium; see ``conftest.py`` for when a missing one is a
skip and when it is a failure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# One worker visits every page once (``--dist loadgroup`` keeps the group together).
pytestmark = pytest.mark.xdist_group("docs-browser")

#: Seconds a page may take from navigation to the end of typesetting.
TYPESET_BUDGET = 5.0

_WAIT_FOR_MATHJAX = """
async (budgetMs) => {
  if (!window.MathJax) return "no-mathjax";
  const timeout = new Promise((resolve) => setTimeout(() => resolve("timeout"), budgetMs));
  const started = (async () => {
    // MathJax defines startup.promise once its component has loaded (deferred script).
    while (!(window.MathJax.startup && window.MathJax.startup.promise)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await window.MathJax.startup.promise;
    return "typeset";
  })();
  return Promise.race([started, timeout]);
}
"""

_INSPECT = r"""
() => {
  const out = {raw: [], merror: [], unrendered: [], overflow: [], pagewide: [], math: 0};
  const skip = "pre, code, script, style, textarea, kbd, samp, mjx-container, .highlight";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      const parent = node.parentElement;
      if (!parent || parent.closest(skip)) return NodeFilter.FILTER_REJECT;
      return NodeFilter.FILTER_ACCEPT;
    },
  });
  const tex = /\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\end\{|\\left[(\[|]|\\[A-Za-z]+[_{^]/;
  while (walker.nextNode()) {
    const text = walker.currentNode.nodeValue;
    if (tex.test(text)) out.raw.push(text.trim().slice(0, 160));
  }
  document.querySelectorAll("mjx-merror").forEach((e) => {
    out.merror.push(e.getAttribute("data-mjx-error") || e.textContent.slice(0, 160));
  });
  // MathJax's noundefined extension shows an unknown macro as its name, in red.
  document.querySelectorAll('mjx-assistive-mml mtext[mathcolor="red"]').forEach((e) => {
    out.merror.push(`undefined macro ${e.textContent.trim()}`);
  });
  document.querySelectorAll(".math").forEach((e) => {
    out.math += 1;
    if (!e.querySelector("mjx-container")) out.unrendered.push(e.textContent.slice(0, 160));
  });
  const article = document.querySelector("article") || document.body;
  const limit = article.getBoundingClientRect().right + 1;
  document.querySelectorAll('mjx-container[display="true"]').forEach((e) => {
    const math = e.querySelector("mjx-math") || e;
    const right = math.getBoundingClientRect().right;
    if (right > limit) {
      const tex = e.closest(".math") ? e.closest(".math").getAttribute("data-tex") : null;
      const alt = e.querySelector("mjx-assistive-mml");
      out.overflow.push(`${Math.round(right - limit)}px too wide: ` +
        (tex || (alt ? alt.textContent : "")).slice(0, 100));
    }
  });
  // Inline math cannot wrap: a long formula in running text widens the whole page.
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth + 1) {
    let widest = null;
    document.querySelectorAll("mjx-container, table, pre, img").forEach((e) => {
      const right = e.getBoundingClientRect().right;
      if (right > page.clientWidth + 1 && (!widest || right > widest.right)) {
        widest = {right, text: (e.textContent || e.tagName).slice(0, 100)};
      }
    });
    out.pagewide.push(`page ${page.scrollWidth - page.clientWidth}px wider than the window` +
      (widest ? `: ${widest.text}` : ""));
  }
  return out;
}
"""


@dataclass
class Visit:
    """What one page did in the browser."""

    page: str
    seconds: float = 0.0
    typeset: str = ""
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    merror: list[str] = field(default_factory=list)
    unrendered: list[str] = field(default_factory=list)
    overflow: list[str] = field(default_factory=list)
    pagewide: list[str] = field(default_factory=list)
    math: int = 0


def visit(context: Any, site: Path, path: Path) -> Visit:
    """Load one page, wait for MathJax, and inspect the result."""
    from playwright.sync_api import Error as PlaywrightError

    result = Visit(str(path.relative_to(site)))
    page = context.new_page()
    page.on(
        "console",
        lambda m: result.console.append(f"{m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: result.console.append(f"uncaught: {e}"))
    page.on(
        "requestfailed",
        lambda r: (
            result.failed.append(f"{r.url} ({r.failure})") if r.url.startswith("file:") else None
        ),
    )

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            result.blocked.append(url)
            route.abort()

    page.route("**/*", route)
    start = time.perf_counter()
    try:
        page.goto(path.as_uri(), wait_until="load", timeout=TYPESET_BUDGET * 1000)
        result.typeset = page.evaluate(_WAIT_FOR_MATHJAX, TYPESET_BUDGET * 1000)
        result.seconds = time.perf_counter() - start
        found = page.evaluate(_INSPECT)
    except PlaywrightError as exc:  # a page that cannot load is a finding, not a crash
        result.seconds = time.perf_counter() - start
        result.typeset = f"error: {exc}"
        return result
    finally:
        page.close()
    result.raw = found["raw"]
    result.merror = found["merror"]
    result.unrendered = found["unrendered"]
    result.overflow = found["overflow"]
    result.pagewide = found["pagewide"]
    result.math = found["math"]
    return result


@pytest.fixture(scope="module")
def visits(site: Path, pages: list[Path], browser: Any) -> list[Visit]:
    """Every page of the site, visited once."""
    assert len(pages) >= 10, f"only {len(pages)} pages under {site}: is the build complete?"
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        return [visit(context, site, p) for p in pages]
    finally:
        context.close()


def _report(visits: list[Visit], attribute: str) -> str:
    lines = []
    for v in visits:
        found = getattr(v, attribute)
        if found:
            lines.append(f"{v.page}:")
            lines.extend(f"    {item}" for item in found[:10])
    return "\n".join(lines)


def test_no_request_leaves_the_machine(visits: list[Visit]) -> None:
    assert not any(v.blocked for v in visits), "non-file requests:\n" + _report(visits, "blocked")


def test_every_requested_file_exists(visits: list[Visit]) -> None:
    assert not any(v.failed for v in visits), "failed loads:\n" + _report(visits, "failed")


def test_no_console_errors(visits: list[Visit]) -> None:
    assert not any(v.console for v in visits), "console errors:\n" + _report(visits, "console")


def test_every_page_is_typeset_within_budget(visits: list[Visit]) -> None:
    slow = [
        f"{v.page}: {v.typeset} after {v.seconds:.2f} s"
        for v in visits
        if v.typeset not in {"typeset", "no-mathjax"} or v.seconds > TYPESET_BUDGET
    ]
    assert not slow, "pages not typeset within budget:\n" + "\n".join(slow)


def test_pages_with_math_load_mathjax(visits: list[Visit]) -> None:
    missing = [v.page for v in visits if v.math and v.typeset == "no-mathjax"]
    assert not missing, f"pages with math but no MathJax: {missing}"


def test_no_raw_tex_is_left(visits: list[Visit]) -> None:
    bad = [v for v in visits if v.raw or v.unrendered]
    message = _report(bad, "raw") + "\n" + _report(bad, "unrendered")
    assert not bad, "unrendered TeX:\n" + message


def test_no_mathjax_errors(visits: list[Visit]) -> None:
    assert not any(v.merror for v in visits), "MathJax errors:\n" + _report(visits, "merror")


def test_display_math_fits_the_column(visits: list[Visit]) -> None:
    # The API pages show docstring math as written; everything else is laid out here.
    ours = [v for v in visits if not v.page.startswith("reference/api/")]
    assert not any(v.overflow for v in ours), "wide equations:\n" + _report(ours, "overflow")


def test_no_page_is_wider_than_the_window(visits: list[Visit]) -> None:
    # The API pages included: a page that scrolls sideways is broken everywhere.
    assert not any(v.pagewide for v in visits), "pages wider than the window:\n" + _report(
        visits, "pagewide"
    )


def test_derivation_pages_are_rendered_and_verified(visits: list[Visit], site: Path) -> None:
    pages = [v for v in visits if v.page.startswith("reference/derivations/") and v.math]
    assert len(pages) >= 3, "expected one page with equations per registered derivation"
    for path in (site / "reference" / "derivations").glob("*.html"):
        if path.name == "index.html":
            continue
        html = path.read_text(encoding="utf-8")
        assert "klproof-status-ok" in html or "klproof-status-unchecked" in html, path.name
        assert "klproof-status-failed" not in html, f"{path.name} shows a failed step"
