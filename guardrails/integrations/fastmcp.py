"""FastMCP (the ``fastmcp`` package): denials the client's model can read, who is
calling in the context, approvals asked of the client's user through elicitation.

    from fastmcp import FastMCP
    from guardrails.integrations import fastmcp as gfm

    gov = g.Governor(policy, on_deny=gfm.tool_error, approver=gfm.ElicitationApprover())
    server = gfm.install(FastMCP("shop"))

    @server.tool               # the framework's decorator outermost
    @g.governed(governor=gov)  # guardrails' under it: the input schema stays the function's
    async def refund(order_id: str, amount: float) -> str: ...

``tool_error`` raises FastMCP's ``ToolError`` with the denial's reason: the
client's model reads it as the tool's error. ``install`` adds a middleware
that runs each ``tools/call`` inside ``context(...)`` with what the server
knows of its caller (``user``, ``client_id``, ``scopes`` from the access
token; ``session``; ``tool_call_id``), as ``guardrails.integrations.mcp.install``
does for the SDK's own servers, and lets ``ElicitationApprover`` (the same
class) ask the client: by ``elicitation/create`` on handshake-era connections,
by answering the call with the question on 2026-07-28 ones (fastmcp 3+ on mcp 2.x).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from guardrails._text import brief
from guardrails.errors import ConfigurationError
from guardrails.integrations import reason
from guardrails.integrations.mcp import MODERN, caller, connection_session, ungoverned
from guardrails.integrations.mcp_elicitation import (
    AskTheClient,
    ElicitationApprover,
    Exchange,
    asker,
    client_can_elicit,
    input_required,
    run_in,
)
from guardrails.policy.decision import ActionDenied

__all__ = ["ElicitationApprover", "install", "tool_error"]


def tool_error(denial: ActionDenied) -> NoReturn:
    """An ``on_deny`` hook: raise FastMCP's ``ToolError`` with the reason the model should read."""
    from fastmcp.exceptions import ToolError

    raise ToolError(f"Not done: {reason(denial)}") from None


def install(server: Any, *, allow_ungoverned: bool = False) -> Any:
    """Add guardrails' middleware to a ``fastmcp.FastMCP`` server: each ``tools/call``
    runs inside ``context(...)`` naming its caller, with the request reachable by
    ``ElicitationApprover``. Returns the server; installing twice is installing once.

    A call to a tool whose function is not ``@governed`` is refused (the tool
    does not run) unless ``allow_ungoverned=True``: ``@server.tool`` returns the
    function it registers, so ``@governed`` put above it governs nothing that
    comes over MCP, and only the server can tell.
    """
    from fastmcp import FastMCP

    if not isinstance(server, FastMCP):
        raise ConfigurationError(
            f"gfm.install takes a fastmcp FastMCP, got {brief(server)} "
            "(for the mcp SDK's own servers, use guardrails.integrations.mcp.install)"
        )
    kind = _middleware_class()
    if not any(isinstance(m, kind) for m in server.middleware):
        server.add_middleware(kind(allow_ungoverned))
    return server


_CLASS: list[type] = []


def _middleware_class() -> type:
    if not _CLASS:
        from fastmcp.server.middleware import Middleware

        class GuardrailsMiddleware(Middleware):  # type: ignore[misc, unused-ignore]
            """Runs each ``tools/call`` in its caller's context, with its exchange;
            a tool that is not governed refused unless ``allow_ungoverned``."""

            def __init__(self, allow_ungoverned: bool) -> None:
                self.allow_ungoverned = allow_ungoverned

            async def on_call_tool(self, context: Any, call_next: Any) -> Any:
                ctx = context.fastmcp_context
                if not self.allow_ungoverned and ctx is not None:
                    refusal = await _refusal(ctx.fastmcp, context.message)
                    if refusal is not None:
                        from fastmcp.exceptions import ToolError

                        raise ToolError(refusal)
                if ctx is None or ctx.request_context is None:  # not a client's request: nobody to name
                    return await call_next(context)
                exchange = _exchange(ctx)
                result, asked = await run_in(exchange, lambda: call_next(context))
                if asked:
                    from fastmcp.tools.base import InputRequiredToolResult

                    return InputRequiredToolResult(input_required(exchange))
                return result

        _CLASS.append(GuardrailsMiddleware)
    return _CLASS[0]


async def _refusal(server: Any, message: Any) -> str | None:
    """Why the tool a ``tools/call`` names must not run: it is not governed, or it
    cannot be found to be checked (a name only the dispatcher resolves)."""
    name = message.name
    tool = await server.get_tool(name, version=_version(getattr(message, "meta", None)))
    if tool is None:
        return (
            f"Not run: the tool {name!r} could not be checked for @governed; "
            "install(..., allow_ungoverned=True) to call it"
        )
    return ungoverned(tool, name)


def _version(meta: Any) -> Any:
    """The version the call asks for (``_meta.fastmcp.version``), as FastMCP reads it:
    the check must look at the version that will run, not the newest."""
    from fastmcp.utilities.versions import VersionSpec

    if meta is not None and not isinstance(meta, Mapping) and callable(getattr(meta, "model_dump", None)):
        meta = meta.model_dump()  # mcp 1.x: a model with the extra fields, not a dict
    wanted = meta.get("fastmcp") if isinstance(meta, Mapping) else None
    version = wanted.get("version") if isinstance(wanted, Mapping) else None
    if isinstance(version, str):
        return VersionSpec(eq=version)
    if isinstance(version, Mapping):
        parts = {k: version.get(k) for k in ("gte", "lt", "eq")}
        if all(v is None or isinstance(v, str) for v in parts.values()):
            return VersionSpec(**parts)
        return VersionSpec(eq="\x00unreadable")  # matches nothing: refused as not found
    return None


def _exchange(ctx: Any) -> Exchange:
    """The exchange of a fastmcp request, from its ``Context``."""
    from fastmcp.server.dependencies import get_access_token

    modern = getattr(ctx.request_context, "protocol_version", None) in MODERN  # fastmcp 3+ on mcp 2.x
    session = ctx.session
    can_elicit = client_can_elicit(session)
    request_id = ctx.request_context.request_id
    return Exchange(
        # one session per client connection (never a header the client sends); none on 2026-07-28
        caller(request_id, None if modern else connection_session(session), get_access_token()),
        ask=asker(session, request_id) if can_elicit and not modern else None,
        modern=modern,
        can_elicit=can_elicit,
        answers=ctx.input_responses if modern else None,
        state=ctx.request_state if modern else None,
        pause=_pause() if modern else None,
    )


_PAUSE: list[type[Exception]] = []


def _pause() -> type[Exception]:
    """``AskTheClient`` as a ``FastMCPError``: fastmcp passes those on to the middleware
    logging one line (at DEBUG), not the traceback of a crashed tool."""
    if not _PAUSE:
        import logging

        from fastmcp.exceptions import FastMCPError

        class Pause(AskTheClient, FastMCPError):
            def __init__(self, message: str) -> None:
                FastMCPError.__init__(self, message, log_level=logging.DEBUG)

        _PAUSE.append(Pause)
    return _PAUSE[0]
