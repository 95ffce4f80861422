"""``python -m klproof`` runs the command line."""

from __future__ import annotations

import sys

from klproof.cli import main

sys.exit(main())
