"""A wire transfer waits for two people; they approve from another process.

    python examples/approvals_deferred.py

The agent (this process) asks to wire money. The rule needs two distinct
approvers from the finance desk, and nobody can answer right away: the
approver answers PENDING, the call raises ApprovalPending and the tool does
not run. The request lives in a SQLite file. A second process — the finance
desk's console, here started by this script — lists what waits and approves
it, as alice and then bob. The agent retries the identical call: it runs
once. A retry with another amount is a new request; the used approval cannot
be replayed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import guardrails as g

policy = g.Policy(
    [
        g.allow("wire"),
        g.require_approval(
            "wire",
            id="two-person-wires",
            reason="every wire needs two people from the finance desk",
            quorum=2,
            approvers=["alice", "bob", "carol"],
            rememberable=False,
        ),
    ]
)

FINANCE_DESK = """
import sys
import guardrails as g
from approvals_deferred import policy

store = g.SQLiteStore(sys.argv[1])
gov = g.Governor(policy, store=store)
for request in gov.approvals.pending():
    args = ", ".join(f"{k}={v!r}" for k, v in request.args.items())
    print(f"    [finance desk] waiting: {request.action}({args}) asked by {request.requester}")
    for person in ("alice", "bob"):
        decided = gov.approvals.approve(request.id, by=person, reason="matches invoice 2026-114")
        print(f"    [finance desk] {person} approves -> {decided.status}")
store.close()
"""


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="guardrails-approvals-"))
    store = g.SQLiteStore(folder / "state.db")
    audit = g.MemoryAudit()
    gov = g.Governor(policy, approver=g.approvals.DeferredApprover(), store=store, audit=audit)

    @g.governed("wire", governor=gov)
    def wire(iban: str, amount: float) -> str:
        return f"wired {amount:,.2f} to {iban}"

    def attempt(iban: str, amount: float) -> None:
        try:
            print(f"  agent: {wire(iban, amount)}")
        except g.ApprovalPending as pending:
            print(
                f"  agent: paused - {pending.request.action} waits for approval (request {pending.request.id[:8]})"
            )
        except g.ApprovalDenied as denial:
            print(f"  agent: denied - {denial.decision.reason}")

    with g.context(user="agent-7", session="invoice-run"):
        print("1. The agent asks to wire 12,500.00:")
        attempt("DE89 3704 0044 0532 0130 00", 12_500.00)
        print("2. Retrying before anyone decided changes nothing:")
        attempt("DE89 3704 0044 0532 0130 00", 12_500.00)
        print("3. The finance desk decides, in another process:")
        here = Path(__file__).resolve().parent
        subprocess.run([sys.executable, "-c", FINANCE_DESK, str(folder / "state.db")], cwd=here, check=True)
        print("4. The agent retries the identical call:")
        attempt("DE89 3704 0044 0532 0130 00", 12_500.00)
        print("5. The same call once more needs a new approval (a decision is single-use):")
        attempt("DE89 3704 0044 0532 0130 00", 12_500.00)
        print("6. Another amount is another request:")
        attempt("DE89 3704 0044 0532 0130 00", 99_000.00)

    ran = [r for r in audit.records if r.kind == "call" and r.outcome is g.Outcome.STARTED]
    (record,) = ran
    assert record.approval is not None
    print(
        f"\nThe wire that ran was approved by {', '.join(record.approval.approvers)} (request {record.approval.request_id[:8]})."
    )
    print(f"{len(gov.approvals.pending())} requests still wait.")
    store.close()


if __name__ == "__main__":
    main()
