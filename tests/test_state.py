"""Stores: atomic check-and-reserve over sliding windows, exact under concurrency."""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Clock, make, need

from guardrails.errors import StoreError
from guardrails.state import Entry, MemoryStore, RedisStore, SQLiteStore, Store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(kind: str, tmp_path: Path, clock: Clock, request: pytest.FixtureRequest) -> Store:
    return make(kind, tmp_path, request, clock=clock)


def rate(limit: int, window: float = 60.0, key: str = "rate:alice") -> Entry:
    return Entry(key, window, Decimal(limit))


def budget(limit: str, amount: str, window: float = 86_400.0, key: str = "budget:c-1") -> Entry:
    return Entry(key, window, Decimal(limit), Decimal(amount))


class TestContract:
    def test_within_then_over(self, store: Store) -> None:
        """Calls are held until the window is full; then over, and nothing more is added."""
        results = [store.reserve(f"t{i}", [rate(3)])[0] for i in range(5)]
        assert results == ["held", "held", "held", "over", "over"]
        assert store.usage("rate:alice", 60) == 3

    def test_usage_over_any_window(self, store: Store, clock: Clock) -> None:
        """Usage over the counter's window, or a shorter one (only what is recent enough)."""
        store.reserve("a", [rate(10)])
        clock.now += 30
        store.reserve("b", [rate(10)])
        clock.now += 10
        store.reserve("c", [rate(10)])
        assert store.usage("rate:alice", 60) == 3
        assert store.usage("rate:alice", 15) == 2
        assert store.usage("rate:alice", 5) == 1  # only the one just now
        clock.now += 25  # 'a' left the minute
        assert store.usage("rate:alice", 60) == 2
        assert store.usage("nobody", 60) == 0

    def test_a_token_counts_once(self, store: Store) -> None:
        """The same tool-call id, re-run after it was used, is counted once, even when the window is full."""
        assert store.reserve("call-1", [rate(1)]) == ["held"]
        store.commit("call-1", ["rate:alice"])
        assert store.reserve("call-1", [rate(1)]) == ["counted"]
        assert store.reserve("call-2", [rate(1)]) == ["over"]
        assert store.usage("rate:alice", 60) == 1

    def test_a_token_under_way_is_busy(self, store: Store) -> None:
        """While an attempt holds a reservation, another with the same token is told ``busy``; the
        first attempt's release then frees it, and nothing of a used share is ever dropped."""
        assert store.reserve("call-1", [rate(5)]) == ["held"]
        assert store.reserve("call-1", [rate(5)]) == ["busy"]
        store.release("call-1", ["rate:alice"])
        assert store.reserve("call-1", [rate(5)]) == ["held"]
        assert store.usage("rate:alice", 60) == 1

    def test_commit_and_release(self, store: Store) -> None:
        """Released reservations stop counting; committed use stays; a release never drops use."""
        store.reserve("ok", [rate(2)])
        store.reserve("failed", [rate(2)])
        store.commit("ok", ["rate:alice"])
        store.release("failed", ["rate:alice"])
        assert store.usage("rate:alice", 60) == 1
        store.release("ok", ["rate:alice"])  # a re-run of a used call that then fails
        assert store.usage("rate:alice", 60) == 1
        assert store.reserve("next", [rate(2)]) == ["held"]

    def test_entries_of_one_call_together(self, store: Store) -> None:
        """Several counters in one reservation: each judged, all at once."""
        entries = [rate(5), budget("100", "60")]
        assert store.reserve("a", entries) == ["held", "held"]
        assert store.reserve("b", entries) == ["held", "over"]
        assert store.usage("budget:c-1", 86_400) == 60

    def test_force_goes_over(self, store: Store) -> None:
        """After a person approves going over, the use is added anyway (and counted once)."""
        store.reserve("a", [budget("100", "90")])
        assert store.reserve("b", [budget("100", "50")]) == ["over"]
        assert store.force("b", [budget("100", "50")]) == ["held"]
        store.commit("b", ["budget:c-1"])
        assert store.force("b", [budget("100", "50")]) == ["counted"]
        assert store.usage("budget:c-1", 86_400) == 140

    def test_exact_whatever_the_callers_decimal_context(self, store: Store) -> None:
        """A low precision set by the application does not round the store's sums."""
        import decimal

        with decimal.localcontext(decimal.Context(prec=2)):
            assert store.reserve("a", [budget("100", "90")]) == ["held"]
            assert store.reserve("b", [budget("100", "15")]) == ["over"]
            assert store.reserve("c", [budget("100", "10")]) == ["held"]

    def test_money_is_exact(self, store: Store) -> None:
        """Decimal amounts: 0.1 + 0.2 fills a budget of 0.3 exactly, and a cent more is over."""
        assert store.reserve("a", [budget("0.3", "0.1")]) == ["held"]
        assert store.reserve("b", [budget("0.3", "0.2")]) == ["held"]
        assert store.reserve("c", [budget("0.3", "0.01")]) == ["over"]
        assert store.usage("budget:c-1", 86_400) == Decimal("0.3")

    def test_window_edges(self, store: Store, clock: Clock) -> None:
        """A use counts for exactly its window: gone at the edge, not a moment before."""
        store.reserve("a", [rate(1, window=60)])
        clock.now += 59.999
        assert store.reserve("b", [rate(1, window=60)]) == ["over"]
        clock.now += 0.001  # exactly 60 s after "a"
        assert store.reserve("c", [rate(1, window=60)]) == ["held"]
        assert store.usage("rate:alice", 60) == 1

    def test_sliding_not_fixed(self, store: Store, clock: Clock) -> None:
        """The window slides: a burst at the end of one minute and the start of the next is still limited."""
        store.reserve("a", [rate(2, window=60)])
        clock.now += 50
        store.reserve("b", [rate(2, window=60)])
        clock.now += 20  # "a" has left the window, "b" has not
        assert store.reserve("c", [rate(2, window=60)]) == ["held"]
        assert store.reserve("d", [rate(2, window=60)]) == ["over"]

    def test_keys_are_separate(self, store: Store) -> None:
        """Each key has its own counter."""
        store.reserve("a", [rate(1, key="rate:alice")])
        assert store.reserve("b", [rate(1, key="rate:bob")]) == ["held"]

    def test_entry_checks(self) -> None:
        """A window must be positive and an amount not negative (a refund of -100 must not free budget)."""
        with pytest.raises(ValueError, match="window"):
            Entry("k", 0, Decimal(1))
        with pytest.raises(ValueError, match="negative"):
            Entry("k", 60, Decimal(100), Decimal(-100))


class TestConcurrency:
    def test_threads_take_exactly_the_limit(
        self, kind: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """8 threads × 2,000 calls against a limit of 100: exactly 100 are held."""
        store = make(kind, tmp_path, request)
        calls = 2_000
        held: list[int] = []
        lock = threading.Lock()

        def worker(n: int) -> None:
            mine = sum(store.reserve(f"{n}-{i}", [rate(100, window=3600)])[0] == "held" for i in range(calls))
            with lock:
                held.append(mine)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(held) == 100
        assert store.usage("rate:alice", 3600) == 100

    def test_tasks_take_exactly_the_limit(self) -> None:
        """1,000 concurrent asyncio tasks against a limit of 100: exactly 100 are held."""
        store = MemoryStore()

        async def one(i: int) -> bool:
            await asyncio.sleep(0)
            return store.reserve(f"t{i}", [rate(100, window=3600)])[0] == "held"

        async def main() -> int:
            return sum(await asyncio.gather(*(one(i) for i in range(1_000))))

        assert asyncio.run(main()) == 100

    def test_processes_share_a_sqlite_file(self, tmp_path: Path) -> None:
        """4 processes against one SQLite file: exactly the limit is held, across them."""
        path = tmp_path / "shared.db"
        SQLiteStore(path).close()
        context = multiprocessing.get_context("spawn")
        with context.Pool(4) as pool:
            counts = pool.starmap(_reserve_many, [(str(path), n, 150) for n in range(4)])
        assert sum(counts) == 100
        assert SQLiteStore(path).usage("rate:alice", 3600) == 100

    def test_budget_never_exceeded_and_released_on_failure(
        self, kind: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """Concurrent spenders never pass the budget; released reservations return to it."""
        store = make(kind, tmp_path, request)
        spent: list[Decimal] = []
        lock = threading.Lock()

        def spender(n: int) -> None:
            for i in range(40):
                token = f"{n}-{i}"
                entry = budget("500", "9.99")
                if store.reserve(token, [entry])[0] == "held":
                    if i % 3 == 0:  # the tool failed: give it back
                        store.release(token, [entry.key])
                    else:
                        store.commit(token, [entry.key])
                        with lock:
                            spent.append(entry.amount)

        threads = [threading.Thread(target=spender, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        used = store.usage("budget:c-1", 86_400)
        assert used == sum(spent, Decimal(0)) <= Decimal(500)
        assert used > Decimal(500) - Decimal("9.99")  # released amounts were spent by others

    def test_processes_share_a_redis_server(self, redis_url: str) -> None:
        """4 processes against one Redis: exactly the limit is held, across them."""
        prefix = f"test:{uuid.uuid4().hex}:"
        context = multiprocessing.get_context("spawn")
        with context.Pool(4) as pool:
            counts = pool.starmap(_reserve_many_redis, [(redis_url, prefix, n, 150) for n in range(4)])
        assert sum(counts) == 100
        assert RedisStore(redis_url, prefix=prefix).usage("rate:alice", 3600) == 100


def _reserve_many(path: str, worker: int, calls: int) -> int:
    store = SQLiteStore(path, timeout=60)
    return sum(store.reserve(f"{worker}-{i}", [rate(100, window=3600)])[0] == "held" for i in range(calls))


def _reserve_many_redis(url: str, prefix: str, worker: int, calls: int) -> int:
    store = RedisStore(url, prefix=prefix)
    return sum(store.reserve(f"{worker}-{i}", [rate(100, window=3600)])[0] == "held" for i in range(calls))


class TestRedis:
    def test_server_clock_by_default(self, redis_url: str) -> None:
        """Without a clock the server's time is used: hosts with skewed clocks agree."""
        store = RedisStore(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
        assert store.reserve("a", [rate(1)]) == ["held"]
        assert store.reserve("b", [rate(1)]) == ["over"]
        assert store.usage("rate:alice", 60) == 1

    def test_six_decimal_places(self, redis_url: str) -> None:
        """Amounts are exact to millionths; finer amounts are refused, not rounded."""
        store = RedisStore(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
        assert store.reserve("a", [budget("1", "0.000001")]) == ["held"]
        with pytest.raises(StoreError, match="six decimal places"):
            store.reserve("b", [budget("1", "0.0000001")])

    def test_unreachable_server_fails_clearly(self) -> None:
        """No server: a StoreError when the store is made."""
        need("redis")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with pytest.raises(StoreError, match="the Redis state store failed"):
            RedisStore(f"redis://127.0.0.1:{port}/0", timeout=0.5)


class TestSQLite:
    def test_survives_a_restart(self, tmp_path: Path, clock: Clock) -> None:
        """Another store on the same file — a restarted process — sees what was used."""
        first = SQLiteStore(tmp_path / "s.db", clock=clock)
        first.reserve("a", [rate(2)])
        first.commit("a", ["rate:alice"])
        first.close()
        second = SQLiteStore(tmp_path / "s.db", clock=clock)
        assert second.reserve("b", [rate(2)]) == ["held"]
        assert second.reserve("c", [rate(2)]) == ["over"]
        assert second.reserve("a", [rate(2)]) == ["counted"]

    def test_unusable_file_fails_clearly(self, tmp_path: Path) -> None:
        """A path that cannot hold a database is a StoreError when the store is made."""
        (tmp_path / "dir.db").mkdir()
        with pytest.raises(StoreError, match="cannot use the state store"):
            SQLiteStore(tmp_path / "dir.db")

    def test_a_failed_reservation_adds_nothing(self, tmp_path: Path) -> None:
        """If the store fails mid-reservation, nothing of it is kept (one transaction)."""
        store = SQLiteStore(tmp_path / "s.db")

        class Broken(Entry):
            @property
            def key(self) -> str:
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            store.reserve("t", [rate(5), Broken("t", 60.0, Decimal(5))])
        assert store.usage("rate:alice", 60) == 0

    def test_no_in_memory_database(self) -> None:
        """':memory:' would be a database per connection: refused, pointing to MemoryStore."""
        import guardrails as g

        with pytest.raises(g.ConfigurationError, match="MemoryStore"):
            SQLiteStore(":memory:")

    def test_stores_are_stores(self, tmp_path: Path) -> None:
        """Both satisfy the Store protocol."""
        assert isinstance(MemoryStore(), Store)
        assert isinstance(SQLiteStore(tmp_path / "s.db"), Store)


class TestRecords:
    """Records: compare-and-swap text under a key (approval requests live here)."""

    def test_swap_read_scan(self, store: Store) -> None:
        assert store.read("approval:1") is None
        assert store.swap("approval:1", None, "pending")
        assert not store.swap("approval:1", None, "other")  # already there
        assert not store.swap("approval:1", "approved", "used")  # not what is there
        assert store.read("approval:1") == "pending"
        assert store.swap("approval:1", "pending", "approved")
        assert store.swap("approval:2", None, "pending")
        assert store.swap("memory:1", None, "x")
        assert store.scan("approval:") == {"approval:1": "approved", "approval:2": "pending"}
        assert store.swap("approval:1", "approved", None)  # removed
        assert store.read("approval:1") is None
        assert store.scan("approval:") == {"approval:2": "pending"}
        assert store.scan("nothing:") == {}

    def test_glob_characters_in_prefixes_are_plain(self, store: Store) -> None:
        assert store.swap("a*b:1", None, "x")
        assert store.swap("axb:1", None, "y")
        assert store.scan("a*b:") == {"a*b:1": "x"}

    def test_one_winner_among_threads(self, store: Store) -> None:
        """Many threads try to take the same approval: exactly one does."""
        assert store.swap("approval:1", None, "approved")
        wins: list[bool] = []
        threads = [
            threading.Thread(target=lambda: wins.append(store.swap("approval:1", "approved", "used")))
            for _ in range(16)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert wins.count(True) == 1 and store.read("approval:1") == "used"

    def test_records_expire(self, kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        store = make(kind, tmp_path, request)
        assert store.swap("memory:s", None, "x", ttl=0.05)
        assert store.read("memory:s") == "x"
        deadline = time.monotonic() + 5
        while store.read("memory:s") is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.read("memory:s") is None
        assert store.scan("memory:") == {}
        assert store.swap("memory:s", None, "y")  # gone: can be made again
