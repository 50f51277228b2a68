"""``guardrails audit verify|show``: check and read JSONL audit logs."""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

from guardrails.audit.chain import audit_files, read_audit, verify_audit
from guardrails.audit.records import AuditRecord, describe, printable
from guardrails.cli.common import FOUND, INCOMPLETE, OK, colour, paint

__all__ = ["register"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def register(commands: Any) -> None:
    """Add ``audit verify`` and ``audit show``."""
    audit = commands.add_parser(
        "audit",
        help="verify or read a JSONL audit log",
        description="Verify or read a JSONL audit log written by guardrails.JsonlAudit.",
        epilog="Commands: verify (the hash chain), show (a table). Exit codes: see each command's --help.",
    )
    audit.set_defaults(help_for=audit)
    audit_commands = audit.add_subparsers(title="audit commands", metavar="COMMAND")

    verify = audit_commands.add_parser(
        "verify",
        help="check the hash chain of a log",
        description=(
            "Check that a log is whole: every line unchanged, none deleted, moved or copied. "
            "Rotated files (audit.jsonl.1, .2, ...) are found from the current file and checked "
            "in order. A last line cut short by a crash is reported, but is not tampering."
        ),
        epilog=(
            "Exit codes: 0 intact (maybe cut short by a crash), 1 tampered (lines edited, removed or\n"
            "rewritten, their chain too), 2 unreadable, 3 not an audit log (no line of it is shaped as\n"
            "a record of a guardrails JSONL audit log: the wrong file; never with --head or --start)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("files", nargs="+", metavar="FILE", help="the log (its current file)")
    verify.add_argument("--key-env", metavar="VAR", help="environment variable holding the HMAC key")
    verify.add_argument(
        "--head",
        metavar="DIGEST",
        help="a head noted earlier: it must still be in the log (no rewritten tail)",
    )
    verify.add_argument(
        "--start", metavar="DIGEST", help="the head noted before older rotated files were removed on purpose"
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(run=_verify)

    show = audit_commands.add_parser(
        "show",
        help="print a log as a table",
        description="Print the records of a log as a table, oldest first, optionally filtered.",
        epilog=(
            "Examples:\n"
            "  runtime-guardrails audit show audit.jsonl --effect deny --since 2h\n"
            "  runtime-guardrails audit show audit.jsonl --action 'payments.*' --session s-42 --json\n\n"
            "USER is the context's user; ARGS the arguments as recorded (redacted), shortened\n"
            "unless --full-args. Exit codes: 0 shown, 2 unreadable."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("files", nargs="+", metavar="FILE", help="the log (its current file)")
    show.add_argument("--action", metavar="GLOB", help="only actions matching this glob")
    show.add_argument(
        "--effect", choices=["allow", "deny", "require_approval"], help="only calls with this effect"
    )
    show.add_argument(
        "--outcome", choices=["not_run", "started", "returned", "raised"], help="only this outcome"
    )
    show.add_argument("--session", metavar="ID", help="only calls whose context has this session")
    show.add_argument("--user", metavar="NAME", help="only calls whose context has this user")
    show.add_argument(
        "--since", metavar="WHEN", type=_when, help="from this time (ISO 8601, or an age: 30m, 2h, 7d)"
    )
    show.add_argument("--until", metavar="WHEN", type=_when, help="up to this time (same forms)")
    show.add_argument("--calls-only", action="store_true", help="leave out governor events")
    show.add_argument("--full-args", action="store_true", help="show the arguments in full, not shortened")
    show.add_argument("--json", action="store_true", help="one JSON record per line instead of a table")
    show.set_defaults(run=_show)


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    key = None
    if args.key_env:
        key = os.environ.get(args.key_env)
        if not key:
            raise ValueError(f"environment variable {args.key_env} is not set")
    # With a head or start noted from the log, the file was a log: whatever it holds now is tampering.
    stranger = None if args.head or args.start else _not_a_log(args.files)
    if stranger is not None:
        if args.json:
            stray = {"kind": "not_an_audit_log", "path": stranger, "line": 0, "message": _STRANGER}
            print(json.dumps({"ok": False, "records": 0, "problem": stray}), file=out)
        else:
            print(f"NOT AN AUDIT LOG: {stranger}: {_STRANGER}", file=out)
        return NOT_A_LOG
    result = verify_audit(*args.files, key=key, start=args.start, head=args.head)
    if args.json:
        problem = result.problem
        print(
            json.dumps(
                {
                    "ok": result.ok,
                    "records": result.records,
                    "head": result.head,
                    "files": list(result.files),
                    "problem": None if problem is None else problem.__dict__,
                }
            ),
            file=out,
        )
    else:
        print(result, file=out)
    return OK if result.ok else FOUND


NOT_A_LOG = INCOMPLETE
_STRANGER = (
    "no line of it is a record of a guardrails JSONL audit log (a JSON object with a time and an "
    "action, effect or kind); nothing to verify"
)
_LONGEST_LINE = 1 << 20
#: A line with the chain's fields, or with a time and one of what a record says, is a record:
#: a log rewritten without (or with wrong) seq, prev and hash is tampered, not a stranger.
_CHAIN = frozenset({"seq", "prev", "hash"})
_RECORD = frozenset({"action", "effect", "kind"})


def _not_a_log(paths: Iterable[str]) -> str | None:
    """The first of ``paths`` that is there but holds no line shaped as an audit record, or None.

    One such line suffices: a log with lines edited, garbled or stripped of their chain is a
    log (``verify_audit`` tells what happened to it); an empty file is one nothing was written to yet.
    """
    for path in paths:
        files = [f for f in audit_files(path) if f.is_file()]
        if files and not any(_holds_a_record(f) for f in files):
            return path
    return None


def _holds_a_record(path: Path) -> bool:
    """Whether a line of the file is shaped as an audit record, or the file is empty."""
    empty = True
    with path.open("rb") as file:
        while line := file.readline(_LONGEST_LINE):
            if not line.strip():
                continue
            empty = False
            try:
                fields = json.loads(line)
            except ValueError:
                continue
            if isinstance(fields, dict) and (
                fields.keys() >= _CHAIN or ("time" in fields and not _RECORD.isdisjoint(fields))
            ):
                return True
    return empty


def _show(args: argparse.Namespace, out: TextIO) -> int:
    records = _selected(read_audit(*args.files), args)
    if args.json:
        for record in records:
            print(record.model_dump_json(), file=out)
        return OK
    _table(
        records,
        out,
        colour=colour(out),
        width=shutil.get_terminal_size().columns if out.isatty() else None,
        full_args=args.full_args,
    )
    return OK


def _selected(records: Iterable[AuditRecord], args: argparse.Namespace) -> Iterable[AuditRecord]:
    # Governor events have no effect, outcome or session: asking for one asks for calls.
    calls_only = args.calls_only or args.effect or args.outcome or args.session or args.user
    for record in records:
        if (record.kind == "call" or not calls_only) and _matches(record, args) and _within(record, args):
            yield record


def _matches(record: AuditRecord, args: argparse.Namespace) -> bool:
    """Whether the record has the action, effect, outcome, session and user asked for (those given)."""
    return (
        (not args.action or fnmatch.fnmatchcase(record.action, args.action))
        and (not args.effect or record.effect == args.effect)
        and (not args.outcome or (record.outcome is not None and record.outcome.value == args.outcome))
        and (not args.session or record.session == args.session)
        and (not args.user or _user(record) == args.user)
    )


def _within(record: AuditRecord, args: argparse.Namespace) -> bool:
    """Whether the record is from ``--since`` on and up to ``--until`` (those given)."""
    time = record.time if record.time.tzinfo else record.time.replace(tzinfo=timezone.utc)
    return (not args.since or time >= args.since) and (not args.until or time <= args.until)


_ARGS_WIDTH = 32
_USER_WIDTH = 12


def _table(
    records: Iterable[AuditRecord], out: TextIO, *, colour: bool, width: int | None, full_args: bool = False
) -> None:
    """One line per record; on a terminal, lines are cut to its width."""
    header = (
        f"{'TIME (UTC)':<19}  {'USER':<{_USER_WIDTH}}  {'ACTION':<24}  {'EFFECT':<16}  {'OUTCOME':<8}  "
        f"{'RULE':<24}  {'ARGS':<{_ARGS_WIDTH}}  REASON"
    )
    print(header if width is None else _cut(header, width), file=out)
    shown = shadow = 0
    for record in records:
        shown += 1
        shadow += not record.enforced
        stamp = record.time.astimezone(timezone.utc) if record.time.tzinfo else record.time
        time = stamp.strftime("%Y-%m-%d %H:%M:%S")
        if record.kind != "call":
            line = f"{time:<19}  {describe(record)}"
            print(line if width is None else _cut(line, width), file=out)
            continue
        print(_row(record, time, colour, width, full_args), file=out)
    print(f"{shown} records" + ("  (* shadow: recorded, not enforced)" if shadow else ""), file=out)


def _row(record: AuditRecord, time: str, colour: bool, width: int | None, full_args: bool) -> str:
    """A call's line: the columns before the effect, the effect (coloured), the rest."""
    effect = printable(record.effect) + ("" if record.enforced else "*")
    outcome = record.outcome.value if record.outcome else "-"
    user = _cut(printable(_user(record) or "-"), _USER_WIDTH)
    action, rule = _cut(printable(record.action), 24), _cut(printable(record.rule_id), 24)
    arguments = _arguments(record)
    if not full_args:
        arguments = f"{_cut(arguments, _ARGS_WIDTH):<{_ARGS_WIDTH}}"
    before = f"{time:<19}  {user:<{_USER_WIDTH}}  {action:<24}  "
    reason = printable(f"raised {record.error}; {record.reason}" if record.error else record.reason)
    after = f"  {outcome:<8}  {rule:<24}  {arguments}  {reason}"
    if width is not None:  # what is past the terminal's edge is cut, the effect's colour kept whole
        after = _cut(after, max(width - len(before) - 16, 1))
    return before + paint(f"{effect:<16}", record.effect, colour) + after


def _user(record: AuditRecord) -> str | None:
    """The ``user`` of the call's context, if it had one."""
    value = record.context.get("user")
    return None if value is None else str(value)


def _arguments(record: AuditRecord) -> str:
    """The recorded (redacted) arguments as ``name=value, ...``, printable."""
    plain = record.model_dump(mode="json", include={"args"}).get("args", {})
    parts = (f"{name}={json.dumps(value, ensure_ascii=False, default=str)}" for name, value in plain.items())
    return printable(", ".join(parts)) or "-"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(text: str) -> datetime:
    """An ISO 8601 time (UTC unless it says otherwise), or an age such as ``30m``."""
    match = _DURATION.fullmatch(text.strip())
    if match:
        amount, unit = float(match.group(1)), _UNITS[match.group(2)]
        try:
            return datetime.now(timezone.utc) - timedelta(**{unit: amount})
        except OverflowError:
            return datetime.min.replace(tzinfo=timezone.utc)  # longer ago than anything recorded
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601 (2026-11-27T09:00) or an age (30m, 2h, 7d)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
