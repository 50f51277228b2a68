"""Audit records of every governed call, and the sinks kept in memory and in logs.

The JSONL file with its hash chain is in ``guardrails.audit.jsonl``; the
OpenTelemetry sink in ``guardrails.audit.otel``.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, MutableSequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, SkipValidation, field_serializer

__all__ = [
    "SCHEMA_VERSION",
    "AuditApproval",
    "AuditRecord",
    "AuditSink",
    "LoggingAudit",
    "MemoryAudit",
    "Outcome",
    "default_fields",
    "describe",
    "printable",
    "trusted_record",
]

#: Bumped when a field changes meaning or goes; new optional fields keep it.
SCHEMA_VERSION = 2


class Outcome(str, Enum):
    """What happened to the tool.

    An allowed call is recorded twice: ``started`` before the tool runs (so a
    failing sink stops it), then ``returned`` or ``raised``. Any other call is
    recorded once, ``not_run``.
    """

    NOT_RUN = "not_run"
    STARTED = "started"
    RETURNED = "returned"
    RAISED = "raised"

    def __str__(self) -> str:
        return self.value


class AuditApproval(BaseModel):
    """What the approver answered, and who.

    ``status``: ``approved``, ``remembered`` (an approval remembered for the
    session), ``refused`` (a person said no), ``timed_out``, ``failed`` (the
    approver broke, or answered what cannot be an answer), ``expired``,
    ``pending`` (a person decides later). ``request_id`` names the request;
    ``approvers`` are everyone who approved it (a quorum has several);
    ``edited`` is True when the approver changed the arguments (``args``
    then holds what ran).
    """

    model_config = ConfigDict(frozen=True)

    approved: bool
    by: str | None = None
    reason: str | None = None
    status: str | None = None
    request_id: str | None = None
    approvers: tuple[str, ...] = ()
    edited: bool = False


class AuditRecord(BaseModel):
    """One event: a decision or outcome of a governed call, or a change to the governor.

    ``kind`` is ``"call"`` for calls. ``args`` and ``context`` are the call's,
    made JSON-safe, bounded and redacted (``guardrails.Redaction``); the same
    view reaches every sink; ``exact`` is False when that view lost something
    (a value redacted, cut, or recorded by its ``repr``). ``tool_call_id`` is
    the framework's id of the call when the context carries one
    (``context(tool_call_id=...)``). ``effect`` is what happened to the call;
    ``decided`` what the policy decided before any approver answered (an
    approved call has ``decided="require_approval"``, ``effect="allow"``).
    ``limits`` tells, for each limit the call counted against, its counter
    (``key``, ``amount``, ``limit``, ``window``) and what became of the
    call's share: ``held``, ``used``, ``released``, ``counted`` (a re-run),
    ``over`` or ``approved over``.
    ``enforced`` is False for what a shadow rule or shadow mode would have
    decided; such a record of a shadow rule has no ``outcome``. ``error`` and
    ``error_type`` say what the tool raised.

    Governor events — ``policy_loaded``, ``policy_rejected``, ``block``,
    ``unblock``, ``audit_error`` — say what happened in ``reason`` (and the
    action or blocked pattern in ``action``).
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    kind: str = "call"
    time: datetime
    call_id: str = ""
    tool_call_id: str | None = None
    action: str = ""
    # Made JSON-safe by the recorder; not copied, so each sink sees the same view.
    args: Annotated[Mapping[str, Any], SkipValidation] = {}
    context: Annotated[Mapping[str, Any], SkipValidation] = {}
    effect: str = ""
    decided: str | None = None
    rule_id: str = ""
    reason: str = ""
    enforced: bool = True
    exact: bool = True
    policy_version: str = ""
    approval: AuditApproval | None = None
    outcome: Outcome | None = None
    error: str | None = None
    error_type: str | None = None
    duration_ms: float | None = None
    limits: tuple[dict[str, Any], ...] = ()

    @field_serializer("args", "context")
    def _plain(self, value: Mapping[str, Any]) -> dict[str, Any]:
        # The recorder hands out read-only mappings and tuples; dumps get plain JSON types.
        return _thawed(value)  # type: ignore[no-any-return]

    @property
    def approved_by(self) -> str | None:
        """Who answered the approval, if anyone did and said who."""
        return self.approval.by if self.approval else None

    @property
    def session(self) -> str | None:
        """The ``session`` of the call's context, if it had one."""
        value = self.context.get("session")
        return None if value is None else str(value)


def _thawed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thawed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thawed(item) for item in value]
    return value


_DEFAULTS = {
    name: field.default for name, field in AuditRecord.model_fields.items() if not field.is_required()
}
_ALL_FIELDS = set(AuditRecord.model_fields)


def default_fields() -> dict[str, Any]:
    """Every field of a record at its default, to fill in for ``trusted_record``."""
    return dict(_DEFAULTS)


def trusted_record(fields: dict[str, Any]) -> AuditRecord:
    """A record from every field (see ``default_fields``), made by this library
    and already of the declared types.

    Every governed call makes two records: skipping validation here (what
    ``model_construct`` does, without its per-field loop) saves a few
    microseconds per call. A test holds it equal to a validated record.
    """
    record = object.__new__(AuditRecord)
    set_attribute = object.__setattr__
    set_attribute(record, "__dict__", fields)
    set_attribute(record, "__pydantic_fields_set__", _ALL_FIELDS.copy())
    set_attribute(record, "__pydantic_extra__", None)
    set_attribute(record, "__pydantic_private__", None)
    return record


#: Any callable taking an ``AuditRecord``. An exception from it before the tool
#: runs stops the call (unless ``on_audit_error="allow"``); after, it is logged.
AuditSink = Callable[[AuditRecord], None]


class MemoryAudit:
    """An audit sink that keeps records in ``.records`` (tests, demos, small tools).

    With ``maxlen`` only the latest ``maxlen`` records are kept.
    """

    def __init__(self, maxlen: int | None = None) -> None:
        if maxlen is not None and not (type(maxlen) is int and maxlen > 0):
            raise ValueError(f"maxlen must be a positive int or None, got {maxlen!r}")
        self.maxlen = maxlen
        self.records: MutableSequence[AuditRecord] = (
            [] if maxlen is None else collections.deque(maxlen=maxlen)
        )
        self._lock = threading.Lock()

    def __call__(self, record: AuditRecord) -> None:
        with self._lock:
            self.records.append(record)

    def __iter__(self) -> Iterator[AuditRecord]:
        with self._lock:
            return iter(list(self.records))

    def __len__(self) -> int:
        return len(self.records)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self.records.clear()

    def for_call(self, call_id: str) -> list[AuditRecord]:
        """The records of one call, in order."""
        return [r for r in self if r.call_id == call_id]

    def __repr__(self) -> str:
        bound = "" if self.maxlen is None else f" (latest {self.maxlen})"
        return f"<MemoryAudit {len(self.records)} records{bound}>"


class LoggingAudit:
    """An audit sink writing one log line per record to a standard ``logging`` logger.

    The whole record rides along as ``extra={"audit": {...}}`` (JSON types)
    for structured handlers. Denials go out at ``denied_level``, the rest at
    ``level``. It never configures logging: attach handlers as you do for
    the rest of your application.

    Fail closed, as far as logging allows: if the logger would drop a record
    (its level is above ``level``, or no handler is configured anywhere on
    its way up), the sink raises and the call does not run. What a handler
    does with the record afterwards is its own business: ``logging`` reports
    a handler's errors on stderr instead of raising them.
    """

    def __init__(
        self,
        logger: str | logging.Logger = "guardrails.audit",
        *,
        level: int = logging.INFO,
        denied_level: int = logging.WARNING,
    ) -> None:
        self.logger = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
        self.level = level
        self.denied_level = denied_level

    def __call__(self, record: AuditRecord) -> None:
        denied = record.outcome is Outcome.NOT_RUN or record.kind in ("policy_rejected", "audit_error")
        level = self.denied_level if denied else self.level
        logger = self.logger
        if not logger.isEnabledFor(level) or not logger.hasHandlers():
            raise RuntimeError(
                f"logger {logger.name!r} would drop the record: it logs nothing at "
                f"{logging.getLevelName(level)} (configure logging, or pass level=)"
            )
        logger.log(level, "%s", describe(record), extra={"audit": record.model_dump(mode="json")})

    def __repr__(self) -> str:
        return f"<LoggingAudit {self.logger.name!r}>"


def describe(record: AuditRecord) -> str:
    """One line a person can read: what was called, what was decided, what happened.

    Control characters are shown escaped, so a value cannot forge a line of a
    log or send escape codes to a terminal.
    """
    return printable(_describe(record))


def printable(text: str) -> str:
    """``text`` with control characters (newlines, escapes, C1 codes) shown as ``\\x..``."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def _describe(record: AuditRecord) -> str:
    if record.kind != "call":
        subject = f" {record.action}" if record.action else ""
        return f"{record.kind}{subject}: {record.reason}"
    shadow = "" if record.enforced else " (shadow)"
    outcome = f" -> {record.outcome.value}" if record.outcome else ""
    error = f" ({record.error})" if record.error else ""
    by = f" approved by {record.approved_by}" if record.approved_by else ""
    return (
        f"{record.action} [{record.call_id}] {record.effect}{shadow} by rule {record.rule_id!r}"
        f"{by}{outcome}{error}: {record.reason}"
    )
