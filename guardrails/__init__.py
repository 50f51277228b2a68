"""Runtime governance of AI-agent tool calls.

Decorate a tool with ``@governed``; before it runs, a policy judges its
arguments and context and decides allow, deny or require approval.

The names here are what a program writes daily; the rest lives in
namespaces: ``guardrails.approvals`` (approvers, deferred requests),
``guardrails.audit`` (sinks, records, verification), ``guardrails.policy``
(the pure core: conditions, matchers), ``guardrails.state`` (stores),
``guardrails.testing`` (pytest helpers). Names load on first use, so
``import guardrails.policy`` loads the core alone.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from typing import TYPE_CHECKING, Any

from guardrails import _install
from guardrails._version import __version__

# Before anything else of the package loads: refuse a `guardrails` package that
# another project's distribution shares (issue 18). Cheap: see guardrails/_install.py.
_install.check_at_init()

if TYPE_CHECKING:
    from guardrails.approvals.request import (
        ApprovalDenied,
        ApprovalPending,
        ApprovalRequest,
        ApprovalResponse,
    )
    from guardrails.audit.chain import read_audit, verify_audit
    from guardrails.audit.jsonl import JsonlAudit
    from guardrails.audit.otel import OtelAudit
    from guardrails.audit.records import AuditRecord, LoggingAudit, MemoryAudit, Outcome
    from guardrails.call import Call
    from guardrails.call_context import context, current_context
    from guardrails.documents.policy import Policy
    from guardrails.errors import (
        ApprovalError,
        AuditError,
        ConfigurationError,
        EvaluationError,
        GovernanceError,
        PolicyError,
        StoreError,
    )
    from guardrails.policy.approval_rules import ApprovalRules
    from guardrails.policy.decision import ActionDenied, Decision
    from guardrails.policy.history import after
    from guardrails.policy.limits import budget, rate
    from guardrails.policy.redaction import Redaction
    from guardrails.policy.refs import arg, ctx
    from guardrails.policy.rules import Effect, Rule, allow, deny, require_approval
    from guardrails.runtime.decorator import governed
    from guardrails.runtime.governor import Governor, configure, get_governor
    from guardrails.state.memory import MemoryStore
    from guardrails.state.redis import RedisStore
    from guardrails.state.sqlite import SQLiteStore

# A library's logger stays silent unless the host configures logging.
logging.getLogger("guardrails").addHandler(logging.NullHandler())

#: Where each top-level name lives; it is imported on first use.
_HOMES: dict[str, str] = {
    "ApprovalDenied": "guardrails.approvals.request",
    "ApprovalPending": "guardrails.approvals.request",
    "ApprovalRequest": "guardrails.approvals.request",
    "ApprovalResponse": "guardrails.approvals.request",
    "read_audit": "guardrails.audit.chain",
    "verify_audit": "guardrails.audit.chain",
    "JsonlAudit": "guardrails.audit.jsonl",
    "OtelAudit": "guardrails.audit.otel",
    "AuditRecord": "guardrails.audit.records",
    "LoggingAudit": "guardrails.audit.records",
    "MemoryAudit": "guardrails.audit.records",
    "Outcome": "guardrails.audit.records",
    "Call": "guardrails.call",
    "context": "guardrails.call_context",
    "current_context": "guardrails.call_context",
    "Policy": "guardrails.documents.policy",
    "ApprovalError": "guardrails.errors",
    "AuditError": "guardrails.errors",
    "ConfigurationError": "guardrails.errors",
    "EvaluationError": "guardrails.errors",
    "GovernanceError": "guardrails.errors",
    "PolicyError": "guardrails.errors",
    "StoreError": "guardrails.errors",
    "ApprovalRules": "guardrails.policy.approval_rules",
    "ActionDenied": "guardrails.policy.decision",
    "Decision": "guardrails.policy.decision",
    "after": "guardrails.policy.history",
    "budget": "guardrails.policy.limits",
    "rate": "guardrails.policy.limits",
    "Redaction": "guardrails.policy.redaction",
    "arg": "guardrails.policy.refs",
    "ctx": "guardrails.policy.refs",
    "Effect": "guardrails.policy.rules",
    "Rule": "guardrails.policy.rules",
    "allow": "guardrails.policy.rules",
    "deny": "guardrails.policy.rules",
    "require_approval": "guardrails.policy.rules",
    "governed": "guardrails.runtime.decorator",
    "Governor": "guardrails.runtime.governor",
    "configure": "guardrails.runtime.governor",
    "get_governor": "guardrails.runtime.governor",
    "MemoryStore": "guardrails.state.memory",
    "RedisStore": "guardrails.state.redis",
    "SQLiteStore": "guardrails.state.sqlite",
}

#: Names that were top-level before the namespaces: (home, namespace to use).
_MOVED: dict[str, tuple[str, str]] = {
    "After": ("guardrails.policy.history", "guardrails.policy"),
    "AllOf": ("guardrails.policy.conditions", "guardrails.policy"),
    "AnyOf": ("guardrails.policy.conditions", "guardrails.policy"),
    "ApprovalRecord": ("guardrails.approvals.inbox", "guardrails.approvals"),
    "Approvals": ("guardrails.approvals.inbox", "guardrails.approvals"),
    "Approver": ("guardrails.approvals.request", "guardrails.approvals"),
    "AuditApproval": ("guardrails.audit.records", "guardrails.audit"),
    "AuditProblem": ("guardrails.audit.chain", "guardrails.audit"),
    "AuditSink": ("guardrails.audit.records", "guardrails.audit"),
    "AuditVerification": ("guardrails.audit.chain", "guardrails.audit"),
    "Condition": ("guardrails.policy.conditions", "guardrails.policy"),
    "ConsoleApprover": ("guardrails.approvals.approvers", "guardrails.approvals"),
    "DeferredApprover": ("guardrails.approvals.approvers", "guardrails.approvals"),
    "GovernedFunction": ("guardrails.runtime.decorator", "guardrails.runtime"),
    "Limit": ("guardrails.policy.limits", "guardrails.policy"),
    "Not": ("guardrails.policy.conditions", "guardrails.policy"),
    "OnDeny": ("guardrails.runtime.setup", "guardrails.runtime"),
    "PENDING": ("guardrails.approvals.request", "guardrails.approvals"),
    "Provenance": ("guardrails.policy.provenance", "guardrails.policy"),
    "RuleResult": ("guardrails.policy.decision", "guardrails.policy"),
    "StaticApprover": ("guardrails.approvals.approvers", "guardrails.approvals"),
    "Store": ("guardrails.state.store", "guardrails.state"),
    "allow_all": ("guardrails.approvals.approvers", "guardrails.approvals"),
    "chain": ("guardrails.approvals.approvers", "guardrails.approvals"),
    "deny_all": ("guardrails.approvals.approvers", "guardrails.approvals"),
}

_NAMESPACES = frozenset(
    {"approvals", "audit", "documents", "integrations", "policy", "runtime", "state", "testing"}
)

__all__ = [
    "ActionDenied",
    "ApprovalDenied",
    "ApprovalError",
    "ApprovalPending",
    "ApprovalRequest",
    "ApprovalResponse",
    "ApprovalRules",
    "AuditError",
    "AuditRecord",
    "Call",
    "ConfigurationError",
    "Decision",
    "Effect",
    "EvaluationError",
    "GovernanceError",
    "Governor",
    "JsonlAudit",
    "LoggingAudit",
    "MemoryAudit",
    "MemoryStore",
    "OtelAudit",
    "Outcome",
    "Policy",
    "PolicyError",
    "Redaction",
    "RedisStore",
    "Rule",
    "SQLiteStore",
    "StoreError",
    "__version__",
    "after",
    "allow",
    "arg",
    "budget",
    "configure",
    "context",
    "ctx",
    "current_context",
    "deny",
    "get_governor",
    "governed",
    "rate",
    "read_audit",
    "require_approval",
    "verify_audit",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # once loaded, a plain attribute
        return value
    if name in _NAMESPACES:
        return importlib.import_module(f"guardrails.{name}")
    moved = _MOVED.get(name)
    if moved is not None:
        warnings.warn(
            f"guardrails.{name} moved to {moved[1]}.{name}; the top-level name will be removed",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(moved[0]), name)
    raise AttributeError(f"module 'guardrails' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_NAMESPACES})
