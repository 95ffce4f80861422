"""Sphinx extension: render klproof derivations from the objects, with offline math.

Add ``"klproof.sphinxext"`` to ``extensions`` in ``conf.py``. It provides

``.. derivation:: NAME``
    a registered derivation (or ``module:attribute``) with its summary, assumptions,
    each step's row, reason and check, the verification status and time, the result
    (an equation labelled ``NAME`` for ``:eq:``) and sources. The derivation is
    verified while the page is built; one that fails is a build error at the
    directive's file and line.
``.. derivation-index:: [PREFIX]``
    a table of the registered derivations (optionally those whose name starts with
    ``PREFIX``) with their verification status and time.
``.. kl-catalogue::``
    every registered closed-form KL pair: closed form, finiteness conditions, links
    to its derivation and routes, the numeric function and the sources.
``:derivation:`NAME``` (or ``:derivation:`text <NAME>```)
    a link to the generated page of a derivation.

Configuration values
--------------------
klproof_derivation_pages : str or None
    Directory (relative to the source directory) in which one page per registered
    derivation is generated at build time; ``None`` generates none. Default
    ``"reference/derivations"``.
klproof_offline_math : bool
    Copy MathJax 3 from the installed ``django-static-mathjax`` package into the built
    site and load it from there, so equations render with no network. Default ``True``.
klproof_warn_unchecked : bool
    Warn (with location) about derivations that have unchecked steps. Default ``False``.
klproof_verify_jobs : int
    Processes that verify every registered derivation before the pages are read
    (when derivation pages are generated); ``0`` (default) uses Sphinx's ``-j``. With
    one process each derivation is verified as its page is read instead.
"""

from __future__ import annotations

from typing import Any

__all__ = ["setup"]


def setup(app: Any) -> dict[str, Any]:
    """Register the directives, the role, the configuration values and the events.

    Sphinx is imported here, not at module level, so that the rest of
    :mod:`klproof.sphinxext` (the row layout) imports without it.
    """
    from klproof.sphinxext._setup import setup as register  # noqa: PLC0415 - Sphinx only here

    return register(app)
