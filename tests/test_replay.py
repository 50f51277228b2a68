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


def limited(count: int) -> g.Policy:
    return g.Policy(
        [
            g.allow("send_email", id="mail"),
            g.deny("send_email", limit=g.rate(count, per="1m", key=g.ctx("user")), id="mail-rate"),
        ]
    )


def mail_traffic(policy: g.Policy, times: list[float], *, fail: set[int] = frozenset()) -> g.MemoryAudit:  # type: ignore[assignment]
    """Mail sent by alice at ``times`` (seconds), the tool raising on the calls in ``fail``."""
    from conftest import Clock

    clock = Clock(times[0])
    audit = g.MemoryAudit()
    gov = g.Governor(policy, audit=audit, store=g.MemoryStore(clock=clock))
    count = iter(range(len(times)))

    @g.governed("send_email", governor=gov)
    def mail(to: str) -> str:
        if next(count) in fail:
            raise RuntimeError("smtp down")
        return "sent"

    with g.context(user="alice"):
        for i, at in enumerate(times):
            clock.now = at
            with contextlib.suppress(g.ActionDenied, RuntimeError):
                mail(f"{i}@acme.com")
    return audit


class TestLimits:
    def test_every_call_is_compared(self) -> None:
        """15 calls under a limit of 10: replayed in order, all compared, none changed."""
        audit = mail_traffic(limited(10), [1_000_000.0] * 15)
        assert [r.rule_id for r in audit.records if r.outcome is g.Outcome.NOT_RUN] == ["mail-rate"] * 5
        report = replay(audit.records, limited(10))
        assert (report.calls, report.compared, report.unchanged, report.stateful) == (15, 15, 15, 15)
        assert report.changes == [] and not report.not_compared

    def test_a_tighter_limit_denies_the_calls_past_it(self) -> None:
        """Under a limit of 5 the sixth to tenth calls are newly denied; the rest stay as they were."""
        audit = mail_traffic(limited(10), [1_000_000.0] * 15)
        report = replay(audit.records, limited(5))
        assert [c.record.args["to"] for c in report.changes] == [f"{i}@acme.com" for i in range(5, 10)]
        assert report.summary() == {"newly denied": {"rule 'mail-rate'": 5}}
        looser = replay(audit.records, limited(20))
        assert looser.summary() == {"newly allowed": {"rule 'mail'": 5}}

    def test_recorded_times_and_windows(self) -> None:
        """Calls a window apart do not add up: the replay runs at the recorded times."""
        from datetime import datetime, timedelta, timezone

        audit = mail_traffic(limited(10), [1_000_000.0] * 6)
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        order = list(dict.fromkeys(r.call_id for r in audit.records))

        def spaced(seconds: int) -> list[g.AuditRecord]:
            return [
                r.model_copy(update={"time": start + timedelta(seconds=seconds * order.index(r.call_id))})
                for r in audit.records
            ]

        assert replay(spaced(61), limited(1)).changes == []
        assert len(replay(spaced(1), limited(1)).changes) == 5

    def test_a_tool_that_raised_gives_its_share_back(self) -> None:
        """As the governor does: a call whose tool raised does not count against the limit."""
        audit = mail_traffic(limited(10), [1_000_000.0] * 3, fail={0, 1})
        assert replay(audit.records, limited(1)).changes == []
        kept = mail_traffic(limited(10), [1_000_000.0] * 3)
        assert len(replay(kept.records, limited(1)).changes) == 2

    def test_after_is_replayed(self) -> None:
        """after(...) sees the calls before, in order: a mail after a secret was read is denied."""
        old = g.Policy([g.allow("read_file"), g.allow("send_email")])
        new = g.Policy(
            [
                g.allow("read_file"),
                g.allow("send_email"),
                g.deny("send_email", when=g.after("read_file", within="1h"), id="exfil"),
            ]
        )
        audit = g.MemoryAudit()
        gov = g.Governor(old, audit=audit)
        read = g.governed("read_file", governor=gov)(lambda path: "secret")
        mail = g.governed("send_email", governor=gov)(lambda to: "sent")
        with g.context(session="s-1"):
            mail("a@acme.com")
            read("/secrets/key")
            mail("b@acme.com")
        report = replay(audit.records, new)
        assert [(c.record.args["to"], c.now.rule_id) for c in report.changes] == [("b@acme.com", "exfil")]

    def test_provenance_is_not_compared_and_says_so(self) -> None:
        """provenance(...) reads tool outputs the log does not keep: those calls are counted, not compared."""
        audit = mail_traffic(limited(10), [1_000_000.0] * 3)
        policy = g.Policy(
            [
                g.allow("send_email"),
                g.deny("send_email", when=g.arg("to").provenance("untrusted"), id="planted"),
            ]
        )
        report = replay(audit.records, policy)
        assert (report.calls, report.compared, dict(report.not_compared)) == (3, 0, {"send_email": 3})


class TestOrder:
    """Calls are replayed in the order of their recorded times, whatever order the records come in."""

    @staticmethod
    def _two_bursts() -> tuple[list[g.AuditRecord], list[g.AuditRecord]]:
        """Three mails, then three more two minutes later: two logs, each within its own window."""
        from datetime import datetime, timedelta, timezone

        audit = mail_traffic(limited(10), [1_000_000.0] * 6)
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        order = list(dict.fromkeys(r.call_id for r in audit.records))

        def at(record: g.AuditRecord) -> g.AuditRecord:
            i = order.index(record.call_id)
            return record.model_copy(update={"time": start + timedelta(seconds=i + 120 * (i >= 3))})

        records = [at(r) for r in audit.records]
        first = [r for r in records if order.index(r.call_id) < 3]
        return first, [r for r in records if r not in first]

    def test_the_order_of_the_logs_does_not_matter(self) -> None:
        """Logs given newest first replay as if given oldest first: no burst passes a limit of 3 a minute."""
        first, second = self._two_bursts()
        in_order = replay(first + second, limited(3))
        reversed_logs = replay(second + first, limited(3))
        assert (in_order.calls, in_order.changes) == (6, [])
        assert (reversed_logs.calls, reversed_logs.unchanged, reversed_logs.changes) == (6, 6, [])
        assert (
            len(replay(first + second, limited(2)).changes)
            == len(replay(second + first, limited(2)).changes)
            == 2
        )

    def test_lines_out_of_order_in_one_file(self, tmp_path: Path) -> None:
        """A file whose lines are not in time order is replayed by time too, through the command line."""
        from guardrails.cli import main

        first, second = self._two_bursts()
        (tmp_path / "old.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in first))
        (tmp_path / "new.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in second))
        (tmp_path / "mixed.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in second + first))
        candidate = tmp_path / "limited.toml"
        candidate.write_text(
            '[[rules]]\nid = "mail"\naction = "send_email"\neffect = "allow"\n'
            '[[rules]]\nid = "mail-rate"\naction = "send_email"\neffect = "deny"\n'
            'limit = { count = 3, per = "1m", key = [{ ctx = "user" }] }\n'
        )
        for logs in (["old.jsonl", "new.jsonl"], ["new.jsonl", "old.jsonl"], ["mixed.jsonl"]):
            assert (
                main(["replay", *(str(tmp_path / log) for log in logs), "--policy", str(candidate)]) == 0
            ), logs
