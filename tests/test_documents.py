"""Policy documents: loading, human errors, round trips, composition, versions."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import guardrails as g

ROOT = Path(__file__).resolve().parent.parent

SUPPORT = {
    "version": 1,
    "default": "deny",
    "rules": [
        {"id": "lookups", "action": "lookup_order", "effect": "allow"},
        {"action": "payments.refund", "effect": "allow", "when": {"arg": "amount", "le": 100}},
        {
            "id": "big-refunds",
            "action": "payments.refund",
            "effect": "require_approval",
            "when": {"arg": "amount", "gt": 100},
            "reason": "refunds over 100 need a human",
        },
        {
            "id": "no-external-mail",
            "action": "send_email",
            "effect": "deny",
            "when": {
                "not": {"any": [{"arg": "to", "endswith": "@acme.com"}, {"ctx": "role", "in": ["admin"]}]}
            },
            "reason": "mail stays inside acme.com",
        },
        {"action": "send_email", "effect": "allow"},
    ],
}


def error_of(doc: Any, source: str | None = "team.toml") -> str:
    with pytest.raises(g.PolicyError) as info:
        g.Policy.from_dict(doc, source=source)
    return str(info.value)


class TestFromDict:
    def test_builds_the_same_policy_as_python(self) -> None:
        """A document and the equivalent Python objects decide alike and share a version."""
        python = g.Policy(
            [
                g.allow("lookup_order", id="lookups"),
                g.allow("payments.refund", when=g.arg("amount") <= 100),
                g.require_approval(
                    "payments.refund",
                    when=g.arg("amount") > 100,
                    reason="refunds over 100 need a human",
                    id="big-refunds",
                ),
                g.deny(
                    "send_email",
                    when=~(g.arg("to").endswith("@acme.com") | g.ctx("role").in_(["admin"])),
                    reason="mail stays inside acme.com",
                    id="no-external-mail",
                ),
                g.allow("send_email"),
            ]
        )
        document = g.Policy.from_dict(SUPPORT)
        assert document.version == python.version
        for action, args, ctx in [
            ("payments.refund", {"amount": 50}, {}),
            ("payments.refund", {"amount": 500}, {}),
            ("send_email", {"to": "x@evil.com"}, {"role": "admin"}),
            ("send_email", {"to": "x@evil.com"}, {}),
            ("send_email", {"to": None}, {}),
        ]:
            a, b = python.evaluate(action, args, ctx), document.evaluate(action, args, ctx)
            assert (a.effect, a.rule_id, a.reason) == (b.effect, b.rule_id, b.reason)

    def test_every_operator(self) -> None:
        """Every document operator builds the matching condition."""
        cases = {
            "eq": ("==", 1),
            "ne": ("!=", "x"),
            "lt": ("<", 1.5),
            "le": ("<=", 2),
            "gt": (">", "b"),
            "ge": (">=", 0),
            "in": ("in", ["a", 1, True]),
            "startswith": ("startswith", "a"),
            "endswith": ("endswith", "z"),
            "contains": ("contains", "m"),
        }
        for name, (op, value) in cases.items():
            policy = g.Policy.from_dict(
                {"rules": [{"action": "t", "effect": "deny", "when": {"arg": "x", name: value}}]}
            )
            condition = policy.rules[0].when
            assert isinstance(condition, g.policy.Condition)
            assert condition.op == op  # type: ignore[attr-defined]

    def test_null_equality_in_json(self) -> None:
        """JSON null compares with None."""
        policy = g.Policy.from_dict(
            {"rules": [{"action": "t", "effect": "allow", "when": {"arg": "cc", "eq": None}}]}
        )
        assert policy.evaluate("t", {"cc": None}).allowed
        assert not policy.evaluate("t", {"cc": "x"}).allowed

    def test_defaults(self) -> None:
        """version, default and rules may be left out: an empty deny-all policy."""
        policy = g.Policy.from_dict({})
        assert policy.default is g.Effect.DENY
        assert len(policy) == 0


class TestErrors:
    @pytest.mark.parametrize(
        ("doc", "message"),
        [
            (
                {"rules": [{"action": "a", "effect": "deny", "when": {"arg": "x", "gtt": 5}}]},
                "team.toml: rules[0].when: unknown operator 'gtt'; did you mean 'gt'?",
            ),
            (
                {"rules": [{"actoin": "a", "effect": "deny"}]},
                "rules[0]: unknown key 'actoin'; did you mean 'action'?",
            ),
            ({"rulez": []}, "team.toml: document: unknown key 'rulez'; did you mean 'rules'?"),
            (
                {"rules": [{"action": "a", "effect": "deny", "when": {"agr": "x", "eq": 1}}]},
                "team.toml: rules[0].when: unknown key 'agr'; did you mean 'arg'?",
            ),
            (
                {
                    "rules": [
                        {
                            "action": "a",
                            "effect": "deny",
                            "when": {"any": [{"arg": "x", "eq": 1}, {"arg": "y", "lte": 2}]},
                        }
                    ]
                },
                "team.toml: rules[0].when.any[1]: unknown operator 'lte'; did you mean 'le'?",
            ),
            (
                {
                    "rules": [
                        {"action": "a", "effect": "deny", "when": {"not": {"all": [{"ctx": "u", "eqq": 1}]}}}
                    ]
                },
                "team.toml: rules[0].when.not.all[0]: unknown operator 'eqq'; did you mean 'eq'?",
            ),
        ],
    )
    def test_unknown_keys_and_operators(self, doc: Any, message: str) -> None:
        """A misspelt key or operator is named, with its path and the nearest valid one."""
        assert message in error_of(doc)

    @pytest.mark.parametrize(
        ("doc", "message"),
        [
            (
                {"rules": [{"action": "a", "effect": "block"}]},
                "team.toml: rules[0].effect: 'block' is not an effect; use 'allow', 'deny' or 'require_approval'",
            ),
            ({"default": "maybe"}, "team.toml: default: 'maybe' is not an effect"),
            (
                {"rules": [{"action": 5, "effect": "deny"}]},
                "team.toml: rules[0].action: expected a string (got 5)",
            ),
            (
                {"rules": [{"action": "a", "effect": "deny", "when": {"arg": "x", "gt": [1]}}]},
                "team.toml: rules[0].when.gt: expected a number or a string (got [1])",
            ),
            (
                {"rules": [{"action": "a", "effect": "deny", "when": {"arg": "x", "in": "eu"}}]},
                "team.toml: rules[0].when.in: expected a list (got 'eu')",
            ),
            (
                {"rules": [{"action": "a", "effect": "deny", "when": "amount > 100"}]},
                "team.toml: rules[0].when: expected a table of keys and values, got 'amount > 100'",
            ),
            ({"rules": [{"effect": "deny"}]}, "team.toml: rules[0]: missing key 'action'"),
            ({"version": 2}, "team.toml: version: this guardrails reads documents of version 1, not 2"),
            (["rules"], "team.toml: document: expected a table of keys and values"),
            (
                {"rules": [{"action": "a", "effect": "deny", "shadow": "yes"}]},
                "rules[0].shadow: expected a boolean",
            ),
        ],
    )
    def test_bad_types(self, doc: Any, message: str) -> None:
        """A value of the wrong type is named with its path and what was expected."""
        assert message in error_of(doc)

    @pytest.mark.parametrize(
        ("doc", "message"),
        [
            (
                {"rules": [{"action": "a", "effect": "deny", "when": {"arg": "x", "gt": 1, "lt": 5}}]},
                "team.toml: rules[0].when: a comparison has exactly one operator",
            ),
            (
                {"rules": [{"action": "a", "effect": "deny", "when": {"gt": 1}}]},
                "team.toml: rules[0].when: a comparison names exactly one of 'arg' or 'ctx'",
            ),
            (
                {"rules": [{"action": "a", "effect": "deny", "when": {"arg": "x", "ctx": "y", "eq": 1}}]},
                "a comparison names exactly one of 'arg' or 'ctx'",
            ),
            (
                {"rules": [{"action": "a", "effect": "deny", "when": {"all": []}}]},
                "team.toml: rules[0].when.all: List should have at least 1 item",
            ),
            (
                {
                    "rules": [
                        {"action": "a", "effect": "deny", "when": {"any": [{"arg": "x", "gt": float("nan")}]}}
                    ]
                },
                "team.toml: rules[0].when.any[0]: arg('x') > ...: cannot compare with float nan",
            ),
            (
                {"rules": [{"action": "a", "effect": "deny", "when": {"arg": "x", "in": []}}]},
                "team.toml: rules[0].when: arg('x') in ...: in_() needs at least one value",
            ),
        ],
    )
    def test_bad_conditions(self, doc: Any, message: str) -> None:
        """A condition that could never be evaluated is refused, with its path."""
        assert message in error_of(doc)

    @pytest.mark.parametrize("action", ["send email", "tools[0]", "x{1}", ""])
    def test_bad_globs(self, action: str) -> None:
        """An action that is neither a name nor a glob is refused."""
        message = error_of({"rules": [{"action": action, "effect": "deny"}]})
        assert message.startswith("team.toml: rules[0]: rule action must be a tool name or glob")

    def test_duplicate_ids(self) -> None:
        """Two rules with one id are refused, naming the second."""
        doc = {
            "rules": [
                {"id": "r", "action": "a", "effect": "deny"},
                {"id": "r", "action": "b", "effect": "allow"},
            ]
        }
        assert error_of(doc) == "team.toml: rules[1]: duplicate rule id 'r'"

    def test_known_keys_in_the_wrong_place(self) -> None:
        """A comparison beside all/any/not is explained, not "did you mean" itself."""
        message = error_of(
            {
                "rules": [
                    {
                        "action": "a",
                        "effect": "deny",
                        "when": {"all": [{"arg": "x", "eq": 1}], "arg": "b", "eq": 2},
                    }
                ]
            }
        )
        assert "'arg' cannot stand here" in message
        assert "did you mean 'arg'" not in message

    def test_rule_key_synonyms(self) -> None:
        """Words other tools use for a rule's keys point to ours."""
        assert "unknown key 'condition'; did you mean 'when'?" in error_of(
            {"rules": [{"action": "a", "effect": "deny", "condition": {}}]}
        )
        assert "did you mean 'reason'?" in error_of(
            {"rules": [{"action": "a", "effect": "deny", "description": "x"}]}
        )

    def test_several_errors_listed(self) -> None:
        """All errors of a document are listed at once."""
        message = error_of(
            {
                "rules": [
                    {"action": "a", "effect": "nope"},
                    {"action": "b", "effect": "deny", "when": {"arg": 1, "eq": 1}},
                ]
            }
        )
        assert message.startswith("team.toml: invalid policy document:")
        assert "rules[0].effect" in message and "rules[1].when.arg" in message

    def test_no_source(self) -> None:
        """Without a source the message starts with the path."""
        assert error_of({"rulez": []}, source=None).startswith("document: unknown key 'rulez'")


class TestFiles:
    def test_json_toml_yaml(self, tmp_path: Path) -> None:
        """The same policy loads from JSON, TOML and YAML files, with the same version."""
        need_yaml()
        import yaml

        (tmp_path / "p.json").write_text(json.dumps(SUPPORT))
        (tmp_path / "p.yaml").write_text(yaml.safe_dump(SUPPORT))
        (tmp_path / "p.yml").write_text(yaml.safe_dump(SUPPORT))
        (tmp_path / "p.toml").write_text(
            """
version = 1
default = "deny"

[[rules]]
id = "lookups"
action = "lookup_order"
effect = "allow"

[[rules]]
action = "payments.refund"
effect = "allow"
when = { arg = "amount", le = 100 }

[[rules]]
id = "big-refunds"
action = "payments.refund"
effect = "require_approval"
when = { arg = "amount", gt = 100 }
reason = "refunds over 100 need a human"

[[rules]]
id = "no-external-mail"
action = "send_email"
effect = "deny"
when = { not = { any = [ { arg = "to", endswith = "@acme.com" }, { ctx = "role", in = ["admin"] } ] } }
reason = "mail stays inside acme.com"

[[rules]]
action = "send_email"
effect = "allow"
"""
        )
        versions = {
            g.Policy.from_file(tmp_path / name).version for name in ("p.json", "p.toml", "p.yaml", "p.yml")
        }
        assert versions == {g.Policy.from_dict(SUPPORT).version}

    def test_errors_name_the_file(self, tmp_path: Path) -> None:
        """A bad document's error names the file."""
        path = tmp_path / "team.json"
        path.write_text(
            json.dumps({"rules": [{"action": "a", "effect": "deny", "when": {"arg": "x", "gtt": 1}}]})
        )
        with pytest.raises(g.PolicyError, match=r"team\.json: rules\[0\]\.when: unknown operator 'gtt'"):
            g.Policy.from_file(path)

    @pytest.mark.parametrize(
        ("name", "text", "message"),
        [
            ("bad.json", "{rules: [", "bad.json: not valid JSON"),
            ("bad.toml", "rules = [", "bad.toml: not valid TOML"),
            ("bad.txt", "x", "unknown policy file type '.txt'"),
            ("bad.toml", "\udcff", "not valid TOML"),
        ],
    )
    def test_unreadable_files(self, tmp_path: Path, name: str, text: str, message: str) -> None:
        """Syntax errors and unknown file types are PolicyErrors naming the file."""
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        with pytest.raises(g.PolicyError, match=message.replace(".", r"\.")):
            g.Policy.from_file(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is a PolicyError naming it."""
        with pytest.raises(g.PolicyError, match="cannot read the policy file"):
            g.Policy.from_file(tmp_path / "nope.toml")

    def test_yaml_without_pyyaml(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without PyYAML, a YAML file gives an error naming the extra to install."""
        path = tmp_path / "p.yaml"
        path.write_text("rules: []\n")
        monkeypatch.setitem(sys.modules, "yaml", None)
        with pytest.raises(g.PolicyError, match=r"pip install 'guardrails\[yaml\]'"):
            g.Policy.from_file(path)

    def test_committed_schema_is_current(self) -> None:
        """policy.schema.json shipped in the package describes the same documents as Policy.json_schema()
        (the same definitions, keys and required keys; pydantic versions word the rest differently)."""

        def outline(schema: dict[str, Any]) -> dict[str, Any]:
            defs = {"": schema, **schema.get("$defs", {})}
            return {
                name: (sorted(d.get("properties", {})), sorted(d.get("required", [])))
                for name, d in defs.items()
            }

        committed = json.loads((ROOT / "guardrails" / "policy.schema.json").read_text())
        assert outline(committed) == outline(g.Policy.json_schema()), (
            'regenerate: python -c "import json, guardrails as g; '
            "open('guardrails/policy.schema.json','w').write(json.dumps(g.Policy.json_schema(), indent=2, sort_keys=True)+'\\n')\""
        )

    def test_schema_describes_documents(self) -> None:
        """The schema forbids unknown keys and lists the effects and operators."""
        schema = g.Policy.json_schema()
        assert schema["additionalProperties"] is False
        text = json.dumps(schema)
        for word in ("require_approval", "startswith", '"in"', '"not"', "shadow"):
            assert word in text


def need_yaml() -> None:
    from conftest import need

    need("yaml")


# ---- generated policies ----------------------------------------------------------------

names = st.sampled_from(["amount", "to", "region", "n"])
scalars = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.booleans(),
)


def comparisons() -> st.SearchStrategy[dict[str, Any]]:
    ordered = st.one_of(st.integers(-1000, 1000), st.text(max_size=3))
    op_value = st.one_of(
        st.tuples(st.sampled_from(["eq", "ne", "contains"]), scalars),
        st.tuples(st.sampled_from(["lt", "le", "gt", "ge"]), ordered),
        st.tuples(st.just("in"), st.lists(scalars, min_size=1, max_size=3)),
        st.tuples(st.sampled_from(["startswith", "endswith"]), st.text(max_size=3)),
    )
    return st.builds(
        lambda ref, name, ov: {ref: name, ov[0]: ov[1]}, st.sampled_from(["arg", "ctx"]), names, op_value
    )


conditions = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.builds(lambda cs: {"all": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda cs: {"any": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, inner),
    ),
    max_leaves=6,
)
matcher_conditions = st.one_of(
    st.builds(lambda n, r: {"arg": n, "within": r}, names, st.sampled_from(["/srv/data", "/tmp"])),
    st.builds(
        lambda n, h, sub: (
            {"arg": n, "host_in": {"hosts": h, "subdomains": sub}} if sub else {"arg": n, "host_in": h}
        ),
        names,
        st.lists(st.sampled_from(["acme.com", "example.org"]), min_size=1, max_size=2),
        st.booleans(),
    ),
    st.builds(lambda n, d: {"arg": n, "items": "every", "email_domain_in": d}, names, st.just(["acme.com"])),
    st.builds(lambda n, lo: {"arg": n, "as": "decimal", "between": [lo, lo + 10]}, names, st.integers(-5, 5)),
    st.builds(lambda n, v: {"arg": n, "as": ["nfkc", "casefold"], "eq": v}, names, st.text("aB", max_size=3)),
    st.builds(lambda n: {"arg": n, "shell_command_in": ["git status"]}, names),
    st.builds(lambda n: {"arg": n, "matches": "a/**/*.txt"}, names),
)
all_conditions = st.one_of(
    conditions, matcher_conditions, st.builds(lambda c: {"not": c}, matcher_conditions)
)
rules = st.builds(
    lambda action, effect, when, rule_id, reason, shadow: {
        "action": action,
        "effect": effect,
        **({"when": when} if when else {}),
        **({"id": rule_id} if rule_id else {}),
        **({"reason": reason} if reason else {}),
        **({"shadow": True} if shadow else {}),
    },
    st.sampled_from(["refund", "send_email", "pay*", "*"]),
    st.sampled_from(["allow", "deny", "require_approval"]),
    st.one_of(st.none(), all_conditions),
    st.one_of(st.none(), st.sampled_from(["r1", "r2", "r3"])),
    st.one_of(st.none(), st.sampled_from(["because", "policy"])),
    st.booleans(),
)
documents = st.builds(
    lambda rs: {"version": 1, "default": "deny", "rules": rs},
    st.lists(rules, max_size=8, unique_by=lambda r: r.get("id") or id(r)),
)
calls = st.tuples(
    st.sampled_from(["refund", "send_email", "payout"]),
    st.fixed_dictionaries({}, optional={"amount": scalars, "to": scalars, "region": scalars, "n": scalars}),
    st.fixed_dictionaries({}, optional={"amount": scalars, "to": scalars}),
)


class TestProperties:
    @settings(max_examples=150, deadline=None)
    @given(doc=documents)
    def test_round_trip(self, doc: dict[str, Any]) -> None:
        """to_dict() then from_dict() gives the same policy: same document, same version."""
        policy = g.Policy.from_dict(doc)
        again = g.Policy.from_dict(policy.to_dict())
        assert again.to_dict() == policy.to_dict()
        assert again.version == policy.version
        assert json.loads(json.dumps(policy.to_dict())) == policy.to_dict()

    @settings(max_examples=100, deadline=None)
    @given(doc=documents, seed=st.integers(0, 2**32))
    def test_version_ignores_rule_order(self, doc: dict[str, Any], seed: int) -> None:
        """Reordering the rules (with their ids) changes neither the version nor any decision."""
        policy = g.Policy.from_dict(g.Policy.from_dict(doc).to_dict())
        shuffled_rules = list(policy.to_dict()["rules"])
        random.Random(seed).shuffle(shuffled_rules)
        shuffled = g.Policy.from_dict({"default": "deny", "rules": shuffled_rules})
        assert shuffled.version == policy.version

    @settings(max_examples=150, deadline=None)
    @given(base=documents, addition=documents, call=calls)
    def test_adding_a_document_never_lifts_a_restriction(
        self, base: dict[str, Any], addition: dict[str, Any], call: Any
    ) -> None:
        """What a rule of the base denies stays denied; what it sends for approval is not simply allowed."""
        a = g.Policy.from_dict(base)
        # The team's document names its own rules (a clash of ids is an error, tested elsewhere).
        renamed = [{**r, "id": f"team-{r['id']}"} if "id" in r else r for r in addition["rules"]]
        combined = a + g.Policy.from_dict({**addition, "rules": renamed})
        action, args, ctx = call
        before, after = a.evaluate(action, args, ctx), combined.evaluate(action, args, ctx)
        if before.effect is g.Effect.DENY and before.rule is not None:
            assert after.effect is g.Effect.DENY
        if before.effect is g.Effect.REQUIRE_APPROVAL:
            assert after.effect is not g.Effect.ALLOW

    @settings(max_examples=100, deadline=None)
    @given(doc=documents, call=calls)
    def test_from_dict_decides_like_its_round_trip(self, doc: dict[str, Any], call: Any) -> None:
        """A policy and its round trip decide every call alike."""
        policy = g.Policy.from_dict(doc)
        again = g.Policy.from_dict(policy.to_dict())
        a, b = policy.evaluate(*call), again.evaluate(*call)
        assert (a.effect, a.rule_id, a.reason) == (b.effect, b.rule_id, b.reason)


class TestComposition:
    def test_combined_rules_and_precedence(self) -> None:
        """A team's document adds a restriction the company baseline did not have."""
        baseline = g.Policy.from_dict({"rules": [{"action": "send_email", "effect": "allow"}]})
        team = g.Policy.from_dict(
            {
                "rules": [
                    {
                        "id": "team-no-ext",
                        "action": "send_email",
                        "effect": "deny",
                        "when": {"not": {"arg": "to", "endswith": "@acme.com"}},
                    }
                ]
            }
        )
        combined = baseline + team
        assert combined.evaluate("send_email", {"to": "a@acme.com"}).allowed
        assert combined.evaluate("send_email", {"to": "a@evil.com"}).rule_id == "team-no-ext"
        assert len(combined) == 2

    def test_from_files(self, tmp_path: Path) -> None:
        """from_files combines every file."""
        (tmp_path / "a.json").write_text(
            json.dumps({"rules": [{"id": "a", "action": "x", "effect": "allow"}]})
        )
        (tmp_path / "b.json").write_text(
            json.dumps({"rules": [{"id": "b", "action": "x", "effect": "deny"}]})
        )
        policy = g.Policy.from_files([tmp_path / "a.json", tmp_path / "b.json"])
        assert policy.evaluate("x").rule_id == "b"
        with pytest.raises(g.PolicyError):
            g.Policy.from_files([])

    def test_from_files_errors_name_the_files(self, tmp_path: Path) -> None:
        """A clash between files names the file, the rule and where the id was first used."""
        (tmp_path / "base.json").write_text(
            json.dumps({"rules": [{"id": "cap", "action": "x", "effect": "deny"}]})
        )
        (tmp_path / "team.json").write_text(
            json.dumps(
                {
                    "rules": [
                        {"action": "y", "effect": "allow"},
                        {"id": "cap", "action": "x", "effect": "allow"},
                    ]
                }
            )
        )
        (tmp_path / "open.json").write_text(json.dumps({"default": "allow"}))
        with pytest.raises(g.PolicyError) as info:
            g.Policy.from_files([tmp_path / "base.json", tmp_path / "team.json"])
        assert (
            str(info.value)
            == f"{tmp_path / 'team.json'}: rules[1]: rule id 'cap' is already used in {tmp_path / 'base.json'}"
        )
        with pytest.raises(
            g.PolicyError, match=r"open\.json: default 'allow' conflicts with 'deny' in .*base\.json"
        ):
            g.Policy.from_files([tmp_path / "base.json", tmp_path / "open.json"])

    def test_conflicting_defaults(self) -> None:
        """Policies with different defaults cannot be combined."""
        with pytest.raises(g.PolicyError, match="different defaults"):
            g.Policy([], default="deny") + g.Policy([], default="allow")

    def test_clashing_ids(self) -> None:
        """The same explicit id in both policies is an error."""
        with pytest.raises(g.PolicyError, match="duplicate rule id 'r'"):
            g.Policy([g.allow("a", id="r")]) + g.Policy([g.deny("b", id="r")])

    def test_not_a_policy(self) -> None:
        """Adding anything but a policy is a TypeError."""
        with pytest.raises(TypeError):
            g.Policy([]) + 1  # type: ignore[operator]


class TestIdsAndVersionsEdgeCases:
    def test_closures_from_one_factory_differ(self) -> None:
        """Two closures of one factory with different limits get different ids and versions."""

        def over(limit: int) -> Any:
            return lambda call: call.args["a"] > limit

        low, high = g.Policy([g.deny("x", when=over(10))]), g.Policy([g.deny("x", when=over(10**6))])
        assert low.rules[0].id != high.rules[0].id
        assert low.version != high.version

    def test_callable_objects_are_named_without_addresses(self) -> None:
        """A callable object is named by its class and plain state, the same in every run."""

        class Over:
            def __init__(self, limit: int) -> None:
                self.limit = limit

            def __call__(self, call: g.Call) -> bool:
                return bool(call.args["a"] > self.limit)

        a, b = g.Policy([g.deny("x", when=Over(5))]), g.Policy([g.deny("x", when=Over(5))])
        assert a.version == b.version
        assert "0x" not in g.policy.AllOf([Over(5)]).fingerprint()
        assert g.Policy([g.deny("x", when=Over(6))]).version != a.version

    def test_shadow_twins_in_any_order(self) -> None:
        """Rules differing only in shadow get their own ids, whatever their order."""
        rules = [g.deny("x", reason="r"), g.deny("x", reason="r", shadow=True)]
        forward, backward = g.Policy(rules), g.Policy(rules[::-1])
        assert forward.version == backward.version
        assert forward.evaluate("x").rule_id == backward.evaluate("x").rule_id

    def test_round_trip_keeps_ids_derived(self) -> None:
        """A policy read back from its document can still be combined with itself."""
        p = g.Policy([g.deny("x"), g.allow("y", when=g.arg("n") > 1)])
        q = g.Policy.from_dict(p.to_dict())
        assert q.version == p.version
        assert len(q + q) == 4
        assert "id" not in q.to_dict()["rules"][0] and "reason" not in q.to_dict()["rules"][0]

    @pytest.mark.parametrize("version", [True, 1.0, "1"])
    def test_version_must_be_the_integer_1(self, version: object) -> None:
        """version = true or 1.0 is not version 1."""
        assert "version" in error_of({"version": version})

    @pytest.mark.parametrize("rule_id", ["default", "kill-switch:payments.*"])
    def test_reserved_ids(self, rule_id: str) -> None:
        """Ids that name decisions of no rule, or of the kill switch, cannot be given to rules."""
        assert "reserved" in error_of({"rules": [{"id": rule_id, "action": "a", "effect": "deny"}]})


class TestVersion:
    def test_changes_with_content(self) -> None:
        """A different rule, reason, default or shadow flag gives a different version."""
        base = g.Policy([g.deny("a", reason="x")])
        variants = [
            g.Policy([g.deny("a", reason="y")]),
            g.Policy([g.allow("a", reason="x")]),
            g.Policy([g.deny("a", reason="x")], default="allow"),
            g.Policy([g.deny("a", reason="x", shadow=True)]),
            g.Policy([g.deny("a", reason="x", when=g.arg("n") > 1)]),
        ]
        versions = {base.version, *(v.version for v in variants)}
        assert len(versions) == 6
        assert len(base.version) == 64

    def test_decisions_carry_it(self) -> None:
        """Every decision names the version of the policy that made it."""
        policy = g.Policy.from_dict(SUPPORT)
        assert policy.evaluate("send_email", {"to": "x@acme.com"}).version == policy.version
        assert policy.evaluate("unknown").version == policy.version

    def test_callable_conditions_have_a_version_but_no_document(self) -> None:
        """A policy with a callable condition has a version, but to_dict refuses it."""

        def weekday(call: g.Call) -> bool:
            return True

        policy = g.Policy([g.allow("a", when=weekday)])
        assert len(policy.version) == 64
        with pytest.raises(g.PolicyError, match="no document form"):
            policy.to_dict()
