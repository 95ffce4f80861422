"""Doctest collection of the extension without Sphinx installed.

The modules that import Sphinx are skipped when it is missing, unless
``KLPROOF_REQUIRE_DOCS`` is set (then the import error is a failure, as it should be
where the documentation checks are required).
"""

from __future__ import annotations

import importlib.util
import os

_REQUIRED = os.environ.get("KLPROOF_REQUIRE_DOCS", "").strip().lower() in {"1", "true", "yes"}

collect_ignore = (
    []
    if _REQUIRED or importlib.util.find_spec("sphinx") is not None
    else ["_setup.py", "_directives.py", "_catalogue.py"]
)
