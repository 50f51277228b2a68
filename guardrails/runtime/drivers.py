"""The steps a call's flow hands to its driver, and the drivers.

``call_flow`` is a generator: it yields a step when it needs the outside
world and receives the step's result (or its exception). Each step knows how
to run synchronously and asynchronously; ``drive_sync`` and ``drive_async``
drive the flow, ``run_reserved`` and ``run_reserved_async`` its fast exit for
a call with limits. They are the only places that differ between sync and
async tools.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator, Mapping
from typing import Any, Protocol

from guardrails.approvals.ask import async_hook_error, discard
from guardrails.policy.decision import ActionDenied
from guardrails.runtime.limiter import Reserved, settle

__all__ = [
    "HandleDenial",
    "Raised",
    "RunTool",
    "Step",
    "drive_async",
    "drive_sync",
    "run_reserved",
    "run_reserved_async",
]

Tool = Callable[..., Any]
#: What on_deny usually returns: exact types that are never awaitable.
_PLAIN = frozenset({str, dict, list, tuple, int, float, bool, type(None)})


class Step(Protocol):
    """Something the flow needs done outside itself (``AskApprover``, ``RunTool``, ``HandleDenial``)."""

    def run_sync(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any: ...

    async def run_async(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any: ...


class Raised:
    """What a tool raised, carried out of the flow untouched.

    Raising it inside the flow's generator would turn a ``StopIteration``
    into a ``RuntimeError``; the driver raises it instead.
    """

    __slots__ = ("exception",)

    def __init__(self, exception: BaseException) -> None:
        self.exception = exception


class RunTool:
    """Run the governed function itself; what it raises comes back as ``Raised``.

    ``arguments`` (``(args, kwargs)``) replace the caller's: an approver changed them.
    """

    __slots__ = ("arguments",)

    def __init__(self, arguments: tuple[tuple[Any, ...], Mapping[str, Any]] | None = None) -> None:
        self.arguments = arguments

    def run_sync(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        if self.arguments is not None:
            args, kwargs = self.arguments
        try:
            return tool(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - recorded by the flow, re-raised by the driver
            return Raised(exc)

    async def run_async(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        if self.arguments is not None:
            args, kwargs = self.arguments
        try:
            return await tool(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - recorded by the flow, re-raised by the driver
            return Raised(exc)


class HandleDenial:
    """Give a denial to ``on_deny``; what it returns goes to the caller."""

    __slots__ = ("on_deny", "denial")

    def __init__(self, on_deny: Callable[[ActionDenied], Any], denial: ActionDenied) -> None:
        self.on_deny = on_deny
        self.denial = denial

    def run_sync(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        # An async on_deny only makes a coroutine here (its body does not run), which
        # is closed unawaited: the same refusal as asking first, without inspecting
        # the hook on every denial.
        value = self.on_deny(self.denial)
        if type(value) not in _PLAIN and inspect.isawaitable(value):
            discard(value)
            raise async_hook_error("on_deny", self.on_deny, self.denial.call.action)
        return value

    async def run_async(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        value = self.on_deny(self.denial)
        return (await value) if inspect.isawaitable(value) else value


def drive_sync(
    flow: Generator[Step, Any, Any], tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Any:
    """Run a flow to its end, doing each step synchronously."""
    send: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.send(send) if error is None else flow.throw(error)
        except StopIteration as stop:
            result = stop.value
            break
        send = error = None
        try:
            send = step.run_sync(tool, args, kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the flow, which decides
            error = exc
    if type(result) is Raised:
        raise result.exception
    return result


async def drive_async(
    flow: Generator[Step, Any, Any], tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Any:
    """Run a flow to its end, awaiting each step."""
    send: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.send(send) if error is None else flow.throw(error)
        except StopIteration as stop:
            result = stop.value
            break
        send = error = None
        try:
            send = await step.run_async(tool, args, kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the flow, which decides
            error = exc
    if type(result) is Raised:
        raise result.exception
    return result


def run_reserved(reserved: Reserved, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """Run the tool with its share of its limits reserved (``reserve_quickly``): used
    if it returns, given back if it raises."""
    store, token, keys, call = reserved
    try:
        result = tool(*args, **kwargs)
    except BaseException:
        settle(store, "release", token, keys, call)  # a failed tool uses up nothing
        raise
    settle(store, "commit", token, keys, call)
    return result


async def run_reserved_async(
    reserved: Reserved, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Any:
    """Await the tool with its share of its limits reserved (``reserve_quickly``): used
    if it returns, given back if it raises."""
    store, token, keys, call = reserved
    try:
        result = await tool(*args, **kwargs)
    except BaseException:
        settle(store, "release", token, keys, call)  # a failed tool uses up nothing
        raise
    settle(store, "commit", token, keys, call)
    return result
