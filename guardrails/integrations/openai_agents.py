"""OpenAI Agents SDK: denials the model can read, the caller and tool-call id in
the context, approvals through the SDK's ``needs_approval`` interruptions.

    from guardrails.integrations import openai_agents as goa

    gov = g.Governor(policy, approver=goa.RunApprover())

    @goa.function_tool(identity=lambda run: {"user": run.context.user_id})  # outermost
    @g.governed(governor=gov)  # guardrails' under it: the schema stays the function's
    def refund(order_id: str, amount: float) -> str: ...

``goa.function_tool`` is the SDK's ``function_tool`` (same options) with three
things added: ``needs_approval`` asks the policy, so a call a rule sends for
approval interrupts the run (``result.interruptions``) before it runs; each
call runs inside ``context(tool_call_id=..., **identity(run_context))``; and
the SDK's approval of that call (``state.approve(item)``) reaches
``RunApprover``, which approves only the call the person approved, with the
arguments they saw, once. A call the SDK did not approve is refused, never run.

``failure_error_function`` (the default of ``goa.function_tool``) turns a
denial into the text the model reads as the tool's result (the reason, never a
stack trace); any other error gets the SDK's usual message. With the SDK's own
``function_tool`` pass it yourself:
``function_tool(failure_error_function=goa.failure_error_function)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from guardrails.approvals.request import ApprovalPending, ApprovalRequest, ApprovalResponse
from guardrails.call_context import context, current_context
from guardrails.errors import ConfigurationError, GovernanceError
from guardrails.integrations import Identity, called, reason
from guardrails.policy.decision import ActionDenied
from guardrails.policy.rules import Effect
from guardrails.runtime.decorator import spec_of

__all__ = ["RunApprover", "failure_error_function", "function_tool"]

# The SDK's approval of the tool call under way, set by the wrapper
# ``function_tool`` puts around the tool's invocation. Kept out of
# guardrails.context: nothing the host or a tool writes there can approve.
_APPROVAL: ContextVar[_Approved | None] = ContextVar("guardrails_openai_agents_approval", default=None)


def failure_error_function(ctx: Any, error: Exception) -> str:
    """``function_tool(failure_error_function=...)``: what the model reads when the call failed."""
    if isinstance(error, ActionDenied):
        return f"Not done: {reason(error)}"
    if isinstance(error, ApprovalPending):
        return f"Waiting for a person to approve (request {error.request.id}); try again later."
    if isinstance(error, GovernanceError):
        return f"Not done: {error}"
    return f"An error occurred while running the tool. Please try again. Error: {error}"


def function_tool(func: Any = None, /, *, identity: Identity | None = None, **options: Any) -> Any:
    """The SDK's ``function_tool`` for a ``@governed`` function, with approvals
    asked of the policy (``needs_approval``), the tool-call id and ``identity``
    in the context, and ``failure_error_function`` by default.

    Use bare (``@goa.function_tool``) or with the SDK's options and ``identity``
    (a function of the SDK's run context returning ``context`` values, such as
    ``{"user": ..., "session": ...}``).
    """
    if func is None:
        return lambda f: function_tool(f, identity=identity, **options)
    spec = spec_of(func)
    if spec is None:
        raise ConfigurationError(
            f"goa.function_tool takes a @governed function, got {func!r}: put @governed under it"
        )
    if "needs_approval" in options:
        raise ConfigurationError(
            "goa.function_tool asks the policy whether a call needs approval; "
            "say it in the policy (require_approval) rather than needs_approval="
        )
    from agents import function_tool as sdk_function_tool

    options.setdefault("failure_error_function", failure_error_function)
    governor, action = spec.governor, spec.action

    def bound(arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments as the governed call will see them (defaults filled in)."""
        result: dict[str, Any] = spec.binder.bind_function(**arguments)
        return result

    async def needs_approval(run: Any, params: dict[str, Any], call_id: str) -> bool:
        try:
            # as the call will run: in the caller's context, with identity and id added
            decision = governor.check(
                action, bound(params), {**current_context(), **called(identity, run, call_id)}
            )
        except Exception:  # noqa: BLE001 - judged again, and refused, when it runs
            # The call itself is judged again when it runs, and fails closed there
            # with its own reason; a pause would only ask a person about an error.
            return False
        return decision.effect is Effect.REQUIRE_APPROVAL

    tool = sdk_function_tool(func, needs_approval=needs_approval, **options)
    invoke = tool.on_invoke_tool

    async def on_invoke_tool(ctx: Any, arguments: str) -> Any:
        approved = ctx.is_tool_approved(ctx.tool_name, ctx.tool_call_id) is True
        token = _APPROVAL.set(_Approved.of(action, arguments, bound) if approved else None)
        try:
            async with context(**called(identity, ctx, ctx.tool_call_id)):
                return await invoke(ctx, arguments)
        finally:
            _APPROVAL.reset(token)

    tool.on_invoke_tool = on_invoke_tool
    return tool


class _Approved:
    """The SDK's word that a person approved one call: this action with these
    arguments (defaults filled in). Used once, so a call the tool makes in turn,
    even the same one, is not approved by it."""

    __slots__ = ("action", "args", "used")

    def __init__(self, action: str, args: dict[str, Any] | None) -> None:
        self.action = action
        self.args = args
        self.used = False

    @classmethod
    def of(
        cls, action: str, arguments: str, bound: Callable[[Mapping[str, Any]], dict[str, Any]]
    ) -> _Approved:
        try:
            parsed = json.loads(arguments) if arguments else {}
            args = bound(parsed) if isinstance(parsed, dict) else None
        except (ValueError, TypeError):
            args = None  # arguments the tool cannot take: nothing to approve
        return cls(action, args)

    def covers(self, request: ApprovalRequest) -> bool:
        if self.used or self.args is None or request.action != self.action:
            return False
        if set(request.args) != set(self.args) or any(request.args[k] != v for k, v in self.args.items()):
            return False
        self.used = True
        return True


class RunApprover:
    """Approves a call when the SDK says a person approved it (``state.approve``
    on the run's interruption, or ``always_approve`` for the tool), with the
    arguments the person saw, once. Anything else is refused and the tool does
    not run: a call only reaches it unapproved when the policy's answer changed
    between the SDK's question and the call (a limit filled meanwhile), or when
    the tool was not made with ``goa.function_tool``."""

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        approved = _APPROVAL.get()
        if approved is not None and approved.covers(request):
            return ApprovalResponse(True, by="openai-agents run approval")
        return ApprovalResponse(
            False,
            reason="not approved through the run's interruptions (make the tool with goa.function_tool)",
        )

    def __repr__(self) -> str:
        return "RunApprover()"
