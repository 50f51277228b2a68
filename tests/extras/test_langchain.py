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


def graph_with(t: Any, calls: list[dict[str, Any]], wrap: Any = glc.wrap_tool_call, awrap: Any = None) -> Any:
    """``wrap``: the ToolNode's ``wrap_tool_call`` (None: a ToolNode without one)."""

    def model(state: MessagesState) -> dict[str, Any]:
        if any(isinstance(m, ToolMessage) for m in state["messages"]):
            return {"messages": [AIMessage(content="done")]}
        return {"messages": [AIMessage(content="", tool_calls=calls)]}

    def route(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    builder = StateGraph(MessagesState)
    builder.add_node("model", model)
    builder.add_node(
        "tools", ToolNode([t], wrap_tool_call=wrap, awrap_tool_call=awrap, handle_tool_errors=True)
    )
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

    def test_an_approver_of_ours_handing_over_to_interrupt_still_pauses(self) -> None:
        """A user's approver that answers small refunds itself and hands the rest to
        InterruptApprover: the graph pauses (not a refusal), and the resume approves."""
        interrupting = glc.InterruptApprover()

        def mine(request: g.ApprovalRequest) -> Any:
            return True if request.args["amount"] <= 10 else interrupting(request)

        gov = g.Governor(POLICY, on_deny=glc.tool_error, approver=mine)
        app = graph(gov, [{"name": "refund", "args": {"order_id": "A-8", "amount": 500}, "id": "call-8"}])
        config = {"configurable": {"thread_id": "t8"}}
        paused = app.invoke({"messages": [("user", "refund it")]}, config)
        (pending,) = paused["__interrupt__"]
        assert not [m for m in paused["messages"] if isinstance(m, ToolMessage)]  # nothing refused
        answer = {"approved": True, "by": "dana", "digest": pending.value["digest"]}
        done = app.invoke(Command(resume=answer), config)
        assert [m.content for m in done["messages"] if isinstance(m, ToolMessage)] == [
            "refunded 500.0 on A-8"
        ]

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


# ---- LangGraph re-runs a paused node: calls that already ran are not run again ---------


def counting_graph(
    gov: g.Governor, calls: list[dict[str, Any]], wrapper: Any = glc.wrap_tool_call
) -> tuple[Any, list[str]]:
    """A graph whose one model turn asks for ``calls`` in parallel; and what ran."""
    ran: list[str] = []

    def refund(order_id: str, amount: float) -> str:
        """Refund part or all of an order."""
        ran.append(order_id)
        return f"refunded {amount} on {order_id}"

    t = tool(g.governed("refund", governor=gov)(refund))
    return graph_with(t, calls, wrap=wrapper), ran


# No limit here: a limit would also stop the second run, and hide what is tested.
APPROVING = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
    ]
)
PARALLEL = [
    {"name": "refund", "args": {"order_id": "A-1", "amount": 40}, "id": "call-a"},
    {"name": "refund", "args": {"order_id": "A-2", "amount": 500}, "id": "call-b"},
]


def pause_and_approve(app: Any, thread: str) -> Any:
    config = {"configurable": {"thread_id": thread}}
    paused = app.invoke({"messages": [("user", "refund both")]}, config)
    (pending,) = paused["__interrupt__"]
    return app.invoke(Command(resume={"approved": True, "digest": pending.value["digest"]}), config)


def tool_node_graph(gov: g.Governor, wrap: Any, checkpointer: Any) -> tuple[Any, list[str]]:
    """A graph that is one ToolNode (fed the model's message directly) with a governed
    refund tool; and the orders it refunded."""
    ran: list[str] = []

    @tool
    @g.governed("refund", governor=gov)
    def refund(order_id: str, amount: float) -> str:
        """Refund part or all of an order."""
        ran.append(order_id)
        return "refunded"

    builder = StateGraph(MessagesState)
    builder.add_node("tools", ToolNode([refund], wrap_tool_call=wrap, handle_tool_errors=True))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    return builder.compile(checkpointer=checkpointer), ran


class TestReRuns:
    def test_a_call_that_ran_before_the_pause_is_not_run_again(self) -> None:
        audit = g.MemoryAudit()
        gov = g.Governor(APPROVING, on_deny=glc.tool_error, approver=glc.InterruptApprover(), audit=audit)
        app, ran = counting_graph(gov, PARALLEL)
        done = pause_and_approve(app, "r1")
        assert sorted(ran) == ["A-1", "A-2"]  # each once, though the node ran twice
        answers = {m.tool_call_id: m.content for m in done["messages"] if isinstance(m, ToolMessage)}
        assert answers == {"call-a": "refunded 40.0 on A-1", "call-b": "refunded 500.0 on A-2"}
        assert len([r for r in audit.records if r.outcome is g.Outcome.STARTED]) == 2

    def test_async_graphs_too(self) -> None:
        gov = g.Governor(APPROVING, on_deny=glc.tool_error, approver=glc.InterruptApprover())
        ran: list[str] = []

        async def refund(order_id: str, amount: float) -> str:
            """Refund part or all of an order."""
            ran.append(order_id)
            return f"refunded {amount} on {order_id}"

        app = graph_with(
            tool(g.governed("refund", governor=gov)(refund)), PARALLEL, awrap=glc.awrap_tool_call
        )
        config = {"configurable": {"thread_id": "async"}}

        async def go() -> Any:
            paused = await app.ainvoke({"messages": [("user", "refund both")]}, config)
            (pending,) = paused["__interrupt__"]
            return await app.ainvoke(
                Command(resume={"approved": True, "digest": pending.value["digest"]}), config
            )

        done = asyncio.run(go())
        assert sorted(ran) == ["A-1", "A-2"]
        assert len([m for m in done["messages"] if isinstance(m, ToolMessage)]) == 2

    def test_without_the_wrapper_langgraph_runs_it_again(self) -> None:
        """What ToolCalls prevents: the plain ToolNode runs the finished call a second time."""
        gov = g.Governor(APPROVING, on_deny=glc.tool_error, approver=glc.InterruptApprover())
        app, ran = counting_graph(gov, PARALLEL, wrapper=None)
        pause_and_approve(app, "r2")
        assert sorted(ran) == ["A-1", "A-1", "A-2"]

    def test_answers_are_kept_per_thread_and_bound_to_the_arguments(self) -> None:
        """Another thread, or the same id with other arguments, is a call of its own."""
        gov = g.Governor(g.Policy([g.allow("refund")]), store=g.MemoryStore())
        calls = glc.ToolCalls()
        app, ran = counting_graph(gov, PARALLEL[:1], wrapper=calls.wrap)
        for thread in ("t-1", "t-2"):
            app.invoke({"messages": [("user", "go")]}, {"configurable": {"thread_id": thread}})
        assert ran == ["A-1", "A-1"]
        other, ran_other = counting_graph(
            gov,
            [{"name": "refund", "args": {"order_id": "A-9", "amount": 1}, "id": "call-a"}],
            wrapper=calls.wrap,
        )
        other.invoke({"messages": [("user", "go")]}, {"configurable": {"thread_id": "t-1"}})
        assert ran_other == ["A-9"]

    @pytest.mark.parametrize("shape", ["basetool-run", "tool-calls-service"])
    def test_tools_that_are_not_themselves_governed(self, shape: str) -> None:
        """A BaseTool whose ``_run`` is governed, or a tool calling a governed service:
        a finished call is not run again either."""
        from langchain_core.tools import BaseTool

        gov = g.Governor(APPROVING, on_deny=glc.tool_error, approver=glc.InterruptApprover())
        ran: list[str] = []

        @g.governed("refund", governor=gov)
        def service(order_id: str, amount: float) -> str:
            ran.append(order_id)
            return f"refunded {amount} on {order_id}"

        if shape == "basetool-run":

            class Refund(BaseTool):
                name: str = "refund"
                description: str = "Refund part or all of an order."

                @g.governed("refund", governor=gov)
                def _run(self, order_id: str, amount: float) -> str:
                    ran.append(order_id)
                    return f"refunded {amount} on {order_id}"

            t: Any = Refund()
        else:

            @tool
            def refund(order_id: str, amount: float) -> str:
                """Refund part or all of an order."""
                return service(order_id, amount)

            t = refund
        pause_and_approve(graph_with(t, PARALLEL), f"shape-{shape}")
        assert sorted(ran) == ["A-1", "A-2"]

    def test_an_answer_kept_for_one_caller_is_not_given_to_another(self) -> None:
        """Same thread, same id, same arguments, another user: judged, not answered from the first."""
        audit = g.MemoryAudit()
        gov = g.Governor(
            g.Policy([g.allow("refund", when=g.ctx("user") == "alice")]), on_deny=glc.tool_error, audit=audit
        )
        calls = glc.ToolCalls(identity=lambda rt: {"user": rt.config["configurable"]["user"]})
        app, ran = tool_node_graph(gov, calls.wrap, checkpointer=InMemorySaver())
        message = AIMessage(content="", tool_calls=PARALLEL[:1])
        answers = []
        for user in ("alice", "mallory"):
            out = app.invoke({"messages": [message]}, {"configurable": {"thread_id": "shared", "user": user}})
            answers.append([m.content for m in out["messages"] if isinstance(m, ToolMessage)][-1])
        assert ran == ["A-1"]
        assert answers[0] == "refunded"
        assert "Not done" in answers[1]

    def test_a_graph_without_a_thread_keeps_nothing(self) -> None:
        """Without a checkpointer there is no resume: nothing to re-run, nothing kept."""
        gov = g.Governor(g.Policy([g.allow("refund")]))
        store_before = dict(gov.setup.store.scan("langgraph:"))
        app, ran = tool_node_graph(gov, glc.wrap_tool_call, checkpointer=None)
        message = AIMessage(content="", tool_calls=PARALLEL[:1])
        for _ in range(2):
            app.invoke({"messages": [message]})
        assert ran == ["A-1", "A-1"]
        assert dict(gov.setup.store.scan("langgraph:")) == store_before == {}

    def test_a_store_that_cannot_answer_runs_nothing(self) -> None:
        class Broken(g.MemoryStore):
            def read(self, key: str) -> str | None:
                if key.startswith("langgraph:ran:"):
                    raise OSError("disk gone")
                return super().read(key)

        gov = g.Governor(g.Policy([g.allow("refund")]), store=Broken())
        app, ran = counting_graph(gov, PARALLEL[:1], wrapper=glc.ToolCalls().wrap)
        out = app.invoke({"messages": [("user", "go")]}, {"configurable": {"thread_id": "b"}})
        (answer,) = [m for m in out["messages"] if isinstance(m, ToolMessage)]
        assert ran == []
        assert answer.status == "error" and "could not check whether it already ran" in answer.content
        assert "disk gone" in answer.content

    def test_an_answer_that_cannot_be_kept_is_not_run_again(self) -> None:
        gov = g.Governor(g.Policy([g.allow("refund")]))
        ran: list[int] = []

        @tool(response_format="content_and_artifact")
        @g.governed("refund", governor=gov)
        def refund(order_id: str, amount: float) -> tuple[str, bytes]:
            """Refund part or all of an order."""
            ran.append(1)
            return "refunded", b"\x00raw"  # an artifact JSON cannot hold

        calls = glc.ToolCalls()
        app = graph_with(refund, PARALLEL[:1], wrap=calls.wrap)
        config = {"configurable": {"thread_id": "k"}}
        app.invoke({"messages": [("user", "go")]}, config)
        again = graph_with(refund, PARALLEL[:1], wrap=calls.wrap)
        out = again.invoke({"messages": [("user", "go")]}, config)
        assert ran == [1]
        (answer,) = [m for m in out["messages"] if isinstance(m, ToolMessage)]
        assert answer.status == "error" and "could not be kept" in answer.content

    def test_remember_must_be_seconds(self) -> None:
        for bad in (0, -1, "1h", True):
            with pytest.raises(g.ConfigurationError, match="remember must be a number of seconds"):
                glc.ToolCalls(remember=bad)  # type: ignore[arg-type]


class TestIdentity:
    def test_identity_from_the_runtime_reaches_the_policy_and_the_audit(self) -> None:
        audit = g.MemoryAudit()
        gov = g.Governor(
            g.Policy([g.allow("refund", when=g.ctx("user") == "sam")]), audit=audit, on_deny=glc.tool_error
        )
        calls = glc.ToolCalls(
            identity=lambda rt: {
                "user": rt.config["configurable"]["user"],
                "session": rt.config["configurable"]["thread_id"],
            }
        )
        app, ran = counting_graph(gov, PARALLEL[:1], wrapper=calls.wrap)
        for user in ("mallory", "sam"):
            app.invoke(
                {"messages": [("user", "go")]}, {"configurable": {"thread_id": f"s-{user}", "user": user}}
            )
        assert ran == ["A-1"]
        started = [r for r in audit.records if r.outcome is g.Outcome.STARTED]
        assert [(r.context["user"], r.context["session"], r.tool_call_id) for r in started] == [
            ("sam", "s-sam", "call-a")
        ]
