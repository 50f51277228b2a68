"""Runtime governance of AI-agent tool calls.

Decorate a tool with ``@governed``; before it runs, a policy judges its
arguments and context and decides allow, deny or require approval.
"""

import logging

from guardrails._version import __version__
from guardrails.approvals.approvers import (
    ConsoleApprover,
    DeferredApprover,
    StaticApprover,
    allow_all,
    chain,
    deny_all,
)
from guardrails.approvals.inbox import ApprovalRecord, Approvals
from guardrails.approvals.request import (
    PENDING,
    ApprovalDenied,
    ApprovalPending,
    ApprovalRequest,
    ApprovalResponse,
    Approver,
)
from guardrails.audit.chain import AuditProblem, AuditVerification, read_audit, verify_audit
from guardrails.audit.jsonl import JsonlAudit
from guardrails.audit.otel import OtelAudit
from guardrails.audit.records import AuditApproval, AuditRecord, AuditSink, LoggingAudit, MemoryAudit, Outcome
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
from guardrails.policy.conditions import AllOf, AnyOf, Condition, Not
from guardrails.policy.decision import ActionDenied, Decision, RuleResult
from guardrails.policy.history import After, after
from guardrails.policy.limits import Limit, budget, rate
from guardrails.policy.provenance import Provenance
from guardrails.policy.redaction import Redaction
from guardrails.policy.refs import arg, ctx
from guardrails.policy.rules import Effect, Rule, allow, deny, require_approval
from guardrails.runtime.decorator import GovernedFunction, governed
from guardrails.runtime.governor import Governor, configure, get_governor
from guardrails.runtime.setup import OnDeny
from guardrails.state import MemoryStore, RedisStore, SQLiteStore, Store

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
