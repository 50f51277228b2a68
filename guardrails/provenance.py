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
  space, trimmed) — ``text:...`` — and each part of it in quotes (a single
  quote inside a word, as in "I'm", is an apostrophe, not a quote);
- in what the user said (its first 2,000 characters), every run of up to six
  words within a sentence or clause (``said:...``);
- the identifiers inside it: e-mail addresses (case-folded), URLs and the
  hosts in them or standing alone (case-folded, IDNA, no trailing dot), IBANs
  (upper case, no spaces; printed in groups, each length the groups can end
  at), file paths (``/a/./b/../c`` is ``/a/c``), phone
  numbers and other runs of six digits or more (digits only; dates are not
  identifiers).

**What is asked.** An argument's value (each item of a list) is broken into
the same tokens — its identifiers when it has any, else its text. It is
*trusted* when it is a plain string with no identifiers (a name) and the user
wrote it — all its words, at most six, in that order, in one sentence
("Spotify" in "Spotify sent me a note") — wherever else it was seen; else
*untrusted* when one of its tokens was seen in untrusted output and not in
trusted input; else *trusted* when one was seen in trusted input; else
*invented*. ``provenance(kinds...)`` holds when any item is of
one of the kinds.

**Limits.** Values are matched by what they are, not what they mean: a name
the user wrote counts as named even where they said not to use it ("do not
pay Mallory Ltd"); a value
the model paraphrased ("forty-two"), re-encoded (base64, URL escapes, HTML
entities), split, or rebuilt from parts of different strings is *invented*,
not untrusted — pair provenance rules with rules on the value itself. A
short identifier-free fragment copied out of a longer string is invented too
(the longer string is one token). A session that has seen more untrusted
output than the store keeps (``MAX_TOKENS``) treats every value as untrusted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import ipaddress
import posixpath
import re
import unicodedata
from collections import deque
from collections.abc import Iterator, Mapping
from decimal import Decimal
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
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_IBAN = re.compile(r"(?=\b([a-z]{2}\d{2}(?:[ \t]?[a-z0-9]){11,40}))")
_PATH = re.compile(
    r"(?:(?<=[\s(\[`'\"=:])|^)(?:~|\.{1,2})?/[^\s'\"`<>|;()\[\]]{1,1024}|\b[a-z]:\\[^\s'\"`<>|;]{1,1024}",
    re.IGNORECASE,
)
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


def strings(value: Any, budget: int | None = None) -> Iterator[str]:
    """Every string inside ``value`` — dict keys and values, list items, pydantic
    models, dataclasses, object attributes and slots, exceptions' messages — up
    to ``budget`` characters (``MAX_OUTPUT``); then ``_OVERFLOW_MARK`` if
    anything could not be read: more text than that, an iterator (reading it
    would consume it), or an object that fails to show itself."""
    left = MAX_OUTPUT if budget is None else budget
    stack: list[Any] = [value]
    seen: dict[int, Any] = {}  # holding each object keeps its id from being reused
    cut = False
    while stack:
        item = stack.pop()
        if isinstance(item, memoryview):
            item = item.tobytes()
        if isinstance(item, (bytes, bytearray)):
            item = _decoded(bytes(item))
        if isinstance(item, str):
            if len(item) > left:
                cut = True
                break
            yield item
            left -= len(item)
            continue
        if isinstance(item, bool) or item is None or id(item) in seen:
            continue
        if isinstance(item, (int, float, Decimal)):
            text = _number(item)
            if text is None:
                cut = True
                break
            yield text  # an account number returned as a number is still one
            continue
        seen[id(item)] = item
        try:
            children = _children(item)
        except Exception:  # noqa: BLE001 - what cannot be read is not known to be clean
            cut = True
            break
        if children is None:
            cut = True
            break
        stack.extend(reversed(children))
    if cut:
        yield _OVERFLOW_MARK


def _children(item: Any) -> list[Any] | None:
    """What an object holds, to read in turn; None when it cannot be read safely."""
    if isinstance(item, Mapping):
        return [part for pair in item.items() for part in pair]
    if isinstance(item, (list, tuple, set, frozenset, deque)):
        return list(item)
    if isinstance(item, BaseException):
        return [str(item), *item.args]
    if isinstance(item, Iterator) or inspect.isgenerator(item) or inspect.isasyncgen(item):
        return None  # reading it would take it from the caller
    if hasattr(item, "model_dump") and callable(item.model_dump):  # pydantic
        return [item.model_dump()]
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return [getattr(item, f.name) for f in dataclasses.fields(item)]
    if hasattr(item, "getvalue") and callable(item.getvalue):  # StringIO, BytesIO
        return [item.getvalue()]
    parts: list[Any] = []
    if hasattr(item, "__dict__"):
        parts += list(vars(item).values())
    for name in _slots(type(item)):
        with contextlib.suppress(AttributeError):
            parts.append(getattr(item, name))
    parts.append(str(item))  # what it shows of itself (a UUID, a date, an Enum)
    return parts


def _slots(kind: type) -> list[str]:
    names: list[str] = []
    for klass in kind.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names += (
            [slots] if isinstance(slots, str) else [n for n in slots if n not in ("__dict__", "__weakref__")]
        )
    return names


def _number(value: int | float | Decimal) -> str | None:
    try:
        return str(value)
    except ValueError:  # an int too long to show: not read
        return None


def _decoded(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8", "replace")


_OVERFLOW_MARK = "\x00overflow"  # yielded when more was there than was read


def output_tokens(value: Any) -> set[str]:
    """The tokens of a tool's output (with the overflow token if it was cut)."""
    found: set[str] = set()
    for text in strings(value):
        if text is _OVERFLOW_MARK:
            found.add(_OVERFLOW)
        else:
            found |= tokens(text, "output")
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
    nothing in it (None, an empty string) has none, and one too big or strange to
    read in full is untrusted."""
    items = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    per_item: list[set[str] | None] = []  # None: could not be read in full
    said_by_item: list[set[str]] = []  # per item read in full: the words it is made of
    wanted: set[str] = set()
    wanted_said: set[str] = set()
    for item in items:
        found: set[str] = set()
        unread = False
        for text in strings(item, budget=100_000):
            if text is _OVERFLOW_MARK:
                unread = True
            else:
                found |= tokens(text, "value")
        # A value with identifiers in it is judged by them: the user who named an
        # IBAN vouches for it, however the sentence around it read. Words vouch
        # only for a plain string with none (a name): an address, a path or a
        # number built from the user's words is still the identifier it is, and
        # one string of a structure says nothing of the others.
        said = {t for t in found if t.startswith("said:")}
        found -= said
        identifiers = {t for t in found if not t.startswith("text:")}
        if identifiers or not isinstance(item, str):
            said = set()
        if unread:
            per_item.append(None)
        elif found:  # None, "" and [] carry no value to place
            per_item.append(identifiers or found)
            wanted |= identifiers or found
            said_by_item.append(said)
            wanted_said |= said
    session = session_of(call)
    trusted_now = _trusted_in_context(call)
    try:
        asked = [*wanted, _OVERFLOW]
        untrusted = store.find_tokens(untrusted_key(session), asked)
        if session:  # output recorded without a session (a thread lost the context) counts in all
            untrusted |= store.find_tokens(untrusted_key(""), asked)
        every = wanted | wanted_said
        trusted = store.find_tokens(trusted_key(session), list(every)) | (every & trusted_now)
    except Exception as exc:
        raise StoreError(f"the state store {brief(store)} failed to read provenance ({exc})") from exc
    kinds: set[str] = set()
    words = iter(said_by_item)
    for held in per_item:
        if held is None or _OVERFLOW in untrusted:
            kinds.add("untrusted")
        elif next(words) & trusted:  # the user wrote this very value: wherever else it was seen
            kinds.add("trusted")
        elif (held & untrusted) - trusted:
            kinds.add("untrusted")
        elif held & trusted:
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
        found = frozenset(tokens(text, "trusted"))
        if len(_CACHE) >= 256:
            _CACHE.clear()
        _CACHE[text] = found
    return found


def record_output(store: Store, call: Call, output: Any) -> None:
    """Record what an untrusted tool returned (or the error it raised), for the
    call's session. Raises ``StoreError`` when it cannot be recorded, whatever the reason."""
    try:
        found = output_tokens(output)
        if not found:
            return
        key = untrusted_key(session_of(call))
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
            found |= tokens(text, "trusted")
    if found:
        store.add_tokens(trusted_key(session), found, KEEP)
