"""Sphinx configuration for the klproof documentation.

Build with ``nox -s docs`` (``sphinx-build -W --keep-going -n``). Every derivation
shown is verified while the site builds; MathJax is copied from a pinned PyPI
package into the site, so the pages render with no network.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path
from typing import Any

import klproof

DOCS = Path(__file__).parent
sys.path.insert(0, str(DOCS / "figures"))  # the figure scripts import their _style

project = "klproof"
author = "klproof developers"
copyright = "2026, klproof developers"
version = release = klproof.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
    "klproof.sphinxext",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "benchmarks", "**/.gitignore"]  # benchmarks/: included
templates_path = ["_templates"]
html_static_path: list[str] = []

# MyST: $...$ and $$...$$ math, ::: fences, {eq} references to labelled equations.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Equations: numbered per page, referenced as (1); rendered by the MathJax copy
# that klproof.sphinxext puts into _static/mathjax at build time.
math_numfig = False
math_eqref_format = "({number})"

# API reference: autosummary pages generated at build time (gitignored). Each public
# object is documented once, on the page of the shortest module path that exports it
# (``klproof.Normal``, ``klproof.derivation.Derivation``); autodoc records the
# defining module as its canonical name, so both spellings resolve.


def _api_members() -> dict[str, list[str]]:
    names = ["klproof"] + [
        info.name
        for info in pkgutil.walk_packages(klproof.__path__, "klproof.")
        if not any(part.startswith("_") or part == "conftest" for part in info.name.split("."))
    ]
    modules = {name: importlib.import_module(name) for name in names}
    home: dict[object, tuple[str, str]] = {}
    for name in sorted(modules, key=lambda n: (n.count("."), n)):
        module = modules[name]
        exported = getattr(module, "__all__", None)
        if exported is None:
            exported = [
                key
                for key, value in vars(module).items()
                if not key.startswith("_") and getattr(value, "__module__", None) == name
            ]
        for attr in exported:
            obj = getattr(module, attr, None)
            if obj is None or inspect.ismodule(obj) or f"{name}.{attr}" in modules:
                continue  # (a function named like a submodule is shown in that submodule)
            key = id(obj) if (inspect.isclass(obj) or callable(obj)) else (name, attr)
            home.setdefault(key, (name, attr))
    members: dict[str, list[str]] = {name: [] for name in modules}
    for key, (module_name, attr) in home.items():
        members[module_name].append(attr)
        if isinstance(key, int):
            _HOME[key] = f"{module_name}.{attr}"
    return members


#: id(object) -> the name it is documented under (for references by another path).
_HOME: dict[int, str] = {}


def _documented_name(target: str) -> str | None:
    """The documented name of ``target`` if it names a documented object another way.

    ``klproof.models.LinearGaussian`` is documented as ``klproof.LinearGaussian``; a
    reference by either public path resolves (also for its methods and attributes).
    """
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for i in range(cut, len(parts)):
            obj = getattr(obj, parts[i], None)
            if obj is None:
                return None
            home = _HOME.get(id(obj))
            if home is not None:
                return ".".join([home, *parts[i + 1 :]])
        return None
    return None


autosummary_context = {"api_members": _api_members()}
for _stub in (DOCS / "reference" / "api").glob("*.rst"):  # regenerated below; no stale pages
    _stub.unlink()
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc sections carry the types; signatures stay short
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

# Figures made by matplotlib while the site builds.
plot_basedir = str(DOCS / "figures")
plot_html_show_source_link = False
plot_html_show_formats = False
plot_include_source = False
plot_formats = [("svg", 96)]
plot_rcparams = {"svg.fonttype": "none", "font.size": 10}
plot_apply_rcparams = True

# -n (nitpicky) without intersphinx: names from other projects cannot resolve. Every
# reference to klproof itself must resolve (no per-name exceptions).
nitpick_ignore_regex = [
    (r"py:.*", r"(sympy|numpy|np|scipy|docutils|sphinx|matplotlib)(\..*)?"),
    (r"py:.*", r"(collections\.abc|typing|types|pathlib|dataclasses)\..*"),
    (r"py:class", r"(array_like|array-like|optional|callable|scalar|ndarray|Expr|Symbol)"),
]

html_theme = "furo"
html_title = f"klproof {release}"
html_theme_options = {
    "source_repository": "",
    "navigation_with_keys": True,
    "top_of_page_buttons": [],
}
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None


# The benchmark results (docs/benchmarks/results.md) are written by ``nox -s bench``;
# until they exist the accuracy page says so instead of failing the build.
_RESULTS = DOCS / "benchmarks" / "results.md"
_INCLUDE = "```{include} ../benchmarks/results.md\n:heading-offset: 1\n```"
_NO_RESULTS = """```{note}
No benchmark results in this build: `nox -s bench` writes `docs/benchmarks/results.md`.
```"""


def _benchmark_results(app: Any, docname: str, source: list[str]) -> None:
    if docname == "explanation/accuracy-speed" and not _RESULTS.is_file():
        source[0] = source[0].replace(_INCLUDE, _NO_RESULTS)


def _resolve_short_name(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a short Python name to the one object documented under it, if unique.

    Objects are documented where they are exported (``klproof.models.GaussianMixture``),
    so ``:class:`GaussianMixture``` written inside ``klproof.models.mixture`` does not
    resolve by the strict rule; this is the lookup Sphinx does for ``.GaussianMixture``.
    Ambiguous names still warn.
    """
    if node.get("refdomain") != "py" or node.get("refspecific"):
        return None
    domain = env.domains["py"]
    documented = _documented_name(node["reftarget"])
    if documented is not None and documented != node["reftarget"]:
        found = domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], documented, node, contnode
        )
        if found is not None:
            return found
    node["refspecific"] = True
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], node["reftarget"], node, contnode
    )


def setup(app: Any) -> None:
    app.connect("source-read", _benchmark_results)
    app.connect("missing-reference", _resolve_short_name)
