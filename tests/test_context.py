"""context(): nesting, and isolation between threads and asyncio tasks."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import guardrails as g

gov = g.Governor(g.Policy([g.allow("whoami", when=g.ctx("user") != "mallory")]))


@g.governed(governor=gov)
def whoami() -> str:
    return str(g.current_context().get("user"))


class TestContext:
    def test_empty_by_default(self) -> None:
        """Outside any block the context is empty and read-only."""
        assert dict(g.current_context()) == {}
        with pytest.raises(TypeError):
            g.current_context()["user"] = "x"  # type: ignore[index]

    def test_nesting_merges_and_restores(self) -> None:
        """Inner blocks add and override values; leaving restores the outer ones."""
        with g.context(user="alice", session="s1") as outer:
            assert dict(outer) == {"user": "alice", "session": "s1"}
            with g.context(user="bob", tenant="t"):
                assert dict(g.current_context()) == {"user": "bob", "session": "s1", "tenant": "t"}
            assert dict(g.current_context()) == {"user": "alice", "session": "s1"}
        assert dict(g.current_context()) == {}

    def test_restored_after_exception(self) -> None:
        """An exception inside the block still restores the outer context."""
        with pytest.raises(RuntimeError), g.context(user="alice"):
            raise RuntimeError
        assert dict(g.current_context()) == {}

    def test_reusable(self) -> None:
        """One context object can be entered again, even nested in itself."""
        ctx = g.context(user="alice")
        with ctx, ctx:
            assert g.current_context()["user"] == "alice"
        assert dict(g.current_context()) == {}
        with ctx:
            assert g.current_context()["user"] == "alice"

    def test_one_object_shared_by_threads(self) -> None:
        """One context object entered by several threads at once restores each correctly."""
        admin = g.context(role="admin")
        inside = threading.Barrier(2)
        after: list[dict[str, object]] = []
        failures: list[BaseException] = []

        def work(order: int) -> None:
            try:
                with admin:
                    inside.wait()
                    time.sleep(0.01 * order)
                after.append(dict(g.current_context()))
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert after == [{}, {}]

    def test_one_object_shared_by_tasks(self) -> None:
        """One context object entered by interleaved asyncio tasks restores each correctly."""
        admin = g.context(role="admin")

        async def agent(delay: float) -> dict[str, object]:
            with admin:
                await asyncio.sleep(delay)
            return dict(g.current_context())

        async def main() -> list[dict[str, object]]:
            return await asyncio.gather(agent(0.02), agent(0.01))

        assert asyncio.run(main()) == [{}, {}]

    def test_reaches_governed_calls(self) -> None:
        """ctx() conditions see the enclosing context."""
        with g.context(user="alice"):
            assert whoami() == "alice"
        with g.context(user="mallory"), pytest.raises(g.ActionDenied):
            whoami()

    def test_missing_context_value_fails_closed(self) -> None:
        """Without the value a ctx() condition needs, the allow rule does not apply."""
        with pytest.raises(g.ActionDenied, match="no value 'user'"):
            whoami()

    def test_threads_are_isolated(self) -> None:
        """Each thread sees only its own context, whatever the others set."""
        barrier = threading.Barrier(8)
        seen: dict[int, list[str]] = {}

        def work(i: int) -> None:
            with g.context(user=f"user{i}"):
                barrier.wait()
                seen[i] = [whoami() for _ in range(50)]

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen == {i: [f"user{i}"] * 50 for i in range(8)}

    def test_new_threads_start_empty(self) -> None:
        """A raw thread does not inherit the caller's context (so ctx rules fail closed there)."""
        with g.context(user="alice"), ThreadPoolExecutor(1) as pool:
            assert dict(pool.submit(lambda: dict(g.current_context())).result()) == {}

    def test_asyncio_tasks_are_isolated(self) -> None:
        """Concurrent tasks keep their own context across awaits."""

        async def agent(name: str) -> list[str]:
            async with g.context(user=name):
                out = []
                for _ in range(20):
                    await asyncio.sleep(0)
                    out.append(whoami())
                return out

        async def main() -> list[list[str]]:
            return await asyncio.gather(*(agent(f"u{i}") for i in range(10)))

        assert asyncio.run(main()) == [[f"u{i}"] * 20 for i in range(10)]

    def test_tasks_inherit_at_creation(self) -> None:
        """A task inherits the context of the code that created it."""

        async def main() -> str:
            with g.context(user="alice"):
                task = asyncio.create_task(asyncio.to_thread(whoami))
            return await task

        assert asyncio.run(main()) == "alice"

    def test_repr(self) -> None:
        """repr shows the values."""
        assert repr(g.context(user="alice")) == "context(user='alice')"
