"""OpenAI Agents SDK, against the real package: schema unchanged, the SDK's own
invocation governed, denials as the tool's result, wrong order caught."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from conftest import need

import guardrails as g

need("agents")

from agents import function_tool  # noqa: E402
from agents.tool_context import ToolContext  # noqa: E402

from guardrails.integrations import openai_agents as goa  # noqa: E402

POLICY = g.Policy([g.allow("refund", when=g.arg("amount") <= 100)])


def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount} on {order_id}"


async def refund_async(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount} on {order_id}"


def invoke(t: Any, args: dict[str, Any]) -> Any:
    text = json.dumps(args)
    ctx = ToolContext(context=None, tool_name=t.name, tool_call_id="call-1", tool_arguments=text)
    return asyncio.run(t.on_invoke_tool(ctx, text))


@pytest.mark.parametrize("fn", [refund, refund_async], ids=["sync", "async"])
def test_schema_invocation_and_denials(fn: Any) -> None:
    gov = g.Governor(POLICY)
    plain = function_tool(fn)
    governed = function_tool(
        g.governed("refund", governor=gov)(fn), failure_error_function=goa.failure_error_function
    )
    assert governed.params_json_schema == plain.params_json_schema
    assert (governed.name, governed.description) == (plain.name, plain.description)
    assert invoke(governed, {"order_id": "A-1", "amount": 5}) == "refunded 5.0 on A-1"
    assert invoke(governed, {"order_id": "A-2", "amount": 500}) == (
        "Not done: no rule matched 'refund'; the policy's default is deny"
    )


def test_wrong_order_is_caught() -> None:
    with pytest.raises(g.ConfigurationError, match=r"tool object of OpenAI Agents SDK .* @governed under it"):
        g.governed("refund")(function_tool(refund))


def test_a_package_of_the_same_name_is_not_the_framework(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A class under ``agents`` that the SDK's distribution did not install is not a tool of it."""
    import sys
    import types

    from guardrails.decorator import _framework_tool

    class RetryingTool:
        pass

    RetryingTool.__module__ = "agents.toolkit"
    assert _framework_tool(function_tool(refund)) == "OpenAI Agents SDK"
    fake = types.ModuleType("agents")
    fake.__file__ = str(tmp_path / "agents" / "__init__.py")
    monkeypatch.setitem(sys.modules, "agents", fake)
    assert _framework_tool(RetryingTool()) is None
