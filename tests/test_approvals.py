"""Approvals: timeouts, edits, deferred requests, quorums, session memory, built-in approvers."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest

import guardrails as g

POLICY = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
        g.deny("refund", when=g.arg("amount") > 2000, id="cap", reason="never over 2000"),
        g.require_approval(
            "wire",
            id="two-person",
            reason="wires need two people",
            quorum=2,
            approvers=["alice", "bob", "carol"],
            rememberable=False,
        ),
        g.allow("wire"),
        g.require_approval("delete", id="delete", timeout=0.05),
        g.allow("delete"),
    ]
)


class Agent:
    def __init__(self, approver: Any = None, policy: g.Policy = POLICY, **options: Any) -> None:
        self.audit = g.MemoryAudit()
        self.ran: list[Any] = []
        self.gov = g.Governor(policy, approver=approver, audit=self.audit, **options)

        @g.governed("refund", governor=self.gov)
        def refund(order: str, amount: float) -> str:
            self.ran.append((order, amount))
            return f"refunded {amount}"

        @g.governed("refund", governor=self.gov)
        async def refund_async(order: str, amount: float) -> str:
            self.ran.append((order, amount))
            return f"refunded {amount}"

        @g.governed("wire", governor=self.gov)
        def wire(iban: str, amount: float) -> str:
            self.ran.append((iban, amount))
            return "sent"

        @g.governed("delete", governor=self.gov)
        def delete(path: str) -> str:
            self.ran.append(path)
            return "deleted"

        self.refund, self.refund_async, self.wire, self.delete = refund, refund_async, wire, delete


def answers(*given: Any) -> Any:
    """An approver answering ``given`` in turn, remembering each request it saw."""
    queue = list(given)

    def approver(request: g.ApprovalRequest) -> Any:
        approver.requests.append(request)  # type: ignore[attr-defined]
        return queue.pop(0)

    approver.requests = []  # type: ignore[attr-defined]
    return approver


class TestRequests:
    def test_request_and_digest(self) -> None:
        """A request has an id, times, and a digest of action, arguments and caller."""
        approver = answers(True, True, True, True)
        agent = Agent(approver, approval_expiry=60)
        with g.context(user="u1", session="s1"):
            agent.refund("A-1", 500)
            agent.refund("A-1", 500)
            agent.refund("A-1", 501)
        with g.context(user="u2", session="s1"):
            agent.refund("A-1", 500)
        first, same, other_args, other_user = approver.requests
        assert first.id != same.id and len(first.id) == 32
        assert first.digest == same.digest == g.approvals.call_digest(first.call)  # type: ignore[attr-defined]
        assert len({first.digest, other_args.digest, other_user.digest}) == 3
        assert first.created <= time.time() and first.expires == pytest.approx(first.created + 60, abs=1)
        assert first.rule_id == "large" and first.reason == "refunds over 100" and first.requester == "u1"

    def test_responses_are_checked(self) -> None:
        with pytest.raises(TypeError, match="remember"):
            g.ApprovalResponse(True, remember="forever")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="refused one"):
            g.ApprovalResponse(False, args={"amount": 1})
        with pytest.raises(TypeError, match="argument names"):
            g.ApprovalResponse(True, args={1: 2})  # type: ignore[dict-item]


class TestPausing:
    def test_a_pause_passes_through_an_approver_that_wraps_another(self) -> None:
        """PauseRun raised by an inner approver reaches the caller as the framework's own
        exception: the call does not run, is not counted as refused, and says why."""

        class Interrupt(Exception):
            pass

        def framework(request: g.ApprovalRequest) -> bool:
            raise g.approvals.PauseRun(Interrupt("asking a person"))

        def mine(request: g.ApprovalRequest) -> bool:
            return True if request.args["amount"] <= 150 else framework(request)

        agent = Agent(mine)
        with pytest.raises(Interrupt, match="asking a person"):
            agent.refund("A-1", 500)
        assert agent.ran == []
        record = agent.audit.records[-1]
        assert record.outcome is g.Outcome.NOT_RUN and "approval interrupted (Interrupt" in record.reason
        assert agent.refund("A-2", 120) == "refunded 120"  # its own answers still count

    @pytest.mark.parametrize(
        "carried",
        [None, "a string", StopIteration(7), GeneratorExit(), g.PolicyError("forged verdict")],
        ids=["none", "str", "stop-iteration", "generator-exit", "governance-error"],
    )
    def test_a_pause_must_carry_a_framework_exception(self, carried: Any) -> None:
        """PauseRun refuses to carry what is not a plain exception; one forged past
        that check refuses the call like an approver that failed, through on_deny."""
        with pytest.raises(TypeError, match="PauseRun carries"):
            g.approvals.PauseRun(carried)
        forged = g.approvals.PauseRun(ValueError("x"))
        forged.exception = carried

        def approver(request: g.ApprovalRequest) -> bool:
            raise forged

        agent = Agent(approver, on_deny=lambda denial: f"denied: {denial}")
        said = agent.refund("A-1", 500)
        assert said.startswith("denied:") and "the approver failed (TypeError: a PauseRun carrying" in said
        assert agent.ran == []

    def test_the_paused_exception_leaves_as_it_was_raised(self) -> None:
        """The framework's exception keeps its cause and gains no context from the pause."""
        cause = OSError("socket closed")

        class Interrupt(Exception):
            pass

        interrupt = Interrupt("asking")
        interrupt.__cause__ = cause

        def approver(request: g.ApprovalRequest) -> bool:
            raise g.approvals.PauseRun(interrupt)

        with pytest.raises(Interrupt) as info:
            Agent(approver).refund("A-1", 500)
        assert info.value is interrupt and info.value.__cause__ is cause
        assert not isinstance(info.value.__context__, g.approvals.PauseRun)

    def test_an_approver_with_odd_attributes_is_judged_by_its_answer(self) -> None:
        """Nothing is read off an approver but its answer: a mock is refused for what it returns."""
        from unittest import mock

        agent = Agent(mock.Mock(return_value=mock.Mock()), on_deny=lambda denial: f"denied: {denial}")
        assert "not a bool, ApprovalResponse or PENDING" in agent.refund("A-1", 500)
        chained = Agent(g.approvals.chain(mock.Mock(return_value=None), lambda request: True))
        assert chained.refund("A-1", 500) == "refunded 500"
        assert agent.ran == [] and chained.ran == [("A-1", 500)]


class TestTimeouts:
    def test_a_late_sync_answer_is_a_timeout(self) -> None:
        """A sync approver cannot be interrupted: its late answer is void, recorded as timed out."""

        def slow(request: g.ApprovalRequest) -> bool:
            time.sleep(0.1)
            return True

        agent = Agent(slow)
        with pytest.raises(g.ApprovalDenied, match=r"after the 0.05s timeout") as info:
            agent.delete("/tmp/x")  # the rule's own timeout: 0.05 s
        assert info.value.approval is not None and info.value.approval.status == "timed_out"
        assert agent.ran == []
        record = agent.audit.records[-1]
        assert record.approval is not None and record.approval.status == "timed_out"
        assert record.outcome is g.Outcome.NOT_RUN

    def test_an_approver_whose_own_wait_ran_out(self) -> None:
        """An approver raising TimeoutError with no timeout configured: timed out, said so."""

        def waits(request: g.ApprovalRequest) -> bool:
            raise TimeoutError("the pager gave up")

        agent = Agent(waits)
        with pytest.raises(g.ApprovalDenied, match=r"not approved: the approver timed out") as info:
            agent.refund("A-1", 500)
        assert info.value.approval is not None and info.value.approval.status == "timed_out"
        assert agent.ran == []
        assert agent.audit.records[-1].outcome is g.Outcome.NOT_RUN

    def test_an_async_approver_is_cut_off(self) -> None:
        """An async approver that does not answer in time is cancelled: timed out."""

        async def never(request: g.ApprovalRequest) -> bool:
            await asyncio.sleep(10)
            return True

        agent = Agent(never, approval_timeout=0.05)
        started = time.monotonic()
        with pytest.raises(g.ApprovalDenied, match=r"no answer within 0\.05s") as info:
            asyncio.run(agent.refund_async("A-1", 500))
        assert time.monotonic() - started < 5
        assert info.value.approval is not None and info.value.approval.status == "timed_out"

    def test_a_human_no_is_not_a_timeout(self) -> None:
        agent = Agent(lambda r: g.ApprovalResponse(False, by="dana", reason="not today"))
        with pytest.raises(g.ApprovalDenied, match="refused by dana: not today") as info:
            agent.refund("A-1", 500)
        assert info.value.approval is not None and info.value.approval.status == "refused"
        record = agent.audit.records[-1]
        assert record.approval is not None and record.approval.status == "refused"
        assert record.approval.by == "dana"


class TestEdits:
    def test_an_edit_lowers_the_amount(self) -> None:
        """The tool runs with the changed arguments; the record shows what ran."""
        agent = Agent(lambda r: g.ApprovalResponse(True, by="dana", args={"amount": 80}))
        assert agent.refund("A-1", 500) == "refunded 80"
        assert agent.ran == [("A-1", 80)]
        started = [r for r in agent.audit.records if r.outcome is g.Outcome.STARTED][-1]
        assert started.args["amount"] == 80 and started.approval is not None and started.approval.edited

    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            ({"amount": 5000}, "changed arguments are not allowed: deny by rule 'cap'"),
            ({"amount": float("nan")}, "changed arguments are not allowed"),
            ({"order": "B-2", "amount": 5000}, "not allowed"),
            ({"fee": 1}, "arguments the tool does not have: 'fee'"),
        ],
    )
    def test_an_edit_cannot_escalate(self, edit: dict[str, Any], message: str) -> None:
        agent = Agent(lambda r: g.ApprovalResponse(True, by="dana", args=edit))
        with pytest.raises(g.ApprovalDenied, match=message):
            agent.refund("A-1", 500)
        assert agent.ran == []

    def test_an_edit_needing_another_rules_approval_is_refused(self) -> None:
        """An edit that a different approval rule would catch was not what the person approved."""
        policy = POLICY + g.Policy(
            [g.require_approval("refund", when=g.arg("order").startswith("VIP"), id="vip")]
        )
        agent = Agent(lambda r: g.ApprovalResponse(True, by="dana", args={"order": "VIP-1"}), policy)
        with pytest.raises(g.ApprovalDenied, match="require_approval by rule 'vip'"):
            agent.refund("A-1", 500)

    def test_an_edit_is_counted_against_a_budget(self) -> None:
        """The share of the first arguments is given back; the edited amount counts."""
        policy = g.Policy(
            [
                g.allow("refund"),
                g.require_approval("refund", when=g.arg("amount") > 100, id="large"),
                g.deny("refund", limit=g.budget("amount", 300, per="1d"), id="budget"),
            ]
        )
        agent = Agent(lambda r: g.ApprovalResponse(True, by="dana", args={"amount": 90}), policy)
        agent.refund("A-1", 250)
        assert agent.gov.usage("budget") == 90
        agent.gov.configure(approver=lambda r: g.ApprovalResponse(True, by="dana", args={"amount": 250}))
        with pytest.raises(g.ApprovalDenied, match="budget"):
            agent.refund("A-2", 200)  # edited to 250: over the budget with the 90 used
        assert agent.gov.usage("budget") == 90

    def test_edits_reach_keyword_only_and_extra_arguments(self) -> None:
        gov = g.Governor(
            g.Policy([g.require_approval("t"), g.allow("t")]),
            approver=lambda r: g.ApprovalResponse(True, args={"b": 20, "c": 30, "extra": 4}),
        )

        @g.governed("t", governor=gov)
        def t(a: int, /, b: int, *rest: int, c: int, **more: int) -> tuple[Any, ...]:
            return (a, b, rest, c, more)

        assert t(1, 2, 9, c=3, extra=5) == (1, 20, (9,), 30, {"extra": 4})


class TestDeferred:
    def test_pending_then_approved_runs_once(self) -> None:
        agent = Agent(g.approvals.DeferredApprover())
        with g.context(user="u1", session="s1"):
            with pytest.raises(g.ApprovalPending) as info:
                agent.refund("A-1", 500)
            request = info.value.request
            assert isinstance(info.value, g.GovernanceError) and agent.ran == []
            (waiting,) = agent.gov.approvals.pending()
            assert (waiting.id, waiting.action, waiting.args["amount"]) == (request.id, "refund", 500)
            with pytest.raises(g.ApprovalPending, match=request.id):  # the same request, still waiting
                agent.refund("A-1", 500)
            assert len(agent.gov.approvals.pending()) == 1
            decided = agent.gov.approvals.approve(request.id, by="dana", reason="checked the order")
            assert decided.status == "approved" and agent.gov.approvals.pending() == []
            assert agent.refund("A-1", 500) == "refunded 500"
            # The decision is used: the same call again is a new request.
            with pytest.raises(g.ApprovalPending) as again:
                agent.refund("A-1", 500)
        assert again.value.request.id != request.id
        assert agent.ran == [("A-1", 500)]
        ran = [r for r in agent.audit.records if r.outcome is g.Outcome.STARTED]
        assert ran[-1].approval is not None and ran[-1].approval.by == "dana"
        assert ran[-1].approval.request_id == request.id
        events = [r for r in agent.audit.records if r.kind == "approval"]
        assert [(e.approval.status, e.approval.by) for e in events if e.approval] == [("approved", "dana")]

    def test_on_every_store(self, kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        """The deferred round trip through memory, a SQLite file and a real Redis server."""
        from conftest import make

        agent = Agent(g.approvals.DeferredApprover(), store=make(kind, tmp_path, request))
        with g.context(user="agent-7", session="s"):
            with pytest.raises(g.ApprovalPending) as info:
                agent.wire("DE89", 10_000)
            assert [r.id for r in agent.gov.approvals.pending()] == [info.value.request.id]
            agent.gov.approvals.approve(info.value.request.id, by="alice")
            agent.gov.approvals.approve(info.value.request.id, by="bob")
            assert agent.wire("DE89", 10_000) == "sent"
            with pytest.raises(g.ApprovalPending):
                agent.wire("DE89", 10_000)
        assert agent.ran == [("DE89", 10_000)]

    def test_a_used_approval_cannot_be_replayed(self) -> None:
        agent = Agent(g.approvals.DeferredApprover())
        with pytest.raises(g.ApprovalPending) as info:
            agent.refund("A-1", 500)
        request_id = info.value.request.id
        agent.gov.approvals.approve(request_id, by="dana")
        agent.refund("A-1", 500)
        with pytest.raises(g.ApprovalError, match="already used"):
            agent.gov.approvals.approve(request_id, by="erin")
        assert agent.gov.approvals.get(request_id).status == "used"  # type: ignore[union-attr]

    def test_other_arguments_are_another_request(self) -> None:
        agent = Agent(g.approvals.DeferredApprover())
        with pytest.raises(g.ApprovalPending) as first:
            agent.refund("A-1", 500)
        agent.gov.approvals.approve(first.value.request.id, by="dana")
        with pytest.raises(g.ApprovalPending) as second:
            agent.refund("A-1", 900)  # not what dana approved
        assert second.value.request.id != first.value.request.id
        assert agent.refund("A-1", 500) == "refunded 500"

    def test_denied_then_asked_again(self) -> None:
        agent = Agent(g.approvals.DeferredApprover())
        with pytest.raises(g.ApprovalPending) as info:
            agent.refund("A-1", 500)
        agent.gov.approvals.deny(info.value.request.id, by="dana", reason="duplicate")
        with pytest.raises(g.ApprovalDenied, match="refused by dana: duplicate"):
            agent.refund("A-1", 500)
        with pytest.raises(g.ApprovalPending):
            agent.refund("A-1", 500)  # the refusal was used: a new request

    def test_requests_expire(self) -> None:
        agent = Agent(g.approvals.DeferredApprover(), approval_expiry=0.1)
        with pytest.raises(g.ApprovalPending) as info:
            agent.refund("A-1", 500)
        time.sleep(0.15)
        assert agent.gov.approvals.pending() == []
        with pytest.raises(g.ApprovalError, match="expired"):
            agent.gov.approvals.approve(info.value.request.id, by="dana")
        with pytest.raises(g.ApprovalPending) as again:
            agent.refund("A-1", 500)
        assert again.value.request.id != info.value.request.id
        expired = [r for r in agent.audit.records if r.kind == "approval" and r.approval]
        assert [e.approval.status for e in expired if e.approval] == ["expired"]

    def test_approved_but_expired_before_the_retry(self) -> None:
        agent = Agent(g.approvals.DeferredApprover(), approval_expiry=0.1)
        with pytest.raises(g.ApprovalPending) as info:
            agent.refund("A-1", 500)
        agent.gov.approvals.approve(info.value.request.id, by="dana")
        time.sleep(0.15)
        with pytest.raises(g.ApprovalPending):
            agent.refund("A-1", 500)
        assert agent.ran == []

    def test_a_cap_on_waiting_requests(self) -> None:
        agent = Agent(g.approvals.DeferredApprover(), max_pending=2)
        with g.context(session="flood"):
            for amount in (200, 300):
                with pytest.raises(g.ApprovalPending):
                    agent.refund("A-1", amount)
            with pytest.raises(g.ApprovalDenied, match="2 approval requests already wait"):
                agent.refund("A-1", 400)
        with g.context(session="other"), pytest.raises(g.ApprovalPending):
            agent.refund("A-1", 400)

    def test_async_tools_pause_too(self) -> None:
        agent = Agent(g.approvals.DeferredApprover())
        with pytest.raises(g.ApprovalPending) as info:
            asyncio.run(agent.refund_async("A-1", 500))
        agent.gov.approvals.deny(info.value.request.id, by="dana")
        with pytest.raises(g.ApprovalDenied, match="refused by dana"):
            asyncio.run(agent.refund_async("A-1", 500))
        events = [r for r in agent.audit.records if r.kind == "approval"]
        assert [(e.approval.status, e.approval.by) for e in events if e.approval] == [("denied", "dana")]
        pending = [
            r
            for r in agent.audit.records
            if r.kind == "call" and r.approval and r.approval.status == "pending"
        ]
        assert pending and pending[0].outcome is g.Outcome.NOT_RUN
        assert pending[0].approval is not None and pending[0].approval.request_id == info.value.request.id

    def test_people_approving_at_once(self) -> None:
        """Two people approving the same request at the same moment both count."""
        import threading

        agent = Agent(g.approvals.DeferredApprover())
        for attempt in range(20):
            with g.context(user="agent-7"), pytest.raises(g.ApprovalPending) as info:
                agent.wire("DE89", 10_000 + attempt)
            request_id = info.value.request.id
            threads = [
                threading.Thread(target=agent.gov.approvals.approve, args=(request_id,), kwargs={"by": who})
                for who in ("alice", "bob")
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            record = agent.gov.approvals.get(request_id)
            assert record is not None and record.status == "approved"
            assert sorted(record.approvers) == ["alice", "bob"]

    def test_unknown_requests_and_bad_answers(self) -> None:
        agent = Agent(g.approvals.DeferredApprover())
        with pytest.raises(g.ApprovalError, match="no approval request"):
            agent.gov.approvals.approve("nope", by="dana")
        with pytest.raises(g.ApprovalError, match="by="):
            agent.gov.approvals.approve("nope", by="")

    def test_a_failing_notify_refuses(self) -> None:
        def notify(request: g.ApprovalRequest) -> None:
            raise ConnectionError("chat is down")

        agent = Agent(g.approvals.DeferredApprover(notify))
        with pytest.raises(g.ApprovalDenied, match="chat is down"):
            agent.refund("A-1", 500)
        assert agent.gov.approvals.pending() == []


class TestWhoMayApprove:
    def test_two_people_deferred(self) -> None:
        agent = Agent(g.approvals.DeferredApprover())
        with g.context(user="agent-7"), pytest.raises(g.ApprovalPending) as info:
            agent.wire("DE89", 10_000)
        request_id = info.value.request.id
        assert agent.gov.approvals.approve(request_id, by="alice").status == "pending"
        with pytest.raises(g.ApprovalError, match=r"approved request .* already"):
            agent.gov.approvals.approve(request_id, by="alice")
        with pytest.raises(g.ApprovalError, match="not one of the approvers"):
            agent.gov.approvals.approve(request_id, by="mallory")
        with g.context(user="agent-7"), pytest.raises(g.ApprovalPending):
            agent.wire("DE89", 10_000)  # one approval is not enough
        assert agent.gov.approvals.approve(request_id, by="bob").status == "approved"
        with g.context(user="agent-7"):
            assert agent.wire("DE89", 10_000) == "sent"
        record = [r for r in agent.audit.records if r.outcome is g.Outcome.STARTED][-1]
        assert record.approval is not None and record.approval.approvers == ("alice", "bob")

    def test_the_same_person_twice_does_not_make_two(self) -> None:
        approver = answers(g.ApprovalResponse(True, by="alice"), g.ApprovalResponse(True, by="alice"))
        agent = Agent(approver)
        with pytest.raises(g.ApprovalDenied, match="'alice' approved already; it needs 2 different people"):
            agent.wire("DE89", 10_000)
        assert agent.ran == []

    def test_two_people_in_turn(self) -> None:
        approver = answers(g.ApprovalResponse(True, by="alice"), g.ApprovalResponse(True, by="bob"))
        agent = Agent(approver)
        assert agent.wire("DE89", 10_000) == "sent"
        assert [len(r.approvals) for r in approver.requests] == [0, 1]  # the second saw the first

    @pytest.mark.parametrize(
        ("response", "message"),
        [
            (g.ApprovalResponse(True), "must say who"),
            (g.ApprovalResponse(True, by="mallory"), "not one of the approvers"),
            (g.ApprovalResponse(True, by="alice", args={"amount": 1}), "cannot count toward a quorum"),
        ],
    )
    def test_approvals_that_do_not_count(self, response: g.ApprovalResponse, message: str) -> None:
        agent = Agent(lambda r: response)
        with pytest.raises(g.ApprovalDenied, match=message):
            agent.wire("DE89", 10_000)

    def test_nobody_approves_their_own_call(self) -> None:
        agent = Agent(lambda r: g.ApprovalResponse(True, by="alice"))
        with (
            g.context(user="alice"),
            pytest.raises(g.ApprovalDenied, match="made the call and cannot approve"),
        ):
            agent.refund("A-1", 500)
        deferred = Agent(g.approvals.DeferredApprover())
        with g.context(user="alice"), pytest.raises(g.ApprovalPending) as info:
            deferred.refund("A-1", 500)
        with pytest.raises(g.ApprovalError, match="made the call"):
            deferred.gov.approvals.approve(info.value.request.id, by="alice")

    def test_approvers_by_predicate(self) -> None:
        policy = g.Policy(
            [g.require_approval("refund", approvers=lambda by: by.endswith("@finance")), g.allow("refund")]
        )
        agent = Agent(lambda r: g.ApprovalResponse(True, by="eve@sales"), policy)
        with pytest.raises(g.ApprovalDenied, match="not one of the approvers"):
            agent.refund("A-1", 5)
        agent.gov.configure(approver=lambda r: g.ApprovalResponse(True, by="dana@finance"))
        assert agent.refund("A-1", 5) == "refunded 5"


class TestSessionMemory:
    def test_remember_the_action(self) -> None:
        approver = answers(g.ApprovalResponse(True, by="dana", remember="action"), True)
        agent = Agent(approver)
        with g.context(session="s1"):
            agent.refund("A-1", 500)
            agent.refund("A-2", 700)  # remembered: not asked
        assert len(approver.requests) == 1
        record = [r for r in agent.audit.records if r.outcome is g.Outcome.STARTED][-1]
        assert record.approval is not None and record.approval.status == "remembered"
        with g.context(session="s2"):
            agent.refund("A-3", 500)  # another session: asked
        assert len(approver.requests) == 2

    def test_remember_the_arguments(self) -> None:
        approver = answers(g.ApprovalResponse(True, by="dana", remember="args"), True)
        agent = Agent(approver)
        with g.context(session="s1"):
            agent.refund("A-1", 500)
            agent.refund("A-1", 500)
            agent.refund("A-1", 600)
        assert len(approver.requests) == 2

    def test_a_rule_can_forbid_it(self) -> None:
        approver = answers(
            g.ApprovalResponse(True, by="alice", remember="action"),
            g.ApprovalResponse(True, by="bob", remember="action"),
            g.ApprovalResponse(True, by="alice"),
            g.ApprovalResponse(True, by="carol"),
        )
        agent = Agent(approver)
        with g.context(session="s1"):
            agent.wire("DE89", 10)
            agent.wire("DE89", 10)  # rememberable=False: asked again
        assert len(approver.requests) == 4


class TestBuiltIns:
    def test_static_approvers(self) -> None:
        assert Agent(g.approvals.allow_all).refund("A-1", 500) == "refunded 500"
        with pytest.raises(g.ApprovalDenied, match="refused by deny_all"):
            Agent(g.approvals.deny_all).refund("A-1", 500)
        assert Agent(g.approvals.StaticApprover(True, by="ci")).refund("A-1", 500) == "refunded 500"

    def test_chain_first_answer_wins(self) -> None:
        def small(request: g.ApprovalRequest) -> bool | None:
            return True if request.args["amount"] < 300 else None

        agent = Agent(g.approvals.chain(small, g.approvals.DeferredApprover()))
        assert agent.refund("A-1", 200) == "refunded 200"
        with pytest.raises(g.ApprovalPending):
            agent.refund("A-1", 500)
        nobody = Agent(g.approvals.chain(lambda r: None, lambda r: None))
        with pytest.raises(g.ApprovalDenied, match="no approver in the chain answered"):
            nobody.refund("A-1", 500)

    def test_chain_with_async_approvers(self) -> None:
        async def later(request: g.ApprovalRequest) -> bool | None:
            return None

        async def yes(request: g.ApprovalRequest) -> bool:
            return True

        agent = Agent(g.approvals.chain(lambda r: None, later, yes))
        assert asyncio.run(agent.refund_async("A-1", 500)) == "refunded 500"
        with pytest.raises(g.ConfigurationError, match="async"):
            agent.refund("A-1", 500)  # a sync tool cannot wait for it


class TestDocuments:
    def test_round_trip(self) -> None:
        doc = {
            "version": 1,
            "default": "deny",
            "rules": [
                {
                    "id": "two-person",
                    "action": "wire",
                    "effect": "require_approval",
                    "approval": {
                        "timeout": 60,
                        "quorum": 2,
                        "approvers": ["alice", "bob"],
                        "rememberable": False,
                    },
                }
            ],
        }
        policy = g.Policy.from_dict(doc)
        rules = policy.rules[0].approval
        assert rules == g.ApprovalRules(60, 2, ("alice", "bob"), False)
        assert policy.to_dict() == doc

    @pytest.mark.parametrize(
        ("approval", "message"),
        [
            ({"quorum": 0}, "quorum"),
            ({"timeout": -1}, "timeout"),
            ({"approvers": "alice"}, "approvers"),
            ({"quorom": 2}, "quorom"),
        ],
    )
    def test_errors(self, approval: dict[str, Any], message: str) -> None:
        doc = {"version": 1, "rules": [{"action": "w", "effect": "require_approval", "approval": approval}]}
        with pytest.raises(g.PolicyError, match=message):
            g.Policy.from_dict(doc)

    def test_only_on_approval_rules(self) -> None:
        with pytest.raises(g.PolicyError, match="require_approval rule"):
            g.Rule("w", "deny", approval=g.ApprovalRules(quorum=2))


# ---- a second process, through SQLite -------------------------------------------------


def _approve_elsewhere(path: str, request_id: str) -> None:
    store = g.SQLiteStore(path)
    try:
        gov = g.Governor(POLICY, store=store)
        (waiting,) = gov.approvals.pending()
        assert waiting.id == request_id
        gov.approvals.approve(request_id, by="dana")
    finally:
        store.close()


def test_approval_from_a_second_process(tmp_path: Path) -> None:
    """One process pauses; another, sharing the SQLite file, approves; the retry runs —
    also after the first process 'restarts' (a new governor and store on the file)."""
    path = str(tmp_path / "state.db")
    store = g.SQLiteStore(path)
    try:
        agent = Agent(g.approvals.DeferredApprover(), store=store)
        with pytest.raises(g.ApprovalPending) as info:
            agent.refund("A-1", 500)
    finally:
        store.close()
    process = multiprocessing.get_context("spawn").Process(
        target=_approve_elsewhere, args=(path, info.value.request.id)
    )
    process.start()
    process.join(60)
    assert process.exitcode == 0
    restarted = g.SQLiteStore(path)
    try:
        agent = Agent(g.approvals.DeferredApprover(), store=restarted)
        assert agent.refund("A-1", 500) == "refunded 500"
        assert agent.gov.approvals.get(info.value.request.id).status == "used"  # type: ignore[union-attr]
    finally:
        restarted.close()


# ---- the console approver, through a real pseudo-terminal ---------------------------

CONSOLE_AGENT = """
import sys
import guardrails as g

policy = g.Policy(
    [g.require_approval("refund", when=g.arg("amount") > 100, reason="refunds over 100"), g.allow("refund")]
)
gov = g.Governor(policy, approver=g.approvals.ConsoleApprover(by="dana"))

@g.governed("refund", governor=gov)
def refund(order: str, amount: float) -> str:
    return f"refunded {amount} for {order}"

print("TTY", sys.stdin.isatty(), flush=True)
for amount in (500, 600, 700, 800):
    try:
        print("RESULT", refund("A-1", amount), flush=True)
    except g.ApprovalDenied as denial:
        print("DENIED", denial, flush=True)
"""


class Terminal:
    """A child process on the far side of a pseudo-terminal."""

    def __init__(self, script: str) -> None:
        import os
        import pty
        import subprocess
        import sys

        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-c", script], stdin=slave, stdout=slave, stderr=slave, close_fds=True
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 30) -> str:
        import os
        import select

        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} never came; the terminal shows:\n{self.seen}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{text!r} never came; the terminal shows:\n{self.seen}")
                self.seen += chunk.decode(errors="replace").replace("\r\n", "\n")
        before, _, after = self.seen.partition(text)
        self.seen = after
        return before + text

    def type(self, line: str) -> None:
        import os

        os.write(self.master, (line + "\n").encode())

    def close(self) -> None:
        import os

        self.process.kill()
        self.process.wait(10)
        os.close(self.master)


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="needs a POSIX pseudo-terminal")
def test_console_approver_in_a_terminal() -> None:
    """Approve, refuse, edit (then judged again), and a wrong key, typed at a real terminal."""
    terminal = Terminal(CONSOLE_AGENT)
    try:
        assert "TTY True" in terminal.expect("TTY True")
        shown = terminal.expect("approve? [y]es / [s]ession / [n]o / [e]dit: ")
        assert "approval needed: refund" in shown and "amount = 500" in shown and "order = 'A-1'" in shown
        assert "reason: refunds over 100" in shown and "rule: require_approval:refund:" in shown
        terminal.type("y")
        assert "RESULT refunded 500 for A-1" in terminal.expect("for A-1")
        terminal.expect("approve?")
        terminal.type("n")
        assert "refused by dana: refused at the console" in terminal.expect("console")
        terminal.expect("approve?")
        terminal.type("maybe")
        terminal.expect("answer y, s, n or e")
        terminal.expect("approve?")
        terminal.type("e")
        terminal.expect("> ")
        terminal.type("amount=50")
        terminal.expect("> ")
        terminal.type("")
        assert "RESULT refunded 50 for A-1" in terminal.expect("for A-1")
        terminal.expect("approve?")
        terminal.type("e")
        terminal.expect("> ")
        terminal.type("amount=5000")  # still under the rule dana is approving: it covers the edit
        terminal.expect("> ")
        terminal.type("fee=1")
        assert "no argument 'fee'" in terminal.expect("> ")
        terminal.type("")
        assert "RESULT refunded 5000 for A-1" in terminal.expect("for A-1")  # the rule dana approved
        assert terminal.process.wait(30) == 0
    finally:
        terminal.close()


class TestReviewed:
    """Holes an independent review found, each closed."""

    def test_every_approval_rule_that_applies_must_be_satisfied(self) -> None:
        """A looser rule with an id sorting first does not waive a stricter rule's quorum."""
        policy = g.Policy(
            [
                g.allow("wire"),
                g.require_approval("wire", id="any-wire"),
                g.require_approval(
                    "wire", when=g.arg("amount") > 10_000, id="two-person", quorum=2, approvers=["cfo", "ceo"]
                ),
            ]
        )
        agent = Agent(lambda r: g.ApprovalResponse(True, by="intern"), policy)
        with pytest.raises(g.ApprovalDenied, match="not one of the approvers"):
            agent.wire("DE89", 1_000_000)
        assert agent.wire("DE89", 500) == "sent"  # only any-wire asks: the intern may
        approver = answers(g.ApprovalResponse(True, by="cfo"), g.ApprovalResponse(True, by="ceo"))
        agent.gov.configure(approver=approver)
        assert agent.wire("DE89", 1_000_000) == "sent"
        assert approver.requests[0].quorum == 2

    def test_a_limit_rule_asking_too_is_satisfied(self) -> None:
        policy = g.Policy(
            [
                g.allow("refund"),
                g.require_approval("refund", when=g.arg("amount") > 100, id="z-large"),
                g.require_approval(
                    "refund", limit=g.budget("amount", 1000, per="1d"), id="a-budget", approvers=["cfo"]
                ),
            ]
        )
        agent = Agent(lambda r: g.ApprovalResponse(True, by="intern"), policy)
        agent.refund("A-1", 900)
        with pytest.raises(g.ApprovalDenied, match="not one of the approvers"):
            agent.refund("A-2", 900)  # over the budget: the budget rule's approvers count
        assert agent.gov.usage("a-budget") == 900

    def test_a_deferred_approval_is_bound_to_the_context_and_rules(self) -> None:
        policy = g.Policy(
            [
                g.allow("deploy"),
                g.require_approval("deploy", when=g.ctx("env") == "staging", id="a-staging"),
                g.require_approval(
                    "deploy", when=g.ctx("env") == "prod", id="b-prod", quorum=2, approvers=["lead1", "lead2"]
                ),
            ]
        )
        gov = g.Governor(policy, approver=g.approvals.DeferredApprover())
        deploy = g.governed("deploy", governor=gov)(lambda version: f"deployed {version}")
        with g.context(user="agent", session="s", env="staging"), pytest.raises(g.ApprovalPending) as info:
            deploy("v2")
        gov.approvals.approve(info.value.request.id, by="dev")
        with g.context(user="agent", session="s", env="prod"), pytest.raises(g.ApprovalPending) as prod:
            deploy("v2")  # approved for staging, not for prod
        assert prod.value.request.id != info.value.request.id
        with g.context(user="agent", session="s", env="staging"):
            assert deploy("v2") == "deployed v2"

    def test_remembered_approvals_stay_with_the_caller_and_the_rules(self) -> None:
        policy = g.Policy(
            [
                g.allow("refund"),
                g.require_approval("refund", when=g.arg("amount") > 100, id="large"),
                g.require_approval(
                    "refund", when=g.arg("amount") > 1000, id="a-huge", quorum=2, approvers=["cfo", "ceo"]
                ),
            ]
        )
        approver = answers(g.ApprovalResponse(True, by="alice", remember="action"), False, False, False)
        agent = Agent(approver, policy)
        with g.context(user="bob", session="shared"):
            agent.refund("A-1", 200)
            agent.refund("A-2", 300)  # remembered for bob, rule 'large'
            with pytest.raises(g.ApprovalDenied):
                agent.refund("A-3", 50_000)  # rule a-huge also asks: not remembered
        with g.context(user="mallory", session="shared"), pytest.raises(g.ApprovalDenied):
            agent.refund("A-4", 200)  # another caller in the same session: asked
        with g.context(user="alice", session="shared"), pytest.raises(g.ApprovalDenied):
            agent.refund("A-5", 200)  # nor may alice's own calls ride on what she approved for bob
        assert len(approver.requests) == 4

    def test_no_memory_of_an_edit(self) -> None:
        approver = answers(
            g.ApprovalResponse(True, by="dana", args={"amount": 80}, remember="args"),
            g.ApprovalResponse(True, by="dana", args={"amount": 5000}, remember="args"),
            False,
        )
        agent = Agent(approver)
        with g.context(session="s"):
            assert agent.refund("A-1", 500) == "refunded 80"
            with pytest.raises(g.ApprovalDenied, match="cap"):
                agent.refund("A-1", 500)  # asked again: the edit was not remembered
            with pytest.raises(g.ApprovalDenied):
                agent.refund("A-1", 1500)  # nor the refused edit
        assert len(approver.requests) == 3

    def test_no_memory_for_a_quorum(self) -> None:
        policy = g.Policy([g.allow("wire"), g.require_approval("wire", quorum=2)])
        approver = answers(
            g.ApprovalResponse(True, by="alice"),
            g.ApprovalResponse(True, by="bob", remember="action"),
            g.ApprovalResponse(True, by="alice"),
            False,
        )
        agent = Agent(approver, policy)
        with g.context(session="s"):
            agent.wire("DE89", 10)
            with pytest.raises(g.ApprovalDenied):
                agent.wire("XX00", 9_999_999)
        assert len(approver.requests) == 4

    @pytest.mark.parametrize("spelling", ["Alice", "alice ", "ＡＬＩＣＥ"])
    def test_one_person_however_spelled(self, spelling: str) -> None:
        policy = g.Policy(
            [
                g.allow("wire"),
                g.require_approval(
                    "wire",
                    quorum=2,
                    approvers=lambda by: by.strip().lower() in {"alice", "bob", "ａｌｉｃｅ"},
                ),
            ]
        )
        agent = Agent(g.approvals.DeferredApprover(), policy)
        with g.context(user="alice"), pytest.raises(g.ApprovalPending) as info:
            agent.wire("DE89", 10)
        with pytest.raises(g.ApprovalError, match="made the call"):
            agent.gov.approvals.approve(info.value.request.id, by=spelling)
        with g.context(user="carol"), pytest.raises(g.ApprovalPending) as other:
            agent.wire("DE89", 10)
        agent.gov.approvals.approve(other.value.request.id, by="alice")
        with pytest.raises(g.ApprovalError, match="already"):
            agent.gov.approvals.approve(other.value.request.id, by=spelling)

    def test_a_changed_rule_leaves_nobody_able_to_approve(self) -> None:
        def policy(approvers: list[str]) -> g.Policy:
            return g.Policy([g.allow("wire"), g.require_approval("wire", approvers=approvers)])

        agent = Agent(g.approvals.DeferredApprover(), policy(["alice", "mallory"]))
        with pytest.raises(g.ApprovalPending) as info:
            agent.wire("DE89", 10)
        agent.gov.policy = policy(["alice"])
        with pytest.raises(g.ApprovalError, match="no longer has"):
            agent.gov.approvals.approve(info.value.request.id, by="mallory")

    def test_digests_tell_values_apart(self) -> None:
        digest = g.approvals.call_digest  # type: ignore[attr-defined]
        pairs = [
            ({"amount": float("nan")}, {"amount": "nan"}),
            ({"amount": float("inf")}, {"amount": "inf"}),
            ({"ids": (1, 2)}, {"ids": [1, 2]}),
            ({"n": 1}, {"n": 1.0}),
            ({"n": 1}, {"n": True}),
            ({"n": 1}, {"n": "1"}),
        ]
        for a, b in pairs:
            assert digest(g.Call("t", a)) != digest(g.Call("t", b)), (a, b)
        assert digest(g.Call("t", {"a": 1, "b": 2})) == digest(g.Call("t", {"b": 2, "a": 1}))
        assert digest(g.Call("t", {}, {"tool_call_id": "x"})) == digest(
            g.Call("t", {}, {"tool_call_id": "y"})
        )

    def test_arguments_without_an_order_are_not_approved_unseen(self) -> None:
        """A mapping with keys that do not sort against each other still makes a request."""
        gov = g.Governor(
            g.Policy([g.require_approval("t"), g.allow("t")]),
            approver=g.approvals.allow_all,
            on_deny=lambda d: "denied",
        )
        t = g.governed("t", governor=gov)(lambda mapping: "ran")
        assert t({1: "a", "b": "c"}) == "ran"

    def test_callers_without_a_session_each_have_their_cap(self) -> None:
        agent = Agent(g.approvals.DeferredApprover(), max_pending=2)
        with g.context(user="mallory"):
            for amount in (200, 300):
                with pytest.raises(g.ApprovalPending):
                    agent.refund("A-1", amount)
            with pytest.raises(g.ApprovalDenied, match="from this caller"):
                agent.refund("A-1", 400)
        with g.context(user="alice"), pytest.raises(g.ApprovalPending):
            agent.refund("A-1", 400)
