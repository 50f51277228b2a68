"""Approvals: requests and answers, the built-in approvers, deferred requests (``gov.approvals``) and the ask step."""

from guardrails.approvals.approvers import (
    ConsoleApprover,
    DeferredApprover,
    StaticApprover,
    allow_all,
    chain,
    deny_all,
)
from guardrails.approvals.ask import AskApprover, Asked, AskSettings, ask, async_hook_error, discard
from guardrails.approvals.inbox import ApprovalRecord, Approvals, Needs, Settings
from guardrails.approvals.request import (
    PENDING,
    Approval,
    ApprovalDenied,
    ApprovalPending,
    ApprovalRequest,
    ApprovalResponse,
    Approver,
    Pending,
    as_response,
    call_digest,
)

__all__ = [
    "PENDING",
    "Approval",
    "ApprovalDenied",
    "ApprovalPending",
    "ApprovalRecord",
    "ApprovalRequest",
    "ApprovalResponse",
    "Approvals",
    "Approver",
    "AskApprover",
    "AskSettings",
    "Asked",
    "ConsoleApprover",
    "DeferredApprover",
    "Needs",
    "Pending",
    "Settings",
    "StaticApprover",
    "allow_all",
    "as_response",
    "ask",
    "async_hook_error",
    "call_digest",
    "chain",
    "deny_all",
    "discard",
]
