"""What the audit trail may keep of a call: JSON-safe, bounded and redacted.

Every sink receives the same view of a call's arguments and context, made
once per call before anything is written:

- values are JSON (str, int, finite float, bool, None, lists, dicts with string
  keys); anything else becomes a bounded ``repr`` — pydantic models and
  dataclasses become dicts first, so their field names can be redacted too;
- strings longer than ``MAX_TEXT`` characters, lists and dicts longer than
  ``MAX_ITEMS`` and nesting deeper than ``MAX_DEPTH`` are cut, with the size noted;
- a value whose key (argument, context or dict key, at any depth) matches a
  redacted name becomes ``"[REDACTED]"``, whatever it holds;
- parts of strings that match a redacted value pattern (card numbers, API keys,
  tokens, private keys) become ``"[REDACTED]"``; so do the redacted values
  themselves where they reappear in a reason or an error message.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from collections.abc import Iterable, Mapping
from fnmatch import translate
from typing import Any

from pydantic import BaseModel

from guardrails.errors import PolicyError
from guardrails.matchers.patterns import backtracking_risk
from guardrails.values import brief, show

if sys.version_info >= (3, 11):
    import re._parser as _sre_parse
else:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse

__all__ = ["DEFAULT_NAMES", "REDACTED", "VALUE_PATTERNS", "AuditView", "Redaction"]

REDACTED = "[REDACTED]"
MAX_TEXT = 4096
MAX_ITEMS = 256
MAX_DEPTH = 16
#: Redacted values shorter than this are not searched for in free text: a PIN
#: of "1" would otherwise blank out every digit of every message.
MIN_SECRET = 4

#: Argument and key names redacted unless ``defaults=False`` (globs, any case).
DEFAULT_NAMES = (
    "*password*",
    "*passwd*",
    "*secret*",
    "*token*",
    "*api_key*",
    "*apikey*",
    "*private_key*",
    "*credential*",
    "authorization",
    "cookie",
    "set-cookie",
)

_CARD = r"(?<![\d.])\d(?:[ -]?\d){12,18}(?![\d.])"

#: Named value patterns; ``values`` may name these or give regular expressions.
VALUE_PATTERNS: Mapping[str, str] = {
    "card": _CARD,
    "api_key": "|".join(
        (
            r"\b(?:sk|pk|rk)-(?:[a-z]+-)?[A-Za-z0-9_-]{16,}",  # OpenAI, Anthropic and look-alikes
            r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
            r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub
            r"\bgithub_pat_[A-Za-z0-9_]{30,}",
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
            r"\bxox[abprs]-[A-Za-z0-9-]{10,}",  # Slack
            r"\bAIza[0-9A-Za-z_-]{35}",  # Google
            r"\b(?i:bearer)\s+[A-Za-z0-9._~+/-]{16,}=*",
        )
    ),
    "jwt": r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    "private_key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)",
}
DEFAULT_VALUES = tuple(VALUE_PATTERNS)


class Redaction:
    """Which argument names and value patterns the audit trail must not keep.

    ``names`` are globs matched against argument names, context keys and dict
    keys at any depth, ignoring case (``"*password*"``). ``values`` are names
    from ``VALUE_PATTERNS`` (``"card"``, ``"api_key"``, ``"jwt"``,
    ``"private_key"``) or regular expressions. With ``defaults=True`` (the
    default) ``DEFAULT_NAMES`` and every named value pattern apply as well.
    Redaction changes what is recorded, never what is decided.
    """

    __slots__ = ("names", "values", "defaults", "_name_regex", "_value_regex", "_shortest", "_hidden")

    def __init__(
        self, names: Iterable[str] = (), values: Iterable[str] = (), *, defaults: bool = True
    ) -> None:
        self.names = _strings(names, "names")
        self.values = _strings(values, "values")
        if type(defaults) is not bool:
            raise PolicyError(f"redact: defaults must be true or false, got {show(defaults)}")
        self.defaults = defaults
        all_names = (*DEFAULT_NAMES, *self.names) if defaults else self.names
        all_values = (*DEFAULT_VALUES, *self.values) if defaults else self.values
        self._name_regex = (
            re.compile("|".join(translate(name.casefold()) for name in dict.fromkeys(all_names)))
            if all_names
            else None
        )
        self._value_regex = (
            re.compile("|".join(f"(?:{_value_pattern(v)})" for v in dict.fromkeys(all_values)), re.DOTALL)
            if all_values
            else None
        )
        # Strings shorter than any match need no search: most arguments are short.
        self._shortest = 0 if self._value_regex is None else _shortest_match(self._value_regex.pattern)
        self._hidden: dict[str, bool] = {}

    # ---- documents ------------------------------------------------------------------

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Redaction:
        """From a policy document's ``redact`` table (already validated)."""
        return cls(doc.get("names", ()), doc.get("values", ()), defaults=doc.get("defaults", True))

    def to_doc(self) -> dict[str, Any]:
        """The ``redact`` table of a policy document."""
        doc: dict[str, Any] = {}
        if self.names:
            doc["names"] = list(self.names)
        if self.values:
            doc["values"] = list(self.values)
        if not self.defaults:
            doc["defaults"] = False
        return doc

    def __add__(self, other: Redaction) -> Redaction:
        """Redact what either redacts (combining policies never reveals more)."""
        if not isinstance(other, Redaction):
            return NotImplemented
        return Redaction(
            dict.fromkeys((*self.names, *other.names)),
            dict.fromkeys((*self.values, *other.values)),
            defaults=self.defaults or other.defaults,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Redaction):
            return NotImplemented
        return (self.names, self.values, self.defaults) == (other.names, other.values, other.defaults)

    def __hash__(self) -> int:
        return hash((self.names, self.values, self.defaults))

    def __repr__(self) -> str:
        return (
            f"Redaction(names={list(self.names)!r}, values={list(self.values)!r}, defaults={self.defaults})"
        )

    # ---- applying -------------------------------------------------------------------

    def view(self, args: Mapping[str, Any], context: Mapping[str, Any]) -> AuditView:
        """The recordable form of a call's arguments and context."""
        walker = _Walker(self)
        return AuditView(walker.mapping(args, 0), walker.mapping(context, 0), walker)

    def text(self, value: str) -> str:
        """``value`` with every redacted value pattern replaced."""
        if self._value_regex is None or len(value) < self._shortest:
            return value
        return self._value_regex.sub(_replace, value)

    def hides_name(self, name: str) -> bool:
        """Whether values under the key ``name`` are redacted whole."""
        hidden = self._hidden.get(name)
        if hidden is None:
            hidden = self._name_regex is not None and self._name_regex.match(name.casefold()) is not None
            if len(self._hidden) >= _NAME_CACHE:
                self._hidden.clear()  # hostile key names must not grow memory without bound
            self._hidden[name] = hidden
        return hidden


class AuditView:
    """A call's arguments and context as the audit trail records them."""

    __slots__ = ("args", "context", "_walker")

    def __init__(self, args: dict[str, Any], context: dict[str, Any], walker: _Walker) -> None:
        self.args = args
        self.context = context
        self._walker = walker

    def scrub(self, text: str) -> str:
        """A reason or error message with redacted values taken out of it."""
        return self._walker.scrub(text)


_CARD_REGEX = re.compile(_CARD)
_NAME_CACHE = 4096
_GLOBAL_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")


def _replace(match: re.Match[str]) -> str:
    text = match.group()
    if _CARD_REGEX.fullmatch(text) and not _luhn(text):
        return text  # a long number that is not a card number: an order id, a phone number
    return REDACTED


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


class _Walker:
    """One walk over one call's values; remembers what it redacted by name."""

    __slots__ = ("redaction", "secrets")

    def __init__(self, redaction: Redaction) -> None:
        self.redaction = redaction
        self.secrets: set[str] = set()

    def mapping(self, values: Mapping[str, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        hides = self.redaction.hides_name
        try:
            if not values:
                return out
            items = list(dict.items(values) if isinstance(values, dict) else values.items())
        except Exception as exc:  # noqa: BLE001 - a broken mapping is recorded as such
            return {"[unreadable]": f"{type(values).__name__}: {type(exc).__name__}"}
        for i, (key, value) in enumerate(items):
            if i == MAX_ITEMS:
                out["[truncated]"] = f"{len(items)} items"
                break
            name = key if type(key) is str else self.string(key) if isinstance(key, str) else brief(key, 200)
            if hides(name):
                self.remember(value, 0)
                out[name] = REDACTED
            else:
                out[name] = self.value(value, depth + 1)
        return out

    def value(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self.string(value)
        if value is None or kind is bool:
            return value
        if kind is int:
            return value if value.bit_length() <= 64 else f"<int of {value.bit_length()} bits>"
        if kind is float:
            return value if math.isfinite(value) else repr(value)
        if depth > MAX_DEPTH:
            return f"[truncated: nested deeper than {MAX_DEPTH}]"
        try:
            return self.structured(value, depth)
        except Exception as exc:  # noqa: BLE001 - the record must still be written
            return f"<{kind.__name__} that could not be recorded: {type(exc).__name__}>"

    def structured(self, value: Any, depth: int) -> Any:
        if isinstance(value, Mapping):
            return self.mapping(value, depth)
        if isinstance(value, (list, tuple, set, frozenset)):
            items = list(value) if not isinstance(value, (list, tuple)) else value
            out = [self.value(item, depth + 1) for item in items[:MAX_ITEMS]]
            if len(items) > MAX_ITEMS:
                out.append(f"[truncated: {len(items)} items]")
            return out
        if isinstance(value, str):  # a subclass: record the plain string it holds
            return self.string(str.__str__(value))
        if isinstance(value, BaseModel):
            fields = type(value).model_fields
            return self.mapping({name: getattr(value, name) for name in fields}, depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.mapping({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, depth)
        if isinstance(value, (int, float)):  # bool is handled above; enums, numpy scalars
            return self.value(int.__int__(value) if isinstance(value, int) else float.__float__(value), depth)
        return self.string(brief(value, MAX_TEXT))

    def string(self, text: str) -> str:
        if len(text) > MAX_TEXT:
            # Redact a little past the cut, so a secret across it is not half kept.
            return (
                self.redaction.text(text[: MAX_TEXT + 256])[:MAX_TEXT] + f"...[truncated: {len(text)} chars]"
            )
        return self.redaction.text(text)

    def remember(self, value: Any, depth: int) -> None:
        """Note the strings a redacted value holds, to take them out of messages."""
        if depth > MAX_DEPTH:
            return
        if isinstance(value, str):
            if len(value) >= MIN_SECRET:
                self.secrets.add(str.__str__(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() <= 64 and len(str(int(value))) >= MIN_SECRET:
                self.secrets.add(str(int(value)))
        elif isinstance(value, dict):
            for item in list(dict.values(value))[:MAX_ITEMS]:
                self.remember(item, depth + 1)
        elif isinstance(value, (list, tuple)):
            for item in value[:MAX_ITEMS]:
                self.remember(item, depth + 1)

    def scrub(self, text: str) -> str:
        text = self.redaction.text(text)
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


def _shortest_match(pattern: str) -> int:
    """The fewest characters ``pattern`` can match (0 when it cannot tell)."""
    try:
        return int(_sre_parse.parse(pattern).getwidth()[0])
    except Exception:  # noqa: BLE001 - an internal module: when in doubt, search everything
        return 0


def _strings(values: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise PolicyError(f"redact: {what} must be a list of strings, got {show(values)}")
    out = tuple(values)
    for value in out:
        if not isinstance(value, str) or not value:
            raise PolicyError(f"redact: {what} must be non-empty strings, got {show(value)}")
    return out


def _value_pattern(value: str) -> str:
    if value in VALUE_PATTERNS:
        return VALUE_PATTERNS[value]
    try:
        re.compile(value)
    except re.error as exc:
        raise PolicyError(f"redact: value pattern {value!r} does not compile: {exc}") from None
    risk = backtracking_risk(value)
    if risk:
        raise PolicyError(
            f"redact: value pattern {value!r} can backtrack for minutes on hostile input ({risk})"
        )
    flags = _GLOBAL_FLAGS.match(value)
    if flags:  # "(?i)key" must become "(?i:key)" to sit inside one alternation
        return f"(?{flags.group(1)}:{value[flags.end() :]})"
    return value
