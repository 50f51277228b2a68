"""``email_domain_in(domains)``: the domain an address really delivers to."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from guardrails._text import show
from guardrails.policy.matchers.names import listed_names, name_matcher
from guardrails.policy.matchers.urls import normalise_domain
from guardrails.policy.values import KindError

__all__ = ["address_domain", "email_domain_in"]

_WHITESPACE = frozenset(" \t\r\n\x0b\x0c")


def email_domain_in(
    domains: Iterable[str], *, subdomains: bool = False
) -> tuple[tuple[str, ...], Callable[[Any], bool]]:
    """Return the normalised domains and a test: is an address's domain one of them?"""
    names = listed_names(
        domains, lambda d: _domain(unicodedata.normalize("NFKC", d)), "email_domain_in", "domain"
    )
    is_listed = name_matcher(names, subdomains, "email_domain_in")

    def test(value: Any) -> bool:
        return is_listed(address_domain(value))

    return names, test


def address_domain(value: Any) -> str:
    """The normalised domain of one address, with or without a display name."""
    if not isinstance(value, str):
        raise KindError(f"expected an e-mail address string, got {show(value)}")
    text = unicodedata.normalize("NFKC", str.__str__(value)).strip()
    address = _angle_address(text)
    if "@" not in address:
        raise KindError(f"no '@' in {show(value)}")
    if not _WHITESPACE.isdisjoint(address):
        raise KindError(f"whitespace inside the address {show(value)}")
    local, _, domain = address.rpartition("@")
    if not local:
        raise KindError(f"empty local part in {show(value)}")
    if "@" in local and not (local.startswith('"') and local.endswith('"') and len(local) > 1):
        raise KindError(f"more than one '@' in {show(value)}")
    return _domain(domain)


def _angle_address(text: str) -> str:
    """The address inside ``Name <...>``, or the text; one address only."""
    if '"' not in text and "\\" not in text:
        return _unquoted_angle_address(text)
    angle_open, angle_close = _quoted_angles(text)
    if angle_open < 0:
        return text
    if angle_close < 0:
        raise KindError(f"unbalanced '<' and '>' in {text!r}")
    return _inside_angles(text, angle_open, angle_close)


def _unquoted_angle_address(text: str) -> str:
    """``_angle_address`` of a text without quoting: the separators can be found
    without a character loop."""
    if "," in text or ";" in text:
        raise KindError(f"several addresses in {text!r}; one is expected")
    opens, closes = text.count("<"), text.count(">")
    if opens == closes == 0:
        return text
    if opens != 1 or closes != 1 or text.index("<") > text.index(">"):
        raise KindError(f"unbalanced '<' and '>' in {text!r}")
    return _inside_angles(text, text.index("<"), text.index(">"))


def _quoted_angles(text: str) -> tuple[int, int]:
    """Where the ``<`` and ``>`` outside quotes are (-1: none), in one pass over the text."""
    in_quotes = False
    escaped = False
    angle_open = angle_close = -1
    for i, c in enumerate(text):
        if escaped:
            escaped = False
        elif c == "\\" and in_quotes:
            escaped = True
        elif c == '"':
            in_quotes = not in_quotes
        elif in_quotes:
            continue
        elif c in ",;":
            raise KindError(f"several addresses in {text!r}; one is expected")
        elif c in "<>":
            angle_open, angle_close = _angle_seen(text, i, angle_open, angle_close)
    if in_quotes:
        raise KindError(f"unclosed quote in {text!r}")
    return angle_open, angle_close


def _angle_seen(text: str, i: int, angle_open: int, angle_close: int) -> tuple[int, int]:
    """The angles' positions once ``text[i]`` (``<`` or ``>``) is read; a second one
    of either, or a ``>`` before the ``<``, fails."""
    if text[i] == "<":
        if angle_open >= 0:
            raise KindError(f"more than one '<' in {text!r}")
        return i, angle_close
    if angle_open < 0 or angle_close >= 0:
        raise KindError(f"unbalanced '>' in {text!r}")
    return angle_open, i


def _inside_angles(text: str, angle_open: int, angle_close: int) -> str:
    if text[angle_close + 1 :].strip():
        raise KindError(f"trailing text after '<...>' in {text!r}")
    if "@" in text[:angle_open]:
        raise KindError(f"a display name with '@' is ambiguous: {text!r}")
    return text[angle_open + 1 : angle_close].strip()


# A mail domain is letters, digits, '-' and '.' once IDNA-encoded ('_' is tolerated).
_NOT_IN_DOMAINS = frozenset(chr(c) for c in range(128)) - frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
)


def _domain(domain: str) -> str:
    if not isinstance(domain, str):
        raise TypeError(f"expected a string, got {show(domain)}")
    if domain.startswith("["):
        raise KindError(f"domain literals such as {domain!r} are not accepted")
    try:
        return normalise_domain(domain, _NOT_IN_DOMAINS)
    except ValueError as exc:
        raise KindError(f"{domain!r} is not a valid domain: {exc}") from None
