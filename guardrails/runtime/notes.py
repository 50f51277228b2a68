"""What a governor writes in its store about calls, for the stateful rules to read.

- ``note``: a call about to run, under every ``after(...)`` asking about it;
- ``record_output``: what an untrusted tool returned, for ``provenance(...)``;
- ``record_trusted``: what the user said (``gov.trust(...)``).

Each raises ``StoreError`` when the store fails: the flow then does not run
the tool (or withholds its output).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from guardrails._text import brief
from guardrails.call import Call
from guardrails.errors import EvaluationError, StoreError
from guardrails.policy import tokenize as extraction
from guardrails.policy.history import After
from guardrails.policy.limits import key_text
from guardrails.policy.provenance import KEEP, session_of, trusted_key, untrusted_key
from guardrails.policy.tokenize import OVERFLOW, OVERFLOW_MARK, output_tokens, strings, tokens
from guardrails.state import Entry, Store

__all__ = ["note", "record_output", "record_trusted"]

_NONE = Decimal(0)  # noting is never refused: the limit of a note's entry is not checked


def record_output(store: Store, call: Call, output: Any) -> None:
    """Record what an untrusted tool returned (or the error it raised), for the
    call's session. Raises ``StoreError`` when it cannot be recorded, whatever the reason."""
    try:
        found = output_tokens(output)
        if not found:
            return
        key = untrusted_key(session_of(call))
        size = store.add_tokens(key, found, KEEP)
        if size > extraction.MAX_TOKENS:  # read at call time: tests lower it
            store.add_tokens(key, {OVERFLOW}, KEEP)
    except Exception as exc:
        raise StoreError(f"the state store {brief(store)} failed to record the output ({exc})") from exc


def record_trusted(store: Store, session: str, texts: Any) -> None:
    """Record texts the user gave (a request, an allow-list) as trusted for ``session``."""
    found: set[str] = set()
    for text in strings(texts):
        if text is not OVERFLOW_MARK:
            found |= tokens(text, "trusted")
    if found:
        store.add_tokens(trusted_key(session), found, KEEP)


def note(store: Store, token: str, histories: Sequence[After], call: Call) -> int:
    """Note ``call`` (which is about to run) under every ``after(...)`` asking about
    it; return how many notes were written. Store errors raise ``StoreError``."""
    entries: dict[str, Entry] = {}
    for history in histories:
        if history.notes(call):
            try:
                key = key_text(history.counter, history.key, call)
            except EvaluationError:
                continue  # no key, nothing any later call can ask about
            entries[key] = Entry(key, history.window, _NONE)
    if not entries:
        return 0
    try:
        store.force(token, list(entries.values()))
        store.commit(token, list(entries))
    except Exception as exc:
        raise StoreError(f"the state store {brief(store)} failed to note the call ({exc})") from exc
    return len(entries)
