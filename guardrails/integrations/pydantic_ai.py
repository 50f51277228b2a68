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
``context(tool_call_id=...)`` (plus what ``identity=`` reads from the run
context, e.g. ``lambda ctx: {"user": ctx.deps.user_id}``), passing Pydantic
AI's approval of it on. ``DeferredToolsApprover``
raises ``ApprovalRequired`` (with the request in its metadata): the run ends
with ``DeferredToolRequests``; a person decides; the next run, given
``DeferredToolResults(approvals={tool_call_id: True}, metadata={tool_call_id:
{"digest": <the request's digest>, "by": "dana"}})``, calls the tool again and it
runs — only if the answer names the digest of the arguments the person saw
(the message history can be edited between runs). A ``ToolDenied`` never
reaches the tool.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any, NoReturn

from guardrails.approvals.request import ApprovalRequest, ApprovalResponse, PauseRun
from guardrails.call_context import context
from guardrails.errors import ConfigurationError
from guardrails.integrations import Identity, called, not_governed, payload, reason
from guardrails.policy.decision import ActionDenied
from guardrails.runtime.decorator import spec_of
from guardrails.state.store import Store

__all__ = ["DeferredToolsApprover", "GovernedToolset", "tool_failed"]

# Pydantic AI's approval of the tool call under way, set by GovernedToolset. Kept
# out of guardrails.context: nothing the host or a tool writes there can approve,
# and it does not change the digest of the call.
_APPROVAL: ContextVar[_Approved | None] = ContextVar("guardrails_pydantic_ai_approval", default=None)


def tool_failed(denial: ActionDenied) -> NoReturn:
    """An ``on_deny`` hook: raise ``ToolFailed`` with the reason the model should read."""
    from pydantic_ai import ToolFailed

    raise ToolFailed(f"Not done: {reason(denial)}") from None


def GovernedToolset(  # noqa: N802 - it makes an instance of a class built on first use
    toolset: Any, *, identity: Identity | None = None, allow_ungoverned: bool = False
) -> Any:
    """Wrap a toolset so each call runs with its tool-call id, Pydantic AI's approval
    of it and ``identity`` — a function of the ``RunContext`` returning ``context``
    values, e.g. ``lambda ctx: {"user": ctx.deps.user_id}`` — in the context.

    A call to a function tool that is not ``@governed`` raises
    ``ConfigurationError`` (the tool does not run) unless
    ``allow_ungoverned=True``: ``tool_plain`` returns the function it registers,
    so ``@governed`` put above it governs nothing the agent calls.
    """
    return _toolset_class()(toolset, identity, allow_ungoverned)


_CLASS: list[type] = []


def _toolset_class() -> type:
    if not _CLASS:
        from dataclasses import dataclass

        from pydantic_ai import WrapperToolset

        @dataclass
        class Governed(WrapperToolset):
            """Runs each tool call inside ``context(tool_call_id=..., **identity(ctx))``,
            with Pydantic AI's approval of it."""

            identity: Identity | None = None  # fields: Pydantic AI copies toolsets per run
            allow_ungoverned: bool = False

            async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
                if not self.allow_ungoverned:
                    _refuse_ungoverned(name, tool)
                approved = (
                    _Approved(dict(tool_args), ctx.tool_call_metadata, ctx.tool_call_id, _store_of(tool))
                    if ctx.tool_call_approved
                    else None
                )
                token = _APPROVAL.set(approved)
                try:
                    async with context(**called(self.identity, ctx, ctx.tool_call_id)):
                        return await super().call_tool(name, tool_args, ctx, tool)
                finally:
                    _APPROVAL.reset(token)

        _CLASS.append(Governed)
    return _CLASS[0]


def _function_of(tool: Any) -> Any:
    # A function tool keeps its function on its schema; other tools (MCP servers,
    # other toolsets) have none of their own for @governed to wrap.
    schema = getattr(getattr(tool, "call_func", None), "__self__", None)
    return getattr(schema, "function", None)


def _store_of(tool: Any) -> Store | None:
    """The store of the governor of a governed function tool (where approvals are kept)."""
    spec = spec_of(_function_of(tool))
    return None if spec is None else spec.governor.setup.store


def _refuse_ungoverned(name: str, tool: Any) -> None:
    why = not_governed(
        _function_of(tool), name, "the agent calls", "GovernedToolset(..., allow_ungoverned=True)"
    )
    if why is not None:
        raise ConfigurationError(why)


class _Approved:
    """Pydantic AI's word that a person approved one tool call with these arguments.

    Made only by ``GovernedToolset`` (nothing in ``guardrails.context`` is it), and
    used once: a call the tool makes in turn is not approved by it.
    """

    __slots__ = ("args", "metadata", "call_id", "store", "used")

    def __init__(self, args: dict[str, Any], metadata: Any, call_id: str, store: Store | None) -> None:
        self.args = args
        self.metadata = metadata if isinstance(metadata, dict) else {}
        self.call_id = call_id
        self.store = store
        self.used = False

    def covers(self, request: ApprovalRequest) -> bool:
        """Whether it approves ``request``: the person's answer names its digest (the
        arguments they saw), the call's arguments are the ones approved, and this
        answer was never used before — a history and answer sent again (a retry,
        a replayed request) run nothing a second time."""
        if self.used or self.metadata.get("digest") != request.digest:
            return False
        if any(request.args.get(k, _MISSING) != v for k, v in self.args.items()):
            return False
        self.used = True
        if self.store is None:
            return False  # nowhere to mark it used: not approved
        key = "pydantic_ai:approved:" + json.dumps([request.digest, self.call_id])
        try:
            return self.store.swap(key, None, "used", USED_KEPT)
        except Exception:  # noqa: BLE001 - cannot tell it is the first use: not approved
            return False

    @property
    def by(self) -> str:
        by = self.metadata.get("by")
        return by if isinstance(by, str) and by else "pydantic-ai deferred approval"


_MISSING = object()
#: How long a used approval is remembered, so that sending it again approves nothing.
USED_KEPT = 30 * 86_400.0


class DeferredToolsApprover:
    """Hands approval to Pydantic AI's deferred tools: approved when Pydantic AI says
    a person approved this tool call, else ``ApprovalRequired`` ends the run with the
    request (action, arguments, rule, reason, request id) in its metadata."""

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        approved = _APPROVAL.get()
        if approved is not None and approved.covers(request):
            return ApprovalResponse(True, by=approved.by)
        from pydantic_ai import ApprovalRequired

        # Pydantic AI ends the run with the request: a pause, not an approver that failed.
        raise PauseRun(ApprovalRequired(metadata=payload(request)))

    def __repr__(self) -> str:
        return "DeferredToolsApprover()"
