"""LangChain and LangGraph: denials the model can read, the tool-call id in the
context, approvals through LangGraph's ``interrupt()``.

    from guardrails.integrations import langchain as glc

    gov = g.Governor(policy, on_deny=glc.tool_error, approver=glc.InterruptApprover())

    @tool                      # the framework's decorator outermost
    @g.governed(governor=gov)  # guardrails' under it: the schema stays the function's
    def refund(order_id: str, amount: float) -> str: ...

    calls = glc.ToolCalls(identity=lambda rt: {"user": rt.context.user_id})
    ToolNode([refund], handle_tool_errors=True,
             wrap_tool_call=calls.wrap, awrap_tool_call=calls.awrap)

``tool_error`` raises LangChain's ``ToolException`` with the denial's reason:
a tool with ``handle_tool_error=True``, or a ``ToolNode`` with
``handle_tool_errors=True``, hands it to the model as the tool's answer.
``ToolCalls`` runs each call inside ``context(tool_call_id=..., **identity)``
and makes re-runs idempotent: LangGraph runs a paused node again on resume,
and a call of that node that already ran is answered from what it answered
then, not run again (``wrap_tool_call``/``awrap_tool_call`` are
``ToolCalls()`` without identity). ``InterruptApprover`` pauses the graph
with the request; resume with ``Command(resume={"approved": True, "digest":
<the request's digest>, "by": ..., "reason": ..., "args": {...}})``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn

from guardrails._text import describe_error
from guardrails.approvals.request import ApprovalRequest, ApprovalResponse, PauseRun
from guardrails.call_context import context, current_context
from guardrails.errors import ConfigurationError
from guardrails.integrations import Identity, called, payload, reason
from guardrails.policy.decision import ActionDenied
from guardrails.runtime.decorator import spec_of
from guardrails.runtime.governor import get_governor
from guardrails.state.store import Store

__all__ = ["InterruptApprover", "ToolCalls", "awrap_tool_call", "tool_error", "wrap_tool_call"]

_log = logging.getLogger("guardrails.integrations.langchain")


def tool_error(denial: ActionDenied) -> NoReturn:
    """An ``on_deny`` hook: raise ``ToolException`` with the reason the model should read."""
    from langchain_core.tools import ToolException

    raise ToolException(f"Not done: {reason(denial)}") from None


class ToolCalls:
    """``ToolNode(wrap_tool_call=calls.wrap, awrap_tool_call=calls.awrap)``: each
    call runs inside ``context(tool_call_id=..., **identity(runtime))``, and a call
    that already ran is not run again when LangGraph re-runs its node on resume:
    the answer it gave is given back instead.

    ``identity`` reads who is calling from LangGraph's ``ToolRuntime`` (its
    ``context``, ``config``, ``state``), e.g. ``lambda rt: {"user":
    rt.context.user_id, "session": rt.config["configurable"]["thread_id"]}``.
    Answers are kept for ``remember`` seconds in the tool's governor's store (a
    tool that is not itself ``@governed``: in ``store``, else the default
    governor's), keyed by thread and tool-call id and bound to the call's name,
    arguments and caller (the context but its tool-call id); use a
    ``SQLiteStore`` or ``RedisStore`` when a graph may resume in another
    process. Graphs without a ``thread_id`` never resume, and keep nothing. A
    call whose answer cannot be kept (it is not JSON) or looked up is not run
    again either: it answers with an error saying why.
    """

    def __init__(
        self, *, identity: Identity | None = None, remember: float = 86_400.0, store: Store | None = None
    ) -> None:
        if not isinstance(remember, (int, float)) or isinstance(remember, bool) or not remember > 0:
            raise ConfigurationError(f"remember must be a number of seconds above 0, got {remember!r}")
        self.identity = identity
        self.remember = float(remember)
        self.store = store

    def wrap(self, request: Any, execute: Callable[[Any], Any]) -> Any:
        """The sync wrapper (``wrap_tool_call=``)."""
        values = self._context(request)
        ran = _Ran.of(request, values, self.store)
        if ran is not None and (answer := ran.answer()) is not None:
            return answer
        with context(**values):
            result = execute(request)
        if ran is not None:
            ran.keep(result, self.remember)
        return result

    async def awrap(self, request: Any, execute: Callable[[Any], Awaitable[Any]]) -> Any:
        """The async wrapper (``awrap_tool_call=``)."""
        values = self._context(request)
        ran = _Ran.of(request, values, self.store)
        if ran is not None and (answer := ran.answer()) is not None:
            return answer
        async with context(**values):
            result = await execute(request)
        if ran is not None:
            ran.keep(result, self.remember)
        return result

    def _context(self, request: Any) -> dict[str, Any]:
        return called(self.identity, request.runtime, request.tool_call.get("id"))

    def __repr__(self) -> str:
        return f"ToolCalls(identity={self.identity!r}, remember={self.remember!r}, store={self.store!r})"


class _Ran:
    """Where one tool call's answer is kept: keyed by thread and tool-call id, bound
    to the call's name, arguments and caller."""

    __slots__ = ("call", "digest", "key", "store")

    def __init__(self, call: Mapping[str, Any], store: Store, key: str, digest: str) -> None:
        self.call, self.store, self.key, self.digest = call, store, key, digest

    @classmethod
    def of(cls, request: Any, values: Mapping[str, Any], store: Store | None) -> _Ran | None:
        call, tool = request.tool_call, request.tool
        call_id = call.get("id")
        config = getattr(request.runtime, "config", None) or {}
        thread = (config.get("configurable") or {}).get("thread_id")
        if not isinstance(call_id, str) or not call_id or thread is None:
            return None  # no id to know the call again by, or a graph that never resumes
        function = getattr(tool, "func", None) or getattr(tool, "coroutine", None)
        spec = spec_of(function)
        if spec is not None:
            store = spec.governor.setup.store
        elif store is None:
            store = get_governor().setup.store
        caller = {k: v for k, v in {**current_context(), **values}.items() if k != "tool_call_id"}
        key = "langgraph:ran:" + json.dumps([str(thread), call_id])
        what = json.dumps([call.get("name"), call.get("args"), caller], sort_keys=True, default=repr)
        return cls(call, store, key, hashlib.sha256(what.encode()).hexdigest())

    def answer(self) -> Any:
        """The answer this call gave when it ran before, or None if it did not run."""
        from langchain_core.messages import ToolMessage

        try:
            stored = self.store.read(self.key)
        except Exception as exc:  # noqa: BLE001 - becomes the call's answer: not run
            return self._refusal(f"could not check whether it already ran ({describe_error(exc)})")
        if stored is None:
            return None
        try:
            kept = json.loads(stored)
        except ValueError:
            kept = None
        if not isinstance(kept, dict):
            return self._refusal("what it answered before could not be read")
        if kept.get("digest") != self.digest:
            return None  # another call under the same id: judged and run as itself
        if "content" not in kept:
            return self._refusal("it already ran before the graph paused, and its answer could not be kept")
        return ToolMessage(
            content=kept["content"],
            tool_call_id=self.call["id"],
            name=self.call.get("name"),
            status=kept.get("status", "success"),
            artifact=kept.get("artifact"),
        )

    def keep(self, result: Any, ttl: float) -> None:
        """Keep what a call that ran answered (a denial or an error is judged again)."""
        from langchain_core.messages import ToolMessage

        if isinstance(result, ToolMessage) and result.status == "error":
            return
        kept: dict[str, Any] = {"digest": self.digest}
        if isinstance(result, ToolMessage):
            kept.update(content=result.content, status=result.status, artifact=result.artifact)
        try:
            value = json.dumps(kept)
        except (TypeError, ValueError):
            value = json.dumps({"digest": self.digest})
        try:
            self.store.swap(self.key, self.store.read(self.key), value, ttl)
        except Exception:  # noqa: BLE001 - the tool ran: its answer still reaches the model
            _log.warning("could not keep the answer of tool call %s; a re-run would run it again", self.key)

    def _refusal(self, why: str) -> Any:
        from langchain_core.messages import ToolMessage

        return ToolMessage(
            content=f"Not run again: {why}.",
            tool_call_id=self.call["id"],
            name=self.call.get("name"),
            status="error",
        )


_DEFAULT_CALLS = ToolCalls()


def wrap_tool_call(request: Any, execute: Callable[[Any], Any]) -> Any:
    """``ToolNode(wrap_tool_call=...)``: ``ToolCalls().wrap`` (the tool-call id in the
    context; a governed call that already ran is not run again on resume)."""
    return _DEFAULT_CALLS.wrap(request, execute)


async def awrap_tool_call(request: Any, execute: Callable[[Any], Awaitable[Any]]) -> Any:
    """``ToolNode(awrap_tool_call=...)``: the same, for async graphs."""
    return await _DEFAULT_CALLS.awrap(request, execute)


class InterruptApprover:
    """Asks through LangGraph's ``interrupt()``: the graph pauses with the request
    (action, arguments as the audit trail shows them, rule, reason, request id and
    ``digest``); the value it is resumed with is the answer, and it must echo the
    digest — ``Command(resume={"approved": True, "digest": ..., "by": "dana"})`` —
    so that an answer meant for one call never approves another (LangGraph hands a
    resume value to whichever interrupted call asks first). Anything else refuses.
    The call runs when the graph resumes (its node runs again)."""

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse | bool:
        from langgraph.errors import GraphBubbleUp
        from langgraph.types import interrupt

        try:
            answer = interrupt(payload(request))
        except GraphBubbleUp as pause:  # the graph pauses to ask: not an approver that failed
            raise PauseRun(pause) from None
        if not isinstance(answer, Mapping) or answer.get("digest") != request.digest:
            return ApprovalResponse(False, reason="the answer did not name this request's digest")
        return ApprovalResponse(
            answer.get("approved") is True,
            by=answer.get("by") if isinstance(answer.get("by"), str) else None,
            reason=answer.get("reason") if isinstance(answer.get("reason"), str) else None,
            args=answer.get("args") if answer.get("approved") is True else None,
        )

    def __repr__(self) -> str:
        return "InterruptApprover()"
