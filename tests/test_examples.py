"""The quick-start demo, the examples and the benchmark all run. (The README's and the
docs' code blocks: tests/test_docs.py; the framework examples and the comparison with
other engines: tests/extras/test_examples_extras.py.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


class TestQuickstart:
    def test_demo_allows_denies_and_approves(self) -> None:
        """The demo runs and shows allowed, denied and approved calls, then the audit trail."""
        result = run("examples/quickstart.py")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "✓ allow by rule 'small-refunds'" in out
        assert "finance desk approves a refund of 380" in out
        assert "✗ deny by rule 'no-external-mail'" in out
        assert "refused by finance-desk" in out
        assert "[tool not run: the agent never deletes files]" in out
        assert "Audit trail" in out
        trail = out.split("Audit trail", 1)[1]
        assert len(re.findall(r"not_run", trail)) == 6
        assert len(re.findall(r"returned", trail)) == 5


class TestAuditTrailExample:
    def test_audit_trail_demo(self) -> None:
        """The audit demo keeps secrets out of the log, verifies it, reads it, and catches an edit."""
        result = run("examples/audit_trail.py")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "in the log: True" not in out
        assert out.count("in the log: False") == 4
        assert "raised LookupError: no order A-0" in out
        assert "ok: 10 records, chain intact" in out
        assert "TAMPERED:" in out and ":5: edited" in out
        assert "(exit code 1)" in out


class TestBudgetsExample:
    def test_budget_rate_and_shared_counters(self) -> None:
        """The budgets demo: failures give back, an approval goes over, a re-run counts once, the rate bites."""
        result = run("examples/budgets.py")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "failed (payment provider timed out) - the budget is not used" in out
        assert "finance desk approves 80.00" in out and "finance desk refuses 10.00" in out
        assert "used today: 580.00 of 500" in out
        assert "mail 4: [not done: at most 3 mails a minute" in out
        assert "refund     returned  120.00  counted" in out
        assert "A second store on the same file sees 580.00 used." in out


class TestApprovalExamples:
    def test_deferred_two_person_wire(self) -> None:
        """One process pauses, another approves as two people; the retry runs once."""
        result = run("examples/approvals_deferred.py")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert out.count("waits for approval (request") == 4
        assert "[finance desk] alice approves -> pending" in out
        assert "[finance desk] bob approves -> approved" in out
        assert "agent: wired 12,500.00 to DE89" in out
        assert "approved by alice, bob" in out and "2 requests still wait." in out

    def test_console_answers_from_input(self) -> None:
        """Yes, no and an edit typed on standard input; the capped refund never asks."""
        result = subprocess.run(
            [sys.executable, "examples/approvals_console.py"],
            cwd=ROOT,
            input="y\nn\ne\namount=40\n\n",
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "agent: refunded 250.00 on A-1002" in out
        assert "refused at the console" in out
        assert "agent: not done - never more than 1000" in out
        assert "agent: refunded 40.00 on A-1005" in out
        assert out.count("approval needed: refund") == 3


class TestPolicyTestsExample:
    def test_pytest_runs_the_cases_and_the_fixtures(self) -> None:
        """`pytest examples/policy_tests` collects the case file and the test file, all passing, all rules covered."""
        result = run(
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-v",
            "--guardrails-fail-uncovered",
            "examples/policy_tests",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "policy_test_support.toml::a refund of 500 needs a person PASSED" in result.stdout
        assert "test_support_policy.py::test_a_person_approves_then_refuses PASSED" in result.stdout
        assert "10 passed" in result.stdout


class TestDocumentsExample:
    def test_documents_demo(self) -> None:
        """The documents demo loads, shadows, rejects a bad edit, reloads a good one and blocks."""
        result = run("examples/documents.py")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "unknown operator 'betwen'; did you mean 'between'?" in out
        assert "the policy in force is unchanged: True" in out
        assert "the same small refund                        → [not run: no rule matched" in out
        assert "[not run: refund fraud under investigation]" in out
        assert "night-refunds" in out
        assert result.stderr == ""


class TestBenchmark:
    def test_overhead_smoke(self) -> None:
        """The benchmark runs end to end (a smoke run: timings are not judged here)."""
        result = run("benchmarks/overhead.py", "--quick", "--calls", "200", "--repeats", "1")
        assert result.returncode == 0, result.stderr
        assert "governed / bare wrapt wrapper" in result.stdout
        assert "1,000 rules / 10 rules" in result.stdout
