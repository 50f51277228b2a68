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

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from guardrails._text import brief, show
from guardrails.errors import EvaluationError, PolicyError, StoreError
from guardrails.policy.conditions import Condition, Reference
from guardrails.policy.tokenize import OVERFLOW, cached_tokens, tokens
from guardrails.policy.value_strings import OVERFLOW_MARK, strings

if TYPE_CHECKING:
    from guardrails.call import Call, StateReader

__all__ = ["KEEP", "KINDS", "Provenance", "classify", "session_of", "trusted_key", "untrusted_key"]

Kind = Literal["untrusted", "trusted", "invented"]
KINDS: tuple[Kind, ...] = ("untrusted", "trusted", "invented")

#: How long a session's tokens are kept after the last output was added (seconds).
KEEP = 7 * 86_400.0


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

    def __init__(self, ref: Reference, kinds: tuple[str, ...]) -> None:
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
        store = call.state
        if store is None:
            raise EvaluationError(
                f"{self!r} reads what a governor recorded in its store; judge it with a Governor"
            )
        return bool(set(self.kinds) & classify(store, call, self.ref.resolve(call)))

    def reads_store(self) -> bool:
        """True: judging it reads the tokens the governor recorded in its store."""
        return True

    def refs(self) -> Iterator[Reference]:
        """Yield the reference whose value it places."""
        yield self.ref

    def __repr__(self) -> str:
        return f"{self.ref!r}.provenance({', '.join(map(repr, self.kinds))})"


def classify(store: StateReader, call: Call, value: Any) -> set[str]:
    """The kinds of the items of ``value`` (a string, or a list of them); an item with
    nothing in it (None, an empty string) has none, and one too big or strange to
    read in full is untrusted."""
    items = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    # None, "" and [] carry no value to place; an item not read in full (None) is placed.
    read = [(held, said) for held, said in map(_read_item, items) if held is None or held]
    wanted: set[str] = set()
    wanted_said: set[str] = set()
    for held, said in read:
        if held is not None:
            wanted |= held
            wanted_said |= said
    untrusted, trusted = _seen(store, call, wanted, wanted_said)
    return {_kind(held, said, untrusted, trusted) for held, said in read}


def _read_item(item: Any) -> tuple[set[str] | None, set[str]]:
    """The tokens an item is judged by (None: it could not be read in full), and
    the runs of words it is, if the user's saying them vouches for it."""
    found: set[str] = set()
    for text in strings(item, budget=100_000):
        if text is OVERFLOW_MARK:
            return None, set()
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
    return identifiers or found, said


def _seen(store: StateReader, call: Call, wanted: set[str], said: set[str]) -> tuple[set[str], set[str]]:
    """Which of the tokens were seen in untrusted output, and which in trusted input."""
    session = session_of(call)
    trusted_now = _trusted_in_context(call)
    try:
        asked = [*wanted, OVERFLOW]
        untrusted = store.find_tokens(untrusted_key(session), asked)
        if session:  # output recorded without a session (a thread lost the context) counts in all
            untrusted |= store.find_tokens(untrusted_key(""), asked)
        every = wanted | said
        trusted = store.find_tokens(trusted_key(session), list(every)) | (every & trusted_now)
    except Exception as exc:
        raise StoreError(f"the state store {brief(store)} failed to read provenance ({exc})") from exc
    return untrusted, trusted


def _kind(held: set[str] | None, said: set[str], untrusted: set[str], trusted: set[str]) -> Kind:
    """The kind of one item, from where its tokens were seen."""
    if held is None or OVERFLOW in untrusted:
        return "untrusted"
    if said & trusted:  # the user wrote this very value: wherever else it was seen
        return "trusted"
    if (held & untrusted) - trusted:
        return "untrusted"
    if held & trusted:
        return "trusted"
    return "invented"


def _trusted_in_context(call: Call) -> set[str]:
    given = call.context.get("trusted")
    if given is None:
        return set()
    texts = [given] if isinstance(given, str) else list(given) if isinstance(given, (list, tuple)) else []
    found: set[str] = set()
    for text in texts:
        if isinstance(text, str):
            found |= cached_tokens(text)
    return found
