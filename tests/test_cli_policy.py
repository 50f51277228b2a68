"""``guardrails test``, ``explain``, ``check``, ``replay`` and ``schema``, end to end through a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import guardrails as g

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "policy_tests"


def guardrails(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guardrails", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd or ROOT,
        env={"PYTHONPATH": str(ROOT / "tests"), "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


class TestTest:
    def test_passing_cases(self) -> None:
        """Every case passes: exit 0, one line per case, every rule covered."""
        done = guardrails("test", str(EXAMPLES / "policy_test_support.toml"))
        assert done.returncode == 0, done.stderr
        assert "PASS  a refund of 500 needs a person" in done.stdout
        assert "8 passed, 0 failed" in done.stdout
        assert "decided no case" not in done.stdout

    def test_failing_case_and_coverage(self, tmp_path: Path) -> None:
        """A failing case: exit 1, the explanation; uncovered rules listed and, when asked, failing."""
        cases = tmp_path / "cases.toml"
        cases.write_text(
            '[[cases]]\nname = "wrong on purpose"\naction = "refund"\nargs = { amount = 5000 }\nexpect = "allow"\n'
        )
        policy = str(EXAMPLES / "policy.toml")
        done = guardrails("test", str(cases), "--policy", policy)
        assert done.returncode == 1
        assert "FAIL  wrong on purpose" in done.stdout
        assert "expected allow, got deny" in done.stdout and "→ deny (rule 'refund-cap')" in done.stdout
        assert "5 rules decided no case" in done.stdout
        cases.write_text('[[cases]]\naction = "refund"\nargs = { amount = 5 }\nexpect = "allow"\n')
        assert guardrails("test", str(cases), "--policy", policy).returncode == 0
        assert guardrails("test", str(cases), "--policy", policy, "--fail-uncovered").returncode == 1

    def test_json(self, tmp_path: Path) -> None:
        """``--json`` for CI."""
        done = guardrails("test", "--json", str(EXAMPLES / "policy_test_support.toml"))
        assert json.loads(done.stdout) == {"passed": 8, "failed": [], "uncovered": {}}

    def test_an_empty_policy_is_a_policy(self, tmp_path: Path) -> None:
        """--policy naming a policy without rules (everything denied) is used, not ignored."""
        (tmp_path / "empty.toml").write_text('default = "deny"\n')
        (tmp_path / "cases.toml").write_text('[[cases]]\naction = "x"\nexpect = "deny"\n')
        done = guardrails("test", str(tmp_path / "cases.toml"), "--policy", str(tmp_path / "empty.toml"))
        assert done.returncode == 0, done.stdout + done.stderr

    def test_no_policy_named(self, tmp_path: Path) -> None:
        """A case file naming no policy, run without --policy: exit 2 and why."""
        (tmp_path / "cases.toml").write_text('[[cases]]\naction = "x"\nexpect = "deny"\n')
        done = guardrails("test", str(tmp_path / "cases.toml"))
        assert done.returncode == 2 and "name the policy" in done.stderr


class TestExplain:
    def test_every_rule_and_the_decision(self) -> None:
        """The rules considered, the values they saw, then the decision."""
        done = guardrails(
            "explain", "--policy", str(EXAMPLES / "policy.toml"), "--action", "refund",
            "--args", '{"order_id": "A-1", "amount": 5000}', "--context", '{"user": "alice"}',
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert "refund(order_id='A-1', amount=5000)" in out and "context: user='alice'" in out
        assert "arg('amount') > 1000   [arg('amount')=5000]" in out
        assert out.rstrip().endswith("→ deny (rule 'refund-cap'): agents never refund more than 1000")

    def test_json(self) -> None:
        """``--json`` gives the effect, the rule and every rule's verdict."""
        done = guardrails(
            "explain", "--json", "--policy", str(EXAMPLES / "policy.toml"),
            "--action", "send_email", "--args", '{"to": "eve@evil.example"}',
        )  # fmt: skip
        result = json.loads(done.stdout)
        assert (result["effect"], result["rule"]) == ("deny", "no-external-mail")
        assert {r["rule"]: r["matched"] for r in result["rules"]} == {
            "no-external-mail": True,
            "internal-mail": False,
        }

    def test_bad_json_is_a_usage_error(self) -> None:
        """Arguments that are not a JSON object: exit 2, saying which."""
        done = guardrails(
            "explain", "--policy", str(EXAMPLES / "policy.toml"), "--action", "x", "--args", "[1]"
        )
        assert done.returncode == 2 and "--args must be a JSON object" in done.stderr


class TestCheck:
    def test_clean_policy(self) -> None:
        """Nothing to find: exit 0."""
        done = guardrails("check", str(EXAMPLES / "policy.toml"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip().endswith("policy.toml: ok")

    def test_findings(self, tmp_path: Path) -> None:
        """Every lint kind through the command line, with the tools from a module."""
        path = tmp_path / "policy.toml"
        path.write_text(
            """
[[rules]]
id = "freeze"
action = "payments.*"
effect = "allow"

[[rules]]
id = "cap"
action = "payments.refund"
effect = "deny"
when = { arg = "ammount", gt = 100 }

[[rules]]
id = "cap-again"
action = "payments.refund"
effect = "deny"
when = { arg = "ammount", gt = 100 }

[[rules]]
id = "stop-mail"
action = "send_email"
effect = "deny"

[[rules]]
id = "mail"
action = "send_email"
effect = "allow"

[[rules]]
id = "typo"
action = "send_emial"
effect = "allow"
"""
        )
        done = guardrails("check", str(path), "--tools", "lint_tools:TOOLS", "--json")
        assert done.returncode == 1, done.stderr
        (result,) = json.loads(done.stdout).values()
        assert result["invalid"] is None
        kinds = sorted(f["kind"] for f in result["findings"])
        assert kinds == [
            "duplicate", "shadowed", "unknown-action", "unknown-argument", "unknown-argument", "wide-allow",
        ]  # fmt: skip

    def test_invalid_policy(self, tmp_path: Path) -> None:
        """A policy that does not load is a finding naming the place."""
        path = tmp_path / "bad.toml"
        path.write_text('[[rules]]\naction = "x"\neffect = "maybe"\n')
        done = guardrails("check", str(path))
        assert done.returncode == 1 and "invalid:" in done.stdout and "rules[0].effect" in done.stdout

    def test_files_together(self, tmp_path: Path) -> None:
        """Several files are checked as combined too: clashing ids, one file's deny shadowing another's allow."""
        (tmp_path / "a.toml").write_text('[[rules]]\nid = "mail"\naction = "send_email"\neffect = "allow"\n')
        (tmp_path / "b.toml").write_text('[[rules]]\nid = "mail"\naction = "x"\neffect = "deny"\n')
        (tmp_path / "c.toml").write_text('[[rules]]\nid = "freeze"\naction = "*"\neffect = "deny"\n')
        clash = guardrails("check", "--json", str(tmp_path / "a.toml"), str(tmp_path / "b.toml"))
        assert clash.returncode == 1
        assert (
            "already used"
            in json.loads(clash.stdout)[f"{tmp_path / 'a.toml'} + {tmp_path / 'b.toml'}"]["invalid"]
        )
        shadow = guardrails("check", "--json", str(tmp_path / "a.toml"), str(tmp_path / "c.toml"))
        together = json.loads(shadow.stdout)[f"{tmp_path / 'a.toml'} + {tmp_path / 'c.toml'}"]["findings"]
        assert [(f["kind"], f["rule_id"]) for f in together] == [("shadowed", "mail")]

    def test_console_script_finds_tools_in_the_current_directory(self, tmp_path: Path) -> None:
        """``--tools mymodule:TOOLS`` works from the installed command, as from ``python -m``."""
        import shutil

        (tmp_path / "mytools.py").write_text((Path(__file__).parent / "lint_tools.py").read_text())
        (tmp_path / "p.toml").write_text('[[rules]]\naction = "send_email"\neffect = "allow"\n')
        script = shutil.which("guardrails", path=str(Path(sys.executable).parent))
        assert script is not None
        done = subprocess.run(
            [script, "check", "p.toml", "--tools", "mytools:TOOLS"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        missing = subprocess.run(
            [script, "check", "p.toml", "--tools", "nothere:TOOLS"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=False,
        )
        assert missing.returncode == 2 and "--tools nothere:TOOLS" in missing.stderr


class TestReplay:
    def test_changes_on_recorded_traffic(self, tmp_path: Path) -> None:
        """What the candidate would change: exit 1, grouped by rule; unchanged traffic: exit 0."""
        log = g.JsonlAudit(tmp_path / "audit.jsonl")
        gov = g.Governor(g.Policy.from_file(EXAMPLES / "policy.toml"), audit=log)
        refund = g.governed("refund", governor=gov)(lambda order_id, amount: "ok")
        for amount in (10, 60, 90):
            refund("A", amount)
        log.close()
        stricter = tmp_path / "next.toml"
        stricter.write_text(
            (EXAMPLES / "policy.toml")
            .read_text()
            .replace('when = { arg = "amount", le = 100 }', 'when = { arg = "amount", le = 50 }')
        )
        done = guardrails("replay", str(tmp_path / "audit.jsonl"), "--policy", str(stricter))
        assert done.returncode == 1, done.stderr
        assert "3 calls re-judged: 1 unchanged, 2 would change" in done.stdout
        assert "newly denied: 2 (the default: 2)" in done.stdout
        same = guardrails(
            "replay", "--json", str(tmp_path / "audit.jsonl"), "--policy", str(EXAMPLES / "policy.toml")
        )
        assert same.returncode == 0 and json.loads(same.stdout)["unchanged"] == 3


class TestSchemaAndUsage:
    def test_schema(self) -> None:
        """The JSON Schema, as the library gives it."""
        done = guardrails("schema")
        assert done.returncode == 0 and json.loads(done.stdout) == g.Policy.json_schema()

    @pytest.mark.parametrize("command", ["test", "explain", "check", "replay", "schema", "audit"])
    def test_help_teaches(self, command: str) -> None:
        """Every command explains itself."""
        done = guardrails(command, "--help")
        assert done.returncode == 0 and "Exit codes" in done.stdout

    def test_usage_errors(self) -> None:
        """Unknown commands and missing files: exit 2."""
        assert guardrails("nonsense").returncode == 2
        assert guardrails("check", "no-such-file.toml").returncode == 2
        assert (
            guardrails("replay", "no-such.jsonl", "--policy", str(EXAMPLES / "policy.toml")).returncode == 2
        )
