"""Command line: ``klproof verify | list | show``.

The numeric package never imports SymPy; this module loads the symbolic layer
only inside the commands that need it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TextIO

__all__ = ["main"]


def _verify_one(name: str) -> dict[str, Any]:
    from klproof.symbolic import registry

    return registry.get(name).verify().to_dict()


def _verify_group(names: Sequence[str]) -> list[dict[str, Any]]:
    return [_verify_one(name) for name in names]


def _group_key(name: str) -> str:
    """Derivations likely to share cited results and memoised lemmas share a key.

    ``kl/<p>/...`` and ``entropy/<p>`` reuse the lemmas of family ``p``; the other
    derivations are grouped by their first path component (``elbo``, ``mle``, ...).
    Verifying a group in one process verifies each shared piece once.
    """
    parts = name.split("/")
    if parts[0] == "kl" and len(parts) > 1:
        return parts[1]
    if parts[0] == "entropy" and len(parts) > 1:
        return parts[1]
    return parts[0]


def _groups(names: Sequence[str]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(_group_key(name), []).append(name)
    return sorted(groups.values(), key=len, reverse=True)


def _resolve(names: Sequence[str]) -> list[str]:
    from klproof.symbolic import registry

    available = registry.names()
    if not names:
        return available
    for name in names:
        registry.get(name)  # raises UnknownDerivationError with suggestions
    return list(names)


def _table(results: list[dict[str, Any]], out: TextIO) -> None:
    width = max([len("derivation")] + [len(r["name"]) for r in results])
    out.write(f"{'derivation':<{width}}  {'steps':>5}  {'status':<9}  {'seconds':>7}\n")
    out.write(f"{'-' * width}  {'-' * 5}  {'-' * 9}  {'-' * 7}\n")
    out.writelines(
        f"{r['name']:<{width}}  {len(r['steps']):>5}  {r['status']:<9}  {r['seconds']:>7.2f}\n"
        for r in results
    )
    counts = {
        s: sum(1 for r in results for st in r["steps"] if st["status"] == s)
        for s in ("ok", "failed", "unchecked")
    }
    out.write(
        f"\n{len(results)} derivations, {sum(len(r['steps']) for r in results)} steps: "
        f"{counts['ok']} ok, {counts['failed']} failed, {counts['unchecked']} unchecked\n"
    )
    for r in results:
        for st in r["steps"]:
            if st["status"] != "ok":
                out.write(f"\n{r['name']} step {st['index'] + 1} {st['status']}: {st['reason']}\n")
                if st["detail"]:
                    out.write(f"  {st['detail']}\n")
                if st["residual"] is not None:
                    out.write(f"  residual: {st['residual']}\n")


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify derivations, print a table (or JSON); 1 if any step is not ok."""
    names = _resolve(args.names)
    jobs = max(1, min(args.jobs, len(names)))
    start = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    progress = sys.stderr

    def report(done: int, result: dict[str, Any]) -> None:
        progress.write(
            f"[{done}/{len(names)}] {result['name']}: {result['status']} ({result['seconds']:.2f} s)\n"
        )
        progress.flush()

    if jobs == 1:
        for i, name in enumerate(names, 1):
            results[name] = _verify_one(name)
            report(i, results[name])
    else:
        # Groups of related derivations, largest first, so that each worker verifies
        # a cited derivation or a shared lemma once (its cache is per process).
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_verify_group, group) for group in _groups(names)]
            done = 0
            for future in as_completed(futures):
                for result in future.result():
                    done += 1
                    results[result["name"]] = result
                    report(done, result)
    ordered = [results[n] for n in names]
    wall = time.perf_counter() - start
    if args.format == "json":
        json.dump({"derivations": ordered, "seconds": round(wall, 3)}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _table(ordered, sys.stdout)
        sys.stdout.write(f"wall time {wall:.1f} s with {jobs} process(es)\n")
    return 0 if all(r["status"] == "ok" for r in ordered) else 1


def cmd_list(args: argparse.Namespace) -> int:
    """List registered derivations, or with ``--kl`` the catalogue of KL pairs."""
    from klproof.symbolic import registry

    if args.kl:
        from klproof.symbolic.kl import pairs

        catalogue = pairs()
        forms = [pair for pair in pairs(forms=True) if pair.form]
        infinite = [pair for pair in pairs(infinite=True) if pair.expression.is_infinite]
        width = max(len(pair.id) for pair in [*catalogue, *forms, *infinite])
        for pair in [*catalogue, *forms]:
            routes = ", ".join(r.rsplit("/", 1)[-1] for r in pair.routes)
            sys.stdout.write(f"{pair.id:<{width}}  routes: {routes}\n")
        for pair in infinite:
            sys.stdout.write(f"{pair.id:<{width}}  +inf (support mismatch)\n")
        same = sum(1 for pair in catalogue if pair.p == pair.q)
        sys.stdout.write(
            f"\n{len(catalogue)} pairs: {same} same-family, {len(catalogue) - same} cross-family"
            f"; {len(forms)} in a second parametrisation; {len(infinite)} +inf for all "
            "parameters (derived from the supports)\n"
        )
        return 0
    for name in registry.names():
        sys.stdout.write(f"{name:40s} {registry.get(name).title}\n")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print one derivation as text or LaTeX."""
    from klproof.symbolic import registry

    derivation = registry.get(args.name)
    if args.format == "latex":
        sys.stdout.write(derivation.to_latex() + "\n")
    else:
        sys.stdout.write(derivation.to_text() + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the docs)."""
    parser = argparse.ArgumentParser(
        prog="klproof", description="Machine-checked derivations of KL, MLE and ELBO identities."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="verify derivations and print a table")
    verify.add_argument("names", nargs="*", help="derivation names (default: all)")
    verify.add_argument("--format", choices=("table", "json"), default="table")
    verify.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="worker processes (default: up to 2)",
    )
    verify.set_defaults(func=cmd_verify)
    listing = sub.add_parser("list", help="list registered derivations")
    listing.add_argument("--kl", action="store_true", help="only the KL-pair catalogue")
    listing.set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="print one derivation")
    show.add_argument("name")
    show.add_argument("--format", choices=("text", "latex"), default="text")
    show.set_defaults(func=cmd_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``klproof`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    from klproof.symbolic.registry import UnknownDerivationError

    try:
        return int(args.func(args))
    except UnknownDerivationError as exc:
        sys.stderr.write(f"klproof: error: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
