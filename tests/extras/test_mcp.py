"""MCP (the mcp SDK: 2.x MCPServer, 1.x FastMCP), against the real package through an
in-memory client: the input schema unchanged, calls governed, denials answered as tool
errors, the caller in the context, approvals asked through elicitation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import need, run_example

import guardrails as g
from guardrails.approvals.request import ApprovalRequest

need("mcp")

from guardrails.integrations import mcp as gmcp  # noqa: E402

try:  # mcp 2.x
    from mcp.client import Client
    from mcp.server.mcpserver import MCPServer as Server
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp_types import ElicitResult

    V2 = True
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server  # type: ignore[assignment]
    from mcp.server.fastmcp.exceptions import ToolError  # type: ignore[assignment,no-redef]
    from mcp.types import ElicitResult  # type: ignore[assignment,no-redef]

    V2 = False

from mcp.server.auth.middleware.auth_context import auth_context_var  # noqa: E402
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser  # noqa: E402
from mcp.server.auth.provider import AccessToken  # noqa: E402

#: How a client connects: 2.x negotiates 2026-07-28 ("auto", questions ride the call's
#: answer) or a handshake-era version ("legacy", the server asks mid-call); 1.x only the latter.
MODES = ["auto", "legacy"] if V2 else ["legacy"]

POLICY = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 1000),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large", reason="refunds over 100"),
    ]
)


def refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount} on {order_id}"


async def refund_async(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"refunded {amount} on {order_id}"


class Result:
    """A tool call's answer, the same for both SDKs."""

    def __init__(self, raw: Any) -> None:
        self.is_error = bool(raw.is_error if V2 else raw.isError)
        self.text = raw.content[0].text


class Session:
    """An in-memory client session, the same for both SDKs."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def schema(self, name: str) -> tuple[Any, Any]:
        listed = await self.client.list_tools()
        (tool,) = [t for t in listed.tools if t.name == name]
        return (tool.input_schema if V2 else tool.inputSchema), tool.description

    async def call(self, name: str, args: dict[str, Any]) -> Result:
        return Result(await self.client.call_tool(name, args))


@contextlib.asynccontextmanager
async def connect(app: Any, *, answer: Any = None, mode: str = "legacy") -> AsyncIterator[Session]:
    """A client of ``app``; ``answer`` (an ElicitResult) makes it support elicitation."""
    callback = None
    if answer is not None:

        async def callback(context: Any, params: Any) -> Any:
            asked.append(params.message)
            return answer

    if V2:
        async with Client(app, elicitation_callback=callback, mode=mode) as client:
            yield Session(client)
    else:
        from mcp.shared.memory import create_connected_server_and_client_session

        async with create_connected_server_and_client_session(app, elicitation_callback=callback) as client:
            yield Session(client)


asked: list[str] = []


def server(fn: Any, gov: g.Governor | None = None, *, governed: bool = True, install: bool = True) -> Any:
    app = Server("shop")
    if install:
        gmcp.install(app)
    gov = gov or g.Governor(POLICY, on_deny=gmcp.tool_error)
    app.tool(name="refund")(g.governed("refund", governor=gov)(fn) if governed else fn)
    return app


def calls(app: Any, *args: dict[str, Any], mode: str = "legacy", answer: Any = None) -> list[Result]:
    async def go() -> list[Result]:
        async with connect(app, answer=answer, mode=mode) as session:
            return [await session.call("refund", a) for a in args]

    return asyncio.run(go())


class TestTools:
    @pytest.mark.parametrize("fn", [refund, refund_async], ids=["sync", "async"])
    def test_the_schema_is_the_functions(self, fn: Any) -> None:
        async def schema(app: Any) -> tuple[Any, Any]:
            async with connect(app) as session:
                return await session.schema("refund")

        plain = asyncio.run(schema(server(fn, governed=False, install=False)))
        assert asyncio.run(schema(server(fn))) == plain

    @pytest.mark.parametrize("fn", [refund, refund_async], ids=["sync", "async"])
    def test_calls_are_governed_and_denials_read_as_errors(self, fn: Any) -> None:
        gov = g.Governor(g.Policy([g.allow("refund", when=g.arg("amount") <= 100)]), on_deny=gmcp.tool_error)
        allowed, denied = calls(
            server(fn, gov), {"order_id": "A-1", "amount": 5}, {"order_id": "A-2", "amount": 500}
        )
        assert not allowed.is_error and allowed.text == "refunded 5.0 on A-1"
        assert denied.is_error and "Not done: no rule matched 'refund'" in denied.text

    def test_tool_error_raises_the_sdks_tool_error(self) -> None:
        gov = g.Governor(g.Policy([g.deny("refund", reason="closed")]), on_deny=gmcp.tool_error)
        with pytest.raises(ToolError, match=r"^Not done: closed$"):
            g.governed("refund", governor=gov)(refund)("A", 1)

    def test_install_refuses_what_is_not_a_server(self) -> None:
        with pytest.raises(g.ConfigurationError, match=r"gmcp\.install takes an mcp"):
            gmcp.install(object())

    def test_install_twice_is_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A server installed twice names each call's caller once."""
        named: list[Any] = []
        real = gmcp.caller
        monkeypatch.setattr(gmcp, "caller", lambda *a: named.append(a) or real(*a))
        app = gmcp.install(server(refund))
        assert gmcp.install(app) is app
        (result,) = calls(app, {"order_id": "A", "amount": 1})
        assert not result.is_error and len(named) == 1


class TestWrongOrder:
    """``server.tool()`` returns the function it registers: ``@governed`` above it
    governs nothing that comes over MCP. ``install`` refuses such tools."""

    def wrong_order(self, ran: list[str], *, install: bool = True, **options: Any) -> Any:
        app = Server("shop")
        if install:
            gmcp.install(app, **options)
        gov = g.Governor(g.Policy([g.deny("refund", reason="closed")]))

        @g.governed("refund", governor=gov)
        @app.tool()
        def refund(order_id: str, amount: float) -> str:
            """Refund part or all of an order."""
            ran.append(order_id)
            return "refunded"

        return app

    def test_a_tool_registered_ungoverned_is_refused(self) -> None:
        ran: list[str] = []
        (result,) = calls(self.wrong_order(ran), {"order_id": "A", "amount": 1})
        assert ran == []
        assert result.is_error and "the tool 'refund' is not governed" in result.text
        assert "@g.governed under it" in result.text

    def test_without_install_it_would_have_run(self) -> None:
        """What install() prevents: the SDK runs the function it registered, ungoverned."""
        ran: list[str] = []
        (result,) = calls(self.wrong_order(ran, install=False), {"order_id": "A", "amount": 1})
        assert ran == ["A"] and not result.is_error

    def test_allow_ungoverned_lets_such_tools_run(self) -> None:
        ran: list[str] = []
        (result,) = calls(self.wrong_order(ran, allow_ungoverned=True), {"order_id": "A", "amount": 1})
        assert ran == ["A"] and not result.is_error


class TestCaller:
    def run_whoami(
        self, *, mode: str = "legacy", token: AccessToken | None = None, clients: int = 1
    ) -> list[Any]:
        seen: list[dict[str, Any]] = []
        app = Server("shop")
        gmcp.install(app)

        @app.tool()
        @g.governed("whoami", governor=g.Governor(g.Policy([g.allow("whoami")])))
        async def whoami() -> str:
            seen.append(dict(g.current_context()))
            return "ok"

        async def go() -> None:
            for _ in range(clients):
                async with connect(app, mode=mode) as session:
                    for _ in range(2):
                        assert not (await session.call("whoami", {})).is_error

        reset = auth_context_var.set(AuthenticatedUser(token)) if token is not None else None
        try:  # the server task inherits it, as from the HTTP transport's auth middleware
            asyncio.run(go())
        finally:
            if reset is not None:
                auth_context_var.reset(reset)
        return seen

    def test_a_session_per_connection_and_a_tool_call_id_per_call(self) -> None:
        """One session id for the calls of a connection, another for the next; every call its own id."""
        seen = self.run_whoami(mode="legacy", clients=2)
        sessions = [s["session"] for s in seen]
        assert sessions[0] == sessions[1] != sessions[2] == sessions[3]
        ids = [s["tool_call_id"] for s in seen]
        assert len(set(ids)) == 4 and all("~" in i for i in ids)
        assert "user" not in seen[0] and "client_id" not in seen[0]

    @pytest.mark.skipif(not V2, reason="2026-07-28 connections need mcp 2.x")
    def test_no_session_where_each_request_stands_alone(self) -> None:
        assert all("session" not in s for s in self.run_whoami(mode="auto"))

    def test_the_access_token_names_the_user(self) -> None:
        token = AccessToken(token="t", client_id="app-1", scopes=["refunds"], subject="alice")
        (first, *_) = self.run_whoami(token=token)
        assert (first["user"], first["client_id"], first["scopes"]) == ("alice", "app-1", ["refunds"])

    def test_without_a_subject_the_client_is_the_user(self) -> None:
        (first, *_) = self.run_whoami(token=AccessToken(token="t", client_id="app-1", scopes=[]))
        assert first["user"] == "app-1"

    def test_a_request_id_used_again_is_counted_again(self) -> None:
        """Two connections both number their first call alike: the same call from each counts twice."""
        gov = g.Governor(
            g.Policy(
                [g.allow("refund"), g.deny("refund", limit=g.rate(1, per="1h"), id="once", reason="once")]
            ),
            on_deny=gmcp.tool_error,
        )
        app = server(refund, gov)
        (first,) = calls(app, {"order_id": "A", "amount": 1})
        (second,) = calls(app, {"order_id": "A", "amount": 1})
        assert not first.is_error and second.is_error and "once" in second.text


def approving_server(fn: Any) -> tuple[Any, g.MemoryAudit, list[str]]:
    audit, ran = g.MemoryAudit(), []

    def record(order_id: str, amount: float) -> None:
        ran.append(order_id)

    if asyncio.iscoroutinefunction(fn):

        async def tool(order_id: str, amount: float) -> str:
            record(order_id, amount)
            return await fn(order_id, amount)  # type: ignore[no-any-return]

    else:

        def tool(order_id: str, amount: float) -> str:  # type: ignore[misc]
            record(order_id, amount)
            return fn(order_id, amount)  # type: ignore[no-any-return]

    gov = g.Governor(POLICY, on_deny=gmcp.tool_error, approver=gmcp.ElicitationApprover(), audit=audit)
    return server(tool, gov), audit, ran


class TestElicitation:
    @pytest.mark.parametrize("mode", MODES)
    def test_an_approval_runs_the_call_once(self, mode: str) -> None:
        asked.clear()
        app, audit, ran = approving_server(refund_async)
        yes = ElicitResult(action="accept", content={"approved": True})
        (result,) = calls(app, {"order_id": "A-3", "amount": 300}, mode=mode, answer=yes)
        assert not result.is_error and result.text == "refunded 300.0 on A-3"
        assert ran == ["A-3"]
        (question,) = asked
        assert "refund" in question and '"amount": 300.0' in question and "refunds over 100" in question
        (started,) = [r for r in audit.records if r.outcome is g.Outcome.STARTED]
        assert started.approval is not None and started.approval.approved
        assert started.approval.reason == "approved by the MCP client's user"

    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize(
        ("answer", "why"),
        [
            ({"action": "decline"}, "declined"),
            ({"action": "cancel"}, "cancelled"),
            ({"action": "accept", "content": {"approved": False}}, "answered no"),
        ],
        ids=["decline", "cancel", "no"],
    )
    def test_a_refusal_is_what_the_model_reads(self, mode: str, answer: dict[str, Any], why: str) -> None:
        app, audit, ran = approving_server(refund_async)
        (result,) = calls(app, {"order_id": "A-4", "amount": 300}, mode=mode, answer=ElicitResult(**answer))
        assert result.is_error and "Not done: refunds over 100; refused" in result.text and why in result.text
        assert ran == []
        assert not any(r.outcome is g.Outcome.STARTED for r in audit.records)

    @pytest.mark.parametrize("mode", MODES)
    def test_a_client_that_cannot_elicit_refuses(self, mode: str) -> None:
        app, _, ran = approving_server(refund_async)
        (result,) = calls(app, {"order_id": "A-5", "amount": 300}, mode=mode)
        assert result.is_error and "the MCP client does not support elicitation" in result.text
        assert ran == []

    def test_a_server_without_install_refuses(self) -> None:
        audit = g.MemoryAudit()
        gov = g.Governor(POLICY, on_deny=gmcp.tool_error, approver=gmcp.ElicitationApprover(), audit=audit)
        yes = ElicitResult(action="accept", content={"approved": True})
        (result,) = calls(
            server(refund_async, gov, install=False), {"order_id": "A", "amount": 300}, answer=yes
        )
        assert result.is_error and "install()" in result.text

    @pytest.mark.parametrize("mode", MODES)
    def test_a_sync_tool(self, mode: str) -> None:
        """mcp 2.x runs sync tools in worker threads, which can ask through the event loop;
        mcp 1.x runs them on the loop, where waiting would stop the server: refused."""
        app, _, ran = approving_server(refund)
        yes = ElicitResult(action="accept", content={"approved": True})
        (result,) = calls(app, {"order_id": "A-6", "amount": 300}, mode=mode, answer=yes)
        if V2:
            assert not result.is_error and ran == ["A-6"]
        else:
            assert result.is_error and "make the tool async" in result.text and ran == []

    def test_an_answer_counts_only_for_the_call_asked(self) -> None:
        """On 2026-07-28 the retry carries the answer and the state sent with the question:
        a state naming another call (another digest) asks again rather than approve."""
        decision = g.Policy([g.require_approval("refund")]).evaluate("refund", {"order_id": "A", "amount": 1})
        request = ApprovalRequest(decision.call, decision)
        yes = {gmcp.QUESTION: {"action": "accept", "content": {"approved": True}}}
        right = gmcp.Exchange(
            {}, modern=True, can_elicit=True, answers=yes, state="guardrails-approval:" + request.digest
        )
        assert right.resume(request).approved
        wrong = gmcp.Exchange(
            {}, modern=True, can_elicit=True, answers=yes, state="guardrails-approval:" + "0" * 64
        )
        with pytest.raises(gmcp.AskTheClient):
            wrong.resume(request)
        assert wrong.question is not None and wrong.question[1] == "guardrails-approval:" + request.digest


class TestExample:
    def test_mcp_refunds(self) -> None:
        """Offline: one refund runs, one is refused with the reason, one is approved through elicitation."""
        result, lines = run_example("mcp_refunds.py")
        assert result.returncode == 0, result.stderr
        assert len(lines) == 3
        assert lines[0] == "tool said: refunded 40.00 on A-1"
        assert lines[1].endswith(
            "Not done: never more than 2000"
        )  # 2.x prefixes "Error executing tool refund: "
        assert lines[2] == "tool said: refunded 300.00 on A-3"
        assert "asked: Approve refund" in result.stdout and "refunds over 100" in result.stdout


@pytest.mark.skipif(not V2, reason="2026-07-28 connections need mcp 2.x")
def test_a_session_header_the_client_chose_is_not_the_session() -> None:
    """Over streamable HTTP, a client that sends its own ``mcp-session-id`` on
    2026-07-28 requests gets no session from it: a per-session limit cannot be
    reset by sending a new one each time (the call fails closed: no session)."""
    import httpx

    policy = g.Policy(
        [g.allow("refund"), g.deny("refund", limit=g.rate(2, per="1h", key=g.ctx("session")), id="two")]
    )
    app = gmcp.install(Server("shop"))
    ran: list[Any] = []

    @app.tool()
    @g.governed("refund", governor=g.Governor(policy, on_deny=gmcp.tool_error))
    async def refund(order_id: str) -> str:
        ran.append(g.current_context().get("session"))
        return "refunded"

    version = "2026-07-28"
    meta = {
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": version,
        "mcp-method": "tools/call",
        "mcp-name": "refund",
    }

    async def go() -> list[str]:
        http = app.streamable_http_app(stateless_http=True)
        texts = []
        async with http.router.lifespan_context(http):
            transport = httpx.ASGITransport(app=http)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
                for i in range(4):
                    body = {
                        "jsonrpc": "2.0",
                        "id": i,
                        "method": "tools/call",
                        "params": {"name": "refund", "arguments": {"order_id": f"A-{i}"}, "_meta": meta},
                    }
                    reply = await client.post(
                        "/mcp", json=body, headers={**headers, "mcp-session-id": f"mine-{i}"}
                    )
                    texts.append(reply.text)
        return texts

    texts = asyncio.run(go())
    assert ran == []
    assert all("no value 'session'" in text for text in texts), texts
