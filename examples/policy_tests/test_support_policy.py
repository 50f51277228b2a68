"""Testing the support agent's policy and tools with the guardrails pytest plugin.

pytest examples/policy_tests
"""

from pathlib import Path

import pytest

import guardrails as g
from guardrails.testing import CapturedAudit, ScriptedApprover, assert_denied, assert_needs_approval

POLICY = g.Policy.from_file(Path(__file__).with_name("policy.toml"))


@g.governed
def refund(order_id: str, amount: float) -> str:
    return f"refunded {amount} on {order_id}"


def test_limits_in_python() -> None:
    """The assert helpers print every rule's verdict when they fail."""
    assert_needs_approval(POLICY, "refund", {"order_id": "A-1", "amount": 250}, rule_id="large-refunds")
    assert_denied(POLICY, "refund", {"order_id": "A-1", "amount": 1e9}, rule_id="refund-cap")


def test_a_person_approves_then_refuses(
    guardrails_governor: g.Governor, guardrails_approver: ScriptedApprover, guardrails_audit: CapturedAudit
) -> None:
    """The fixtures: the default governor for this test only, a scripted approver, the records."""
    guardrails_governor.policy = POLICY
    guardrails_approver.push(True, False)
    assert refund("A-7", 250) == "refunded 250 on A-7"
    with pytest.raises(g.ApprovalDenied):
        refund("A-8", 300)
    assert [request.args["order_id"] for request in guardrails_approver.requests] == ["A-7", "A-8"]
    assert guardrails_audit.ran == ["refund"]
    assert [record.effect for record in guardrails_audit.decisions] == ["allow", "deny"]
