"""Unevaluated information-theoretic operators as SymPy objects.

``KL(p, q, (z, a, b))``, ``Entropy``, ``CrossEntropy`` and ``Expectation`` print as
the quantities a reader knows and rewrite to their defining integral (or sum, for a
discrete variable) with ``.doit()``. They let a derivation *state* a quantity before
a checked step evaluates it.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

__all__ = [
    "KL",
    "CrossEntropy",
    "Entropy",
    "Expectation",
    "Labelled",
    "defining_form",
    "unfold",
]


def _limits(var: Any) -> sp.Tuple:
    if isinstance(var, sp.Tuple):
        return var
    if isinstance(var, tuple | list):
        return sp.Tuple(*(sp.Tuple(*v) if isinstance(v, tuple | list) else v for v in var))
    return sp.Tuple(var, -sp.oo, sp.oo)


def _is_discrete(limits: sp.Tuple) -> bool:
    return bool(limits[0].is_integer)


def _aggregate(expr: Any, limits: sp.Tuple) -> Any:
    """Integral over a real variable, sum over an integer one.

    ``limits`` may also be a tuple of limits, innermost first (``((y, 0, 1 - x), (x, 0,
    1))`` for the triangle): an iterated integral of one-variable integrals.
    """
    if len(limits) and isinstance(limits[0], sp.Tuple):
        for lim in limits:
            expr = _aggregate(expr, lim)
        return expr
    if _is_discrete(limits):
        return sp.Sum(expr, tuple(limits))
    return sp.Integral(expr, tuple(limits))


class Labelled(sp.Function):
    """A density shown by a short label that unfolds to its formula.

    ``Labelled(sp.Symbol('q(z)'), formula)`` prints as ``q(z)``; :func:`unfold`
    replaces it by ``formula``. Use it to keep rendered rows short.
    """

    nargs = 2

    def _latex(self, printer: LatexPrinter) -> str:
        return str(printer._print(self.args[0]))

    def _sympystr(self, printer: Any) -> str:
        return str(printer._print(self.args[0]))

    def _eval_is_positive(self) -> bool | None:
        return self.args[1].is_positive  # type: ignore[no-any-return]  # SymPy is untyped

    def _eval_is_extended_real(self) -> bool | None:
        return self.args[1].is_extended_real  # type: ignore[no-any-return]  # SymPy is untyped


def _label(printer: LatexPrinter, density: Any) -> str:
    return str(printer._print(density))


class _InfoOp(sp.Function):
    """Common base: args are densities followed by the variable with its limits."""

    def _eval_is_extended_real(self) -> bool:
        return True

    def doit(self, **hints: Any) -> Any:
        """Rewrite to the defining integral or sum and evaluate it."""
        return defining_form(self).doit(**hints)

    @property
    def limits(self) -> sp.Tuple:
        return self.args[-1]

    @property
    def variable(self) -> sp.Symbol:
        return self.args[-1][0]


class _BinaryOp(_InfoOp):
    """An operator of two arguments and the variable: ``Op(a, b, (z, lo, hi))``."""

    nargs = 3

    @classmethod
    def eval(cls, a: Any, b: Any, limits: Any) -> None:
        return None  # never evaluates automatically; .doit() rewrites to the definition

    def __new__(cls, a: Any, b: Any, var: Any, **kwargs: Any) -> Any:
        return super().__new__(cls, a, b, _limits(var), **kwargs)


class KL(_BinaryOp):
    r"""Kullback–Leibler divergence :math:`\mathrm{KL}(p \,\|\, q)`.

    ``KL(p, q, (z, a, b))`` with ``p`` and ``q`` densities (or mass functions when
    ``z`` is an integer symbol) of ``z`` on ``[a, b]``. ``.doit()`` gives the
    definition :math:`\int p \,(\log p - \log q)`.
    """

    def _sympystr(self, printer: Any) -> str:
        p, q, _ = self.args
        return f"KL({printer._print(p)} || {printer._print(q)})"

    def _latex(self, printer: LatexPrinter) -> str:
        p, q, _ = self.args
        return (
            r"\mathrm{KL}\left("
            + _label(printer, p)
            + r" \,\middle\|\, "
            + _label(printer, q)
            + r"\right)"
        )


class CrossEntropy(_BinaryOp):
    r"""Cross-entropy :math:`H(p, q) = -\int p \log q`."""

    def _sympystr(self, printer: Any) -> str:
        p, q, _ = self.args
        return f"H({printer._print(p)}, {printer._print(q)})"

    def _latex(self, printer: LatexPrinter) -> str:
        p, q, _ = self.args
        return r"H\left(" + _label(printer, p) + ", " + _label(printer, q) + r"\right)"


class Entropy(_InfoOp):
    r"""Entropy :math:`H(p) = -\int p \log p`."""

    nargs = 2

    @classmethod
    def eval(cls, p: Any, limits: Any) -> None:
        return None

    def __new__(cls, p: Any, var: Any, **kwargs: Any) -> Any:
        return super().__new__(cls, p, _limits(var), **kwargs)

    def _sympystr(self, printer: Any) -> str:
        return f"H({printer._print(self.args[0])})"

    def _latex(self, printer: LatexPrinter) -> str:
        return r"H\left(" + _label(printer, self.args[0]) + r"\right)"


class Expectation(_BinaryOp):
    r"""Expectation :math:`\mathbb{E}_{p}[f]`: ``Expectation(f, p, (z, a, b))``."""

    def _sympystr(self, printer: Any) -> str:
        f, p, _ = self.args
        return f"E_{printer._print(p)}[{printer._print(f)}]"

    def _latex(self, printer: LatexPrinter) -> str:
        f, p, _ = self.args
        return (
            r"\mathbb{E}_{" + _label(printer, p) + r"}\left[" + str(printer._print(f)) + r"\right]"
        )


def defining_form(op: Any) -> Any:
    """Rewrite one operator to its defining integral or sum (not evaluated)."""
    if isinstance(op, KL):
        p, q, lim = op.args
        return _aggregate(p * (sp.log(p) - sp.log(q)), lim)
    if isinstance(op, CrossEntropy):
        p, q, lim = op.args
        return -_aggregate(p * sp.log(q), lim)
    if isinstance(op, Entropy):
        p, lim = op.args
        return -_aggregate(p * sp.log(p), lim)
    if isinstance(op, Expectation):
        f, p, lim = op.args
        return _aggregate(p * f, lim)
    raise TypeError(f"not an information operator: {op!r}")


def unfold(expr: Any) -> Any:
    """Replace every :class:`Labelled` density by its formula."""
    if not isinstance(expr, sp.Basic):
        return expr
    return expr.replace(lambda e: isinstance(e, Labelled), lambda e: e.args[1])


def rewrite_operators(expr: Any) -> Any:
    """Replace every information operator by its defining integral or sum."""
    if not isinstance(expr, sp.Basic):
        return expr
    return expr.replace(lambda e: isinstance(e, _InfoOp), defining_form)


# --------------------------------------------------------------------------- display

_DISPLAY: dict[str, tuple[str, str]] = {}


def density(name: str, latex: str, text: str | None = None) -> Any:
    r"""An abstract (undefined) positive density, printed with a readable name.

    ``density("p_post", "p", "p(z|x)")`` gives a SymPy function ``p_post`` that is
    positive (so logarithms of products expand) and prints as ``p`` in LaTeX.
    Arguments are joined with ``|`` when ``latex`` ends with ``|``: e.g.
    ``density("p_lik", "p|")(x, z)`` prints :math:`p(x \\mid z)`.
    """
    _DISPLAY[name] = (latex, text or name)
    return sp.Function(name, positive=True)


class KLPrinter(LatexPrinter):
    """LaTeX printer that knows the display names of abstract densities."""

    def _print_Function(self, expr: Any, exp: Any = None) -> str:
        name = getattr(expr.func, "__name__", "")
        if name in _DISPLAY:
            symbol, _ = _DISPLAY[name]
            args = [str(self._print(a)) for a in expr.args]
            if symbol.endswith("|") and len(args) == 2:
                inner = f"{args[0]} \\mid {args[1]}"
                symbol = symbol[:-1]
            else:
                inner = ", ".join(args)
            out = f"{symbol}\\left({inner}\\right)"
            return f"{out}^{{{exp}}}" if exp is not None else out
        return str(super()._print_Function(expr, exp))

    def _print_Symbol(self, expr: Any, style: str = "plain") -> str:
        r"""A name already written in LaTeX (``A(\eta_p)``) is printed as written.

        SymPy would read ``_`` in it as a subscript and print ``A(\eta_{p)}``.

        Examples
        --------
        >>> import sympy as sp
        >>> latex(sp.Symbol(r"A(\eta_p)")), latex(sp.Symbol("sigma_1"))
        ('A(\\eta_p)', '\\sigma_{1}')
        """
        if "\\" in expr.name or "(" in expr.name:
            return str(expr.name)
        return str(super()._print_Symbol(expr, style))

    def _print_polygamma(self, expr: Any, exp: Any = None) -> str:
        r"""Digamma as :math:`\psi(x)`, higher orders as :math:`\psi^{(n)}(x)`.

        SymPy turns ``digamma(x)`` into ``polygamma(0, x)`` and prints that as the
        word "polygamma"; the literature writes :math:`\psi`.

        Examples
        --------
        >>> import sympy as sp
        >>> x = sp.Symbol("x")
        >>> latex(sp.digamma(x)), latex(sp.polygamma(1, x) ** 2)
        ('\\psi\\left(x\\right)', '\\left(\\psi^{(1)}\\left(x\\right)\\right)^{2}')
        """
        order, arg = expr.args
        head = r"\psi" if order == 0 else rf"\psi^{{({self._print(order)})}}"
        out = rf"{head}\left({self._print(arg)}\right)"
        return rf"\left({out}\right)^{{{exp}}}" if exp is not None else out


class KLStrPrinter(StrPrinter):
    """Plain-text printer that knows the display names of abstract densities."""

    def _print_Function(self, expr: Any) -> str:
        name = getattr(expr.func, "__name__", "")
        if name in _DISPLAY:
            symbol = _DISPLAY[name][0].replace("\\", "").replace("{", "").replace("}", "")
            args = [str(self._print(a)) for a in expr.args]
            if symbol.endswith("|") and len(args) == 2:
                return f"{symbol[:-1]}({args[0]} | {args[1]})"
            return f"{symbol}({', '.join(args)})"
        return str(super()._print_Function(expr))


def text(expr: Any) -> str:
    """Plain text of ``expr`` with klproof's display names."""
    return str(KLStrPrinter().doprint(expr))


def latex(expr: Any, **settings: Any) -> str:
    """LaTeX of ``expr`` with klproof's display names."""
    return str(KLPrinter(settings).doprint(expr))
