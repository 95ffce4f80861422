"""Generated source pages: one per registered derivation."""

from __future__ import annotations

from pathlib import Path

from klproof.sphinxext._render import page_label, slug
from klproof.symbolic import registry

__all__ = ["derivation_page", "write_derivation_pages"]


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def derivation_page(name: str, title: str) -> str:
    """Return the reST source of the page of derivation ``name``.

    The page is an orphan: the derivations' index page links every page from its
    table, and leaving some two hundred pages out of the toctree keeps the sidebar
    short (the theme renders the whole navigation tree into every page, a cost that
    grows with the square of the number of pages).

    Examples
    --------
    >>> print(derivation_page("identity/cross-entropy", "H = H + KL"))
    :orphan:
    <BLANKLINE>
    .. _derivation-identity-cross-entropy:
    <BLANKLINE>
    H = H + KL
    ==========
    <BLANKLINE>
    .. derivation:: identity/cross-entropy
       :no-title:
    <BLANKLINE>
    """
    underline = "=" * len(title)
    return (
        ":orphan:\n\n"
        f".. _{page_label(name)}:\n\n"
        f"{title}\n{underline}\n\n"
        f".. derivation:: {name}\n"
        "   :no-title:\n"
    )


def write_derivation_pages(directory: Path) -> list[str]:
    """Write one page per registered derivation into ``directory``; remove stale ones.

    Returns the page names (without suffix), in registry order.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in registry.names():
        try:
            title = registry.get(name).title
        except Exception:  # noqa: BLE001 - the page's directive reports it, with location
            title = name
        page = slug(name)
        _write_if_changed(directory / f"{page}.rst", derivation_page(name, title))
        written.append(page)
    for stale in directory.glob("*.rst"):
        if stale.stem not in written:
            stale.unlink()
    return written
