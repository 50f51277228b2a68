"""Pydantic AI, against the real package: schema unchanged, calls governed through
the agent's own tool calls, denials as ToolFailed, approvals through deferred tools,
the tool-call id in the context."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from conftest import need

import guardrails as g

need("pydantic_ai")

from pydantic_ai import (  # noqa: E402
    Agent,
    ApprovalRequired,
    DeferredToolRequests,
    DeferredToolResults,
    FunctionToolset,
    ToolDenied,
    ToolFailed,
)
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart  # noqa: E402
from pydantic_ai.models.function import AgentInfo, FunctionModel  # noqa: E402

from guardrails.integrations import pydantic_ai as gpa  # noqa: E402

POLICY = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
    ]
)


def scripted(calls: list[tuple[str, dict[str, Any]]]) -> FunctionModel:
    """A model that asks for ``calls`` once, then answers "done": no LLM needed."""

    def model(messages: list[Any], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            parts = [
                ToolCallPart(name, args, tool_call_id=f"call-{i}") for i, (name, args) in enumerate(calls)
            ]
            return ModelResponse(parts=parts)
        return ModelResponse(parts=[TextPart("done")])

    return FunctionModel(model)


def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order.

    Args:
        order_id: The order.
        amount: How much to give back.
    """
    return f"refunded {amount} on {order_id}"


def toolset(gov: g.Governor) -> FunctionToolset:
    tools = FunctionToolset()
    tools.tool_plain(g.governed("refund", governor=gov)(refund))
    return tools


def run(agent: Agent[Any, Any], *args: Any, **kwargs: Any) -> Any:
    """``agent.run`` in a loop of its own, closed after (``run_sync`` may leave one open)."""
    return asyncio.run(agent.run(*args, **kwargs))


def returns(result: Any) -> list[str]:
    return [p.content for m in result.all_messages() for p in m.parts if isinstance(p, ToolReturnPart)]


def test_the_schema_is_the_functions() -> None:
    plain, governed = FunctionToolset(), toolset(g.Governor(POLICY))
    plain.tool_plain(refund)
    (a,), (b,) = plain.tools.values(), governed.tools.values()
    assert json.dumps(a.function_schema.json_schema, sort_keys=True) == json.dumps(
        b.function_schema.json_schema, sort_keys=True
    )
    assert a.description == b.description


def test_calls_are_governed_and_denials_read() -> None:
    audit = g.MemoryAudit()
    gov = g.Governor(POLICY, on_deny=gpa.tool_failed, audit=audit)
    agent = Agent(
        scripted(
            [("refund", {"order_id": "A-1", "amount": 50}), ("refund", {"order_id": "A-2", "amount": 5000})]
        ),
        toolsets=[gpa.GovernedToolset(toolset(gov))],
    )
    result = run(agent, "refund both")
    assert returns(result) == [
        "refunded 50.0 on A-1",
        "Not done: refunds over 100; not approved: no approver is configured",
    ]
    assert {r.tool_call_id for r in audit.records if r.kind == "call"} == {"call-0", "call-1"}


def test_approval_through_deferred_tools() -> None:
    audit = g.MemoryAudit()
    gov = g.Governor(POLICY, on_deny=gpa.tool_failed, approver=gpa.DeferredToolsApprover(), audit=audit)
    agent = Agent(
        scripted([("refund", {"order_id": "A-7", "amount": 500})]),
        toolsets=[gpa.GovernedToolset(toolset(gov))],
        output_type=[str, DeferredToolRequests],
    )
    first = run(agent, "refund it")
    assert isinstance(first.output, DeferredToolRequests)
    (asked,) = first.output.approvals
    assert first.output.metadata[asked.tool_call_id]["rule_id"] == "large"
    assert [r.outcome for r in audit.records if r.kind == "call"] == [g.Outcome.NOT_RUN]  # paused, not run
    digest = first.output.metadata[asked.tool_call_id]["digest"]
    second = run(
        agent,
        message_history=first.all_messages(),
        deferred_tool_results=DeferredToolResults(
            approvals={asked.tool_call_id: True},
            metadata={asked.tool_call_id: {"digest": digest, "by": "dana"}},
        ),
    )
    assert returns(second)[-1] == "refunded 500.0 on A-7"
    ran = [r for r in audit.records if r.outcome is g.Outcome.STARTED]
    assert len(ran) == 1 and ran[0].approval is not None and ran[0].approval.status == "approved"
    assert ran[0].approval.by == "dana"


def deferred_refunds(order_id: str, amount: float) -> tuple[Agent[Any, Any], list[str]]:
    """An agent asking for one refund, whose approvals go through deferred tools;
    and the orders its tool refunded."""
    gov = g.Governor(POLICY, on_deny=gpa.tool_failed, approver=gpa.DeferredToolsApprover())
    ran: list[str] = []
    tools = FunctionToolset()

    @tools.tool_plain
    @g.governed("refund", governor=gov)
    def refund_tool(order_id: str, amount: float) -> str:
        """Refund part or all of an order."""
        ran.append(order_id)
        return "refunded"

    agent = Agent(
        scripted([("refund_tool", {"order_id": order_id, "amount": amount})]),
        toolsets=[gpa.GovernedToolset(tools)],
        output_type=[str, DeferredToolRequests],
    )
    return agent, ran


def test_an_approval_without_the_digest_or_of_other_arguments_does_nothing() -> None:
    """An answer must name the digest of what the person saw; history edited between
    the runs (another amount) is not what was approved."""
    agent, ran = deferred_refunds("A-1", 150)
    first = run(agent, "refund it")
    (asked,) = first.output.approvals
    digest = first.output.metadata[asked.tool_call_id]["digest"]
    run(
        agent,
        message_history=first.all_messages(),
        deferred_tool_results=DeferredToolResults(approvals={asked.tool_call_id: True}),
    )
    history = first.all_messages()
    for message in history:
        for part in message.parts:
            if isinstance(part, ToolCallPart):
                part.args = {"order_id": "A-1", "amount": 999}
    run(
        agent,
        message_history=history,
        deferred_tool_results=DeferredToolResults(
            approvals={asked.tool_call_id: True}, metadata={asked.tool_call_id: {"digest": digest}}
        ),
    )
    assert ran == []


def test_a_refusal_never_reaches_the_tool() -> None:
    agent, ran = deferred_refunds("A-8", 500)
    first = run(agent, "refund it")
    assert isinstance(first.output, DeferredToolRequests)
    (asked,) = first.output.approvals
    run(
        agent,
        message_history=first.all_messages(),
        deferred_tool_results=DeferredToolResults(approvals={asked.tool_call_id: ToolDenied("not today")}),
    )
    assert ran == []


def test_wrong_order_is_caught() -> None:
    from pydantic_ai import Tool

    with pytest.raises(g.ConfigurationError, match=r"tool object of Pydantic AI .* @governed under it"):
        g.governed("refund")(Tool(refund))


@pytest.mark.parametrize("allow_ungoverned", [False, True])
def test_governed_above_tool_plain_is_caught_by_the_toolset(allow_ungoverned: bool) -> None:
    """``tool_plain`` returns the function it registers: ``@governed`` above it governs
    nothing the agent calls. GovernedToolset refuses such a tool before it runs."""
    ran: list[str] = []
    tools = FunctionToolset()

    @g.governed("refund", governor=g.Governor(g.Policy([g.deny("refund", reason="closed")])))
    @tools.tool_plain
    def refund_tool(order_id: str, amount: float) -> str:
        """Refund part or all of an order."""
        ran.append(order_id)
        return "refunded"

    agent = Agent(
        scripted([("refund_tool", {"order_id": "A-1", "amount": 5})]),
        toolsets=[gpa.GovernedToolset(tools, allow_ungoverned=allow_ungoverned)],
    )
    if allow_ungoverned:
        assert returns(run(agent, "refund it")) == ["refunded"]
        assert ran == ["A-1"]
    else:
        with pytest.raises(
            g.ConfigurationError, match=r"'refund_tool' is not governed: .*@g\.governed under it"
        ):
            run(agent, "refund it")
        assert ran == []


def test_an_approval_covers_only_the_call_approved() -> None:
    """Neither a hand-set context flag nor a call the approved tool makes in turn is approved."""
    gov = g.Governor(POLICY, on_deny=gpa.tool_failed, approver=gpa.DeferredToolsApprover())
    inner = g.governed("refund", governor=gov)(refund)
    with g.context(pydantic_ai_approved=True), pytest.raises(ApprovalRequired):
        inner("A-1", 500)  # asks (and so pauses), never runs on a hand-set flag
    tools = FunctionToolset()
    nested: list[str] = []

    @tools.tool_plain
    @g.governed("refund", governor=gov)
    def refund_twice(order_id: str, amount: float) -> str:
        try:
            inner(order_id, amount * 2)  # not what the person approved
        except Exception as exc:  # what the nested call met
            nested.append(type(exc).__name__)
        return "refunded"

    agent = Agent(
        scripted([("refund_twice", {"order_id": "A-9", "amount": 500})]),
        toolsets=[gpa.GovernedToolset(tools)],
        output_type=[str, DeferredToolRequests],
    )
    first = run(agent, "refund it")
    (asked,) = first.output.approvals
    digest = first.output.metadata[asked.tool_call_id]["digest"]
    second = run(
        agent,
        message_history=first.all_messages(),
        deferred_tool_results=DeferredToolResults(
            approvals={asked.tool_call_id: True}, metadata={asked.tool_call_id: {"digest": digest}}
        ),
    )
    assert returns(second)[-1] == "refunded"
    assert nested == ["ApprovalRequired"]


def test_identity_from_the_run_context_reaches_the_policy_and_the_audit() -> None:
    """``identity`` reads who is calling from the run's deps; it survives Pydantic AI
    copying the toolset for each run."""
    audit = g.MemoryAudit()
    gov = g.Governor(
        g.Policy([g.allow("refund", when=g.ctx("user") == "sam")]), on_deny=gpa.tool_failed, audit=audit
    )
    agent = Agent(
        scripted([("refund", {"order_id": "A-1", "amount": 50})]),
        deps_type=str,
        toolsets=[gpa.GovernedToolset(toolset(gov), identity=lambda ctx: {"user": ctx.deps})],
    )
    assert returns(run(agent, "refund it", deps="sam")) == ["refunded 50.0 on A-1"]
    assert returns(run(agent, "refund it", deps="mallory")) == [
        "Not done: no rule matched 'refund'; the policy's default is deny"
    ]
    done = [r for r in audit.records if r.kind == "call" and r.outcome is not g.Outcome.STARTED]
    assert [(r.context["user"], r.tool_call_id) for r in done] == [("sam", "call-0"), ("mallory", "call-0")]


def test_an_approval_sent_again_runs_nothing_twice() -> None:
    """The same history and answer sent again (a retry, a replay) asks anew: one approval, one run."""
    agent, ran = deferred_refunds("A-7", 500)
    first = run(agent, "refund it")
    (asked,) = first.output.approvals
    answer = DeferredToolResults(
        approvals={asked.tool_call_id: True},
        metadata={asked.tool_call_id: {"digest": first.output.metadata[asked.tool_call_id]["digest"]}},
    )
    results = [
        run(agent, message_history=first.all_messages(), deferred_tool_results=answer) for _ in range(3)
    ]
    assert ran == ["A-7"]
    assert returns(results[0])[-1] == "refunded"
    assert all(isinstance(r.output, DeferredToolRequests) for r in results[1:])  # asked again


def test_what_the_model_and_the_person_see_is_redacted_by_the_policy() -> None:
    policy = g.Policy(
        [
            g.require_approval("pay", when=g.arg("amount") > 100, id="big", reason="big payment"),
            # small payments: a condition that errs, quoting the value, in the reason
            g.deny("pay", when=(g.arg("amount") < 10) & (g.arg("iban") > 5), id="odd", reason="no"),
            g.allow("pay"),
        ],
        redact=g.Redaction(names=["iban"]),
    )
    gov = g.Governor(policy, on_deny=gpa.tool_failed, approver=gpa.DeferredToolsApprover())
    tools = FunctionToolset()

    @tools.tool_plain
    @g.governed("pay", governor=gov)
    def pay(iban: str, amount: float) -> str:
        """Pay."""
        return "paid"

    secret = "DE89370400440532013000"
    agent = Agent(
        scripted([("pay", {"iban": secret, "amount": 900})]),
        toolsets=[gpa.GovernedToolset(tools)],
        output_type=[str, DeferredToolRequests],
    )
    paused = run(agent, "pay it")
    (asked,) = paused.output.approvals
    shown = paused.output.metadata[asked.tool_call_id]
    assert shown["args"]["iban"] == "[REDACTED]" and secret not in json.dumps(shown)
    with pytest.raises(ToolFailed) as failed:
        pay(secret, 5)
    assert "[REDACTED]" in str(failed.value) and secret not in str(failed.value)
