"""What the audit trail must not keep: redacted names and value patterns.

``Redaction`` is the policy's setting; ``guardrails.policy.view`` applies it
when a call's arguments and context are made recordable.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from fnmatch import translate
from typing import TYPE_CHECKING, Any

from guardrails._text import show
from guardrails.errors import PolicyError
from guardrails.policy.matchers.patterns import backtracking_risk

if TYPE_CHECKING:
    pass

if sys.version_info >= (3, 11):
    import re._parser as _sre_parse
else:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse

__all__ = ["DEFAULT_NAMES", "REDACTED", "VALUE_PATTERNS", "Redaction"]

REDACTED = "[REDACTED]"

#: Argument and key names redacted unless ``defaults=False``: globs, matched
#: ignoring case, compatibility forms, and "-", "_" and spaces (so
#: ``*api_key*`` also finds ``X-API-Key`` and ``apiKey``).
DEFAULT_NAMES = (
    "*password*",
    "*passwd*",
    "*passphrase*",
    "pwd",
    "*secret*",
    "*token*",
    "*api_key*",
    "*private_key*",
    "*credential*",
    "*authorization*",
    "*auth_key*",
    "cookie",
    "set-cookie",
)

# 13 to 19 digits, single or double separators between them; Luhn-checked.
_CARD = r"(?<!\d)\d(?:[ \t\u00a0./-]{0,2}\d){12,18}(?!\d)"

#: Named value patterns; ``values`` may name these or give regular expressions.
VALUE_PATTERNS: Mapping[str, str] = {
    "card": _CARD,
    "api_key": "|".join(
        (
            r"\b(?:sk|pk|rk)-(?:[a-z0-9]+-)*[A-Za-z0-9_-]{16,}",  # OpenAI, Anthropic and look-alikes
            r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
            r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub
            r"\bgithub_pat_[A-Za-z0-9_]{30,}",
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
            r"\bxox[abprs]-[A-Za-z0-9-]{10,}",  # Slack
            r"\bAIza[0-9A-Za-z_-]{35}",  # Google
            r"\b(?i:bearer|basic)\s+[A-Za-z0-9._~+/-]{16,}=*",
        )
    ),
    "jwt": r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    "private_key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)",
}
DEFAULT_VALUES = tuple(VALUE_PATTERNS)

_CACHE = 4096
_SEPARATORS = re.compile(r"[-_\s]")


class Redaction:
    """Which argument names and value patterns the audit trail must not keep.

    ``names`` are globs matched against argument names, context keys and dict
    keys at any depth, ignoring case (``"*password*"``). ``values`` are names
    from ``VALUE_PATTERNS`` (``"card"``, ``"api_key"``, ``"jwt"``,
    ``"private_key"``) or regular expressions. With ``defaults=True`` (the
    default) ``DEFAULT_NAMES`` and every named value pattern apply as well.
    Redaction changes what is recorded, never what is decided.
    """

    __slots__ = (
        "names",
        "values",
        "defaults",
        "cards",
        "shortest",
        "_name_regex",
        "_patterns",
        "_hidden",
        "_messages",
    )

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
            re.compile("|".join(translate(name_key(name)) for name in dict.fromkeys(all_names)))
            if all_names
            else None
        )
        #: Whether card numbers are redacted (numbers are checked as well as strings).
        self.cards = "card" in all_values
        # The built-in patterns share one regex; each of the user's is its own,
        # so their groups, flags and back-references mean what they wrote.
        built_in = [VALUE_PATTERNS[v] for v in dict.fromkeys(all_values) if v in VALUE_PATTERNS]
        own = [v for v in dict.fromkeys(all_values) if v not in VALUE_PATTERNS]
        sources = (["|".join(f"(?:{p})" for p in built_in)] if built_in else []) + own
        self._patterns = tuple(_compiled(source, source in own) for source in sources)
        #: Strings shorter than this match no value pattern: most arguments, left as they are.
        self.shortest = min((shortest for _, shortest in self._patterns), default=1 << 62)
        self._hidden: dict[str, bool] = {}
        self._messages: dict[str, str] = {}

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

    def spans(self, value: str) -> list[tuple[int, int]]:
        """Where redacted value patterns match in ``value``: sorted, merged ``(start, end)``."""
        found: list[tuple[int, int]] = []
        for regex, shortest in self._patterns:
            if len(value) < shortest:
                continue
            for match in regex.finditer(value):
                if match.end() > match.start() and not _not_a_card(match.group()):
                    found.append(match.span())
        if len(found) < 2:
            return found
        found.sort()
        merged = [found[0]]
        for start, end in found[1:]:
            if start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def text(self, value: str, limit: int | None = None) -> str:
        """``value`` with every redacted value pattern replaced, cut to ``limit`` characters
        of the original (a secret that starts before the cut is redacted whole)."""
        spans = self.spans(value if limit is None else value[: limit + 4096])
        if not spans:
            return value if limit is None else value[:limit]
        parts: list[str] = []
        at = 0
        for start, end in spans:
            if limit is not None and start >= limit:
                break
            parts += (value[at:start], REDACTED)
            at = end
        end = len(value) if limit is None else max(at, limit)
        parts.append(value[at:end])
        return "".join(parts)

    def message(self, text: str) -> str:
        """``text(...)`` for reasons and errors, remembered: a rule's reason recurs on every call."""
        done = self._messages.get(text)
        if done is None:
            done = self.text(text)
            if len(self._messages) >= _CACHE:
                self._messages.clear()
            self._messages[text] = done
        return done

    def hides_name(self, name: str) -> bool:
        """Whether values under the key ``name`` are redacted whole."""
        hidden = self._hidden.get(name)
        if hidden is None:
            hidden = self._name_regex is not None and self._name_regex.match(name_key(name)) is not None
            if len(self._hidden) >= _CACHE:
                self._hidden.clear()  # hostile key names must not grow memory without bound
            self._hidden[name] = hidden
        return hidden


def name_key(name: str) -> str:
    """A name as redaction compares it: compatibility forms folded, any case, no separators."""
    # "ｐａｓｓｗｏｒｄ", "Pass-Word" and "pass_word" are all a password.
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", name).casefold())


def _not_a_card(text: str) -> bool:
    """A match of the card pattern that fails the Luhn check: an order id, a phone number."""
    return _CARD_REGEX.fullmatch(text) is not None and not luhn(text)


def luhn(text: str) -> bool:
    """Whether the digits of ``text`` pass the Luhn check of card numbers."""
    digits = [int(c) for c in text if c.isdigit()]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


_CARD_REGEX = re.compile(_CARD)


def _compiled(source: str, own: bool) -> tuple[re.Pattern[str], int]:
    """A pattern compiled, with the fewest characters it can match."""
    pattern = _checked(source) if own else source
    try:
        return re.compile(pattern, 0 if own else re.DOTALL), _shortest_match(pattern)
    except re.error as exc:  # pragma: no cover - _checked compiled it already
        raise PolicyError(f"redact: value pattern {source!r} does not compile: {exc}") from None


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


def _checked(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PolicyError(f"redact: value pattern {value!r} does not compile: {exc}") from None
    risk = backtracking_risk(value)
    if risk:
        raise PolicyError(
            f"redact: value pattern {value!r} can backtrack for minutes on hostile input ({risk})"
        )
    return value
