"""Audit records of every governed call, and the in-memory sink."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["AuditRecord", "AuditSink", "MemoryAudit", "Outcome"]


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


class AuditRecord(BaseModel):
    """One event: a decision or outcome of a governed call, or a change to the governor.

    ``kind`` is ``"call"`` for calls. ``enforced`` is False for what a shadow
    rule or shadow mode would have decided; such a record of a shadow rule has
    no ``outcome``. Governor events — ``policy_loaded``, ``policy_rejected``,
    ``block``, ``unblock`` — say what happened in ``reason`` (and the blocked
    pattern in ``action``).
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    schema_version: int = 1
    kind: str = "call"
    time: datetime
    call_id: str = ""
    action: str = ""
    args: Mapping[str, Any] = {}
    context: Mapping[str, Any] = {}
    effect: str = ""
    rule_id: str = ""
    reason: str = ""
    outcome: Outcome | None = None
    enforced: bool = True
    policy_version: str = ""
    approved_by: str | None = None
    error: str | None = None
    duration_ms: float | None = None


#: Any callable taking an ``AuditRecord``; an exception from it stops the tool.
AuditSink = Callable[[AuditRecord], None]


class MemoryAudit:
    """An audit sink that keeps records in ``.records`` (tests, demos, small tools)."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def __call__(self, record: AuditRecord) -> None:
        with self._lock:
            self.records.append(record)

    def __iter__(self) -> Iterator[AuditRecord]:
        return iter(list(self.records))

    def __len__(self) -> int:
        return len(self.records)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self.records.clear()

    def for_call(self, call_id: str) -> list[AuditRecord]:
        """The records of one call, in order."""
        return [r for r in self.records if r.call_id == call_id]

    def __repr__(self) -> str:
        return f"<MemoryAudit {len(self.records)} records>"
