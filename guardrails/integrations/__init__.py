"""Helpers for agent frameworks; each module imports its framework only when used.

- ``guardrails.integrations.langchain``: LangChain tools and LangGraph's ``ToolNode``.
- ``guardrails.integrations.pydantic_ai``: Pydantic AI toolsets and deferred tools.
- ``guardrails.integrations.mcp``: MCP servers (the ``mcp`` SDK, 2.x and 1.x).
- ``guardrails.integrations.fastmcp``: FastMCP servers (the ``fastmcp`` package).
- ``guardrails.integrations.openai_agents``: the OpenAI Agents SDK.
- ``guardrails.integrations.crewai``: CrewAI tools.
"""

from __future__ import annotations

from typing import Any

from guardrails.approvals import ApprovalRequest
from guardrails.errors import ActionDenied
from guardrails.redaction import Redaction

__all__ = ["payload", "reason"]

_DEFAULT = Redaction()


def payload(request: ApprovalRequest) -> dict[str, Any]:
    """What a framework's pause shows a person: the call as the audit trail shows it
    (secrets redacted, by the policy's redaction), the rule and reason, and the
    ``digest`` an answer must echo."""
    view = (request.redaction or _DEFAULT).view(request.args, request.context)
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
    return (denial.redaction or _DEFAULT).view(call.args, call.context).scrub(denial.decision.reason)
