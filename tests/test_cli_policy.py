"""``guardrails test``, ``explain``, ``check``, ``replay`` and ``schema``, end to end through a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
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
        # The checkout first, as from ROOT: the package is found from any cwd, installed or not.
        env={
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "NO_COLOR": "1",
            "PATH": "/usr/bin:/bin",
        },
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

    def test_each_file_on_its_own(self, tmp_path: Path) -> None:
        """Without --together, files are checked each alone (two versions of one policy both
        pass), and a note says the combined check was not made and how to ask for it."""
        from conftest import need

        need("yaml")
        policies = ROOT / "examples" / "policies"
        done = guardrails("check", str(policies / "support.toml"), str(policies / "support.yaml"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines() == [
            f"{policies / 'support.toml'}: ok",
            f"{policies / 'support.yaml'}: ok",
            "note: checked each policy on its own; to check them as one policy (as Policy.from_files "
            "loads them: clashing ids, one file's rule shadowing another's) pass --together",
        ]
        together = guardrails(
            "check", "--together", str(policies / "support.toml"), str(policies / "support.yaml")
        )
        assert together.returncode == 1 and "is already used in" in together.stdout
        assert "note:" not in together.stdout
        alone = guardrails("check", "--json", str(policies / "support.toml"), str(policies / "support.yaml"))
        assert len(json.loads(alone.stdout)) == 2 and alone.stderr.startswith("note: checked each policy")
        one = guardrails("check", str(policies / "support.toml"))
        assert one.stdout == f"{policies / 'support.toml'}: ok\n"

    def test_files_together(self, tmp_path: Path) -> None:
        """With --together, files are also checked combined: clashing ids, one file's deny shadowing another's allow."""
        (tmp_path / "a.toml").write_text('[[rules]]\nid = "mail"\naction = "send_email"\neffect = "allow"\n')
        (tmp_path / "b.toml").write_text('[[rules]]\nid = "mail"\naction = "x"\neffect = "deny"\n')
        (tmp_path / "c.toml").write_text('[[rules]]\nid = "freeze"\naction = "*"\neffect = "deny"\n')
        clash = guardrails(
            "check", "--together", "--json", str(tmp_path / "a.toml"), str(tmp_path / "b.toml")
        )
        assert clash.returncode == 1
        assert (
            "already used"
            in json.loads(clash.stdout)[f"{tmp_path / 'a.toml'} + {tmp_path / 'b.toml'}"]["invalid"]
        )
        shadow = guardrails(
            "check", "--together", "--json", str(tmp_path / "a.toml"), str(tmp_path / "c.toml")
        )
        together = json.loads(shadow.stdout)[f"{tmp_path / 'a.toml'} + {tmp_path / 'c.toml'}"]["findings"]
        assert [(f["kind"], f["rule_id"]) for f in together] == [("shadowed", "mail")]
        (tmp_path / "d.toml").write_text(
            '[[rules]]\nid = "mail-too"\naction = "send_email"\neffect = "allow"\n'
        )
        twice = guardrails("check", "--together", str(tmp_path / "a.toml"), str(tmp_path / "d.toml"))
        assert twice.returncode == 1
        assert (
            f"{tmp_path / 'a.toml'} + {tmp_path / 'd.toml'}: duplicate: rule 'mail-too': the same action, "
            "effect and condition as rule 'mail'" in twice.stdout
        )

    def test_console_script_finds_tools_in_the_current_directory(self, tmp_path: Path) -> None:
        """``--tools mymodule:TOOLS`` works from the installed command, as from ``python -m``."""
        import shutil

        (tmp_path / "mytools.py").write_text((Path(__file__).parent / "lint_tools.py").read_text())
        (tmp_path / "p.toml").write_text('[[rules]]\naction = "send_email"\neffect = "allow"\n')
        script = shutil.which("runtime-guardrails", path=str(Path(sys.executable).parent))
        if script is None:
            pytest.skip("the runtime-guardrails command is not installed here (pip install -e .)")
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

    def test_warnings_pass_unless_strict(self, tmp_path: Path) -> None:
        """A deny-list of commands and an empty policy are warnings: exit 0, or 1 with --strict."""
        (tmp_path / "shell.toml").write_text(
            '[[rules]]\nid = "shell"\naction = "shell"\neffect = "allow"\n'
            '[[rules]]\nid = "no-rm"\naction = "shell"\neffect = "deny"\n'
            'when = { arg = "cmd", shell_command_in = ["rm -rf"] }\n'
        )
        (tmp_path / "empty.toml").write_text('default = "deny"\n')
        files = [str(tmp_path / "shell.toml"), str(tmp_path / "empty.toml")]
        done = guardrails("check", *files)
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].startswith(
            f"{files[0]}: warning: command-deny-list: rule 'no-rm': deny when arg('cmd')"
        )
        assert "'/bin/rm -rf'" in lines[0] and "shell_command_in([...])" in lines[0]
        assert (
            lines[1]
            == f"{files[1]}: warning: empty-policy: the policy has no rules: every call gets its default (deny) and is refused"
        )
        assert lines[2] == "2 warning(s): they do not fail the check (--strict makes them)"
        strict = guardrails("check", "--strict", "--json", *files)
        assert strict.returncode == 1
        assert [f["severity"] for r in json.loads(strict.stdout).values() for f in r["findings"]] == [
            "warning"
        ] * 2

    def test_python_policies(self, tmp_path: Path) -> None:
        """``module:attr`` names a Policy, or a function returning one, imported from the current directory."""
        (tmp_path / "mypolicy.py").write_text(
            "import guardrails as g\n"
            "POLICY = g.Policy([g.allow('x', id='x'), g.deny('x', id='x-off')])\n"
            "def build():\n    return g.Policy([g.allow('y', id='y')])\n"
            "NUMBER = 3\n"
            "def broken():\n    raise RuntimeError('boom')\n"
        )
        done = guardrails("check", "mypolicy:build", "mypolicy:POLICY", cwd=tmp_path)
        assert done.returncode == 1
        assert done.stdout.splitlines()[0] == "mypolicy:build: ok"
        assert "mypolicy:POLICY: shadowed: rule 'x'" in done.stdout
        bad = guardrails("check", "mypolicy:NUMBER", "mypolicy:broken", cwd=tmp_path)
        assert bad.returncode == 1
        assert "mypolicy:NUMBER: invalid: mypolicy:NUMBER is int 3, not a guardrails Policy" in bad.stdout
        assert (
            "mypolicy:broken: invalid: mypolicy:broken: importing or building it failed: RuntimeError: boom"
            in bad.stdout
        )
        for spec, message in [
            ("nomodule:POLICY", "no module named 'nomodule'"),
            ("mypolicy:NOPE", "mypolicy has no attribute 'NOPE'"),
        ]:
            missing = guardrails("check", spec, cwd=tmp_path)
            assert missing.returncode == 2 and message in missing.stderr and "Traceback" not in missing.stderr
        explained = guardrails("explain", "--policy", "mypolicy:build", "--action", "y", cwd=tmp_path)
        assert explained.returncode == 0 and "→ allow (rule 'y')" in explained.stdout


USER_CODE = """
import guardrails as g

def exits():
    raise SystemExit(0)

def interrupted():
    raise KeyboardInterrupt

async def build_later():
    return g.Policy([g.allow("x")])

def returns_a_coroutine():
    return build_later()

def counted():
    with open("built.txt", "a") as built:
        built.write("built\\n")
    return g.Policy([g.allow("x", id="x")])
"""


class TestUserCode:
    """Policies and tools named ``module:attr`` run the user's code: what it does cannot pass for success."""

    @pytest.fixture
    def here(self, tmp_path: Path) -> Path:
        (tmp_path / "usercode.py").write_text(USER_CODE)
        (tmp_path / "exits_at_import.py").write_text("import sys\nsys.exit(0)\n")
        (tmp_path / "needs_a_missing_module.py").write_text("import not_a_module_anywhere\n")
        (tmp_path / "cases.toml").write_text('[[cases]]\naction = "x"\nexpect = "deny"\n')
        (tmp_path / "audit.jsonl").write_text("")
        (tmp_path / "p.toml").write_text('[[rules]]\naction = "x"\neffect = "allow"\n')
        return tmp_path

    @pytest.mark.parametrize(
        ("spec", "code"), [("exits_at_import:POLICY", "0"), ("usercode:exits", "0"), ("sys:exit", "None")]
    )
    def test_code_that_exits_is_an_error(self, here: Path, spec: str, code: str) -> None:
        """SystemExit from importing the module or building the policy: exit 2 and why, never 0."""
        for argv in (
            ["check", spec],
            ["test", "cases.toml", "--policy", spec],
            ["explain", "--policy", spec, "--action", "x"],
            ["replay", "audit.jsonl", "--policy", spec],
        ):
            done = guardrails(*argv, cwd=here)
            assert (done.returncode, done.stdout) == (2, ""), argv
            assert done.stderr == (
                f"python -m guardrails: importing or building the policy {spec} exited (SystemExit {code})\n"
            )

    def test_tools_that_exit_or_fail_to_import(self, here: Path) -> None:
        """--tools whose module exits, or imports what is not there: exit 2, a --tools message."""
        done = guardrails("check", "p.toml", "--tools", "exits_at_import", cwd=here)
        assert done.returncode == 2
        assert (
            done.stderr == "python -m guardrails: importing --tools exits_at_import exited (SystemExit 0)\n"
        )
        missing = guardrails("check", "p.toml", "--tools", "needs_a_missing_module:TOOLS", cwd=here)
        assert missing.returncode == 2 and "unexpected error" not in missing.stderr
        assert missing.stderr.startswith(
            "python -m guardrails: --tools needs_a_missing_module:TOOLS: importing it failed: "
            "ModuleNotFoundError: No module named 'not_a_module_anywhere'"
        )

    def test_ctrl_c_stays_an_interruption(self, here: Path) -> None:
        """KeyboardInterrupt while building the policy is Ctrl-C: exit 130."""
        done = guardrails("explain", "--policy", "usercode:interrupted", "--action", "x", cwd=here)
        assert (done.returncode, done.stderr) == (130, "python -m guardrails: interrupted\n")

    def test_async_factories_are_refused(self, here: Path) -> None:
        """An async function (or one returning a coroutine) is refused, and nothing is left unawaited."""
        done = guardrails("check", "usercode:build_later", cwd=here)
        assert done.returncode == 1
        assert done.stdout.startswith(
            "usercode:build_later: invalid: usercode:build_later is an async function: a policy is built "
            "without await"
        )
        assert "never awaited" not in done.stderr
        explained = guardrails(
            "explain", "--policy", "usercode:returns_a_coroutine", "--action", "x", cwd=here
        )
        assert explained.returncode == 2 and "never awaited" not in explained.stderr
        assert "usercode:returns_a_coroutine returned coroutine" in explained.stderr
        assert "something to await" in explained.stderr

    def test_together_builds_each_policy_once(self, here: Path) -> None:
        """--together reuses the policies already loaded: a function building one is called once."""
        done = guardrails("check", "--together", "usercode:counted", "p.toml", cwd=here)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "usercode:counted + p.toml: duplicate" in done.stdout
        assert (here / "built.txt").read_text() == "built\n"


LIMITED = """
[[rules]]
id = "mail"
action = "send_email"
effect = "allow"

[[rules]]
id = "mail-rate"
action = "send_email"
effect = "deny"
limit = { count = 10, per = "1m", key = [{ ctx = "user" }] }
reason = "too much mail"
"""


class TestLimits:
    def test_explain_says_which_limit_applies(self, tmp_path: Path) -> None:
        """The limited rule is listed with its limit and whether the usage given passes it."""
        (tmp_path / "policy.toml").write_text(LIMITED)
        call = ["explain", "--policy", str(tmp_path / "policy.toml"), "--action", "send_email",
                "--args", '{"to": "bob@acme.com"}', "--context", '{"user": "alice"}']  # fmt: skip
        fresh = guardrails(*call)
        assert fresh.returncode == 0, fresh.stderr
        assert "· deny             mail-rate" in fresh.stdout
        assert (
            "limit 10 calls per 1m per ctx('user'): 0 used + 1 this call <= 10: within the limit"
            in fresh.stdout
        )
        assert "--usage or --prior-calls say what came before" in fresh.stdout
        over = guardrails(*call, "--usage", '{"mail-rate": 10}')
        assert "✓ deny             mail-rate" in over.stdout
        assert "10 used + 1 this call > 10: over the limit, the rule applies" in over.stdout
        assert over.stdout.rstrip().endswith(
            "→ deny (rule 'mail-rate'): too much mail (limit reached: 10 calls per 1m per ctx('user'))"
        )
        prior = guardrails(*call, "--prior-calls", '[{"times": 10}]', "--json")
        (rate,) = [r for r in json.loads(prior.stdout)["rules"] if r["rule"] == "mail-rate"]
        assert rate["matched"] and rate["limit"]["used"] == "10" and rate["limit"]["over"] is True
        for option, value, message in [
            ("--usage", '{"nope": 1}', "usage names rule 'nope', which the policy does not have"),
            ("--usage", '{"mail-rate": -1}', "usage.mail-rate: Input should be greater than or equal to 0"),
            ("--usage", "[1]", "--usage must be a JSON object"),
            ("--prior-calls", "{}", "--prior-calls must be a JSON array"),
            ("--prior-calls", '[{"ago": "soon"}]', "prior_calls.0.ago"),
        ]:
            wrong = guardrails(*call, option, value)
            assert wrong.returncode == 2 and message in wrong.stderr and "Traceback" not in wrong.stderr

    def test_cases_cover_a_limited_rule(self, tmp_path: Path) -> None:
        """A case with usage reaches the limit: the rule decides it and is covered; --fail-uncovered passes."""
        (tmp_path / "policy.toml").write_text(LIMITED)
        base = 'policy = "policy.toml"\n[[cases]]\naction = "send_email"\ncontext = { user = "alice" }\nexpect = "allow"\n'
        (tmp_path / "cases.toml").write_text(base)
        uncovered = guardrails("test", "--fail-uncovered", str(tmp_path / "cases.toml"))
        assert uncovered.returncode == 1
        assert "1 rules decided no case: mail-rate" in uncovered.stdout
        assert "--fail-uncovered: 1 rules decided no case (listed above)" in uncovered.stdout
        (tmp_path / "cases.toml").write_text(
            base + '[[cases]]\naction = "send_email"\ncontext = { user = "alice" }\n'
            'usage = { mail-rate = 10 }\nexpect = "deny"\nrule = "mail-rate"\n'
        )
        covered = guardrails("test", "--fail-uncovered", str(tmp_path / "cases.toml"))
        assert covered.returncode == 0, covered.stdout + covered.stderr
        assert "2 passed, 0 failed" in covered.stdout and "decided no case" not in covered.stdout

    def test_replay_compares_limited_calls(self, tmp_path: Path) -> None:
        """15 calls under a rate limit are all compared, the limit replayed in order."""
        (tmp_path / "policy.toml").write_text(LIMITED)
        log = g.JsonlAudit(tmp_path / "audit.jsonl")
        mail = g.governed(
            "send_email", governor=g.Governor(g.Policy.from_file(tmp_path / "policy.toml"), audit=log)
        )(lambda to: "sent")
        with g.context(user="alice"):
            for i in range(15):
                with contextlib.suppress(g.ActionDenied):
                    mail(f"{i}@acme.com")
        log.close()
        same = guardrails("replay", str(tmp_path / "audit.jsonl"), "--policy", str(tmp_path / "policy.toml"))
        assert same.returncode == 0, same.stdout + same.stderr
        assert same.stdout.startswith(
            "15 calls re-judged: 15 unchanged, 0 would change; 15 judged with limits"
        )
        (tmp_path / "stricter.toml").write_text(LIMITED.replace("count = 10", "count = 5"))
        stricter = guardrails(
            "replay", str(tmp_path / "audit.jsonl"), "--policy", str(tmp_path / "stricter.toml")
        )
        assert stricter.returncode == 1
        assert (
            "10 unchanged, 5 would change" in stricter.stdout
            and "newly denied: 5 (rule 'mail-rate': 5)" in stricter.stdout
        )
        (tmp_path / "prov.py").write_text(
            "import guardrails as g\n"
            "POLICY = g.Policy([g.allow('send_email'), "
            "g.deny('send_email', when=g.arg('to').provenance('untrusted'))])\n"
        )
        blind = guardrails("replay", str(tmp_path / "audit.jsonl"), "--policy", "prov:POLICY", cwd=tmp_path)
        assert blind.returncode == 3
        assert "NOT COMPARED: 15 of 15 calls (send_email: 15): provenance(...)" in blind.stdout


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
        """Every command explains itself, named as it was run."""
        done = guardrails(command, "--help")
        assert done.returncode == 0 and "Exit codes" in done.stdout
        assert done.stdout.startswith(f"usage: python -m guardrails {command}")

    def test_named_as_the_installed_command(self) -> None:
        """Run as ``runtime-guardrails``, usage and errors say so."""
        code = "import sys; sys.argv[0] = '/venv/bin/runtime-guardrails'; from guardrails.cli import main; sys.exit(main())"
        done = subprocess.run(
            [sys.executable, "-c", code, "--help"], capture_output=True, text=True, check=False, cwd=ROOT
        )
        assert done.returncode == 0 and done.stdout.startswith("usage: runtime-guardrails [-h] [--version]")
        assert "Run 'runtime-guardrails COMMAND --help'" in " ".join(done.stdout.split())
        failed = subprocess.run(
            [sys.executable, "-c", code, "check", "nothere.toml"],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert (
            failed.returncode == 2 and failed.stderr == "runtime-guardrails: no policy file at nothere.toml\n"
        )

    @pytest.mark.parametrize(
        ("argv", "code", "message"),
        [
            (["test", "nothere.toml"], 2, "nothere.toml"),
            (["test", "pyproject.toml"], 2, "cases: Field required"),
            (["explain", "--policy", "nothere.toml", "--action", "x"], 2, "nothere.toml"),
            (["explain", "--policy", "pyproject.toml", "--action", "x"], 2, "pyproject.toml"),
            (
                ["explain", "--policy", str(EXAMPLES / "policy.toml"), "--action", "x", "--args", "{"],
                2,
                "--args is not JSON",
            ),
            (["replay", "pyproject.toml", "--policy", "nothere.toml"], 2, "nothere.toml"),
            (
                ["replay", "pyproject.toml", "--policy", "examples/policy_tests/policy.toml"],
                2,
                "not an audit record",
            ),
            (["audit", "show", "pyproject.toml"], 2, "pyproject.toml:1: not an audit record"),
            (["audit", "verify", "pyproject.toml"], 3, ""),
            (
                ["check", "--tools", "nothere:TOOLS", "examples/policy_tests/policy.toml"],
                2,
                "no module named 'nothere'",
            ),
            (["check", "nothere:POLICY"], 2, "no module named 'nothere'"),
            (["check", "nothere.toml"], 2, "no policy file at nothere.toml"),
        ],
    )
    def test_errors_are_a_message_not_a_traceback(self, argv: list[str], code: int, message: str) -> None:
        """Every error path: a clear message on stderr, a non-zero exit, no traceback."""
        done = guardrails(*argv)
        assert done.returncode == code, done.stdout + done.stderr
        assert message in done.stderr + done.stdout and "Traceback" not in done.stderr

    def test_usage_errors(self) -> None:
        """Unknown commands and missing files: exit 2."""
        assert guardrails("nonsense").returncode == 2
        assert guardrails("check", "no-such-file.toml").returncode == 2
        assert (
            guardrails("replay", "no-such.jsonl", "--policy", str(EXAMPLES / "policy.toml")).returncode == 2
        )
