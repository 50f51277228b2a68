"""A call's arguments and context as the audit trail records them.

Made once per call, before any sink sees a record, and shared by every sink:

- values are JSON (str, int, finite float, bool, None, lists, string-keyed
  mappings); anything else becomes a bounded ``repr`` — pydantic models,
  dataclasses, named tuples and namespaces become mappings first, so their
  field names can be redacted too;
- strings longer than ``MAX_TEXT`` characters, lists and mappings longer than
  ``MAX_ITEMS``, nesting deeper than ``MAX_DEPTH`` and anything past
  ``MAX_TOTAL`` characters in all are cut, with the size noted;
- a value whose key (argument, context or dict key, at any depth) matches a
  redacted name becomes ``"[REDACTED]"``, whatever it holds; keys themselves
  are bounded and value-redacted;
- parts of strings, and whole numbers, that match a redacted value pattern
  become ``"[REDACTED]"``; so do the values redacted by name wherever they
  reappear in a reason or an error message, even cut short;
- the result is read-only (mappings are ``MappingProxyType``, lists tuples):
  no sink can change what the next one receives.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping
from types import MappingProxyType, SimpleNamespace
from typing import Any

from guardrails._text import brief
from guardrails.policy.redaction import REDACTED, Redaction

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "MAX_TEXT", "MAX_TOTAL", "MIN_SECRET", "AuditView"]

MAX_TEXT = 4096
MAX_KEY = 256
MAX_ITEMS = 256
MAX_DEPTH = 16
MAX_TOTAL = 1 << 16
#: Redacted values shorter than this are not searched for in free text: a PIN
#: of "1" would otherwise blank out every digit of every message.
MIN_SECRET = 4
#: How many characters of a message are kept after it is scrubbed.
MAX_MESSAGE = 1000

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_REDACTED = REDACTED
_CUT_MARKS = ("...", "…")


class AuditView:
    """The recordable ``args`` and ``context`` of one call, and the scrubber of its messages."""

    __slots__ = ("args", "context", "tool_call_id", "exact", "_walker")

    def __init__(self, redaction: Redaction, args: Mapping[str, Any], context: Mapping[str, Any]) -> None:
        walker = _Walker(redaction)
        self.args = walker.mapping(args, 0)
        self.context = walker.mapping(context, 0)
        tool_call_id = self.context.get("tool_call_id")
        #: The framework's id of the call, as recorded (bounded and redacted like the context).
        self.tool_call_id = None if tool_call_id is None else str(tool_call_id)
        #: Whether the view holds the values as they were (nothing redacted, cut or turned into text).
        self.exact = walker.exact
        self._walker = walker

    def scrub(self, text: str) -> str:
        """A reason or error message with redacted values taken out, then cut to ``MAX_MESSAGE``."""
        return self._walker.scrub(text)


class _Walker:
    """One walk over one call's values; remembers what it redacted by name."""

    __slots__ = ("redaction", "secrets", "budget", "shortest", "exact")

    def __init__(self, redaction: Redaction) -> None:
        self.redaction = redaction
        self.secrets: set[str] = set()
        self.budget = MAX_TOTAL
        self.exact = True
        self.shortest = min(redaction.shortest, MAX_KEY)

    def mapping(self, values: Mapping[str, Any], depth: int) -> Mapping[str, Any]:
        out: dict[str, Any] = {}
        try:
            if not values:
                return _EMPTY
            items = list(dict.items(values) if isinstance(values, dict) else values.items())
        except Exception as exc:  # noqa: BLE001 - a broken mapping is recorded as such
            self.exact = False
            return MappingProxyType({"[unreadable]": f"{type(values).__name__}: {type(exc).__name__}"})
        hides = self.redaction.hides_name
        for i, (key, value) in enumerate(items):
            if i == MAX_ITEMS or self.budget <= 0:
                out["[truncated]"] = f"{len(items) - i} more items"
                self.exact = False
                break
            text = (
                key if type(key) is str else str.__str__(key) if isinstance(key, str) else brief(key, MAX_KEY)
            )
            name = self.string(text, MAX_KEY)
            while name in out:  # two keys alike once cut or redacted: keep both
                name += "'"
            if name != key:  # cut, redacted, made a string, or told apart from a twin
                self.exact = False
            if hides(text):
                self.remember(value, 0)
                self.exact = False
                out[name] = _REDACTED
            else:
                out[name] = self.value(value, depth + 1)
        return MappingProxyType(out)

    def value(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self.string(value)
        if value is None or kind is bool:
            return value
        if kind is int:
            return self.number(value)
        if kind is float:
            if not math.isfinite(value):
                self.exact = False
                return repr(value)
            if value.is_integer() and 1e12 <= abs(value) < 1e19 and self.number(int(value)) is _REDACTED:
                return _REDACTED
            return value
        if depth > MAX_DEPTH:
            self.exact = False
            return f"[truncated: nested deeper than {MAX_DEPTH}]"
        if self.budget <= 0:
            self.exact = False
            return "[truncated: the record is too large]"
        try:
            return self.structured(value, depth)
        except Exception as exc:  # noqa: BLE001 - the record must still be written
            self.exact = False
            return f"<{kind.__name__} that could not be recorded: {type(exc).__name__}>"

    def number(self, value: int) -> Any:
        if value.bit_length() > 64:
            self.exact = False
            return f"<int of {value.bit_length()} bits>"
        if self.redaction.cards and 10**12 <= abs(value) < 10**19 and self.redaction.spans(str(abs(value))):
            self.exact = False
            return _REDACTED  # a card number passed as a number
        return value

    def structured(self, value: Any, depth: int) -> Any:
        if isinstance(value, Mapping):
            return self.mapping(value, depth)
        if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a named tuple: keep its field names
            self.exact = False
            return self.mapping(value._asdict(), depth)
        if isinstance(value, (list, tuple, set, frozenset)):
            if not isinstance(value, (list, tuple)):
                self.exact = False  # a set's order is not its own
            items = value if isinstance(value, (list, tuple)) else list(value)
            self.budget -= len(items)
            out = [self.value(item, depth + 1) for item in items[:MAX_ITEMS]]
            if len(items) > MAX_ITEMS:
                self.exact = False
                out.append(f"[truncated: {len(items)} items]")
            return tuple(out)
        if isinstance(value, str):  # a subclass: record the plain string it holds
            return self.string(str.__str__(value))
        fields = _fields(value)
        self.exact = False  # a model, a number type or an object: what is recorded is not the value itself
        if fields is not None:
            return self.mapping(fields, depth)
        if isinstance(value, (int, float)):  # bool is handled above; enums, numpy scalars
            return self.value(int.__int__(value) if isinstance(value, int) else float.__float__(value), depth)
        return self.string(brief(value, MAX_TEXT))

    def string(self, text: str, limit: int = MAX_TEXT) -> str:
        if len(text) < self.shortest and self.budget > 0:  # most strings: nothing to do
            self.budget -= len(text)
            return text
        if self.budget <= 0:
            self.exact = False
            return "[truncated: the record is too large]"
        if len(text) > limit:
            kept = self.redaction.text(text, limit) + f"...[truncated: {len(text)} chars]"
        else:
            kept = self.redaction.text(text)
        if kept != text:
            self.exact = False
        self.budget -= len(kept)
        return kept

    def remember(self, value: Any, depth: int) -> None:
        """Note the strings a redacted value holds, to take them out of messages."""
        if depth > MAX_DEPTH or len(self.secrets) > MAX_ITEMS:
            return
        if isinstance(value, (str, bytes, int, float)) and not isinstance(value, bool):
            if isinstance(value, str):
                forms = {str.__str__(value)}
            elif isinstance(value, bytes):
                forms = {value.decode("latin-1")}
            else:
                forms = {str(value)}
            forms |= {repr(form)[1:-1] for form in forms}  # as it appears inside a repr
            self.secrets |= {form[:MAX_TEXT] for form in forms if len(form) >= MIN_SECRET}
            return
        try:
            if isinstance(value, Mapping):
                items = list(value.values())
            elif isinstance(value, (list, tuple, set, frozenset)):
                items = list(value)
            else:
                fields = _fields(value)
                items = [] if fields is None else list(fields.values())
        except Exception:  # noqa: BLE001 - what cannot be read cannot be scrubbed
            return
        for item in items[:MAX_ITEMS]:
            self.remember(item, depth + 1)

    def scrub(self, text: str) -> str:
        text = self.redaction.message(text)
        if self.secrets:
            for secret in sorted(self.secrets, key=len, reverse=True):
                text = text.replace(secret, REDACTED)
            if any(mark in text for mark in _CUT_MARKS):
                text = _scrub_cut(text, self.secrets)
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _scrub_cut(text: str, secrets: set[str]) -> str:
    """Take out the start of a secret that a message cut short before its end ("hunter2-sw...")."""
    for mark in _CUT_MARKS:
        pieces = text.split(mark)
        for i, piece in enumerate(pieces[:-1]):
            for secret in secrets:
                for length in range(len(secret) - 1, MIN_SECRET - 1, -1):
                    if piece.endswith(secret[:length]):
                        pieces[i] = piece[:-length] + REDACTED
                        break
        text = mark.join(pieces)
    return text


def _fields(value: Any) -> Mapping[str, Any] | None:
    """The named fields of a pydantic model, dataclass or namespace, else None."""
    pydantic = sys.modules.get("pydantic")  # a value can be a model only once pydantic is loaded
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return {name: getattr(value, name) for name in type(value).model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, SimpleNamespace):
        return dict(vars(value))
    return None
