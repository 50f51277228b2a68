"""What the audit trail keeps of a call: JSON-safe, bounded, and without secrets."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import guardrails as g
from guardrails._text import json_text
from guardrails.policy.redaction import REDACTED
from guardrails.policy.view import MAX_DEPTH, MAX_ITEMS, MAX_TEXT, AuditView

CARD = "4111 1111 1111 1111"  # a test Visa number: passes the Luhn check
SECRET = "hunter2-swordfish"


def view(
    args: dict[str, Any], context: dict[str, Any] | None = None, redaction: g.Redaction | None = None
) -> Any:
    return AuditView(redaction or g.Redaction(), args, context or {})


def dumped(value: Any) -> str:
    return json_text(value)


class Creds(BaseModel):
    user: str
    password: str


@dataclasses.dataclass
class Login:
    user: str
    api_key: str


class TestNames:
    def test_default_names(self) -> None:
        """Arguments named like secrets are redacted whole, whatever they hold."""
        v = view({"password": SECRET, "API_TOKEN": 12345, "client_secret": {"a": 1}, "user": "alice"})
        assert v.args == {
            "password": REDACTED,
            "API_TOKEN": REDACTED,
            "client_secret": REDACTED,
            "user": "alice",
        }

    @pytest.mark.parametrize(
        "args",
        [
            {"payload": {"auth": {"password": SECRET}}},
            {"items": [{"x": 1}, {"Password": SECRET}]},
            {"items": ({"password": SECRET},)},
            {"kwargs": {"nested": [[{"db_password": SECRET}]]}},
            {"model": Creds(user="a", password=SECRET)},
            {"login": Login(user="a", api_key=SECRET)},
            {"mapping": {"x": {"set-cookie": SECRET}}},
        ],
        ids=["nested-dict", "list-of-dicts", "tuple", "deep", "pydantic", "dataclass", "header"],
    )
    def test_hostile_placement(self, args: dict[str, Any]) -> None:
        """A secret under a redacted name is found at any depth, in any container."""
        text = dumped(view(args).args)
        assert SECRET not in text
        assert REDACTED in text

    def test_names_in_compatibility_forms(self) -> None:
        """Full-width and other compatibility spellings of a name are the name."""
        v = view({"payload": {"ｐａｓｓｗｏｒｄ": SECRET, "ＡＰＩ_ＫＥＹ": SECRET}})
        assert SECRET not in dumped(v.args)

    def test_own_names_and_globs(self) -> None:
        """Names are globs, matched without regard to case."""
        redaction = g.Redaction(names=["ssn", "*_pin"])
        v = view({"SSN": "123-45-6789", "card_pin": "1234", "pinned": "yes"}, redaction=redaction)
        assert v.args == {"SSN": REDACTED, "card_pin": REDACTED, "pinned": "yes"}

    def test_context_is_redacted(self) -> None:
        """Context values are redacted by the same names."""
        v = view({}, {"user": "alice", "authorization": "Bearer abc", "session": "s-1"})
        assert v.context == {"user": "alice", "authorization": REDACTED, "session": "s-1"}

    def test_defaults_can_be_turned_off(self) -> None:
        """``defaults=False`` keeps only the names and values given."""
        v = view({"password": "x", "note": CARD}, redaction=g.Redaction(defaults=False))
        assert v.args == {"password": "x", "note": CARD}

    def test_redacted_values_leave_messages(self) -> None:
        """A redacted value that reappears in a reason or error is taken out of it too."""
        v = view({"password": SECRET, "pin": 7, "nested": {"token": ["tok-0000-secret"]}})
        assert (
            v.scrub(f"login failed for {SECRET} with tok-0000-secret")
            == f"login failed for {REDACTED} with {REDACTED}"
        )

    def test_short_values_stay_in_messages(self) -> None:
        """A one-letter 'secret' would blank every message: values under four characters stay."""
        v = view({"password": "a"})
        assert v.scrub("a message") == "a message"


class TestValues:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            (f"charge {CARD} now", CARD),
            ("card 4111-1111-1111-1111", "4111-1111-1111-1111"),
            ("key sk-proj-abcdefghijklmnopqrstuvwx", "sk-proj-abcdefghijklmnopqrstuvwx"),
            ("stripe sk_live_abcdefghijklmnop1234", "sk_live_abcdefghijklmnop1234"),
            ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            ("aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
            ("slack xoxb-123456789012-abcdef", "xoxb-123456789012-abcdef"),
            ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz"),
            (
                "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
            ),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow"),
            ("-----BEGIN PRIVATE KEY-----\nMIIEow cut short", "MIIEow"),
        ],
        ids=[
            "card",
            "card-dashes",
            "openai",
            "stripe",
            "github",
            "aws",
            "slack",
            "bearer",
            "jwt",
            "pem",
            "pem-cut",
        ],
    )
    def test_built_in_patterns(self, text: str, secret: str) -> None:
        """Card numbers, API keys, tokens and private keys are cut out of any string."""
        recorded = view({"note": text, "deep": [{"x": text}]}).args
        assert secret not in dumped(recorded)
        assert REDACTED in recorded["note"]

    @pytest.mark.parametrize(
        "text",
        ["order 4111111111111112", "phone 0044 20 7946 0958", "amount 1234.5678", "version 1.2.3"],
    )
    def test_numbers_that_are_not_cards_stay(self, text: str) -> None:
        """A long number failing the Luhn check is not a card: order ids and phone numbers stay."""
        assert view({"note": text}).args["note"] == text

    def test_own_patterns(self) -> None:
        """Regular expressions, with flags, are redacted in place."""
        redaction = g.Redaction(values=[r"(?i)iban:\s*[A-Z]{2}\d{2}[A-Z0-9 ]+"])
        v = view({"note": "pay to IBAN: DE89 3704 0044 0532 0130 00 today"}, redaction=redaction)
        assert v.args["note"] == f"pay to {REDACTED}"

    def test_pattern_straddling_the_cut(self) -> None:
        """A secret across the truncation point is not kept in half."""
        text = "x" * (MAX_TEXT - 6) + CARD
        recorded = view({"note": text}).args["note"]
        assert "4111 1" not in recorded
        assert recorded.endswith(f"[truncated: {len(text)} chars]")

    @pytest.mark.parametrize(
        ("values", "message"),
        [
            (["("], "does not compile"),
            ([r"(a+)+$"], "can backtrack"),
            ([""], "non-empty strings"),
            ("card", "list of strings"),
        ],
    )
    def test_bad_patterns_are_refused(self, values: Any, message: str) -> None:
        """A pattern that does not compile, could hang, or is not a list is a PolicyError."""
        with pytest.raises(g.PolicyError, match=message):
            g.Redaction(values=values)


class TestSafety:
    def test_values_that_are_not_json(self) -> None:
        """Non-JSON values become bounded reprs; the view always serialises."""

        class Weird:
            def __repr__(self) -> str:
                return "W" * 100_000

        class Broken:
            def __repr__(self) -> str:
                raise RuntimeError("no")

        args = {
            "nan": math.nan,
            "inf": -math.inf,
            "huge": 10**5000,
            "decimal": Decimal("1.10"),
            "bytes": b"\x00\xff",
            "weird": Weird(),
            "broken": Broken(),
            "set": {1},
            "key": {(1, 2): "tuple key", 3: "int key"},
        }
        recorded = view(args).args
        json.loads(json_text(recorded))  # valid JSON: no NaN, no stray types
        assert recorded["nan"] == "nan" and recorded["inf"] == "-inf"
        assert recorded["huge"] == "<int of 16610 bits>"
        assert recorded["decimal"] == "Decimal('1.10')"
        assert len(recorded["weird"]) <= MAX_TEXT
        assert "failing repr" in recorded["broken"]
        assert recorded["set"] == (1,)
        assert recorded["key"] == {"(1, 2)": "tuple key", "3": "int key"}

    def test_huge_values_are_cut_with_their_size(self) -> None:
        """Long strings, long lists and deep nesting are cut, saying how big they were."""
        deep: Any = "bottom"
        for _ in range(MAX_DEPTH + 10):
            deep = [deep]
        recorded = view({"text": "a" * 1_000_000, "items": list(range(10_000)), "deep": deep}).args
        assert recorded["text"].endswith("...[truncated: 1000000 chars]")
        assert len(recorded["text"]) < MAX_TEXT + 50
        assert len(recorded["items"]) == MAX_ITEMS + 1
        assert recorded["items"][-1] == "[truncated: 10000 items]"
        assert "nested deeper than" in dumped(recorded["deep"])

    def test_cycles_end(self) -> None:
        """A list that contains itself is recorded to the depth limit, not forever."""
        loop: list[Any] = []
        loop.append(loop)
        assert "nested deeper than" in dumped(view({"loop": loop}).args)

    def test_subclasses_are_recorded_as_plain_values(self) -> None:
        """A str subclass with a lying __str__ is recorded as the string it holds."""

        class Liar(str):
            def __str__(self) -> str:
                return "innocent"

        recorded = view({"to": Liar("evil@attacker.com")}).args
        assert recorded["to"] == "evil@attacker.com"
        assert type(recorded["to"]) is str

    def test_broken_mapping(self) -> None:
        """A mapping that raises when read is recorded as unreadable, not a crash."""

        class Bad(dict[str, Any]):
            def items(self) -> Any:
                raise RuntimeError("boom")

            def __len__(self) -> int:
                raise RuntimeError("boom")

        assert "unreadable" in dumped(view({"m": Bad(a=1)}).args)

    def test_redaction_never_changes_the_decision(self) -> None:
        """Conditions see the real value; only the record is redacted."""
        audit = g.MemoryAudit()
        gov = g.Governor(g.Policy([g.allow("login", when=g.arg("password") == SECRET)]), audit=audit)
        assert gov.check("login", {"password": SECRET}).allowed
        assert gov.check("login", {"password": "wrong"}).effect is g.Effect.DENY


class TestEverySink:
    @pytest.fixture
    def sinks(self, tmp_path: Path) -> Any:
        memory = g.MemoryAudit()
        log = g.JsonlAudit(tmp_path / "audit.jsonl")
        yield memory, log, tmp_path / "audit.jsonl"
        log.close()

    def test_nothing_secret_reaches_any_sink(self, sinks: Any, caplog: pytest.LogCaptureFixture) -> None:
        """Memory, JSONL and logging sinks all receive the redacted view, errors included."""
        memory, log, path = sinks
        gov = g.Governor(
            g.Policy([g.allow("login"), g.deny("pay", reason="no")]),
            audit=[memory, log, g.LoggingAudit("test.audit")],
        )

        @g.governed("login", governor=gov)
        def login(user: str, password: str, **extra: Any) -> None:
            raise ValueError(f"bad password {password} for {user}")

        @g.governed("pay", governor=gov)
        def pay(note: str) -> None: ...

        caplog.set_level(logging.INFO, "test.audit")
        with g.context(session="s", api_token=SECRET + "-ctx"):
            with pytest.raises(ValueError, match=SECRET):
                login("alice", SECRET, headers={"Authorization": "Bearer " + "z" * 20})
            with pytest.raises(g.ActionDenied):
                pay(f"card {CARD}")
        written = [
            *(r.model_dump_json() for r in memory.records),
            path.read_text(),
            *(json.dumps(r.audit) + r.getMessage() for r in caplog.records),  # type: ignore[attr-defined]
        ]
        assert len(memory.records) == 3
        for text in written:
            assert SECRET not in text
            assert CARD not in text
            assert "z" * 20 not in text
        raised = memory.records[1]
        assert raised.error == f"ValueError: bad password {REDACTED} for alice"


class TestDocuments:
    def test_redact_table(self) -> None:
        """A policy document's ``redact`` table configures the policy's redaction."""
        policy = g.Policy.from_dict(
            {"rules": [{"action": "x", "effect": "allow"}], "redact": {"names": ["ssn"], "values": ["card"]}}
        )
        assert policy.redaction == g.Redaction(names=["ssn"], values=["card"])
        assert g.Policy.from_dict(policy.to_dict()).redaction == policy.redaction
        assert policy.version != g.Policy([g.allow("x")]).version

    def test_default_redaction_is_left_out(self) -> None:
        """A policy without ``redact`` keeps the defaults and the version it always had."""
        policy = g.Policy([g.allow("x")])
        assert policy.redaction == g.Redaction()
        assert "redact" not in policy.to_dict()

    def test_errors_name_the_place(self) -> None:
        """A bad redact table is a PolicyError naming what is wrong."""
        with pytest.raises(g.PolicyError, match=r"redact"):
            g.Policy.from_dict({"redact": {"names": "password"}})
        with pytest.raises(g.PolicyError, match="does not compile"):
            g.Policy.from_dict({"redact": {"values": ["("]}}, source="p.toml")
        with pytest.raises(g.PolicyError, match=r"redact: unknown key 'name'; did you mean 'names'"):
            g.Policy.from_dict({"redact": {"name": ["x"]}})

    def test_combining_redacts_what_either_redacts(self, tmp_path: Path) -> None:
        """Adding policies or loading several files never reveals more."""
        a = g.Policy([g.allow("x")], redact=g.Redaction(names=["ssn"], defaults=False))
        b = g.Policy([g.allow("y")], redact=g.Redaction(values=["jwt"]))
        combined = (a + b).redaction
        assert combined.names == ("ssn",) and combined.values == ("jwt",) and combined.defaults
        (tmp_path / "a.toml").write_text('[redact]\nnames = ["ssn"]\n')
        (tmp_path / "b.toml").write_text('[redact]\nnames = ["pin"]\ndefaults = false\n')
        loaded = g.Policy.from_files([tmp_path / "a.toml", tmp_path / "b.toml"]).redaction
        assert loaded.names == ("ssn", "pin") and loaded.defaults

    def test_policy_takes_only_a_redaction(self) -> None:
        """Passing something else as ``redact`` is an error."""
        with pytest.raises(g.PolicyError, match="must be a Redaction"):
            g.Policy([], redact=["password"])  # type: ignore[arg-type]


class TestReviewedBypasses:
    """Ways a secret could slip past, each closed."""

    def test_secrets_in_keys(self) -> None:
        """Keys are value-redacted and bounded like values."""
        recorded = dumped(
            view(
                {
                    "meta": {
                        "sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA": "x",
                        "4111111111111111": 1,
                        "k" * 100_000: 2,
                    }
                }
            ).args
        )
        assert "sk-ant-api03-AAAA" not in recorded and "4111111111111111" not in recorded
        assert len(recorded) < 2_000

    def test_card_numbers_as_numbers(self) -> None:
        """A card number passed as an int or a float is redacted; other long numbers are kept."""
        v = view(
            {"card": 4111111111111111, "as_float": 4111111111111111.0, "order": 4111111111111112, "n": 12}
        )
        assert v.args == {"card": REDACTED, "as_float": REDACTED, "order": 4111111111111112, "n": 12}

    @pytest.mark.parametrize(
        "card",
        [
            "4111\u00a01111\u00a01111\u00a01111",
            "4111.1111.1111.1111",
            "4111  1111  1111  1111",
            "4111/1111/1111/1111",
        ],
    )
    def test_card_separators(self, card: str) -> None:
        """Non-breaking spaces, dots, slashes and double spaces between digit groups."""
        assert view({"note": f"card {card} ok"}).args["note"] == f"card {REDACTED} ok"

    def test_named_tuples_and_namespaces_keep_their_names(self) -> None:
        """Their field names are names, so redaction by name applies."""
        from collections import namedtuple
        from types import SimpleNamespace

        Creds = namedtuple("Creds", "user password")
        recorded = view({"c": Creds("bob", SECRET), "n": SimpleNamespace(user="bob", api_key=SECRET)}).args
        assert recorded["c"] == {"user": "bob", "password": REDACTED}
        assert recorded["n"] == {"user": "bob", "api_key": REDACTED}

    @pytest.mark.parametrize(
        "name", ["X-API-Key", "privateKey", "passphrase", "Proxy-Authorization", "pwd", "Auth_Key"]
    )
    def test_names_however_spelled(self, name: str) -> None:
        """Separators and case do not hide a name."""
        assert view({"headers": {name: SECRET}}).args["headers"][name] == REDACTED

    def test_tool_errors_cut_after_scrubbing(self) -> None:
        """A long error holding a secret is scrubbed whole before it is cut."""
        audit = g.MemoryAudit()
        gov = g.Governor(g.Policy([g.allow("login")]), audit=audit)
        token = "ghp_" + "Z" * 36

        @g.governed("login", governor=gov)
        def login(password: str) -> None:
            raise ValueError("x" * 150 + f" bad password {password} and token {token}" + "y" * 300)

        with pytest.raises(ValueError, match="bad password"):
            login(SECRET * 3)
        error = audit.records[-1].error
        assert error is not None
        assert "hunter2" not in error and "ghp_ZZZZ" not in error

    def test_reasons_with_values_cut_short(self) -> None:
        """An evaluation error quoting a redacted value cut short keeps none of it."""
        long_secret = "hunter2-swordfish-correct-horse-battery-staple-" * 3  # longer than messages quote
        audit = g.MemoryAudit()
        gov = g.Governor(g.Policy([g.deny("login", when=g.arg("password") > 5)]), audit=audit)
        with pytest.raises(g.ActionDenied):
            g.governed("login", governor=gov)(lambda password: None)(long_secret)
        reason = audit.records[-1].reason
        assert "could not be evaluated" in reason
        assert "hunter2" not in reason

    def test_many_matches_before_the_cut(self) -> None:
        """Redactions that shorten a long string do not pull an unredacted match into what is kept."""
        token = "ghp_" + "Q" * 40
        recorded = view({"note": f"{token} " * 200}).args["note"]
        assert "ghp_" not in recorded

    def test_total_size_is_bounded(self) -> None:
        """Shared references cannot multiply a small object into a huge record."""
        import time

        inner = ["a" * MAX_TEXT] * MAX_ITEMS
        started = time.perf_counter()
        recorded = dumped(view({"x": [inner] * MAX_ITEMS}).args)
        assert time.perf_counter() - started < 2
        assert len(recorded) < 200_000
        assert "the record is too large" in recorded

    def test_tool_call_id_is_the_recorded_one(self) -> None:
        """The tool-call id comes from the redacted, bounded context."""
        audit = g.MemoryAudit()
        gov = g.Governor(g.Policy([g.allow("x")]), audit=audit)
        with g.context(tool_call_id="sk-ant-" + "B" * 1_000_000):
            g.governed("x", governor=gov)(lambda: None)()
        tool_call_id = audit.records[0].tool_call_id
        assert tool_call_id is not None and "BBBBBBBBBB" not in tool_call_id and len(tool_call_id) < 5_000

    def test_own_patterns_keep_their_meaning(self) -> None:
        """Each of a policy's own patterns is its own regex: back-references and flags work."""
        redaction = g.Redaction(
            values=[r"(a)\1", r"(b)\1", r"(?i)(?s)secret:\s+\S+", r"(?x) key \d+  # a comment"]
        )
        recorded = view({"n": "aa bb SECRET:  x key7"}, redaction=redaction).args["n"]
        assert recorded == f"{REDACTED} {REDACTED} {REDACTED} {REDACTED}"

    def test_every_sink_including_spans(self) -> None:
        """The OpenTelemetry span gets the same redacted view."""
        from conftest import need

        need("opentelemetry.sdk")
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        spans = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(spans))
        gov = g.Governor(g.Policy([g.allow("login")]), audit=g.OtelAudit(provider))
        with g.context(api_token=SECRET):
            g.governed("login", governor=gov)(lambda password, note: None)(SECRET, f"card {CARD}")
        (span,) = spans.get_finished_spans()
        text = json.dumps(dict(span.attributes))
        assert SECRET not in text and CARD not in text
