"""The governor: approvals, on_deny, audit, and every way a call fails closed."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import guardrails as g

POLICY = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 100, id="small"),
        g.require_approval("refund", when=g.arg("amount") > 100, reason="big refunds need a human", id="big"),
        g.deny("refund", when=g.arg("amount") > 10_000, reason="far too big", id="huge"),
    ]
)


class Tools:
    """A sync and an async refund tool under one governor, recording what ran."""

    def __init__(self, **options: Any) -> None:
        self.ran: list[float] = []
        self.audit = g.MemoryAudit()
        options.setdefault("audit", self.audit)
        self.governor = g.Governor(POLICY, **options)

        @g.governed("refund", governor=self.governor)
        def refund(amount: float) -> str:
            self.ran.append(amount)
            return f"refunded {amount}"

        @g.governed("refund", governor=self.governor)
        async def refund_async(amount: float) -> str:
            self.ran.append(amount)
            return f"refunded {amount}"

        self.refund = refund
        self.refund_async = refund_async

    def call(self, amount: float, use_async: bool) -> str:
        if use_async:
            return asyncio.run(self.refund_async(amount))
        return self.refund(amount)


both = pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])


class TestCheck:
    def test_decides_without_running_or_recording(self) -> None:
        """check() returns the policy's decision; nothing runs, nothing is recorded, no approver is asked."""
        asked: list[Any] = []
        tools = Tools(approver=asked.append)
        d = tools.governor.check("refund", {"amount": 500})
        assert d.effect is g.Effect.REQUIRE_APPROVAL
        assert d.rule_id == "big"
        assert asked == [] and tools.ran == [] and len(tools.audit) == 0

    def test_uses_current_context(self) -> None:
        """check() without context uses the enclosing guardrails.context."""
        gov = g.Governor(g.Policy([g.allow("x", when=g.ctx("user") == "alice")]))
        with g.context(user="alice"):
            assert gov.check("x").allowed
        assert not gov.check("x").allowed
        assert gov.check("x", context={"user": "alice"}).allowed


class TestApproval:
    @both
    def test_approved(self, use_async: bool) -> None:
        """An approver returning True lets the tool run; the request carries the call and decision."""
        requests: list[g.ApprovalRequest] = []

        def approver(request: g.ApprovalRequest) -> bool:
            requests.append(request)
            return True

        tools = Tools(approver=approver)
        with g.context(user="alice"):
            assert tools.call(500, use_async) == "refunded 500"
        (request,) = requests
        assert dict(request.context) == {"user": "alice"}
        assert request.call.context is request.context
        assert request.action == "refund"
        assert dict(request.args) == {"amount": 500}
        assert request.rule_id == "big"
        assert request.reason == "big refunds need a human"
        assert request.decision.effect is g.Effect.REQUIRE_APPROVAL
        assert request.call.call_id == tools.audit.records[0].call_id

    @both
    def test_refused(self, use_async: bool) -> None:
        """A response with approved=False raises ApprovalDenied naming who and why; tool not run."""
        tools = Tools(approver=lambda r: g.ApprovalResponse(False, by="carol", reason="customer is a fraud"))
        with pytest.raises(g.ApprovalDenied) as info:
            tools.call(500, use_async)
        assert tools.ran == []
        message = str(info.value)
        assert "'refund'" in message and "'big'" in message
        assert "refused by carol: customer is a fraud" in message
        assert info.value.approval is not None
        assert info.value.approval.response == g.ApprovalResponse(False, "carol", "customer is a fraud")
        assert isinstance(info.value, g.ActionDenied)

    @both
    def test_response_names_approver(self, use_async: bool) -> None:
        """An approving response's author is in the decision and the audit record."""
        tools = Tools(approver=lambda r: g.ApprovalResponse(True, by="carol"))
        tools.call(500, use_async)
        assert tools.audit.records[0].approved_by == "carol"
        assert "approved by carol" in tools.audit.records[0].reason

    def test_async_approver_on_async_tool(self) -> None:
        """An async approver is awaited for an async tool (for a sync tool: see TestFailClosedApprovals)."""

        async def approver(request: g.ApprovalRequest) -> bool:
            await asyncio.sleep(0)
            return True

        tools = Tools(approver=approver)
        assert tools.call(500, True) == "refunded 500"

    @both
    def test_no_approver_denies(self, use_async: bool) -> None:
        """require_approval without an approver is denied, and says so."""
        tools = Tools()
        with pytest.raises(g.ApprovalDenied, match="no approver is configured"):
            tools.call(500, use_async)
        assert tools.ran == []

    @both
    def test_deny_is_not_sent_for_approval(self, use_async: bool) -> None:
        """A denied call never reaches the approver."""
        asked: list[Any] = []
        tools = Tools(approver=lambda r: asked.append(r) or True)
        with pytest.raises(g.ActionDenied) as info:
            tools.call(50_000, use_async)
        assert not isinstance(info.value, g.ApprovalDenied)
        assert asked == [] and tools.ran == []


def _raise(request: g.ApprovalRequest) -> bool:
    raise ConnectionError("slack is down")


async def _raise_async(request: g.ApprovalRequest) -> bool:
    raise ConnectionError("slack is down")


async def _slow_async(request: g.ApprovalRequest) -> bool:
    await asyncio.sleep(5)
    return True


def _slow_sync(request: g.ApprovalRequest) -> bool:
    time.sleep(0.05)
    return True


class TestFailClosedApprovals:
    @pytest.mark.parametrize(
        ("approver", "message"),
        [
            (_raise, "the approver failed (ConnectionError: slack is down)"),
            (lambda r: "yes", "returned str 'yes', not a bool, ApprovalResponse or PENDING"),
            (lambda r: None, "returned None"),
            (lambda r: 1, "returned int 1"),
            (lambda r: [True], "returned list"),
            (lambda r: g.ApprovalResponse("yes"), "the approver failed (TypeError"),  # type: ignore[arg-type]
        ],
    )
    @both
    def test_broken_approvers_deny(self, approver: Callable[..., Any], message: str, use_async: bool) -> None:
        """An approver that raises or answers junk denies; the reason says what went wrong."""
        tools = Tools(approver=approver)
        with pytest.raises(g.ApprovalDenied) as info:
            tools.call(500, use_async)
        assert message in str(info.value)
        assert tools.ran == []
        (record,) = tools.audit.records
        assert record.outcome is g.Outcome.NOT_RUN
        assert message in record.reason

    def test_async_approver_raising(self) -> None:
        """An async approver that raises denies."""
        tools = Tools(approver=_raise_async)
        with pytest.raises(g.ApprovalDenied, match="slack is down"):
            tools.call(500, True)
        assert tools.ran == []

    def test_async_approver_times_out(self) -> None:
        """An async approver slower than approval_timeout is cancelled and the call denied."""
        tools = Tools(approver=_slow_async, approval_timeout=0.05)
        started = time.monotonic()
        with pytest.raises(g.ApprovalDenied, match=r"no answer within 0.05s"):
            tools.call(500, True)
        assert time.monotonic() - started < 2
        assert tools.ran == []

    def test_late_sync_answer_is_void(self) -> None:
        """A sync approver answering after the timeout is ignored: denied."""
        tools = Tools(approver=_slow_sync, approval_timeout=0.01)
        with pytest.raises(g.ApprovalDenied, match=r"after the 0\.01s timeout"):
            tools.call(500, False)
        assert tools.ran == []

    def test_approver_raising_timeout_error(self) -> None:
        """An approver raising TimeoutError is reported as a timeout."""

        def approver(request: g.ApprovalRequest) -> bool:
            raise TimeoutError

        tools = Tools(approver=approver, approval_timeout=3)
        with pytest.raises(g.ApprovalDenied, match="no answer within 3s"):
            tools.call(500, False)

    def test_async_approver_on_sync_tool(self) -> None:
        """An async approver for a sync tool is a configuration error; the tool does not run."""

        async def approver(request: g.ApprovalRequest) -> bool:
            return True

        tools = Tools(approver=approver)
        with pytest.raises(g.ConfigurationError, match=r"approver .* is async but the tool is sync"):
            tools.call(500, False)
        assert tools.ran == []
        (record,) = tools.audit.records
        assert (record.outcome, record.effect) == (g.Outcome.NOT_RUN, "deny")
        assert "approval interrupted (ConfigurationError" in record.reason

    def test_approver_returning_awaitable_on_sync_tool(self) -> None:
        """A sync-looking approver that returns a coroutine is caught too, and the coroutine closed."""

        async def decide() -> bool:
            return True

        tools = Tools(approver=lambda r: decide())
        with pytest.raises(g.ConfigurationError):
            tools.call(500, False)
        assert tools.ran == []

    def test_response_subclass_cannot_approve_with_a_string(self) -> None:
        """A response whose approved is not a real bool (a subclass skipped the check) is junk: denied."""

        class Sloppy(g.ApprovalResponse):
            def __post_init__(self) -> None:
                pass

        tools = Tools(approver=lambda r: Sloppy("no"))  # type: ignore[arg-type]
        with pytest.raises(g.ApprovalDenied, match="not a bool, ApprovalResponse or PENDING"):
            tools.call(500, False)
        assert tools.ran == []

    def test_approver_raising_generator_exit_is_recorded(self) -> None:
        """Even GeneratorExit from an approver leaves a not_run record."""

        def approver(request: g.ApprovalRequest) -> bool:
            raise GeneratorExit

        tools = Tools(approver=approver)
        with pytest.raises(GeneratorExit):
            tools.call(500, False)
        assert tools.ran == []
        assert [r.outcome for r in tools.audit.records] == [g.Outcome.NOT_RUN]

    def test_keyboard_interrupt_in_approver_propagates(self) -> None:
        """Ctrl-C while waiting for approval stops the program; the tool does not run."""

        def approver(request: g.ApprovalRequest) -> bool:
            raise KeyboardInterrupt

        tools = Tools(approver=approver)
        with pytest.raises(KeyboardInterrupt):
            tools.call(500, False)
        assert tools.ran == []
        assert [r.outcome for r in tools.audit.records] == [g.Outcome.NOT_RUN]
        assert "approval interrupted (KeyboardInterrupt)" in tools.audit.records[0].reason

    def test_cancelled_while_waiting_for_approval(self) -> None:
        """A task cancelled while its approver waits is recorded as not run."""
        tools = Tools(approver=_slow_async)

        async def main() -> None:
            task = asyncio.create_task(tools.refund_async(500))
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        assert tools.ran == []
        assert [r.outcome for r in tools.audit.records] == [g.Outcome.NOT_RUN]


class TestOnDeny:
    @both
    def test_value_returned_instead_of_raising(self, use_async: bool) -> None:
        """on_deny's return value goes to the caller; it receives the denial."""
        seen: list[g.ActionDenied] = []

        def on_deny(denial: g.ActionDenied) -> str:
            seen.append(denial)
            return f"Not allowed: {denial.decision.reason}"

        tools = Tools(on_deny=on_deny)
        assert tools.call(50_000, use_async) == "Not allowed: far too big"
        assert seen[0].decision.rule_id == "huge"
        assert seen[0].call.args["amount"] == 50_000
        assert tools.ran == []

    @both
    def test_handles_approval_denials(self, use_async: bool) -> None:
        """on_deny also receives ApprovalDenied."""
        tools = Tools(on_deny=lambda d: type(d).__name__)
        assert tools.call(500, use_async) == "ApprovalDenied"

    @both
    def test_raising_propagates(self, use_async: bool) -> None:
        """An exception raised by on_deny reaches the caller; the tool still did not run."""

        def on_deny(denial: g.ActionDenied) -> str:
            raise PermissionError(str(denial))

        tools = Tools(on_deny=on_deny)
        with pytest.raises(PermissionError, match="far too big"):
            tools.call(50_000, use_async)
        assert tools.ran == []

    def test_async_on_deny_awaited_for_async_tools(self) -> None:
        """An async on_deny is awaited for async tools."""

        async def on_deny(denial: g.ActionDenied) -> str:
            return "handled"

        assert Tools(on_deny=on_deny).call(50_000, True) == "handled"

    def test_async_on_deny_on_sync_tool(self) -> None:
        """An async on_deny for a sync tool is a configuration error."""

        async def on_deny(denial: g.ActionDenied) -> str:
            return "handled"

        tools = Tools(on_deny=on_deny)
        with pytest.raises(g.ConfigurationError, match="on_deny"):
            tools.call(50_000, False)
        assert tools.ran == []

    def test_not_called_when_allowed(self) -> None:
        """on_deny is not involved in allowed calls."""
        tools = Tools(on_deny=lambda d: "denied")
        assert tools.call(5, False) == "refunded 5"


class TestAudit:
    @both
    def test_allowed_call_recorded_before_and_after(self, use_async: bool) -> None:
        """An allowed call is recorded as started, then returned, under one call id."""
        tools = Tools()
        with g.context(user="alice", session="s1"):
            tools.call(5, use_async)
        started, returned = tools.audit.records
        assert started.call_id == returned.call_id
        assert started.outcome is g.Outcome.STARTED
        assert returned.outcome is g.Outcome.RETURNED
        assert returned.duration_ms is not None and returned.duration_ms >= 0
        for record in (started, returned):
            assert record.action == "refund"
            assert record.args == {"amount": 5}
            assert record.context == {"user": "alice", "session": "s1"}
            assert record.effect == "allow"
            assert record.rule_id == "small"
            assert record.time.tzinfo is not None

    @both
    def test_raising_tool_recorded(self, use_async: bool) -> None:
        """A tool that raises is recorded as raised with the exception type; the exception propagates."""
        audit = g.MemoryAudit()
        gov = g.Governor(g.Policy([g.allow("*")]), audit=audit)

        @g.governed("boom", governor=gov)
        def boom() -> None:
            raise ValueError("bad order id")

        @g.governed("boom", governor=gov)
        async def boom_async() -> None:
            raise ValueError("bad order id")

        with pytest.raises(ValueError, match="bad order id"):
            asyncio.run(boom_async()) if use_async else boom()
        assert [r.outcome for r in audit.records] == [g.Outcome.STARTED, g.Outcome.RAISED]
        assert audit.records[1].error == "ValueError: bad order id"

    @both
    def test_denied_call_recorded_once(self, use_async: bool) -> None:
        """A denied call is recorded once, as not run, with rule and reason."""
        tools = Tools()
        with pytest.raises(g.ActionDenied):
            tools.call(50_000, use_async)
        (record,) = tools.audit.records
        assert (record.outcome, record.effect, record.rule_id, record.reason) == (
            g.Outcome.NOT_RUN,
            "deny",
            "huge",
            "far too big",
        )

    def test_several_sinks(self) -> None:
        """Every sink receives every record."""
        a, b = g.MemoryAudit(), g.MemoryAudit()
        tools = Tools(audit=[a, b])
        tools.call(5, False)
        assert len(a) == len(b) == 2

    @both
    def test_failing_sink_before_run_stops_the_tool(self, use_async: bool) -> None:
        """A sink that fails before the tool runs stops it with an AuditError."""

        def sink(record: g.AuditRecord) -> None:
            raise OSError("disk full")

        tools = Tools(audit=sink)
        with pytest.raises(
            g.AuditError, match=r"'refund' did not run: audit sink .* failed \(OSError: disk full\)"
        ):
            tools.call(5, use_async)
        assert tools.ran == []

    def test_later_sink_failing_is_told_to_the_earlier(self) -> None:
        """When the second sink fails before the tool runs, the first learns it did not run."""
        first = g.MemoryAudit()

        def broken(record: g.AuditRecord) -> None:
            raise OSError("disk full")

        tools = Tools(audit=[first, broken])
        with pytest.raises(g.AuditError):
            tools.call(5, False)
        assert tools.ran == []
        assert [r.outcome for r in first.records] == [g.Outcome.STARTED, g.Outcome.NOT_RUN]
        assert "did not run: audit sink" in first.records[1].reason
        assert first.records[0].call_id == first.records[1].call_id

    def test_failing_sink_on_denial(self) -> None:
        """A sink that fails while recording a denial still leaves the tool not run."""

        def sink(record: g.AuditRecord) -> None:
            raise OSError("disk full")

        tools = Tools(audit=sink, on_deny=lambda d: "handled")
        with pytest.raises(g.AuditError):
            tools.call(50_000, False)
        assert tools.ran == []

    def test_failing_sink_after_run_is_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """After the tool ran, a failing sink is logged, and the result still returned (no retry, no double refund)."""
        records: list[g.AuditRecord] = []

        def sink(record: g.AuditRecord) -> None:
            if record.outcome is not g.Outcome.STARTED:
                raise OSError("disk full")
            records.append(record)

        tools = Tools(audit=sink)
        with caplog.at_level(logging.ERROR, logger="guardrails"):
            assert tools.call(5, False) == "refunded 5"
        assert tools.ran == [5]
        assert "failed to record the outcome" in caplog.text
        assert records[0].outcome is g.Outcome.STARTED

    @both
    def test_tool_exceptions_pass_through_unchanged(self, use_async: bool) -> None:
        """Whatever the tool raises reaches the caller as it was, even StopIteration (sync:
        a coroutine cannot raise it), even an exception whose message cannot be read."""

        class Unreadable(Exception):
            def __str__(self) -> str:
                raise RuntimeError("no")

        errors: list[BaseException] = [Unreadable()] if use_async else [StopIteration("done"), Unreadable()]
        for error in errors:
            audit = g.MemoryAudit()
            gov = g.Governor(g.Policy([g.allow("*")]), audit=audit)

            def tool(error: BaseException = error) -> None:
                raise error

            async def tool_async(error: BaseException = error) -> None:
                raise error

            governed = g.governed("t", governor=gov)(tool_async if use_async else tool)
            with pytest.raises(type(error)) as info:
                asyncio.run(governed()) if use_async else governed()
            assert info.value is error
            assert audit.records[-1].outcome is g.Outcome.RAISED
            assert audit.records[-1].error is not None
            assert audit.records[-1].error.startswith(type(error).__name__)

    def test_keyboard_interrupt_in_tool_recorded(self) -> None:
        """Even an interrupt inside the tool is recorded as raised, then propagates."""
        audit = g.MemoryAudit()
        gov = g.Governor(g.Policy([g.allow("*")]), audit=audit)

        @g.governed("stop", governor=gov)
        def stop() -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            stop()
        assert audit.records[-1].outcome is g.Outcome.RAISED
        assert audit.records[-1].error == "KeyboardInterrupt"

    def test_cancelled_async_tool_recorded(self) -> None:
        """An async tool cancelled mid-run is recorded as raised (CancelledError)."""
        audit = g.MemoryAudit()
        gov = g.Governor(g.Policy([g.allow("*")]), audit=audit)

        @g.governed("wait", governor=gov)
        async def wait() -> None:
            await asyncio.sleep(10)

        async def main() -> None:
            task = asyncio.create_task(wait())
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        assert [r.outcome for r in audit.records] == [g.Outcome.STARTED, g.Outcome.RAISED]
        assert audit.records[-1].error == "CancelledError"


class TestConfigure:
    def test_partial_update(self) -> None:
        """configure() changes only what it is given."""
        audit = g.MemoryAudit()
        gov = g.Governor(POLICY, audit=audit)
        gov.configure(approver=lambda r: True)
        assert gov.setup.sinks == (audit,)
        assert gov.policy is POLICY
        gov.configure(approver=None)
        assert gov.setup.approver is None

    @pytest.mark.parametrize(
        "changes",
        [
            {"policy": "allow everything"},
            {"approver": "alice"},
            {"on_deny": 5},
            {"audit": [print, "file.log"]},
            {"approval_timeout": 0},
            {"approval_timeout": -1},
            {"approval_timeout": True},
            {"approval_timeout": "5"},
        ],
    )
    def test_bad_values_change_nothing(self, changes: dict[str, Any]) -> None:
        """A bad value raises ConfigurationError and leaves the governor as it was."""
        gov = g.Governor(POLICY)
        before = gov.setup
        with pytest.raises(g.ConfigurationError):
            gov.configure(**{"policy": g.Policy([]), **changes})
        assert gov.setup is before

    def test_concurrent_changes_are_not_lost(self) -> None:
        """Blocks and configure() from many threads at once: every change survives."""
        gov = g.Governor(POLICY)
        sinks = [g.MemoryAudit() for _ in range(8)]

        def change(i: int) -> None:
            for j in range(50):
                gov.block(f"tool{i}-{j}")
                gov.configure(approval_timeout=float(i + 1))
            gov.configure(audit=sinks[i])

        threads = [threading.Thread(target=change, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(gov.blocked()) == 400
        assert gov.setup.sinks[0] in sinks

    def test_configure_default_governor(self) -> None:
        """guardrails.configure sets up the default governor and returns it."""
        gov = g.configure(policy=POLICY)
        assert gov is g.get_governor()
        assert gov.policy is POLICY

    def test_swap_policy_between_calls(self) -> None:
        """A new policy applies to the next call."""
        tools = Tools()
        assert tools.call(5, False)
        tools.governor.configure(policy=g.Policy([g.deny("refund", reason="refunds frozen")]))
        with pytest.raises(g.ActionDenied, match="refunds frozen"):
            tools.call(5, False)

    def test_call_in_progress_keeps_its_setup(self) -> None:
        """A call that already started finishes with the setup it started with."""
        tools = Tools()

        def approver(request: g.ApprovalRequest) -> bool:
            tools.governor.configure(audit=None, approver=None)
            return True

        tools.governor.configure(approver=approver)
        assert tools.call(500, False) == "refunded 500"
        assert [r.outcome for r in tools.audit.records] == [g.Outcome.STARTED, g.Outcome.RETURNED]


class TestErrors:
    def test_tree(self) -> None:
        """The exception tree is as documented."""
        assert issubclass(g.ActionDenied, g.GovernanceError)
        assert issubclass(g.ApprovalDenied, g.ActionDenied)
        assert issubclass(g.PolicyError, g.GovernanceError)
        assert issubclass(g.PolicyError, ValueError)
        assert issubclass(g.ConfigurationError, TypeError)
        assert issubclass(g.AuditError, g.GovernanceError)

    def test_denial_message_names_action_rule_and_reason(self) -> None:
        """The message says which action, which rule and why."""
        tools = Tools()
        with pytest.raises(g.ActionDenied) as info:
            tools.call(50_000, False)
        assert str(info.value) == "'refund' denied by rule 'huge': far too big"
        assert info.value.decision.rule_id == "huge"
        assert info.value.call.action == "refund"


class TestSnapshot:
    def test_setup_is_read_only(self) -> None:
        """The snapshot is changed through the governor, never assigned over."""
        gov = g.Governor(g.Policy([g.allow("t")]))
        with pytest.raises(AttributeError, match="read-only"):
            gov.setup = "junk"  # type: ignore[misc]
        assert gov.setup.policy.rules[0].action == "t"

    @pytest.mark.parametrize(
        "bad",
        [
            {"mode": "Shadow"},
            {"max_pending": -5},
            {"store": None},
            {"on_deny": 42},
            {"approval_timeout": float("nan")},
            {"approval_expiry": 0},
            {"sinks": [print]},
            {"untrusted": ("read_*",)},
            {"blocks": ("x",)},
        ],
        ids=lambda bad: next(iter(bad)),
    )
    def test_a_snapshot_is_held_to_the_options_checks(self, bad: dict[str, Any]) -> None:
        """A Setup built by hand (as replace_setup takes) is refused for what configure refuses."""
        gov = g.Governor(g.Policy([g.allow("t")]))
        with pytest.raises(g.ConfigurationError):
            gov.replace_setup(g.runtime.Setup(g.Policy([]), **bad))
        assert gov.setup.mode == "enforce" and gov.setup.max_pending == 10

    def test_setup_cannot_be_deleted(self) -> None:
        """Deleting the snapshot is refused: the governor keeps judging."""
        gov = g.Governor(g.Policy([g.allow("t")]))
        with pytest.raises(AttributeError, match="read-only"):
            del gov.setup
        assert gov.check("t").allowed

    def test_a_subclass_of_setup_is_checked_too(self) -> None:
        """A Setup subclass that skips its own checks is still held to them."""

        class Loose(g.runtime.Setup):
            def __post_init__(self) -> None:
                pass

        gov = g.Governor(g.Policy([g.allow("t")]))
        with pytest.raises(g.ConfigurationError, match="approval_timeout"):
            gov.replace_setup(Loose(g.Policy([]), approval_timeout=float("nan")))

    def test_a_mode_must_be_the_plain_string(self) -> None:
        """A str subclass whose == says yes to everything is not an option."""

        class Chameleon(str):
            def __eq__(self, other: object) -> bool:
                return True

            __hash__ = str.__hash__

        with pytest.raises(g.ConfigurationError, match="mode must be"):
            g.Governor(g.Policy([]), mode=Chameleon("enforce"))  # type: ignore[arg-type]
        with pytest.raises(g.ConfigurationError, match="on_audit_error must be"):
            g.Governor(g.Policy([]), on_audit_error=Chameleon("deny"))  # type: ignore[arg-type]
