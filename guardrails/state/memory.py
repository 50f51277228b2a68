"""``MemoryStore``: counters in this process, safe across threads and tasks."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

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
        self._records: dict[str, tuple[str, float]] = {}  # key: (value, kept until)
        self._tokens: dict[str, tuple[set[str], float]] = {}  # key: (tokens, kept until)

    def reserve(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        """See ``Store.reserve``; atomic under the store's lock."""
        return self._reserve(token, entries, check=True)

    def force(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        """See ``Store.force``; atomic under the store's lock."""
        return self._reserve(token, entries, check=False)

    def _reserve(self, token: str, entries: Sequence[Entry], *, check: bool) -> list[Held]:
        out: list[Held] = []
        counters = self._counters
        with self._lock:
            now = self._clock()  # under the lock: rows go in in time order
            for key, window, limit, amount in entries:
                counter = counters.get(key)
                if counter is None:
                    if len(counters) >= self._sweep_at:
                        self._sweep(now)
                    counter = counters[key] = _Counter()
                if window > counter.window:
                    counter.window = window
                if counter.oldest <= now - window:
                    counter.expire(now - window)
                row = counter.rows.get(token)
                if row is not None:
                    out.append("counted" if row[_USED] else "busy")
                elif check and EXACT.add(counter.total, amount) > limit:
                    out.append("over")
                else:
                    total = EXACT.add(counter.total, amount)  # first: if it raises, nothing is half-added
                    if not counter.order:
                        counter.oldest = now
                    counter.rows[token] = [now, amount, False]
                    counter.order.append((now, token))
                    counter.total = total
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
        """See ``Store.commit``; under the store's lock."""
        with self._lock:
            for key in keys:
                counter = self._counters.get(key)
                row = None if counter is None else counter.rows.get(token)
                if row is not None:
                    row[_USED] = True

    def release(self, token: str, keys: Sequence[str]) -> None:
        """See ``Store.release``; under the store's lock. A counter left empty is dropped."""
        with self._lock:
            for key in keys:
                counter = self._counters.get(key)
                if counter is not None:
                    counter.remove(token, only_reserved=True)
                    if not counter.rows:
                        del self._counters[key]  # keys can come from arguments: keep no empty ones

    def usage(self, key: str, window: float) -> Decimal:
        """See ``Store.usage``; O(1) when ``window`` is at least the longest window
        reserved under ``key`` (the running total), else a walk over its uses in ``window``."""
        with self._lock:
            now = self._clock()
            counter = self._counters.get(key)
            if counter is None:
                return Decimal(0)
            if window >= counter.window:  # the running total is the answer: O(1)
                counter.expire(now - window)
                return counter.total
            used = Decimal(0)
            for row in reversed(counter.rows.values()):  # newest first, until one is too old
                if row[_TIME] <= now - window:
                    break
                used = EXACT.add(used, row[_AMOUNT])
            return used

    def read(self, key: str) -> str | None:
        """See ``Store.read``."""
        with self._lock:
            return self._record(key, self._clock())

    def swap(self, key: str, expected: str | None, new: str | None, ttl: float | None = None) -> bool:
        """See ``Store.swap``; atomic under the store's lock."""
        with self._lock:
            now = self._clock()
            if self._record(key, now) != expected:
                return False
            if new is None:
                self._records.pop(key, None)
            else:
                self._records[key] = (new, float("inf") if ttl is None else now + ttl)
            return True

    def scan(self, prefix: str) -> dict[str, str]:
        """See ``Store.scan``; one consistent view, under the store's lock."""
        with self._lock:
            now = self._clock()
            found = {}
            for key in list(self._records):
                if key.startswith(prefix) and (value := self._record(key, now)) is not None:
                    found[key] = value
            return found

    def add_tokens(self, key: str, tokens: Iterable[str], ttl: float) -> int:
        """See ``Store.add_tokens``; an expired set starts again empty."""
        with self._lock:
            now = self._clock()
            kept = self._tokens.get(key)
            held = set() if kept is None or kept[1] <= now else kept[0]
            held.update(tokens)
            self._tokens[key] = (held, now + ttl)
            return len(held)

    def find_tokens(self, key: str, tokens: Iterable[str]) -> set[str]:
        """See ``Store.find_tokens``; an expired set holds none."""
        with self._lock:
            kept = self._tokens.get(key)
            if kept is None:
                return set()
            if kept[1] <= self._clock():
                del self._tokens[key]
                return set()
            return kept[0].intersection(tokens)

    def _record(self, key: str, now: float) -> str | None:
        kept = self._records.get(key)
        if kept is None:
            return None
        if kept[1] <= now:
            del self._records[key]
            return None
        return kept[0]

    def __len__(self) -> int:
        """How many counters are kept (expired ones go at the next sweep)."""
        return len(self._counters)

    def __repr__(self) -> str:
        return f"<MemoryStore {len(self._counters)} counters>"


#: A use is a list ``[time, amount, used]`` (cheaper to make than an object):
#: reserved until committed (``used``).
_TIME, _AMOUNT, _USED = 0, 1, 2


class _Counter:
    """The uses of one counter, in time order, and their total."""

    __slots__ = ("rows", "order", "total", "window", "oldest")

    def __init__(self) -> None:
        self.rows: dict[str, list[Any]] = {}
        # (time, token) oldest first (one clock, one lock): expiring pops from the
        # left in O(1). A released use leaves its pair behind until it expires.
        self.order: deque[tuple[float, str]] = deque()
        self.total = Decimal(0)
        self.window = 0.0  # the longest window asked of it
        self.oldest = float("inf")  # the time of order[0]: nothing expires before it

    def remove(self, token: str, *, only_reserved: bool = False) -> None:
        row = self.rows.get(token)
        if row is not None and not (only_reserved and row[_USED]):
            del self.rows[token]
            self.total = EXACT.subtract(self.total, row[_AMOUNT])

    def expire(self, before: float) -> None:
        rows, order = self.rows, self.order
        while order and order[0][0] <= before:
            time, token = order.popleft()
            row = rows.get(token)
            if row is not None and row[_TIME] == time:  # not released and reserved again since
                del rows[token]
                self.total = EXACT.subtract(self.total, row[_AMOUNT])
        self.oldest = order[0][0] if order else float("inf")
