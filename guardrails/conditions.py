"""Conditions: what a rule's ``when`` says about a call.

``arg(name)`` and ``ctx(name)`` refer to a value of the call; comparing them
builds a condition, and conditions combine with ``&``, ``|`` and ``~``. Any
callable taking a ``Call`` and returning ``bool`` is a condition too.

Evaluation is three-valued (Kleene): a condition is true, false, or cannot be
evaluated (missing value, wrong type, a callable that raises). ``a & b`` is
false as soon as one side is false, ``a | b`` true as soon as one side is true;
otherwise an error on either side makes the whole condition an error. The
policy resolves errors fail-closed.
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from guardrails.call import Call
from guardrails.errors import EvaluationError, PolicyError
from guardrails.values import Kind, KindError, literal_kind, plain, show

__all__ = [
    "AllOf",
    "AnyOf",
    "Compare",
    "Condition",
    "ConditionLike",
    "FnCondition",
    "Not",
    "Ref",
    "arg",
    "as_condition",
    "ctx",
]


class Condition:
    """Base of every condition. Call it with a ``Call`` to get ``True``/``False``.

    Raises ``EvaluationError`` when it cannot decide.
    """

    __slots__ = ()

    def __call__(self, call: Call) -> bool:
        raise NotImplementedError

    def refs(self) -> Iterator[Ref]:
        """Yield the argument and context references this condition reads."""
        return iter(())

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


ConditionLike = Condition | Callable[[Call], bool]


def as_condition(value: object) -> Condition:
    """Return ``value`` as a ``Condition``: conditions pass, callables are wrapped."""
    if isinstance(value, Condition):
        return value
    if isinstance(value, Ref):
        raise PolicyError(f"{value!r} is a value, not a condition; compare it (e.g. {value!r} == ...)")
    if callable(value):
        return FnCondition(value)
    raise PolicyError(f"expected a condition or a callable (Call) -> bool, got {show(value)}")


class Ref:
    """A reference to a value of a call; compare it to build a condition."""

    __slots__ = ("name",)
    source: ClassVar[str]

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise PolicyError(f"{self.source}() needs a non-empty name, got {show(name)}")
        self.name = name

    def resolve(self, call: Call) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{self.source}({self.name!r})"

    # == builds a condition, so a reference cannot be a dict key or set member.
    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> NoReturn:
        raise TypeError(f"{self!r} has no truth value; compare it, e.g. {self!r} == True")

    def _compare(self, op: str, operand: Any) -> Compare:
        return Compare(self, op, operand)

    def __lt__(self, operand: Any) -> Condition:
        return self._compare("<", operand)

    def __le__(self, operand: Any) -> Condition:
        return self._compare("<=", operand)

    def __gt__(self, operand: Any) -> Condition:
        return self._compare(">", operand)

    def __ge__(self, operand: Any) -> Condition:
        return self._compare(">=", operand)

    def __eq__(self, operand: Any) -> Condition:  # type: ignore[override]
        return self._compare("==", operand)

    def __ne__(self, operand: Any) -> Condition:  # type: ignore[override]
        return self._compare("!=", operand)

    def in_(self, values: Iterable[Any]) -> Condition:
        """True when the value equals one of ``values`` (same kind)."""
        return Compare(self, "in", values)

    def startswith(self, prefix: str) -> Condition:
        """True when the (string) value starts with ``prefix``."""
        return Compare(self, "startswith", prefix)

    def endswith(self, suffix: str) -> Condition:
        """True when the (string) value ends with ``suffix``."""
        return Compare(self, "endswith", suffix)

    def contains(self, item: Any) -> Condition:
        """True when a string value contains ``item`` as a substring, or a
        list/tuple/set value holds an element equal to ``item``."""
        return Compare(self, "contains", item)


class ArgRef(Ref):
    """``arg(name)``: an argument of the tool, bound by name, defaults applied."""

    __slots__ = ()
    source = "arg"

    def resolve(self, call: Call) -> Any:
        try:
            return call.args[self.name]
        except KeyError:
            raise EvaluationError(f"{call.action!r} has no argument {self.name!r}") from None


class CtxRef(Ref):
    """``ctx(name)``: a value from ``guardrails.context(...)``."""

    __slots__ = ()
    source = "ctx"

    def resolve(self, call: Call) -> Any:
        try:
            return call.context[self.name]
        except KeyError:
            raise EvaluationError(f"the context has no value {self.name!r}") from None


def arg(name: str) -> Ref:
    """Refer to the tool argument ``name`` (positional, keyword or default)."""
    return ArgRef(name)


def ctx(name: str) -> Ref:
    """Refer to the context value ``name`` set with ``guardrails.context``."""
    return CtxRef(name)


_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_INFIX = frozenset(("<", "<=", ">", ">=", "==", "!="))


class Compare(Condition):
    """A reference compared with a literal; see ``Ref`` for the operators."""

    __slots__ = ("ref", "op", "operand", "_test", "_name", "_in_args")

    def __init__(self, ref: Ref, op: str, operand: Any) -> None:
        self.ref = ref
        self.op = op
        self._name = ref.name
        self._in_args = isinstance(ref, ArgRef)
        where = f"{ref!r} {op} ..."
        try:
            self.operand, self._test = _build_test(op, operand, where)
        except ValueError as exc:
            raise PolicyError(str(exc)) from None

    def __call__(self, call: Call) -> bool:
        # Hot path: read the value directly rather than through ref.resolve().
        try:
            value = (call.args if self._in_args else call.context)[self._name]
        except KeyError:
            return self.ref.resolve(call)  # type: ignore[no-any-return]  # raises the clear error
        try:
            return self._test(value)
        except KindError as exc:
            raise EvaluationError(f"{self!r}: {exc}") from None

    def refs(self) -> Iterator[Ref]:
        yield self.ref

    @property
    def infix(self) -> bool:
        return self.op in _INFIX

    def __repr__(self) -> str:
        if self.op in _INFIX:
            return f"{self.ref!r} {self.op} {self.operand!r}"
        if self.op == "in":
            return f"{self.ref!r}.in_({list(self.operand)!r})"
        return f"{self.ref!r}.{self.op}({self.operand!r})"


def _build_test(op: str, operand: Any, where: str) -> tuple[Any, Callable[[Any], bool]]:
    """Check a literal once, return it and a fast test of a value against it."""
    if op in _ORDER:
        return operand, _ordering(_ORDER[op], operand, where)
    if op in ("==", "!="):
        return operand, _equality(op == "==", operand, where)
    if op == "in":
        values = _literal_collection(operand, where)
        return values, _membership(values, where)
    if op in ("startswith", "endswith"):
        if not isinstance(operand, str):
            raise ValueError(f"{where}: {op}() takes a string, got {show(operand)}")
        method = str.startswith if op == "startswith" else str.endswith
        return operand, _string_method(method, operand)
    if op == "contains":
        return operand, _containment(operand, literal_kind(operand, where))
    raise ValueError(f"{where}: unknown operator {op!r}")


def _mismatch(value: Any, expected: str) -> NoReturn:
    raise KindError(f"expected {expected}, got {show(value)}")


def _ordering(fn: Callable[[Any, Any], bool], operand: Any, where: str) -> Callable[[Any], bool]:
    kind = literal_kind(operand, where)
    if kind == "bool":
        raise ValueError(f"{where}: booleans have no order")
    expected = "a finite number" if kind == "number" else "a string"

    def checked(value: Any) -> bool:
        value_kind, value = plain(value)
        if value_kind != kind:
            _mismatch(value, expected)
        return fn(value, operand)

    # Plain ints, finite floats and strs skip the general check: this runs on every call.
    if kind == "number":

        def test(value: Any) -> bool:
            t = type(value)
            if t is int or (t is float and value - value == 0.0):
                return fn(value, operand)
            return checked(value)

        return test

    def test_str(value: Any) -> bool:
        return fn(value, operand) if type(value) is str else checked(value)

    return test_str


def _equality(equal: bool, operand: Any, where: str) -> Callable[[Any], bool]:
    if operand is None:
        return (lambda v: v is None) if equal else (lambda v: v is not None)
    kind = literal_kind(operand, where)
    expected = {"number": "a finite number", "str": "a string", "bool": "a bool"}[kind]

    def test(value: Any) -> bool:
        value_kind, value = plain(value)
        if value_kind != kind:
            _mismatch(value, expected)
        return (value == operand) is equal

    return test


def _literal_collection(values: Any, where: str) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{where}: in_() takes a list of values, got {show(values)}")
    items = tuple(values)
    if not items:
        raise ValueError(f"{where}: in_() needs at least one value")
    for item in items:
        literal_kind(item, where)
    return items


def _membership(values: tuple[Any, ...], where: str) -> Callable[[Any], bool]:
    # One set per kind, so True never matches 1 and "1" never matches 1.
    by_kind: dict[Kind, set[Any]] = {}
    for item in values:
        by_kind.setdefault(literal_kind(item, where), set()).add(item)
    frozen = {k: frozenset(v) for k, v in by_kind.items()}
    expected = " or ".join(sorted(frozen))

    def test(value: Any) -> bool:
        value_kind, value = plain(value)
        members = frozen.get(value_kind) if value_kind is not None else None
        if members is None:
            _mismatch(value, expected)
        return value in members

    return test


def _string_method(method: Callable[[str, str], bool], operand: str) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        value_kind, value = plain(value)
        if value_kind != "str":
            _mismatch(value, "a string")
        return method(value, operand)

    return test


def _containment(operand: Any, kind: Kind) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        if isinstance(value, str):
            if kind != "str":
                _mismatch(value, "a list (a string only contains strings)")
            return operand in str.__str__(value)
        if isinstance(value, (list, tuple, set, frozenset)):
            # Kleene again: an equal element decides True; otherwise an element
            # of another kind ("666" where 666 is sought) is an error, not False.
            stranger = None
            for element in value:
                element_kind, element = plain(element)
                if element_kind == kind:
                    if element == operand:
                        return True
                elif stranger is None:
                    stranger = (element,)
            if stranger is not None:
                _mismatch(stranger[0], f"only elements of kind {kind} in the list")
            return False
        _mismatch(value, "a string, list, tuple or set")

    return test


def _wrap(child: Condition) -> str:
    text = repr(child)
    if isinstance(child, (AllOf, AnyOf)) or (isinstance(child, Compare) and child.infix):
        return f"({text})"
    return text


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

    def refs(self) -> Iterator[Ref]:
        for c in self.conditions:
            yield from c.refs()

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

    def refs(self) -> Iterator[Ref]:
        return self.condition.refs()

    def __repr__(self) -> str:
        return f"~{_wrap(self.condition)}"

    def fingerprint(self) -> str:
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
        code = getattr(self.fn, "__code__", None)
        where = f"{code.co_filename}:{code.co_firstlineno}" if code is not None else ""
        return f"{getattr(self.fn, '__module__', '?')}.{_name(self.fn)}@{Path(where).name if where else '?'}"


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
