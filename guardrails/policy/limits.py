"""Limits: how many calls, or how much of an argument, per key over a sliding window.

    g.deny("send_email", limit=g.rate(5, per="1m", key=g.ctx("user")))
    g.require_approval("payments.refund", limit=g.budget("amount", 500, per="1d", key=g.arg("customer_id")))

A rule with a limit applies when its condition holds (or it has none) *and*
the call would go over the limit. Within the limit, the call's share is
reserved when it is decided, kept when the tool returns and given back when
it fails or does not run (see ``guardrails.state``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

from guardrails._text import json_text, show
from guardrails.errors import EvaluationError, PolicyError
from guardrails.policy.refs import Ref
from guardrails.policy.values import plain

if TYPE_CHECKING:
    from guardrails.call import Call

__all__ = ["Limit", "budget", "parse_window", "rate"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_WINDOW = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


class Limit:
    """A counter per key over a sliding window: ``count`` calls, or the ``sum`` of an argument."""

    __slots__ = ("kind", "maximum", "per", "window", "key", "arg", "_keys")

    def __init__(
        self,
        kind: Literal["count", "sum"],
        maximum: int | float | str | Decimal,
        per: str | float,
        key: Ref | Sequence[Ref] | None = None,
        arg: str | None = None,
    ) -> None:
        self.kind = kind
        self.maximum = _decimal(maximum, "the maximum")
        if self.maximum < 0:
            raise PolicyError(f"a limit's maximum cannot be negative, got {self.maximum}")
        self.per = per
        self.window = parse_window(per)
        self.key = key_refs(key, "a limit's key")
        if kind == "sum" and not (isinstance(arg, str) and arg):
            raise PolicyError(
                f"a budget names the argument it sums first, as in budget('amount', 500, per='1d'), got {show(arg)}"
            )
        self.arg = arg
        # Store keys already made for a plain str or int value: making one is the
        # dearest part of a limited call.
        self._keys: dict[tuple[str, type, object], str] = {}

    def key_for(self, counter: str, call: Call) -> str:
        """The store key of the counter ``counter`` for the values of this call's key.

        Raises ``EvaluationError`` when a key value is missing or not a plain
        value, or the amount is not a number of at least zero.
        """
        if len(self.key) == 1:
            value = self.key[0].resolve(call)
            kind = type(value)
            if kind is str or kind is int:
                cached = self._keys.get((counter, kind, value))
                if cached is None:
                    cached = key_text(counter, self.key, call)
                    if len(self._keys) >= _KEYS_KEPT:
                        self._keys.clear()
                    self._keys[(counter, kind, value)] = cached
                return cached
        return key_text(counter, self.key, call)

    def amount(self, call: Call) -> Decimal:
        """What the call adds: 1, or its argument as an exact decimal."""
        if self.arg is None:
            return _ONE
        raw = call.args.get(self.arg, _MISSING)
        if raw is _MISSING:
            raise EvaluationError(f"{call.action!r} has no argument {self.arg!r} for the budget")
        kind, value = plain(raw)
        if kind != "number":
            raise EvaluationError(
                f"arg({self.arg!r}) for the budget: expected a finite number, got {show(raw)}"
            )
        amount = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
        if amount < 0:
            raise EvaluationError(f"arg({self.arg!r}) for the budget cannot be negative, got {show(raw)}")
        return amount

    def describe(self) -> str:
        """``5 calls per 1m per ctx('user')``."""
        maximum = format(self.maximum.normalize(), "f")  # 500.00 and 500 read (and derive ids) alike
        what = f"{maximum} calls" if self.kind == "count" else f"{maximum} of arg({self.arg!r})"
        keys = "".join(f" per {ref!r}" for ref in self.key)
        return f"{what} per {self.per}{keys}"

    def to_doc(self) -> dict[str, Any]:
        """The document form: ``{count = 5, per = "1m", key = [{ctx = "user"}]}``."""
        doc: dict[str, Any] = (
            {"count": _number(self.maximum)}
            if self.kind == "count"
            else {
                "sum": self.arg,
                "max": _number(self.maximum),
            }
        )
        doc["per"] = self.per
        if self.key:
            doc["key"] = [{ref.source: ref.name} for ref in self.key]
        return doc

    def fingerprint(self) -> str:
        """Stable text telling this limit apart (part of a rule's derived id)."""
        return json.dumps(self.to_doc(), sort_keys=True, default=str)

    def __repr__(self) -> str:
        key = (
            ""
            if not self.key
            else f", key={self.key[0]!r}"
            if len(self.key) == 1
            else f", key={list(self.key)!r}"
        )
        if self.kind == "count":
            return f"rate({int(self.maximum)!r}, per={self.per!r}{key})"
        return f"budget({self.arg!r}, {_number(self.maximum)!r}, per={self.per!r}{key})"


_MISSING = object()
_ONE = Decimal(1)
_KEYS_KEPT = 4096


def key_refs(key: Ref | Sequence[Ref] | None, what: str) -> tuple[Ref, ...]:
    """``key`` as a tuple of plain ``arg(...)``/``ctx(...)`` references, or ``PolicyError``."""
    if key is None:
        return ()
    if isinstance(key, Ref):
        key = (key,)
    # A string is a sequence too: its letters are not the refs it names.
    if isinstance(key, (str, bytes)) or not isinstance(key, Iterable):
        raise PolicyError(
            f"{what} is arg(...), ctx(...) or a list of them, such as key=ctx('user'), got {show(key)}"
        )
    refs = tuple(key)
    for ref in refs:
        if not isinstance(ref, Ref) or not ref.is_plain:
            raise PolicyError(f"{what} is made of arg(...) and ctx(...), got {show(ref)}")
    return refs


def key_text(counter: str, refs: tuple[Ref, ...], call: Call) -> str:
    """The store key of ``counter`` for the values ``refs`` take in ``call``.

    Raises ``EvaluationError`` when a value is missing or not a string or number.
    """
    values = []
    for ref in refs:
        kind, value = plain(ref.resolve(call))
        if kind is None:
            raise EvaluationError(f"{ref!r}: a key must be a string or number, got {show(value)}")
        if kind == "number":  # 7, 7.0 and Decimal("7.00") are one customer
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            value = format(number.normalize(), "f")
        values.append([kind[0], value])
    return counter + (":" + json_text(values) if values else "")


def rate(count: int, *, per: str | float, key: Ref | Sequence[Ref] | None = None) -> Limit:
    """At most ``count`` calls per window (``"30s"``, ``"1m"``, ``"1h"``, ``"1d"``, ``"1w"``, or seconds) per key."""
    if type(count) is not int or count < 0:
        raise PolicyError(
            f"rate() takes a count of calls (a whole number from 0) first, as in rate(5, per='1m'), got {show(count)}"
        )
    return Limit("count", count, per, key)


def budget(
    arg: str,
    maximum: int | float | str | Decimal,
    *,
    per: str | float,
    key: Ref | Sequence[Ref] | None = None,
) -> Limit:
    """At most ``maximum`` of the argument ``arg`` summed per window per key (exact decimals)."""
    return Limit("sum", maximum, per, key, arg=arg)


def parse_window(per: str | float) -> float:
    """Seconds in ``per``: a number of seconds, or ``"90s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"1w"``."""
    if isinstance(per, (int, float)) and not isinstance(per, bool):
        seconds = float(per)
    elif isinstance(per, str) and (match := _WINDOW.fullmatch(per.strip())):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise PolicyError(f"a window is seconds or a text such as '1m', '1h', '1d', got {show(per)}")
    if not 0 < seconds < float("inf"):
        raise PolicyError(f"a window must be a positive duration, got {show(per)}")
    return seconds


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool):
        raise PolicyError(f"{what} must be a number, got {show(value)}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise PolicyError(f"{what} must be a number, got {show(value)}") from None
    if not number.is_finite():
        raise PolicyError(f"{what} must be a finite number, got {show(value)}")
    return number


def _number(value: Decimal) -> int | str:
    """An integer as such; anything else as exact decimal text (a float would round it)."""
    return int(value) if value == value.to_integral_value() else format(value.normalize(), "f")
