"""A CrewAI crew whose refunds are governed: one runs, one is refused (the model
reads why, and CrewAI does not run it again), one waits for a person and runs once
approved. No LLM, no network: the "model" is a scripted one that asks for the
calls a model would, and reads the tools' answers.

Needs CrewAI: ``pip install 'runtime-guardrails[crewai]'``.

    python examples/integrations/crewai_refunds.py
"""

from __future__ import annotations

import json
import os
from typing import Any

# Before CrewAI is imported: offline, its telemetry holds the process ~10 s at exit,
# and a first run would offer to upload a trace.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

try:
    from crewai import Agent, Crew, Task
    from crewai.llms.base_llm import BaseLLM
    from crewai.tools import tool
except ModuleNotFoundError as missing:
    raise SystemExit(
        f"This example needs CrewAI: pip install 'runtime-guardrails[crewai]' ({missing})"
    ) from None

import guardrails as g
from guardrails.integrations import crewai as gcrew

policy = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
        g.deny("refund", when=g.arg("amount") > 2000, id="cap", reason="never more than 2000"),
    ]
)


def finance_desk(request: g.ApprovalRequest) -> g.ApprovalResponse:
    """Stands in for a person: asked while the tool call waits, before the tool runs."""
    shown = ", ".join(f"{name}={value!r}" for name, value in request.args.items())
    print(f"approval needed: {request.action}({shown}) - {request.reason}")
    print("  the finance desk approves")
    return g.ApprovalResponse(True, by="finance-desk")


gov = g.Governor(policy, on_deny=gcrew.tool_failure, approver=finance_desk)


@tool
@g.governed("refund", governor=gov)
def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount:.2f} on {order_id}"


CALLS = [
    {"order_id": "A-1", "amount": 40},
    {"order_id": "A-2", "amount": 5000},
    {"order_id": "A-3", "amount": 300},
]


class ScriptedModel(BaseLLM):
    """Asks for the next call once the last one answered (one call per turn), with
    native tool calls as a function-calling model would, and prints what it reads."""

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        answers = [m["content"] for m in messages if isinstance(m, dict) and m.get("role") == "tool"]
        if answers:
            print(f"tool said: {answers[-1]}")
        if len(answers) == len(CALLS):
            return "All done."
        call = {"name": "refund", "arguments": json.dumps(CALLS[len(answers)])}
        return [{"id": f"call-{len(answers) + 1}", "type": "function", "function": call}]

    def supports_function_calling(self) -> bool:
        return True

    def get_input_tokens_count(self, *args: Any, **kwargs: Any) -> int:
        return 0  # nothing to count, and no warning that the count is approximate


def main() -> None:
    agent = Agent(
        role="Support agent",
        goal="Process refunds",
        backstory="Works the refunds queue.",
        llm=ScriptedModel(model="scripted"),
        tools=[refund],
    )
    task = Task(description="Please process today's refunds.", expected_output="A summary.", agent=agent)
    result = Crew(agents=[agent], tasks=[task], tracing=False).kickoff()
    print(f"crew: {result.raw}")


if __name__ == "__main__":
    main()
