"""Conditions: what a rule's ``when`` says about a call.

``arg(name)`` and ``ctx(name)`` (``guardrails.policy.refs``) refer to a value of the
call; comparing them builds a condition, and conditions combine with ``&``,
``|`` and ``~``. Any callable taking a ``Call`` and returning ``bool`` is a
condition too.

Evaluation is three-valued (Kleene): a condition is true, false, or cannot be
evaluated (missing value, wrong type, a callable that raises). ``a & b`` is
false as soon as one side is false, ``a | b`` true as soon as one side is true;
otherwise an error on either side makes the whole condition an error. The
policy resolves errors fail-closed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, NoReturn, Protocol

from guardrails._text import show
from guardrails.call import Call
from guardrails.errors import EvaluationError, PolicyError

__all__ = ["AllOf", "AnyOf", "Condition", "ConditionLike", "FnCondition", "Not", "Reference", "as_condition"]


class Reference(Protocol):
    """A value a condition reads: ``arg(name)`` or ``ctx(name)`` (``guardrails.policy.refs.Ref``)."""

    @property
    def source(self) -> str:
        """``"arg"`` or ``"ctx"``."""
        ...

    @property
    def name(self) -> str:
        """The argument's or context value's name."""
        ...

    @property
    def is_plain(self) -> bool:
        """Whether it is the value itself (no items, no transforms)."""
        ...

    def resolve(self, call: Call) -> Any:
        """The value in ``call``; raises ``EvaluationError`` when it is missing."""
        ...


class Condition:
    """Base of every condition. Call it with a ``Call`` to get ``True``/``False``.

    Raises ``EvaluationError`` when it cannot decide.
    """

    __slots__ = ()
    #: True when the repr is an infix comparison, which needs parentheses inside & | ~.
    infix: bool = False

    def __call__(self, call: Call) -> bool:
        raise NotImplementedError

    def refs(self) -> Iterator[Reference]:
        """Yield the argument and context references this condition reads."""
        return iter(())

    def histories(self) -> Iterator[Condition]:
        """Yield the ``after(...)`` parts (``guardrails.policy.history.After``): what this
        condition asks of earlier calls."""
        return iter(())

    def reads_store(self) -> bool:
        """Whether judging it reads the governor's store (``after``, ``provenance``)."""
        return False

    def fingerprint(self) -> str:
        """A text that tells this condition apart from others, stable across runs.

        The repr, except that code is named by where it is defined (two
        lambdas have the same repr but not the same fingerprint).
        """
        return repr(self)

    def __and__(self, other: ConditionLike) -> Condition:
        return AllOf((self, as_condition(other)))

    def __rand__(self, other: ConditionLike) -> Condition:
        return AllOf((as_condition(other), self))

    def __or__(self, other: ConditionLike) -> Condition:
        return AnyOf((self, as_condition(other)))

    def __ror__(self, other: ConditionLike) -> Condition:
        return AnyOf((as_condition(other), self))

    def __invert__(self) -> Condition:
        return Not(self)

    def __bool__(self) -> NoReturn:
        raise TypeError(
            f"the truth of condition {self!r} is only known per call; "
            "combine conditions with & | ~ instead of and/or/not, "
            "and write one comparison per condition (no chained a < x < b)"
        )


#: What a rule's ``when``, ``&`` and ``|`` take: a ``Condition``, or a callable
#: ``(Call) -> bool`` (``as_condition`` wraps it in a ``FnCondition``).
ConditionLike = Condition | Callable[[Call], bool]


def as_condition(value: object) -> Condition:
    """Return ``value`` as a ``Condition``: conditions pass, callables are wrapped."""
    if isinstance(value, Condition):
        return value
    if getattr(type(value), "is_reference", False):
        raise PolicyError(f"{value!r} is a value, not a condition; compare it (e.g. {value!r} == ...)")
    if callable(value):
        return FnCondition(value)
    raise PolicyError(f"expected a condition or a callable (Call) -> bool, got {show(value)}")


def _wrap(child: Condition) -> str:
    text = repr(child)
    return f"({text})" if isinstance(child, (AllOf, AnyOf)) or child.infix else text


class _Combination(Condition):
    __slots__ = ("conditions",)
    symbol: ClassVar[str]

    def __init__(self, conditions: Iterable[ConditionLike]) -> None:
        flat: list[Condition] = []
        for c in conditions:
            cond = as_condition(c)
            # a & (b & c) is a & b & c: flatten for a shorter repr and call.
            flat.extend(cond.conditions if isinstance(cond, type(self)) else (cond,))
        if not flat:
            raise PolicyError(f"{type(self).__name__} needs at least one condition")
        self.conditions: tuple[Condition, ...] = tuple(flat)

    def refs(self) -> Iterator[Reference]:
        for c in self.conditions:
            yield from c.refs()

    def histories(self) -> Iterator[Condition]:
        for c in self.conditions:
            yield from c.histories()

    def reads_store(self) -> bool:
        return any(c.reads_store() for c in self.conditions)

    def __repr__(self) -> str:
        return f" {self.symbol} ".join(_wrap(c) for c in self.conditions)

    def fingerprint(self) -> str:
        return f" {self.symbol} ".join(f"({c.fingerprint()})" for c in self.conditions)


class AllOf(_Combination):
    """True when every condition is true (``a & b``)."""

    __slots__ = ()
    symbol = "&"

    def __call__(self, call: Call) -> bool:
        error: Exception | None = None
        for cond in self.conditions:
            try:
                if not cond(call):
                    return False
            except Exception as exc:  # noqa: BLE001 - Kleene: a later False still decides
                error = error or exc
        if error is not None:
            raise error
        return True


class AnyOf(_Combination):
    """True when at least one condition is true (``a | b``)."""

    __slots__ = ()
    symbol = "|"

    def __call__(self, call: Call) -> bool:
        error: Exception | None = None
        for cond in self.conditions:
            try:
                if cond(call):
                    return True
            except Exception as exc:  # noqa: BLE001 - Kleene: a later True still decides
                error = error or exc
        if error is not None:
            raise error
        return False


class Not(Condition):
    """True when the condition is false (``~a``); an error stays an error."""

    __slots__ = ("condition",)

    def __init__(self, condition: ConditionLike) -> None:
        self.condition = as_condition(condition)

    def __call__(self, call: Call) -> bool:
        return not self.condition(call)

    def __invert__(self) -> Condition:
        return self.condition

    def refs(self) -> Iterator[Reference]:
        """Yield the references the negated condition reads."""
        return self.condition.refs()

    def histories(self) -> Iterator[Condition]:
        """Yield the ``after(...)`` parts of the negated condition."""
        return self.condition.histories()

    def reads_store(self) -> bool:
        """Whether the negated condition reads the governor's store."""
        return self.condition.reads_store()

    def __repr__(self) -> str:
        return f"~{_wrap(self.condition)}"

    def fingerprint(self) -> str:
        """The negated condition's fingerprint, marked as negated: ``~(...)``."""
        return f"~({self.condition.fingerprint()})"


class FnCondition(Condition):
    """A plain callable ``(Call) -> bool`` used as a condition.

    It must return exactly ``True`` or ``False``; anything else, or an
    exception, is an evaluation error.
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Call], bool]) -> None:
        if inspect.iscoroutinefunction(fn):
            raise PolicyError(
                f"condition {_name(fn)} is async; conditions are evaluated without awaiting, "
                "so they must be plain functions"
            )
        self.fn = fn

    def __call__(self, call: Call) -> bool:
        try:
            result = self.fn(call)
        except Exception as exc:
            raise EvaluationError(f"{self!r} raised {type(exc).__name__}: {exc}") from exc
        if type(result) is not bool:
            if inspect.isawaitable(result):
                getattr(result, "close", lambda: None)()
            raise EvaluationError(f"{self!r} returned {show(result)}, expected True or False")
        return result

    def __repr__(self) -> str:
        return f"{_name(self.fn)}(call)"

    def fingerprint(self) -> str:
        """Module, name and defining file of the code, plus the simple values it
        closes over or holds, so ``over(10)`` and ``over(10**6)`` differ."""
        fn = self.fn
        code = getattr(fn, "__code__", None)
        if code is None:  # a callable object: name its class and its __call__
            code = getattr(type(fn).__call__, "__code__", None)
            state = _simple(getattr(fn, "__dict__", {}))
            name = f"{type(fn).__module__}.{type(fn).__qualname__}"
        else:
            cells = getattr(fn, "__closure__", None) or ()
            state = _simple({str(i): cell.cell_contents for i, cell in enumerate(cells)})
            name = f"{getattr(fn, '__module__', '?')}.{_name(fn)}"
        where = Path(code.co_filename).name if code is not None else "?"
        return f"{name}@{where}{state}"


def _simple(values: dict[str, Any]) -> str:
    """The values that are plain data, as text; others only by type (no addresses)."""
    shown = []
    for key, value in values.items():
        try:
            text = (
                repr(value)
                if isinstance(value, (str, int, float, bool, type(None), tuple, frozenset))
                else ""
            )
        except Exception:  # noqa: BLE001 - a broken repr only loses detail
            text = ""
        shown.append(f"{key}={text}" if text and "0x" not in text else f"{key}:{type(value).__name__}")
    return f"[{', '.join(shown)}]" if shown else ""


def _name(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if isinstance(name, str):
        return name
    return type(fn).__qualname__  # a callable object: its class, never its address
