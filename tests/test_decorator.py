"""@governed: forms, transparency, identity, methods, async, argument binding."""

from __future__ import annotations

import asyncio
import copy
import gc
import inspect
import pickle
import warnings
from typing import Any

import pytest

import guardrails as g

ran: list[tuple[str, Any]] = []
everything = g.Governor(g.Policy([g.allow("*")]))


@g.governed(governor=everything)
def module_tool(x: int) -> int:
    """A module-level tool, for pickling."""
    return x


def small_refunds() -> g.Governor:
    return g.Governor(g.Policy([g.allow("refund", when=g.arg("amount") <= 100)]))


class TestForms:
    def test_bare(self) -> None:
        """@governed without parentheses uses the function name and the default governor."""

        @g.governed
        def lookup(q: str) -> str:
            return q

        g.configure(policy=g.Policy([g.allow("lookup")]))
        assert lookup("x") == "x"

    def test_empty_parentheses(self) -> None:
        """@governed() is the same as @governed."""

        @g.governed()
        def lookup(q: str) -> str:
            return q

        g.configure(policy=g.Policy([g.allow("lookup")]))
        assert lookup("x") == "x"

    def test_named(self) -> None:
        """@governed("name") and @governed(action="name") set the action."""
        gov = g.Governor(g.Policy([g.allow("payments.refund")]))

        @g.governed("payments.refund", governor=gov)
        def refund_a() -> str:
            return "a"

        @g.governed(action="payments.refund", governor=gov)
        def refund_b() -> str:
            return "b"

        assert refund_a() == "a"
        assert refund_b() == "b"

    def test_default_governor_read_at_call_time(self) -> None:
        """Configuring the default governor after decorating takes effect."""

        @g.governed
        def tool() -> str:
            return "ran"

        with pytest.raises(g.ActionDenied, match="no policy is configured"):
            tool()
        g.configure(policy=g.Policy([g.allow("tool")]))
        assert tool() == "ran"

    @pytest.mark.parametrize(
        "make",
        [
            lambda: g.governed("a", action="b"),
            lambda: g.governed("send email"),
            lambda: g.governed("payments.*"),
            lambda: g.governed(""),
            lambda: g.governed(governor="gov"),  # type: ignore[call-overload]
            lambda: g.governed(5),  # type: ignore[call-overload]
            lambda: g.governed(len, governor=everything),  # type: ignore[call-overload]
        ],
    )
    def test_contradictions_rejected_when_applied(self, make: Any) -> None:
        """Bad options are refused when the decorator is written, not when the tool is called."""
        with pytest.raises(g.ConfigurationError):
            make()(lambda: None)

    def test_not_a_function(self) -> None:
        """Classes and non-callables cannot be governed."""
        with pytest.raises(g.ConfigurationError):
            g.governed(int)
        with pytest.raises(g.ConfigurationError):
            g.governed()(42)

    def test_generators_are_refused(self) -> None:
        """A generator's body runs after the call returns, out of the decision's reach: refused."""

        def lines() -> Any:
            yield "x"

        async def stream() -> Any:
            yield "x"

        for func in (lines, stream):
            with pytest.raises(g.ConfigurationError, match="generator"):
                g.governed(governor=everything)(func)

    def test_lambda_needs_a_name(self) -> None:
        """A lambda has no usable name: it must be given one."""
        with pytest.raises(g.ConfigurationError, match="pass @governed"):
            g.governed(lambda: None)
        assert g.governed("named", governor=everything)(lambda: 1)() == 1


class TestTransparency:
    def test_metadata_kept(self) -> None:
        """Name, docstring, annotations, qualname, module and signature are the function's."""

        def send_email(to: str, subject: str, body: str = "") -> str:
            """Send an e-mail."""
            return to

        governed = g.governed(governor=everything)(send_email)
        assert governed.__name__ == "send_email"
        assert governed.__doc__ == "Send an e-mail."
        assert governed.__annotations__ == send_email.__annotations__
        assert governed.__qualname__ == send_email.__qualname__
        assert governed.__module__ == send_email.__module__
        assert inspect.signature(governed) == inspect.signature(send_email)
        assert str(inspect.signature(governed)) == str(inspect.signature(send_email))
        assert not inspect.iscoroutinefunction(governed)

    def test_async_metadata(self) -> None:
        """An async tool stays a coroutine function to inspect and asyncio."""

        async def fetch(url: str) -> str:
            return url

        governed = g.governed(governor=everything)(fetch)
        assert inspect.iscoroutinefunction(governed)
        assert asyncio.iscoroutinefunction(governed)
        assert inspect.signature(governed) == inspect.signature(fetch)

    def test_return_value_and_exceptions_pass_through(self) -> None:
        """An allowed tool's result and exceptions reach the caller unchanged."""

        @g.governed(governor=everything)
        def div(a: int, b: int) -> float:
            return a / b

        assert div(1, 2) == 0.5
        with pytest.raises(ZeroDivisionError):
            div(1, 0)

    def test_wrong_call_is_a_type_error_and_does_not_run(self) -> None:
        """Calling a tool with arguments Python would refuse raises TypeError, tool not run."""
        calls = []

        @g.governed(governor=everything)
        def tool(a: int) -> None:
            calls.append(a)

        with pytest.raises(TypeError, match="unexpected keyword argument 'b'"):
            tool(1, b=2)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            tool()  # type: ignore[call-arg]
        assert calls == []


class TestIdentity:
    def test_equal_only_to_itself(self) -> None:
        """The governed tool is not equal to, and does not hash like, the raw function."""

        def raw() -> None:
            pass

        governed = g.governed(governor=everything)(raw)
        assert governed == governed
        assert governed != raw
        assert raw != governed
        cache = {raw: "ungoverned"}
        assert governed not in cache
        assert {governed: 1}[governed] == 1

    def test_copy_and_deepcopy(self) -> None:
        """Copies are the governed tool itself, as for functions."""
        assert copy.copy(module_tool) is module_tool
        assert copy.deepcopy(module_tool) is module_tool
        assert copy.deepcopy({"tool": module_tool})["tool"] is module_tool

    def test_pickle_by_qualified_name(self) -> None:
        """Pickling stores a reference, and loading gives back the governed tool."""
        for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
            assert pickle.loads(pickle.dumps(module_tool, protocol)) is module_tool


class Shop:
    def __init__(self) -> None:
        self.refunded: list[float] = []

    @g.governed(governor=small_refunds())
    def refund(self, amount: float) -> str:
        self.refunded.append(amount)
        return f"refunded {amount}"

    @g.governed("refund", governor=small_refunds())
    @classmethod
    def class_refund(cls, amount: float) -> str:
        return f"class {amount}"

    @classmethod
    @g.governed("refund", governor=small_refunds())
    def class_refund_inner(cls, amount: float) -> str:
        return f"inner {amount}"

    @g.governed("refund", governor=small_refunds())
    @staticmethod
    def static_refund(amount: float) -> str:
        return f"static {amount}"

    @staticmethod
    @g.governed("refund", governor=small_refunds())
    def static_refund_inner(amount: float) -> str:
        return f"static inner {amount}"


class Account:
    """A module-level class, so that its governed methods can be pickled."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tools = [self.withdraw]

    @g.governed(governor=everything)
    def withdraw(self, amount: int) -> str:
        """Withdraw money."""
        return f"withdrew {amount} from {self.name}"

    @g.governed(governor=everything)
    async def deposit(self, amount: int) -> str:
        return f"deposited {amount}"


class TestMethods:
    def test_method_metadata(self) -> None:
        """Governed methods keep their name, docstring, signature and coroutine-ness."""
        account = Account("a")
        assert account.withdraw.__name__ == "withdraw"
        assert account.withdraw.__doc__ == "Withdraw money."
        assert str(inspect.signature(account.withdraw)) == str(
            inspect.signature(Account("raw").withdraw.__wrapped__)
        )
        assert inspect.iscoroutinefunction(account.deposit)
        assert not inspect.iscoroutinefunction(account.withdraw)

    def test_bound_methods_pickle(self) -> None:
        """A governed method bound to an object pickles like a bound method: with its object."""
        account = Account("savings")
        again = pickle.loads(pickle.dumps(account.withdraw))
        assert again(5) == "withdrew 5 from savings"
        assert pickle.loads(pickle.dumps(Account.withdraw))(account, 1) == "withdrew 1 from savings"

    def test_deepcopy_rebinds_to_the_copy(self) -> None:
        """Deep-copying an object that holds its governed methods binds them to the copy."""
        original = Account("original")
        clone = copy.deepcopy(original)
        clone.name = "clone"
        assert clone.tools[0](5) == "withdrew 5 from clone"
        assert original.tools[0](5) == "withdrew 5 from original"
        assert copy.copy(original.withdraw) == original.withdraw

    def test_instance_method(self) -> None:
        """Methods are judged on their arguments; self is not one of them."""
        shop = Shop()
        assert shop.refund(50) == "refunded 50"
        assert Shop.refund(shop, 60) == "refunded 60"
        with pytest.raises(g.ActionDenied) as info:
            shop.refund(amount=500)
        assert dict(info.value.call.args) == {"amount": 500}
        assert shop.refunded == [50, 60]

    @pytest.mark.parametrize(
        "name", ["class_refund", "class_refund_inner", "static_refund", "static_refund_inner"]
    )
    def test_class_and_static_methods(self, name: str) -> None:
        """classmethods and staticmethods are governed in either decorator order."""
        for target in (Shop, Shop()):
            method = getattr(target, name)
            assert method(10).endswith("10")
            with pytest.raises(g.ActionDenied) as info:
                method(1000)
            assert info.value.call.args["amount"] == 1000

    def test_bound_methods_compare_like_methods(self) -> None:
        """The same method of the same object is equal; of another object, not."""
        a, b = Shop(), Shop()
        assert a.refund == a.refund
        assert hash(a.refund) == hash(a.refund)
        assert a.refund != b.refund


class TestArguments:
    def test_positional_keyword_default_judged_alike(self) -> None:
        """A value is judged the same however it is passed."""
        gov = g.Governor(
            g.Policy([g.allow("pay", when=(g.arg("amount") <= 100) & (g.arg("currency") == "EUR"))])
        )

        @g.governed(governor=gov)
        def pay(to: str, amount: float, currency: str = "EUR") -> str:
            return "paid"

        assert pay("a", 50) == "paid"
        assert pay("a", amount=50) == "paid"
        assert pay(to="a", amount=50, currency="EUR") == "paid"
        for call in (lambda: pay("a", 500), lambda: pay("a", amount=500), lambda: pay("a", 50, "USD")):
            with pytest.raises(g.ActionDenied):
                call()

    def test_no_signature_bind_per_call(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Calls are bound by the binder compiled at decoration, not by Signature.bind."""

        @g.governed(governor=everything)
        def pay(to: str, amount: float = 1.0) -> str:
            return to

        def forbidden(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("Signature.bind called on the hot path")

        monkeypatch.setattr(inspect.Signature, "bind", forbidden)
        assert pay("a") == "a"
        assert pay(to="b", amount=2) == "b"

    def test_kwargs_tools_are_judged_by_name(self) -> None:
        """Arguments collected by **kwargs can be named by a policy."""
        gov = g.Governor(
            g.Policy([g.deny("call_api", when=g.arg("method") == "DELETE"), g.allow("call_api")])
        )

        @g.governed(governor=gov)
        def call_api(url: str, **options: Any) -> str:
            return "ok"

        assert call_api("u", method="GET") == "ok"
        with pytest.raises(g.ActionDenied):
            call_api("u", method="DELETE")


class TestAsync:
    def test_async_allowed_and_denied(self) -> None:
        """An async tool runs when allowed and raises without running when denied."""
        ran_with: list[float] = []

        @g.governed("refund", governor=small_refunds())
        async def refund(amount: float) -> str:
            ran_with.append(amount)
            return "ok"

        assert asyncio.run(refund(5)) == "ok"
        with pytest.raises(g.ActionDenied):
            asyncio.run(refund(500))
        assert ran_with == [5]

    def test_async_method(self) -> None:
        """Async methods are governed too."""

        class Bank:
            @g.governed("refund", governor=small_refunds())
            async def refund(self, amount: float) -> float:
                return amount

        assert asyncio.run(Bank().refund(7)) == 7
        with pytest.raises(g.ActionDenied):
            asyncio.run(Bank().refund(700))


class AsyncShop:
    @g.governed("shop.refund")
    async def refund(self, amount: int) -> int:
        return amount


@pytest.mark.parametrize("make", ["function", "method"])
def test_an_async_tool_never_awaited_is_reported_under_its_own_name(make: str) -> None:
    """Python warns about a coroutine never awaited by its function's name: the
    tool's, not the wrapper's (``_async_wrapper.<locals>.wrapper``)."""

    @g.governed("refund")
    async def refund(amount: int) -> int:
        return amount

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if make == "function":
            refund(5)
        else:
            AsyncShop().refund(5)
        gc.collect()
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    expected = (
        "test_an_async_tool_never_awaited_is_reported_under_its_own_name.<locals>.refund"
        if make == "function"
        else "AsyncShop.refund"
    )
    assert messages == [f"coroutine {expected!r} was never awaited"]
    assert refund.__name__ == "refund" and inspect.iscoroutinefunction(refund)
