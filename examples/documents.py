"""Policies as documents: load one, try a rule in shadow, edit it live, pull the kill switch.

    python examples/documents.py

No model and no network. The policy is examples/policies/support.toml; the
script copies it to a temporary folder so that it can edit it while the
"agent" keeps calling tools.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import guardrails as g

HERE = Path(__file__).resolve().parent

audit = g.MemoryAudit()
governor = g.Governor(
    approver=lambda request: g.ApprovalResponse(request.args["amount"] <= 500, by="finance-desk"),
    on_deny=lambda denial: f"[not run: {denial.decision.reason}]",
    audit=audit,
)


@g.governed("payments.refund", governor=governor)
def refund(order_id: str, amount: float, currency: str = "EUR") -> str:
    return f"refunded {amount} {currency} on {order_id}"


def attempt(label: str, **args: Any) -> None:
    print(f"  {label:<44} → {refund(**args)}")


def edit(path: Path, old: str, new: str) -> None:
    # Editors and deploy tools replace files whole; so do we.
    text = path.read_text().replace(old, new)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)


def main() -> None:
    workdir = Path(tempfile.mkdtemp())
    path = workdir / "support.toml"
    shutil.copy(HERE / "policies" / "support.toml", path)
    rejected: list[g.PolicyError] = []

    with governor.watch(path, interval=0.05, on_error=rejected.append), g.context(shift="day"):
        print(f"Loaded {path.name}: {len(governor.policy)} rules, version {governor.policy.version[:12]}\n")
        attempt("a small refund", order_id="1042", amount=40)
        attempt("a big refund, approved", order_id="1042", amount=300)
        attempt("a refund in an unlisted currency", order_id="1042", amount=40, currency="BTC")
        with g.context(shift="night"):
            attempt("a night-shift refund (shadow rule)", order_id="1042", amount=40)

        print("\nA bad edit: 'between' misspelt as 'betwen'")
        before = governor.policy
        edit(path, "between = [0.01, 100]", "betwen = [0.01, 100]")
        wait_until(lambda: rejected)
        print(f"  rejected: {rejected[0]}")
        print(f"  the policy in force is unchanged: {governor.policy is before}")

        print("\nA good edit: small refunds only up to 20")
        edit(path, "betwen = [0.01, 100]", "between = [0.01, 20]")
        wait_until(lambda: governor.policy is not before)
        attempt("the same small refund", order_id="1042", amount=40)

        print("\nThe kill switch")
        governor.block("payments.*", reason="refund fraud under investigation")
        attempt("a tiny refund while blocked", order_id="1042", amount=5)
        governor.unblock("payments.*")
        attempt("the same after unblocking", order_id="1042", amount=5)

    shutil.rmtree(workdir)
    print("\nAudit trail (final records; enforced=no marks what a shadow rule would have done)")
    print(f"  {'kind':<16} {'outcome':<9} {'effect':<17} {'enforced':<9} {'rule':<28} policy")
    for r in audit.records:
        if r.outcome is g.Outcome.STARTED:
            continue
        enforced = "yes" if r.enforced else "no"
        outcome = r.outcome.value if r.outcome else "-"
        line = f"  {r.kind:<16} {outcome:<9} {r.effect or '-':<17} {enforced:<9} {r.rule_id or '-':<28} {r.policy_version[:8]}"
        print(line.rstrip())


if __name__ == "__main__":
    main()
