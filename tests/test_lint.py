"""``guardrails check``: each kind of finding, and none where there is nothing to find."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import guardrails as g
from guardrails.testing.lint import Tool, lint, tools_from

TOOLS = [
    Tool("payments.refund", frozenset({"order_id", "amount"})),
    Tool("send_email", frozenset({"to", "subject"}), takes_any=True),
]


def kinds(policy: g.Policy, tools: list[Tool] | None = None) -> list[tuple[str, str]]:
    return [(f.kind, f.rule_id) for f in lint(policy, tools)]


class TestFindings:
    def test_a_clean_policy(self) -> None:
        """Bounded allows, a cap, mail rules: nothing to report, with or without tools."""
        policy = g.Policy(
            [
                g.allow("payments.refund", when=g.arg("amount") <= 100, id="small"),
                g.deny("payments.refund", when=g.arg("amount") > 1000, id="cap"),
                g.deny("send_email", when=~g.arg("to").email_domain_in(["acme.com"]), id="mail"),
                g.allow("send_email", id="mail-ok"),
            ]
        )
        assert kinds(policy) == []
        assert kinds(policy, TOOLS) == []

    def test_shadowed_by_an_unconditional_deny(self) -> None:
        """An allow under a deny of everything it covers can never decide."""
        policy = g.Policy(
            [
                g.deny("payments.*", id="freeze"),
                g.allow("payments.refund", when=g.arg("amount") < 5, id="tiny"),
                g.require_approval("payments.wire", id="wires"),
                g.allow("send_email", id="mail"),
            ]
        )
        assert kinds(policy) == [("shadowed", "tiny"), ("shadowed", "wires")]

    def test_shadowed_by_an_unconditional_approval(self) -> None:
        """An allow under an unconditional require_approval never decides either."""
        policy = g.Policy([g.require_approval("*", id="all"), g.allow("send_email", id="mail")])
        assert kinds(policy) == [("shadowed", "mail")]

    def test_shadowed_by_the_same_effect_with_an_earlier_id(self) -> None:
        """Of two matching rules with one effect, the smaller id decides: a conditional rule under an
        unconditional one that sorts first never decides (and never covers a case)."""
        policy = g.Policy(
            [
                g.deny("payments.*", id="a-freeze"),
                g.deny("payments.refund", when=g.arg("amount") > 1, id="b-cap"),
            ]
        )
        assert kinds(policy) == [("shadowed", "b-cap")]
        later = g.Policy(
            [
                g.deny("payments.*", id="z-freeze"),
                g.deny("payments.refund", when=g.arg("amount") > 1, id="b-cap"),
            ]
        )
        assert kinds(later) == []

    def test_a_conditional_deny_shadows_nothing(self) -> None:
        """A deny with a condition leaves the allow its other calls."""
        policy = g.Policy([g.deny("x", when=g.arg("a") > 1, id="d"), g.allow("x", id="a")])
        assert kinds(policy) == []

    def test_duplicates(self) -> None:
        """The same action, effect and condition twice: the second is reported."""
        policy = g.Policy(
            [
                g.deny("x", when=g.arg("a") > 1, id="first"),
                g.deny("x", when=g.arg("a") > 1, id="second"),
                g.deny("x", when=g.arg("a") > 2, id="other"),
            ]
        )
        assert kinds(policy) == [("duplicate", "second")]
        reversed_ids = g.Policy(
            [g.deny("x", when=g.arg("a") > 1, id="z"), g.deny("x", when=g.arg("a") > 1, id="a")]
        )
        assert kinds(reversed_ids) == [("duplicate", "z")]  # "a" decides: the id breaks the tie

    def test_allow_wider_than_its_bound(self) -> None:
        """An unconditional allow on payments.* beside a cap on payments.refund only."""
        policy = g.Policy(
            [
                g.allow("payments.*", id="payments"),
                g.deny("payments.refund", when=g.arg("amount") > 100, id="cap"),
            ]
        )
        (finding,) = lint(policy)
        assert (finding.kind, finding.rule_id) == ("wide-allow", "payments")
        assert "'cap' bounds only 'payments.refund'" in finding.message

    def test_unknown_actions_need_the_tools(self) -> None:
        """With the tools, rules on actions no tool has are reported (globs too)."""
        policy = g.Policy(
            [
                g.allow("payments.refund", id="ok"),
                g.allow("payments.refnud", id="typo"),
                g.deny("files.*", id="files"),
            ]
        )
        assert kinds(policy) == []
        assert kinds(policy, TOOLS) == [("unknown-action", "typo"), ("unknown-action", "files")]

    def test_unknown_arguments(self) -> None:
        """A condition on an argument the tool does not take is reported; **kwargs takes any."""
        policy = g.Policy(
            [
                g.deny("payments.refund", when=g.arg("ammount") > 100, id="typo"),
                g.deny(
                    "payments.refund",
                    when=(g.arg("amount") > 1) & ~g.arg("currency").in_(["EUR"]),
                    id="nested",
                ),
                g.deny("send_email", when=g.arg("cc").contains("x"), id="headers"),
            ]
        )
        assert kinds(policy, TOOLS) == [("unknown-argument", "typo"), ("unknown-argument", "nested")]
        assert "arg('ammount')" in str(lint(policy, TOOLS)[0])


class TestWarnings:
    def test_a_deny_list_of_commands(self) -> None:
        """A deny rule relying on shell_command_in is a warning naming the bypasses and the allow-list form."""
        policy = g.Policy(
            [
                g.allow("shell", id="shell"),
                g.deny("shell", when=g.arg("cmd").shell_command_in(["rm -rf", "shutdown"]), id="no-rm"),
                g.require_approval(
                    "shell",
                    when=g.arg("cmd").shell_command_in(["git push"]) & (g.ctx("user") != "ci"),
                    id="ask",
                ),
            ]
        )
        findings = lint(policy)
        assert [(f.kind, f.rule_id, f.severity) for f in findings] == [
            ("command-deny-list", "no-rm", "warning"),
            ("command-deny-list", "ask", "warning"),
        ]
        text = str(findings[0])
        assert text.startswith("warning: command-deny-list: rule 'no-rm': deny when arg('cmd')")
        assert "'rm -r -f'" in text and "'/bin/rm -rf'" in text and "bash -c" in text and "python3 -c" in text
        assert "allow('shell', when=arg('cmd').shell_command_in([...]))" in text

    def test_the_allow_list_form_is_quiet(self) -> None:
        """Denying what is *not* listed, or refining an allow-list, is no deny-list."""
        allow_listed = g.Policy(
            [
                g.allow(
                    "shell", when=g.arg("cmd").shell_command_in(["ls", "git status", "git push"]), id="ok"
                ),
                g.require_approval("shell", when=g.arg("cmd").shell_command_in(["git push"]), id="ask"),
            ]
        )
        deny_the_rest = g.Policy(
            [
                g.allow("shell", id="shell"),
                g.deny("shell", when=~g.arg("cmd").shell_command_in(["ls"]), id="only-ls"),
            ]
        )
        assert lint(allow_listed) == [] and lint(deny_the_rest) == []

    def test_a_default_allow_makes_it_a_deny_list_again(self) -> None:
        """With the default allow, unlisted commands run whatever the allow rules say."""
        policy = g.Policy(
            [
                g.allow("shell", when=g.arg("cmd").shell_command_in(["ls"]), id="ok"),
                g.deny("shell", when=g.arg("cmd").shell_command_in(["rm"]), id="no-rm"),
            ],
            default="allow",
        )
        assert kinds(policy) == [("command-deny-list", "no-rm")]

    @pytest.mark.parametrize(("default", "says"), [("deny", "is refused"), ("allow", "runs")])
    def test_an_empty_policy(self, default: str, says: str) -> None:
        """No rules: a warning about the whole policy (no rule id)."""
        (finding,) = lint(g.Policy([], default=default))
        assert (finding.kind, finding.rule_id, finding.severity) == ("empty-policy", "", "warning")
        assert str(finding) == (
            f"warning: empty-policy: the policy has no rules: every call gets its default ({default}) and {says}"
        )

    def test_errors_stay_errors(self) -> None:
        """The findings that were there before are errors, printed as before."""
        policy = g.Policy([g.deny("x", id="a"), g.deny("x", id="b")])
        (finding,) = lint(policy)
        assert finding.severity == "error" and str(finding).startswith("duplicate: rule 'b': ")


class TestTools:
    def test_from_a_list(self) -> None:
        """``module:attr`` naming a list of governed tools."""
        tools = tools_from("lint_tools:TOOLS")
        assert {t.action: (sorted(t.parameters), t.takes_any) for t in tools} == {
            "payments.refund": (["amount", "order_id"], False),
            "send_email": (["subject", "to"], True),
        }

    def test_from_a_module(self) -> None:
        """A module: its governed functions and methods, and nothing else."""
        assert sorted(t.action for t in tools_from("lint_tools")) == [
            "files.delete",
            "payments.refund",
            "send_email",
        ]

    def test_from_a_class_or_an_object(self) -> None:
        """Governed methods of a class or an instance; *args is an argument by its name."""
        for spec in ("lint_tools:Files", "lint_tools:FILES"):
            (tool,) = tools_from(spec)
            assert tool.action == "files.delete" and "paths" in tool.parameters
        policy = g.Policy([g.deny("files.delete", when=g.arg("paths").any().startswith("/etc"), id="etc")])
        assert lint(policy, tools_from("lint_tools:FILES")) == []

    def test_a_module_includes_its_classes(self) -> None:
        """A module's governed methods count too."""
        assert "files.delete" in {t.action for t in tools_from("lint_tools")}

    def test_bad_names_are_clear_errors(self) -> None:
        """A module or attribute that is not there is a ValueError naming it."""
        with pytest.raises(ValueError, match="--tools no_such_module"):
            tools_from("no_such_module:TOOLS")
        with pytest.raises(ValueError, match="--tools lint_tools:NOPE"):
            tools_from("lint_tools:NOPE")

    def test_a_module_that_fails_or_exits_while_importing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The module's own import failing, or its code exiting: a ValueError naming --tools, not a crash."""
        (tmp_path / "tools_needing_a_missing_module.py").write_text("import not_a_module_anywhere\n")
        (tmp_path / "tools_that_exit.py").write_text("import sys\nsys.exit(0)\n")
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
        with pytest.raises(
            ValueError,
            match=r"^--tools tools_needing_a_missing_module:TOOLS: importing it failed: ModuleNotFoundError: "
            r"No module named 'not_a_module_anywhere'$",
        ):
            tools_from("tools_needing_a_missing_module:TOOLS")
        with pytest.raises(ValueError, match=r"^importing --tools tools_that_exit exited \(SystemExit 0\)$"):
            tools_from("tools_that_exit")

    def test_nothing_governed(self) -> None:
        """A name holding no governed tool is an error, not an empty registry."""
        with pytest.raises(ValueError, match="holds no governed tools"):
            tools_from("lint_tools:not_governed")
