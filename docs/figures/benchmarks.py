"""Accuracy and speed plots drawn from the committed benchmark results.

The numbers come from ``docs/benchmarks/results.json``, written by ``bench/run.py``
(``nox -s bench``; ``python bench/run.py --curve-only`` refreshes the error curve alone).
Nothing is measured while the site builds: the plots show what was measured and say when.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from _style import setup

try:
    _HERE = Path(__file__).resolve().parent
except NameError:  # the plot directive runs the script from its own directory
    _HERE = Path.cwd()
RESULTS = _HERE.parent / "benchmarks" / "results.json"

#: Names of the implementations in the plots.
LABELS = {
    "ours": "klproof",
    "naive": "naive NumPy",
    "torch": "PyTorch",
    "scipy.rel_entr": "SciPy rel_entr",
}
#: Errors above this are drawn at it (an arrow marks a clipped point).
CEILING = 1e16
FLOOR = 1e-17
#: furo's page background (labels over grid lines sit on it).
PAGE_BACKGROUND = {"light": "#ffffff", "dark": "#131416"}


def load() -> dict[str, Any]:
    """The benchmark results (a missing file is an error: the plots need it)."""
    if not RESULTS.is_file():
        raise FileNotFoundError(f"{RESULTS} is missing: run python bench/run.py --curve-only")
    data: dict[str, Any] = json.loads(RESULTS.read_text(encoding="utf-8"))
    return data


def _provenance(section: dict[str, Any]) -> str:
    """When, where and with which versions a section was measured (one short line)."""
    meta = section["meta"]
    v = meta["versions"]
    torch = f", PyTorch {v['torch'].split('+')[0]}" if v.get("torch") else ""
    return (
        f"measured {meta['date'][:10]}, {meta['machine']['cores']} cores "
        f"({meta['machine']['cpu']}, load {meta['machine']['load_average_1min']:.1f}); "
        f"NumPy {v['numpy']}, SciPy {v['scipy']}{torch}"
    )


def _title(pair: str) -> str:
    p, q = pair.split("/")[1:]
    names = {
        "multivariatenormal": "MVN",
        "diagonalnormal": "DiagonalNormal",
        "halfnormal": "HalfNormal",
        "lognormal": "LogNormal",
    }
    p, q = (names.get(x, x.capitalize()) for x in (p, q))
    return p if p == q else f"{p} → {q}"


def _colours(theme: str) -> dict[str, str]:
    c = setup(theme)["c"]
    assert isinstance(c, list)
    return {"ours": c[0], "naive": c[1], "torch": c[2], "scipy.rel_entr": "#8250df"}


def accuracy(theme: str = "light") -> None:
    """Max relative error against the relative parameter difference, per pair."""
    colours = _colours(theme)
    text = setup(theme)["text"]
    section = load()["sections"]["curve"]
    rows = section["data"]
    pairs = list(dict.fromkeys(r["pair"] for r in rows))
    ncols = 2
    nrows = math.ceil(len(pairs) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.0, 2.6 * nrows), sharex=True, sharey=True)
    flat = list(axes.flat) if hasattr(axes, "flat") else [axes]
    for ax, pair in zip(flat, pairs, strict=False):
        mine = sorted((r for r in rows if r["pair"] == pair), key=lambda r: -r["rel_diff"])
        for impl, label in LABELS.items():
            xs, ys, neg_x, neg_y, clip_x = [], [], [], [], []
            for r in mine:
                res = r["results"].get(impl)
                if res is None:
                    continue
                err = res["max_rel_err"]
                y = CEILING if err is None or err > CEILING else max(err, FLOOR)
                xs.append(r["rel_diff"])
                ys.append(y)
                if res["negatives"]:
                    neg_x.append(r["rel_diff"])
                    neg_y.append(y)
                if y == CEILING:
                    clip_x.append(r["rel_diff"])
            if not xs:
                continue
            scipy = impl.startswith("scipy")  # drawn dashed: it often coincides with naive
            ax.plot(
                xs,
                ys,
                color=colours[impl],
                lw=1.2 if scipy else 1.6,
                ls="--" if scipy else "-",
                marker="o",
                ms=3,
                label=label,
                zorder=3 if impl == "ours" else 2,
            )
            ax.plot(
                neg_x, neg_y, ls="none", marker="v", ms=7, mfc="none", mew=1.3, color=colours[impl]
            )
            ax.plot(
                clip_x, [CEILING] * len(clip_x), ls="none", marker="^", ms=5, color=colours[impl]
            )
        ax.axhline(1.0, color=text, lw=0.8, ls=":")
        ax.axhline(2.2e-16, color=text, lw=0.8, ls="--", alpha=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(_title(pair), fontsize=10)
        ax.set_xlim(0.3, 3e-15)  # closer to the diagonal to the right
        ax.set_ylim(FLOOR / 3, CEILING * 30)
        ax.set_yticks([1e-16, 1e-12, 1e-8, 1e-4, 1, 1e4, 1e8, 1e12, 1e16])
    for ax in flat[len(pairs) :]:
        ax.set_visible(False)
    for ax in flat[-ncols:]:
        ax.set_xlabel("relative parameter difference")
    for ax in flat[::ncols]:
        ax.set_ylabel("max relative error")
    handles, labels = flat[0].get_legend_handles_labels()
    for ax in flat[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    handles += [
        plt.Line2D([], [], ls="none", marker="v", ms=7, mfc="none", color=text),
        plt.Line2D([], [], color=text, lw=0.8, ls=":"),
        plt.Line2D([], [], color=text, lw=0.8, ls="--", alpha=0.6),
    ]
    labels += ["some results negative", "error 1: no digit right", "float64 ε"]
    fig.legend(
        handles, labels, loc="lower center", ncol=4, fontsize=8.5, bbox_to_anchor=(0.5, 0.03)
    )
    fig.text(0.5, 0.005, _provenance(section), ha="center", va="bottom", fontsize=7, alpha=0.8)
    fig.tight_layout(rect=(0, 0.14, 1, 1))


def speed(theme: str = "light") -> None:
    """PyTorch's time over klproof's, per pair, at the largest size measured."""
    colours = _colours(theme)
    text = setup(theme)["text"]
    section = load()["sections"]["speed"]
    rows = [r for r in section["data"] if r["ratios"]["torch/ours"]]
    largest = max(r["N"] for r in rows)
    rows = sorted((r for r in rows if r["N"] == largest), key=lambda r: r["ratios"]["torch/ours"])
    ratios = [r["ratios"]["torch/ours"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 0.8 + 0.2 * len(rows)))
    bar_colours = [
        colours["torch"] if x >= 3 else colours["ours"] if x >= 1 else colours["naive"]
        for x in ratios
    ]
    ax.barh(range(len(rows)), ratios, color=bar_colours, height=0.7)
    page = PAGE_BACKGROUND[theme]
    for i, x in enumerate(ratios):
        ax.text(
            x * 1.04,
            i,
            f"{x:.1f}×",
            color=text,
            fontsize=7,
            va="center",
            zorder=5,
            bbox={"facecolor": page, "edgecolor": "none", "pad": 0.5},
        )
    ax.set_yticks(range(len(rows)), [_title(r["pair"]) for r in rows], fontsize=8)
    ax.set_xscale("log")
    ticks = [0.1, 0.2, 0.5, 1, 2, 3, 5, 10, 20, 50]
    lo, hi = min([*ratios, 1.0]) / 1.3, max([*ratios, 3.0]) * 1.6
    ax.set_xticks([t for t in ticks if lo <= t <= hi], [f"{t:g}×" for t in ticks if lo <= t <= hi])
    ax.minorticks_off()
    ax.set_xlim(lo, hi)
    ax.axvline(1.0, color=text, lw=0.8, ls=":")
    ax.axvline(3.0, color=text, lw=1.2, ls="--")
    ax.text(3.0, len(rows) - 0.2, " 3× target", color=text, fontsize=8, va="bottom")
    exponent = round(math.log10(largest))
    size = f"$10^{{{exponent}}}$" if largest == 10**exponent else f"{largest:,}"
    ax.set_xlabel(f"PyTorch time / klproof time, N = {size} (float64, one thread)")
    ax.set_ylim(-0.6, len(rows) + 0.4)
    ax.grid(axis="y", visible=False)
    fig.text(0.5, 0.005, _provenance(section), ha="center", va="bottom", fontsize=7, alpha=0.8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))


def accuracy_light() -> None:
    """The error curves for light pages."""
    accuracy("light")


def accuracy_dark() -> None:
    """The error curves for dark pages."""
    accuracy("dark")


def speed_light() -> None:
    """The speed ratios for light pages."""
    speed("light")


def speed_dark() -> None:
    """The speed ratios for dark pages."""
    speed("dark")
