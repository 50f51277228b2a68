"""The steps a call's flow hands to its driver, and the two drivers.

``Governor.flow`` is a generator: it yields a step when it needs the outside
world and receives the step's result (or its exception). Each step knows how
to run synchronously and asynchronously; ``drive_sync`` and ``drive_async``
are the only places that differ between sync and async tools.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Generator, Mapping
from typing import Any

from guardrails.approvals import ApprovalRequest, Approver
from guardrails.errors import ActionDenied, ConfigurationError
from guardrails.values import brief

__all__ = ["AskApprover", "HandleDenial", "Raised", "RunTool", "Step", "drive_async", "drive_sync"]

Tool = Callable[..., Any]


class Step:
    """Something the flow needs done outside itself."""

    __slots__ = ()

    def run_sync(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    async def run_async(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        raise NotImplementedError


class Raised:
    """What a tool raised, carried out of the flow untouched.

    Raising it inside the flow's generator would turn a ``StopIteration``
    into a ``RuntimeError``; the driver raises it instead.
    """

    __slots__ = ("exception",)

    def __init__(self, exception: BaseException) -> None:
        self.exception = exception


class RunTool(Step):
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


class AskApprover(Step):
    """Ask the approver about a request; a timeout raises ``TimeoutError``."""

    __slots__ = ("approver", "request", "timeout")

    def __init__(self, approver: Approver, request: ApprovalRequest, timeout: float | None) -> None:
        self.approver = approver
        self.request = request
        self.timeout = timeout

    def run_sync(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        if inspect.iscoroutinefunction(self.approver):
            raise _async_hook_error("approver", self.approver, self.request.action)
        answer = self.approver(self.request)
        if inspect.isawaitable(answer):
            _discard(answer)
            raise _async_hook_error("approver", self.approver, self.request.action)
        return answer

    async def run_async(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        answer = self.approver(self.request)
        if inspect.isawaitable(answer):
            if self.timeout is None:
                return await answer
            return await asyncio.wait_for(_awaited(answer), self.timeout)
        return answer


class HandleDenial(Step):
    """Give a denial to ``on_deny``; what it returns goes to the caller."""

    __slots__ = ("on_deny", "denial")

    def __init__(self, on_deny: Callable[[ActionDenied], Any], denial: ActionDenied) -> None:
        self.on_deny = on_deny
        self.denial = denial

    def run_sync(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        if inspect.iscoroutinefunction(self.on_deny):
            raise _async_hook_error("on_deny", self.on_deny, self.denial.call.action)
        value = self.on_deny(self.denial)
        if inspect.isawaitable(value):
            _discard(value)
            raise _async_hook_error("on_deny", self.on_deny, self.denial.call.action)
        return value

    async def run_async(self, tool: Tool, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        value = self.on_deny(self.denial)
        return (await value) if inspect.isawaitable(value) else value


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _discard(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()  # no "coroutine was never awaited" warning for an unused answer


def _async_hook_error(kind: str, hook: object, action: str) -> ConfigurationError:
    return ConfigurationError(
        f"{action!r} did not run: the {kind} {brief(hook)} is async but the tool is sync; "
        f"use a sync {kind}, or make the tool async"
    )


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
