"""The ``Store`` protocol: atomic check-and-reserve over sliding windows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow
from typing import Literal, Protocol, runtime_checkable

from guardrails.errors import StoreError

__all__ = ["EXACT", "Entry", "Held", "Store", "StoreError"]

#: What ``reserve`` did for one entry: ``held`` (reserved for this call now),
#: ``counted`` (this token was used before — a re-run — nothing added),
#: ``busy`` (this token is reserved by an attempt still under way: nothing
#: added), ``over`` (it would cross the limit: nothing reserved).
Held = Literal["held", "counted", "busy", "over"]

#: The arithmetic of every store: exact, or an error (never rounded), whatever
#: decimal context the caller has set.
EXACT = Context(prec=60, traps=[InvalidOperation, Inexact, Overflow, DivisionByZero])


class Entry(tuple[str, float, Decimal, Decimal]):
    """One counter a call adds to: ``amount`` to ``key``, whose sum over the last
    ``window`` seconds may not pass ``limit``. Immutable (a tuple: made for every
    limited call, so it is cheap)."""

    __slots__ = ()

    def __new__(cls, key: str, window: float, limit: Decimal, amount: Decimal = Decimal(1)) -> Entry:
        if not window > 0:
            raise ValueError(f"a window must be positive, got {window!r}")
        if amount < 0:
            raise ValueError(f"an amount cannot be negative, got {amount}")
        return tuple.__new__(cls, (key, window, limit, amount))

    @property
    def key(self) -> str:
        return self[0]

    @property
    def window(self) -> float:
        return self[1]

    @property
    def limit(self) -> Decimal:
        return self[2]

    @property
    def amount(self) -> Decimal:
        return self[3]

    def __repr__(self) -> str:
        return f"Entry(key={self[0]!r}, window={self[1]!r}, limit={self[2]!r}, amount={self[3]!r})"


@runtime_checkable
class Store(Protocol):
    """Where counters live. Every method is atomic; errors raise ``StoreError``."""

    def reserve(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        """For each entry, all at once: if ``token`` was used under its key already,
        ``counted``; if an attempt with it is still under way, ``busy``; else if the
        window's sum plus the amount stays within the limit, reserve it (``held``: it
        counts from now on); else ``over``."""
        ...

    def force(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        """Reserve whatever the limits say (a person approved going over)."""
        ...

    def commit(self, token: str, keys: Sequence[str]) -> None:
        """The tool ran: the reservations of ``token`` under ``keys`` are used."""
        ...

    def release(self, token: str, keys: Sequence[str]) -> None:
        """The tool did not run or failed: drop the reservations (not what was used)."""
        ...

    def usage(self, key: str, window: float) -> Decimal:
        """The sum under ``key`` over the last ``window`` seconds, reserved and used."""
        ...

    def read(self, key: str) -> str | None:
        """The record under ``key`` (approval requests, remembered approvals), or None."""
        ...

    def swap(self, key: str, expected: str | None, new: str | None, ttl: float | None = None) -> bool:
        """If the record under ``key`` is ``expected`` (None: there is none), make it
        ``new`` (None: remove it), kept at least ``ttl`` seconds (None: until
        replaced), and return True; else change nothing and return False."""
        ...

    def scan(self, prefix: str) -> dict[str, str]:
        """Every record whose key starts with ``prefix``."""
        ...

    def add_tokens(self, key: str, tokens: Iterable[str], ttl: float) -> int:
        """Add ``tokens`` to the set under ``key`` (kept ``ttl`` seconds after the
        last addition); return how many the set holds."""
        ...

    def find_tokens(self, key: str, tokens: Iterable[str]) -> set[str]:
        """Which of ``tokens`` the set under ``key`` holds."""
        ...
