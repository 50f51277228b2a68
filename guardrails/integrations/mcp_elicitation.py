"""Approvals asked of an MCP client's user, through elicitation.

One ``tools/call`` under way is an ``Exchange``: who calls, how to ask them
back, and on 2026-07-28 connections the answer its retry carried.
``run_in`` runs the rest of the call with its exchange reachable by
``ElicitationApprover``, which asks and reads the answer. The servers'
sides (``guardrails.integrations.mcp`` for the SDK's own, ``.fastmcp``)
make the exchange from their requests and install ``run_in`` around
each call; users reach these names there, as ``gmcp.ElicitationApprover``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

from guardrails._text import brief
from guardrails.approvals.request import ApprovalRequest, ApprovalResponse, PauseRun
from guardrails.call_context import context
from guardrails.integrations import payload

__all__ = [
    "QUESTION",
    "SCHEMA",
    "Ask",
    "AskTheClient",
    "ElicitationApprover",
    "Exchange",
    "asker",
    "client_can_elicit",
    "input_required",
    "run_in",
]

#: The key of guardrails' question among a call's ``input_requests``.
QUESTION = "guardrails.approval"
#: What the client's user fills in: one yes/no.
SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "title": "Approve", "description": "Let this call run?"},
    },
    "required": ["approved"],
}
_STATE = "guardrails-approval:"  # + the request's digest

#: Asks the client one question (legacy elicitation): ``(message, schema) -> (action, content)``.
Ask = Callable[[str, Mapping[str, Any]], Awaitable[tuple[str, Any]]]


class AskTheClient(Exception):
    """The call is answered with a question (2026-07-28): the tool did not run."""


class Exchange:
    """One ``tools/call`` under way: who calls, and how to ask them back.

    ``ask`` sends a question and waits (handshake-era connections whose client
    can elicit; else None). ``modern``: the question rides the call's answer
    instead, and ``answers``/``state`` are what the client's retry carried.
    """

    __slots__ = ("identity", "ask", "modern", "can_elicit", "answers", "state", "question", "pause")

    def __init__(
        self,
        identity: dict[str, Any],
        *,
        ask: Ask | None = None,
        modern: bool = False,
        can_elicit: bool = False,
        answers: Mapping[str, Any] | None = None,
        state: str | None = None,
        pause: type[Exception] | None = None,
    ) -> None:
        self.identity = identity
        self.ask = ask
        self.modern = modern
        self.can_elicit = can_elicit
        self.answers = answers or {}
        self.state = state
        #: Set when the call is answered with a question: (message, state).
        self.question: tuple[str, str] | None = None
        self.pause = pause or AskTheClient

    def resume(self, request: ApprovalRequest) -> ApprovalResponse:
        """The client's answer to ``request`` carried by this retry, or raise to ask it."""
        state = _STATE + request.digest
        answer = self.answers.get(QUESTION)
        # The SDK seals the state it sent and binds it to the tool, arguments and
        # caller; matching the digest too, an answer counts only for the call asked.
        if self.state == state and answer is not None:
            return _response(_field(answer, "action"), _field(answer, "content"))
        self.question = (_message(request), state)
        raise self.pause(f"{request.action!r} waits for the MCP client's answer to an approval request")


_EXCHANGE: ContextVar[Exchange | None] = ContextVar("guardrails_mcp_exchange", default=None)


async def run_in(exchange: Exchange, call_next: Callable[[], Awaitable[Any]]) -> tuple[Any, bool]:
    """Run the rest of a ``tools/call`` in its caller's context: its result, and
    whether the call is to be answered with guardrails' question instead."""
    token = _EXCHANGE.set(exchange)
    try:
        async with context(**exchange.identity):
            return await call_next(), False
    except Exception:
        if exchange.question is None:
            raise
        return None, True  # the approver asked (the SDK may have wrapped its pause): the tool did not run
    finally:
        _EXCHANGE.reset(token)


def client_can_elicit(session: Any) -> bool:
    """Whether the client declared the elicitation capability (mcp 2.x or 1.x session)."""
    capabilities = getattr(session, "client_capabilities", None)
    if capabilities is None:
        params = getattr(session, "client_params", None)
        capabilities = getattr(params, "capabilities", None)
    return getattr(capabilities, "elicitation", None) is not None


def input_required(exchange: Exchange) -> Any:
    """The answer to a call that waits for the client (2026-07-28): guardrails' question."""
    from mcp_types import (  # type: ignore[import-not-found, unused-ignore]  # 2.x only
        ElicitRequest,
        ElicitRequestFormParams,
        InputRequiredResult,
    )

    assert exchange.question is not None
    message, state = exchange.question
    question = ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=dict(SCHEMA)))
    return InputRequiredResult(input_requests={QUESTION: question}, request_state=state)


def asker(session: Any, request_id: Any) -> Ask:
    """Ask through ``session`` (mcp 2.x or 1.x), as part of request ``request_id``."""

    async def ask(message: str, schema: Mapping[str, Any]) -> tuple[str, Any]:
        send = getattr(session, "elicit_form", None) or session.elicit  # 2.x, 1.x
        result = await send(message, dict(schema), request_id)
        return result.action, result.content

    return ask


class ElicitationApprover:
    """Asks the MCP client's user, through elicitation, whether a call may run.

    The question shows the action, its arguments as the audit trail shows them
    (secrets redacted) and why it needs approval, and takes one yes/no. Accepted
    with yes: approved. Declined, cancelled, no, a client that cannot elicit, a
    call that did not come through ``install``-ed server: refused, saying why.

    Async tools can always ask. A sync tool can when the SDK runs it in a worker
    thread (mcp 2.x, fastmcp) or the connection is 2026-07-28; on mcp 1.x a sync
    tool runs on the event loop, where waiting for the client would stop the
    server: the call is refused, with a message saying to make the tool async.
    """

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse | Awaitable[ApprovalResponse]:
        exchange = _EXCHANGE.get()
        if exchange is None:
            return _refuse("it did not come through a server with guardrails' MCP install()")
        if not exchange.can_elicit:
            return _refuse("the MCP client does not support elicitation")
        if exchange.modern:
            try:
                return exchange.resume(request)
            except AskTheClient as question:  # the call's answer is the question: a pause, not a failure
                raise PauseRun(question) from None
        if exchange.ask is None:  # pragma: no cover - every handshake-era exchange that can elicit asks
            return _refuse("this MCP connection cannot ask the client")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return _from_worker_thread(exchange, request)
        return _ask(exchange, request)

    def __repr__(self) -> str:
        return "ElicitationApprover()"


def _from_worker_thread(exchange: Exchange, request: ApprovalRequest) -> ApprovalResponse:
    """Ask from a sync tool in a worker thread: through the event loop that started it."""
    import anyio.from_thread

    try:
        return anyio.from_thread.run(_ask, exchange, request)
    except RuntimeError as exc:  # not a thread anyio started: no loop to ask through
        return _refuse(f"a sync tool in this thread cannot ask the MCP client ({exc})")


async def _ask(exchange: Exchange, request: ApprovalRequest) -> ApprovalResponse:
    assert exchange.ask is not None
    try:
        action, content = await exchange.ask(_message(request), SCHEMA)
    except Exception as exc:  # noqa: BLE001 - a question that fails is a refusal
        return _refuse(f"asking the MCP client failed ({type(exc).__name__}: {exc})")
    return _response(action, content)


def _message(request: ApprovalRequest) -> str:
    shown = payload(request)
    args = json.dumps(shown["args"], ensure_ascii=False, default=str)
    return (
        f"Approve {shown['action']} {args}?\n"
        f"It needs approval: {shown['reason']} (rule {shown['rule_id']!r})."
    )


def _response(action: Any, content: Any) -> ApprovalResponse:
    if action == "accept":
        if isinstance(content, Mapping) and content.get("approved") is True:
            return ApprovalResponse(True, reason="approved by the MCP client's user")
        return ApprovalResponse(False, reason="the MCP client's user answered no")
    if action in ("decline", "cancel"):
        done = {"decline": "declined", "cancel": "cancelled"}[action]
        return ApprovalResponse(False, reason=f"the MCP client's user {done} the approval request")
    return ApprovalResponse(False, reason=f"the MCP client answered {brief(action)}")


def _refuse(why: str) -> ApprovalResponse:
    return ApprovalResponse(False, reason=f"not asked: {why}")


def _field(answer: Any, name: str) -> Any:
    return answer.get(name) if isinstance(answer, Mapping) else getattr(answer, name, None)
