"""Audit: records, the recorder, redacted views, the hash-chained JSONL log and its verification, OpenTelemetry."""

from guardrails.audit.chain import (
    GENESIS,
    AuditProblem,
    AuditVerification,
    audit_files,
    cut_short,
    digester,
    line_state,
    read_audit,
    record_fields,
    rotated_files,
    shared_fields,
    verify_audit,
)
from guardrails.audit.jsonl import FsyncMode, JsonlAudit
from guardrails.audit.otel import OtelAudit
from guardrails.audit.recorder import OnAuditError, Recorder, record_event
from guardrails.audit.records import (
    SCHEMA_VERSION,
    AuditApproval,
    AuditRecord,
    AuditSink,
    LoggingAudit,
    MemoryAudit,
    Outcome,
    default_fields,
    describe,
    printable,
    trusted_record,
)

__all__ = [
    "GENESIS",
    "SCHEMA_VERSION",
    "AuditApproval",
    "AuditProblem",
    "AuditRecord",
    "AuditSink",
    "AuditVerification",
    "FsyncMode",
    "JsonlAudit",
    "LoggingAudit",
    "MemoryAudit",
    "OnAuditError",
    "OtelAudit",
    "Outcome",
    "Recorder",
    "audit_files",
    "cut_short",
    "default_fields",
    "describe",
    "digester",
    "line_state",
    "printable",
    "read_audit",
    "record_event",
    "record_fields",
    "rotated_files",
    "shared_fields",
    "trusted_record",
    "verify_audit",
]
