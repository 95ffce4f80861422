"""Shared look of the figures: transparent background, colours for light or dark pages."""

from __future__ import annotations

import matplotlib.pyplot as plt

PALETTE = {
    "light": {"text": "#1f2328", "grid": "#d0d7de", "c": ["#0969da", "#cf222e", "#1a7f37"]},
    "dark": {"text": "#e6edf3", "grid": "#3d444d", "c": ["#58a6ff", "#ff7b72", "#3fb950"]},
}


def setup(theme: str) -> dict[str, object]:
    """Apply the theme's colours to matplotlib and return the palette."""
    colours = PALETTE[theme]
    plt.rcParams.update(
        {
            "figure.facecolor": "none",
            "axes.facecolor": "none",
            "savefig.transparent": True,
            "text.color": colours["text"],
            "axes.labelcolor": colours["text"],
            "axes.edgecolor": colours["text"],
            "xtick.color": colours["text"],
            "ytick.color": colours["text"],
            "grid.color": colours["grid"],
            "axes.grid": True,
            "grid.linewidth": 0.6,
            "legend.frameon": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
        }
    )
    return colours
