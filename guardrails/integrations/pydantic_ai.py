"""Pydantic AI: denials the model can read, the tool-call id in the context,
approvals through Pydantic AI's deferred tools.

    from pydantic_ai import Agent, FunctionToolset
    from guardrails.integrations import pydantic_ai as gpa

    gov = g.Governor(policy, on_deny=gpa.tool_failed, approver=gpa.DeferredToolsApprover())
    tools = FunctionToolset()

    @tools.tool_plain          # the framework's decorator outermost
    @g.governed(governor=gov)  # guardrails' under it: the schema stays the function's
    def refund(order_id: str, amount: float) -> str: ...

    agent = Agent(model, toolsets=[gpa.GovernedToolset(tools)],
                  output_type=[str, DeferredToolRequests])

``tool_failed`` raises ``ToolFailed`` with the denial's reason: the model
reads it as the tool's answer. ``GovernedToolset`` runs each call inside
``context(tool_call_id=..., pydantic_ai_approved=...)``. ``DeferredToolsApprover``
raises ``ApprovalRequired`` (with the request in its metadata): the run ends
with ``DeferredToolRequests``; a person decides; the next run, given
``DeferredToolResults(approvals={tool_call_id: True | ToolApproved(...) | ToolDenied(...)})``,
calls the tool again and it runs — a denial never reaches the tool.
"""

from __future__ import annotations

from typing import Any, NoReturn

from guardrails.approvals import PASS_THROUGH, ApprovalRequest, ApprovalResponse
from guardrails.context import context
from guardrails.errors import ActionDenied

__all__ = ["APPROVED", "DeferredToolsApprover", "GovernedToolset", "tool_failed"]

#: The context key under which ``GovernedToolset`` passes Pydantic AI's approval of a call.
APPROVED = "pydantic_ai_approved"


def tool_failed(denial: ActionDenied) -> NoReturn:
    """An ``on_deny`` hook: raise ``ToolFailed`` with the reason the model should read."""
    from pydantic_ai import ToolFailed

    raise ToolFailed(f"Not done: {denial.decision.reason}") from None


def GovernedToolset(toolset: Any) -> Any:  # noqa: N802 - it makes an instance of a class built on first use
    """Wrap a toolset so each call runs with its tool-call id and approval in the context."""
    return _toolset_class()(toolset)


_CLASS: list[type] = []


def _toolset_class() -> type:
    if not _CLASS:
        from pydantic_ai import WrapperToolset

        class Governed(WrapperToolset):
            """Runs each tool call inside ``context(tool_call_id=..., pydantic_ai_approved=...)``."""

            async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
                approved = _Approved(dict(tool_args)) if ctx.tool_call_approved else None
                async with context(tool_call_id=ctx.tool_call_id, **{APPROVED: approved}):
                    return await super().call_tool(name, tool_args, ctx, tool)

        _CLASS.append(Governed)
    return _CLASS[0]


class _Approved:
    """Pydantic AI's word that a person approved one tool call with these arguments.

    Made only by ``GovernedToolset`` (``context(pydantic_ai_approved=True)`` is not
    it), and used once: a call the tool makes in turn is not approved by it.
    """

    __slots__ = ("args", "used")

    def __init__(self, args: dict[str, Any]) -> None:
        self.args = args
        self.used = False

    def covers(self, request: ApprovalRequest) -> bool:
        if self.used or any(request.args.get(k, _MISSING) != v for k, v in self.args.items()):
            return False
        self.used = True
        return True


_MISSING = object()


class DeferredToolsApprover:
    """Hands approval to Pydantic AI's deferred tools: approved when Pydantic AI says
    a person approved this tool call, else ``ApprovalRequired`` ends the run with the
    request (action, arguments, rule, reason, request id) in its metadata."""

    def __init__(self) -> None:
        from pydantic_ai import ApprovalRequired

        PASS_THROUGH.add(ApprovalRequired)  # a pause, not an approver that failed

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        approved = request.context.get(APPROVED)
        if isinstance(approved, _Approved) and approved.covers(request):
            return ApprovalResponse(True, by="pydantic-ai deferred approval")
        from pydantic_ai import ApprovalRequired

        raise ApprovalRequired(
            metadata={
                "action": request.action,
                "args": dict(request.args),
                "rule_id": request.rule_id,
                "reason": request.reason,
                "request_id": request.id,
            }
        )

    def __repr__(self) -> str:
        return "DeferredToolsApprover()"
