"""Approval requests and responses: what an approver sees and answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guardrails.values import show

if TYPE_CHECKING:
    from guardrails.call import Call
    from guardrails.decision import Decision

__all__ = ["ApprovalRequest", "ApprovalResponse", "Approver", "as_response"]


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A call that a rule says needs approval: show it to a human or a program.

    ``call`` is exactly what will run if approved; ``decision`` names the rule
    and its reason.
    """

    call: Call
    decision: Decision

    @property
    def action(self) -> str:
        """The action waiting for approval."""
        return self.call.action

    @property
    def args(self) -> Mapping[str, Any]:
        """Its arguments, by name."""
        return self.call.args

    @property
    def context(self) -> Mapping[str, Any]:
        """The context it was called in."""
        return self.call.context

    @property
    def rule_id(self) -> str:
        """The rule that asked for approval."""
        return self.decision.rule_id

    @property
    def reason(self) -> str:
        """Why approval is needed."""
        return self.decision.reason


@dataclass(frozen=True, slots=True)
class ApprovalResponse:
    """An approver's answer: ``approved``, and optionally who and why."""

    approved: bool
    by: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if type(self.approved) is not bool:
            raise TypeError(f"ApprovalResponse.approved must be True or False, got {show(self.approved)}")
        for name in ("by", "reason"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"ApprovalResponse.{name} must be a string, got {show(value)}")


Answer = bool | ApprovalResponse
#: ``(ApprovalRequest) -> bool | ApprovalResponse``, or an awaitable of either.
Approver = Callable[[ApprovalRequest], Answer | Awaitable[Answer]]


def as_response(answer: object) -> ApprovalResponse | None:
    """Return an approver's answer as a response, or None if it is not one."""
    if type(answer) is bool:
        return ApprovalResponse(answer)
    if isinstance(answer, ApprovalResponse) and type(answer.approved) is bool:
        return answer  # a subclass that skipped the check cannot approve with a truthy "no"
    return None
