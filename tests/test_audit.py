"""Audit records and the sinks that keep them; what happens when a sink fails."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import need

import guardrails as g
from guardrails.audit.records import SCHEMA_VERSION, default_fields, trusted_record
from guardrails.policy.view import AuditView

POLICY = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 100, id="small"),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large"),
        g.deny("wire", id="no-wires", reason="wires are off"),
    ]
)


def tools(gov: g.Governor) -> Any:
    ran: list[Any] = []

    @g.governed("refund", governor=gov)
    def refund(order_id: str, amount: float) -> str:
        if order_id == "boom":
            raise KeyError(order_id)
        ran.append((order_id, amount))
        return "ok"

    @g.governed("refund", governor=gov)
    async def refund_async(order_id: str, amount: float) -> str:
        ran.append((order_id, amount))
        return "ok"

    @g.governed("wire", governor=gov)
    def wire(amount: float) -> str:
        ran.append(("wire", amount))
        return "sent"

    return refund, refund_async, wire, ran


class TestRecord:
    def test_fields_of_an_allowed_call(self) -> None:
        """An allowed call is recorded started, then returned, with everything a reader needs."""
        audit = g.MemoryAudit()
        refund, _, _, _ = tools(g.Governor(POLICY, audit=audit))
        with g.context(user="alice", session="s-1", tool_call_id="call_abc"):
            refund("A-1", 25.0)
        started, returned = audit.records
        for record in (started, returned):
            assert record.schema_version == SCHEMA_VERSION
            assert record.kind == "call"
            assert record.call_id == started.call_id != ""
            assert record.tool_call_id == "call_abc"
            assert record.action == "refund"
            assert record.args == {"order_id": "A-1", "amount": 25.0}
            assert record.context == {"user": "alice", "session": "s-1", "tool_call_id": "call_abc"}
            assert record.session == "s-1"
            assert (record.effect, record.rule_id, record.enforced) == ("allow", "small", True)
            assert record.policy_version == POLICY.version
            assert record.time.tzinfo is not None
        assert started.outcome is g.Outcome.STARTED and started.duration_ms is None
        assert returned.outcome is g.Outcome.RETURNED and returned.duration_ms is not None
        assert returned.time >= started.time

    def test_raised_records_the_exception_type(self) -> None:
        """A tool that raises is recorded ``raised``, with the type and message."""
        audit = g.MemoryAudit()
        refund, _, _, _ = tools(g.Governor(POLICY, audit=audit))
        with pytest.raises(KeyError):
            refund("boom", 1.0)
        record = audit.records[-1]
        assert record.outcome is g.Outcome.RAISED
        assert record.error_type == "KeyError"
        assert record.error == "KeyError: 'boom'"

    def test_approval_details(self) -> None:
        """Who approved, and why, is part of the record."""
        audit = g.MemoryAudit()
        refund, _, _, _ = tools(
            g.Governor(
                POLICY, audit=audit, approver=lambda r: g.ApprovalResponse(True, by="carol", reason="ok'd")
            )
        )
        refund("A-2", 500.0)
        record = audit.records[-1]
        approval = record.approval
        assert approval is not None and approval.request_id
        assert approval == g.audit.AuditApproval(
            approved=True,
            by="carol",
            reason="ok'd",
            status="approved",
            request_id=approval.request_id,
            approvers=("carol",),
        )
        assert record.approved_by == "carol"
        assert record.effect == "allow" and record.rule_id == "large"

    def test_denied_call(self) -> None:
        """A denied call is recorded once, not run, with the rule and its reason."""
        audit = g.MemoryAudit()
        _, _, wire, ran = tools(g.Governor(POLICY, audit=audit))
        with pytest.raises(g.ActionDenied):
            wire(10.0)
        (record,) = audit.records
        assert (record.outcome, record.effect, record.rule_id, record.reason) == (
            g.Outcome.NOT_RUN,
            "deny",
            "no-wires",
            "wires are off",
        )
        assert ran == []

    def test_trusted_records_equal_validated_ones(self) -> None:
        """The fast constructor makes exactly what validation would."""
        fields = default_fields()
        fields.update(
            time=datetime.now(timezone.utc),
            call_id="c",
            action="a",
            args={"x": [1, "y"]},
            effect="allow",
            outcome=g.Outcome.RETURNED,
            approval=g.audit.AuditApproval(approved=True, by="b"),
            duration_ms=1.5,
        )
        fast = trusted_record(dict(fields))
        checked = g.AuditRecord(**fields)
        assert fast == checked
        assert fast.model_dump() == checked.model_dump()
        assert fast.model_fields_set == checked.model_fields_set | set(fields)
        assert g.AuditRecord.model_validate_json(fast.model_dump_json()) == checked

    def test_records_are_read_only(self) -> None:
        """A sink cannot change what the next sink receives: fields, args and context are read-only."""
        seen: list[g.AuditRecord] = []

        def meddling(record: g.AuditRecord) -> None:
            seen.append(record)
            record.args["tenant"] = "acme"  # type: ignore[index]

        audit = g.MemoryAudit()
        refund, _, _, ran = tools(g.Governor(POLICY, audit=[meddling, audit]))
        with pytest.raises(g.AuditError, match="does not support item assignment"):
            refund("A", 1.0)
        assert ran == [] and audit.records == []
        with pytest.raises(Exception, match="frozen"):
            seen[0].effect = "deny"  # type: ignore[misc]
        nested = AuditView(g.Policy([]).redaction, {"items": [{"a": 1}]}, {}).args
        with pytest.raises(TypeError):
            nested["items"][0]["a"] = 2


class TestRecorder:
    def test_each_record_tells_the_approval_it_was_given(self) -> None:
        """Records of one decision share their fields, but not a stale approval."""
        from guardrails.audit.recorder import Recorder

        decision = g.Policy([g.require_approval("t")]).evaluate("t", {})
        sink = g.MemoryAudit()
        recorder = Recorder((sink,), "deny", g.Redaction())
        refused = g.audit.AuditApproval(approved=False, status="refused", by="bob")
        recorder.record(decision, g.Outcome.NOT_RUN)
        recorder.record(decision, g.Outcome.NOT_RUN, approval=refused)
        recorder.record(decision, g.Outcome.NOT_RUN)
        assert [r.approval for r in sink.records] == [None, refused, None]

    def test_a_shadow_record_tells_the_calls_limits(self) -> None:
        """What a shadow rule would have decided is recorded with the counters the call used."""
        audit = g.MemoryAudit()
        policy = g.Policy(
            [
                g.allow("t"),
                g.deny("t", id="rl", limit=g.rate(5, per="1h")),
                g.deny("t", id="would-deny", shadow=True),
            ]
        )
        gov = g.Governor(policy, audit=audit)

        @g.governed(governor=gov)
        def t() -> str:
            return "ran"

        assert t() == "ran"
        shadow = next(r for r in audit.records if not r.enforced)
        assert shadow.rule_id == "would-deny"
        assert [(o["rule_id"], o["result"]) for o in shadow.limits or ()] == [("rl", "held")]


class TestMemoryAudit:
    def test_bounded(self) -> None:
        """With ``maxlen``, only the latest records are kept."""
        audit = g.MemoryAudit(maxlen=3)
        refund, _, _, _ = tools(g.Governor(POLICY, audit=audit))
        for i in range(5):
            refund(f"A-{i}", 1.0)
        assert len(audit) == 3
        assert [r.args["order_id"] for r in audit] == ["A-3", "A-4", "A-4"]
        assert "latest 3" in repr(audit)

    @pytest.mark.parametrize("maxlen", [0, -1, 1.5, True])
    def test_bad_maxlen(self, maxlen: Any) -> None:
        """A bound must be a positive int."""
        with pytest.raises(ValueError, match="maxlen"):
            g.MemoryAudit(maxlen=maxlen)


class TestLoggingAudit:
    def test_one_line_per_record(self, caplog: pytest.LogCaptureFixture) -> None:
        """Each record is a readable line, with the record as ``extra['audit']``; denials warn."""
        caplog.set_level(logging.INFO, "guardrails.audit")
        refund, _, wire, _ = tools(g.Governor(POLICY, audit=g.LoggingAudit()))
        refund("A-1", 5.0)
        with pytest.raises(g.ActionDenied):
            wire(1.0)
        lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "guardrails.audit"]
        assert [level for level, _ in lines] == [logging.INFO, logging.INFO, logging.WARNING]
        assert "refund" in lines[0][1] and "started" in lines[0][1] and "'small'" in lines[0][1]
        assert "wires are off" in lines[2][1]
        extra = caplog.records[-1].audit  # type: ignore[attr-defined]
        assert extra["effect"] == "deny" and extra["args"] == {"amount": 1.0}
        json.dumps(extra)

    def test_never_configures_logging(self) -> None:
        """Making and using the sink adds no handler and changes no level anywhere."""
        logger = logging.getLogger("test.configured")
        handler = logging.NullHandler()
        logger.addHandler(handler)  # the application's configuration, not the library's
        logger.setLevel(logging.INFO)
        root = logging.getLogger()
        before = (list(root.handlers), root.level, list(logger.handlers), logger.level)
        try:
            refund, _, _, _ = tools(g.Governor(POLICY, audit=g.LoggingAudit("test.configured")))
            refund("A-1", 5.0)
            assert (list(root.handlers), root.level, list(logger.handlers), logger.level) == before
        finally:
            logger.removeHandler(handler)

    def test_a_logger_that_would_drop_records_stops_the_call(self, caplog: pytest.LogCaptureFixture) -> None:
        """Below the logger's level, or with no handler at all, records would vanish: the call stops."""
        caplog.set_level(logging.ERROR, "quiet")
        refund, _, _, ran = tools(g.Governor(POLICY, audit=g.LoggingAudit("quiet")))
        with pytest.raises(
            g.AuditError, match=r"logger 'quiet' would drop the record: it logs nothing at INFO"
        ):
            refund("A-1", 5.0)
        lonely = logging.getLogger("lonely")
        lonely.propagate = False  # no handler on the way up
        lonely.setLevel(logging.INFO)
        try:
            refund2, _, _, ran2 = tools(g.Governor(POLICY, audit=g.LoggingAudit(lonely)))
            with pytest.raises(g.AuditError, match="would drop the record"):
                refund2("A-1", 5.0)
        finally:
            lonely.propagate = True
        assert ran == ran2 == []

    def test_lines_cannot_be_forged(self, caplog: pytest.LogCaptureFixture) -> None:
        """A newline or escape code in a value is shown escaped in the log line."""
        caplog.set_level(logging.INFO, "guardrails.audit")
        gov = g.Governor(g.Policy([g.deny("x", reason="no\nFAKE allow line\x1b[8m")]), audit=g.LoggingAudit())
        with pytest.raises(g.ActionDenied):
            g.governed("x", governor=gov)(lambda: None)()
        message = caplog.records[-1].getMessage()
        assert "\n" not in message and "\x1b" not in message
        assert "no\\nFAKE allow line\\x1b[8m" in message


class TestOtelAudit:
    @pytest.fixture
    def exporter(self) -> Any:
        need("opentelemetry.sdk")
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return exporter, provider

    def test_a_span_per_call(self, exporter: Any) -> None:
        """Allowed, raised and denied calls each end one span carrying the decision."""
        spans, provider = exporter
        from opentelemetry.trace import StatusCode

        refund, _, wire, _ = tools(g.Governor(POLICY, audit=g.OtelAudit(provider)))
        with g.context(tool_call_id="call_9", session="s-1"):
            refund("A-1", 5.0)
            with pytest.raises(KeyError):
                refund("boom", 5.0)
            with pytest.raises(g.ActionDenied):
                wire(1.0)
        finished = spans.get_finished_spans()
        assert [s.name for s in finished] == ["guardrails refund"] * 2 + ["guardrails wire"]
        ok, raised, denied = (dict(s.attributes) for s in finished)
        assert ok["guardrails.outcome"] == "returned" and ok["guardrails.rule_id"] == "small"
        assert ok["gen_ai.tool.name"] == "refund" and ok["gen_ai.tool.call.id"] == "call_9"
        assert ok["guardrails.session"] == "s-1"
        assert json.loads(ok["guardrails.args"]) == {"order_id": "A-1", "amount": 5.0}
        assert raised["guardrails.error_type"] == "KeyError"
        assert finished[1].status.status_code is StatusCode.ERROR
        assert denied["guardrails.effect"] == "deny" and denied["guardrails.outcome"] == "not_run"
        assert all(s.end_time >= s.start_time for s in finished)

    def test_shadow_decisions_join_the_span(self, exporter: Any) -> None:
        """What a shadow rule would have decided becomes attributes of the call's span."""
        spans, provider = exporter
        policy = POLICY + g.Policy([g.deny("refund", when=g.arg("amount") > 1, id="strict", shadow=True)])
        refund, _, _, _ = tools(g.Governor(policy, audit=g.OtelAudit(provider)))
        refund("A-1", 5.0)
        (span,) = spans.get_finished_spans()
        assert span.attributes["guardrails.shadow.rule_id"] == "strict"
        assert span.attributes["guardrails.effect"] == "allow"

    def test_governor_events_are_spans(self, exporter: Any) -> None:
        """Blocks and policy changes show up too."""
        spans, provider = exporter
        gov = g.Governor(POLICY, audit=g.OtelAudit(provider))
        gov.block("refund")
        (span,) = spans.get_finished_spans()
        assert span.attributes["guardrails.event"] == "block"

    def test_open_spans_are_bounded(self, exporter: Any) -> None:
        """Calls that never finish do not hold spans forever."""
        spans, provider = exporter
        sink = g.OtelAudit(provider, max_open=2)
        audit = g.MemoryAudit()
        refund, _, _, _ = tools(g.Governor(POLICY, audit=audit))
        for i in range(4):
            refund(f"A-{i}", 1.0)
        for record in audit.records[0::2]:  # only the "started" records: no call ends
            sink(record)
        assert len(spans.get_finished_spans()) == 2
        assert all(s.attributes["guardrails.unfinished"] for s in spans.get_finished_spans())


class TestFailClosed:
    def test_full_disk_stops_the_call(self) -> None:
        """A JSONL log on a full disk (/dev/full) stops the tool with an error naming both."""
        if not os.path.exists("/dev/full"):
            pytest.skip("this system has no /dev/full")
        log = g.JsonlAudit("/dev/full", fsync="never")
        refund, refund_async, _, ran = tools(g.Governor(POLICY, audit=log))
        with pytest.raises(
            g.AuditError, match=r"'refund' did not run: audit sink .* No space left on device"
        ):
            refund("A-1", 5.0)
        with pytest.raises(g.AuditError):
            asyncio.run(refund_async("A-2", 5.0))
        assert ran == []
        log.close()

    def test_unwritable_place_is_an_error_at_once(self, tmp_path: Path) -> None:
        """A log that cannot be opened is a ConfigurationError when the sink is made."""
        with pytest.raises(g.ConfigurationError, match="cannot open audit log"):
            g.JsonlAudit(tmp_path / "missing-dir" / "audit.jsonl")

    def test_closed_log_stops_the_call(self, tmp_path: Path) -> None:
        """Writing to a closed log fails, so the call does not run."""
        log = g.JsonlAudit(tmp_path / "a.jsonl")
        log.close()
        refund, _, _, ran = tools(g.Governor(POLICY, audit=log))
        with pytest.raises(g.AuditError, match="is closed"):
            refund("A-1", 5.0)
        assert ran == []

    def test_allow_opt_out_is_recorded_by_the_others(self, caplog: pytest.LogCaptureFixture) -> None:
        """With ``on_audit_error="allow"`` the call runs and the other sinks record the failure."""
        if not os.path.exists("/dev/full"):
            pytest.skip("this system has no /dev/full")
        memory = g.MemoryAudit()
        log = g.JsonlAudit("/dev/full", fsync="never")
        refund, _, _, ran = tools(g.Governor(POLICY, audit=[log, memory], on_audit_error="allow"))
        assert refund("A-1", 5.0) == "ok"
        assert ran == [("A-1", 5.0)]
        kinds = [(r.kind, r.outcome) for r in memory.records]
        assert kinds == [("call", g.Outcome.STARTED), ("audit_error", None), ("call", g.Outcome.RETURNED)]
        error = memory.records[1]
        assert error.call_id == memory.records[0].call_id and error.action == "refund"
        assert "No space left on device" in error.reason and "on_audit_error='allow'" in error.reason
        assert any("on_audit_error='allow'" in r.getMessage() for r in caplog.records)
        log.close()

    def test_opt_out_is_checked(self) -> None:
        """Only 'deny' and 'allow' are accepted."""
        with pytest.raises(g.ConfigurationError, match="on_audit_error"):
            g.Governor(POLICY, on_audit_error="ignore")  # type: ignore[arg-type]

    def test_async_sinks_are_refused(self) -> None:
        """An async sink would record after the tool ran (or never): refused when configured."""

        async def sink(record: g.AuditRecord) -> None: ...

        class Sink:
            async def __call__(self, record: g.AuditRecord) -> None: ...

        for bad in (sink, Sink()):
            with pytest.raises(g.ConfigurationError, match="is async"):
                g.Governor(POLICY, audit=bad)  # type: ignore[arg-type]

    def test_a_sink_returning_an_awaitable_has_not_recorded(self) -> None:
        """A sink that hands back a coroutine stops the call, without a 'never awaited' warning."""

        async def later(record: g.AuditRecord) -> None: ...

        refund, _, _, ran = tools(g.Governor(POLICY, audit=lambda record: later(record)))
        with pytest.raises(g.AuditError, match="returned an awaitable"):
            refund("A-1", 5.0)
        assert ran == []

    def test_interrupted_recording_is_retracted(self) -> None:
        """Ctrl-C inside the second sink: the first sink learns the tool did not run."""
        first = g.MemoryAudit()

        def second(record: g.AuditRecord) -> None:
            raise KeyboardInterrupt

        refund, _, _, ran = tools(g.Governor(POLICY, audit=[first, second]))
        with pytest.raises(KeyboardInterrupt):
            refund("A-1", 5.0)
        assert ran == []
        assert [r.outcome for r in first.records] == [g.Outcome.STARTED, g.Outcome.NOT_RUN]
        assert "recording interrupted (KeyboardInterrupt)" in first.records[1].reason
