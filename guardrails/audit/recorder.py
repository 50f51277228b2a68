"""Writing a call's records to the audit sinks, and what a failing sink means.

Before the tool runs, a sink that fails stops the call (``AuditError``), unless
the governor was configured with ``on_audit_error="allow"``: then the call goes
ahead and the other sinks record that one failed. After the tool has run, a
failing sink is logged, never raised, so the caller still learns what the
tool did (and does not retry it).
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from guardrails._text import brief, describe_error
from guardrails.audit.records import (
    AuditApproval,
    AuditRecord,
    AuditSink,
    Outcome,
    default_fields,
    trusted_record,
)
from guardrails.errors import AuditError
from guardrails.policy.view import AuditView

if TYPE_CHECKING:
    from guardrails.call import Call
    from guardrails.policy.decision import Decision
    from guardrails.policy.redaction import Redaction

__all__ = ["OnAuditError", "Recorder", "record_event"]

logger = logging.getLogger("guardrails")

OnAuditError = Literal["deny", "allow"]


#: What a record says of a call's limits: one mapping per counter (rule_id, key, used...).
Limits = Sequence[Mapping[str, Any]]


class Recorder:
    """The records of one call. Arguments are made safe and redacted once, on first use.

    ``approval`` (what the approval step said) and ``limits`` (the counters the
    call used) are given with each record: they change as the call goes on.
    """

    __slots__ = (
        "sinks",
        "on_audit_error",
        "redaction",
        "_view",
        "_view_for",
        "_base_for",
        "_approval_for",
        "_base",
    )

    def __init__(
        self, sinks: tuple[AuditSink, ...], on_audit_error: OnAuditError, redaction: Redaction
    ) -> None:
        self.sinks = sinks
        self.on_audit_error = on_audit_error
        self.redaction = redaction
        self._view: AuditView | None = None
        self._view_for: Call | None = None  # an approver's edit makes another call
        self._base_for: Decision | None = None
        self._approval_for: AuditApproval | None = None
        self._base: dict[str, Any] = {}

    def record(
        self,
        decision: Decision,
        outcome: Outcome | None,
        *,
        denied_by: str | None = None,
        approval: AuditApproval | None = None,
        limits: Limits = (),
    ) -> None:
        """Record before the tool runs (or instead of running it)."""
        sinks = self.sinks
        if not sinks:
            return
        record = self.make(decision, outcome, denied_by, approval=approval, limits=limits)
        failed: list[tuple[AuditSink, Exception]] = []
        for i, sink in enumerate(sinks):
            try:
                deliver(sink, record)
            except Exception as exc:
                if self.on_audit_error == "allow":
                    failed.append((sink, exc))
                    continue
                error = AuditError(
                    f"{decision.call.action!r} did not run: audit sink {brief(sink)} failed "
                    f"({describe_error(exc)})"
                )
                self._retract(decision, record, sinks[:i], str(error), approval, limits)
                raise error from exc
            except BaseException as exc:  # Ctrl-C, a cancelled task: the tool will not run either
                why = f"recording interrupted ({describe_error(exc)})"
                self._retract(decision, record, sinks[:i], why, approval, limits)
                raise
        for sink, failure in failed:
            logger.error(
                "audit sink %s failed (%s); the call goes on: on_audit_error='allow'", brief(sink), failure
            )
            record_event(
                tuple(s for s in sinks if all(s is not f for f, _ in failed)),
                "audit_error",
                call_id=record.call_id,
                action=record.action,
                reason=f"audit sink {brief(sink)} failed ({describe_error(failure)}); "
                f"the call went on (on_audit_error='allow')",
            )

    def _retract(
        self,
        decision: Decision,
        started: AuditRecord,
        told: Sequence[AuditSink],
        why: str,
        approval: AuditApproval | None,
        limits: Limits,
    ) -> None:
        """The sinks in ``told`` heard the tool would start: tell them it did not."""
        if started.outcome is Outcome.STARTED and told:
            _deliver(told, self.make(decision, Outcome.NOT_RUN, why, approval=approval, limits=limits))

    def record_after(
        self,
        decision: Decision,
        outcome: Outcome,
        started: float,
        exc: BaseException | None = None,
        *,
        approval: AuditApproval | None = None,
        limits: Limits = (),
    ) -> None:
        """Record what the tool did; failures are logged, not raised."""
        if not self.sinks:
            return
        duration_ms = (time.perf_counter() - started) * 1e3
        extra: dict[str, Any] = {"duration_ms": duration_ms}
        if exc is not None:
            extra.update(error=describe_error(exc), error_type=_type_name(exc))
        _deliver(self.sinks, self.make(decision, outcome, approval=approval, limits=limits, **extra))

    def make(
        self,
        decision: Decision,
        outcome: Outcome | None,
        denied_by: str | None = None,
        *,
        approval: AuditApproval | None = None,
        limits: Limits = (),
        **extra: Any,
    ) -> AuditRecord:
        """The record of ``decision`` (with ``outcome``), redacted by the policy."""
        # What a decision's records share is made once, unless the approval told changed.
        if self._base_for is decision and denied_by is None and self._approval_for == approval:
            base = self._base
        else:
            base = self._fields(decision, denied_by, approval)
            if denied_by is None:
                self._base_for, self._approval_for, self._base = decision, approval, base
        fields = base.copy()
        fields["time"] = datetime.now(timezone.utc)
        fields["outcome"] = outcome
        if limits:
            view = self._view_of(decision)  # a key is made of argument values: redact it like them
            fields["limits"] = tuple({**o, "key": view.scrub(o["key"])} for o in limits)
        if extra:
            error = extra.pop("error", None)
            if error is not None:
                fields["error"] = self._view_of(decision).scrub(error)
            fields.update(extra)
        return trusted_record(fields)

    def _view_of(self, decision: Decision) -> AuditView:
        view, call = self._view, decision.call
        if view is None or self._view_for is not call:
            view = self._view = AuditView(self.redaction, call.args, call.context)
            self._view_for = call
        return view

    def _fields(
        self, decision: Decision, denied_by: str | None, approval: AuditApproval | None
    ) -> dict[str, Any]:
        """What every record of this decision says (made once per decision)."""
        call = decision.call
        view = self._view_of(decision)
        reason = decision.reason if denied_by is None else f"{decision.reason}; {denied_by}"
        fields = default_fields()
        fields.update(
            {
                "call_id": call.call_id,
                "tool_call_id": view.tool_call_id,
                "action": call.action,
                "args": view.args,
                "context": view.context,
                "effect": decision.effect.value if denied_by is None else "deny",
                "decided": decision.decided.value,
                "exact": view.exact,
                "rule_id": decision.rule_id,
                "reason": view.scrub(reason),
                "enforced": decision.enforced,
                "policy_version": decision.version,
                "approval": _scrubbed(approval, view),
            }
        )
        return fields


def _scrubbed(approval: AuditApproval | None, view: AuditView) -> AuditApproval | None:
    """The approval as recorded: the person's reason scrubbed like every message."""
    if approval is None or approval.reason is None:
        return approval
    return approval.model_copy(update={"reason": view.scrub(approval.reason)})


def record_event(sinks: Sequence[AuditSink], kind: str, **fields: Any) -> None:
    """Record something that happened to the governor (policy loaded, block...).

    It has happened already, so a failing sink is logged, not raised.
    """
    if sinks:
        _deliver(sinks, AuditRecord(time=datetime.now(timezone.utc), kind=kind, **fields))


def deliver(sink: AuditSink, record: AuditRecord) -> None:
    """Hand ``record`` to ``sink``; a sink that returns an awaitable did not record it."""
    result: Any = sink(record)  # type: ignore[func-returns-value]
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if close is not None:
            close()  # no "never awaited" warning: the error says it all
        raise AuditError(
            f"audit sink {brief(sink)} returned an awaitable; sinks must record before returning"
        )


def _deliver(sinks: Sequence[AuditSink], record: AuditRecord) -> None:
    for sink in sinks:
        try:
            deliver(sink, record)
        except Exception:
            what = (
                f"the outcome ({record.outcome}) of call {record.call_id}"
                if record.kind == "call"
                else f"the {record.kind} event"
            )
            logger.exception("audit sink %s failed to record %s", brief(sink), what)


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    module = kind.__module__
    return kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"
