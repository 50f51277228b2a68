"""A Pydantic AI agent whose refunds are governed: one runs, one is refused (the
model reads why), one waits for a person through deferred tools and runs once
approved. No LLM, no network: a FunctionModel asks for the calls a model would.

Needs Pydantic AI: ``pip install 'runtime-guardrails[pydantic-ai]'``.

    python examples/integrations/pydantic_ai_refunds.py
"""

from __future__ import annotations

import asyncio
from typing import Any

try:
    from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults, FunctionToolset
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel
except ModuleNotFoundError as missing:
    raise SystemExit(
        f"This example needs Pydantic AI: pip install 'runtime-guardrails[pydantic-ai]' ({missing})"
    ) from None

import guardrails as g
from guardrails.integrations import pydantic_ai as gpa

policy = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
        g.deny("refund", when=g.arg("amount") > 2000, id="cap", reason="never more than 2000"),
    ]
)
gov = g.Governor(policy, on_deny=gpa.tool_failed, approver=gpa.DeferredToolsApprover())
tools = FunctionToolset()


@tools.tool_plain
@g.governed("refund", governor=gov)
def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount:.2f} on {order_id}"


CALLS = [("A-1", 40), ("A-2", 5000), ("A-3", 300)]


def scripted(messages: list[Any], info: AgentInfo) -> ModelResponse:
    """One refund per turn, as the queue says; then done."""
    asked = sum(isinstance(p, ToolCallPart) for m in messages for p in getattr(m, "parts", ()))
    if asked < len(CALLS):
        order, amount = CALLS[asked]
        call = ToolCallPart("refund", {"order_id": order, "amount": amount}, tool_call_id=f"call-{order}")
        return ModelResponse(parts=[call])
    return ModelResponse(parts=[TextPart("All done.")])


async def main() -> None:
    agent = Agent(
        FunctionModel(scripted),
        toolsets=[gpa.GovernedToolset(tools)],
        output_type=[str, DeferredToolRequests],
    )
    result = await agent.run("Please process today's refunds.")
    if isinstance(result.output, DeferredToolRequests):
        approvals, answers = {}, {}
        for call in result.output.approvals:
            ask = result.output.metadata[call.tool_call_id]
            print(f"waiting: {ask['action']}({ask['args']}) needs approval - {ask['reason']}")
            print("  the finance desk approves")
            approvals[call.tool_call_id] = True
            # the answer names what was shown: the request's digest
            answers[call.tool_call_id] = {"digest": ask["digest"], "by": "finance-desk"}
        result = await agent.run(
            message_history=result.all_messages(),
            deferred_tool_results=DeferredToolResults(approvals=approvals, metadata=answers),
        )
    for message in result.all_messages():
        for part in message.parts:
            if isinstance(part, ToolReturnPart):
                print(f"tool said: {part.content}")


if __name__ == "__main__":
    asyncio.run(main())
