"""Approve an agent's refunds at the terminal: yes, no, for the session, or edit.

    python examples/approvals_console.py

A scripted agent (no LLM, no network) works through refund requests. Small
refunds go through; larger ones stop at the terminal, which shows the
action, its arguments, the rule and why it asks. Answer y (approve),
s (approve refunds for the rest of this session), n (refuse) or e (edit:
type `amount=40`, then an empty line — the changed call is judged again, and
an edit the policy would deny is refused whatever you approved). End of
input refuses.
"""

from __future__ import annotations

import guardrails as g

policy = g.Policy(
    [
        g.allow("refund"),
        g.require_approval(
            "refund", when=g.arg("amount") > 100, id="large-refunds", reason="refunds over 100"
        ),
        g.deny("refund", when=g.arg("amount") > 1000, id="refund-cap", reason="never more than 1000"),
    ]
)
gov = g.Governor(policy, approver=g.approvals.ConsoleApprover())


@g.governed("refund", governor=gov)
def refund(order_id: str, amount: float) -> str:
    return f"refunded {amount:.2f} on {order_id}"


def main() -> None:
    queue = [("A-1001", 25.0), ("A-1002", 250.0), ("A-1003", 480.0), ("A-1004", 2500.0), ("A-1005", 120.0)]
    with g.context(user="support-agent", session="shift-1"):
        for order_id, amount in queue:
            try:
                print(f"agent: {refund(order_id, amount)}")
            except g.ActionDenied as denial:
                print(f"agent: not done - {denial.decision.reason}")


if __name__ == "__main__":
    main()
