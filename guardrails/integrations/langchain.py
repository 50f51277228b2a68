"""LangChain and LangGraph: denials the model can read, the tool-call id in the
context, approvals through LangGraph's ``interrupt()``.

    from guardrails.integrations import langchain as glc

    gov = g.Governor(policy, on_deny=glc.tool_error, approver=glc.InterruptApprover())

    @tool                      # the framework's decorator outermost
    @g.governed(governor=gov)  # guardrails' under it: the schema stays the function's
    def refund(order_id: str, amount: float) -> str: ...

    ToolNode([refund], handle_tool_errors=True,
             wrap_tool_call=glc.wrap_tool_call, awrap_tool_call=glc.awrap_tool_call)

LangGraph runs a paused node again on resume: a call of that node that already
ran before the pause runs again (limits count it once). Give calls that may
need approval a step of their own (one tool call per model turn), or make the
tools idempotent.

``tool_error`` raises LangChain's ``ToolException`` with the denial's reason:
a tool with ``handle_tool_error=True``, or a ``ToolNode`` with
``handle_tool_errors=True``, hands it to the model as the tool's answer. ``wrap_tool_call``
runs each call inside ``context(tool_call_id=...)``, so a call re-run on
resume is counted once by limits and history. ``InterruptApprover`` pauses
the graph with the request; resume with ``Command(resume={"approved": True,
"digest": <the request's digest>, "by": ..., "reason": ..., "args": {...}})``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn

from guardrails.approvals import PASS_THROUGH, ApprovalRequest, ApprovalResponse
from guardrails.context import context
from guardrails.errors import ActionDenied
from guardrails.integrations import payload, reason

__all__ = ["InterruptApprover", "awrap_tool_call", "tool_error", "wrap_tool_call"]


def tool_error(denial: ActionDenied) -> NoReturn:
    """An ``on_deny`` hook: raise ``ToolException`` with the reason the model should read."""
    from langchain_core.tools import ToolException

    raise ToolException(f"Not done: {reason(denial)}") from None


def wrap_tool_call(request: Any, execute: Callable[[Any], Any]) -> Any:
    """``ToolNode(wrap_tool_call=...)``: run the call with its tool-call id in the context."""
    with context(tool_call_id=request.tool_call.get("id")):
        return execute(request)


async def awrap_tool_call(request: Any, execute: Callable[[Any], Awaitable[Any]]) -> Any:
    """``ToolNode(awrap_tool_call=...)``: the same, for async graphs."""
    async with context(tool_call_id=request.tool_call.get("id")):
        return await execute(request)


class InterruptApprover:
    """Asks through LangGraph's ``interrupt()``: the graph pauses with the request
    (action, arguments as the audit trail shows them, rule, reason, request id and
    ``digest``); the value it is resumed with is the answer, and it must echo the
    digest — ``Command(resume={"approved": True, "digest": ..., "by": "dana"})`` —
    so that an answer meant for one call never approves another (LangGraph hands a
    resume value to whichever interrupted call asks first). Anything else refuses.
    The call runs when the graph resumes (its node runs again)."""

    def __init__(self) -> None:
        from langgraph.errors import GraphBubbleUp

        PASS_THROUGH.add(GraphBubbleUp)  # a pause, not an approver that failed

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse | bool:
        from langgraph.types import interrupt

        answer = interrupt(payload(request))
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
