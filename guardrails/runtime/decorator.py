"""``@governed``: put a tool under a governor."""

from __future__ import annotations

import copy
import importlib
import inspect
import re
from collections.abc import Awaitable, Callable, Generator
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar, overload

import wrapt
from typing_extensions import ParamSpec

from guardrails._text import show
from guardrails.call import Call
from guardrails.call_context import current_context
from guardrails.errors import ConfigurationError
from guardrails.policy.evaluate import Judgement
from guardrails.policy.rules import Effect
from guardrails.runtime.binding import Binder
from guardrails.runtime.drivers import Step, drive_async, drive_sync, run_reserved, run_reserved_async
from guardrails.runtime.flow import RUN, FastExit, Shortcut, call_flow, fast_exit
from guardrails.runtime.frameworks import framework_tool
from guardrails.runtime.governor import Governor, get_governor
from guardrails.runtime.limiter import Reserved, reserve_quickly
from guardrails.runtime.setup import Setup

__all__ = ["GovernedFunction", "Spec", "governed", "spec_of"]

P = ParamSpec("P")
R = TypeVar("R")

_ACTION_NAME = re.compile(r"[^\s\[\]{}*?<>]+")
_ALLOW = Effect.ALLOW
#: ``Spec.compile``'s answer: (setup, judge, fast exit, untrusted output).
Compiled: TypeAlias = "tuple[Setup | None, Callable[[Call], Judgement], FastExit | None, bool]"
#: Whether a tool's output is recorded as untrusted (``provenance``).
Output = Literal["trusted", "untrusted"]


class Spec:
    """What a governed function needs per call, prepared when it is decorated."""

    __slots__ = ("action", "governor", "function", "binder", "_method_binder", "compiled", "output")

    def __init__(
        self, action: str, governor: Governor, function: Callable[..., Any], output: Output | None = None
    ) -> None:
        self.action = action
        self.governor = governor
        self.function = function
        self.output = output
        try:
            self.binder = Binder.for_function(function)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"cannot govern {show(function)}: no signature ({exc})") from None
        self._method_binder: Binder | None = None
        #: ``compile``'s answer for the setup it was made for, as one tuple so that a
        #: setup swapped by another thread is never paired with what the old one said.
        self.compiled: Compiled = (None, _never, None, False)

    def compile(self, setup: Setup) -> Compiled:
        """What a call of this tool needs of ``setup``: the setup, its policy's judge for the
        action, the flow's fast exit for it (``fast_exit``) and whether the tool's output is
        untrusted. Remembered until the setup changes."""
        compiled = self.compiled
        if compiled[0] is not setup:
            untrusted = self.untrusted(setup)
            judge = setup.policy.judge_for(self.action)
            compiled = self.compiled = (setup, judge, fast_exit(setup, self.action, untrusted), untrusted)
        return compiled

    def untrusted(self, setup: Setup) -> bool:
        """Whether what the tool returns is recorded as untrusted (its own say, else the setup's)."""
        if self.output is not None:
            return self.output == "untrusted"
        return any(p.match(self.action) for p in setup.untrusted)

    def method_binder(self) -> Binder:
        """The binder for calls as a method: wrapt passes self/cls as ``instance``, not in args."""
        binder = self._method_binder
        if binder is None:
            binder = self._method_binder = Binder.for_function(self.function, skip_first=True)
        return binder


if TYPE_CHECKING:
    _FunctionWrapper = wrapt.FunctionWrapper[..., Any]
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper[..., Any]
else:  # wrapt's classes are generic only in its stubs and newest releases
    _FunctionWrapper = wrapt.FunctionWrapper
    _BoundFunctionWrapper = wrapt.BoundFunctionWrapper


def _never(call: Call) -> Judgement:  # pragma: no cover - replaced before first use
    raise AssertionError("no policy compiled yet")


class GovernedFunction(_FunctionWrapper):
    """A governed tool. Looks like the function it wraps (name, docstring,
    signature, type hints, coroutine-ness) but has its own identity: it is
    equal and hashes only to itself, so no cache keyed by the raw function can
    hand out the ungoverned one. Copies are itself and it pickles by
    qualified name, as functions do.
    """

    def __init__(self, wrapped: Any, wrapper: Callable[..., Any], spec: Spec) -> None:
        super().__init__(wrapped, wrapper)
        self._self_spec = spec  # wrapt keeps ``_self_`` names on the wrapper itself

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return id(self) >> 4

    def __copy__(self) -> GovernedFunction:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> GovernedFunction:
        return self

    def __reduce_ex__(self, protocol: Any) -> str:
        return str(self.__qualname__)

    def __reduce__(self) -> str:
        return str(self.__qualname__)


class BoundGovernedFunction(_BoundFunctionWrapper):
    """A governed method bound to an instance; equal to the same binding only."""

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BoundGovernedFunction)
            and other._self_parent is self._self_parent
            and other._self_instance is self._self_instance
        )

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((id(self._self_parent), id(self._self_instance)))

    def __copy__(self) -> BoundGovernedFunction:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        # As for bound methods: the copy is bound to a deep copy of the instance.
        instance = self._self_instance
        if instance is None or isinstance(instance, type):
            return self
        return getattr(copy.deepcopy(instance, memo), self.__name__)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # As for bound methods: pickled as "this attribute of that object".
        owner = self._self_instance
        if owner is None:  # accessed on the class; older wrapt does not record which
            owner = getattr(self, "_self_owner", None) or _defining_class(self.__wrapped__)
        return (getattr, (owner, self.__name__))


def _defining_class(function: Any) -> Any:
    module = importlib.import_module(function.__module__)
    owner: Any = module
    for part in function.__qualname__.split(".")[:-1]:
        owner = getattr(owner, part)
    return owner


GovernedFunction.__bound_function_wrapper__ = BoundGovernedFunction  # type: ignore[misc]


def spec_of(obj: object) -> Spec | None:
    """What ``@governed`` prepared for ``obj`` (its action, governor and function), or
    None when ``obj`` is not a governed function (nor a governed method bound to an instance)."""
    if isinstance(obj, GovernedFunction):
        return obj._self_spec
    if isinstance(obj, BoundGovernedFunction):
        return spec_of(obj._self_parent)
    return None


#: What ``enter`` found for a call: run it at once (``RUN``), run it with its share of
#: its limits held (``Reserved``, for ``run_reserved``), or drive the flow.
Way: TypeAlias = "Literal[Shortcut.RUN] | Reserved | Generator[Step, Any, Any]"


def _entry(spec: Spec) -> Callable[[object, tuple[Any, ...], dict[str, Any]], Way]:
    """The one way into a governed call, shared by the sync and async wrappers: bind the
    arguments, judge the call with the policy compiled for the setup in force, then take
    the flow's fast exit when it allows one, else start the flow."""
    governor, action, get_context = spec.governor, spec.action, current_context
    bind, unbind = spec.binder.bind_function, spec.binder.unbind

    def live() -> Setup:
        return governor.setup

    def enter(instance: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Way:
        setup = governor.setup
        bound = (
            bind(*args, **kwargs) if instance is None else spec.method_binder().bind_function(*args, **kwargs)
        )
        call = Call(action, MappingProxyType(bound), get_context())
        compiled_for, judge, fast, untrusted = spec.compiled
        if compiled_for is not setup:
            compiled_for, judge, fast, untrusted = spec.compile(setup)
        winner, outcomes = judge(call)
        if winner is not None and winner.effect is _ALLOW and fast is not None:
            if fast is RUN:
                return RUN
            held = reserve_quickly(setup.store, fast, call)
            if held is not None:
                return held
        decision = setup.policy.decision(call, winner, outcomes)
        return call_flow(
            setup, decision, live, unbind if instance is None else spec.method_binder().unbind, untrusted
        )

    return enter


def _sync_wrapper(spec: Spec) -> Callable[..., Any]:
    enter = _entry(spec)

    def wrapper(
        wrapped: Callable[..., Any], instance: object, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        way = enter(instance, args, kwargs)
        if way is RUN:
            return wrapped(*args, **kwargs)
        if isinstance(way, tuple):
            return run_reserved(way, wrapped, args, kwargs)
        return drive_sync(way, wrapped, args, kwargs)

    return wrapper


def _async_wrapper(spec: Spec) -> Callable[..., Awaitable[Any]]:
    enter = _entry(spec)

    async def wrapper(
        wrapped: Callable[..., Any], instance: object, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        way = enter(instance, args, kwargs)
        if way is RUN:
            return await wrapped(*args, **kwargs)
        if isinstance(way, tuple):
            return await run_reserved_async(way, wrapped, args, kwargs)
        return await drive_async(way, wrapped, args, kwargs)

    # A coroutine takes its name from its function: a call never awaited is then
    # reported by Python as the tool's ("coroutine 'refund' was never awaited").
    wrapper.__name__ = getattr(spec.function, "__name__", wrapper.__name__)
    wrapper.__qualname__ = getattr(spec.function, "__qualname__", wrapper.__qualname__)
    return wrapper


@overload
def governed(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def governed(
    action: str | None = None, /, *, governor: Governor | None = None, output: Output | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


@overload
def governed(
    *, action: str | None = None, governor: Governor | None = None, output: Output | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def governed(
    target: Any = None,
    /,
    *,
    action: str | None = None,
    governor: Governor | None = None,
    output: Output | None = None,
) -> Any:
    """Govern a tool: every call is judged by the policy before it runs.

    Use bare (``@governed``) or with options (``@governed("payments.refund")``,
    ``@governed(action=..., governor=...)``). The action name defaults to the
    function's ``__name__``, the name agent frameworks show the model. Without
    ``governor`` the default one (``guardrails.configure``) is used, as it is
    configured at call time.

    ``output="untrusted"`` records what the tool returns (web pages, e-mails,
    files) so that ``provenance(...)`` rules can tell values planted in it;
    ``"trusted"`` says it never needs recording; unset, the governor's
    ``untrusted`` patterns decide.

    Works on sync and async functions, methods, classmethods and
    staticmethods; the result keeps the function's name, docstring, signature
    and type hints.
    """
    if output not in (None, "trusted", "untrusted"):
        raise ConfigurationError(f"@governed output must be 'trusted' or 'untrusted', got {show(output)}")
    if isinstance(target, str):
        if action is not None:
            raise ConfigurationError(f"@governed got two action names: {target!r} and action={action!r}")
        return _decorator(target, governor, output)
    if target is None:
        return _decorator(action, governor, output)
    if action is not None or governor is not None or output is not None:
        raise ConfigurationError(
            "@governed(func, ...) takes no options; use @governed(action=..., governor=...)"
        )
    return _decorator(None, None, None)(target)


def _decorator(action: str | None, governor: Governor | None, output: Output | None) -> Callable[[Any], Any]:
    if action is not None and (not isinstance(action, str) or not _ACTION_NAME.fullmatch(action)):
        raise ConfigurationError(
            f"@governed action must be a tool name without spaces, brackets or wildcards, got {show(action)}"
        )
    if governor is not None and not isinstance(governor, Governor):
        raise ConfigurationError(f"governor must be a Governor, got {show(governor)}")

    def decorate(func: Any) -> Any:
        function = func.__func__ if isinstance(func, (classmethod, staticmethod)) else func
        framework = framework_tool(function)
        if framework is not None:
            raise ConfigurationError(
                f"@governed was given a tool object of {framework} ({type(function).__name__}); its calls would "
                "not pass through guardrails. Put the framework's decorator outermost and @governed under it, "
                "next to the function:\n    @tool\n    @governed(...)\n    def my_tool(...): ..."
            )
        if not callable(function) or isinstance(function, type):
            raise ConfigurationError(f"@governed decorates functions and methods, got {show(func)}")
        if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
            # Its body would run later, piece by piece, after the decision and its
            # "returned" record: govern the function that does the work instead.
            raise ConfigurationError(
                f"@governed cannot govern the generator {show(func)}: its body runs after the call returns"
            )
        name = action if action is not None else getattr(function, "__name__", None)
        if not isinstance(name, str) or not _ACTION_NAME.fullmatch(name):
            raise ConfigurationError(f"cannot name the action of {show(func)}; pass @governed('name')")
        spec = Spec(name, governor if governor is not None else get_governor(), function, output)
        make = _async_wrapper if inspect.iscoroutinefunction(function) else _sync_wrapper
        return GovernedFunction(func, make(spec), spec)

    return decorate
