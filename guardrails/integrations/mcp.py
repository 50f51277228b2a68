"""MCP servers (the ``mcp`` SDK: 2.x ``MCPServer``, 1.x ``FastMCP``): denials the
client's model can read, who is calling in the context, approvals asked of the
client's user through elicitation.

    from mcp.server.mcpserver import MCPServer
    from guardrails.integrations import mcp as gmcp

    gov = g.Governor(policy, on_deny=gmcp.tool_error, approver=gmcp.ElicitationApprover())
    server = gmcp.install(MCPServer("shop"))

    @server.tool()             # the framework's decorator outermost
    @g.governed(governor=gov)  # guardrails' under it: the input schema stays the function's
    async def refund(order_id: str, amount: float) -> str: ...

``tool_error`` raises the SDK's ``ToolError`` with the denial's reason: the
server answers the call with ``isError: true`` and that text, which the
client hands to its model.

``install`` runs every ``tools/call`` inside ``context(...)`` with what the
server knows of its caller: ``user`` (the access token's subject, else its
client id) and ``client_id`` and ``scopes`` when the server checks tokens;
``session`` (the transport's session id, else one made per connection; none
on 2026-07-28 connections, where every request stands alone); ``tool_call_id``
(the JSON-RPC request id with a suffix of the server's own: a client may send
an id again, and a re-sent id must not make an identical call count once).

``ElicitationApprover`` asks the client's user. On handshake-era connections
(mcp 1.x, or 2.x with ``mode="legacy"``) it sends ``elicitation/create`` and
waits; on 2026-07-28 connections it answers the call with the question
(``input_required``), and the client's retry, carrying the answer and the
state the SDK sealed, is judged again and runs if approved. A client that
cannot elicit, declines or cancels refuses. The answer is only as good as
the client: one that answers without asking a person approves its own calls.
(It lives in ``guardrails.integrations.mcp_elicitation``, shared with FastMCP.)
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn

from guardrails._text import brief
from guardrails.errors import ConfigurationError
from guardrails.integrations import not_governed, reason

# The approval side has a module of its own; its names stay reachable as ``gmcp.NAME``.
from guardrails.integrations.mcp_elicitation import QUESTION as QUESTION
from guardrails.integrations.mcp_elicitation import SCHEMA as SCHEMA
from guardrails.integrations.mcp_elicitation import Ask as Ask
from guardrails.integrations.mcp_elicitation import AskTheClient as AskTheClient
from guardrails.integrations.mcp_elicitation import ElicitationApprover
from guardrails.integrations.mcp_elicitation import Exchange as Exchange
from guardrails.integrations.mcp_elicitation import asker as asker
from guardrails.integrations.mcp_elicitation import client_can_elicit as client_can_elicit
from guardrails.integrations.mcp_elicitation import input_required as input_required
from guardrails.integrations.mcp_elicitation import run_in as run_in
from guardrails.policy.decision import ActionDenied

__all__ = ["ElicitationApprover", "install", "tool_error"]

MODERN = ("2026-07-28",)  # protocol versions without server-to-client requests


def tool_error(denial: ActionDenied) -> NoReturn:
    """An ``on_deny`` hook: raise the MCP SDK's ``ToolError`` with the reason."""
    import importlib

    try:
        module = importlib.import_module("mcp.server.mcpserver.exceptions")  # mcp 2.x
    except ImportError:
        module = importlib.import_module("mcp.server.fastmcp.exceptions")  # mcp 1.x
    raise module.ToolError(f"Not done: {reason(denial)}") from None


def install(server: Any, *, allow_ungoverned: bool = False) -> Any:
    """Run each ``tools/call`` of ``server`` (2.x ``MCPServer`` or 1.x ``FastMCP``)
    inside ``context(...)`` naming its caller, with the request reachable by
    ``ElicitationApprover``. Returns the server; installing twice is installing once.

    A call to a tool whose function is not ``@governed`` is refused (the tool
    does not run) unless ``allow_ungoverned=True``: ``server.tool()`` returns
    the function it registers, so ``@governed`` put above it governs nothing
    that comes over MCP, and only the server can tell.
    """
    try:
        from mcp.server.mcpserver import MCPServer  # type: ignore[import-not-found, unused-ignore]  # 2.x only
    except ImportError:
        return _install_v1(server, allow_ungoverned)
    if not isinstance(server, MCPServer):
        raise ConfigurationError(f"gmcp.install takes an mcp MCPServer, got {brief(server)}{_HINT}")
    if not any(isinstance(m, _Middleware) for m in server.middleware):
        server.middleware.append(_Middleware(server, allow_ungoverned))
    return server


def ungoverned(tool: Any, name: str) -> str | None:
    """Why a call to ``tool`` (a registered tool, None if unknown) must not run:
    its function is not ``@governed`` (see ``not_governed``)."""
    why = not_governed(
        getattr(tool, "fn", None), name, "that comes over MCP", "install(..., allow_ungoverned=True)"
    )
    return None if why is None else f"Not run: {why}."


_HINT = " (for a fastmcp server, use guardrails.integrations.fastmcp.install)"


def _install_v1(server: Any, allow_ungoverned: bool) -> Any:
    from mcp.server.fastmcp import FastMCP  # type: ignore[attr-defined, unused-ignore]  # 1.x only
    from mcp.types import CallToolRequest

    if not isinstance(server, FastMCP):
        raise ConfigurationError(f"gmcp.install takes an mcp FastMCP, got {brief(server)}{_HINT}")
    # mcp 1.x has no middleware: its tools/call handler is the one place that
    # runs before the tool, inside the request.
    handlers = server._mcp_server.request_handlers
    handler = handlers.get(CallToolRequest)
    if handler is None:
        raise ConfigurationError(f"{brief(server)} has no tools/call handler to install on")
    if not getattr(handler, "_guardrails", False):
        handlers[CallToolRequest] = _v1_handler(server, handler, allow_ungoverned)
    return server


def _v1_handler(
    server: Any, handler: Callable[[Any], Awaitable[Any]], allow_ungoverned: bool
) -> Callable[[Any], Awaitable[Any]]:
    async def governed_call(request: Any) -> Any:
        import importlib

        from mcp.server.lowlevel.server import request_ctx  # type: ignore[attr-defined, unused-ignore]

        types: Any = importlib.import_module("mcp.types")  # 1.x's, not the 2.x stubs mypy reads

        name = request.params.name
        refusal = None if allow_ungoverned else ungoverned(server._tool_manager.get_tool(name), name)
        if refusal is not None:
            text = types.TextContent(type="text", text=refusal)
            return types.ServerResult(types.CallToolResult(content=[text], isError=True))
        result, _ = await run_in(v1_exchange(request_ctx.get()), lambda: handler(request))
        return result

    governed_call._guardrails = True  # type: ignore[attr-defined]
    return governed_call


def v1_exchange(request_context: Any) -> Exchange:
    """The exchange of an mcp 1.x request (``mcp.server.lowlevel.server.request_ctx``)."""
    from mcp.server.auth.middleware.auth_context import get_access_token

    session, request_id = request_context.session, request_context.request_id
    session_id = connection_session(session)
    can_elicit = client_can_elicit(session)
    return Exchange(
        caller(request_id, session_id, get_access_token()),
        ask=asker(session, request_id) if can_elicit else None,
        can_elicit=can_elicit,
    )


_SESSIONS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def connection_session(session: Any) -> str:
    """A ``session`` id for the client's connection, made by guardrails. Never the
    ``mcp-session-id`` header: a client can send any, and in stateless mode nothing
    checks it — a chosen session would reset per-session limits or share another's."""
    connection = getattr(session, "_connection", None)
    if connection is not None:  # mcp 2.x: one connection per client, a session object per request
        state: dict[str, str] = connection.state
        return state.setdefault("guardrails.session", uuid.uuid4().hex)
    known = _SESSIONS.get(session)  # mcp 1.x: one session object per client
    if known is None:
        known = _SESSIONS[session] = uuid.uuid4().hex
    return known


class _Middleware:
    """mcp 2.x server middleware: each ``tools/call`` in the caller's context, with its
    exchange; a tool that is not governed refused unless ``allow_ungoverned``."""

    def __init__(self, server: Any, allow_ungoverned: bool) -> None:
        self.server = weakref.ref(server)  # the server holds its middleware: no cycle
        self.allow_ungoverned = allow_ungoverned

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        server = self.server()
        name = (ctx.params or {}).get("name")
        if not self.allow_ungoverned and server is not None and isinstance(name, str):
            refusal = ungoverned(server._tool_manager.get_tool(name), name)
            if refusal is not None:
                from mcp_types import CallToolResult, TextContent  # type: ignore[import-not-found, unused-ignore]

                return CallToolResult(content=[TextContent(type="text", text=refusal)], is_error=True)
        exchange = v2_exchange(ctx)
        result, asked = await run_in(exchange, lambda: call_next(ctx))
        return input_required(exchange) if asked else result


def v2_exchange(ctx: Any) -> Exchange:
    """The exchange of an mcp 2.x request (``ServerRequestContext``)."""
    from mcp.server.auth.middleware.auth_context import get_access_token

    session = ctx.session
    modern = ctx.protocol_version in MODERN
    params = ctx.params or {}
    # On 2026-07-28 each request stands alone: no session.
    session_id = None if modern else connection_session(session)
    can_elicit = client_can_elicit(session)
    answers, state = params.get("inputResponses"), params.get("requestState")
    return Exchange(
        caller(ctx.request_id, session_id, get_access_token()),
        ask=asker(session, ctx.request_id) if can_elicit and not modern else None,
        modern=modern,
        can_elicit=can_elicit,
        answers=answers if isinstance(answers, Mapping) else None,
        state=state if isinstance(state, str) else None,
        pause=mcp_error_pause() if modern else None,
    )


_PAUSE: list[type[Exception]] = []


def mcp_error_pause() -> type[Exception]:
    """``AskTheClient`` as an ``MCPError``: mcp 2.x passes those on untouched (not
    logged as the tool's crash) to the middleware, which answers with the question."""
    if not _PAUSE:
        from mcp.shared.exceptions import MCPError  # type: ignore[attr-defined, unused-ignore]  # 2.x only

        class Pause(AskTheClient, MCPError):  # type: ignore[misc, unused-ignore]
            def __init__(self, message: str) -> None:
                MCPError.__init__(self, -32000, message)  # seen only if the middleware is missing

        _PAUSE.append(Pause)
    return _PAUSE[0]


def caller(request_id: Any, session_id: str | None, token: Any) -> dict[str, Any]:
    """The context values of a request: the access token's holder, the session, the call."""
    values: dict[str, Any] = {"tool_call_id": f"{request_id}~{uuid.uuid4().hex[:12]}"}
    if token is not None:
        values["client_id"] = token.client_id
        values["user"] = getattr(token, "subject", None) or token.client_id
        values["scopes"] = list(token.scopes)
    if session_id is not None:
        values["session"] = session_id
    return values
