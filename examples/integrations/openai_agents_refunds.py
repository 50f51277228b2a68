"""An OpenAI Agents SDK agent whose refunds are governed: one runs, one is refused
(the model reads why), one interrupts the run for a person and runs once
approved. No LLM, no network: a scripted model asks for the calls a model would.

Needs the OpenAI Agents SDK: ``pip install 'runtime-guardrails[openai-agents]'``.

    python examples/integrations/openai_agents_refunds.py
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

try:
    from agents import Agent, ModelResponse, Runner, Usage, set_tracing_disabled
    from agents.items import ToolCallOutputItem
    from agents.models.interface import Model
    from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText
except ModuleNotFoundError as missing:
    raise SystemExit(
        f"This example needs the OpenAI Agents SDK: pip install 'runtime-guardrails[openai-agents]' ({missing})"
    ) from None

import guardrails as g
from guardrails.integrations import openai_agents as goa

policy = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
        g.deny("refund", when=g.arg("amount") > 2000, id="cap", reason="never more than 2000"),
    ]
)
audit = g.MemoryAudit()
gov = g.Governor(policy, approver=goa.RunApprover(), audit=audit)


@goa.function_tool(identity=lambda run: {"user": run.context["user"]})
@g.governed("refund", governor=gov)
def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount:.2f} on {order_id}"


class ScriptedModel(Model):
    """Asks for one tool call per turn from its script, then answers with text."""

    def __init__(self, calls: list[tuple[str, dict[str, Any]]]) -> None:
        self.calls = calls

    async def get_response(
        self,
        system_instructions: Any,
        input: Any,  # noqa: A002 - the SDK passes it by this name
        *args: Any,
        **kwargs: Any,
    ) -> ModelResponse:
        answered = sum(
            1 for item in input if isinstance(item, dict) and item.get("type") == "function_call_output"
        )
        if answered < len(self.calls):
            name, arguments = self.calls[answered]
            call = ResponseFunctionToolCall(
                type="function_call", name=name, arguments=json.dumps(arguments), call_id=f"call-{answered}"
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        text = ResponseOutputText(type="output_text", text="All done.", annotations=[])
        message = ResponseOutputMessage(
            type="message", id="done", role="assistant", status="completed", content=[text]
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the scripted model does not stream")


async def main() -> None:
    set_tracing_disabled(True)  # offline: nothing to export traces to
    calls = [
        ("refund", {"order_id": order, "amount": amount})
        for order, amount in [("A-1", 40), ("A-2", 5000), ("A-3", 300)]
    ]
    agent = Agent(name="refunds", model=ScriptedModel(calls), tools=[refund])
    result = await Runner.run(agent, "Please process today's refunds.", context={"user": "sam"})
    while result.interruptions:
        state = result.to_state()
        for item in result.interruptions:
            why = gov.check(item.tool_name or "", json.loads(item.arguments or "{}"), {"user": "sam"}).reason
            print(f"waiting: {item.tool_name}({item.arguments}) needs approval - {why}")
            print("  the finance desk approves")
            state.approve(item)
        result = await Runner.run(agent, state)
    for item in result.new_items:
        if isinstance(item, ToolCallOutputItem):
            print(f"tool said: {item.output}")
    for record in audit.records:
        if record.kind == "call" and record.outcome is not g.Outcome.STARTED:
            approval = record.approval.status if record.approval else "-"
            print(
                f"audit: {record.action} {record.outcome.value} by {record.context.get('user')}, approval {approval}"
            )


if __name__ == "__main__":
    asyncio.run(main())
