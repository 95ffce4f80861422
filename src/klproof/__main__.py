"""``python -m klproof`` runs the command line."""

from __future__ import annotations

import sys

from klproof.cli import main

if __name__ == "__main__":  # not when a documentation tool imports this module
    sys.exit(main())
