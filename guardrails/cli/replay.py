"""``guardrails replay``: what a candidate policy would change on recorded traffic."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from guardrails.audit.chain import read_audit
from guardrails.audit.records import printable
from guardrails.cli.common import FOUND, INCOMPLETE, OK, colour, load_policy, paint
from guardrails.testing.replay import ReplayReport, replay

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add ``replay``."""
    command = commands.add_parser(
        "replay",
        help="re-judge an audit log's calls under a candidate policy",
        description=(
            "Judge every call recorded in a JSONL audit log again under a candidate policy and show "
            "what would change: calls newly denied, newly allowed, newly needing approval, grouped by "
            "the rule that would decide them. Calls whose recorded arguments were redacted or cut are "
            "marked uncertain. Limits (rate, budget) and after(...) are replayed: the calls go through "
            "the candidate's limits in the order of their recorded times (whatever the order of the "
            "logs given), at those times, with a fresh in-memory "
            "store. Calls judged by provenance(...) cannot be compared (the log does not keep what the "
            "tools returned): they are counted and reported."
        ),
        epilog=(
            "Example:\n"
            "  runtime-guardrails replay audit.jsonl --policy policy-next.toml --show 20\n\n"
            "Exit codes: 0 nothing would change, 1 some decisions would change, 2 usage or input error,\n"
            "3 nothing compared would change but some calls could not be compared."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("logs", nargs="+", metavar="AUDIT", help="audit logs (rotated files are found)")
    command.add_argument(
        "--policy",
        action="append",
        required=True,
        metavar="FILE",
        help="the candidate (a file, or module:attr)",
    )
    command.add_argument("--show", type=int, default=10, metavar="N", help="list up to N changed calls")
    command.add_argument("--json", action="store_true", help="print the report as JSON")
    command.set_defaults(run=_replay)


def _replay(args: argparse.Namespace, out: TextIO) -> int:
    policy = load_policy(args.policy)
    report = replay(read_audit(*args.logs), policy)
    code = FOUND if report.changes else INCOMPLETE if report.not_compared else OK
    if args.json:
        print(json.dumps(_as_json(report), indent=2), file=out)
        return code
    on = colour(out)
    print(
        f"{report.compared} calls re-judged: {report.unchanged} unchanged, {len(report.changes)} would change"
        + (f" ({report.uncertain} with redacted or cut values: uncertain)" if report.uncertain else "")
        + (
            f"; {report.stateful} judged with limits or after(...), replayed in recorded order"
            if report.stateful
            else ""
        ),
        file=out,
    )
    if report.not_compared:
        actions = ", ".join(f"{printable(action)}: {n}" for action, n in report.not_compared.most_common())
        total = sum(report.not_compared.values())
        warning = (
            f"NOT COMPARED: {total} of {report.calls} calls ({actions}): provenance(...) reads what "
            "the tools returned, which the audit log does not keep"
        )
        print(paint(warning, "fail", on), file=out)
    for kind, groups in report.summary().items():
        total = sum(groups.values())
        detail = ", ".join(f"{by}: {n}" for by, n in groups.items())
        look = "deny" if "denied" in kind else "allow" if "allowed" in kind else "require_approval"
        print(f"  {paint(kind, look, on)}: {total} ({detail})", file=out)
    for change in report.changes[: max(args.show, 0)]:
        record = change.record
        mark = " (uncertain)" if change.uncertain else ""
        print(
            f"  {record.time:%Y-%m-%d %H:%M:%S}  {printable(record.action)}  {change.was} -> "
            f"{change.now.effect.value} by {printable(change.now.rule_id)!r}{mark}",
            file=out,
        )
    return code


def _as_json(report: ReplayReport) -> dict[str, Any]:
    return {
        "calls": report.calls,
        "compared": report.compared,
        "unchanged": report.unchanged,
        "uncertain": report.uncertain,
        "stateful": report.stateful,
        "not_compared": dict(report.not_compared),
        "changes": report.summary(),
        "changed": [
            {
                "call_id": c.record.call_id,
                "time": c.record.time.isoformat(),
                "action": c.record.action,
                "was": c.was,
                "now": c.now.effect.value,
                "rule": c.now.rule_id,
                "uncertain": c.uncertain,
            }
            for c in report.changes
        ],
    }
