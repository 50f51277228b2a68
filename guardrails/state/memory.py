"""``MemoryStore``: counters in this process, safe across threads and tasks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

from guardrails.state.store import EXACT, Entry, Held

__all__ = ["MemoryStore"]

_SWEEP_AT = 1024  # counters kept before the first sweep of expired ones


class MemoryStore:
    """Counters in memory: the default. Lost when the process ends; one process only.

    ``clock`` returns the time in seconds (``time.time`` unless given: tests
    pass their own to step over window edges). Each counter keeps a running
    total, so a reservation costs the same however many uses its window holds.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counters: dict[str, _Counter] = {}
        self._lock = threading.Lock()
        self._sweep_at = _SWEEP_AT

    def reserve(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        return self._reserve(token, entries, check=True)

    def force(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        return self._reserve(token, entries, check=False)

    def _reserve(self, token: str, entries: Sequence[Entry], *, check: bool) -> list[Held]:
        out: list[Held] = []
        with self._lock:
            now = self._clock()  # under the lock: rows go in in time order
            for entry in entries:
                counter = self._counters.get(entry.key)
                if counter is None:
                    if len(self._counters) >= self._sweep_at:
                        self._sweep(now)
                    counter = self._counters[entry.key] = _Counter()
                if entry.window > counter.window:
                    counter.window = entry.window
                counter.expire(now - entry.window)
                row = counter.rows.get(token)
                if row is not None:
                    out.append("counted" if row.used else "busy")
                elif check and EXACT.add(counter.total, entry.amount) > entry.limit:
                    out.append("over")
                else:
                    counter.add(token, now, entry.amount)
                    out.append("held")
        return out

    def _sweep(self, now: float) -> None:
        # Keys no call asks about again (a session that ended) would stay for ever.
        # Sweeping when the count of counters doubles costs O(1) per counter made.
        for key, counter in list(self._counters.items()):
            counter.expire(now - counter.window)
            if not counter.rows:
                del self._counters[key]
        self._sweep_at = max(_SWEEP_AT, 2 * len(self._counters))

    def commit(self, token: str, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                counter = self._counters.get(key)
                row = None if counter is None else counter.rows.get(token)
                if row is not None:
                    row.used = True

    def release(self, token: str, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                counter = self._counters.get(key)
                if counter is not None:
                    counter.remove(token, only_reserved=True)
                    if not counter.rows:
                        del self._counters[key]  # keys can come from arguments: keep no empty ones

    def usage(self, key: str, window: float) -> Decimal:
        now = self._clock()
        with self._lock:
            counter = self._counters.get(key)
            if counter is None:
                return Decimal(0)
            return sum((row.amount for row in counter.rows.values() if row.time > now - window), Decimal(0))

    def __len__(self) -> int:
        """How many counters are kept (expired ones go at the next sweep)."""
        return len(self._counters)

    def __repr__(self) -> str:
        return f"<MemoryStore {len(self._counters)} counters>"


class _Row:
    __slots__ = ("time", "amount", "used")

    def __init__(self, time: float, amount: Decimal) -> None:
        self.time = time
        self.amount = amount
        self.used = False  # reserved until committed


class _Counter:
    """The uses of one counter, oldest first, and their total."""

    __slots__ = ("rows", "total", "window")

    def __init__(self) -> None:
        self.rows: dict[str, _Row] = {}  # insertion order is time order (one clock, one lock)
        self.total = Decimal(0)
        self.window = 0.0  # the longest window asked of it

    def add(self, token: str, now: float, amount: Decimal) -> None:
        self.rows[token] = _Row(now, amount)
        self.total = EXACT.add(self.total, amount)

    def remove(self, token: str, *, only_reserved: bool = False) -> None:
        row = self.rows.get(token)
        if row is not None and not (only_reserved and row.used):
            del self.rows[token]
            self.total = EXACT.subtract(self.total, row.amount)

    def expire(self, before: float) -> None:
        rows = self.rows
        while rows:
            token = next(iter(rows))
            row = rows[token]
            if row.time > before:
                break
            del rows[token]
            self.total = EXACT.subtract(self.total, row.amount)
