"""Rules and policies: precedence, indexing, fail-closed errors, explanations."""

from __future__ import annotations

import itertools
import random

import pytest

import guardrails as g
from guardrails.call import Call


class TestEffect:
    def test_values(self) -> None:
        """Effects are strings with the documented values."""
        assert [e.value for e in g.Effect] == ["allow", "deny", "require_approval"]
        assert g.Effect("deny") is g.Effect.DENY
        assert g.Effect.DENY == "deny"
        assert str(g.Effect.REQUIRE_APPROVAL) == "require_approval"


class TestRule:
    def test_factories(self) -> None:
        """allow/deny/require_approval build rules with that effect."""
        assert g.allow("a").effect is g.Effect.ALLOW
        assert g.deny("a").effect is g.Effect.DENY
        assert g.require_approval("a").effect is g.Effect.REQUIRE_APPROVAL
        assert g.Rule("a", "deny").effect is g.Effect.DENY
        assert g.Rule(action="a").effect is g.Effect.DENY  # the general form denies by default

    @pytest.mark.parametrize("action", ["", "send email", "a[b", "x{1}", None, 5, "\n"])
    def test_bad_actions(self, action: object) -> None:
        """A rule without a usable action is refused."""
        with pytest.raises(g.PolicyError, match="action"):
            g.Rule(action, g.Effect.DENY)  # type: ignore[arg-type]

    def test_bad_effect(self) -> None:
        """An unknown effect is refused, listing the valid ones."""
        with pytest.raises(g.PolicyError, match="'allow', 'deny', 'require_approval'"):
            g.Rule("a", "block")

    def test_bad_reason_and_id(self) -> None:
        """reason and id must be strings."""
        with pytest.raises(g.PolicyError):
            g.deny("a", reason=5)  # type: ignore[arg-type]
        with pytest.raises(g.PolicyError):
            g.deny("a", id=" ")

    def test_derived_ids_are_stable(self) -> None:
        """Without an id, the id is derived from the content, the same every time."""
        a = g.deny("send_email", when=g.arg("to").endswith("@x.com"))
        b = g.deny("send_email", when=g.arg("to").endswith("@x.com"))
        c = g.deny("send_email", when=g.arg("to").endswith("@y.com"))
        assert a.id == b.id != c.id
        assert a.id.startswith("deny:send_email:")
        assert g.allow("payments.*").id == "allow:payments.*"

    def test_derived_reason(self) -> None:
        """Without a reason, the reason says what the rule says."""
        rule = g.require_approval("refund", when=g.arg("amount") > 100)
        assert rule.reason == "approval required for 'refund' when arg('amount') > 100"

    def test_repr(self) -> None:
        """A rule's repr reads like the factory call."""
        rule = g.deny("mail", when=g.arg("to") == "x", reason="no", id="r1")
        assert repr(rule) == "deny('mail', when=arg('to') == 'x', reason='no', id='r1')"


class TestPolicyConstruction:
    def test_duplicate_ids(self) -> None:
        """Two rules with the same explicit id are refused."""
        with pytest.raises(g.PolicyError, match="duplicate rule id 'r'"):
            g.Policy([g.allow("a", id="r"), g.deny("b", id="r")])

    def test_identical_derived_ids_get_suffixes(self) -> None:
        """Identical rules without ids still get distinct ids."""
        policy = g.Policy([g.deny("a"), g.deny("a"), g.deny("a", id="deny:a#2")])
        assert [r.id for r in policy.rules] == ["deny:a", "deny:a#3", "deny:a#2"]

    def test_not_rules(self) -> None:
        """Anything but a list of rules is refused, naming the position."""
        with pytest.raises(g.PolicyError, match=r"rules\[1\]"):
            g.Policy([g.allow("a"), "deny b"])  # type: ignore[list-item]
        with pytest.raises(g.PolicyError):
            g.Policy(g.allow("a"))  # type: ignore[arg-type]

    def test_bad_default(self) -> None:
        """The default must be an effect."""
        with pytest.raises(g.PolicyError, match="default"):
            g.Policy([], default="maybe")

    def test_accepts_generators(self) -> None:
        """Rules may come from any iterable."""
        policy = g.Policy(g.allow(f"t{i}") for i in range(3))
        assert len(policy) == 3


class TestEvaluate:
    policy = g.Policy(
        [
            g.allow("payments.*"),
            g.require_approval("payments.refund", when=g.arg("amount") > 100, reason="big refund"),
            g.deny(
                "payments.refund", when=g.ctx("user") == "mallory", reason="blocked user", id="no-mallory"
            ),
            g.deny("send_email", when=~g.arg("to").endswith("@acme.com"), reason="external mail", id="ext"),
            g.allow("send_email"),
        ]
    )

    def test_allow(self) -> None:
        """A matching allow rule allows."""
        d = self.policy.evaluate("payments.refund", {"amount": 50}, {"user": "alice"})
        assert d.effect is g.Effect.ALLOW
        assert d.allowed
        assert d.rule_id == "allow:payments.*"

    def test_approval_beats_allow(self) -> None:
        """require_approval beats allow."""
        d = self.policy.evaluate("payments.refund", {"amount": 500}, {"user": "alice"})
        assert d.effect is g.Effect.REQUIRE_APPROVAL
        assert not d.allowed
        assert d.reason == "big refund"

    def test_deny_beats_everything(self) -> None:
        """deny beats require_approval and allow."""
        d = self.policy.evaluate("payments.refund", {"amount": 500}, {"user": "mallory"})
        assert d.effect is g.Effect.DENY
        assert d.rule_id == "no-mallory"
        assert d.reason == "blocked user"

    def test_default_deny(self) -> None:
        """No matching rule: the default, deny, says so."""
        d = self.policy.evaluate("delete_file", {"path": "/"})
        assert d.effect is g.Effect.DENY
        assert d.rule_id == "default"
        assert "no rule matched 'delete_file'" in d.reason

    def test_default_allow(self) -> None:
        """An author may choose allow as the default."""
        d = g.Policy([g.deny("rm")], default="allow").evaluate("ls")
        assert d.allowed
        assert d.rule_id == "default"

    def test_globs(self) -> None:
        """Globs match action names; exact names match only themselves."""
        policy = g.Policy([g.allow("db.read_*"), g.deny("db.read_secrets"), g.allow("?s")])
        assert policy.evaluate("db.read_users").allowed
        assert not policy.evaluate("db.read_secrets").allowed
        assert not policy.evaluate("db.write_users").allowed
        assert policy.evaluate("ls").allowed
        assert not policy.evaluate("lss").allowed

    def test_glob_is_case_sensitive(self) -> None:
        """Action globs are case-sensitive: DB.read is not db.*."""
        assert not g.Policy([g.allow("db.*")]).evaluate("DB.read").allowed

    def test_pure(self) -> None:
        """evaluate does not keep the mapping it was given."""
        args = {"amount": 50}
        d = self.policy.evaluate("payments.refund", args, {"user": "a"})
        args["amount"] = 10_000
        assert d.call.args["amount"] == 50
        with pytest.raises(TypeError):
            d.call.args["amount"] = 1  # type: ignore[index]

    def test_action_must_be_a_string(self) -> None:
        """A non-string action is a TypeError."""
        with pytest.raises(TypeError):
            self.policy.evaluate(None)  # type: ignore[arg-type]


class TestEvaluationErrors:
    def test_error_makes_deny_apply(self) -> None:
        """A deny rule whose condition cannot be evaluated applies, and says why."""
        policy = g.Policy(
            [g.deny("mail", when=~g.arg("to").endswith("@acme.com"), id="ext"), g.allow("mail")]
        )
        d = policy.evaluate("mail", {"to": None})
        assert d.effect is g.Effect.DENY
        assert d.rule_id == "ext"
        assert "expected a string, got None" in d.reason
        assert d.errors == (("ext", "arg('to').endswith('@acme.com'): expected a string, got None"),)

    def test_error_makes_approval_apply(self) -> None:
        """A require_approval rule whose condition cannot be evaluated applies."""
        policy = g.Policy([g.require_approval("refund", when=g.arg("amount") > 100), g.allow("refund")])
        for amount in ("1e9", None, True, float("nan"), [1]):
            d = policy.evaluate("refund", {"amount": amount})
            assert d.effect is g.Effect.REQUIRE_APPROVAL, amount

    def test_error_keeps_allow_from_applying(self) -> None:
        """An allow rule whose condition cannot be evaluated does not apply."""
        policy = g.Policy([g.allow("refund", when=g.arg("amount") <= 100)])
        d = policy.evaluate("refund", {"amount": "50"})
        assert d.effect is g.Effect.DENY
        assert d.rule_id == "default"
        assert d.errors and "expected a finite number" in d.errors[0][1]

    def test_missing_argument(self) -> None:
        """A rule naming an argument the call lacks fails closed."""
        policy = g.Policy([g.allow("t", when=g.arg("amount") < 5)])
        assert not policy.evaluate("t", {}).allowed

    def test_raising_callable_and_custom_condition(self) -> None:
        """Any exception from a condition, even a custom Condition subclass, fails closed."""

        class Broken(g.policy.Condition):
            def __call__(self, call: Call) -> bool:
                raise KeyError("boom")

        policy = g.Policy([g.deny("t", when=Broken(), id="b"), g.allow("t")])
        d = policy.evaluate("t")
        assert d.rule_id == "b"
        assert "KeyError" in d.reason


class TestOrderIndependence:
    def test_any_order_same_decision(self) -> None:
        """Every permutation of the rules gives the same effect and rule id."""
        rules = [
            g.allow("refund"),
            g.allow("refund", when=g.arg("amount") < 10, id="small"),
            g.require_approval("refund", when=g.arg("amount") > 100, id="big"),
            g.require_approval("*", when=g.ctx("new_user") == True, id="new"),  # noqa: E712
            g.deny("refund", when=g.arg("amount") > 1000, id="huge"),
            g.deny("re*", when=g.arg("amount") > 5000, id="glob-huge"),
        ]
        cases = [
            ({"amount": 5}, {"new_user": False}),
            ({"amount": 500}, {"new_user": False}),
            ({"amount": 6000}, {"new_user": True}),
            ({"amount": 50}, {"new_user": True}),
            ({"amount": "x"}, {}),
        ]
        for args, context in cases:
            seen = set()
            for perm in itertools.permutations(rules):
                d = g.Policy(perm).evaluate("refund", args, context)
                seen.add((d.effect, d.rule_id, d.reason))
            assert len(seen) == 1, (args, seen)

    def test_rules_without_ids_in_any_order(self) -> None:
        """Rules without ids that differ only by reason, or by which lambda they use,
        are told apart: the rule reported does not depend on the order they were written."""
        rules = [
            g.deny("send_email", reason="external mail is off"),
            g.deny("send_email", reason="legal hold on all mail"),
            g.deny("refund", when=lambda c: c.args["amount"] > 10, reason="cap"),
            g.deny("refund", when=lambda c: c.args["amount"] > 20, reason="cap"),
        ]
        for action, args in (("send_email", {}), ("refund", {"amount": 50})):
            seen = {
                (d.rule_id, d.reason)
                for perm in itertools.permutations(rules)
                for d in [g.Policy(perm).evaluate(action, args)]
            }
            assert len(seen) == 1, seen

    def test_callable_fingerprints_are_stable(self) -> None:
        """A callable condition is named by where it is defined, never by its memory address."""

        def weekday(call: Call) -> bool:
            return True

        fingerprint = g.policy.AllOf([weekday]).fingerprint()
        assert "0x" not in fingerprint
        assert "weekday" in fingerprint and "test_policy.py" in fingerprint
        assert (
            g.Policy([g.allow("a", when=weekday)]).version == g.Policy([g.allow("a", when=weekday)]).version
        )

    def test_every_rule_is_considered(self) -> None:
        """The decision lists every rule for the action, matched or not, in precedence order."""
        policy = g.Policy(
            [g.allow("t", id="a"), g.deny("t", when=g.arg("x") > 5, id="d"), g.allow("other", id="o")]
        )
        d = policy.evaluate("t", {"x": 1})
        assert [(r.rule.id, r.matched, r.error) for r in d.results] == [("d", False, None), ("a", True, None)]


class TestIndexing:
    def test_other_actions_rules_are_not_evaluated(self) -> None:
        """Rules for other actions are never evaluated: indexing, not scanning."""
        evaluated: list[str] = []

        def spy(name: str) -> g.policy.Condition:
            def cond(call: Call) -> bool:
                evaluated.append(name)
                return True

            return g.policy.AllOf([cond])

        rules = [g.allow(f"tool{i}", when=spy(f"tool{i}")) for i in range(500)]
        rules.append(g.allow("ns.*", when=spy("ns.*")))
        policy = g.Policy(rules)
        assert policy.evaluate("tool7").allowed
        assert evaluated == ["tool7"]
        evaluated.clear()
        assert policy.evaluate("ns.x").allowed
        assert evaluated == ["ns.*"]

    def test_many_actions_beyond_cache(self) -> None:
        """Decisions stay right for more distinct actions than the lookup cache holds."""
        policy = g.Policy([g.allow("a*"), g.deny("a5*")])
        names = [f"a{i}" for i in range(6000)]
        random.Random(1).shuffle(names)
        for name in names:
            assert policy.evaluate(name).allowed is (not name.startswith("a5")), name


class TestExplain:
    def test_explain_lists_rules_values_and_decision(self) -> None:
        """explain() shows each rule, whether it matched, the values it saw, and the verdict."""
        policy = g.Policy(
            [
                g.deny("mail", when=~g.arg("to").endswith("@acme.com"), reason="external", id="ext"),
                g.require_approval("mail", when=g.ctx("user") == "intern", id="intern"),
                g.allow("mail", id="ok"),
            ]
        )
        text = policy.evaluate("mail", {"to": "x@acme.com"}, {"user": "intern"}).explain()
        assert "mail(to='x@acme.com')" in text
        assert "· deny" in text and "ext" in text
        assert "arg('to')='x@acme.com'" in text
        assert "✓ require_approval" in text
        assert "ctx('user')='intern'" in text
        assert text.splitlines()[-1].startswith("  → require_approval (rule 'intern')")

    def test_explain_missing_and_errors(self) -> None:
        """explain() marks missing values and shows evaluation errors."""
        policy = g.Policy([g.allow("t", when=g.arg("n") > 1)])
        text = policy.evaluate("t").explain()
        assert "arg('n')=<missing>" in text
        assert "error: 't' has no argument 'n'" in text
        assert "→ deny (rule 'default')" in text

    def test_explain_no_rules(self) -> None:
        """explain() says when no rule applies at all."""
        assert "no rule applies" in g.Policy([]).evaluate("x").explain()
