"""The examples that need an extra: the framework agents (langchain, pydantic-ai,
openai-agents) and the benchmark's comparison with other engines (bench). The MCP,
FastMCP and CrewAI examples run in their own test modules here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need, run_example

ROOT = Path(__file__).resolve().parents[2]


class TestIntegrationExamples:
    @pytest.mark.parametrize(
        ("script", "module"),
        [
            ("langgraph_refunds.py", "langgraph"),
            ("pydantic_ai_refunds.py", "pydantic_ai"),
            ("openai_agents_refunds.py", "agents"),
        ],
    )
    def test_refunds(self, script: str, module: str) -> None:
        """Offline agents: one refund runs, one is refused with the reason, one waits and runs once approved."""
        need(module)
        result, lines = run_example(script)
        assert result.returncode == 0, result.stderr
        assert lines == [
            "tool said: refunded 40.00 on A-1",
            "tool said: Not done: never more than 2000",
            "tool said: refunded 300.00 on A-3",
        ]
        assert "needs approval - refunds over 100" in result.stdout


class TestBenchmark:
    def test_comparison_smoke(self, tmp_path: Path) -> None:
        """The comparison with pycasbin and cedarpy runs end to end and writes its JSON and
        chart (a smoke run: timings are not judged here, only that every engine agreed)."""
        for module in ("casbin", "cedarpy", "matplotlib"):
            need(module)
        result = subprocess.run(
            [sys.executable, "benchmarks/compare.py", "--quick", "--out", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        data = json.loads((tmp_path / "compare.json").read_text())
        assert data["ns"] == [10, 100] and data["quick"] is True
        for n in ("10", "100"):
            assert data["latency_us"][n]["pycasbin: enforce"] > 0
            assert data["latency_us"][n]["cedarpy: is_authorized"] > 0
        assert (tmp_path / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "ratio to guardrails' governed call" in result.stdout
