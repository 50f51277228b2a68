"""The exceptions guardrails raises.

One shallow tree; every error carries the data a handler needs::

    GovernanceError
     ├─ ActionDenied         the tool did not run (.decision, .call)   guardrails.policy.decision
     │   └─ ApprovalDenied   a human or program said no, or the approval failed (.approval)
     ├─ ApprovalPending      a person decides later; retry the same call then (.request)
     │                       (both in guardrails.approvals.request: they carry approval values)
     ├─ StoreError           the state store failed (the call did not run)
     ├─ ApprovalError        gov.approvals could not approve or deny (unknown, decided, ineligible)
     ├─ PolicyError          a policy is invalid (also a ValueError)
     ├─ ConfigurationError   hooks wired in a way that cannot work (also a TypeError)
     └─ AuditError           an audit sink failed before the tool ran

The errors that carry a decision or a request live beside those types, one
layer up; every name is exported by ``guardrails``.

Condition evaluation errors (``EvaluationError``) never escape a policy: they
are recorded on the decision and resolved fail-closed.
"""

from __future__ import annotations

__all__ = [
    "ApprovalError",
    "AuditError",
    "ConfigurationError",
    "EvaluationError",
    "GovernanceError",
    "PolicyError",
    "StoreError",
]


class GovernanceError(Exception):
    """Base class of every error guardrails raises on purpose."""


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


class StoreError(GovernanceError):
    """A store failed or could not be reached; the call it was asked about does not run."""
