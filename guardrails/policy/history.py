"""Sequences: conditions on the calls that already ran under the same key.

    g.deny("send_email", when=g.after("read_file", when=g.arg("path").within("/secrets"), within="1d")
                              & ~g.arg("to").email_domain_in(["acme.com"]))
    g.require_approval("delete_*", when=g.after("delete_*", at_least=3, within="1h"))

``after(action, when=..., within=..., key=ctx("session"), at_least=1)`` holds
when at least ``at_least`` calls of ``action`` (a name or glob) for which
``when`` held *started* in the last ``within`` under the same key. The
governor notes such calls in its store just before their tool runs (a call
that was denied, or never got that far, is not noted; one whose tool then
failed is: it may have read what it read), so every process sharing the store
sees them.

A call is noted once per tool-call id, as limits count it. A ``when`` that
cannot be evaluated on a call notes it (it may be the one that matters); a
key that cannot be resolved on a call does not (no later call can ask about
that key either: a call whose key is missing makes the rule apply).
``after`` goes on deny and require-approval rules: history can only restrict.
It answers "did it happen": for an exact count under concurrency use ``rate``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from fnmatch import translate
from typing import TYPE_CHECKING

from guardrails._text import brief, show
from guardrails.call import ACTION
from guardrails.errors import EvaluationError, PolicyError, StoreError
from guardrails.policy.conditions import Condition, ConditionLike, as_condition
from guardrails.policy.limits import key_refs, key_text, parse_window
from guardrails.policy.refs import Ref, ctx

if TYPE_CHECKING:
    from guardrails.call import Call

__all__ = ["After", "after"]


_NONE = Decimal(0)  # noting is never refused: the limit of a note's entry is not checked


class After(Condition):
    """``after(...)``: enough calls of an action (matching a condition) started
    under the same key within a window."""

    __slots__ = ("action", "when", "window", "within", "key", "by_session", "at_least", "counter", "pattern")

    def __init__(
        self,
        action: str,
        when: ConditionLike | None,
        within: str | float,
        key: Ref | Sequence[Ref] | None,
        at_least: int,
    ) -> None:
        if not isinstance(action, str) or not ACTION.fullmatch(action):
            raise PolicyError(
                f"after(...) takes a tool name or glob without spaces or brackets, got {show(action)}"
            )
        self.action = action
        self.when = None if when is None else as_condition(when)
        if self.when is not None and next(self.when.histories(), None) is not None:
            raise PolicyError("after(...) cannot be nested in the 'when' of another after(...)")
        self.within = within
        self.window = parse_window(within)
        self.key = key_refs(key, "the key of after(...)")
        self.by_session = [(r.source, r.name) for r in self.key] == [("ctx", "session")]
        if type(at_least) is not int or at_least < 1:
            raise PolicyError(
                f"after(...) needs at_least to be a whole number of calls from 1, got {show(at_least)}"
            )
        self.at_least = at_least
        # Noted calls are kept under a name made of what is noted: two rules asking
        # the same question share the notes, and editing at_least keeps them.
        parts = [self.action, "" if self.when is None else self.when.fingerprint(), repr(self.window)]
        parts += [repr(ref) for ref in self.key]
        self.counter = "after:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
        self.pattern = re.compile(translate(action))

    def __call__(self, call: Call) -> bool:
        store = call.state
        if store is None:
            raise EvaluationError(
                f"{self!r} reads the calls a governor noted in its store; judge it with a Governor"
            )
        key = key_text(self.counter, self.key, call)
        try:
            seen = store.usage(key, self.window)
        except Exception as exc:
            raise StoreError(f"the state store {brief(store)} failed to read the history ({exc})") from exc
        return seen >= self.at_least

    def notes(self, call: Call) -> bool:
        """Whether ``call`` is one this asks about (a ``when`` that cannot be evaluated says yes)."""
        if not self.pattern.match(call.action):
            return False
        if self.when is None:
            return True
        try:
            return self.when(call)
        except Exception:  # noqa: BLE001 - fail closed: it may be the call that matters
            return True

    def refs(self) -> Iterator[Ref]:
        """Yield the references of the key: the values read of the call being judged
        (``when``'s are not: it is judged on the earlier calls, as they are noted)."""
        return iter(self.key)

    def histories(self) -> Iterator[After]:
        """Yield itself: it is an ``after(...)`` part."""
        yield self

    def reads_store(self) -> bool:
        """True: judging it reads the calls noted in the governor's store."""
        return True

    def fingerprint(self) -> str:
        """``after(...)`` with ``when``'s fingerprint and the window in seconds
        (``within="1h"`` and ``within=3600`` are the same question)."""
        when = "" if self.when is None else self.when.fingerprint()
        return f"after({self.action!r}, when={when}, within={self.window!r}, key={self.key!r}, at_least={self.at_least})"

    def __repr__(self) -> str:
        parts = [repr(self.action)]
        if self.when is not None:
            parts.append(f"when={self.when!r}")
        parts.append(f"within={self.within!r}")
        if not self.by_session:
            parts.append(f"key={self.key[0]!r}" if len(self.key) == 1 else f"key={list(self.key)!r}")
        if self.at_least != 1:
            parts.append(f"at_least={self.at_least!r}")
        return f"after({', '.join(parts)})"


_SESSION = (ctx("session"),)


def after(
    action: str,
    *,
    when: ConditionLike | None = None,
    within: str | float,
    key: Ref | Sequence[Ref] | None = _SESSION,
    at_least: int = 1,
) -> After:
    """True when ``at_least`` calls of ``action`` (a name or glob) for which
    ``when`` held started in the last ``within`` (``"1h"``, ``"1d"``, or seconds)
    under the same ``key`` (the session by default; ``key=[]`` for every caller)."""
    return After(action, when, within, key, at_least)
