"""Re-judging recorded traffic under a candidate policy."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

import guardrails as g
from guardrails.testing.replay import recorded_effect, replay

OLD = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 100, id="small"),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large"),
        g.allow("send_email", id="mail"),
    ]
)
NEW = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 50, id="smaller"),
        g.deny("refund", when=g.arg("amount") > 1000, id="cap"),
        g.require_approval("refund", when=g.arg("amount") > 50, id="large"),
        g.allow("send_email", id="mail"),
    ]
)


def traffic(approver: Any = None) -> g.MemoryAudit:
    audit = g.MemoryAudit()
    gov = g.Governor(OLD, audit=audit, approver=approver)
    refund = g.governed("refund", governor=gov)(lambda amount, note="": "ok")
    mail = g.governed("send_email", governor=gov)(lambda to, password="": "sent")
    for amount in (10, 80, 90):
        refund(amount)
    for amount in (500, 5000):
        with contextlib.suppress(g.ApprovalDenied):
            refund(amount)
    mail("a@acme.com", password="hunter22")
    gov.block("send_email")
    with pytest.raises(g.ActionDenied):
        mail("b@acme.com")
    return audit


class TestReplay:
    def test_what_would_change(self) -> None:
        """Each call counted once, compared with the policy's own decision then."""
        report = replay(traffic(approver=lambda request: request.args["amount"] < 1000), NEW)
        assert report.calls == 6  # the blocked mail is the kill switch's, not the policy's
        assert report.unchanged == 3  # 10 still allowed, 500 still needs approval, the mail
        assert report.summary() == {
            "newly denied": {"rule 'cap'": 1},
            "newly needs approval": {"rule 'large'": 2},
        }
        assert {(c.record.args["amount"], c.was, c.now.effect.value) for c in report.changes} == {
            (80, "allow", "require_approval"),
            (90, "allow", "require_approval"),
            (5000, "require_approval", "deny"),
        }

    def test_recorded_effect_is_the_policys(self) -> None:
        """Approved and refused calls had require_approval; kill-switch blocks are no policy decision."""
        audit = traffic(approver=lambda request: request.args["amount"] < 1000)
        decisions = {
            r.call_id: recorded_effect(r) for r in audit.records if r.outcome is not g.Outcome.RETURNED
        }
        assert list(decisions.values()).count("require_approval") == 2
        (blocked,) = [r for r in audit.records if r.kind == "call" and r.rule_id.startswith("kill-switch:")]
        assert recorded_effect(blocked) is None

    def test_a_long_reason_does_not_hide_the_approval(self) -> None:
        """The policy's own effect is recorded as a field, whatever the reason's length."""
        domains = [f"partner{i}.example" for i in range(60)]
        policy = g.Policy([g.require_approval("send_email", when=~g.arg("to").email_domain_in(domains))])
        audit = g.MemoryAudit()
        mail = g.governed("send_email", governor=g.Governor(policy, audit=audit))(lambda to: "sent")
        with pytest.raises(g.ApprovalDenied):
            mail("x@evil.example")  # no approver: refused
        (record,) = audit.records
        assert (record.effect, record.decided) == ("deny", "require_approval")
        assert replay(audit.records, policy).changes == []

    def test_lossy_values_are_uncertain(self) -> None:
        """Values cut or recorded as text (many kwargs, a Decimal) make a call uncertain."""
        from decimal import Decimal

        policy = g.Policy([g.allow("t", when=g.arg("amount").decimal() <= 100)])
        audit = g.MemoryAudit()
        tool = g.governed("t", governor=g.Governor(policy, audit=audit))(lambda amount, **extra: "ok")
        tool(Decimal("40"))
        tool(40, **{f"k{i}": i for i in range(300)})
        tool(40)
        report = replay(audit.records, policy)
        assert [r.exact for r in audit.records[::2]] == [False, False, True]
        assert report.uncertain == 2

    def test_redacted_values_are_uncertain(self) -> None:
        """A call whose recorded arguments were redacted is counted as uncertain."""
        report = replay(traffic(), NEW)
        assert report.uncertain == 1  # the mail with a password

    def test_from_a_log_file(self, tmp_path: Path) -> None:
        """Replaying what a JSONL log holds gives the same answer as the records themselves."""
        log = g.JsonlAudit(tmp_path / "audit.jsonl")
        gov = g.Governor(OLD, audit=log)
        refund = g.governed("refund", governor=gov)(lambda amount: "ok")
        refund(80)
        log.close()
        report = replay(g.read_audit(tmp_path / "audit.jsonl"), NEW)
        assert (report.calls, len(report.changes)) == (1, 1)
