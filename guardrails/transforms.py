"""Conversions a reference applies before comparing: ``.decimal()``, ``.nfkc()``, ``.casefold()``."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from guardrails.values import KindError, plain, show

__all__ = ["TRANSFORMS", "as_decimal_literal", "to_decimal"]

# Plain ASCII digits, an optional sign and point: what money looks like. No
# exponent, spaces, underscores, "NaN" or other scripts' digits.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def to_decimal(value: Any) -> Decimal:
    """An exact Decimal for a number or a plain decimal string; ``KindError`` otherwise."""
    kind, number = plain(value)
    if kind == "number":
        if isinstance(number, float):
            return Decimal(repr(number))  # 0.1 is "0.1", not its binary expansion
        if isinstance(number, Fraction):
            raise KindError(f"expected a decimal number, got {show(value)}")
        return Decimal(number)
    if kind == "str" and _DECIMAL.fullmatch(number):
        return Decimal(number)
    raise KindError(f"expected a decimal number or a string of digits, got {show(value)}")


def as_decimal_literal(operand: Any) -> Any:
    """The literal of a ``.decimal()`` comparison, as a Decimal (lists and pairs item by item)."""
    if isinstance(operand, (list, tuple)):
        return type(operand)(as_decimal_literal(item) for item in operand)
    if isinstance(operand, (int, float, Decimal)) and not isinstance(operand, bool):
        if isinstance(operand, float) and not math.isfinite(operand):
            return operand  # refused with a clear message by the comparison
        return Decimal(repr(operand)) if isinstance(operand, float) else Decimal(operand)
    return operand


def _nfkc(value: Any) -> str:
    kind, text = plain(value)
    if kind != "str":
        raise KindError(f"expected a string, got {show(value)}")
    return unicodedata.normalize("NFKC", text)


def _casefold(value: Any) -> str:
    kind, text = plain(value)
    if kind != "str":
        raise KindError(f"expected a string, got {show(value)}")
    return str(text).casefold()


TRANSFORMS: dict[str, Callable[[Any], Any]] = {"decimal": to_decimal, "nfkc": _nfkc, "casefold": _casefold}
