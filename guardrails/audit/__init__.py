"""What happened to each governed call, kept where you choose and checked later.

Sinks take each ``AuditRecord`` as it is made: ``MemoryAudit`` (for tests),
``LoggingAudit`` (the standard ``logging``), ``JsonlAudit`` (a hash-chained
JSONL file, rotated), ``OtelAudit`` (OpenTelemetry spans), or any callable
meeting ``AuditSink``. A record says what was called and decided, how the
call ended (``Outcome``) and how its approval went (``AuditApproval``).

``read_audit`` reads a JSONL log back; ``verify_audit`` checks its chain
and returns an ``AuditVerification`` naming the first ``AuditProblem``.
"""

from guardrails.audit.chain import AuditProblem, AuditVerification, read_audit, verify_audit
from guardrails.audit.jsonl import JsonlAudit
from guardrails.audit.otel import OtelAudit
from guardrails.audit.records import (
    AuditApproval,
    AuditRecord,
    AuditSink,
    LoggingAudit,
    MemoryAudit,
    Outcome,
)

__all__ = [
    "AuditApproval",
    "AuditProblem",
    "AuditRecord",
    "AuditSink",
    "AuditVerification",
    "JsonlAudit",
    "LoggingAudit",
    "MemoryAudit",
    "OtelAudit",
    "Outcome",
    "read_audit",
    "verify_audit",
]
