"""The ``kl-catalogue`` directive: every registered KL pair, from the registries.

For each pair of :func:`klproof.symbolic.kl.pairs`: the families and their
parameters, the closed form, when it is finite, the conditions assumed, links to the
pair's derivation and to each independent route, the numeric function registered
for it (from :func:`klproof.registered_pairs`) and the sources. Nothing is typed
by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from docutils import nodes
from docutils.nodes import make_id
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

import klproof
import klproof.numeric
from klproof.derivation.ops import latex
from klproof.sphinxext._directives import derivation_link
from klproof.sphinxext._render import MAX_ROW_WIDTH, split_sum, visual_width
from klproof.symbolic.kl import pairs
from klproof.symbolic.kl.mismatch import mismatched

__all__ = ["KLCatalogueDirective", "pair_lhs_latex"]


def _family_title(name: str) -> str:
    """The numeric class name of a family (``multivariatenormal`` → ``MultivariateNormal``).

    Examples
    --------
    >>> _family_title("multivariatenormal"), _family_title("normal")
    ('MultivariateNormal', 'Normal')
    """
    classes = {
        cls.__name__.lower(): cls.__name__
        for cls in vars(klproof.numeric).values()
        if isinstance(cls, type) and issubclass(cls, klproof.numeric.Distribution)
    }
    return classes.get(name.replace("-", ""), name.capitalize())


def pair_lhs_latex(pair: Any) -> str:
    r"""Return the LaTeX of ``KL(P(params_1) ‖ Q(params_2))`` for a catalogue pair.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import sympy as sp
    >>> mu, s = sp.symbols("mu_1 sigma_1")
    >>> pair = SimpleNamespace(p="normal", q="normal", p_params={"loc": mu, "scale": s},
    ...                        q_params={"loc": mu, "scale": s})
    >>> pair_lhs_latex(pair)
    '\\mathrm{KL}\\bigl(\\mathrm{Normal}(\\mu_{1}, \\sigma_{1}) \\,\\|\\, \\mathrm{Normal}(\\mu_{1}, \\sigma_{1})\\bigr)'
    """
    p_args = ", ".join(latex(v) for v in pair.p_params.values())
    q_args = ", ".join(latex(v) for v in pair.q_params.values())
    p = rf"\mathrm{{{_family_title(pair.p)}}}({p_args})"
    q = rf"\mathrm{{{_family_title(pair.q)}}}({q_args})"
    return rf"\mathrm{{KL}}\bigl({p} \,\|\, {q}\bigr)"


def _closed_form_latex(pair: Any) -> str:
    lhs = pair_lhs_latex(pair)
    pieces = split_sum(pair.expression, MAX_ROW_WIDTH)
    lines = [lhs, "{}= " + pieces[0], *(rf"\quad {piece}" for piece in pieces[1:])]
    if visual_width(" ".join(lines)) <= MAX_ROW_WIDTH:
        return " ".join(lines).replace("{}= ", "= ")
    return "\\begin{aligned}\n" + " \\\\\n".join(f"& {line}" for line in lines) + "\n\\end{aligned}"


def _numeric_entries() -> dict[str, Any]:
    return {entry.derivation_id: entry for entry in klproof.registered_pairs()}


class KLCatalogueDirective(SphinxDirective):
    """Render the catalogue of closed-form KL pairs (one block per pair)."""

    has_content = False
    required_arguments = 0
    optional_arguments = 0
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {}

    def run(self) -> list[nodes.Node]:
        """Build a summary table and one block per pair."""
        numeric = _numeric_entries()
        out: list[nodes.Node] = [self._summary(pairs(), numeric)]
        for pair in pairs():
            out.append(self._pair(pair, numeric.get(pair.id)))
        out.extend(self._infinite())
        return out

    def _infinite(self) -> list[nodes.Node]:
        """The family pairs whose KL is +inf for every parameter value, by p's family."""
        by_p: dict[str, list[str]] = {}
        for p, q in sorted(mismatched()):
            by_p.setdefault(p, []).append(q)
        title = "KL = +∞ for every parameter value"
        section: list[nodes.Node] = [nodes.rubric(title, title, classes=["klproof-pair-title"])]
        intro = (
            f"{sum(map(len, by_p.values()))} family pairs, found by comparing the two "
            "supports at symbolic parameters: a set with positive mass under p and none "
            "under q, checked by the support-mismatch rule (one-step derivations "
            "kl/<p>/<q>; follow a link to read one). klproof.kl_divergence returns inf "
            "for each of them."
        )
        section.append(nodes.paragraph(intro, intro))
        table = nodes.table(classes=["klproof-catalogue-summary"])
        group = nodes.tgroup(cols=2)
        table += group
        for width in (25, 75):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += _row(["p", "q with KL(p ‖ q) = +∞"])
        body = nodes.tbody()
        group += body
        for p, qs in by_p.items():
            links = nodes.paragraph()
            for i, q in enumerate(qs):
                if i:
                    links += nodes.Text(", ")
                links += derivation_link(self.env, f"kl/{p}/{q}", _family_title(q))
            body += _row([_family_title(p), links])
        section.append(table)
        return section

    def _summary(self, all_pairs: list[Any], numeric: dict[str, Any]) -> nodes.table:
        table = nodes.table(classes=["klproof-catalogue-summary"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (40, 30, 30):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += _row(["p ‖ q", "numeric", "routes"])
        body = nodes.tbody()
        group += body
        for pair in all_pairs:
            anchor = make_id(f"kl-{pair.p}-{pair.q}")
            title = f"{_family_title(pair.p)} ‖ {_family_title(pair.q)}"
            ref = nodes.reference("", "", internal=True, refid=anchor)
            ref += nodes.Text(title)
            entry = numeric.get(pair.id)
            body += _row(
                [
                    nodes.paragraph("", "", ref),
                    "kl_divergence" if entry is not None else "—",
                    str(len(pair.routes)),
                ]
            )
        return table

    def _pair(self, pair: Any, entry: Any) -> nodes.container:
        title = f"{_family_title(pair.p)} ‖ {_family_title(pair.q)}"
        box = nodes.container(classes=["klproof-pair"], ids=[make_id(f"kl-{pair.p}-{pair.q}")])
        box += nodes.rubric(title, title, classes=["klproof-pair-title"])
        block = nodes.math_block("", _closed_form_latex(pair), nowrap=False, number=None)
        block["docname"] = self.env.docname
        block["label"] = None
        block["no-wrap"] = False
        box += block

        fields = nodes.field_list(classes=["klproof-pair-fields"])
        params = nodes.paragraph()
        named = [
            *((f"p.{k}", v) for k, v in pair.p_params.items()),
            *((f"q.{k}", v) for k, v in pair.q_params.items()),
        ]
        for i, (name, symbol) in enumerate(named):
            if i:
                params += nodes.Text(", ")
            params += nodes.literal(name, name)
            params += nodes.Text(" = ")
            params += nodes.math(latex(symbol), latex(symbol))
        fields += _field("Parameters", params)
        if pair.conditions:
            fields += _field("Assumes", _math_list([latex(c) for c in pair.conditions]))
        finite = [latex(c) for c in pair.finite_when]
        fields += _field(
            "Finite when",
            _math_list(finite) if finite else nodes.paragraph(text="always (for valid parameters)"),
        )
        derivations = nodes.paragraph()
        derivations += derivation_link(self.env, pair.id, literal=True)
        derivations += nodes.Text(" citing ")
        for i, route in enumerate(pair.routes):
            if i:
                derivations += nodes.Text(", ")
            derivations += derivation_link(self.env, route, route.rsplit("/", 1)[-1])
        fields += _field("Derivations", derivations)
        if entry is not None:
            para = nodes.paragraph()
            para += _pyref("func", "klproof.kl_divergence")
            para += nodes.Text(" for ")
            para += _pyref("class", f"klproof.{entry.p.__name__}")
            para += nodes.Text(", ")
            para += _pyref("class", f"klproof.{entry.q.__name__}")
            fields += _field("Numeric", para)
        else:
            fields += _field("Numeric", nodes.paragraph(text="not registered"))
        if pair.sources:
            sources = nodes.bullet_list()
            for source in pair.sources:
                item = nodes.list_item()
                item += nodes.paragraph(source, source)
                sources += item
            fields += _field("Sources", sources)
        if pair.notes:
            fields += _field("Notes", nodes.paragraph(pair.notes, pair.notes))
        box += fields
        return box


def _row(cells: list[Any]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += cell if isinstance(cell, nodes.Element) else nodes.paragraph(cell, cell)
        row += entry
    return row


def _field(name: str, body: nodes.Node) -> nodes.field:
    field = nodes.field()
    field += nodes.field_name(name, name)
    content = nodes.field_body()
    content += body
    field += content
    return field


def _math_list(items: list[str]) -> nodes.paragraph:
    para = nodes.paragraph()
    for i, item in enumerate(items):
        if i:
            para += nodes.Text(", ")
        para += nodes.math(item, item)
    return para


def _pyref(kind: str, target: str) -> addnodes.pending_xref:
    ref = addnodes.pending_xref(
        "", refdomain="py", reftype=kind, reftarget=target, refexplicit=False, refwarn=True
    )
    text = target + ("()" if kind == "func" else "")
    ref += nodes.literal(text, text, classes=["xref", "py", f"py-{kind}"])
    return ref
