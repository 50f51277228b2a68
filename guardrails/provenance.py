"""Provenance: where an argument's value was seen before — in what a tool returned
(untrusted), in what the user said (trusted), or nowhere (invented).

Prompt injection plants a value (an IBAN, an address, a URL) in content the
agent reads and gets the agent to pass it to a tool. A rule that asks where
the value came from stops that class of attack without knowing the attack:

    g.deny("send_money", when=g.arg("recipient").provenance("untrusted"))

**What is recorded.** The output of tools marked untrusted
(``@governed(..., output="untrusted")``, or ``Governor(untrusted=["read_*"])``)
and the texts the user gave (``context(trusted=[...])``, ``gov.trust(...)``),
per session, in the governor's store, as *tokens*:

- each string, normalised (NFKC, case-folded, runs of white space made one
  space, trimmed) — ``text:...`` — and each part of it in quotes;
- the identifiers inside it: e-mail addresses (case-folded), URLs and the
  hosts in them or standing alone (case-folded, IDNA, no trailing dot), IBANs
  (upper case, no spaces; printed in groups, each length the groups can end
  at), file paths (``/a/./b/../c`` is ``/a/c``), phone
  numbers and other runs of six digits or more (digits only; dates are not
  identifiers).

**What is asked.** An argument's value (each item of a list) is broken into
the same tokens. It is *untrusted* when one of them was seen in untrusted
output and not in trusted input; else *trusted* when one was seen in trusted
input; else *invented*. ``provenance(kinds...)`` holds when any item is of
one of the kinds.

**Limits.** Values are matched by what they are, not what they mean: a value
the model paraphrased ("forty-two"), re-encoded (base64, URL escapes, HTML
entities), split, or rebuilt from parts of different strings is *invented*,
not untrusted — pair provenance rules with rules on the value itself. A
short identifier-free fragment copied out of a longer string is invented too
(the longer string is one token). A session that has seen more untrusted
output than the store keeps (``MAX_TOKENS``) treats every value as untrusted.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from guardrails.conditions import Condition
from guardrails.errors import EvaluationError, PolicyError
from guardrails.state import Store, StoreError
from guardrails.state.store import READING
from guardrails.values import brief, show

if TYPE_CHECKING:
    from guardrails.call import Call
    from guardrails.refs import Ref

__all__ = ["KINDS", "MAX_TOKENS", "Provenance", "tokens"]

Kind = Literal["untrusted", "trusted", "invented"]
KINDS: tuple[Kind, ...] = ("untrusted", "trusted", "invented")

#: Tokens kept per session and source; past it, every value counts as untrusted.
MAX_TOKENS = 200_000
#: Characters of one tool output that are read; an output with more counts as overflow.
MAX_OUTPUT = 4_000_000
#: How long a session's tokens are kept after the last output was added (seconds).
KEEP = 7 * 86_400.0
_OVERFLOW = "overflow:"  # a token meaning "more was seen than is kept"

_EMAIL = re.compile(r"[\w.%+-]+@(?:[\w-]+\.)+[\w-]{2,}")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s<>\"'`]+", re.IGNORECASE)
_HOST = re.compile(r"\b(?:[\w-]{1,63}\.)+[a-z][\w-]{1,62}\b", re.IGNORECASE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ \t]?[A-Z0-9])+", re.IGNORECASE)
_PATH = re.compile(r"(?:(?<=\s)|^)(?:~|\.{1,2})?/[^\s'\"`<>|;]+|\b[A-Za-z]:\\[^\s'\"`<>|;]+")
_DIGITS = re.compile(r"\+?\d(?:[\d \t().-]{4,}\d)")
_SPACE = re.compile(r"\s+")
_QUOTED = re.compile(r"'([^'\n]{1,200})'|\"([^\"\n]{1,200})\"|[‘“«]([^’”»\n]{1,200})[’”»]")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


def tokens(text: str) -> set[str]:
    """The tokens a string is known by: itself, normalised, and its identifiers."""
    plain = _normal(text)
    found = {"text:" + plain} if plain else set()
    for match in _QUOTED.finditer(plain):  # 'a value in quotes' is one too
        inner = match.group(1) or match.group(2) or match.group(3)
        if inner and inner.strip():
            found.add("text:" + inner.strip())
    for match in _EMAIL.finditer(plain):
        found.add("email:" + match.group())
        found.add("host:" + _host(match.group().rpartition("@")[2]))
    for match in _URL.finditer(plain):
        url = match.group().rstrip(".,;:!?)]}")
        found.add("url:" + url)
        rest = url.split("://", 1)[1]
        host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if host:
            found.add("host:" + _host(host))
    for match in _HOST.finditer(plain):
        # "www.acme.com.They" (a missing space) holds www.acme.com: each run of
        # two or more labels from the left is a candidate.
        labels = _host(match.group()).split(".")
        for end in range(2, len(labels) + 1):
            found.add("host:" + ".".join(labels[:end]))
    for match in _IBAN.finditer(plain):
        # "UK12 3456 ... 90 please": the IBAN may end at any gap between groups;
        # each length an IBAN can have is a candidate (15 to 34 characters).
        compact = ""
        for part in re.split(r"[ \t]", match.group()):
            compact += part.upper()
            if 15 <= len(compact) <= 34:
                found.add("iban:" + compact)
    for match in _PATH.finditer(text):  # paths keep their case
        found.add("path:" + _path(match.group()))
    for match in _DIGITS.finditer(plain):
        if _DATE.fullmatch(match.group().strip()):
            continue  # a date is not an identifier
        digits = re.sub(r"\D", "", match.group())
        if len(digits) >= 6:
            found.add("digits:" + digits)
    return found


def _normal(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


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


def strings(value: Any, budget: int | None = None) -> Iterator[str]:
    """Every string inside ``value`` — dict keys and values, list items, pydantic
    models, dataclasses, object attributes — up to ``budget`` characters
    (``MAX_OUTPUT``); then, if anything was left unread, ``_OVERFLOW_MARK``."""
    left = MAX_OUTPUT if budget is None else budget
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen: set[int] = set()
    cut = False
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (bytes, bytearray)):
            item = bytes(item).decode("utf-8", "replace")
        if isinstance(item, str):
            if len(item) > left:
                cut = True
                break
            yield item
            left -= len(item)
            continue
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            yield str(item)  # an account number returned as a number is still one
            continue
        if item is None or isinstance(item, bool) or id(item) in seen:
            continue
        if depth > 32:
            cut = True
            break
        seen.add(id(item))
        children: list[Any]
        if isinstance(item, Mapping):
            children = [part for pair in item.items() for part in pair]
        elif isinstance(item, (list, tuple, set, frozenset)):
            children = list(item)
        elif hasattr(item, "model_dump") and callable(item.model_dump):  # pydantic
            try:
                children = [item.model_dump()]
            except Exception:  # noqa: BLE001 - what cannot be dumped is read as text
                children = [repr(item)]
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            children = [getattr(item, f.name) for f in dataclasses.fields(item)]
        elif hasattr(item, "__dict__"):
            children = list(vars(item).values())
        else:
            children = [str(item)]
        stack.extend((child, depth + 1) for child in reversed(children))
    if cut:
        yield _OVERFLOW_MARK


_OVERFLOW_MARK = "\x00overflow"  # yielded when more was there than was read


def output_tokens(value: Any) -> set[str]:
    """The tokens of a tool's output (with the overflow token if it was cut)."""
    found: set[str] = set()
    for text in strings(value):
        if text is _OVERFLOW_MARK:
            found.add(_OVERFLOW)
        else:
            found |= tokens(text)
    return found


# ---- the condition ----------------------------------------------------------------------


def untrusted_key(session: str) -> str:
    return f"provenance:untrusted:{session}"


def trusted_key(session: str) -> str:
    return f"provenance:trusted:{session}"


def session_of(call: Call) -> str:
    """The session a call's tokens are kept under (``ctx('session')``, or ``""``)."""
    session = call.context.get("session")
    return "" if session is None else str(session)


class Provenance(Condition):
    """``arg(name).provenance(kinds...)``: where the value (any item of a list) was seen."""

    __slots__ = ("ref", "kinds")

    def __init__(self, ref: Ref, kinds: tuple[str, ...]) -> None:
        if not kinds:
            raise PolicyError(f"{ref!r}.provenance() names one or more of {', '.join(KINDS)}")
        for kind in kinds:
            if kind not in KINDS:
                raise PolicyError(f"{ref!r}.provenance(): {show(kind)} is not one of {', '.join(KINDS)}")
        if not ref.is_plain:
            raise PolicyError(f"provenance() takes a plain arg(...) or ctx(...), got {ref!r}")
        self.ref = ref
        self.kinds = tuple(dict.fromkeys(kinds))

    def __call__(self, call: Call) -> bool:
        store = READING.get()
        if store is None:
            raise EvaluationError(
                f"{self!r} reads what a governor recorded in its store; judge it with a Governor"
            )
        return bool(set(self.kinds) & classify(store, call, self.ref.resolve(call)))

    def reads_store(self) -> bool:
        return True

    def refs(self) -> Iterator[Ref]:
        yield self.ref

    def __repr__(self) -> str:
        return f"{self.ref!r}.provenance({', '.join(map(repr, self.kinds))})"


def classify(store: Store, call: Call, value: Any) -> set[str]:
    """The kinds of the items of ``value`` (a string, or a list of them); an item with
    nothing in it (None, an empty string) has none."""
    items = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    per_item = []
    wanted: set[str] = set()
    for item in items:
        found: set[str] = set()
        for text in strings(item, budget=100_000):
            if text is not _OVERFLOW_MARK:
                found |= tokens(text)
        if found:  # None, "" and [] carry no value to place
            per_item.append(found)
            wanted |= found
    session = session_of(call)
    trusted_now = _trusted_in_context(call)
    try:
        untrusted = store.find_tokens(untrusted_key(session), [*wanted, _OVERFLOW])
        trusted = store.find_tokens(trusted_key(session), list(wanted)) | (wanted & trusted_now)
    except Exception as exc:
        raise StoreError(f"the state store {brief(store)} failed to read provenance ({exc})") from exc
    kinds: set[str] = set()
    for found in per_item:
        if _OVERFLOW in untrusted or (found & untrusted) - trusted:
            kinds.add("untrusted")
        elif found & trusted:
            kinds.add("trusted")
        else:
            kinds.add("invented")
    return kinds


def _trusted_in_context(call: Call) -> set[str]:
    given = call.context.get("trusted")
    if given is None:
        return set()
    texts = [given] if isinstance(given, str) else list(given) if isinstance(given, (list, tuple)) else []
    found: set[str] = set()
    for text in texts:
        if isinstance(text, str):
            found |= _cached_tokens(text)
    return found


_CACHE: dict[str, frozenset[str]] = {}


def _cached_tokens(text: str) -> frozenset[str]:
    """Tokens of a trusted text, remembered: the same user request is read on every call."""
    found = _CACHE.get(text)
    if found is None:
        found = frozenset(tokens(text))
        if len(_CACHE) >= 1024:
            _CACHE.clear()
        _CACHE[text] = found
    return found


def record_output(store: Store, call: Call, output: Any) -> None:
    """Record what an untrusted tool returned, for the call's session. Raises ``StoreError``."""
    found = output_tokens(output)
    if not found:
        return
    key = untrusted_key(session_of(call))
    try:
        size = store.add_tokens(key, found, KEEP)
        if size > MAX_TOKENS:
            store.add_tokens(key, {_OVERFLOW}, KEEP)
    except Exception as exc:
        raise StoreError(f"the state store {brief(store)} failed to record the output ({exc})") from exc


def record_trusted(store: Store, session: str, texts: Any) -> None:
    """Record texts the user gave (a request, an allow-list) as trusted for ``session``."""
    found: set[str] = set()
    for text in strings(texts):
        if text is not _OVERFLOW_MARK:
            found |= tokens(text)
    if found:
        store.add_tokens(trusted_key(session), found, KEEP)
