from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import guardrails as g
from guardrails.state import MemoryStore, RedisStore, SQLiteStore, Store

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


def run_example(script: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``examples/integrations/<script>``: the run, and the lines it printed for
    what the model read (``tool said: ...``)."""
    result = subprocess.run(
        [sys.executable, f"examples/integrations/{script}"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, [line for line in result.stdout.splitlines() if line.startswith("tool said:")]


@pytest.fixture(autouse=True)
def _restore_default_governor() -> Iterator[None]:
    """Tests may configure the default governor; each starts and ends unconfigured."""
    governor = g.get_governor()
    saved = governor.setup
    yield
    governor.replace_setup(saved)


def need_program(name: str) -> str:
    """The path of a program; skip when it is missing locally, fail in CI (which installs it)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (bash .ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)  # called at the top of test modules
    return path


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server of its own on a free loopback port, for the whole run."""
    need("redis")
    import redis

    server = need_program("redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail(f"redis-server did not start on port {port}")
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def need(module: str) -> None:
    """Skip when an optional tool is missing locally; in CI (CI=true) fail instead."""
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed (pip install -e '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)  # called at the top of test modules


class Clock:
    """A clock a test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make(kind: str, tmp_path: Path, request: pytest.FixtureRequest, **options: object) -> Store:
    """A fresh store of ``kind`` (Redis: a prefix of its own on the shared server)."""
    store: Store
    if kind == "memory":
        return MemoryStore(**options)  # type: ignore[arg-type]
    if kind == "sqlite":
        store = SQLiteStore(tmp_path / f"{uuid.uuid4().hex}.db", **options)  # type: ignore[arg-type]
    else:
        url = request.getfixturevalue("redis_url")
        store = RedisStore(url, prefix=f"test:{uuid.uuid4().hex}:", **options)  # type: ignore[arg-type]
    request.addfinalizer(store.close)
    return store
