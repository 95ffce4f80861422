"""Verify the registered derivations on all cores before Sphinx reads the pages.

Sphinx reads pages in parallel by forking one process per chunk of about twenty
documents, in name order. Verification results (and the lemmas the symbolic layer
memoises) live in the process that computed them, so with chunks a derivation cited
from several chunks is verified in each, and a family's lemmas are derived once per
chunk that needs them; the slowest chunk, not the total, sets the build time.

Instead, while the builder starts, every registered derivation is verified here in a
pool of forked workers, one group of related derivations per task (those of one family,
or citing one another, so that shared work is done once), largest groups first. The reports come back to
the main process, so every page Sphinx forks afterwards finds its derivation already
verified in this build. A derivation that fails is not adopted: its directive verifies
it again while reading its page and fails the build there with file and line.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from typing import Any

from klproof.derivation import Cite, Derivation, Report, StepResult
from klproof.derivation.checks import Status
from klproof.symbolic import registry

__all__ = [
    "adopted_report",
    "cited_name",
    "group_key",
    "groups",
    "summary_text",
    "verify_all",
]

#: name -> (derivation object, report) verified by :func:`verify_all` in this build.
_VERIFIED: dict[str, tuple[Derivation, Report]] = {}

#: What a worker sends back per derivation: status, seconds and per-step verdicts.
_Summary = tuple[Status, float, list[tuple[Status, float, str, str | None]]]


def group_key(name: str) -> str:
    """Derivations likely to share cited results and memoised lemmas share a key.

    Examples
    --------
    >>> group_key("kl/gamma/normal/integral"), group_key("entropy/gamma")
    ('gamma', 'gamma')
    >>> group_key("elbo/scalar-gaussian")
    'elbo'
    """
    parts = name.split("/")
    if parts[0] in ("kl", "entropy") and len(parts) > 1:
        return parts[1]
    return parts[0]


def cited_name(check: Any) -> str | None:
    """The name of the derivation a step's check cites, if it cites one.

    :class:`~klproof.derivation.Cite`, and any check with a ``derivation`` attribute
    holding a derivation or a factory of one (as the matrix pairs' citing check has).
    """
    if isinstance(check, Cite):
        return check.resolve().name
    target = getattr(check, "derivation", None)
    if callable(target) and not isinstance(target, Derivation):
        target = target()
    return target.name if isinstance(target, Derivation) else None


def _related(derivation: Derivation) -> set[str]:
    """Names ``derivation`` uses or cites (whose verification it shares)."""
    related = set(derivation.uses)
    for step in derivation.steps:
        name = cited_name(step.check)
        if name is not None:
            related.add(name)
    return related


def groups(names: Sequence[str]) -> list[list[str]]:
    """``names`` in groups that share work, largest group first.

    Two derivations are in one group when they have the same :func:`group_key` (they
    use the same memoised lemmas) or one uses or cites the other (transitively).
    """
    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    def join(a: str, b: str) -> None:
        parent[root(a)] = root(b)

    first: dict[str, str] = {}
    for name in names:
        join(name, first.setdefault(group_key(name), name))
        try:
            related = _related(registry.get(name))
        except Exception:  # noqa: BLE001, S112 - its page reports it, with location
            continue
        for other in related:
            if other in parent:
                join(name, other)
    found: dict[str, list[str]] = {}
    for name in names:
        found.setdefault(root(name), []).append(name)
    return sorted(found.values(), key=len, reverse=True)


def _verify_group(names: list[str]) -> list[tuple[str, _Summary | None]]:
    out: list[tuple[str, _Summary | None]] = []
    for name in names:
        try:
            report = registry.get(name).verify()
        except Exception:  # noqa: BLE001 - the page's directive reports it, with location
            out.append((name, None))
            continue
        steps = [
            (s.status, s.seconds, s.detail, None if s.residual is None else str(s.residual))
            for s in report.steps
        ]
        out.append((name, (report.status, report.seconds, steps)))
    return out


def _adopt(name: str, summary: _Summary) -> None:
    derivation = registry.get(name)
    status, seconds, steps = summary
    claims = derivation.claims()
    results = tuple(
        StepResult(i, step_status, step_seconds, detail, residual, step.reason, claims[i])
        for i, ((step_status, step_seconds, detail, residual), step) in enumerate(
            zip(steps, derivation.steps, strict=True)
        )
    )
    report = Report(derivation.name, derivation.title, results, seconds)
    if report.status == status:
        _VERIFIED[name] = (derivation, report)


def verify_all(jobs: int, names: Sequence[str] | None = None) -> tuple[int, float]:
    """Verify ``names`` (default: every registered derivation) on ``jobs`` processes.

    Returns the number of derivations adopted and the wall time in seconds. Failed
    derivations are not adopted (their directive re-verifies them and reports).
    """
    start = time.perf_counter()
    todo = [n for n in (registry.names() if names is None else names) if n not in _VERIFIED]
    context = multiprocessing.get_context("fork")  # workers inherit the built objects
    with context.Pool(processes=jobs) as pool:
        for results in pool.imap_unordered(_verify_group, groups(todo), chunksize=1):
            for name, summary in results:
                if summary is not None and summary[0] != "failed":
                    _adopt(name, summary)
    return len(_VERIFIED), time.perf_counter() - start


def adopted_report(derivation: Derivation) -> Report | None:
    """The report :func:`verify_all` made for this very object, if any."""
    entry = _VERIFIED.get(derivation.name)
    if entry is None or entry[0] is not derivation:
        return None
    return entry[1]


def _forget() -> None:
    """Drop the adopted reports (tests)."""
    _VERIFIED.clear()


def summary_text(adopted: int, seconds: float, jobs: int) -> str:
    """The log line of a pre-verification run."""
    return f"verified {adopted} derivations on {jobs} processes in {seconds:.1f} s"
