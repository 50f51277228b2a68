"""``MemoryStore``: counters in this process, safe across threads and tasks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

from guardrails.state.store import Entry, Held

__all__ = ["MemoryStore"]


class MemoryStore:
    """Counters in memory: the default. Lost when the process ends; one process only.

    ``clock`` returns the time in seconds (``time.time`` unless given: tests
    pass their own to step over window edges).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._rows: dict[str, dict[str, _Row]] = {}  # key -> token -> its row
        self._lock = threading.Lock()

    def reserve(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        return self._reserve(token, entries, check=True)

    def force(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        return self._reserve(token, entries, check=False)

    def _reserve(self, token: str, entries: Sequence[Entry], *, check: bool) -> list[Held]:
        now = self._clock()
        out: list[Held] = []
        with self._lock:
            for entry in entries:
                rows = self._rows.setdefault(entry.key, {})
                _expire(rows, now - entry.window)
                if token in rows:
                    out.append("counted")
                elif check and _sum(rows) + entry.amount > entry.limit:
                    out.append("over")
                else:
                    rows[token] = _Row(now, entry.amount)
                    out.append("held")
        return out

    def commit(self, token: str, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                row = self._rows.get(key, {}).get(token)
                if row is not None:
                    row.used = True

    def release(self, token: str, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                rows = self._rows.get(key, {})
                row = rows.get(token)
                if row is not None and not row.used:
                    del rows[token]

    def usage(self, key: str, window: float) -> Decimal:
        now = self._clock()
        with self._lock:
            rows = self._rows.get(key, {})
            return sum((row.amount for row in rows.values() if row.time > now - window), Decimal(0))

    def __repr__(self) -> str:
        return f"<MemoryStore {len(self._rows)} counters>"


class _Row:
    __slots__ = ("time", "amount", "used")

    def __init__(self, time: float, amount: Decimal) -> None:
        self.time = time
        self.amount = amount
        self.used = False  # reserved until committed


def _expire(rows: dict[str, _Row], before: float) -> None:
    for token in [token for token, row in rows.items() if row.time <= before]:
        del rows[token]


def _sum(rows: dict[str, _Row]) -> Decimal:
    return sum((row.amount for row in rows.values()), Decimal(0))
