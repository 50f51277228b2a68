"""Testing policies: the assert helpers, case files, the pytest plugin and rule coverage."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import guardrails as g
from guardrails.testing import (
    CapturedAudit,
    NoAnswerQueued,
    ScriptedApprover,
    assert_allowed,
    assert_denied,
    assert_needs_approval,
)
from guardrails.testing.cases import Coverage, load_cases, run_case, uncovered

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "policy_tests"

POLICY = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 100, id="small"),
        g.require_approval("refund", when=g.arg("amount") > 100, id="large"),
        g.deny("wire", id="no-wires", reason="wires are off"),
    ]
)

POLICY_TOML = """
[[rules]]
id = "small"
action = "refund"
effect = "allow"
when = { arg = "amount", le = 100 }

[[rules]]
id = "large"
action = "refund"
effect = "require_approval"
when = { arg = "amount", gt = 100 }

[[rules]]
id = "no-wires"
action = "wire"
effect = "deny"
"""

CASES_TOML = """
policy = "policy.toml"

[[cases]]
name = "small refunds pass"
action = "refund"
args = { amount = 40 }
expect = "allow"
rule = "small"

[[cases]]
action = "refund"
args = { amount = 500 }
expect = "require_approval"
"""


class TestHelpers:
    def test_passing_assertions_return_the_decision(self) -> None:
        """Each helper returns the decision it checked."""
        assert assert_allowed(POLICY, "refund", {"amount": 5}).rule_id == "small"
        assert assert_needs_approval(POLICY, "refund", {"amount": 500}, rule_id="large").rule_id == "large"
        assert assert_denied(POLICY, "wire", {}, rule_id="no-wires").reason == "wires are off"

    def test_failures_explain_everything(self) -> None:
        """A failing assertion says what was expected and shows every rule's verdict."""
        with pytest.raises(AssertionError) as info:
            assert_allowed(POLICY, "refund", {"amount": 500})
        message = str(info.value)
        assert message.startswith("expected allow, got require_approval")
        assert "arg('amount') <= 100" in message and "→ require_approval (rule 'large')" in message
        with pytest.raises(AssertionError, match="expected rule 'other', decided by 'no-wires'"):
            assert_denied(POLICY, "wire", rule_id="other")

    def test_a_governor_is_asked_with_its_kill_switch(self) -> None:
        """With a Governor the helpers use ``check``: blocks apply."""
        gov = g.Governor(POLICY)
        assert_allowed(gov, "refund", {"amount": 5})
        gov.block("refund")
        assert_denied(gov, "refund", {"amount": 5})

    def test_only_policies_and_governors(self) -> None:
        """Anything else is a TypeError, not a silent pass."""
        with pytest.raises(TypeError, match="a Policy or a Governor"):
            assert_allowed("policy.toml", "refund")  # type: ignore[arg-type]


class TestScriptedApproverAndCapture:
    def test_answers_in_order_then_the_default(self) -> None:
        """Scripted answers come first, then the default; every request is kept."""
        approver = ScriptedApprover(True, default=False, by="carol")
        audit = CapturedAudit()
        refund = g.governed("refund", governor=g.Governor(POLICY, approver=approver, audit=audit))(
            lambda amount: "ok"
        )
        assert refund(500) == "ok"
        with pytest.raises(g.ApprovalDenied):
            refund(600)
        approver.push(g.ApprovalResponse(True, by="dan", reason="fine"))
        assert refund(700) == "ok"
        assert [r.args["amount"] for r in approver.requests] == [500, 600, 700]
        assert [r.approved_by for r in audit.decisions] == ["carol", "carol", "dan"]
        assert audit.ran == ["refund", "refund"]
        assert len(audit.calls("refund")) == 3

    def test_an_empty_script_says_how_to_queue_answers(self) -> None:
        """Asked with nothing queued and no default, it refuses, and the refusal says how to queue answers."""
        approver = ScriptedApprover()
        refund = g.governed("refund", governor=g.Governor(POLICY, approver=approver))(lambda amount: "ok")
        with pytest.raises(g.ApprovalDenied) as info:
            refund(500)
        message = str(info.value)
        assert "with no answer queued" in message and ".push(True) approves" in message
        assert ".default = True" in message
        with pytest.raises(NoAnswerQueued, match="the ScriptedApprover was asked to approve 'refund'"):
            approver(approver.requests[0])
        approver.default = True
        assert refund(600) == "ok"
        assert "then True" in repr(approver) and "then an error" in repr(ScriptedApprover())


LIMITS_TOML = """
[[rules]]
id = "mail"
action = "send_email"
effect = "allow"

[[rules]]
id = "mail-rate"
action = "send_email"
effect = "deny"
limit = { count = 5, per = "1m", key = [{ ctx = "user" }] }

[[rules]]
id = "refund-budget"
action = "refund"
effect = "require_approval"
limit = { sum = "amount", max = 500, per = "1d", key = [{ arg = "customer" }] }

[[rules]]
id = "refunds"
action = "refund"
effect = "allow"

[[rules]]
id = "files"
action = "read_file"
effect = "allow"

[[rules]]
id = "exfil"
action = "send_email"
effect = "deny"
when = { after = "read_file", within = "1h" }
"""


class TestCasesWithState:
    def _run(self, tmp_path: Path, cases: str) -> list[Any]:
        (tmp_path / "policy.toml").write_text(LIMITS_TOML)
        (tmp_path / "cases.toml").write_text('policy = "policy.toml"\n' + cases)
        loaded = load_cases(tmp_path / "cases.toml")
        policy = g.Policy.from_file(tmp_path / "policy.toml")
        return [run_case(policy, case) for case in loaded]

    def test_usage_reaches_a_limit(self, tmp_path: Path) -> None:
        """``usage`` fills a limit's counter for the case's key: the limited rule decides, and says how."""
        results = self._run(
            tmp_path,
            """
[[cases]]
action = "send_email"
context = { user = "alice", session = "s-1" }
usage = { mail-rate = 5 }
expect = "deny"
rule = "mail-rate"

[[cases]]
action = "send_email"
context = { user = "alice", session = "s-1" }
usage = { mail-rate = 4 }
expect = "allow"

[[cases]]
action = "refund"
args = { customer = "C-1", amount = 60 }
usage = { refund-budget = "450.50" }
expect = "require_approval"
rule = "refund-budget"
""",
        )
        assert [r.problem for r in results] == [None, None, None]
        assert "5 used + 1 this call > 5: over the limit, the rule applies" in results[0].explain()
        assert "4 used + 1 this call <= 5: within the limit" in results[1].explain()
        assert "450.5 used + 60 this call > 500" in results[2].explain()

    def test_prior_calls_run_first(self, tmp_path: Path) -> None:
        """Prior calls count against limits and are noted for after(...), at their time ago."""
        results = self._run(
            tmp_path,
            """
[[cases]]
name = "the sixth mail"
action = "send_email"
context = { user = "alice", session = "s-1" }
prior_calls = [{ times = 5 }]
expect = "deny"
rule = "mail-rate"

[[cases]]
name = "five mails two minutes ago"
action = "send_email"
context = { user = "alice", session = "s-1" }
prior_calls = [{ times = 5, ago = "2m" }]
expect = "allow"

[[cases]]
name = "mail after reading a file"
action = "send_email"
context = { user = "alice", session = "s-1" }
prior_calls = [{ action = "read_file", args = { path = "/secrets/key" } }]
expect = "deny"
rule = "exfil"

[[cases]]
name = "refunds over the budget count only when approved"
action = "refund"
args = { customer = "C-1", amount = 50 }
prior_calls = [{ args = { customer = "C-1", amount = 450 } }, { args = { customer = "C-1", amount = 100 } }]
expect = "allow"

[[cases]]
name = "an approved refund over the budget counts"
action = "refund"
args = { customer = "C-1", amount = 10 }
prior_calls = [{ args = { customer = "C-1", amount = 450 } }, { args = { customer = "C-1", amount = 100 }, approved = true }]
expect = "require_approval"
""",
        )
        assert [(r.case.name, r.problem) for r in results if r.problem] == []

    @pytest.mark.parametrize(
        ("state", "message"),
        [
            ("usage = { mail-rate = -1 }", "usage.mail-rate: Input should be greater than or equal to 0"),
            ('usage = { mail-rate = "lots" }', "usage.mail-rate"),
            ('prior_calls = [{ ago = "yesterday" }]', "prior_calls.0.ago"),
            ("prior_calls = [{ times = 0 }]", "prior_calls.0.times"),
            ("prior_calls = [{ times = 6000 }, { times = 6000 }]", "at most 10000 prior calls"),
            ('prior_calls = [{ acton = "x" }]', "prior_calls.0.acton: Extra inputs"),
        ],
    )
    def test_bad_state_names_the_place(self, tmp_path: Path, state: str, message: str) -> None:
        """Wrong usage or prior calls are errors naming the case and the field."""
        (tmp_path / "cases.toml").write_text(f'[[cases]]\naction = "x"\n{state}\nexpect = "deny"\n')
        with pytest.raises(g.PolicyError, match=message):
            load_cases(tmp_path / "cases.toml")

    @pytest.mark.parametrize(
        ("usage", "problem"),
        [
            (
                "nope",
                "usage names rule 'nope', which the policy does not have; rules with a limit on 'send_email': mail-rate",
            ),
            ("mail", "usage names rule 'mail', which has no limit"),
            ("refund-budget", "usage names rule 'refund-budget', whose action 'refund' is not 'send_email'"),
        ],
    )
    def test_usage_of_a_rule_that_cannot_have_any(self, tmp_path: Path, usage: str, problem: str) -> None:
        """Usage naming no limited rule of the action fails the case, saying why."""
        (result,) = self._run(
            tmp_path,
            f'[[cases]]\naction = "send_email"\ncontext = {{ user = "a", session = "s" }}\nusage = {{ {usage} = 1 }}\nexpect = "allow"\n',
        )
        assert result.problem == problem and result.decision is None

    def test_a_limited_rule_is_covered_when_a_case_reaches_it(self, tmp_path: Path) -> None:
        """Coverage counts the limited rule a case's usage makes decide."""
        results = self._run(
            tmp_path,
            '[[cases]]\naction = "send_email"\ncontext = { user = "a", session = "s" }\nexpect = "allow"\n',
        )
        policy = g.Policy.from_file(tmp_path / "policy.toml")
        coverage = Coverage()
        coverage.saw("p", policy, results[0].decision)
        assert "mail-rate" in coverage.report()["p"]
        (reached,) = self._run(
            tmp_path,
            '[[cases]]\naction = "send_email"\ncontext = { user = "a", session = "s" }\nusage = { mail-rate = 5 }\nexpect = "deny"\n',
        )
        coverage.saw("p", policy, reached.decision)
        assert "mail-rate" not in coverage.report()["p"]


class TestExplainLimits:
    def test_a_limited_rule_shows_its_limit(self) -> None:
        """A decision made by a limited rule explains the limit, as the governor decides it."""
        gov = g.Governor(
            g.Policy([g.allow("x", id="x"), g.deny("x", limit=g.rate(0, per="1m"), id="none", reason="no x")])
        )
        text = gov.check("x").explain()
        assert "✓ deny             none" in text and "limit 0 calls per 1m" in text
        assert text.endswith("→ deny (rule 'none'): no x (limit reached: 0 calls per 1m)")


class TestExactAmounts:
    """Limits are judged with the store's arithmetic: exact, never rounded, and amounts it cannot count refused."""

    BUDGET = g.Policy(
        [
            g.allow("pay", id="pay"),
            g.deny("pay", id="bud", limit=g.budget("amount", Decimal("1000000000"), per="1d")),
        ]
    )

    def test_a_sum_past_28_digits_is_not_rounded(self) -> None:
        """A budget a few units in the 19th decimal from full: the case, explain and a real call all deny."""
        from guardrails.testing.stateful import PriorCall, judge_with_state

        first, second = Decimal("999999999.999999999999999999"), Decimal("0.0000000000000000015")
        gov = g.Governor(self.BUDGET, on_deny=lambda denied: "DENIED")
        pay = g.governed("pay", governor=gov)(lambda amount: "PAID")
        assert (pay(first), pay(second)) == ("PAID", "DENIED")
        judged = judge_with_state(
            self.BUDGET, "pay", {"amount": second}, {}, prior_calls=(PriorCall("pay", {"amount": first}, {}),)
        )
        assert (judged.decision.effect, judged.decision.rule_id) == (g.Effect.DENY, "bud")
        (state,) = judged.limits
        assert state.over and state.total == Decimal(
            "1000000000.0000000000000000005"
        )  # not first + second: rounded
        assert str(state).endswith(
            "999999999.999999999999999999 used + 0.0000000000000000015 this call > 1000000000: "
            "over the limit, the rule applies"
        )

    def test_large_amounts_are_shown_whole(self) -> None:
        """A usage of 33 digits is shown with every digit; one of a million zeros keeps its exponent."""
        from guardrails.testing.stateful import judge_with_state, number

        judged = judge_with_state(
            self.BUDGET, "pay", {"amount": 1}, {}, usage={"bud": 123456789012345678901234567890123}
        )
        assert "123456789012345678901234567890123 used + 1 this call > 1000000000" in judged.explain()
        assert number(Decimal("1E+999999")) == "1E+999999" and number(Decimal("500.00")) == "500"

    @pytest.mark.parametrize("amount", ["1e999999999", "1e-999999999", "1" * 61])
    def test_amounts_the_store_cannot_count_are_refused(
        self, amount: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Usage past the store's exact arithmetic (60 digits, exponents within ±999999): a clear error."""
        from guardrails.cli import main
        from guardrails.testing.cases import state_from
        from guardrails.testing.stateful import Simulation, make_call

        said = "cannot be counted: the state store adds amounts exactly (at most 60 significant digits"
        with pytest.raises(g.PolicyError, match=rf"explain: usage\.bud: .*{re.escape(said)}"):
            state_from({"usage": {"bud": amount}}, "pay", {}, {}, "explain")
        with pytest.raises(g.PolicyError, match=rf"usage of 'bud': .*{re.escape(said)}"):
            Simulation(self.BUDGET).use("bud", amount, make_call("pay", {"amount": 1}))
        (tmp_path / "budget.toml").write_text(
            '[[rules]]\nid = "pay"\naction = "pay"\neffect = "allow"\n'
            '[[rules]]\nid = "bud"\naction = "pay"\neffect = "deny"\n'
            'limit = { sum = "amount", max = 1000000000, per = "1d" }\n'
        )
        usage = json.dumps({"bud": int(amount) if amount.isdigit() else amount})  # 61 digits: a JSON integer
        argv = ["explain", "--policy", str(tmp_path / "budget.toml"), "--action", "pay", "--usage", usage]
        assert main([*argv, "--args", '{"amount": 1}']) == 2
        err = capsys.readouterr().err
        assert said in err and "unexpected error" not in err

    def test_a_sum_the_store_cannot_make(self) -> None:
        """Usage that cannot be added exactly to what prior calls put on the counter: a clear error;
        a call whose share cannot be added is denied, as the store failing denies it."""
        from guardrails.testing.stateful import PriorCall, judge_with_state

        with pytest.raises(g.PolicyError, match="usage of 'bud': 1E\\+999999 cannot be added exactly"):
            judge_with_state(
                self.BUDGET,
                "pay",
                {"amount": 1},
                {},
                {"bud": "1e999999"},
                (PriorCall("pay", {"amount": 1}, {}),),
            )
        judged = judge_with_state(self.BUDGET, "pay", {"amount": 1}, {}, {"bud": "1e999999"})
        assert (judged.decision.effect, judged.decision.rule_id) == (g.Effect.DENY, "bud")
        assert "cannot be added exactly (at most 60 significant digits): the store fails" in judged.explain()


class TestCaseFiles:
    def test_load_and_run(self, tmp_path: Path) -> None:
        """Cases load with readable names, run, and report what was wrong."""
        (tmp_path / "policy.toml").write_text(POLICY_TOML)
        (tmp_path / "cases.toml").write_text(CASES_TOML)
        cases = load_cases(tmp_path / "cases.toml")
        assert [c.name for c in cases] == ["small refunds pass", "refund(amount=500) -> require_approval"]
        policy = g.Policy.from_file(tmp_path / "policy.toml")
        assert all(run_case(policy, c).passed for c in cases)
        wrong = run_case(policy, cases[0].__class__(**{**cases[0].__dict__, "expect": "deny", "rule": "x"}))
        assert wrong.problem == "expected deny, got allow; expected rule 'x', decided by 'small'"

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("cases = []", "at least one case"),
            ('[[cases]]\naction = "x"', "cases.0.expect: Field required"),
            ('[[cases]]\naction = "x"\nexpect = "maybe"', "cases.0.expect"),
            ('[[cases]]\naction = "x"\nexpect = "allow"\nargz = {}', "cases.0.argz: Extra inputs"),
            ('[[cases]]\naction = 1\nexpect = "allow"', "cases.0.action"),
        ],
    )
    def test_bad_files_name_the_place(self, tmp_path: Path, text: str, message: str) -> None:
        """A bad case file is a PolicyError naming the file and the case."""
        (tmp_path / "cases.toml").write_text(text)
        with pytest.raises(g.PolicyError, match=message) as info:
            load_cases(tmp_path / "cases.toml")
        assert "cases.toml" in str(info.value)

    def test_names_are_unique_and_bounded(self, tmp_path: Path) -> None:
        """Two cases may not share a name; unnamed look-alikes are told apart; long values are cut."""
        (tmp_path / "dup.toml").write_text(
            '[[cases]]\nname = "x"\naction = "a"\nexpect = "deny"\n[[cases]]\nname = "x"\naction = "b"\nexpect = "deny"\n'
        )
        with pytest.raises(g.PolicyError, match=r"cases\[1\]: the name 'x' is taken by cases\[0\]"):
            load_cases(tmp_path / "dup.toml")
        (tmp_path / "alike.toml").write_text(
            '[[cases]]\naction = "a"\ncontext = { user = "u1" }\nexpect = "deny"\n'
            '[[cases]]\naction = "a"\ncontext = { user = "u2" }\nexpect = "deny"\n'
            '[[cases]]\naction = "a"\ncontext = { user = "u2" }\nexpect = "deny"\n'
            f'[[cases]]\naction = "b"\nargs = {{ x = "{"y" * 100_000}" }}\nexpect = "deny"\n'
        )
        names = [c.name for c in load_cases(tmp_path / "alike.toml")]
        assert names[:3] == [
            "a() in user='u1' -> deny",
            "a() in user='u2' -> deny",
            "a() in user='u2' -> deny [2]",
        ]
        assert len(names[3]) <= 200

    def test_coverage(self) -> None:
        """Rules that decided nothing are listed, per policy; shadow rules never decide and are left out."""
        policy = POLICY + g.Policy([g.deny("refund", when=g.arg("amount") > 10_000, id="probe", shadow=True)])
        coverage = Coverage()
        coverage.saw("p", policy, policy.evaluate("refund", {"amount": 5}))
        coverage.saw("p again", policy, policy.evaluate("wire", {}))
        assert coverage.report() == {"p = p again": ["large"]}
        assert uncovered(policy, ["small", "large", "no-wires"]) == []


class TestPlugin:
    def _project(self, pytester: pytest.Pytester, cases: str = CASES_TOML) -> None:
        pytester.makefile(".toml", policy=POLICY_TOML)
        pytester.makefile(".toml", policy_test_refunds=cases)

    def test_each_case_is_a_test_with_its_name(self, pytester: pytest.Pytester) -> None:
        """Case files are collected by name; each case is an item with a readable id."""
        self._project(pytester)
        result = pytester.runpytest("-v", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=2)
        result.stdout.fnmatch_lines(
            [
                "*policy_test_refunds.toml::small refunds pass PASSED*",
                "*policy_test_refunds.toml::refund(amount=500) -> require_approval PASSED*",
            ]
        )

    def test_json_and_yaml_case_files(self, pytester: pytest.Pytester) -> None:
        """Case files in JSON and YAML are collected too."""
        from conftest import need

        need("yaml")
        pytester.makefile(".toml", policy=POLICY_TOML)
        pytester.makefile(
            ".json",
            policy_test_a='{"policy": "policy.toml", "cases": [{"action": "wire", "expect": "deny", "rule": "no-wires"}]}',
        )
        pytester.makefile(
            ".yaml",
            policy_test_b="policy: policy.toml\ncases:\n  - name: yaml case\n    action: refund\n"
            "    args: {amount: 5}\n    expect: allow\n",
        )
        result = pytester.runpytest("-v", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=2)
        result.stdout.fnmatch_lines(
            ["*policy_test_a.json::wire() -> deny PASSED*", "*policy_test_b.yaml::yaml case PASSED*"]
        )

    def test_a_failing_case_explains_itself(self, pytester: pytest.Pytester) -> None:
        """The failure shows the case, what was wrong, and every rule's verdict."""
        self._project(pytester, CASES_TOML.replace('expect = "require_approval"', 'expect = "allow"'))
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(
            [
                "*policy_test_refunds.toml:cases[[]1]: refund(amount=500) -> allow: expected allow, got require_approval*",
                "*arg('amount') > 100*",
            ]
        )

    def test_coverage_is_reported_and_can_fail_the_run(self, pytester: pytest.Pytester) -> None:
        """Uncovered rules are listed; with --guardrails-fail-uncovered they fail the run."""
        self._project(pytester)
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.stdout.fnmatch_lines(["*guardrails rule coverage*", "*1 rules decided no case: no-wires*"])
        assert result.ret == 0
        assert "FAILED by --guardrails-fail-uncovered" not in result.stdout.str()
        strict = pytester.runpytest("-p", "no:cacheprovider", "--guardrails-fail-uncovered")
        strict.assert_outcomes(passed=2)
        assert strict.ret == pytest.ExitCode.TESTS_FAILED
        strict.stdout.fnmatch_lines(
            ["*FAILED by --guardrails-fail-uncovered: 1 rules decided no case*although its tests passed*"]
        )

    def test_a_broken_case_file_is_a_collection_error(self, pytester: pytest.Pytester) -> None:
        """A case file that does not load is reported as an error naming it."""
        pytester.makefile(".toml", policy_test_broken='[[cases]]\naction = "x"')
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(["*policy_test_broken.toml: cases.0.expect: Field required*"])

    def test_coverage_across_xdist_workers(self, pytester: pytest.Pytester) -> None:
        """With pytest-xdist, the workers' coverage reaches the controller, and the gate still holds."""
        from conftest import need

        need("xdist")
        self._project(pytester)
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-n", "2", "--guardrails-fail-uncovered"
        )
        result.stdout.fnmatch_lines(
            ["*1 rules decided no case: no-wires*", "*FAILED by --guardrails-fail-uncovered*"]
        )
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        covered = CASES_TOML + '\n[[cases]]\naction = "wire"\nexpect = "deny"\n'
        pytester.makefile(".toml", policy_test_refunds=covered)
        again = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-n", "2", "--guardrails-fail-uncovered"
        )
        again.assert_outcomes(passed=3)
        assert again.ret == pytest.ExitCode.OK

    def test_other_exit_codes_are_kept(self, pytester: pytest.Pytester) -> None:
        """The coverage gate turns only a clean run into a failure; other outcomes stay as they were."""
        self._project(pytester)
        pytester.makepyfile("import pytest\ndef test_stop():\n    pytest.exit('stop', returncode=3)\n")
        result = pytester.runpytest(
            "-p", "no:cacheprovider", "--guardrails-fail-uncovered", "-p", "no:randomly"
        )
        assert result.ret == 3

    def test_files_that_only_share_the_name(self, pytester: pytest.Pytester) -> None:
        """A policy file named policy_test_*.json is not a case file: it is left alone."""
        pytester.makefile(".json", policy_test_strict='{"rules": [{"action": "x", "effect": "deny"}]}')
        pytester.makepyfile("def test_app(): pass")
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)

    def test_fixture_isolation_from_the_default_governor(self, pytester: pytest.Pytester) -> None:
        """Shadow mode, blocks and timeouts set on the default governor do not leak into the fixture."""
        pytester.makeconftest(
            """
            import guardrails as g
            g.configure(mode="shadow", approval_timeout=0.001)
            g.get_governor().block("payments.*")
            """
        )
        pytester.makepyfile(
            """
            import pytest
            import guardrails as g

            @g.governed("payments.wire")
            def wire(amount: float) -> str:
                return "sent"

            def test_fresh(guardrails_governor):
                with pytest.raises(g.ActionDenied):
                    wire(1)  # no policy: denied, though the default governor is in shadow mode
                guardrails_governor.policy = g.Policy([g.allow("payments.wire")])
                assert wire(1) == "sent"  # and the block on payments.* is not there

            def test_restored():
                assert g.get_governor().setup.mode == "shadow"
            """
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(passed=2)

    def test_stays_out_of_old_pytest(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """On pytest older than 7 the plugin module defines no hooks at all."""
        import importlib
        import sys

        import guardrails.testing.pytest_plugin

        monkeypatch.setattr(pytest, "version_tuple", (6, 2, 5))
        monkeypatch.delitem(sys.modules, "guardrails.testing.pytest_plugin")
        old = importlib.import_module("guardrails.testing.pytest_plugin")
        assert not [
            name for name in vars(old) if name.startswith("pytest_") or name.startswith("guardrails_")
        ]
        monkeypatch.setitem(sys.modules, "guardrails.testing.pytest_plugin", guardrails.testing.pytest_plugin)

    def test_inert_unless_used(self, pytester: pytest.Pytester) -> None:
        """Without case files or fixtures, the plugin adds nothing to a run."""
        pytester.makepyfile("def test_nothing(): pass")
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        assert "guardrails rule coverage" not in result.stdout.str()
        assert "guardrails" not in result.stdout.str().split("collected", 1)[1]

    def test_fixtures(self, pytester: pytest.Pytester) -> None:
        """The governor fixture is fresh per test and restored after; approver and audit are its own."""
        pytester.makepyfile(
            """
            import pytest
            import guardrails as g

            @g.governed
            def refund(amount: float) -> str:
                return "ok"

            POLICY = g.Policy([g.require_approval("refund")])

            def test_first(guardrails_governor, guardrails_approver, guardrails_audit):
                guardrails_governor.policy = POLICY
                guardrails_approver.push(True)
                assert refund(5) == "ok"
                with pytest.raises(g.ApprovalDenied):
                    refund(6)
                assert guardrails_audit.ran == ["refund"]

            def test_second_starts_fresh(guardrails_governor):
                with pytest.raises(g.ActionDenied):
                    refund(5)

            def test_default_restored():
                assert g.get_governor().setup.sinks == ()
            """
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(passed=3)
