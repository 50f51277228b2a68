"""The exceptions guardrails raises.

One shallow tree; every error carries the data a handler needs::

    GovernanceError
     ├─ ActionDenied         the tool did not run (.decision, .call)
     │   └─ ApprovalDenied   a human or program said no, or the approval failed
     ├─ ApprovalPending      a person decides later; retry the same call then (.request)
     ├─ ApprovalError        gov.approvals could not approve or deny (unknown, decided, ineligible)
     ├─ PolicyError          a policy is invalid (also a ValueError)
     ├─ ConfigurationError   hooks wired in a way that cannot work (also a TypeError)
     └─ AuditError           an audit sink failed before the tool ran

Condition evaluation errors (``EvaluationError``) never escape a policy: they
are recorded on the decision and resolved fail-closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guardrails.approvals import ApprovalRequest
    from guardrails.call import Call
    from guardrails.decision import Decision
    from guardrails.redaction import Redaction

__all__ = [
    "ActionDenied",
    "ApprovalDenied",
    "ApprovalError",
    "ApprovalPending",
    "AuditError",
    "ConfigurationError",
    "EvaluationError",
    "GovernanceError",
    "PolicyError",
]


class GovernanceError(Exception):
    """Base class of every error guardrails raises on purpose."""


class ActionDenied(GovernanceError):
    """A governed call was not allowed to run.

    ``decision`` says which rule decided and why; ``call`` is what was attempted.
    """

    def __init__(self, decision: Decision, call: Call) -> None:
        self.decision = decision
        self.call = call
        #: The policy's redaction, for showing the call to the model (None: the default one).
        self.redaction: Redaction | None = None
        super().__init__(self._message())

    def _message(self) -> str:
        d = self.decision
        return f"{d.call.action!r} denied by rule {d.rule_id!r}: {d.reason}"


class ApprovalDenied(ActionDenied):
    """A call needing approval was not approved (refused, timed out or failed)."""

    def _message(self) -> str:
        d = self.decision
        return f"{d.call.action!r} not approved (rule {d.rule_id!r}): {d.reason}"


class ApprovalPending(GovernanceError):
    """A call waits for a person's approval: the tool did not run.

    ``request`` is the ``ApprovalRequest`` (its ``id`` is what
    ``gov.approvals.approve`` takes). Retry the identical call once it is
    decided: approved, it runs once; refused, it is denied.
    """

    def __init__(self, request: ApprovalRequest, why: str = "waiting for approval") -> None:
        self.request = request
        self.decision = request.decision
        self.call = request.call
        super().__init__(
            f"{request.action!r} did not run: {why} (request {request.id}, rule {request.rule_id!r}: "
            f"{request.reason})"
        )


class ApprovalError(GovernanceError):
    """``gov.approvals`` could not approve or deny a request: unknown, expired or
    already decided, or the person may not approve it."""


class PolicyError(GovernanceError, ValueError):
    """A policy, rule or condition is invalid. Raised when it is built."""


class ConfigurationError(GovernanceError, TypeError):
    """Hooks or decorators are combined in a way that cannot work.

    For example an async approver for a sync tool. The tool did not run.
    """


class AuditError(GovernanceError):
    """An audit sink failed before the tool ran, so the tool did not run."""


class EvaluationError(GovernanceError):
    """A condition could not be evaluated (wrong type, missing value, NaN...).

    Policies catch it: a deny or require-approval rule then applies, an allow
    rule does not, and the decision records the message.
    """
