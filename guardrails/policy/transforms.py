"""Conversions a reference applies before comparing: ``.decimal()``, ``.nfkc()``, ``.casefold()``."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from guardrails._text import show
from guardrails.policy.values import KindError, plain

__all__ = ["TRANSFORMS", "check_chain", "convert_literal", "to_decimal"]

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


def convert_literal(transforms: tuple[str, ...], operand: Any, where: str) -> Any:
    """The literal a converted value is compared with, converted the same way.

    ``arg("x").casefold() == "Admin"`` compares with "admin", and
    ``arg("x").decimal() > 0.1`` with ``Decimal("0.1")``: otherwise such a rule
    could never match. A literal the conversion cannot take is refused.
    """
    if isinstance(operand, (list, tuple)):
        return type(operand)(convert_literal(transforms, item, where) for item in operand)
    if operand is None:
        return operand
    for transform in transforms:
        if transform == "decimal":
            if isinstance(operand, bool) or not isinstance(operand, (int, float, Decimal)):
                raise ValueError(f"{where}: .decimal() compares with numbers, got {show(operand)}")
            if isinstance(operand, float) and not math.isfinite(operand):
                raise ValueError(f"{where}: cannot compare with {show(operand)}")
            operand = Decimal(repr(operand)) if isinstance(operand, float) else Decimal(operand)
        else:
            if not isinstance(operand, str):
                raise ValueError(
                    f"{where}: .{transform}() makes a string; compare it with strings, got {show(operand)}"
                )
            operand = TRANSFORMS[transform](operand)
    return operand


def check_chain(transforms: tuple[str, ...]) -> None:
    """Refuse conversions that can never apply: a Decimal is not a string."""
    if "decimal" in transforms:
        after = transforms[transforms.index("decimal") + 1 :]
        if after:
            raise ValueError(f".{after[0]}() cannot follow .decimal(): a Decimal is not a string")


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
