"""Tokens: the identifiers and texts ``provenance(...)`` matches values by.

What a tool returned, what the user said and the value an argument holds are
all broken into the same tokens (see ``guardrails.policy.provenance`` for
what they are). Every extraction is linear in the text: bounded repeats, and
each pattern run only when the character it needs is there.
"""

from __future__ import annotations

import contextlib
import ipaddress
import posixpath
import re
import unicodedata
from typing import Any, Literal

# Re-exported: the runtime reads a value's strings and tokens from here.
from guardrails.policy.value_strings import OVERFLOW_MARK, strings

__all__ = [
    "MAX_TOKENS",
    "OVERFLOW",
    "OVERFLOW_MARK",
    "Mode",
    "cached_tokens",
    "output_tokens",
    "strings",
    "tokens",
]

#: Tokens kept per session and source; past it, every value counts as untrusted.
MAX_TOKENS = 200_000

#: The token meaning "more was seen than is kept" (or read).
OVERFLOW = "overflow:"


#: A value of at most this many words, all written in that order in what the
#: user said, is one the user named.
MAX_SAID_WORDS = 6


#: How much of each trusted text is read for the words the user said.
MAX_SAID_TEXT = 2_000


# Every repeat is bounded, and the costly patterns run only near their anchor
# ("@", "://"): the extraction is linear in the text, whatever the text.
_LOCAL = re.compile(r"[\w.%+'-]{1,64}$")


_DOMAIN = re.compile(r"(?:[\w-]{1,63}\.){1,10}[\w-]{2,63}")


_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,31}$")


_URL_REST = re.compile(r"[^\s<>\"'`]{1,2048}")


_HOST = re.compile(r"\b(?:[\w-]{1,63}\.){1,10}[a-z][\w-]{1,62}\b")


_IBAN = re.compile(r"(?=\b([a-z]{2}\d{2}(?:[ \t]?[a-z0-9]){11,40}))")


_PATH = re.compile(
    r"(?:(?<=[\s(\[`'\"=:])|^)(?:~|\.{1,2})?/[^\s'\"`<>|;()\[\]]{1,1024}|\b[a-z]:\\[^\s'\"`<>|;]{1,1024}",
    re.IGNORECASE,
)


_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")


_DIGITS = re.compile(r"\+?\d(?:[\d \t().-]{0,40}\d)")


_SPACE = re.compile(r"\s+")


_A_DIGIT = re.compile(r"\d")


_QUOTES = re.compile("['\"‘“«]")


_QUOTED = re.compile(r"'([^'\n]{1,200})'|\"([^\"\n]{1,200})\"|[‘“«]([^’”»\n]{1,200})[’”»]")


# A single quote inside a word is an apostrophe ("I'm", "Emma's"), not a quote:
# it is set aside before quotes are paired, and put back in what they hold.
_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")


_SET_ASIDE = "\x00"


_WORD = re.compile(r"\w+(?:['’.@+/:-]\w+)*")


_CLAUSE = re.compile(r"[.!?;:]+(?=\s|$)|\n")  # where one sentence or clause ends


_TRAILING = ".,;:!?)]}`'\""


Mode = Literal["output", "trusted", "value"]


def tokens(text: str, mode: Mode = "output") -> set[str]:
    """The tokens a string is known by: itself, normalised, and its identifiers.

    ``mode`` says whose text it is. In tool output (``"output"``) every reading
    that could be meant counts (a host run into the next word: each run of
    labels from the left). In what the user said (``"trusted"``) only readings
    with a visible break do (``acme.com.They``: ``acme.com``, as a capital letter
    starts the next word), so a look-alike is never trusted by accident. An
    argument's value (``"value"``) is read exactly.
    """
    plain = _normal(text)
    found = {"text:" + plain} if plain else set()
    if mode != "output":
        _said(plain, mode, found)
    # Each pattern runs only when the character it cannot match without is there:
    # most arguments are short words, and this is read on every checked call.
    if _QUOTES.search(plain):
        paired = _APOSTROPHE.sub(_SET_ASIDE, plain) if "'" in plain else plain
        for match in _QUOTED.finditer(paired):  # 'a value in quotes' is one too
            inner = (match.group(1) or match.group(2) or match.group(3) or "").replace(_SET_ASIDE, "'")
            if inner.strip():
                found.add("text:" + inner.strip())
    if "@" in plain:
        _emails(plain, found)
    if "://" in plain:
        _urls(plain, found)
    dotted = "." in plain
    if dotted or "/" in plain or "\\" in plain:
        _hosts_and_paths(text, plain, mode, found, dotted)
    if _A_DIGIT.search(plain):
        _numbers(plain, found, dotted)
    return found


def _hosts_and_paths(text: str, plain: str, mode: Mode, found: set[str], dotted: bool) -> None:
    cased = _SPACE.sub(" ", _cased(text)).strip()
    aligned = len(cased) == len(plain)  # case folding kept every position
    for match in _HOST.finditer(plain) if dotted else ():
        labels = _host(match.group()).split(".")
        if mode == "value":
            found.add("host:" + ".".join(labels))
            continue
        for end in range(2, len(labels) + 1):
            if (
                end == len(labels)
                or mode == "output"
                or (aligned and _capital_after(cased, match, labels, end))
            ):
                found.add("host:" + ".".join(labels[:end]))
    for match in _PATH.finditer(cased):  # paths keep their case
        found.add("path:" + _path(match.group().rstrip(_TRAILING)))


def _numbers(plain: str, found: set[str], dotted: bool) -> None:
    """IPv4 addresses, IBANs and runs of digits: each has a digit in it."""
    for match in _IPV4.finditer(plain) if dotted else ():
        with contextlib.suppress(ValueError):
            found.add("host:" + str(ipaddress.IPv4Address(match.group())))
    for match in _IBAN.finditer(plain):
        # "UK12 3456 ... 90 please": the IBAN may end at any gap between groups;
        # each length an IBAN can have is a candidate (15 to 34 characters).
        compact = ""
        for part in re.split(r"[ \t]", match.group(1)):
            compact += part.upper()
            if 15 <= len(compact) <= 34:
                found.add("iban:" + compact)
    for match in _DIGITS.finditer(plain):
        _digit_runs(match.group(), found)


def _said(plain: str, mode: Mode, found: set[str]) -> None:
    """``said:`` tokens: in what the user said, every run of up to ``MAX_SAID_WORDS``
    words within one sentence or clause (of its first ``MAX_SAID_TEXT``
    characters); of a value, all its words, if it has that few — so a name the
    user wrote in a sentence ("Spotify sent me a note") is a value the user named."""
    if mode == "trusted":
        text = plain if len(plain) <= MAX_SAID_TEXT else plain[:MAX_SAID_TEXT].rsplit(" ", 1)[0]
        for clause in _CLAUSE.split(text):
            words = _WORD.findall(clause)
            for first in range(len(words)):
                for last in range(first + 1, min(first + MAX_SAID_WORDS, len(words)) + 1):
                    found.add("said:" + " ".join(words[first:last]))
    else:
        words = _WORD.findall(plain)
        if 0 < len(words) <= MAX_SAID_WORDS:
            found.add("said:" + " ".join(words))


def _emails(plain: str, found: set[str]) -> None:
    for at in (m.start() for m in re.finditer("@", plain)):
        local = _LOCAL.search(plain, max(0, at - 64), at)
        domain = _DOMAIN.match(plain, at + 1, at + 1 + 700)
        if local and domain:
            name = local.group().lstrip(".'")  # 'bob@x.com' in quotes: the quote is not the address
            host = domain.group().rstrip(".-")
            found.add(f"email:{name}@{_host(host)}")
            found.add("host:" + _host(host))


def _urls(plain: str, found: set[str]) -> None:
    read_to = 0  # a "://" inside the URL just read starts no other
    for mark in (m.start() for m in re.finditer("://", plain)):
        if mark < read_to:
            continue
        scheme = _SCHEME.search(plain, max(0, mark - 32), mark)
        rest = _URL_REST.match(plain, mark + 3)
        if not (scheme and rest):
            continue
        read_to = rest.end()
        url = (scheme.group() + "://" + rest.group()).rstrip(_TRAILING)
        found.add("url:" + url)
        after = rest.group().rstrip(_TRAILING)
        if scheme.group() == "file":
            found.add("path:" + _path(after if after.startswith("/") else "/" + after.split("/", 1)[-1]))
            continue
        host = after.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if host:
            found.add("host:" + _host(host))


def _digit_runs(run: str, found: set[str]) -> None:
    """Phone numbers and account numbers in a run of digits and separators: every
    span of whole groups with six digits or more (with leading zeros, and without),
    so "+44 20 7946 0958" holds "020 7946 0958" and "12345678\\n3 items" holds 12345678."""
    if _is_date(run.strip()):
        return
    groups = [g for g in re.split(r"[^\d]+", run) if g][:16]
    for first in range(len(groups)):
        digits = ""
        for group in groups[first:]:
            digits += group
            if len(digits) >= 6:
                found.add("digits:" + digits)
                if digits.startswith("0") and len(digits.lstrip("0")) >= 6:
                    found.add("digits:" + digits.lstrip("0"))


def _is_date(text: str) -> bool:
    parts = re.split(r"[-./]", text)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return False
    a, b, c = (int(p) for p in parts)
    if len(parts[0]) == 4:  # 2026-01-05
        return 1 <= b <= 12 and 1 <= c <= 31
    if len(parts[2]) in (2, 4):  # 05.01.2026, 01/05/26
        return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)
    return False


def _capital_after(cased: str, match: re.Match[str], labels: list[str], end: int) -> bool:
    """Whether, in the text as written, the label after ``end`` starts with a capital
    letter (a sentence run into a host: ``www.acme.com.They``)."""
    offset = match.start() + len(".".join(labels[:end])) + 1
    return offset < len(cased) and cased[offset].isupper()


def _cased(text: str) -> str:
    """The text without format characters (zero-width spaces, soft hyphens), NFKC,
    ideographic full stops as dots; case kept."""
    if text.isascii():  # no format characters, and NFKC leaves it as it is
        return text
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFKC", text).replace("。", ".")


def _normal(text: str) -> str:
    """NFKC, no format characters (zero-width spaces, soft hyphens), case-folded,
    one space for every run of white space, trimmed."""
    return _SPACE.sub(" ", _cased(text).casefold()).strip()


def _host(host: str) -> str:
    host = host.strip(".").casefold()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _path(path: str) -> str:
    if "\\" in path:
        return path.replace("\\", "/").casefold()  # Windows paths: no case
    return posixpath.normpath(path)


def output_tokens(value: Any) -> set[str]:
    """The tokens of a tool's output (with the overflow token if it was cut)."""
    found: set[str] = set()
    for text in strings(value):
        if text is OVERFLOW_MARK:
            found.add(OVERFLOW)
        else:
            found |= tokens(text, "output")
    return found


_CACHE: dict[str, frozenset[str]] = {}


def cached_tokens(text: str) -> frozenset[str]:
    """Tokens of a trusted text, remembered: the same user request is read on every call."""
    found = _CACHE.get(text)
    if found is None:
        found = frozenset(tokens(text, "trusted"))
        if len(_CACHE) >= 256:
            _CACHE.clear()
        _CACHE[text] = found
    return found
