"""``guardrails check``: each kind of finding, and none where there is nothing to find."""

from __future__ import annotations

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

    def test_nothing_governed(self) -> None:
        """A name holding no governed tool is an error, not an empty registry."""
        with pytest.raises(ValueError, match="holds no governed tools"):
            tools_from("lint_tools:not_governed")
