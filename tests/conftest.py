from __future__ import annotations

from collections.abc import Iterator

import pytest

import guardrails as g


@pytest.fixture(autouse=True)
def _restore_default_governor() -> Iterator[None]:
    """Tests may configure the default governor; each starts and ends unconfigured."""
    governor = g.get_governor()
    saved = governor.setup
    yield
    governor._setup = saved
