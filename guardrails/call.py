"""``Call``: the one record every condition, hook and sink receives."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Protocol

__all__ = ["ACTION", "Call", "StateReader", "new_call_id"]

EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
#: What an action name, or a glob of them, looks like in a rule.
ACTION: Final = re.compile(r"[^\s\[\]{}]+")


def _reseed() -> None:
    # A random per-process prefix plus a counter: unique across processes and
    # ~10x cheaper than uuid4. Reseeded after fork so children never collide.
    global _prefix, _counter
    _prefix = os.urandom(6).hex() + "-"
    _counter = itertools.count(1)


_prefix = ""
_counter = itertools.count(1)
_reseed()
os.register_at_fork(after_in_child=_reseed)


def new_call_id() -> str:
    """Return an id unique to this process run, cheap enough for every call."""
    return f"{_prefix}{next(_counter):x}"


class StateReader(Protocol):
    """What a stateful condition (``after(...)``, ``provenance(...)``) may read of a
    governor's store; every ``guardrails.state`` store is one."""

    def usage(self, key: str, window: float) -> Decimal:
        """The sum under ``key`` over the last ``window`` seconds."""
        ...

    def find_tokens(self, key: str, tokens: Iterable[str]) -> set[str]:
        """Which of ``tokens`` the set under ``key`` holds."""
        ...


class Call:
    """One attempted tool call: what is being done, with what, by whom.

    ``args`` holds every parameter of the tool by name, defaults applied, so a
    value is judged the same whether it was passed by position, by keyword or
    left to its default. ``context`` is what ``guardrails.context(...)`` held
    when the call was made. Both are read-only mappings. ``state`` is the
    governor's store while its stateful rules are judged (None otherwise).
    """

    __slots__ = ("action", "args", "context", "_call_id", "state")

    def __init__(
        self,
        action: str,
        args: Mapping[str, Any] = EMPTY,
        context: Mapping[str, Any] = EMPTY,
        call_id: str | None = None,
        *,
        state: StateReader | None = None,
    ) -> None:
        self.action: Final = action
        self.args: Final = args
        self.context: Final = context
        self._call_id = call_id
        self.state: Final = state

    def reading(self, state: StateReader) -> Call:
        """The same call (same id), judged with ``state`` to read."""
        return Call(self.action, self.args, self.context, self.call_id, state=state)

    @property
    def call_id(self) -> str:
        """A unique id for this call; made on first use, then stable."""
        if self._call_id is None:
            self._call_id = new_call_id()
        return self._call_id

    def __repr__(self) -> str:
        return f"Call(action={self.action!r}, args={dict(self.args)!r}, context={dict(self.context)!r})"
