"""Helpers for agent frameworks; each module imports its framework only when used.

- ``guardrails.integrations.langchain``: LangChain tools and LangGraph's ``ToolNode``.
- ``guardrails.integrations.pydantic_ai``: Pydantic AI toolsets and deferred tools.
- ``guardrails.integrations.mcp``: MCP servers (the ``mcp`` SDK, 2.x and 1.x).
- ``guardrails.integrations.fastmcp``: FastMCP servers (the ``fastmcp`` package).
- ``guardrails.integrations.openai_agents``: the OpenAI Agents SDK.
- ``guardrails.integrations.crewai``: CrewAI tools.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from guardrails.approvals.request import ApprovalRequest
from guardrails.policy.decision import ActionDenied
from guardrails.policy.redaction import Redaction
from guardrails.policy.view import AuditView
from guardrails.runtime.decorator import spec_of

__all__ = ["Identity", "called", "not_governed", "payload", "reason"]

#: Who is calling, read from a framework's run context: ``context`` values
#: such as ``{"user": ..., "session": ...}``.
Identity = Callable[[Any], Mapping[str, Any]]

_DEFAULT = Redaction()


def called(identity: Identity | None, run: Any, tool_call_id: Any) -> dict[str, Any]:
    """The ``context`` values of one tool call: who is calling (``identity(run)``)
    and the framework's id of the call."""
    values = dict(identity(run)) if identity is not None else {}
    values["tool_call_id"] = tool_call_id
    return values


def not_governed(function: Any, name: str, where: str, opt_out: str) -> str | None:
    """Why a tool registered with ``function`` must not run: the function is not
    ``@governed`` — a decorator that registers it and returns it unchanged, put
    under ``@governed``, leaves it bare. None when it is governed, or when there
    is no function of its own (a proxied or mounted tool: nothing to wrap)."""
    if function is None or spec_of(function) is not None:
        return None
    return (
        f"the tool {name!r} is not governed: put the framework's decorator outermost and @g.governed "
        f"under it, next to the function (a @governed above it governs nothing {where}), or {opt_out}"
    )


def payload(request: ApprovalRequest) -> dict[str, Any]:
    """What a framework's pause shows a person: the call as the audit trail shows it
    (secrets redacted, by the policy's redaction), the rule and reason, and the
    ``digest`` an answer must echo."""
    view = AuditView(request.redaction or _DEFAULT, request.args, request.context)
    return {
        "action": request.action,
        "args": dict(view.args),
        "rule_id": request.rule_id,
        "reason": view.scrub(request.reason),
        "request_id": request.id,
        "digest": request.digest,
    }


def reason(denial: ActionDenied) -> str:
    """The denial's reason for the model to read, with secret-looking values taken out."""
    call = denial.call
    return AuditView(denial.redaction or _DEFAULT, call.args, call.context).scrub(denial.decision.reason)
