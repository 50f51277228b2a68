"""Rules with limits: rate limits and budgets through governed calls."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import guardrails as g
from guardrails.runtime.limiter import entry_for
from guardrails.state import Entry


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


MAIL_RATE = g.deny("send_email", limit=g.rate(2, per="1m", key=g.ctx("user")), id="mail-rate")
DAILY = g.require_approval(
    "refund",
    limit=g.budget("amount", 500, per="1d", key=g.arg("customer")),
    id="daily",
    reason="refunds past 500 a day per customer need a person",
)
POLICY = g.Policy([g.allow("send_email"), MAIL_RATE, g.allow("refund"), DAILY])


#: Whether agents record: with no audit sink, an allowed call within its limits
#: takes a short path past the flow (the classes using ``both_paths`` run twice).
RECORDED = [True]


@pytest.fixture(params=["recorded", "short path"])
def both_paths(request: pytest.FixtureRequest) -> Any:
    RECORDED[0] = request.param == "recorded"
    yield
    RECORDED[0] = True


class Agent:
    def __init__(self, policy: g.Policy = POLICY, **options: Any) -> None:
        self.audit = g.MemoryAudit()
        self.ran: list[Any] = []
        if RECORDED[0]:
            options.setdefault("audit", self.audit)
        self.gov = g.Governor(policy, **options)

        @g.governed("send_email", governor=self.gov)
        def send_email(to: str) -> str:
            self.ran.append(to)
            return "sent"

        @g.governed("refund", governor=self.gov)
        def refund(customer: str, amount: Any) -> str:
            if amount == 13:
                raise ValueError("unlucky")
            self.ran.append(amount)
            return "refunded"

        @g.governed("refund", governor=self.gov)
        async def refund_async(customer: str, amount: Any) -> str:
            self.ran.append(amount)
            return "refunded"

        self.send_email, self.refund, self.refund_async = send_email, refund, refund_async


@pytest.mark.usefixtures("both_paths")
class TestRate:
    def test_limit_per_key(self) -> None:
        """Two mails a minute per user: the third is denied; another user has their own count."""
        agent = Agent()
        with g.context(user="alice"):
            agent.send_email("a")
            agent.send_email("b")
            with pytest.raises(g.ActionDenied, match="'mail-rate'") as info:
                agent.send_email("c")
        assert info.value.decision.rule_id == "mail-rate"
        assert "limit reached" in info.value.decision.reason
        with g.context(user="bob"):
            agent.send_email("d")
        assert agent.ran == ["a", "b", "d"]

    def test_the_window_slides(self) -> None:
        """Once a minute has passed since the first mail, one more may go."""
        clock = Clock()
        agent = Agent(store=g.MemoryStore(clock=clock))
        with g.context(user="alice"):
            agent.send_email("a")
            clock.now += 30
            agent.send_email("b")
            clock.now += 29.999
            with pytest.raises(g.ActionDenied):
                agent.send_email("c")
            clock.now += 0.001
            agent.send_email("d")
        assert agent.ran == ["a", "b", "d"]

    def test_a_denied_call_does_not_count(self) -> None:
        """A call denied by another rule gives its reservation back."""
        policy = POLICY + g.Policy([g.deny("send_email", when=g.arg("to") == "eve", id="no-eve")])
        agent = Agent(policy)
        with g.context(user="alice"):
            for _ in range(3):
                with pytest.raises(g.ActionDenied, match="no-eve"):
                    agent.send_email("eve")
            agent.send_email("a")
            agent.send_email("b")
        assert agent.ran == ["a", "b"]

    def test_a_rerun_counts_once(self) -> None:
        """The same tool-call id (a framework re-running a tool on resume) is counted once."""
        agent = Agent()
        with g.context(user="alice", tool_call_id="call_1"):
            for _ in range(5):
                agent.send_email("again")
        with g.context(user="alice"):
            agent.send_email("one more")
            with pytest.raises(g.ActionDenied):
                agent.send_email("too many")

    def test_missing_key_fails_closed(self) -> None:
        """Without the value the key needs, the limit cannot be checked: the rule applies."""
        agent = Agent()
        with pytest.raises(g.ActionDenied, match="could not be checked") as info:
            agent.send_email("no user in context")
        assert (
            "has no context value 'user'" in info.value.decision.reason
            or "user" in info.value.decision.reason
        )
        assert agent.ran == []


@pytest.mark.usefixtures("both_paths")
class TestBudget:
    def test_spending_up_to_the_budget(self) -> None:
        """Refunds add up per customer per day; past 500, a person is asked (here: refuses)."""
        agent = Agent(approver=lambda request: False)
        agent.refund("c1", 200)
        agent.refund("c1", Decimal("299.99"))
        with pytest.raises(g.ApprovalDenied, match="daily"):
            agent.refund("c1", 0.02)
        agent.refund("c1", 0.01)  # exactly 500
        agent.refund("c2", 500)
        assert agent.ran == [200, Decimal("299.99"), 0.01, 500]
        assert agent.gov.usage("daily", {"customer": "c1"}) == Decimal("500.00")

    def test_a_failed_tool_gives_the_budget_back(self) -> None:
        """A refund that raises does not use up the budget."""
        agent = Agent()
        for _ in range(10):
            with pytest.raises(ValueError, match="unlucky"):
                agent.refund("c1", 13)
        agent.refund("c1", 500)
        assert agent.ran == [500]

    def test_an_approved_overrun_counts(self) -> None:
        """When a person approves going over, the amount is counted: the next refund is over too."""
        answers = iter([True, False])
        agent = Agent(approver=lambda request: next(answers))
        agent.refund("c1", 450)
        agent.refund("c1", 100)  # over: approved
        with pytest.raises(g.ApprovalDenied):
            agent.refund("c1", 1)  # still over: the approved 100 counts
        assert agent.gov.usage("daily", {"customer": "c1"}) == 550

    @pytest.mark.parametrize("amount", ["50", -100, None, float("nan"), True])
    def test_amounts_that_are_not_money_fail_closed(self, amount: Any) -> None:
        """A string, a negative amount (which would free budget), None, NaN or a bool: the rule applies."""
        agent = Agent(approver=lambda request: False)
        with pytest.raises(g.ApprovalDenied, match="could not be checked"):
            agent.refund("c1", amount)
        assert agent.ran == []

    def test_async_tools(self) -> None:
        """Async tools count the same way."""
        agent = Agent(approver=lambda request: False)

        async def main() -> None:
            await agent.refund_async("c1", 400)
            with pytest.raises(g.ApprovalDenied):
                await agent.refund_async("c1", 200)

        asyncio.run(main())
        assert agent.ran == [400]


class TestReviewed:
    """Holes an independent review found, each closed."""

    def test_a_tool_call_id_is_not_a_free_pass(self) -> None:
        """Another amount, another action, or a nested call under the same id is another use."""
        agent = Agent(approver=lambda request: False)
        with g.context(tool_call_id="call_1"):
            agent.refund("c1", 400)
            with pytest.raises(g.ApprovalDenied):
                agent.refund("c1", 1_000_000)
        assert agent.ran == [400]

    def test_an_attempt_under_way_blocks_its_twin(self) -> None:
        """A twin of a call still running is not counted as done: it waits (here: is refused)."""
        policy = g.Policy([g.allow("slow"), g.deny("slow", limit=g.budget("amount", 100, per="1d"), id="b")])
        gov = g.Governor(policy, on_deny=lambda denial: "refused")
        inner: list[str] = []

        @g.governed("slow", governor=gov)
        def slow(amount: int) -> str:
            if not inner:
                inner.append(slow(amount))  # the same call, re-entered while the first is under way
            return "done"

        with g.context(tool_call_id="call_7"):
            assert slow(100) == "done"
        assert inner == ["refused"]
        assert gov.usage("b") == 100

    def test_editing_a_limit_keeps_its_counters(self) -> None:
        """A rule with an id keeps counting when its maximum or reason changes; one without, when its reason does."""
        store = g.MemoryStore()
        first = g.Governor(POLICY, store=store, approver=lambda request: False)
        g.governed("refund", governor=first)(lambda customer, amount: None)("c1", 500)
        edited = g.Policy(
            [
                g.allow("refund"),
                g.require_approval(
                    "refund",
                    limit=g.budget("amount", 400, per="1d", key=g.arg("customer")),
                    id="daily",
                    reason="edited",
                ),
            ]
        )
        second = g.Governor(edited, store=store, approver=lambda request: False)
        with pytest.raises(g.ApprovalDenied):
            g.governed("refund", governor=second)(lambda customer, amount: None)("c1", 1)

        def unnamed(reason: str) -> g.Rule:
            return g.require_approval("refund", limit=g.budget("amount", 500, per="1d"), reason=reason)

        assert unnamed("one").counter == unnamed("another").counter

    def test_equal_numbers_are_one_key(self) -> None:
        """7, 7.0 and Decimal('7.00') are the same customer; '7' (text) is another."""
        policy = g.Policy(
            [g.allow("t"), g.deny("t", limit=g.rate(1, per="1h", key=g.arg("customer")), id="r")]
        )
        gov = g.Governor(policy, on_deny=lambda denial: "refused")
        tool = g.governed("t", governor=gov)(lambda customer: "ok")
        assert [tool(7), tool(7.0), tool(Decimal("7.00")), tool("7")] == ["ok", "refused", "refused", "ok"]

    def test_redacted_values_stay_out_of_recorded_keys(self) -> None:
        """A key made of a redacted argument is redacted in the audit record too."""
        policy = g.Policy(
            [g.allow("login"), g.deny("login", limit=g.rate(5, per="1m", key=g.arg("password")), id="r")]
        )
        audit = g.MemoryAudit()
        g.governed("login", governor=g.Governor(policy, audit=audit))(lambda password: None)("hunter2-secret")
        assert "hunter2" not in str(audit.records[0].limits)

    def test_shadow_rules_take_no_limit(self) -> None:
        """A shadow rule would count calls it does not judge: refused."""
        with pytest.raises(g.PolicyError, match="shadow rule cannot have a limit"):
            g.deny("x", limit=g.rate(1, per="1m"), shadow=True)

    def test_exact_maxima_in_documents(self) -> None:
        """A maximum with many decimals round-trips exactly (text, not a float)."""
        rule = g.deny("x", limit=g.budget("amount", "1234567890.1234567891", per="1d"), id="b")
        doc = g.Policy([rule]).to_dict()
        assert doc["rules"][0]["limit"]["max"] == "1234567890.1234567891"
        assert g.Policy.from_dict(doc).rules[0].limit.maximum == Decimal("1234567890.1234567891")  # type: ignore[union-attr]

    def test_a_failing_shadow_record_releases(self) -> None:
        """A sink failing on the shadow record before the tool: the reservation is given back."""
        fails = [True]

        def sink(record: g.AuditRecord) -> None:
            if fails and record.outcome is None:
                raise OSError("disk full")

        policy = g.Policy(
            [
                g.allow("t"),
                g.deny("t", limit=g.rate(1, per="1h"), id="r"),
                g.deny("t", when=g.arg("x") > 5, shadow=True),
            ]
        )
        gov = g.Governor(policy, audit=sink)
        tool = g.governed("t", governor=gov)(lambda x: "ok")
        with pytest.raises(g.AuditError):
            tool(10)
        fails.clear()
        assert tool(10) == "ok"


class TestFailClosed:
    def test_a_failing_store_denies(self) -> None:
        """A store that cannot be reached denies the call, saying so; the tool does not run."""

        class Down(g.MemoryStore):
            def reserve(self, token: str, entries: Any) -> Any:
                raise g.StoreError("connection refused")

        agent = Agent(store=Down())
        with g.context(user="alice"), pytest.raises(g.ActionDenied, match=r"state store .* failed") as info:
            agent.send_email("a")
        assert "connection refused" in info.value.decision.reason
        assert agent.ran == []
        (record,) = agent.audit.records
        assert record.outcome is g.Outcome.NOT_RUN and record.limits[0]["result"] == "store failed"

    def test_a_failing_commit_is_logged_and_stays_counted(self, caplog: pytest.LogCaptureFixture) -> None:
        """After the tool ran, a store that fails to commit is logged; the use stays reserved (too strict, never too loose)."""

        class Flaky(g.MemoryStore):
            def commit(self, token: str, keys: Any) -> None:
                raise g.StoreError("timeout")

        agent = Agent(store=Flaky())
        with g.context(user="alice"):
            assert agent.send_email("a") == "sent"
        assert agent.gov.usage("mail-rate", context={"user": "alice"}) == 1
        assert any("failed to commit" in r.getMessage() for r in caplog.records)

    def test_the_short_path_falls_back_to_the_flow(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without audit sinks, a call within its limits skips the flow; one that reaches
        a limit, or meets a failing store, goes through it and is denied, saying why."""
        import guardrails.runtime.decorator

        flows: list[g.Decision] = []
        real = guardrails.runtime.decorator.call_flow

        def counting(setup: Any, decision: g.Decision, *rest: Any) -> Any:
            flows.append(decision)
            return real(setup, decision, *rest)

        monkeypatch.setattr(guardrails.runtime.decorator, "call_flow", counting)
        agent = Agent(audit=None)
        with g.context(user="alice"):
            agent.send_email("a")
            agent.send_email("b")
            assert flows == []
            with pytest.raises(g.ActionDenied, match="limit reached"):
                agent.send_email("c")
        assert len(flows) == 1 and agent.gov.usage("mail-rate", context={"user": "alice"}) == 2

        class Down(g.MemoryStore):
            def reserve(self, token: str, entries: Any) -> Any:
                raise ConnectionError("connection refused")

        agent = Agent(audit=None, store=Down())
        with g.context(user="alice"), pytest.raises(g.ActionDenied, match="connection refused"):
            agent.send_email("a")
        assert agent.ran == []

    def test_the_short_path_gives_back_what_it_held(self) -> None:
        """Two limits, one reached: the share held under the other is given back."""
        policy = g.Policy(
            [
                g.allow("send_email"),
                g.deny("send_email", limit=g.rate(100, per="1m"), id="wide"),
                g.deny("send_email", limit=g.rate(1, per="1m", key=g.ctx("user")), id="per-user"),
            ]
        )
        agent = Agent(policy, audit=None)
        with g.context(user="alice"):
            agent.send_email("a")
            for _ in range(3):
                with pytest.raises(g.ActionDenied, match="per-user"):
                    agent.send_email("b")
        assert agent.gov.usage("wide") == 1

    def test_only_stores(self) -> None:
        """Something else as a store is a configuration error."""
        with pytest.raises(g.ConfigurationError, match="store must be a Store"):
            g.Governor(POLICY, store="redis://localhost")  # type: ignore[arg-type]


class TestConcurrency:
    @pytest.mark.parametrize("kind", ["memory", "sqlite"])
    def test_threads(self, kind: str, tmp_path: Path) -> None:
        """8 threads × 2,000 governed calls against a rate of 100: exactly 100 run."""
        store = g.MemoryStore() if kind == "memory" else g.SQLiteStore(tmp_path / "s.db", timeout=30)
        policy = g.Policy([g.allow("ping"), g.deny("ping", limit=g.rate(100, per="1h"))])
        gov = g.Governor(policy, store=store, on_deny=lambda denial: None)
        ran: list[int] = []
        ping = g.governed("ping", governor=gov)(lambda: ran.append(1))
        calls = 2_000 if kind == "memory" else 300
        threads = [threading.Thread(target=lambda: [ping() for _ in range(calls)]) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(ran) == 100

    def test_tasks(self) -> None:
        """1,000 concurrent asyncio tasks against a rate of 100: exactly 100 run."""
        policy = g.Policy([g.allow("ping"), g.deny("ping", limit=g.rate(100, per="1h"))])
        gov = g.Governor(policy, on_deny=lambda denial: None)
        ran: list[int] = []

        @g.governed("ping", governor=gov)
        async def ping() -> None:
            await asyncio.sleep(0)
            ran.append(1)

        async def main() -> None:
            await asyncio.gather(*(ping() for _ in range(1_000)))

        asyncio.run(main())
        assert len(ran) == 100


class TestDeclaring:
    def test_documents(self) -> None:
        """Limits in a document, round-tripped."""
        policy = g.Policy.from_dict(
            {
                "rules": [
                    {"action": "send_email", "effect": "allow"},
                    {
                        "id": "mail-rate",
                        "action": "send_email",
                        "effect": "deny",
                        "limit": {"count": 2, "per": "1m", "key": [{"ctx": "user"}]},
                    },
                    {
                        "id": "daily",
                        "action": "refund",
                        "effect": "require_approval",
                        "limit": {
                            "sum": "amount",
                            "max": "500.00",
                            "per": "1d",
                            "key": [{"arg": "customer"}],
                        },
                    },
                ]
            }
        )
        assert repr(policy.rules[1].limit) == "rate(2, per='1m', key=ctx('user'))"
        assert repr(policy.rules[2].limit) == "budget('amount', 500, per='1d', key=arg('customer'))"
        assert g.Policy.from_dict(policy.to_dict()).version == policy.version

    @pytest.mark.parametrize(
        ("limit", "message"),
        [
            ({"count": 2}, "per"),
            ({"count": 2, "per": "1 fortnight"}, "window"),
            ({"count": 2, "sum": "amount", "max": 5, "per": "1m"}, "either count"),
            ({"sum": "amount", "per": "1m"}, "either count"),
            ({"count": 2, "per": "1m", "key": [{"arg": "a", "ctx": "b"}]}, "key part"),
            ({"count": -1, "per": "1m"}, "count"),
        ],
    )
    def test_bad_limits_name_the_place(self, limit: dict[str, Any], message: str) -> None:
        """A bad limit is a PolicyError naming the rule and what is wrong."""
        with pytest.raises(g.PolicyError, match=message) as info:
            g.Policy.from_dict({"rules": [{"action": "x", "effect": "deny", "limit": limit}]})
        assert "rules[0]" in str(info.value)

    def test_limits_go_on_deny_or_approval_rules(self) -> None:
        """An allow rule with a limit would allow only while within it: refused, with why."""
        with pytest.raises(g.PolicyError, match="deny or require_approval"):
            g.Rule("x", "allow", limit=g.rate(1, per="1m"))

    def test_check_looks_without_counting(self) -> None:
        """``check`` sees a reached limit but reserves nothing."""
        agent = Agent()
        with g.context(user="alice"):
            for _ in range(5):
                assert agent.gov.check("send_email", {"to": "a"}).allowed
            agent.send_email("a")
            agent.send_email("b")
            assert agent.gov.check("send_email", {"to": "a"}).rule_id == "mail-rate"

    def test_audit_records_tell_the_limits(self) -> None:
        """Each record says what became of the call's share: held, used, released, over."""
        agent = Agent(approver=lambda request: False)
        agent.refund("c1", 400)
        with pytest.raises(ValueError, match="unlucky"):
            agent.refund("c1", 13)
        with pytest.raises(g.ApprovalDenied):
            agent.refund("c1", 200)
        results = [(r.outcome.value, r.limits[0]["result"]) for r in agent.audit.records]
        assert results == [
            ("started", "held"),
            ("returned", "used"),
            ("started", "held"),
            ("raised", "released"),
            ("not_run", "over"),
        ]
        assert agent.audit.records[0].limits[0]["key"] == 'daily:[["s","c1"]]'

    def test_entries_are_exact(self) -> None:
        """A float amount becomes the decimal it prints as, not its binary expansion."""
        rule = g.deny("refund", limit=g.budget("amount", 1, per="1d"))
        call = g.Call("refund", {"amount": 0.1})
        assert entry_for(rule, call) == Entry(rule.counter, 86_400.0, Decimal(1), Decimal("0.1"))


class TestTools:
    def test_check_and_replay_understand_limits(self) -> None:
        """The linter does not call an allow shadowed by a limited deny; replay leaves limit-counted calls out."""
        from guardrails.testing.lint import lint
        from guardrails.testing.replay import replay

        assert lint(POLICY) == []
        agent = Agent()
        with g.context(user="alice"):
            agent.send_email("a")
            agent.send_email("b")
            with pytest.raises(g.ActionDenied):
                agent.send_email("c")
        report = replay(agent.audit.records, POLICY)
        assert (report.calls, report.stateful, report.changes) == (3, 3, [])


def test_check_adds_amounts_exactly_as_the_store_does() -> None:
    """``gov.check`` (the limiter's peek) adds past 28 digits as the store does: no
    rounding makes it answer allow for a call the store then denies."""
    policy = g.Policy(
        [g.allow("pay"), g.deny("pay", id="budget", limit=g.budget("amount", Decimal(10**9), per="1d"))]
    )
    gov = g.Governor(policy, on_deny=lambda denial: "denied")

    @g.governed("pay", governor=gov)
    def pay(amount: Decimal) -> str:
        return "paid"

    assert pay(Decimal("999999999.999999999999999999")) == "paid"
    last = Decimal("0.0000000000000000015")  # 1e9 + this rounds to 1e9 in 28 digits
    assert gov.check("pay", {"amount": last}).effect is g.Effect.DENY
    assert pay(last) == "denied"


def test_a_forced_amount_the_store_cannot_add_exactly_leaves_no_row() -> None:
    """A sum past the store's exact precision raises before anything is added."""
    store = g.MemoryStore()
    assert store.force("t1", [Entry("k", 60.0, Decimal(10), Decimal("1e50"))]) == ["held"]
    with pytest.raises(ArithmeticError):
        store.force("t2", [Entry("k", 60.0, Decimal(10), Decimal("1e-20"))])
    assert store.usage("k", 60.0) == Decimal("1e50")
    store.release("t1", ["k"])
    assert store.usage("k", 60.0) == 0  # t2 left nothing behind to count
    assert store.force("t3", [Entry("k", 60.0, Decimal(10), Decimal(1))]) == ["held"]
    store.release("t2", ["k"])  # the refused share: nothing of it was held to give back
    assert store.usage("k", 60.0) == 1
