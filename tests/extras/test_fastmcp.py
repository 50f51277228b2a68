"""FastMCP, against the real package through its in-memory client: the input schema
unchanged, calls governed, denials read as tool errors, the wrong order caught, a
governed tool never run as its ungoverned twin, approvals asked through elicitation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import need, run_example

import guardrails as g

need("fastmcp")

from fastmcp import Client, FastMCP  # noqa: E402
from fastmcp.client.elicitation import ElicitResult  # noqa: E402
from fastmcp.exceptions import ToolError  # noqa: E402
from fastmcp.tools import Tool  # noqa: E402

from guardrails.integrations import fastmcp as gfm  # noqa: E402

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


def server(fn: Any, gov: g.Governor | None = None, *, governed: bool = True) -> FastMCP:
    app = gfm.install(FastMCP("shop"))
    gov = gov or g.Governor(POLICY, on_deny=gfm.tool_error)
    app.tool(name="refund")(g.governed("refund", governor=gov)(fn) if governed else fn)
    return app


def calls(app: FastMCP, *args: dict[str, Any], answer: Any = None) -> list[tuple[bool, str]]:
    async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(message)
        return answer

    async def go() -> list[tuple[bool, str]]:
        async with Client(app, elicitation_handler=handler if answer is not None else None) as client:
            results = [await client.call_tool("refund", a, raise_on_error=False) for a in args]
        return [(r.is_error, r.content[0].text) for r in results]

    return asyncio.run(go())


asked: list[str] = []


def schema(app: FastMCP) -> Any:
    async def go() -> Any:
        async with Client(app) as client:
            (tool,) = await client.list_tools()
        # fastmcp 4 (mcp 2.x) renamed the field and warns on the old name
        return getattr(tool, "input_schema", None) or tool.inputSchema, tool.description

    return asyncio.run(go())


class TestTools:
    @pytest.mark.parametrize("fn", [refund, refund_async], ids=["sync", "async"])
    def test_the_schema_is_the_functions(self, fn: Any) -> None:
        assert schema(server(fn)) == schema(server(fn, governed=False))

    @pytest.mark.parametrize("fn", [refund, refund_async], ids=["sync", "async"])
    def test_calls_are_governed_and_denials_read_as_errors(self, fn: Any) -> None:
        ran: list[str] = []

        def spy(order_id: str, amount: float) -> None:
            ran.append(order_id)

        gov = g.Governor(g.Policy([g.allow("refund", when=g.arg("amount") <= 100)]), on_deny=gfm.tool_error)
        gov_fn = _spying(fn, spy)
        (allowed, denied) = calls(
            server(gov_fn, gov), {"order_id": "A-1", "amount": 5}, {"order_id": "A-2", "amount": 500}
        )
        assert allowed == (False, "refunded 5.0 on A-1")
        assert denied[0] and denied[1].startswith("Not done: no rule matched 'refund'")
        assert ran == ["A-1"]

    def test_tool_error_is_fastmcps(self) -> None:
        gov = g.Governor(g.Policy([g.deny("refund", reason="closed")]), on_deny=gfm.tool_error)
        with pytest.raises(ToolError, match=r"^Not done: closed$"):
            g.governed("refund", governor=gov)(refund)("A", 1)

    def test_wrong_order_is_caught(self) -> None:
        with pytest.raises(g.ConfigurationError, match=r"tool object of FastMCP .* @governed under it"):
            g.governed("refund")(Tool.from_function(refund))

    @pytest.mark.parametrize("install", [True, False], ids=["installed", "bare"])
    def test_governed_above_server_tool_is_refused_by_install(self, install: bool) -> None:
        """``@server.tool`` returns the function it registers: ``@governed`` above it
        governs nothing that comes over MCP. An installed server refuses the call;
        a bare one runs it ungoverned (what install() is for)."""
        ran: list[str] = []
        app = gfm.install(FastMCP("shop")) if install else FastMCP("shop")

        @g.governed("refund", governor=g.Governor(g.Policy([g.deny("refund", reason="closed")])))
        @app.tool(name="refund")
        def wrong_order(order_id: str, amount: float) -> str:
            """Refund part or all of an order."""
            ran.append(order_id)
            return "refunded"

        ((is_error, text),) = calls(app, {"order_id": "A", "amount": 1})
        if install:
            assert ran == [] and is_error
            assert "the tool 'refund' is not governed" in text and "@g.governed under it" in text
        else:
            assert ran == ["A"] and not is_error

    def test_an_older_version_left_ungoverned_is_refused(self) -> None:
        """The client picks the version it calls: each is checked, not only the newest."""
        ran: list[str] = []
        app = gfm.install(FastMCP("shop"))
        closed = g.Governor(g.Policy([g.deny("refund", reason="closed")]), on_deny=gfm.tool_error)

        @app.tool(name="refund", version="1")
        def refund_v1(order_id: str) -> str:
            ran.append("v1")
            return "refunded"

        @app.tool(name="refund", version="2")
        @g.governed("refund", governor=closed)
        def refund_v2(order_id: str) -> str:
            ran.append("v2")
            return "refunded"

        async def go() -> list[str]:
            async with Client(app) as client:
                return [
                    (await client.call_tool("refund", {"order_id": "A"}, version=v, raise_on_error=False))
                    .content[0]
                    .text
                    for v in (None, "1")
                ]

        newest, older = asyncio.run(go())
        assert ran == []
        assert newest == "Not done: closed"
        assert "the tool 'refund' is not governed" in older

    def test_allow_ungoverned_lets_a_bare_tool_run(self) -> None:
        app = gfm.install(FastMCP("shop"), allow_ungoverned=True)
        app.tool(name="refund")(refund)
        assert calls(app, {"order_id": "A", "amount": 1}) == [(False, "refunded 1.0 on A")]

    def test_install_refuses_what_is_not_a_fastmcp_server(self) -> None:
        with pytest.raises(g.ConfigurationError, match=r"gfm\.install takes a fastmcp FastMCP"):
            gfm.install(object())

    @pytest.mark.parametrize("fn", [refund, refund_async], ids=["sync", "async"])
    def test_a_governed_tool_never_runs_as_its_ungoverned_twin(self, fn: Any) -> None:
        """fastmcp caches by function: the same function governed on one server and bare on
        another stays itself on each, whichever was registered first."""
        deny_all = g.Governor(g.Policy([g.deny("refund", reason="closed")]), on_deny=gfm.tool_error)
        for governed_first in (True, False):
            plain_app = FastMCP("plain")
            governed_app = FastMCP("governed")
            order = [(governed_app, g.governed("refund", governor=deny_all)(fn)), (plain_app, fn)]
            for app, tool in order if governed_first else reversed(order):
                app.tool(name="refund")(tool)
            assert calls(governed_app, {"order_id": "A", "amount": 1}) == [(True, "Not done: closed")]
            assert calls(plain_app, {"order_id": "A", "amount": 1}) == [(False, "refunded 1.0 on A")]


def _spying(fn: Any, spy: Any) -> Any:
    if asyncio.iscoroutinefunction(fn):

        async def tool(order_id: str, amount: float) -> str:
            """Refund part or all of an order."""
            spy(order_id, amount)
            return await fn(order_id, amount)  # type: ignore[no-any-return]

        return tool

    def sync_tool(order_id: str, amount: float) -> str:
        """Refund part or all of an order."""
        spy(order_id, amount)
        return fn(order_id, amount)  # type: ignore[no-any-return]

    return sync_tool


class TestCaller:
    def test_each_call_runs_in_its_callers_context(self) -> None:
        seen: list[dict[str, Any]] = []
        app = gfm.install(FastMCP("shop"))

        @app.tool
        @g.governed("whoami", governor=g.Governor(g.Policy([g.allow("whoami")])))
        async def whoami() -> str:
            seen.append(dict(g.current_context()))
            return "ok"

        async def go() -> None:
            async with Client(app) as client:
                await client.call_tool("whoami", {})
                await client.call_tool("whoami", {})

        asyncio.run(go())
        first, second = seen
        assert first["tool_call_id"] != second["tool_call_id"] and "~" in first["tool_call_id"]
        assert first.get("session") == second.get("session")  # one session, or none on 2026-07-28
        assert "user" not in first


class TestElicitation:
    @pytest.mark.parametrize("fn", [refund, refund_async], ids=["sync", "async"])
    def test_an_approval_runs_the_call_once(self, fn: Any) -> None:
        asked.clear()
        ran: list[str] = []
        audit = g.MemoryAudit()
        gov = g.Governor(POLICY, on_deny=gfm.tool_error, approver=gfm.ElicitationApprover(), audit=audit)
        app = server(_spying(fn, lambda order_id, amount: ran.append(order_id)), gov)
        (result,) = calls(app, {"order_id": "A-3", "amount": 300}, answer={"approved": True})
        assert result == (False, "refunded 300.0 on A-3") and ran == ["A-3"]
        (question,) = asked
        assert '"amount": 300.0' in question and "refunds over 100" in question
        (started,) = [r for r in audit.records if r.outcome is g.Outcome.STARTED]
        assert started.approval is not None and started.approval.approved

    @pytest.mark.parametrize(
        ("answer", "why"),
        [
            (ElicitResult(action="decline"), "declined"),
            (ElicitResult(action="cancel"), "cancelled"),
            ({"approved": False}, "answered no"),
            (None, "the MCP client does not support elicitation"),
        ],
        ids=["decline", "cancel", "no", "unsupported"],
    )
    def test_a_refusal_is_what_the_model_reads(self, answer: Any, why: str) -> None:
        ran: list[str] = []
        gov = g.Governor(POLICY, on_deny=gfm.tool_error, approver=gfm.ElicitationApprover())
        app = server(_spying(refund_async, lambda order_id, amount: ran.append(order_id)), gov)
        ((is_error, text),) = calls(app, {"order_id": "A-4", "amount": 300}, answer=answer)
        assert is_error and text.startswith("Not done: refunds over 100; refused") and why in text
        assert ran == []


class TestExample:
    def test_fastmcp_refunds(self) -> None:
        """Offline: one refund runs, one is refused with the reason, one is approved through elicitation."""
        result, lines = run_example("fastmcp_refunds.py")
        assert result.returncode == 0, result.stderr
        assert lines == [
            "tool said: refunded 40.00 on A-1",
            "tool said: Not done: never more than 2000",
            "tool said: refunded 300.00 on A-3",
        ]
        assert "asked: Approve refund" in result.stdout and "refunds over 100" in result.stdout
