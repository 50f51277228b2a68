"""CrewAI, against the real package: the schema the model is sent unchanged, calls
governed through CrewAI's own invocation and its agent loop (native tool calls and
the text ReAct loop, driven by a scripted model), denials the model reads as a
``ToolFailure`` that CrewAI does not run again, approvals inside the call, wrong
order caught, and the example."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from conftest import need, run_example
from pydantic import Field

import guardrails as g

# CrewAI pins older pydantic, openai and mcp than the test extra: it is not in
# it, and .ci/run tests it in a venv of its own, with GUARDRAILS_CREWAI=required
# (there, its absence fails the run).
if os.environ.get("GUARDRAILS_CREWAI") == "required":
    need("crewai")
elif importlib.util.find_spec("crewai") is None:
    pytest.skip("crewai runs in a venv of its own (see .ci/run)", allow_module_level=True)

# Before CrewAI is imported: offline, its telemetry holds the process ~10 s at exit.
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

with warnings.catch_warnings():
    # CrewAI 1.15's crewai.rag refuses the attribute its own submodule import sets.
    warnings.simplefilter("ignore", ImportWarning)
    from crewai import Agent, Crew, Task
    from crewai.llms.base_llm import BaseLLM
    from crewai.tools import BaseTool, ToolFailure, tool
    from crewai.utilities.agent_utils import convert_tools_to_openai_schema

from guardrails.integrations import crewai as gcrew

# CrewAI 1.15 reads its own deprecated fields whenever an Agent is built.
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:crewai\.")

POLICY = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
        g.deny("refund", when=g.arg("amount") > 2000, id="cap", reason="never more than 2000"),
    ]
)


@pytest.fixture(autouse=True)
def _crewai_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each crew writes its task outputs under CREWAI_STORAGE_DIR: keep them out of the home directory."""
    monkeypatch.setenv("CREWAI_STORAGE_DIR", str(tmp_path / "crewai"))


def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount:.2f} on {order_id}"


async def refund_async(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount:.2f} on {order_id}"


def sent(t: Any) -> tuple[Any, ...]:
    """What CrewAI sends a model about a tool: the native schema and the text (ReAct) one."""
    (native,) = convert_tools_to_openai_schema([t])[0]
    return native, t.name, t.description, t.formatted_description, t.args_schema.model_json_schema()


class Ran:
    """A tool body that notes each run."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def __call__(self, order_id: str, amount: float) -> str:
        self.calls.append((order_id, amount))
        return f"refunded {amount:.2f} on {order_id}"


def governed_tool(gov: g.Governor, ran: Ran) -> Any:
    """CrewAI's ``@tool`` over a function governed by ``gov`` whose body is ``ran``."""

    @tool
    @g.governed("refund", governor=gov)
    def refund(order_id: str, amount: float) -> str:
        """Refund part or all of an order."""
        return ran(order_id, amount)

    return refund


def plain_refund_tool() -> BaseTool:
    class RefundTool(BaseTool):
        name: str = "refund"
        description: str = "Refund part or all of an order."

        def _run(self, order_id: str, amount: float) -> str:
            return refund(order_id, amount)

    return RefundTool()


def governed_refund_tool(gov: g.Governor) -> BaseTool:
    class RefundTool(BaseTool):
        name: str = "refund"
        description: str = "Refund part or all of an order."

        @g.governed("refund", governor=gov)
        def _run(self, order_id: str, amount: float) -> str:
            return refund(order_id, amount)

    return RefundTool()


class TestTools:
    @pytest.mark.parametrize("fn", [refund, refund_async], ids=["sync", "async"])
    def test_the_schema_is_the_functions(self, fn: Any) -> None:
        """The tool the model is told about is the same, governed or not."""
        gov = g.Governor(POLICY)
        plain, governed = tool(fn), tool(g.governed("refund", governor=gov)(fn))
        assert sent(governed) == sent(plain)
        assert sent(plain)[0]["function"]["parameters"]["required"] == ["order_id", "amount"]

    def test_a_base_tool_whose_run_is_governed_keeps_its_schema(self) -> None:
        """A ``BaseTool`` subclass can govern its ``_run``: CrewAI builds the same schema from it."""
        gov = g.Governor(POLICY, on_deny=gcrew.tool_failure)
        governed = governed_refund_tool(gov)
        assert sent(governed) == sent(plain_refund_tool())
        assert governed.run(order_id="A-1", amount=40) == "refunded 40.00 on A-1"
        denied = governed.run(order_id="A-2", amount=5000)
        assert isinstance(denied, ToolFailure) and denied.message == "Not done: never more than 2000"

    def test_run_is_governed(self) -> None:
        """``run`` (what the agent loop calls) runs an allowed call; a denied one returns a
        ``ToolFailure`` with the reason, and the body does not run."""
        ran = Ran()
        t = governed_tool(g.Governor(POLICY, on_deny=gcrew.tool_failure), ran)
        assert t.run(order_id="A-1", amount=40) == "refunded 40.00 on A-1"
        denied = t.run(order_id="A-2", amount=5000)
        assert isinstance(denied, ToolFailure)
        assert denied.as_agent_message() == "Not done: never more than 2000"
        assert not denied.retryable and denied.details == {"action": "refund", "rule_id": "cap"}
        assert ran.calls == [("A-1", 40.0)]

    def test_async_tools_are_governed(self) -> None:
        """An async tool is judged through ``arun`` and through ``run`` (which CrewAI runs to completion)."""
        gov = g.Governor(POLICY, on_deny=gcrew.tool_failure)
        t = tool(g.governed("refund", governor=gov)(refund_async))
        assert asyncio.run(t.arun(order_id="A-1", amount=40)) == "refunded 40.00 on A-1"
        assert t.run(order_id="A-1", amount=40) == "refunded 40.00 on A-1"
        denied = asyncio.run(t.arun(order_id="A-2", amount=5000))
        assert isinstance(denied, ToolFailure) and denied.message == "Not done: never more than 2000"

    def test_the_reason_is_scrubbed(self) -> None:
        """The model reads the reason with secret-looking values taken out, as with every framework."""
        gov = g.Governor(
            g.Policy([g.deny("pay", reason="key sk-live-abcdefghijklmnopqrstuvwx is revoked")]),
            on_deny=gcrew.tool_failure,
        )

        @tool
        @g.governed("pay", governor=gov)
        def pay(api_key: str) -> str:
            """Pay."""
            return "paid"

        denied = pay.run(api_key="sk-live-abcdefghijklmnopqrstuvwx")
        assert isinstance(denied, ToolFailure) and denied.message.startswith("Not done: key ")
        assert "sk-live" not in denied.message

    def test_wrong_order_is_caught(self) -> None:
        """@governed on a CrewAI tool object (``@tool`` under it, a ``BaseTool``, a structured
        tool) is refused: its calls would not pass through guardrails."""

        for obj in (tool(refund), plain_refund_tool(), tool(refund).to_structured_tool()):
            with pytest.raises(g.ConfigurationError, match=r"tool object of CrewAI .* @governed under it"):
                g.governed("refund")(obj)


class Scripted(BaseLLM):
    """A model that answers from a script: the tool calls a model would ask for, then a
    final answer. ``native`` picks CrewAI's loop: native tool calls, or the text (ReAct) one."""

    script: list[Any]
    native: bool
    seen: list[Any] = Field(default_factory=list)

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
        self.seen.append(messages)
        return self.script.pop(0)

    def supports_function_calling(self) -> bool:
        return self.native

    def get_input_tokens_count(self, *args: Any, **kwargs: Any) -> int:
        return 0  # nothing to count, and no warning that the count is approximate


def scripted(native: bool, calls: list[dict[str, Any]]) -> Scripted:
    script: list[Any] = []
    for n, args in enumerate(calls, 1):
        if native:
            function = {"name": "refund", "arguments": json.dumps(args)}
            script.append([{"id": f"call-{n}", "type": "function", "function": function}])
        else:
            script.append(f"Thought: refund it\nAction: refund\nAction Input: {json.dumps(args)}")
    script.append("All done." if native else "Thought: done\nFinal Answer: All done.")
    return Scripted(model="scripted", script=script, native=native)


def kickoff(t: Any, llm: Scripted) -> Any:
    agent = Agent(role="support", goal="refunds", backstory="a desk", llm=llm, tools=[t], max_iter=10)
    task = Task(description="Process today's refunds.", expected_output="a line", agent=agent)
    out = Crew(agents=[agent], tasks=[task], tracing=False).kickoff()
    assert out.raw == "All done." and not llm.script, "the scripted model did not run to its end"
    return out


def told(llm: Scripted) -> str:
    """Everything the model was sent, as one text."""
    return json.dumps(llm.seen[-1], default=str)


@pytest.mark.parametrize("native", [True, False], ids=["native", "react"])
class TestAgentLoop:
    def test_the_body_runs_only_when_allowed_and_the_model_reads_the_denial(self, native: bool) -> None:
        """Through a crew: the allowed refund runs, the denied one does not; the model reads
        the reason as the tool's answer, once, and CrewAI records the failure."""
        ran, audit = Ran(), g.MemoryAudit()
        t = governed_tool(g.Governor(POLICY, on_deny=gcrew.tool_failure, audit=audit), ran)
        llm = scripted(native, [{"order_id": "A-1", "amount": 40}, {"order_id": "A-2", "amount": 5000}])
        out = kickoff(t, llm)
        assert ran.calls == [("A-1", 40.0)]
        assert "refunded 40.00 on A-1" in told(llm) and "Not done: never more than 2000" in told(llm)
        judged = [r for r in audit.records if r.args.get("order_id") == "A-2"]
        assert [(r.rule_id, r.outcome) for r in judged] == [("cap", g.Outcome.NOT_RUN)]  # not run again
        (failure,) = out.tasks_output[0].tool_failures
        assert failure.tool_name == "refund" and failure.message == "Not done: never more than 2000"

    def test_the_approver_is_asked_inside_the_call(self, native: bool) -> None:
        """Approval needs nothing of CrewAI: the approver answers while the tool call waits."""
        ran, asked = Ran(), []

        def approver(request: g.ApprovalRequest) -> bool:
            asked.append(request.args["order_id"])
            return bool(request.args["order_id"] == "A-3")

        t = governed_tool(g.Governor(POLICY, on_deny=gcrew.tool_failure, approver=approver), ran)
        llm = scripted(native, [{"order_id": "A-3", "amount": 300}, {"order_id": "A-4", "amount": 300}])
        kickoff(t, llm)
        assert asked == ["A-3", "A-4"] and ran.calls == [("A-3", 300.0)]
        assert "refunded 300.00 on A-3" in told(llm) and "Not done: refunds over 100; refused" in told(llm)

    def test_the_callers_context_reaches_the_policy(self, native: bool) -> None:
        """``g.context`` around ``kickoff`` (and ``kickoff_async``) is the context the tool call is judged in."""
        ran = Ran()
        gov = g.Governor(
            g.Policy([g.allow("refund", when=g.ctx("user") == "alice")]), on_deny=gcrew.tool_failure
        )
        t = governed_tool(gov, ran)
        with g.context(user="alice"):
            kickoff(t, scripted(native, [{"order_id": "A-1", "amount": 40}]))
        with g.context(user="mallory"):
            kickoff(t, scripted(native, [{"order_id": "A-2", "amount": 40}]))
        llm = scripted(native, [{"order_id": "A-3", "amount": 40}])
        agent = Agent(role="support", goal="refunds", backstory="a desk", llm=llm, tools=[t])
        crew = Crew(
            agents=[agent], tasks=[Task(description="Refund.", expected_output="a line", agent=agent)]
        )

        async def run() -> None:
            async with g.context(user="alice"):
                await crew.kickoff_async()

        asyncio.run(run())
        assert ran.calls == [("A-1", 40.0), ("A-3", 40.0)]

    def test_a_raised_denial_is_not_what_the_model_should_get(self, native: bool) -> None:
        """Why ``tool_failure`` returns rather than raises: a denial that raises reaches the
        model wrapped in CrewAI's error text, and on the text loop the call is judged again
        and again (six times in CrewAI 1.15)."""
        ran, audit = Ran(), g.MemoryAudit()
        t = governed_tool(g.Governor(POLICY, audit=audit), ran)
        llm = scripted(native, [{"order_id": "A-2", "amount": 5000}])
        kickoff(t, llm)
        judged = [r for r in audit.records if r.args.get("order_id") == "A-2"]
        assert ran.calls == [] and "never more than 2000" in told(llm)
        assert "Not done: " not in told(llm)
        assert (len(judged) == 1) if native else (len(judged) > 1)


def test_the_example_runs_offline(tmp_path: Path) -> None:
    """The example: one refund runs, one is refused with the reason, one is approved and runs."""
    result, lines = run_example("crewai_refunds.py", CREWAI_STORAGE_DIR=str(tmp_path / "crewai"))
    assert result.returncode == 0, result.stderr
    assert lines == [
        "tool said: refunded 40.00 on A-1",
        "tool said: Not done: never more than 2000",
        "tool said: refunded 300.00 on A-3",
    ]
    assert "approval needed: refund(order_id='A-3', amount=300.0) - refunds over 100" in result.stdout
    assert "crew: All done." in result.stdout
