"""Runtime governance of AI-agent tool calls.

Decorate a tool with ``@governed``; before it runs, a policy judges its
arguments and context and decides allow, deny or require approval.
"""

import logging

from guardrails.approvals import PENDING, ApprovalRequest, ApprovalResponse, ApprovalRules, Approver
from guardrails.approvers import ConsoleApprover, DeferredApprover, StaticApprover, allow_all, chain, deny_all
from guardrails.approving import ApprovalRecord, Approvals
from guardrails.audit import AuditApproval, AuditRecord, AuditSink, LoggingAudit, MemoryAudit, Outcome
from guardrails.call import Call
from guardrails.chain import AuditProblem, AuditVerification, read_audit, verify_audit
from guardrails.conditions import AllOf, AnyOf, Condition, Not
from guardrails.context import context, current_context
from guardrails.decision import Decision, RuleResult
from guardrails.decorator import GovernedFunction, governed
from guardrails.errors import (
    ActionDenied,
    ApprovalDenied,
    ApprovalError,
    ApprovalPending,
    AuditError,
    ConfigurationError,
    EvaluationError,
    GovernanceError,
    PolicyError,
)
from guardrails.flow import OnDeny
from guardrails.governor import Governor, configure, get_governor
from guardrails.history import After, after
from guardrails.jsonl import JsonlAudit
from guardrails.limits import Limit, budget, rate
from guardrails.otel import OtelAudit
from guardrails.policy import Policy
from guardrails.provenance import Provenance
from guardrails.redaction import Redaction
from guardrails.refs import arg, ctx
from guardrails.rules import Effect, Rule, allow, deny, require_approval
from guardrails.state import MemoryStore, RedisStore, SQLiteStore, Store, StoreError

__version__ = "0.1.0"

# A library's logger stays silent unless the host configures logging.
logging.getLogger("guardrails").addHandler(logging.NullHandler())

__all__ = [
    "PENDING",
    "ActionDenied",
    "After",
    "AllOf",
    "AnyOf",
    "ApprovalDenied",
    "ApprovalError",
    "ApprovalPending",
    "ApprovalRecord",
    "ApprovalRequest",
    "ApprovalResponse",
    "ApprovalRules",
    "Approvals",
    "Approver",
    "AuditApproval",
    "AuditError",
    "AuditProblem",
    "AuditRecord",
    "AuditSink",
    "AuditVerification",
    "Call",
    "Condition",
    "ConfigurationError",
    "ConsoleApprover",
    "Decision",
    "DeferredApprover",
    "Effect",
    "EvaluationError",
    "GovernanceError",
    "GovernedFunction",
    "Governor",
    "JsonlAudit",
    "Limit",
    "LoggingAudit",
    "MemoryAudit",
    "MemoryStore",
    "Not",
    "OnDeny",
    "OtelAudit",
    "Outcome",
    "Policy",
    "PolicyError",
    "Provenance",
    "Redaction",
    "RedisStore",
    "Rule",
    "RuleResult",
    "SQLiteStore",
    "StaticApprover",
    "Store",
    "StoreError",
    "__version__",
    "after",
    "allow",
    "allow_all",
    "arg",
    "budget",
    "chain",
    "configure",
    "context",
    "ctx",
    "current_context",
    "deny",
    "deny_all",
    "get_governor",
    "governed",
    "rate",
    "read_audit",
    "require_approval",
    "verify_audit",
]
