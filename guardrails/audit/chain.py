"""The hash-chained JSONL audit format: writing a line, reading and verifying a log.

Each line is one JSON object: ``seq`` (its place in the chain, from 0),
``prev`` (the digest of the line before, 64 zeros for the first), the
record's fields, and last ``hash``, the SHA-256 (or, with a key, HMAC-SHA256)
of the line's bytes before ``,"hash":``. Rotated files continue the chain:
``audit.jsonl.1``, ``audit.jsonl.2``... are older, ``audit.jsonl`` newest.

A verifier can therefore tell an edited line (its digest is wrong, or the next
line no longer follows it), a deleted one (a gap in ``seq``), lines moved or
copied (``seq`` out of order), and a last line cut short by a crash (no
newline, not whole) — which is reported as such, not as tampering.

The chain proves the log is whole up to its last line. Someone able to
rewrite the file can rewrite the chain after it too: keep ``head`` (the
last digest) somewhere else, or write with a ``key`` kept away from the log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from guardrails._text import brief, json_text
from guardrails.audit.records import AuditRecord, Outcome
from guardrails.errors import AuditError

__all__ = [
    "GENESIS",
    "AuditProblem",
    "AuditVerification",
    "audit_files",
    "cut_short",
    "digester",
    "line_state",
    "read_audit",
    "record_fields",
    "rotated_files",
    "shared_fields",
    "verify_audit",
]

GENESIS = "0" * 64
_HASH = b',"hash":"'
_LINE = re.compile(rb'\{"seq":(\d+),"prev":"([0-9a-f]{64})",.*,"hash":"([0-9a-f]{64})"\}', re.DOTALL)
_ROTATED = re.compile(r"\.(\d+)$")

Key = bytes | str | None

Problem = Literal["edited", "deleted", "reordered", "inserted", "truncated"]

_Place = tuple[Path, int]  # a line's file and its number there


# ---- writing ---------------------------------------------------------------------------


def record_fields(record: AuditRecord, shared: str | None = None) -> str:
    """The record's fields as JSON object members (no braces), None fields left out.

    What happened (time, outcome, error) comes first; ``shared`` is
    ``shared_fields(record)``, the same for every record of a call, when the
    caller has it already.
    """
    text = _text
    out = f'"time":"{_iso(record.time)}"'
    if record.outcome is not None:
        out += f',"outcome":"{_OUTCOMES[record.outcome]}"'
    if record.duration_ms is not None:
        out += f',"duration_ms":{record.duration_ms:.6f}'
    if record.error is not None:
        out += f',"error":{text(record.error)},"error_type":{_json(record.error_type)}'
    if record.limits:
        out += f',"limits":{_json(record.limits)}'
    return f"{out},{shared_fields(record) if shared is None else shared}"


def shared_fields(record: AuditRecord) -> str:
    """The members every record of one call has alike: the call and its decision."""
    text = _text
    out = (
        f'"schema_version":{record.schema_version},"kind":{text(record.kind)},'
        f'"call_id":{text(record.call_id)},"action":{text(record.action)},'
        f'"args":{_json(record.args)},"context":{_json(record.context) if record.context else "{}"},'
        f'"effect":{text(record.effect)},"rule_id":{text(record.rule_id)},"reason":{text(record.reason)},'
        f'"enforced":{"true" if record.enforced else "false"},"policy_version":{text(record.policy_version)}'
    )
    if record.tool_call_id is not None:
        out += f',"tool_call_id":{text(record.tool_call_id)}'
    if record.decided is not None:
        out += f',"decided":{text(record.decided)}'
    if not record.exact:
        out += ',"exact":false'
    if record.approval is not None:
        out += f',"approval":{_json(record.approval.model_dump())}'
    return out


_text: Callable[[str], str] = getattr(json.encoder, "c_encode_basestring_ascii", None) or (
    json.encoder.py_encode_basestring_ascii
)


_OUTCOMES = {outcome: outcome.value for outcome in Outcome}
_second: list[Any] = [None, ""]


def _iso(time: datetime) -> str:
    """``time.isoformat()``, faster for UTC times: each second is formatted once."""
    if time.tzinfo is not timezone.utc:
        return time.isoformat()
    key = int(time.timestamp())
    second = _second
    if second[0] != key:
        second[:] = [key, time.replace(microsecond=0, tzinfo=None).isoformat()]
    micro = time.microsecond
    return f"{second[1]}.{micro:06d}+00:00" if micro else f"{second[1]}+00:00"


_json = json_text


def digester(key: Key) -> Callable[[bytes], str]:
    """The function giving a line's digest: SHA-256, or HMAC-SHA256 with ``key``."""
    if key is None:
        return lambda body: hashlib.sha256(body).hexdigest()
    secret = key.encode() if isinstance(key, str) else key
    return lambda body: hmac.new(secret, body, hashlib.sha256).hexdigest()


def line_state(line: bytes, key: Key = None) -> tuple[int, str] | None:
    """``(seq, digest)`` of a whole, untouched line (without its newline), else None."""
    match = _LINE.fullmatch(line)
    if match is None:
        return None
    digest = match.group(3).decode()
    cut = len(line) - len(_HASH) - 64 - 2
    if line[cut : cut + len(_HASH)] != _HASH or not hmac.compare_digest(digester(key)(line[:cut]), digest):
        return None
    return int(match.group(1)), digest


# ---- files -----------------------------------------------------------------------------


def audit_files(path: str | Path) -> list[Path]:
    """The files of one log in chain order: rotated ``path.1``, ``path.2``... then ``path``."""
    path = Path(path)
    files = rotated_files(path)
    if path.exists() or not files:
        files.append(path)
    return files


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of the log at ``path`` (``path.1``, ``path.2``...), oldest first."""
    rotated = sorted(
        (int(m.group(1)), p)
        for p in path.parent.glob(f"{glob_escape(path.name)}.*")
        if (m := _ROTATED.search(p.name)) and p.name == f"{path.name}.{m.group(1)}"
    )
    return [p for _, p in rotated]


def glob_escape(name: str) -> str:
    """``name`` with glob characters taken literally."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _lines(paths: Sequence[Path]) -> Iterator[tuple[Path, int, bytes, bool]]:
    """Every line of every file, streamed: path, line number from 1, bytes without
    the newline, and whether it is the log's last line with no newline after it."""
    for n, path in enumerate(paths):
        with path.open("rb") as file:
            for number, line in enumerate(file, 1):
                if line.endswith(b"\n"):
                    yield path, number, line[:-1], False
                else:  # only a file's last line can lack its newline
                    yield path, number, line, n == len(paths) - 1


def cut_short(fragment: bytes, seq: int, prev: str) -> bool:
    """Whether ``fragment`` is how the line after ``(seq - 1, prev)`` begins: a write a
    crash interrupted. Anything else in its place was put there. (What a cut line
    held is not a record and is never read as one.)"""
    if _LINE.fullmatch(fragment):
        return False  # a whole line whose digest is wrong was edited, not cut
    start = f'{{"seq":{seq},"prev":"{prev}",'.encode()
    return start.startswith(fragment) or fragment.startswith(start)


# ---- verifying -------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditProblem:
    """The first thing wrong with a log: where, what kind, and what it means."""

    kind: Problem
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class AuditVerification:
    """What ``verify_audit`` found.

    ``ok`` means nothing was tampered with: every line is whole, in order and
    linked to the one before. A last line cut short by a crash leaves ``ok``
    true, with ``problem.kind == "truncated"``. ``head`` is the digest of the
    last whole line: keep it elsewhere to detect a later rewrite of the tail.
    """

    ok: bool
    records: int
    head: str
    files: tuple[str, ...]
    problem: AuditProblem | None = None

    @property
    def truncated(self) -> bool:
        """Whether the log ends with a line cut short by a crash."""
        return self.problem is not None and self.problem.kind == "truncated"

    def __str__(self) -> str:
        files = ", ".join(self.files)
        if self.problem is None:
            return f"ok: {self.records} records, chain intact ({files}); head {self.head}"
        if self.ok:
            return f"ok: {self.records} records, chain intact up to a crash: {self.problem}; head {self.head}"
        return f"TAMPERED: {self.problem} ({self.records} records verified before it)"


def verify_audit(
    *paths: str | Path, key: Key = None, start: str | None = None, head: str | None = None
) -> AuditVerification:
    """Check the hash chain of a log (its rotated files found from each path).

    Reports the first problem: an edited, deleted, reordered or inserted
    line, or a last line cut short by a crash (``ok`` stays true for that).
    ``start`` is the digest the first line must follow, when older files
    were removed on purpose (the ``head`` noted before removing them);
    ``head`` is a digest noted earlier that must still be in the log.
    """
    files = [f for path in paths for f in audit_files(path)]
    for f in files:
        if not f.exists():
            raise FileNotFoundError(f"no audit log at {f}")
    names = tuple(str(f) for f in files)
    chain = _Chain(files, key, start)
    head_seen = head is None
    last: _Place | None = None
    for path, number, raw, unfinished in _lines(files):
        last = (path, number)
        problem = chain.follow(last, raw, unfinished)
        if problem is not None:
            return AuditVerification(problem.kind == "truncated", chain.count, chain.prev, names, problem)
        head_seen = head_seen or chain.prev == head
    if head_seen:
        return AuditVerification(True, chain.count, chain.prev, names)
    gone = f"the line with digest {head} is not in the log: it was cut or rewritten after that line"
    problem = _problem("deleted", last or (files[-1], 0), gone)
    return AuditVerification(False, chain.count, chain.prev, names, problem)


class _Chain:
    """Where a verification stands: the ``seq`` and digest the next line must follow,
    and how many lines followed so far."""

    __slots__ = ("files", "key", "expected", "prev", "count")

    def __init__(self, files: Sequence[Path], key: Key, start: str | None) -> None:
        self.files = files
        self.key = key
        # None: a chain that continues one removed on purpose starts where its first line says.
        self.expected: int | None = 0 if start is None else None
        self.prev = GENESIS if start is None else start
        self.count = 0

    def follow(self, where: _Place, raw: bytes, unfinished: bool) -> AuditProblem | None:
        """The problem with the line at ``where``, else None and the chain moves on to it."""
        state = line_state(raw, self.key)
        if state is None:
            return self._broken(where, raw, unfinished)
        seq, digest = state
        expected = seq if self.expected is None else self.expected
        if seq < expected:
            problem: AuditProblem | None = self._repeated(where, seq, digest, expected)
        elif seq > expected:
            problem = self._skipped(where, seq, expected)
        else:
            problem = self._unlinked(where, raw, seq)
        if problem is None:
            self.expected, self.prev, self.count = seq + 1, digest, self.count + 1
        return problem

    def _broken(self, where: _Place, raw: bytes, unfinished: bool) -> AuditProblem:
        """A line that does not match its digest: cut short by a crash, or changed."""
        if unfinished and cut_short(raw, 0 if self.expected is None else self.expected, self.prev):
            return _problem(
                "truncated",
                where,
                f"the last line is cut short ({len(raw)} bytes): a write interrupted by a crash",
            )
        hint = " (was the log written with a key? pass it)" if self.count == 0 and self.key is None else ""
        return _problem("edited", where, f"the line does not match its digest: it was changed{hint}")

    def _repeated(self, where: _Place, seq: int, digest: str, expected: int) -> AuditProblem:
        """A line whose ``seq`` came already: a copy of that line, or one moved."""
        if _digest_at(self.files, seq, self.key) == digest:
            return _problem("inserted", where, f"a copy of record {seq}, which came earlier")
        return _problem("reordered", where, f"record {seq} comes after record {expected - 1}")

    def _skipped(self, where: _Place, seq: int, expected: int) -> AuditProblem:
        """A line past the ``seq`` expected: the lines between were moved, or deleted."""
        if _has_seq(self.files, where, expected, self.key):
            return _problem("reordered", where, f"record {seq} comes where record {expected} should")
        gap = f"record {expected}" if seq == expected + 1 else f"records {expected}-{seq - 1}"
        at = "before it" if self.count else "at the start (deleted, or earlier rotated files not given)"
        return _problem("deleted", where, f"{gap} missing {at}")

    def _unlinked(self, where: _Place, raw: bytes, seq: int) -> AuditProblem | None:
        """The line, in its place, does not name the digest of the line before it."""
        claimed_prev = _LINE.fullmatch(raw).group(2).decode()  # type: ignore[union-attr]
        if claimed_prev == self.prev:
            return None
        what = (
            "the line before was rewritten, or this one"
            if self.count
            else "the first record does not start the chain"
        )
        return _problem("edited", where, f"record {seq} does not follow the line before it: {what}")


def _problem(kind: Problem, where: _Place, message: str) -> AuditProblem:
    return AuditProblem(kind, str(where[0]), where[1], message)


def _digest_at(files: Sequence[Path], seq: int, key: Key) -> str | None:
    """The digest of the first whole line with ``seq`` (a second pass, only once a problem is found)."""
    for _, _, raw, _ in _lines(files):
        state = line_state(raw, key)
        if state is not None and state[0] == seq:
            return state[1]
    return None


def _has_seq(files: Sequence[Path], after: _Place, seq: int, key: Key) -> bool:
    """Whether a whole line with ``seq`` comes later than ``after``."""
    later = False
    for path, number, raw, _ in _lines(files):
        if later:
            state = line_state(raw, key)
            if state is not None and state[0] == seq:
                return True
        later = later or (path, number) == after
    return False


# ---- reading ---------------------------------------------------------------------------


def read_audit(*paths: str | Path) -> Iterator[AuditRecord]:
    """The records of a log in order (rotated files included; a crash-truncated
    last line skipped). Does not verify the chain: see ``verify_audit``.

    Raises ``AuditError`` naming the file and line of a line that is not a record.
    """
    files = [f for path in paths for f in audit_files(path)]
    for path, number, raw, unfinished in _lines(files):
        try:
            fields = json.loads(raw)
            if not isinstance(fields, dict):
                raise ValueError("not a JSON object")
            for name in ("seq", "prev", "hash"):
                fields.pop(name, None)
            yield AuditRecord.model_validate(fields)
        except (ValueError, ValidationError) as exc:
            if unfinished:
                return
            raise AuditError(f"{path}:{number}: not an audit record ({brief(exc, 200)})") from None
