"""An MCP server whose refunds are governed, and a scripted client: one refund runs,
one is refused (the client's model reads why), one is put to the client's user
through elicitation and runs once approved. No LLM, no network: the client is
in memory and asks for the calls a model would.

Needs the MCP Python SDK: ``pip install 'runtime-guardrails[mcp]'``.

    python examples/integrations/mcp_refunds.py

Works with mcp 2.x (``MCPServer``; the client speaks 2026-07-28, so the question
rides the call's answer and the client retries with the user's answer) and 1.x
(``FastMCP``; the server asks mid-call).
"""

from __future__ import annotations

import asyncio
from typing import Any

import guardrails as g
from guardrails.integrations import mcp as gmcp

try:
    from mcp.client import Client
    from mcp.server.mcpserver import MCPServer as Server
    from mcp_types import ElicitResult
except ImportError:  # mcp 1.x (or no mcp at all)
    try:
        from mcp.server.fastmcp import FastMCP as Server  # type: ignore[assignment]
        from mcp.shared.memory import create_connected_server_and_client_session
        from mcp.types import ElicitResult  # type: ignore[assignment,no-redef]
    except ModuleNotFoundError as missing:
        raise SystemExit(
            f"This example needs the MCP Python SDK: pip install 'runtime-guardrails[mcp]' ({missing})"
        ) from None

    Client = None  # type: ignore[assignment,misc]

policy = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
        g.deny("refund", when=g.arg("amount") > 2000, id="cap", reason="never more than 2000"),
    ]
)
gov = g.Governor(policy, on_deny=gmcp.tool_error, approver=gmcp.ElicitationApprover())
server = gmcp.install(Server("shop"))  # each call's caller in the context; approvals by elicitation


@server.tool()
@g.governed("refund", governor=gov)
async def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount:.2f} on {order_id}"


CALLS = [
    {"order_id": "A-1", "amount": 40},
    {"order_id": "A-2", "amount": 5000},
    {"order_id": "A-3", "amount": 300},
]


async def ask_the_user(context: Any, params: Any) -> Any:
    """The client's elicitation callback: a real client shows the form to its user."""
    print(f"asked: {params.message}")
    print("  the user approves")
    return ElicitResult(action="accept", content={"approved": True})


async def main() -> None:
    if Client is not None:
        connection: Any = Client(server, elicitation_callback=ask_the_user)
    else:
        connection = create_connected_server_and_client_session(server, elicitation_callback=ask_the_user)
    async with connection as client:
        for args in CALLS:
            result = await client.call_tool("refund", args)
            print(f"tool said: {result.content[0].text}")  # what the client's model reads


if __name__ == "__main__":
    asyncio.run(main())
