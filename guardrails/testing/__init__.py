"""Testing policies with pytest: assertion helpers, a scripted approver, captured audit.

The pytest plugin (``guardrails.testing.pytest_plugin``, loaded by pytest's
entry point), case files (``guardrails.testing.cases``), lint and replay live
beside these helpers.
"""

from guardrails.testing.helpers import (
    CapturedAudit,
    NoAnswerQueued,
    ScriptedApprover,
    assert_allowed,
    assert_denied,
    assert_needs_approval,
    decision_observers,
)

__all__ = [
    "CapturedAudit",
    "NoAnswerQueued",
    "ScriptedApprover",
    "assert_allowed",
    "assert_denied",
    "assert_needs_approval",
    "decision_observers",
]
