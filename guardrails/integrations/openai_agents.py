"""OpenAI Agents SDK: denials the model can read.

    from agents import function_tool
    from guardrails.integrations import openai_agents as goa

    @function_tool(failure_error_function=goa.failure_error_function)  # outermost
    @g.governed(governor=gov)  # guardrails' under it: the schema stays the function's
    def refund(order_id: str, amount: float) -> str: ...

``failure_error_function`` turns a denial into the text the model reads as
the tool's result (the reason, never a stack trace); any other error gets the
SDK's usual message.
"""

from __future__ import annotations

from typing import Any

from guardrails.errors import ActionDenied, ApprovalPending, GovernanceError
from guardrails.integrations import reason

__all__ = ["failure_error_function"]


def failure_error_function(ctx: Any, error: Exception) -> str:
    """``function_tool(failure_error_function=...)``: what the model reads when the call failed."""
    if isinstance(error, ActionDenied):
        return f"Not done: {reason(error)}"
    if isinstance(error, ApprovalPending):
        return f"Waiting for a person to approve (request {error.request.id}); try again later."
    if isinstance(error, GovernanceError):
        return f"Not done: {error}"
    return f"An error occurred while running the tool. Please try again. Error: {error}"
