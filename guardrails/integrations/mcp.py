"""MCP servers (the ``mcp`` SDK: 2.x ``MCPServer``, 1.x ``FastMCP``): denials the
client's model can read.

    from mcp.server.mcpserver import MCPServer
    from guardrails.integrations import mcp as gmcp

    gov = g.Governor(policy, on_deny=gmcp.tool_error)
    server = MCPServer("shop")

    @server.tool()             # the framework's decorator outermost
    @g.governed(governor=gov)  # guardrails' under it: the input schema stays the function's
    def refund(order_id: str, amount: float) -> str: ...

``tool_error`` raises the SDK's ``ToolError`` with the denial's reason: the
server answers the call with ``isError: true`` and that text, which the
client hands to its model.
"""

from __future__ import annotations

from typing import NoReturn

from guardrails.errors import ActionDenied
from guardrails.integrations import reason

__all__ = ["tool_error"]


def tool_error(denial: ActionDenied) -> NoReturn:
    """An ``on_deny`` hook: raise the MCP SDK's ``ToolError`` with the reason."""
    import importlib

    try:
        module = importlib.import_module("mcp.server.mcpserver.exceptions")  # mcp 2.x
    except ImportError:  # pragma: no cover - mcp 1.x
        module = importlib.import_module("mcp.server.fastmcp.exceptions")
    raise module.ToolError(f"Not done: {reason(denial)}") from None
