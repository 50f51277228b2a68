"""The package and the typing examples pass mypy --strict, and ruff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import need

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_mypy_strict() -> None:
    """mypy --strict accepts the package, and governed tools keep their parameter types."""
    need("mypy")
    result = run(sys.executable, "-m", "mypy", "--strict", "guardrails", "tests/typing")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff() -> None:
    """ruff finds nothing to say about the code."""
    need("ruff")
    result = run(sys.executable, "-m", "ruff", "check", "guardrails", "tests", "examples", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr
