"""A LangGraph agent whose refunds are governed: one runs, one is refused (the model
reads why), one pauses for a person and runs once approved. No LLM, no network:
the "model" is a node that asks for the calls a model would.

Needs LangChain and LangGraph: ``pip install 'runtime-guardrails[langchain]'``.

    python examples/integrations/langgraph_refunds.py
"""

from __future__ import annotations

from typing import Any

try:
    from langchain_core.messages import AIMessage, ToolMessage
    from langchain_core.tools import tool
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode
    from langgraph.types import Command
except ModuleNotFoundError as missing:
    raise SystemExit(
        f"This example needs LangChain and LangGraph: pip install 'runtime-guardrails[langchain]' ({missing})"
    ) from None

import guardrails as g
from guardrails.integrations import langchain as glc

policy = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
        g.deny("refund", when=g.arg("amount") > 2000, id="cap", reason="never more than 2000"),
    ]
)
gov = g.Governor(policy, on_deny=glc.tool_error, approver=glc.InterruptApprover())


@tool
@g.governed("refund", governor=gov)
def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount:.2f} on {order_id}"


CALLS = [
    {"name": "refund", "args": {"order_id": "A-1", "amount": 40}, "id": "call-1"},
    {"name": "refund", "args": {"order_id": "A-2", "amount": 5000}, "id": "call-2"},
    {"name": "refund", "args": {"order_id": "A-3", "amount": 300}, "id": "call-3"},
]


def model(state: MessagesState) -> dict[str, Any]:
    """Ask for the next call once the last one answered (one call per turn)."""
    done = sum(isinstance(m, ToolMessage) for m in state["messages"])
    if done == len(CALLS):
        return {"messages": [AIMessage(content="All done.")]}
    return {"messages": [AIMessage(content="", tool_calls=[CALLS[done]])]}


def route(state: MessagesState) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else END


def main() -> None:
    builder = StateGraph(MessagesState)
    builder.add_node("model", model)
    builder.add_node("tools", ToolNode([refund], handle_tool_errors=str, wrap_tool_call=glc.wrap_tool_call))
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", route, ["tools", END])
    builder.add_edge("tools", "model")
    app = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "support-1"}}
    state = app.invoke({"messages": [("user", "Please process today's refunds.")]}, config)
    while state.get("__interrupt__"):
        ask = state["__interrupt__"][0].value
        print(f"paused: {ask['action']}({ask['args']}) needs approval - {ask['reason']}")
        print("  the finance desk approves")
        answer = {"approved": True, "by": "finance-desk", "digest": ask["digest"]}  # names what was shown
        state = app.invoke(Command(resume=answer), config)
    for message in state["messages"]:
        if isinstance(message, ToolMessage):
            print(f"tool said: {message.content}")


if __name__ == "__main__":
    main()
