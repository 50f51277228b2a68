"""``OtelAudit``: an OpenTelemetry span for every governed call (extra ``[otel]``).

The span starts when the call is decided (as a child of whatever span is
current, such as the agent's step) and ends when the tool returns or raises;
a call that did not run gets a span that ends at once. The decision, the
approval and the outcome are span attributes under ``guardrails.*``, plus the
GenAI conventions' ``gen_ai.tool.name`` and ``gen_ai.tool.call.id``. Arguments
are attached as redacted JSON (``guardrails.args``). The span is not made
current while the tool runs, so the tool's own spans are its siblings.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from guardrails._text import json_text
from guardrails.audit.records import AuditRecord, Outcome
from guardrails.errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.trace import Span, TracerProvider

__all__ = ["OtelAudit"]

#: At most this many characters of arguments go on a span.
MAX_ARGS = 4096


class OtelAudit:
    """An audit sink turning records into OpenTelemetry spans.

    ``tracer_provider`` defaults to the global one. ``max_open`` bounds the
    spans of calls still running (the oldest are ended, marked
    ``guardrails.unfinished``, when it is exceeded).
    """

    def __init__(self, tracer_provider: TracerProvider | None = None, *, max_open: int = 10_000) -> None:
        try:
            from opentelemetry import trace
        except ImportError:
            raise ConfigurationError(
                "OtelAudit needs the OpenTelemetry API: pip install 'guardrails[otel]'"
            ) from None
        from guardrails._version import __version__

        self._trace = trace
        self._tracer = trace.get_tracer("guardrails", __version__, tracer_provider)
        self.max_open = max_open
        self._open: OrderedDict[str, Span] = OrderedDict()
        self._shadow: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, record: AuditRecord) -> None:
        if record.kind != "call":
            self._event(record)
            return
        if record.outcome is None:  # what a shadow rule would have decided: joins the call's span
            with self._lock:
                self._shadow[record.call_id] = {
                    "guardrails.shadow.effect": record.effect,
                    "guardrails.shadow.rule_id": record.rule_id,
                    "guardrails.shadow.reason": record.reason,
                }
                _bound(self._shadow, self.max_open)
            return
        with self._lock:
            span = self._open.pop(record.call_id, None)
            shadow = self._shadow.pop(record.call_id, None)
        if span is None:
            span = self._tracer.start_span(f"guardrails {record.action}", start_time=_nanos(record))
        span.set_attributes(_attributes(record))
        if shadow:
            span.set_attributes(shadow)
        if record.outcome is Outcome.STARTED:
            with self._lock:
                self._open[record.call_id] = span
                for stale in _bound(self._open, self.max_open):
                    stale.set_attribute("guardrails.unfinished", True)
                    stale.end()
            return
        if record.outcome is Outcome.RAISED:
            status = self._trace.Status(self._trace.StatusCode.ERROR, record.error or "the tool raised")
            span.set_status(status)
        span.end(end_time=_nanos(record))

    def _event(self, record: AuditRecord) -> None:
        span = self._tracer.start_span(f"guardrails {record.kind}", start_time=_nanos(record))
        span.set_attributes(
            {
                "guardrails.event": record.kind,
                "guardrails.subject": record.action,
                "guardrails.reason": record.reason,
            }
        )
        span.end(end_time=_nanos(record))

    def __repr__(self) -> str:
        return f"<OtelAudit {len(self._open)} open spans>"


def _attributes(record: AuditRecord) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.tool.name": record.action,
        "guardrails.action": record.action,
        "guardrails.call_id": record.call_id,
        "guardrails.effect": record.effect,
        "guardrails.rule_id": record.rule_id,
        "guardrails.reason": record.reason,
        "guardrails.enforced": record.enforced,
        "guardrails.policy_version": record.policy_version,
        "guardrails.outcome": record.outcome.value if record.outcome else "",
        "guardrails.args": _args_json(record.args),
    }
    optional = {
        "gen_ai.tool.call.id": record.tool_call_id,
        "guardrails.tool_call_id": record.tool_call_id,
        "guardrails.session": record.session,
        "guardrails.approved_by": record.approved_by,
        "guardrails.error": record.error,
        "guardrails.error_type": record.error_type,
        "guardrails.duration_ms": record.duration_ms,
    }
    if record.approval is not None:
        optional["guardrails.approved"] = record.approval.approved
    attributes.update((name, value) for name, value in optional.items() if value is not None)
    for name, value in record.context.items():
        if isinstance(value, (str, bool, int, float)):
            attributes[f"guardrails.context.{name}"] = value
    return attributes


def _args_json(args: Any) -> str:
    text = json_text(args)
    return text if len(text) <= MAX_ARGS else text[: MAX_ARGS - 3] + "..."


def _nanos(record: AuditRecord) -> int:
    return int(record.time.timestamp() * 1e9)


def _bound(spans: OrderedDict[str, Any], limit: int) -> list[Any]:
    removed = []
    while len(spans) > limit:
        removed.append(spans.popitem(last=False)[1])
    return removed
