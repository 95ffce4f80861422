"""Layout helpers for rendering derivations: short rows, slugs, labels.

Nothing here imports Sphinx; the directive builds its nodes from these strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sympy as sp

from klproof.derivation import Derivation, Step
from klproof.derivation.ops import latex

__all__ = [
    "MAX_ROW_WIDTH",
    "Row",
    "derivation_rows",
    "page_label",
    "result_label",
    "result_latex",
    "slug",
    "split_sum",
    "step_label",
    "visual_width",
]

#: Rough number of glyphs that fit one display row of the docs' content column.
MAX_ROW_WIDTH = 44

_LATEX_REL = {"=": "=", ">=": r"\ge", "<=": r"\le"}

_INVISIBLE = re.compile(
    r"\\(left|right|middle|big|Big|bigg|Bigg|limits|displaystyle|mathrm|operatorname"
    r"|mathbb|mathcal|mathbf|boldsymbol|text)\b|\\[,;:! ]|[{}^_&]|\\\\"
)
_COMMAND = re.compile(r"\\[a-zA-Z]+")


def visual_width(tex: str) -> int:
    r"""Estimate how many glyphs ``tex`` shows when typeset (an upper bound, roughly).

    Sizing commands, braces and spacing count nothing; each other command counts as
    one glyph. Fractions count both lines, so the estimate errs on the wide side.

    Examples
    --------
    >>> visual_width(r"\left(x + y\right)^{2}")
    8
    >>> visual_width(r"\int\limits_{0}^{1} f\left(x\right)\, dx")
    10
    """
    stripped = _INVISIBLE.sub("", tex)
    stripped = _COMMAND.sub("x", stripped)
    return len(stripped.replace(" ", ""))


def slug(name: str) -> str:
    """File and anchor name for a derivation name.

    Examples
    --------
    >>> slug("identity/cross-entropy")
    'identity-cross-entropy'
    """
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def page_label(name: str) -> str:
    """Cross-reference label of a derivation's generated page."""
    return f"derivation-{slug(name)}"


def result_label(name: str) -> str:
    """Equation label of a derivation's final result (for ``:eq:``)."""
    return name


def step_label(name: str, label: str) -> str:
    """Equation label of a labelled step, namespaced by its derivation."""
    return f"{name}/{label}"


def split_sum(expr: Any, width: int = MAX_ROW_WIDTH) -> list[str]:
    """LaTeX of ``expr`` in pieces of at most ``width`` glyphs, broken between terms.

    A sum is cut before a ``+`` or ``-``; anything else comes back whole (one piece).
    Continuation pieces start with their sign.

    Examples
    --------
    >>> a, b, c = sp.symbols("a b c")
    >>> split_sum(a + b - c, width=4)
    ['a + b', '- c']
    >>> split_sum(a * b)
    ['a b']
    """
    expr = sp.sympify(expr)
    if not isinstance(expr, sp.Add):
        return [latex(expr)]
    pieces: list[str] = []
    current = ""
    for i, term in enumerate(expr.as_ordered_terms()):
        if i == 0:
            text = latex(term)
            sign = ""
        elif term.could_extract_minus_sign():
            sign, text = "- ", latex(-term)
        else:
            sign, text = "+ ", latex(term)
        if current and visual_width(current + sign + text) > width:
            pieces.append(current.rstrip())
            current = sign + text + " "
        else:
            current = current + sign + text + " "
    pieces.append(current.rstrip())
    return pieces


@dataclass(frozen=True)
class Row:
    """One displayed step: LaTeX (possibly several lines) and the step it shows."""

    latex: str
    step: Step
    index: int


#: Smaller type for a row that cannot be broken: (size command, glyphs it fits).
_SIZES = ((r"\small", 1 / 0.85), (r"\scriptsize", 1 / 0.7))  # MathJax 3 has no \footnotesize


def _fit(line: str, width: int) -> str:
    r"""Set an unbreakable over-wide line in smaller type (down to ``\scriptsize``)."""
    needed = visual_width(line)
    if needed <= width:
        return line
    for command, factor in _SIZES:
        if needed <= width * factor:
            return f"{command} {line}"
    return f"{_SIZES[-1][0]} {line}"


def _lines(lhs: Any, relation: str, rhs: Any, width: int) -> str:
    """Lay out ``lhs relation rhs`` (``lhs`` may be None) as one line or ``aligned`` rows."""
    lhs_pieces = [] if lhs is None else split_sum(lhs, width)
    rhs_pieces = split_sum(rhs, width)
    one_line = " ".join([*lhs_pieces, relation, *rhs_pieces])
    if visual_width(one_line) <= width:
        return one_line if lhs_pieces else "{} " + one_line
    lines = [*lhs_pieces[:1], *(rf"\quad {piece}" for piece in lhs_pieces[1:])]
    first = f"{relation} {rhs_pieces[0]}"
    if len(lhs_pieces) == 1 and visual_width(f"{lines[-1]} {first}") <= width:
        lines[-1] = f"{lines[-1]} {first}"
    else:
        lines.append("{}" + first)
    lines.extend(rf"\quad {piece}" for piece in rhs_pieces[1:])
    if len(lines) == 1:
        return _fit(lines[0] if lhs_pieces else "{} " + lines[0], width)
    body = " \\\\\n".join(f"& {_fit(line, width)}" for line in lines)
    return "\\begin{aligned}\n" + body + "\n\\end{aligned}"


def derivation_rows(derivation: Derivation, width: int = MAX_ROW_WIDTH) -> list[Row]:
    """Lay out the derivation's steps as short display rows (long sums broken)."""
    rows = []
    for index, step in enumerate(derivation.steps):
        text = _lines(step.lhs, _LATEX_REL[step.relation], step.rhs, width)
        rows.append(Row(text, step, index))
    return rows


def result_latex(derivation: Derivation, width: int = MAX_ROW_WIDTH) -> str:
    """Lay out the final statement ``lhs relation rhs`` like a row."""
    return _lines(derivation.lhs, _LATEX_REL[derivation.relation], derivation.rhs, width)
