"""The ``derivation`` directive and role, and the ``derivation-index`` table."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, ClassVar, cast

from docutils import nodes
from docutils.nodes import make_id
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

from klproof.derivation import Derivation, Report
from klproof.derivation.ops import latex
from klproof.sphinxext._render import (
    derivation_rows,
    page_label,
    result_label,
    result_latex,
    step_label,
)
from klproof.sphinxext._verify import adopted_report, cited_name
from klproof.symbolic import registry

__all__ = [
    "DerivationDirective",
    "DerivationIndexDirective",
    "DerivationRole",
    "fill_derivation_index",
    "load_derivation",
    "record",
]

logger = logging.getLogger(__name__)

_STATUS_TEXT = {"ok": "verified", "failed": "FAILED", "unchecked": "unchecked"}
_STATUS_MARK = {"ok": "✓", "failed": "✗", "unchecked": "?"}


class DerivationLookupError(LookupError):
    """A directive or role names no derivation that can be loaded."""


def load_derivation(spec: str) -> Derivation:
    """Load the derivation a directive argument names.

    ``spec`` is a registered name (``identity/cross-entropy``) or an import path
    ``package.module:attribute`` to a :class:`~klproof.derivation.Derivation` or a
    zero-argument callable returning one.
    """
    if ":" in spec:
        module_name, _, attribute = spec.partition(":")
        try:
            target: Any = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise DerivationLookupError(f"cannot import {spec!r}: {exc}") from exc
        if callable(target) and not isinstance(target, Derivation):
            try:
                target = target()
            except Exception as exc:  # reported where the derivation is shown
                raise DerivationLookupError(
                    f"{spec!r} could not be built: {type(exc).__name__}: {exc}"
                ) from exc
        if not isinstance(target, Derivation):
            raise DerivationLookupError(f"{spec!r} is not a Derivation")
        return target
    try:
        return registry.get(spec)
    except registry.UnknownDerivationError as exc:
        raise DerivationLookupError(str(exc)) from exc
    except Exception as exc:  # a factory that crashes is reported where it is shown
        raise DerivationLookupError(
            f"derivation {spec!r} could not be built: {type(exc).__name__}: {exc}"
        ) from exc


def is_registered(name: str) -> bool:
    """Tell whether ``name`` is in the derivation registry (and so has a page)."""
    return name in registry.names()


def text_with_math(text: str) -> list[nodes.Node]:
    r"""Plain text in which ``$...$`` spans are inline math (for reasons, summaries).

    Examples
    --------
    >>> [n.astext() for n in text_with_math(r"substitute $x = e^u$ here")]
    ['substitute ', 'x = e^u', ' here']
    """
    parts = text.split("$")
    if len(parts) % 2 == 0:  # an unpaired $: show the text as it is
        return [nodes.Text(text)]
    out: list[nodes.Node] = []
    for i, part in enumerate(parts):
        if not part:
            continue
        out.append(nodes.math(part, part) if i % 2 else nodes.Text(part))
    return out


def _status_badge(status: str, text: str | None = None) -> nodes.inline:
    label = f"{_STATUS_MARK[status]} {text or _STATUS_TEXT[status]}"
    return nodes.inline(label, label, classes=["klproof-status", f"klproof-status-{status}"])


def _seconds(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def derivation_link(
    env: Any, name: str, text: str | None = None, *, literal: bool = False
) -> nodes.Node:
    """Link to the generated page of derivation ``name`` (or show it as plain text).

    Links only when the site generates derivation pages and ``name`` is registered;
    otherwise the name is shown unlinked.
    """
    inner: nodes.TextElement
    label = text or name
    inner = nodes.literal(label, label) if literal else nodes.inline(label, label)
    if not (env.config.klproof_derivation_pages and is_registered(name)):
        return inner
    ref = addnodes.pending_xref(
        "",
        refdomain="std",
        reftype="ref",
        reftarget=page_label(name),
        refexplicit=True,
        refwarn=True,
    )
    ref += inner
    return ref


class DerivationDirective(SphinxDirective):
    """Render a derivation: summary, assumptions, checked steps, result, sources.

    The argument is a registered name or ``module:attribute``. Verification runs at
    build time; a failed step is an error located at the directive.

    Options
    -------
    no-title
        Omit the title (a page whose heading already is the title).
    no-labels
        Register no equation labels (for a second rendering of the same derivation).
    class
        Extra CSS classes for the container.
    """

    has_content = False
    required_arguments = 1
    optional_arguments = 0
    final_argument_whitespace = False
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        "no-title": directives.flag,
        "no-labels": directives.flag,
        "class": directives.class_option,
    }

    def run(self) -> list[nodes.Node]:
        """Build the nodes (and verify the derivation)."""
        spec = self.arguments[0]
        try:
            derivation = load_derivation(spec)
        except DerivationLookupError as exc:
            logger.error("derivation: %s", exc, location=self.get_location())
            return []
        # Verified in this build: on all cores before reading began, or now.
        report = adopted_report(derivation) or derivation.verify()
        record(self.env, derivation, report, home="no-labels" not in self.options)
        if report.status == "failed":
            logger.error(
                "derivation %s does not verify:\n%s",
                derivation.name,
                report,
                location=self.get_location(),
                type="klproof",
                subtype="derivation",
            )
        elif report.status == "unchecked" and self.config.klproof_warn_unchecked:
            logger.warning(
                "derivation %s has unchecked steps:\n%s",
                derivation.name,
                report,
                location=self.get_location(),
                type="klproof",
                subtype="unchecked",
            )

        container = nodes.container(
            classes=["klproof-derivation", *self.options.get("class", [])],
            ids=[make_id(f"klproof-{derivation.name}")],
        )
        self.set_source_info(container)
        if "no-title" not in self.options:
            container += nodes.rubric(derivation.title, derivation.title)
        if derivation.summary:
            summary = nodes.paragraph(classes=["klproof-summary"])
            summary.extend(text_with_math(derivation.summary))
            container += summary
        container += self._meta(derivation, report)

        assumptions = derivation.assumption_lines("latex")
        if assumptions:
            container += self._rubric("Assumptions")
            items = nodes.bullet_list(classes=["klproof-assumptions"])
            # Domains and conditions are formulas; a hypothesis is a formula and a
            # sentence, set as text so that it wraps (inside math it cannot).
            plain = assumptions[: len(assumptions) - len(derivation.hypotheses)]
            for line in plain:
                item = nodes.list_item()
                item += nodes.paragraph("", "", nodes.math(line, line))
                items += item
            for hypothesis in derivation.hypotheses:
                item = nodes.list_item()
                equation = latex(hypothesis.equation)
                para = nodes.paragraph("", "", nodes.math(equation, equation))
                para += nodes.Text(" — ")
                para.extend(text_with_math(hypothesis.text))
                item += para
                items += item
            container += items

        container += self._rubric("Steps")
        container += self._steps(derivation, report)

        # The result is worth restating only when the last chain has several steps.
        label = None if "no-labels" in self.options else result_label(derivation.name)
        last = derivation.steps[-1]
        if last.lhs is None:
            container += self._rubric("Result")
            container.extend(self._math_block(result_latex(derivation), label, ["klproof-result"]))

        if derivation.references:
            container += self._rubric("Sources")
            sources = nodes.bullet_list(classes=["klproof-references"])
            for reference in derivation.references:
                item = nodes.list_item()
                item += nodes.paragraph(reference, reference)
                sources += item
            container += sources
        return [container]

    # ------------------------------------------------------------------ pieces

    def _paragraph(self, text: str, cls: str) -> nodes.paragraph:
        return nodes.paragraph(text, text, classes=[cls])

    def _rubric(self, text: str) -> nodes.rubric:
        return nodes.rubric(text, text, classes=["klproof-rubric"])

    def _meta(self, derivation: Derivation, report: Report) -> nodes.paragraph:
        para = nodes.paragraph(classes=["klproof-meta"])
        steps = len(report.steps)
        ok = report.count("ok")
        para += _status_badge(report.status)
        para += nodes.Text(
            f" {ok} of {steps} steps checked by SymPy in {_seconds(report.seconds)} · "
        )
        para += nodes.literal(derivation.name, derivation.name)
        uses = [name for name in derivation.uses if name != derivation.name]
        if uses:
            para += nodes.Text(" · uses ")
            for i, name in enumerate(uses):
                if i:
                    para += nodes.Text(", ")
                para += derivation_link(self.env, name, literal=True)
        return para

    def _steps(self, derivation: Derivation, report: Report) -> nodes.enumerated_list:
        steps = nodes.enumerated_list(classes=["klproof-steps"], enumtype="arabic")
        for row, result in zip(derivation_rows(derivation), report.steps, strict=True):
            item = nodes.list_item(classes=["klproof-step", f"klproof-step-{result.status}"])
            label = None
            if "no-labels" not in self.options:
                if row.step.label:
                    label = step_label(derivation.name, row.step.label)
                elif row.index == len(derivation.steps) - 1 and row.step.lhs is not None:
                    label = result_label(derivation.name)  # the last row is the result
            item.extend(self._math_block(row.latex, label, ["klproof-row"]))
            reason = nodes.paragraph(classes=["klproof-reason"])
            text = row.step.reason[:1].upper() + row.step.reason[1:]
            reason.extend(text_with_math(text if text.endswith(".") else text + "."))
            item += reason
            check = nodes.paragraph(classes=["klproof-check"])
            check += _status_badge(result.status, f"{result.status}")
            check += nodes.Text(" ")
            cited = cited_name(row.step.check)
            if cited is not None:
                check += nodes.Text("by derivation ")
                check += derivation_link(self.env, cited, literal=True)
            else:
                check += nodes.Text(row.step.check.describe())
            check += nodes.Text(f" · {_seconds(result.seconds)}")
            item += check
            if result.status != "ok" and result.detail:
                item += self._paragraph(result.detail, "klproof-detail")
            steps += item
        return steps

    def _math_block(self, latex: str, label: str | None, classes: list[str]) -> list[nodes.Node]:
        node = nodes.math_block(
            latex,
            latex,
            classes=classes,
            docname=self.env.docname,
            number=None,
            label=label,
            nowrap=False,
        )
        node["no-wrap"] = False
        self.set_source_info(node)
        out: list[nodes.Node] = [node]
        if label:
            domain = cast(Any, self.env.get_domain("math"))
            domain.note_equation(self.env.docname, label, location=node)
            node["number"] = domain.get_equation_number_for(label)
            target = nodes.target("", "", ids=[make_id(f"equation-{label}")])
            self.state.document.note_explicit_target(target)
            out.insert(0, target)
        return out


class derivation_index(nodes.General, nodes.Element):
    """Placeholder for the derivation table, filled once every page has been read."""


class DerivationIndexDirective(SphinxDirective):
    """A table of the registered derivations: link, verification status, time.

    The statuses are those of the renderings on the generated pages, collected
    while the site was read (so each derivation is verified once per build).
    """

    has_content = False
    required_arguments = 0
    optional_arguments = 1
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {}

    def run(self) -> list[nodes.Node]:
        """Emit the placeholder."""
        node = derivation_index(prefix=self.arguments[0] if self.arguments else "")
        self.set_source_info(node)
        return [node]


def record(env: Any, derivation: Derivation, report: Report, *, home: bool) -> None:
    """Remember a rendered derivation's verification (for the index and re-reads).

    ``home`` marks the rendering the index links to (the one with the labels).
    """
    docs: set[str] = getattr(env, "klproof_derivation_docs", set())
    docs.add(env.docname)
    env.klproof_derivation_docs = docs
    if not home:
        return
    reports: dict[str, dict[str, Any]] = getattr(env, "klproof_reports", {})
    reports[derivation.name] = {
        "docname": env.docname,
        "title": derivation.title,
        "status": report.status,
        "ok": report.count("ok"),
        "steps": len(report.steps),
        "seconds": report.seconds,
    }
    env.klproof_reports = reports


def fill_derivation_index(app: Any, doctree: nodes.document, docname: str) -> None:
    """Replace each placeholder by the table (``doctree-resolved`` handler)."""
    reports: dict[str, dict[str, Any]] = getattr(app.env, "klproof_reports", {})
    for node in list(doctree.findall(derivation_index)):
        prefix = node["prefix"]
        table = nodes.table(classes=["klproof-index"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (64, 24, 12):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += _row([nodes.Text("Derivation"), nodes.Text("Verification"), nodes.Text("Time")])
        body = nodes.tbody()
        group += body
        for name in registry.names():
            if not name.startswith(prefix):
                continue
            info = reports.get(name)
            title = nodes.paragraph()
            if info is None:
                title += nodes.literal(name, name)
                body += _row([title, nodes.Text("not rendered"), nodes.Text("")])
                continue
            ref = nodes.reference(
                "",
                "",
                internal=True,
                refuri=app.builder.get_relative_uri(docname, info["docname"]),
            )
            ref += nodes.inline(info["title"], info["title"])
            title += ref
            title += nodes.Text(" ")
            title += nodes.literal(name, name)
            status = nodes.paragraph()
            status += _status_badge(info["status"])
            status += nodes.Text(f" {info['ok']}/{info['steps']}")
            body += _row([title, status, nodes.Text(_seconds(info["seconds"]))])
        node.replace_self(table)


def _row(cells: list[nodes.Node]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += cell if isinstance(cell, nodes.Element) else nodes.paragraph("", "", cell)
        row += entry
    return row


class DerivationRole(SphinxRole):
    """``:derivation:`name``` or ``:derivation:`text <name>```: link to its page."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        """Build the reference (warning, with location, for an unknown name)."""
        text = self.text
        title: str | None = None
        if text.endswith(">") and "<" in text:
            title, _, name = text[:-1].rpartition("<")
            title = title.strip()
        else:
            name = text.strip()
        if not is_registered(name):
            logger.warning(
                "unknown derivation %r", name, location=self.get_location(), type="klproof"
            )
            return [nodes.literal(name, name)], []
        if title is None:
            try:
                title = load_derivation(name).title
            except DerivationLookupError:
                title = name  # its own page reports the error, with location
        return [derivation_link(self.env, name, title)], []
