"""``SQLiteStore``: counters in a SQLite file, shared by the processes of one machine."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path

from guardrails.errors import ConfigurationError, StoreError
from guardrails.state.store import EXACT, Entry, Held

__all__ = ["SQLiteStore"]

_SWEEP_EVERY = 1024  # reservations between sweeps of expired uses
_SWEEP_BATCH = 256  # keys per sweep: a sweep never makes one reservation slow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS guardrails_usage (
    key TEXT NOT NULL,
    token TEXT NOT NULL,
    time REAL NOT NULL,
    amount TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    until REAL NOT NULL,
    PRIMARY KEY (key, token)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS guardrails_usage_time ON guardrails_usage (key, time);
CREATE INDEX IF NOT EXISTS guardrails_usage_until ON guardrails_usage (until);
CREATE TABLE IF NOT EXISTS guardrails_records (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    until REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS guardrails_token_sets (
    key TEXT PRIMARY KEY,
    until REAL NOT NULL,
    size INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS guardrails_tokens (
    key TEXT NOT NULL,
    token TEXT NOT NULL,
    PRIMARY KEY (key, token)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS guardrails_totals (
    key TEXT PRIMARY KEY,
    total TEXT NOT NULL
) WITHOUT ROWID;
"""


class SQLiteStore:
    """Counters in a SQLite database file: they survive restarts, and every process
    using the file shares them (WAL journal; each reservation is one ``BEGIN
    IMMEDIATE`` transaction, so two processes never both take the last unit).

    Amounts are kept as decimal text and summed exactly. ``timeout`` is how long
    to wait for another process's transaction before failing (closed).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time, timeout: float = 5.0
    ) -> None:
        if str(path) in ("", ":memory:") or str(path).startswith("file::memory:"):
            raise ConfigurationError(
                "SQLiteStore needs a file: an in-memory database is one per connection (use MemoryStore)"
            )
        self.path = Path(path)
        self.timeout = timeout
        self._clock = clock
        # A pool, not one connection per thread: threads come and go, and a
        # connection left to the garbage collector is a leak (and a warning).
        self._pool: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._pid = os.getpid()
        self._writes = 0
        self._finalizer = weakref.finalize(self, _close_all, self._pool)
        self._release(self._connect())  # fail now, not at the first call, if the file cannot be used

    # ---- the store ----------------------------------------------------------------

    def reserve(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        """See ``Store.reserve``; every entry in one ``BEGIN IMMEDIATE`` transaction."""
        return self._reserve(token, entries, check=True)

    def force(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        """See ``Store.force``; one ``BEGIN IMMEDIATE`` transaction."""
        return self._reserve(token, entries, check=False)

    def _reserve(self, token: str, entries: Sequence[Entry], *, check: bool) -> list[Held]:
        out: list[Held] = []
        self._writes += 1
        with self._transaction() as db:
            now = self._clock()  # once the lock is ours: waiting for it must not age the row
            if self._writes % _SWEEP_EVERY == 0:
                _sweep(db, now)
            for entry in entries:
                total = _expire(db, entry.key, now - entry.window)
                row = db.execute(
                    "SELECT used FROM guardrails_usage WHERE key = ? AND token = ?", (entry.key, token)
                ).fetchone()
                if row is not None:
                    out.append("counted" if row[0] else "busy")
                elif check and EXACT.add(total, entry.amount) > entry.limit:
                    out.append("over")
                else:
                    db.execute(
                        "INSERT INTO guardrails_usage (key, token, time, amount, until) VALUES (?, ?, ?, ?, ?)",
                        (entry.key, token, now, str(entry.amount), now + entry.window),
                    )
                    _set_total(db, entry.key, EXACT.add(total, entry.amount))
                    out.append("held")
        return out

    def commit(self, token: str, keys: Sequence[str]) -> None:
        """See ``Store.commit``; one write transaction."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE guardrails_usage SET used = 1 WHERE key = ? AND token = ?",
                [(key, token) for key in keys],
            )

    def release(self, token: str, keys: Sequence[str]) -> None:
        """See ``Store.release``; one write transaction."""
        with self._transaction() as db:
            for key in keys:
                row = db.execute(
                    "SELECT amount FROM guardrails_usage WHERE key = ? AND token = ? AND used = 0",
                    (key, token),
                ).fetchone()
                if row is not None:
                    db.execute("DELETE FROM guardrails_usage WHERE key = ? AND token = ?", (key, token))
                    _set_total(db, key, EXACT.subtract(_total(db, key), Decimal(row[0])))

    def usage(self, key: str, window: float) -> Decimal:
        """See ``Store.usage``; sums the rows in ``window`` in one read transaction."""
        now = self._clock()
        with self._transaction(write=False) as db:
            rows = db.execute(
                "SELECT amount FROM guardrails_usage WHERE key = ? AND time > ?", (key, now - window)
            ).fetchall()
        return sum((Decimal(amount) for (amount,) in rows), Decimal(0))

    def read(self, key: str) -> str | None:
        """See ``Store.read``."""
        with self._transaction(write=False) as db:
            return _record(db, key, self._clock())

    def swap(self, key: str, expected: str | None, new: str | None, ttl: float | None = None) -> bool:
        """See ``Store.swap``; atomic: one ``BEGIN IMMEDIATE`` transaction."""
        with self._transaction() as db:
            now = self._clock()
            if _record(db, key, now) != expected:
                return False
            if new is None:
                db.execute("DELETE FROM guardrails_records WHERE key = ?", (key,))
            else:
                db.execute(
                    "INSERT INTO guardrails_records (key, value, until) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, until = excluded.until",
                    (key, new, 1e308 if ttl is None else now + ttl),
                )
            return True

    def scan(self, prefix: str) -> dict[str, str]:
        """See ``Store.scan``; one read transaction, so one consistent view."""
        with self._transaction(write=False) as db:
            rows = db.execute(
                "SELECT key, value FROM guardrails_records WHERE substr(key, 1, ?) = ? AND until > ?",
                (len(prefix), prefix, self._clock()),
            ).fetchall()
        return dict(rows)

    def add_tokens(self, key: str, tokens: Iterable[str], ttl: float) -> int:
        """See ``Store.add_tokens``; one write transaction; an expired set starts again empty."""
        with self._transaction() as db:
            now = self._clock()
            row = db.execute("SELECT until, size FROM guardrails_token_sets WHERE key = ?", (key,)).fetchone()
            size = 0
            if row is not None and row[0] <= now:  # expired: start again
                db.execute("DELETE FROM guardrails_tokens WHERE key = ?", (key,))
            elif row is not None:
                size = int(row[1])
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO guardrails_tokens (key, token) VALUES (?, ?)",
                [(key, token) for token in tokens],
            )
            size += db.total_changes - before
            db.execute(
                "INSERT INTO guardrails_token_sets (key, until, size) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET until = excluded.until, size = excluded.size",
                (key, now + ttl, size),
            )
            return size

    def find_tokens(self, key: str, tokens: Iterable[str]) -> set[str]:
        """See ``Store.find_tokens``; one read transaction; an expired set holds none."""
        wanted = list(dict.fromkeys(tokens))
        found: set[str] = set()
        with self._transaction(write=False) as db:
            row = db.execute("SELECT until FROM guardrails_token_sets WHERE key = ?", (key,)).fetchone()
            if row is None or row[0] <= self._clock():
                return found
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                found.update(
                    token
                    for (token,) in db.execute(
                        f"SELECT token FROM guardrails_tokens WHERE key = ? AND token IN ({marks})",
                        (key, *chunk),
                    )
                )
        return found

    def close(self) -> None:
        """Close the connections (a later call opens new ones)."""
        with self._pool_lock:
            _close_all(self._pool)

    def __repr__(self) -> str:
        return f"<SQLiteStore {str(self.path)!r}>"

    # ---- the database -------------------------------------------------------------

    def _acquire(self) -> sqlite3.Connection:
        with self._pool_lock:
            if self._pid != os.getpid():  # a forked child: the parent's connections are not ours
                self._pool.clear()
                self._pid = os.getpid()
            if self._pool:
                return self._pool.pop()
        return self._connect()

    def _release(self, db: sqlite3.Connection) -> None:
        with self._pool_lock:
            self._pool.append(db)

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use the state store {self.path}: {exc}") from exc
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # with WAL: a process crash loses nothing committed
            db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            db.close()
            raise StoreError(f"cannot use the state store {self.path}: {exc}") from exc
        return db

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        db = self._acquire()
        try:
            try:
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise StoreError(f"the state store {self.path} is unavailable: {exc}") from exc
            try:
                yield db
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"the state store {self.path} failed: {exc}") from exc
                raise
            else:
                try:
                    db.execute("COMMIT")
                except sqlite3.Error as exc:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise StoreError(f"the state store {self.path} failed to commit: {exc}") from exc
        finally:
            self._release(db)


def _total(db: sqlite3.Connection, key: str) -> Decimal:
    """The running total of ``key`` (summed from its rows the first time)."""
    row = db.execute("SELECT total FROM guardrails_totals WHERE key = ?", (key,)).fetchone()
    if row is not None:
        return Decimal(row[0])
    rows = db.execute("SELECT amount FROM guardrails_usage WHERE key = ?", (key,)).fetchall()
    total = Decimal(0)
    for (amount,) in rows:
        total = EXACT.add(total, Decimal(amount))
    return total


def _set_total(db: sqlite3.Connection, key: str, total: Decimal) -> None:
    if total == 0:  # keys can come from arguments: keep no empty ones
        db.execute("DELETE FROM guardrails_totals WHERE key = ?", (key,))
        return
    db.execute(
        "INSERT INTO guardrails_totals (key, total) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET total = excluded.total",
        (key, str(total)),
    )


def _expire(db: sqlite3.Connection, key: str, before: float) -> Decimal:
    """Drop the uses of ``key`` that left the window; return what remains in total."""
    total = _total(db, key)
    old = db.execute(
        "SELECT amount FROM guardrails_usage WHERE key = ? AND time <= ?", (key, before)
    ).fetchall()
    if old:
        db.execute("DELETE FROM guardrails_usage WHERE key = ? AND time <= ?", (key, before))
        for (amount,) in old:
            total = EXACT.subtract(total, Decimal(amount))
        _set_total(db, key, total)
    return total


def _record(db: sqlite3.Connection, key: str, now: float) -> str | None:
    row = db.execute(
        "SELECT value FROM guardrails_records WHERE key = ? AND until > ?", (key, now)
    ).fetchone()
    return None if row is None else str(row[0])


def _sweep(db: sqlite3.Connection, now: float) -> None:
    """Drop a batch of uses whose window has passed, under any key: keys no call
    asks about again (a session that ended) would otherwise stay for ever."""
    keys = [
        key
        for (key,) in db.execute(
            "SELECT DISTINCT key FROM guardrails_usage WHERE until <= ? LIMIT ?", (now, _SWEEP_BATCH)
        )
    ]
    for key in keys:
        db.execute("DELETE FROM guardrails_usage WHERE key = ? AND until <= ?", (key, now))
        db.execute("DELETE FROM guardrails_totals WHERE key = ?", (key,))  # summed again when next used
    db.execute("DELETE FROM guardrails_records WHERE until <= ?", (now,))
    for (key,) in db.execute(
        "SELECT key FROM guardrails_token_sets WHERE until <= ? LIMIT ?", (now, _SWEEP_BATCH)
    ).fetchall():
        db.execute("DELETE FROM guardrails_tokens WHERE key = ?", (key,))
        db.execute("DELETE FROM guardrails_token_sets WHERE key = ?", (key,))


def _close_all(pool: list[sqlite3.Connection]) -> None:
    while pool:
        with suppress(sqlite3.Error):
            pool.pop().close()
