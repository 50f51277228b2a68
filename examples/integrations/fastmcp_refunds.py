"""A FastMCP server whose refunds are governed, and a scripted client: one refund
runs, one is refused (the client's model reads why), one is put to the client's
user through elicitation and runs once approved. No LLM, no network: FastMCP's
client connects in memory and asks for the calls a model would.

Needs FastMCP: ``pip install 'runtime-guardrails[fastmcp]'``.

    python examples/integrations/fastmcp_refunds.py
"""

from __future__ import annotations

import asyncio
from typing import Any

try:
    from fastmcp import Client, FastMCP
except ModuleNotFoundError as missing:
    raise SystemExit(
        f"This example needs FastMCP: pip install 'runtime-guardrails[fastmcp]' ({missing})"
    ) from None

import guardrails as g
from guardrails.integrations import fastmcp as gfm

policy = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
        g.deny("refund", when=g.arg("amount") > 2000, id="cap", reason="never more than 2000"),
    ]
)
gov = g.Governor(policy, on_deny=gfm.tool_error, approver=gfm.ElicitationApprover())
server = gfm.install(FastMCP("shop"))  # each call's caller in the context; approvals by elicitation


@server.tool
@g.governed("refund", governor=gov)
async def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount:.2f} on {order_id}"


CALLS = [
    {"order_id": "A-1", "amount": 40},
    {"order_id": "A-2", "amount": 5000},
    {"order_id": "A-3", "amount": 300},
]


async def ask_the_user(message: str, response_type: Any, params: Any, context: Any) -> dict[str, bool]:
    """The client's elicitation handler: a real client shows the form to its user."""
    print(f"asked: {message}")
    print("  the user approves")
    return {"approved": True}


async def main() -> None:
    async with Client(server, elicitation_handler=ask_the_user) as client:
        for args in CALLS:
            result = await client.call_tool("refund", args, raise_on_error=False)
            print(f"tool said: {result.content[0].text}")  # what the client's model reads


if __name__ == "__main__":
    asyncio.run(main())
