"""Approvals: who says yes when a rule answers ``require_approval``.

An ``Approver`` is ``(ApprovalRequest) -> bool | ApprovalResponse`` (or an
awaitable of either). The built-in ones approve or refuse everything
(``allow_all``, ``deny_all``, ``StaticApprover``), ask at the terminal
(``ConsoleApprover``), or answer ``PENDING``, a person decides later
(``DeferredApprover``); ``chain`` asks several in turn. A call a person decides
later raises ``ApprovalPending``; its request waits in ``gov.approvals``
(``Approvals``, one ``ApprovalRecord`` each), bound to the exact call
(``call_digest``), until someone approves it (the retry runs, once) or denies it
(the retry raises ``ApprovalDenied``, as every refusal does). ``Approval`` says
how asking went (``ApprovalDenied.approval``). An approver that pauses the run
instead of answering (a framework's interrupt) raises ``PauseRun(exception)``.
"""

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
    Approval,
    ApprovalDenied,
    ApprovalPending,
    ApprovalRequest,
    ApprovalResponse,
    Approver,
    PauseRun,
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
    "ConsoleApprover",
    "DeferredApprover",
    "PauseRun",
    "StaticApprover",
    "allow_all",
    "call_digest",
    "chain",
    "deny_all",
]
