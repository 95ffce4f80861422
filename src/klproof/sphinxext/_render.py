"""Layout helpers for rendering derivations: short rows, slugs, labels.

Nothing here imports Sphinx; the directive builds its nodes from these strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sympy as sp

from klproof.derivation import Derivation, Step
from klproof.derivation.ops import Expectation, latex

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
    6
    >>> visual_width(r"\int\limits_{0}^{1} f\left(x\right)\, dx")
    10
    >>> visual_width(r"\delta_{ab} t")  # the subscript is not part of the command
    4
    """
    stripped = _INVISIBLE.sub(" ", tex)  # a space keeps \delta and ab of \delta_{ab} apart
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


def _pack(terms: list[tuple[str, str, Any]], width: int, first: int | None = None) -> list[str]:
    """Greedily pack ``(sign, latex, term)`` terms into lines of at most ``width`` glyphs.

    The first line gets ``first`` glyphs instead (room left after a prefix).

    A term wider than a line on its own is broken too where :func:`split_sum` can
    open it (a product with a sum factor, an integral of a sum): its pieces become
    lines of their own.
    """
    pieces: list[str] = []
    current = ""
    for sign, text, term in terms:
        room = width if pieces or first is None else first
        if visual_width(sign + text) > max(room, width):
            inner = split_sum(term, width - 2)
            if len(inner) > 1:
                if current:
                    pieces.append(current.rstrip())
                pieces.append(sign + inner[0])
                pieces.extend(inner[1:-1])
                current = inner[-1] + " "
                continue
        if current and visual_width(current + sign + text) > room:
            pieces.append(current.rstrip())
            current = sign + text + " "
        else:
            current = current + sign + text + " "
    pieces.append(current.rstrip())
    return pieces


def _terms(expr: Any) -> list[tuple[str, str, Any]]:
    """The terms of a sum as ``(sign, latex, term)``, in SymPy's printing order.

    ``term`` is the expression printed (negated after a ``-`` sign).
    """
    out = []
    for i, term in enumerate(expr.as_ordered_terms()):
        if i == 0:
            out.append(("", latex(term), term))
        elif term.could_extract_minus_sign():
            out.append(("- ", latex(-term), -term))
        else:
            out.append(("+ ", latex(term), term))
    return out


_HOLE = sp.Symbol("KLPROOFHOLE")


def _around(expr: Any) -> tuple[str, str] | None:
    """LaTeX before and after the argument of an integral, sum or derivative."""
    if isinstance(expr, (sp.Integral, sp.Sum)):
        text, marker = latex(expr.func(_HOLE, *expr.limits)), latex(_HOLE)
    elif isinstance(expr, Expectation):
        # \left[ … \right] cannot span rows of an aligned block; \Bigl[ … \Bigr] can
        text, marker = latex(Expectation(_HOLE, *expr.args[1:])), latex(_HOLE)
        text = text.replace(r"\left[", r"\Bigl[").replace(r"\right]", r"\Bigr]")
    elif isinstance(expr, sp.Derivative):
        hole = sp.Function("KLPROOFHOLE")(*sorted(expr.expr.free_symbols, key=str))
        text, marker = latex(sp.Derivative(hole, *expr.variable_count)), latex(hole)
    else:
        return None
    if text.count(marker) != 1:
        return None
    before, _, after = text.partition(marker)
    return before, after


def _wrapper(expr: Any) -> tuple[str, Any, str] | None:
    r"""Open ``expr`` around one sum inside it: ``(prefix, sum, suffix)``, or None.

    Handles integrals, sums and derivatives of such expressions, derivatives
    evaluated at a point, and products with a numeric coefficient or sum factors (the widest is opened).
    The prefix ends with ``\Bigl(`` and the suffix starts with ``\Bigr)`` around the sum.
    """
    if isinstance(expr, sp.Add):
        return r"\Bigl(", expr, r"\Bigr)"
    if isinstance(expr, sp.Mul):
        numbers = [f for f in expr.args if f.is_number]
        others = [f for f in expr.args if not f.is_number]
        coefficient = sp.Mul(*numbers)
        lead = "" if coefficient == 1 else ("- " if coefficient == -1 else latex(coefficient) + " ")
        if len(others) == 1:
            inner = _wrapper(others[0])
            return None if inner is None else (lead + inner[0], inner[1], inner[2])
        adds = [f for f in others if isinstance(f, sp.Add)]
        if not adds:
            return None
        widest = max(adds, key=lambda f: visual_width(latex(f)))  # open the widest sum
        rest = sp.Mul(*[f for f in others if f is not widest])
        return lead + r"\Bigl(", widest, r"\Bigr) " + latex(rest)
    if isinstance(expr, sp.Subs):
        inner = _wrapper(expr.expr)
        if inner is None:
            return None
        at = ", ".join(
            f"{latex(v)} = {latex(p)}" for v, p in zip(expr.variables, expr.point, strict=True)
        )
        return r"\Bigl. " + inner[0], inner[1], inner[2] + rf" \Bigr|_{{{at}}}"
    around = _around(expr)
    if around is None:
        return None
    inner = _wrapper(expr.args[0])
    if inner is None:
        return None
    if around[0].endswith(r"\Bigl[") and isinstance(expr.args[0], sp.Add):
        return around[0], inner[1], around[1]  # the brackets enclose the sum already
    return around[0] + inner[0], inner[1], inner[2] + around[1]


_HEAVY = (sp.Integral, sp.Sum, sp.Derivative, sp.Subs)


def _pull_coefficient(expr: Any) -> tuple[str, Any] | None:
    r"""Split a product into LaTeX of its plain factors and the integral (etc.) it scales.

    SymPy prints :math:`\frac{a \int f}{b}` with the integral inside the numerator,
    in the smaller type of a fraction; :math:`\frac{a}{b} \int f` reads better.
    """
    if not isinstance(expr, sp.Mul):
        return None
    heavy = [f for f in expr.args if f.has(*_HEAVY)]
    light = [f for f in expr.args if not f.has(*_HEAVY)]
    if not heavy or not light:
        return None
    return latex(sp.Mul(*light)), sp.Mul(*heavy)


def split_sum(expr: Any, width: int = MAX_ROW_WIDTH) -> list[str]:
    r"""LaTeX of ``expr`` in pieces of at most ``width`` glyphs, broken between terms.

    A sum is cut before a ``+`` or ``-``. An integral, sum or derivative of a sum (or
    of a product with one sum factor) that is too wide is opened: its terms are
    broken inside ``\Bigl( … \Bigr)``. Anything else comes back whole.
    Continuation pieces start with their sign.

    Examples
    --------
    >>> a, b, c, x = sp.symbols("a b c x")
    >>> split_sum(a + b - c, width=4)
    ['a + b', '- c']
    >>> split_sum(a * b)
    ['a b']
    >>> print(*split_sum(sp.Integral(a * x + b * x**2 + c * x**3, (x, 0, 1)), width=10), sep="\n")
    \int\limits_{0}^{1} \Bigl(a x
    + b x^{2} + c x^{3}\Bigr)\, dx
    """
    expr = sp.sympify(expr)
    whole = latex(expr)
    if visual_width(whole) <= width:
        return [whole]
    if isinstance(expr, sp.Add):
        return _pack(_terms(expr), width)
    sign = ""
    body = expr
    if isinstance(expr, sp.Mul) and expr.could_extract_minus_sign():
        sign, body = "- ", -expr
    wrapped = _wrapper(body)
    opened: list[str] = []
    if wrapped is not None:
        prefix, add, suffix = wrapped
        opened = _pack(_terms(add), width, first=max(width - visual_width(prefix), width // 2))
        opened[0] = f"{sign}{prefix}{opened[0]}"
        long_suffix = visual_width(suffix) > 6  # more than ") dx": an integral, say
        if len(opened) > 1 and long_suffix and visual_width(opened[-1] + suffix) > width:
            opened.append(suffix.strip())  # a closing \Bigr) with what follows, on its own row
        else:
            opened[-1] = f"{opened[-1]}{suffix}"
        if len(opened) > 1 or visual_width(opened[0]) <= width:
            return opened
    pulled = _pull_coefficient(body)
    if pulled is None:
        return opened or [whole]
    coefficient, rest = pulled
    pieces = split_sum(rest, width - 2)
    if visual_width(f"{coefficient} {pieces[0]}") <= width:
        pieces[0] = f"{sign}{coefficient} {pieces[0]}"
        return pieces
    return [f"{sign}{coefficient}", rf"\times {pieces[0]}", *pieces[1:]]


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
        return _fit(lines[0], width)
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
