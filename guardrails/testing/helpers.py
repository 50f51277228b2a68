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
    "NoAnswerQueued",
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


class NoAnswerQueued(LookupError):
    """A ``ScriptedApprover`` was asked with no answer left in its script and no default."""


class ScriptedApprover:
    """An approver answering from a script, in order::

        approver = ScriptedApprover(True, False)   # approve the first request, refuse the second
        approver.push(True)                        # queue more answers (bools or ApprovalResponses)
        gov = g.Governor(policy, approver=approver)
        ...
        approver.requests                          # every request it was asked, in order

    Asked with no answer left, it answers ``default`` when one was given
    (``ScriptedApprover(default=True)`` approves everything); without one it raises
    ``NoAnswerQueued``, saying how to queue answers, and the governor refuses the
    call (an approver that fails refuses), with that message in the reason.
    """

    def __init__(
        self,
        *answers: bool | ApprovalResponse,
        default: bool | None = None,
        by: str = "test",
        name: str = "the ScriptedApprover",
    ) -> None:
        self.answers = list(answers)
        self.default = default
        self.by = by
        self.name = name
        self.requests: list[ApprovalRequest] = []

    def push(self, *answers: bool | ApprovalResponse) -> None:
        """Add answers to the end of the script."""
        self.answers.extend(answers)

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        self.requests.append(request)
        if self.answers:
            answer: bool | ApprovalResponse = self.answers.pop(0)
        elif self.default is not None:
            answer = self.default
        else:
            raise NoAnswerQueued(
                f"{self.name} was asked to approve {request.action!r} (request {len(self.requests)}) "
                f"with no answer queued: queue answers before the call, one per request, in order: "
                f"{self.name}.push(True) approves, .push(False) refuses; or set .default = True "
                "(or False) to answer every request"
            )
        if isinstance(answer, ApprovalResponse):
            return answer
        return ApprovalResponse(answer, by=self.by)

    def __repr__(self) -> str:
        then = "an error" if self.default is None else self.default
        return f"<ScriptedApprover {len(self.answers)} answers left, then {then}>"
