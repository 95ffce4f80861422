"""Offline MathJax: copy MathJax 3 from an installed PyPI package into the built site.

The ``django-static-mathjax`` distribution (pinned in ``docs/requirements.txt``)
ships MathJax's ``es5/`` build under the import package ``mathjax``; nothing of it
is committed here.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

__all__ = ["MATHJAX_ENTRY", "copy_mathjax", "mathjax_source"]

#: The MathJax component the pages load (TeX input, CommonHTML output).
MATHJAX_ENTRY = "tex-chtml.js"

#: What the site needs from ``es5/``: the entry point and the lazily loaded parts.
_NEEDED = (MATHJAX_ENTRY, "input", "output", "ui", "a11y", "adaptors", "sre")


class MathJaxNotFoundError(RuntimeError):
    """The MathJax distribution is not installed."""


def mathjax_source() -> Path:
    """Directory of MathJax's ``es5`` build inside the installed ``mathjax`` package."""
    try:
        root = resources.files("mathjax")
    except ModuleNotFoundError as exc:
        raise MathJaxNotFoundError(
            "offline math needs MathJax 3: pip install django-static-mathjax==3.2.2.1"
        ) from exc
    es5 = Path(str(root)) / "static" / "mathjax" / "es5"
    if not (es5 / MATHJAX_ENTRY).is_file():
        raise MathJaxNotFoundError(f"no MathJax es5 build at {es5}")
    return es5


def copy_mathjax(destination: Path) -> None:
    """Copy the parts of MathJax the pages load into ``destination`` (idempotent)."""
    source = mathjax_source()
    destination.mkdir(parents=True, exist_ok=True)
    for name in _NEEDED:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, destination / name, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copy2(src, destination / name)
