"""Helpers for testing policies and governed tools (the pytest plugin uses them too).

    from guardrails.testing import assert_allowed, assert_denied

    def test_refund_limits():
        policy = g.Policy.from_file("policy.toml")
        assert_allowed(policy, "payments.refund", {"amount": 40})
        assert_denied(policy, "payments.refund", {"amount": 5000}, rule_id="refund-cap")

A failing assertion prints the whole explanation: every rule considered, the
values it saw, and the decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from guardrails.approvals.request import ApprovalRequest, ApprovalResponse
from guardrails.audit.records import AuditRecord, MemoryAudit, Outcome
from guardrails.policy.decision import Decision
from guardrails.policy.evaluate import Policy
from guardrails.policy.rules import Effect
from guardrails.runtime.governor import Governor
from guardrails.testing.cases import mismatch

__all__ = [
    "CapturedAudit",
    "ScriptedApprover",
    "assert_allowed",
    "assert_denied",
    "assert_needs_approval",
    "decision_observers",
]

Judge = Policy | Governor

#: The innermost is called with every decision the assertion helpers make (rule
#: coverage listens here; a pytest run inside a test has its own).
decision_observers: list[Callable[[Policy, Decision], None]] = []


def assert_allowed(
    judge: Judge, action: str, args: Mapping[str, Any] | None = None, context: Mapping[str, Any] | None = None
) -> Decision:
    """Assert that the call is allowed; returns the decision."""
    return _expect(judge, action, args, context, Effect.ALLOW, None)


def assert_denied(
    judge: Judge,
    action: str,
    args: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    *,
    rule_id: str | None = None,
) -> Decision:
    """Assert that the call is denied (by ``rule_id``, when given); returns the decision."""
    return _expect(judge, action, args, context, Effect.DENY, rule_id)


def assert_needs_approval(
    judge: Judge,
    action: str,
    args: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    *,
    rule_id: str | None = None,
) -> Decision:
    """Assert that the call needs approval (from ``rule_id``, when given); returns the decision."""
    return _expect(judge, action, args, context, Effect.REQUIRE_APPROVAL, rule_id)


def _expect(
    judge: Judge,
    action: str,
    args: Mapping[str, Any] | None,
    context: Mapping[str, Any] | None,
    effect: Effect,
    rule_id: str | None,
) -> Decision:
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    if isinstance(judge, Governor):
        decision = judge.check(action, args, context=context)
        policy = judge.policy
    elif isinstance(judge, Policy):
        decision = judge.evaluate(action, args, context)
        policy = judge
    else:
        raise TypeError(f"expected a Policy or a Governor, got {type(judge).__name__}")
    if decision_observers:
        decision_observers[-1](policy, decision)
    wrong = mismatch(decision, effect.value, rule_id)
    if wrong:
        raise AssertionError(f"{wrong}\n{decision.explain()}")
    return decision


class CapturedAudit(MemoryAudit):
    """A ``MemoryAudit`` with questions a test asks of it."""

    @property
    def decisions(self) -> list[AuditRecord]:
        """One record per enforced call: its decision (``started`` or ``not_run``)."""
        return [
            r
            for r in self
            if r.kind == "call" and r.enforced and r.outcome in (Outcome.STARTED, Outcome.NOT_RUN)
        ]

    def calls(self, action: str) -> list[AuditRecord]:
        """The decisions on ``action``."""
        return [r for r in self.decisions if r.action == action]

    @property
    def ran(self) -> list[str]:
        """The actions whose tools ran (returned or raised), in order."""
        return [r.action for r in self if r.outcome in (Outcome.RETURNED, Outcome.RAISED)]


class ScriptedApprover:
    """An approver answering from a script: ``ScriptedApprover(True, False)`` approves
    the first request, refuses the second, and refuses (``default``) after that.

    ``requests`` holds every request it was asked, in order.
    """

    def __init__(self, *answers: bool | ApprovalResponse, default: bool = False, by: str = "test") -> None:
        self.answers = list(answers)
        self.default = default
        self.by = by
        self.requests: list[ApprovalRequest] = []

    def push(self, *answers: bool | ApprovalResponse) -> None:
        """Add answers to the end of the script."""
        self.answers.extend(answers)

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else self.default
        if isinstance(answer, ApprovalResponse):
            return answer
        return ApprovalResponse(answer, by=self.by)

    def __repr__(self) -> str:
        return f"<ScriptedApprover {len(self.answers)} answers left, then {self.default}>"
