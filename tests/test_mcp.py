"""MCP (the mcp SDK's MCPServer), against the real package through an in-memory
client: the input schema unchanged, calls governed, denials answered as tool errors."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import need

import guardrails as g

need("mcp")

from mcp.client import Client  # noqa: E402
from mcp.server.mcpserver import MCPServer  # noqa: E402

from guardrails.integrations import mcp as gmcp  # noqa: E402

POLICY = g.Policy([g.allow("refund", when=g.arg("amount") <= 100)])


def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount} on {order_id}"


async def refund_async(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount} on {order_id}"


def server(fn: Any, *, governed: bool) -> MCPServer:
    app = MCPServer("shop")
    gov = g.Governor(POLICY, on_deny=gmcp.tool_error)
    app.tool(name="refund")(g.governed("refund", governor=gov)(fn) if governed else fn)
    return app


async def session(app: MCPServer, calls: list[dict[str, Any]]) -> tuple[Any, list[Any]]:
    async with Client(app) as client:
        listed = await client.list_tools()
        results = [await client.call_tool("refund", args) for args in calls]
    return listed.tools[0], results


def test_schema_calls_and_denials() -> None:
    for fn in (refund, refund_async):
        plain, _ = asyncio.run(session(server(fn, governed=False), []))
        tool, (allowed, denied) = asyncio.run(
            session(
                server(fn, governed=True),
                [{"order_id": "A-1", "amount": 5}, {"order_id": "A-2", "amount": 500}],
            )
        )
        assert tool.input_schema == plain.input_schema and tool.description == plain.description
        assert not allowed.is_error and allowed.content[0].text == "refunded 5.0 on A-1"
        assert denied.is_error
        assert "Not done: no rule matched 'refund'" in denied.content[0].text
