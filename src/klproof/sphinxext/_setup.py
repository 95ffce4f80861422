"""Registration of the extension with Sphinx (imported by :func:`klproof.sphinxext.setup`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

from klproof import __version__
from klproof.sphinxext._assets import MATHJAX_ENTRY, copy_mathjax, mathjax_source
from klproof.sphinxext._catalogue import KLCatalogueDirective
from klproof.sphinxext._directives import (
    DerivationDirective,
    DerivationIndexDirective,
    DerivationRole,
    derivation_index,
    fill_derivation_index,
)
from klproof.sphinxext._pages import write_derivation_pages
from klproof.sphinxext._verify import summary_text, verify_all

__all__ = ["setup"]

logger = logging.getLogger(__name__)

_STATIC = Path(__file__).parent / "static"


def _config_inited(app: Sphinx, config: Config) -> None:
    if config.klproof_offline_math:
        mathjax_source()  # fail early, with the install command, if MathJax is missing
        config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"
    config.html_static_path = [*config.html_static_path, str(_STATIC)]


def _builder_inited(app: Sphinx) -> None:
    app.add_css_file("klproof.css")
    directory = app.config.klproof_derivation_pages
    if directory:
        write_derivation_pages(Path(app.srcdir) / directory)
        # Every registered derivation has a page: verify them all now, on all cores
        # (with -j; a serial build verifies each as its page is read, in one process).
        jobs = app.config.klproof_verify_jobs or app.parallel
        if jobs > 1:
            adopted, seconds = verify_all(jobs)
            logger.info(summary_text(adopted, seconds, jobs))


def _docs(env: BuildEnvironment) -> set[str]:
    docs: set[str] = getattr(env, "klproof_derivation_docs", set())
    env.klproof_derivation_docs = docs  # type: ignore[attr-defined]  # our state on the Sphinx env
    return docs


def _reports(env: BuildEnvironment) -> dict[str, dict[str, Any]]:
    reports: dict[str, dict[str, Any]] = getattr(env, "klproof_reports", {})
    env.klproof_reports = reports  # type: ignore[attr-defined]  # our state on the Sphinx env
    return reports


def _env_get_outdated(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    """Re-read every page with a derivation: the objects may have changed since."""
    return sorted(_docs(env) - removed)


def _env_purge_doc(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _docs(env).discard(docname)
    reports = _reports(env)
    for name in [n for n, info in reports.items() if info["docname"] == docname]:
        del reports[name]


def _env_merge_info(
    app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment
) -> None:
    _docs(env).update(_docs(other))
    _reports(env).update(
        {n: info for n, info in _reports(other).items() if info["docname"] in docnames}
    )


def _build_finished(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    if app.config.klproof_offline_math:
        copy_mathjax(Path(app.outdir) / "_static" / "mathjax")


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives, the role, the configuration values and the events."""
    app.setup_extension("sphinx.ext.mathjax")
    app.add_config_value(
        "klproof_derivation_pages", "reference/derivations", "env", [str, type(None)]
    )
    app.add_config_value("klproof_offline_math", True, "html", [bool])
    app.add_config_value("klproof_warn_unchecked", False, "env", [bool])
    app.add_config_value("klproof_verify_jobs", 0, "", [int])
    app.add_directive("derivation", DerivationDirective)
    app.add_directive("derivation-index", DerivationIndexDirective)
    app.add_directive("kl-catalogue", KLCatalogueDirective)
    app.add_node(derivation_index)
    app.connect("doctree-resolved", fill_derivation_index)
    app.add_role("derivation", DerivationRole())
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited)
    app.connect("env-get-outdated", _env_get_outdated)
    app.connect("env-purge-doc", _env_purge_doc)
    app.connect("env-merge-info", _env_merge_info)
    app.connect("build-finished", _build_finished)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
