"""LangChain and LangGraph, against the real packages: schemas unchanged, calls
governed through the framework's own invocation, denials the model reads, the
tool-call id in the context, approvals through interrupt(), wrong order caught."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from conftest import need

import guardrails as g

need("langchain_core")
need("langgraph")

from langchain_core.messages import AIMessage, ToolMessage  # noqa: E402
from langchain_core.tools import ToolException, tool  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.graph import END, START, MessagesState, StateGraph  # noqa: E402
from langgraph.prebuilt import ToolNode  # noqa: E402
from langgraph.types import Command  # noqa: E402

from guardrails.integrations import langchain as glc  # noqa: E402

POLICY = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
        g.deny("refund", limit=g.rate(1, per="1h", key=g.arg("order_id")), id="once-per-order"),
    ]
)


def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount} on {order_id}"


async def refund_async(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount} on {order_id}"


def schema(t: Any) -> str:
    return json.dumps(t.tool_call_schema.model_json_schema(), sort_keys=True)


class TestTools:
    @pytest.mark.parametrize("fn", [refund, refund_async], ids=["sync", "async"])
    def test_the_schema_is_the_functions(self, fn: Any) -> None:
        gov = g.Governor(POLICY)
        plain, governed = tool(fn), tool(g.governed("refund", governor=gov)(fn))
        assert schema(plain) == schema(governed)
        assert (plain.name, plain.description) == (governed.name, governed.description)

    def test_invoke_is_governed(self) -> None:
        gov = g.Governor(POLICY, on_deny=glc.tool_error)
        t = tool(g.governed("refund", governor=gov)(refund))
        assert t.invoke({"order_id": "A-1", "amount": 50}) == "refunded 50.0 on A-1"
        with pytest.raises(ToolException, match="Not done: refunds over 100; not approved"):
            t.invoke({"order_id": "A-2", "amount": 5000})
        t.handle_tool_error = True  # what the model reads instead of a crash
        assert t.invoke({"order_id": "A-2", "amount": 5000}).startswith("Not done: ")

    def test_ainvoke_is_governed(self) -> None:
        gov = g.Governor(POLICY, on_deny=glc.tool_error)
        t = tool(g.governed("refund", governor=gov)(refund_async))
        assert asyncio.run(t.ainvoke({"order_id": "A-1", "amount": 50})) == "refunded 50.0 on A-1"
        with pytest.raises(ToolException):
            asyncio.run(t.ainvoke({"order_id": "A-2", "amount": 5000}))

    def test_wrong_order_is_caught(self) -> None:
        with pytest.raises(g.ConfigurationError, match=r"tool object of LangChain .* @governed under it"):
            g.governed("refund")(tool(refund))


def graph(gov: g.Governor, calls: list[dict[str, Any]]) -> Any:
    """A graph whose 'model' asks for ``calls`` once, then stops: no LLM needed."""
    return graph_with(tool(g.governed("refund", governor=gov)(refund)), calls)


def graph_with(t: Any, calls: list[dict[str, Any]]) -> Any:

    def model(state: MessagesState) -> dict[str, Any]:
        if any(isinstance(m, ToolMessage) for m in state["messages"]):
            return {"messages": [AIMessage(content="done")]}
        return {"messages": [AIMessage(content="", tool_calls=calls)]}

    def route(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    builder = StateGraph(MessagesState)
    builder.add_node("model", model)
    builder.add_node("tools", ToolNode([t], wrap_tool_call=glc.wrap_tool_call, handle_tool_errors=True))
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", route, ["tools", END])
    builder.add_edge("tools", "model")
    return builder.compile(checkpointer=InMemorySaver())


class TestGraph:
    def test_a_denial_reaches_the_model_as_the_tools_answer(self) -> None:
        gov = g.Governor(POLICY, on_deny=glc.tool_error)
        app = graph(gov, [{"name": "refund", "args": {"order_id": "A-9", "amount": 5000}, "id": "call-1"}])
        out = app.invoke({"messages": [("user", "refund it")]}, {"configurable": {"thread_id": "t1"}})
        (answer,) = [m for m in out["messages"] if isinstance(m, ToolMessage)]
        assert answer.status == "error" and "Not done: refunds over 100" in answer.content

    def test_approval_through_interrupt_runs_once_on_resume(self) -> None:
        """The graph pauses with the request; resumed with an approval, the call runs once,
        counted once by its limit although the tool node ran twice."""
        audit = g.MemoryAudit()
        gov = g.Governor(POLICY, on_deny=glc.tool_error, approver=glc.InterruptApprover(), audit=audit)
        app = graph(gov, [{"name": "refund", "args": {"order_id": "A-7", "amount": 500}, "id": "call-7"}])
        config = {"configurable": {"thread_id": "t2"}}
        paused = app.invoke({"messages": [("user", "refund it")]}, config)
        (pending,) = paused["__interrupt__"]
        assert pending.value["action"] == "refund" and pending.value["rule_id"] == "large"
        assert pending.value["args"] == {"order_id": "A-7", "amount": 500.0}
        answer = {"approved": True, "by": "dana", "reason": "checked", "digest": pending.value["digest"]}
        done = app.invoke(Command(resume=answer), config)
        answers = [m.content for m in done["messages"] if isinstance(m, ToolMessage)]
        assert answers == ["refunded 500.0 on A-7"]
        ran = [r for r in audit.records if r.outcome is g.Outcome.STARTED]
        assert len(ran) == 1 and ran[0].approval is not None and ran[0].approval.by == "dana"
        assert ran[0].tool_call_id == "call-7"
        assert gov.usage("once-per-order", {"order_id": "A-7"}) == 1

    @pytest.mark.parametrize(
        "answer",
        [True, {"approved": True}, {"approved": True, "digest": "0" * 64}],
        ids=["bare-true", "no-digest", "another-digest"],
    )
    def test_an_answer_must_name_the_request(self, answer: Any) -> None:
        """LangGraph hands a resume value to whichever paused call asks first: an answer
        that does not echo this request's digest approves nothing."""
        gov = g.Governor(POLICY, on_deny=glc.tool_error, approver=glc.InterruptApprover())
        app = graph(gov, [{"name": "refund", "args": {"order_id": "A-5", "amount": 500}, "id": "call-5"}])
        config = {"configurable": {"thread_id": "t5"}}
        app.invoke({"messages": [("user", "refund it")]}, config)
        done = app.invoke(Command(resume=answer), config)
        (reply,) = [m for m in done["messages"] if isinstance(m, ToolMessage)]
        assert reply.status == "error" and "digest" in reply.content

    def test_the_pause_shows_redacted_arguments(self) -> None:
        gov = g.Governor(g.Policy([g.require_approval("refund")]), approver=glc.InterruptApprover())

        def pay(order_id: str, amount: float, api_key: str = "") -> str:
            """Pay."""
            return "done"

        t = tool(g.governed("refund", governor=gov)(pay))
        app = graph_with(
            t,
            [
                {
                    "name": "pay",
                    "args": {"order_id": "A", "amount": 1, "api_key": "sk-live-abcdefghijklmnopqrstuvwx"},
                    "id": "c",
                }
            ],
        )
        paused = app.invoke({"messages": [("user", "go")]}, {"configurable": {"thread_id": "t6"}})
        shown = paused["__interrupt__"][0].value
        assert shown["args"]["order_id"] == "A" and "sk-live" not in json.dumps(shown)

    def test_a_refusal_on_resume_is_the_tools_answer(self) -> None:
        gov = g.Governor(POLICY, on_deny=glc.tool_error, approver=glc.InterruptApprover())
        app = graph(gov, [{"name": "refund", "args": {"order_id": "A-8", "amount": 500}, "id": "call-8"}])
        config = {"configurable": {"thread_id": "t3"}}
        app.invoke({"messages": [("user", "refund it")]}, config)
        done = app.invoke(Command(resume=False), config)
        (answer,) = [m for m in done["messages"] if isinstance(m, ToolMessage)]
        assert answer.status == "error" and "refused" in answer.content
