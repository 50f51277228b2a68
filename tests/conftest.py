from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

import guardrails as g

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _restore_default_governor() -> Iterator[None]:
    """Tests may configure the default governor; each starts and ends unconfigured."""
    governor = g.get_governor()
    saved = governor.setup
    yield
    governor._setup = saved


def need(module: str) -> None:
    """Skip when an optional tool is missing locally; in CI (CI=true) fail instead."""
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed (pip install -e '.[test]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
