"""Kinds of values a built-in condition may compare, checked fail-closed.

A condition compares like with like: numbers with numbers (``bool`` is not a
number, NaN and infinities are not comparable), strings with strings, booleans
with booleans. Anything else is an evaluation error, never a quiet ``False``:
a hijacked model that sends ``"1e9"`` instead of ``1e9`` must not slip past
``arg("amount") > 100``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from guardrails._text import show

__all__ = ["Kind", "KindError", "literal_kind", "plain"]

Kind = Literal["number", "str", "bool"]


class KindError(Exception):
    """A value is not of a kind the condition can compare (internal)."""


def plain(value: Any) -> tuple[Kind | None, Any]:
    """The comparable kind of ``value`` and the value as a plain builtin.

    Subclasses of ``str``, ``int`` and ``float`` (numpy scalars, enums, a
    hostile ``__eq__``) are compared as the plain value they hold, so an
    overridden operator cannot change a decision. The kind is None for
    anything not comparable: NaN and infinities included.
    """
    t = type(value)
    if t is str:
        return "str", value
    if t is bool:
        return "bool", value
    if t is int:
        return "number", value
    if t is float:
        return ("number" if math.isfinite(value) else None), value
    if isinstance(value, str):
        return "str", str.__str__(value)
    if isinstance(value, int):  # bool cannot be subclassed, so this is a true integer
        return "number", int.__int__(value)
    if isinstance(value, float):
        number = float.__float__(value)
        return ("number" if math.isfinite(number) else None), number
    if isinstance(value, Decimal):
        decimal = Decimal(value)
        return ("number" if decimal.is_finite() else None), decimal
    if isinstance(value, Fraction):
        return "number", Fraction(value.numerator, value.denominator)
    return None, value


def literal_kind(value: Any, where: str) -> Kind:
    """Return the kind of a literal written in a policy, or raise ValueError."""
    kind = plain(value)[0]
    if kind is None:
        raise ValueError(f"{where}: cannot compare with {show(value)}")
    return kind
