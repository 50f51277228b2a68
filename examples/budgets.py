"""A refund agent that hits its daily budget, and a mailer that hits its rate limit.

    python examples/budgets.py

A scripted agent (no LLM, no network) works through a support queue. Refunds
add up per customer per day; past 500, a person is asked (here the finance
desk approves once, then says no). A refund that fails does not use up the
budget, and a tool re-run on resume (same tool-call id) is counted once. The
counters live in a SQLite file, so a second process — or a restart — sees them.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import guardrails as g

policy = g.Policy.from_dict(
    {
        "rules": [
            {"action": "refund", "effect": "allow"},
            {
                "id": "daily-refunds",
                "action": "refund",
                "effect": "require_approval",
                "limit": {"sum": "amount", "max": 500, "per": "1d", "key": [{"arg": "customer"}]},
                "reason": "refunds past 500 a day for one customer need the finance desk",
            },
            {"action": "send_email", "effect": "allow"},
            {
                "id": "mail-rate",
                "action": "send_email",
                "effect": "deny",
                "limit": {"count": 3, "per": "1m", "key": [{"ctx": "user"}]},
                "reason": "at most 3 mails a minute",
            },
        ]
    }
)

folder = Path(tempfile.mkdtemp(prefix="guardrails-budgets-"))
store = g.SQLiteStore(folder / "counters.db")
answers = iter([True, False])


def finance_desk(request: g.ApprovalRequest) -> g.ApprovalResponse:
    approved = next(answers, False)
    print(
        f"    finance desk {'approves' if approved else 'refuses'} {request.args['amount']} for {request.args['customer']}"
    )
    return g.ApprovalResponse(approved, by="finance-desk")


audit = g.MemoryAudit()
gov = g.Governor(
    policy,
    store=store,
    approver=finance_desk,
    audit=audit,
    on_deny=lambda d: f"[not done: {d.decision.reason}]",
)


@g.governed(governor=gov)
def refund(customer: str, amount: Decimal) -> str:
    if amount == Decimal("99.99"):
        raise ConnectionError("payment provider timed out")
    return f"refunded {amount} to {customer}"


@g.governed(governor=gov)
def send_email(to: str, subject: str) -> str:
    return f"mailed {to}"


print("Refunds for customer C-7 (budget: 500 a day)")
with g.context(user="support-bot", session="s-1"):
    for step, amount in enumerate(["120.00", "99.99", "250.50", "129.50", "80.00", "10.00"], 1):
        with g.context(tool_call_id=f"call-{step}"):
            try:
                print(f"  {amount:>7}: {refund('C-7', Decimal(amount))}")
            except ConnectionError as error:
                print(f"  {amount:>7}: failed ({error}) - the budget is not used")
    print("  resume: the framework re-runs call-1; it is counted once")
    with g.context(tool_call_id="call-1"):
        print(f"  {'120.00':>7}: {refund('C-7', Decimal('120.00'))}")
    print(f"  used today: {gov.usage('daily-refunds', {'customer': 'C-7'})} of 500")

    print("\nMails (3 a minute per user)")
    for i in range(4):
        print(f"  mail {i + 1}: {send_email(f'customer{i}@example.com', 'your refund')}")

print("\nAudit trail (limits as recorded)")
for record in audit.records:
    if record.kind == "call" and record.limits and record.outcome is not g.Outcome.STARTED:
        limit = record.limits[0]
        print(f"  {record.action:<10} {record.outcome.value:<8} {limit['amount']:>7}  {limit['result']}")

second = g.Governor(policy, store=g.SQLiteStore(folder / "counters.db"))  # another process, or a restart
print(f"\nA second store on the same file sees {second.usage('daily-refunds', {'customer': 'C-7'})} used.")
store.close()
second.setup.store.close()  # type: ignore[attr-defined]
