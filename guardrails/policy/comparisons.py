"""The tests behind comparisons: literal checked once, value checked on every call.

Each builder takes the literal written in the policy (``ValueError`` if it
can never be compared) and returns a function ``value -> bool`` that raises
``KindError`` for a value of another kind.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from guardrails._text import show
from guardrails.policy.values import Kind, KindError, literal_kind, plain

__all__ = ["INFIX", "build_test"]

INFIX = frozenset(("<", "<=", ">", ">=", "==", "!="))
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def build_test(op: str, operand: Any, where: str) -> tuple[Any, Callable[[Any], bool]]:
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
    if op == "between":
        return _between(operand, where)
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


def _between(bounds: Any, where: str) -> tuple[tuple[Any, Any], Callable[[Any], bool]]:
    if not isinstance(bounds, tuple) or len(bounds) != 2:
        raise ValueError(f"{where}: between() takes a low and a high bound")
    low, high = bounds
    for bound in bounds:
        if literal_kind(bound, where) != "number":
            raise ValueError(f"{where}: between() takes numbers, got {show(bound)}")
    if low > high:
        raise ValueError(f"{where}: between({low!r}, {high!r}) is empty: low is above high")

    def test(value: Any) -> bool:
        kind, number = plain(value)
        if kind != "number":
            _mismatch(value, "a finite number")
        return bool(low <= number <= high)

    return (low, high), test
