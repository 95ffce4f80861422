"""Derivations as data: ordered, checked chains of SymPy expressions."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sympy as sp

from klproof.derivation.checks import (
    Algebra,
    Check,
    Claim,
    Context,
    Outcome,
    Relation,
    Status,
)
from klproof.derivation.ops import latex, text

__all__ = ["Derivation", "Hypothesis", "Report", "Step", "StepResult"]

_LATEX_REL = {"=": "=", ">=": r"\ge", "<=": r"\le"}
_TEXT_REL = {"=": "=", ">=": ">=", "<=": "<="}


@dataclass(frozen=True)
class Step:
    """One link of a derivation.

    Parameters
    ----------
    rhs
        The expression this step arrives at.
    reason
        Why it holds, written for a reader.
    check
        How the machine establishes it (default: :class:`~klproof.derivation.Algebra`).
    lhs
        If given, the step starts a new chain and claims ``lhs relation rhs``;
        otherwise it continues the current chain and claims ``previous relation rhs``.
    relation
        ``"="``, ``">="`` or ``"<="``.
    label
        Optional equation label (used by the docs for cross-references).
    """

    rhs: Any
    reason: str
    check: Check = field(default_factory=Algebra)
    lhs: Any = None
    relation: Relation = "="
    label: str | None = None


@dataclass(frozen=True)
class Hypothesis:
    """An assumption about abstract objects, stated as an equation (not checked)."""

    equation: Any
    text: str


@dataclass(frozen=True)
class StepResult:
    """The verdict on one step, with its timing."""

    index: int
    status: Status
    seconds: float
    detail: str
    residual: Any
    reason: str
    claim: Claim

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "index": self.index,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "reason": self.reason,
            "detail": self.detail,
            "residual": None if self.residual is None else sp.sstr(self.residual),
        }


@dataclass(frozen=True)
class Report:
    """Per-step verification report of a derivation."""

    name: str
    title: str
    steps: tuple[StepResult, ...]
    seconds: float

    @property
    def status(self) -> Status:
        """``failed`` if any step failed, else ``unchecked`` if any was, else ``ok``."""
        statuses = {s.status for s in self.steps}
        if "failed" in statuses:
            return "failed"
        if "unchecked" in statuses:
            return "unchecked"
        return "ok"

    @property
    def ok(self) -> bool:
        """Whether every step was established."""
        return self.status == "ok"

    def count(self, status: Status) -> int:
        """Number of steps with ``status``."""
        return sum(1 for s in self.steps if s.status == status)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: name, status, seconds and the steps."""
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "steps": [s.to_dict() for s in self.steps],
        }

    def __str__(self) -> str:
        lines = [f"{self.name}: {self.status} ({len(self.steps)} steps, {self.seconds:.2f} s)"]
        for s in self.steps:
            if s.status == "ok":
                continue
            lines.append(f"  step {s.index + 1} {s.status}: {s.reason}")
            lines.append(f"    claim: {_claim_text(s.claim)}")
            if s.detail:
                lines.append(f"    {s.detail}")
            if s.residual is not None:
                lines.append(f"    residual: {sp.sstr(s.residual)}")
        return "\n".join(lines)


def _claim_text(claim: Claim) -> str:
    return f"{text(claim.lhs)} {_TEXT_REL[claim.relation]} {text(claim.rhs)}"


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`_Timeout` after ``seconds`` of CPU time (main thread on POSIX only).

    CPU time, not wall time: a verdict must not depend on how busy the machine is (a
    step that takes 15 s alone took over 120 s of wall time at a load average of 10).
    Nested limits (a step citing another derivation) keep the outer budget running.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "SIGPROF")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Timeout

    outer, _ = signal.getitimer(signal.ITIMER_PROF)
    budget = float(seconds) if not outer else min(float(seconds), outer)  # type: ignore[arg-type]  # None ruled out above
    previous = signal.signal(signal.SIGPROF, handler)
    start = time.process_time()
    signal.setitimer(signal.ITIMER_PROF, budget)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        if outer:
            # give the enclosing limit what is left of it (at least a tick, so it fires)
            left = outer - (time.process_time() - start)
            signal.setitimer(signal.ITIMER_PROF, max(left, 1e-3))


@dataclass(frozen=True, eq=False)
class Derivation:
    """A derivation: explicit assumptions and an ordered chain of checked steps.

    Parameters
    ----------
    name
        Stable identifier, e.g. ``"identity/cross-entropy"``.
    title
        Human title.
    steps
        The steps, in order. The first step must have a ``lhs``.
    symbols
        The symbols it is about; their SymPy assumptions (``positive=True``, …)
        are the derivation's domain assumptions and are shown to readers.
    hypotheses
        Assumptions about abstract objects (e.g. "q is normalised"), as equations.
    conditions
        Further relations assumed between symbols (e.g. ``a < b``).
    summary
        A paragraph for readers.
    references
        Sources, as citation strings.

    Examples
    --------
    >>> import sympy as sp
    >>> from klproof.derivation import Derivation, Step, Evaluate
    >>> x = sp.Symbol("x", positive=True)
    >>> d = Derivation(
    ...     name="demo/square",
    ...     title="A square",
    ...     symbols=(x,),
    ...     steps=(
    ...         Step(lhs=(x + 1) ** 2, rhs=x**2 + 2 * x + 1, reason="expand the square"),
    ...         Step(rhs=sp.Integral(2 * x, x) + 2 * x + 1, reason="x^2 is the integral of 2x",
    ...              check=Evaluate()),
    ...     ),
    ... )
    >>> d.verify().status
    'ok'
    >>> d.result
    Eq((x + 1)**2, 2*x + Integral(2*x, x) + 1)
    """

    name: str
    title: str
    steps: tuple[Step, ...]
    symbols: tuple[Any, ...] = ()
    hypotheses: tuple[Hypothesis, ...] = ()
    conditions: tuple[Any, ...] = ()
    summary: str = ""
    references: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    _cache: dict[str, Report] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"derivation {self.name!r} has no steps")
        if self.steps[0].lhs is None:
            raise ValueError(f"derivation {self.name!r}: the first step needs a lhs")

    # ------------------------------------------------------------------ claims

    def claims(self) -> list[Claim]:
        """The claim each step makes, in order."""
        claims: list[Claim] = []
        previous: Any = None
        for step in self.steps:
            lhs = step.lhs if step.lhs is not None else previous
            claims.append(Claim(lhs, step.rhs, step.relation))
            previous = step.rhs
        return claims

    def _chain_start(self, index: int) -> int:
        while self.steps[index].lhs is None:
            index -= 1
        return index

    @property
    def lhs(self) -> Any:
        """Left side of the final statement (start of the last chain)."""
        return self.steps[self._chain_start(len(self.steps) - 1)].lhs

    @property
    def rhs(self) -> Any:
        """Right side of the final statement: the result to reuse."""
        return self.steps[-1].rhs

    @property
    def relation(self) -> Relation:
        """Relation of the final statement (``=`` unless an inequality step occurs)."""
        start = self._chain_start(len(self.steps) - 1)
        rels = {s.relation for s in self.steps[start:]} - {"="}
        if len(rels) > 1:
            raise ValueError(f"derivation {self.name!r} mixes >= and <= in one chain")
        return rels.pop() if rels else "="

    @property
    def result(self) -> Any:
        """The final statement as a SymPy relation (``Eq``, ``Ge`` or ``Le``)."""
        cls = {"=": sp.Eq, ">=": sp.Ge, "<=": sp.Le}[self.relation]
        return cls(self.lhs, self.rhs, evaluate=False)

    def chain_results(self) -> list[Any]:
        """Every chain's statement ``start = end`` (lemmas first, the result last)."""
        out = []
        for i, step in enumerate(self.steps):
            last = i == len(self.steps) - 1 or self.steps[i + 1].lhs is not None
            if last:
                start = self.steps[self._chain_start(i)].lhs
                out.append(sp.Eq(start, step.rhs, evaluate=False))
        return out

    # ------------------------------------------------------------------ reuse

    def subs(self, *args: Any, **kwargs: Any) -> Any:
        """Substitute into the result expression (``rhs``)."""
        return self.rhs.subs(*args, **kwargs)

    def lambdify(self, args: Sequence[Any], modules: Any = "numpy") -> Callable[..., Any]:
        """Numeric function of the result (``rhs``) of ``args``."""
        return sp.lambdify(args, self.rhs, modules=modules)  # type: ignore[no-any-return]  # SymPy is untyped

    def with_step(self, index: int, rhs: Any) -> Derivation:
        """A copy with step ``index`` arriving at ``rhs`` instead (for corruption tests)."""
        steps = list(self.steps)
        steps[index] = replace(steps[index], rhs=rhs)
        return replace(self, steps=tuple(steps), _cache={})

    # ------------------------------------------------------------------ verify

    def verify(self, *, timeout: float | None = 120.0) -> Report:
        """Check every step and return a :class:`Report` (cached per object).

        Parameters
        ----------
        timeout
            CPU seconds allowed per step; a step that runs out is ``unchecked``.
        """
        if "report" in self._cache:
            return self._cache["report"]
        context = Context(
            conditions=tuple(self.conditions),
            hypotheses=tuple(h.equation for h in self.hypotheses),
        )
        results = []
        start_all = time.perf_counter()
        for i, claim in enumerate(self.claims()):
            result = self._run_step(i, claim, context, timeout)
            results.append(result)
            if result.status == "ok" and claim.relation == "=":
                chain_start = self.steps[self._chain_start(i)].lhs
                context.established.append(sp.Eq(claim.lhs, claim.rhs, evaluate=False))
                context.established.append(sp.Eq(chain_start, claim.rhs, evaluate=False))
        report = Report(self.name, self.title, tuple(results), time.perf_counter() - start_all)
        self._cache["report"] = report
        return report

    def check_step(self, index: int, *, timeout: float | None = 120.0) -> StepResult:
        """Check step ``index`` alone, taking the claims before it as established.

        Cheaper than :meth:`verify` when only one step changed (corruption tests).
        """
        context = Context(
            conditions=tuple(self.conditions),
            hypotheses=tuple(h.equation for h in self.hypotheses),
        )
        claims = self.claims()
        for i in range(index):
            if claims[i].relation == "=":
                start = self.steps[self._chain_start(i)].lhs
                context.established.append(sp.Eq(claims[i].lhs, claims[i].rhs, evaluate=False))
                context.established.append(sp.Eq(start, claims[i].rhs, evaluate=False))
        return self._run_step(index, claims[index], context, timeout)

    def _run_step(
        self, index: int, claim: Claim, context: Context, timeout: float | None
    ) -> StepResult:
        step = self.steps[index]
        start = time.perf_counter()
        try:
            with _time_limit(timeout):
                outcome = step.check.run(claim, context)
        except _Timeout:
            outcome = Outcome("unchecked", f"check did not finish within {timeout} s of CPU time")
        except Exception as exc:  # a crashing check is not a pass
            outcome = Outcome("unchecked", f"check raised {type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - start
        return StepResult(
            index, outcome.status, elapsed, outcome.detail, outcome.residual, step.reason, claim
        )

    # ------------------------------------------------------------------ render

    def assumption_lines(self, fmt: str = "latex") -> list[str]:
        """Readable assumptions: symbol domains, conditions, hypotheses."""
        lines = []
        for s in self.symbols:
            lines.append(_domain(s, fmt))
        for c in self.conditions:
            lines.append(latex(c) if fmt == "latex" else text(c))
        for h in self.hypotheses:
            eq = latex(h.equation) if fmt == "latex" else text(h.equation)
            lines.append(
                f"{eq} \\quad \\text{{({h.text})}}" if fmt == "latex" else f"{eq}  ({h.text})"
            )
        return lines

    def rows(self) -> list[tuple[str, str, str, Step]]:
        """LaTeX rows ``(lhs or "", relation, rhs, step)``; one relation per row."""
        out = []
        for step in self.steps:
            lhs = "" if step.lhs is None else latex(step.lhs)
            out.append((lhs, _LATEX_REL[step.relation], latex(step.rhs), step))
        return out

    def to_latex(self) -> str:
        """The whole chain as one ``aligned`` block, one relation per row."""
        body: list[str] = []
        for lhs, rel, rhs, step in self.rows():
            tag = f" && \\text{{({_short(step.reason)})}}" if step.reason else ""
            if lhs and body:
                body.append(r"\\[4pt]")
            body.append(f"{lhs} &{rel} {rhs}{tag} \\\\")
        return "\\begin{aligned}\n" + "\n".join(body).rstrip("\\ \n") + "\n\\end{aligned}"

    def to_text(self) -> str:
        """Plain-text rendering: title, assumptions, then numbered steps with reasons."""
        lines = [f"{self.title}  [{self.name}]"]
        assumptions = self.assumption_lines("text")
        if assumptions:
            lines.append("Assumptions: " + "; ".join(assumptions))
        width = max(len(text(s.lhs)) for s in self.steps if s.lhs is not None)
        for i, step in enumerate(self.steps, 1):
            lhs = text(step.lhs) if step.lhs is not None else ""
            rel = _TEXT_REL[step.relation]
            lines.append(f"{i:>3}. {lhs:>{min(width, 40)}} {rel} {text(step.rhs)}")
            lines.append(f"       because {step.reason} [{step.check.describe()}]")
        return "\n".join(lines)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _domain(symbol: Any, fmt: str) -> str:
    name = latex(symbol) if fmt == "latex" else str(symbol)
    if symbol.is_integer:
        if symbol.is_positive:
            return f"{name} \\in \\mathbb{{N}}_{{>0}}" if fmt == "latex" else f"{name} integer > 0"
        if symbol.is_nonnegative:
            return f"{name} \\in \\mathbb{{N}}" if fmt == "latex" else f"{name} integer >= 0"
        return f"{name} \\in \\mathbb{{Z}}" if fmt == "latex" else f"{name} integer"
    if symbol.is_positive:
        return f"{name} > 0"
    if symbol.is_nonnegative:
        return f"{name} \\ge 0" if fmt == "latex" else f"{name} >= 0"
    if symbol.is_negative:
        return f"{name} < 0"
    if symbol.is_real:
        return f"{name} \\in \\mathbb{{R}}" if fmt == "latex" else f"{name} real"
    return f"{name}"
