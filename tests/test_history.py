"""Sequences: after(...) conditions on the calls that already ran under a key."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock, make

import guardrails as g
from guardrails.state import MemoryStore, SQLiteStore, Store

SECRETS = g.deny(
    "send_email",
    when=g.after("read_file", when=g.arg("path").within("/secrets"), within="1d")
    & ~g.arg("to").email_domain_in(["acme.com"]),
    reason="no mail outside acme.com once a secret was read",
    id="secrets-then-mail",
)
DELETES = g.require_approval(
    "delete_*",
    when=g.after("delete_*", at_least=3, within="1h"),
    reason="the 4th delete in an hour needs a person",
    id="fourth-delete",
)
POLICY = g.Policy([SECRETS, DELETES, g.allow("*")])


class Agent:
    def __init__(self, policy: g.Policy = POLICY, **options: Any) -> None:
        self.audit = g.MemoryAudit()
        self.ran: list[Any] = []
        options.setdefault("audit", self.audit)
        self.gov = g.Governor(policy, **options)

        @g.governed("read_file", governor=self.gov)
        def read_file(path: str) -> str:
            self.ran.append(path)
            if isinstance(path, str) and path.endswith("missing"):
                raise FileNotFoundError(path)
            return "contents"

        @g.governed("send_email", governor=self.gov)
        def send_email(to: str) -> str:
            self.ran.append(to)
            return "sent"

        @g.governed("delete_row", governor=self.gov)
        def delete_row(row: int) -> int:
            self.ran.append(row)
            return row

        @g.governed("delete_file", governor=self.gov)
        async def delete_file(path: str) -> str:
            self.ran.append(path)
            return path

        self.read_file, self.send_email = read_file, send_email
        self.delete_row, self.delete_file = delete_row, delete_file


def denied(fn: Any, *args: Any) -> g.ActionDenied:
    with pytest.raises(g.ActionDenied) as info:
        fn(*args)
    return info.value


class TestSequences:
    def test_mail_outside_after_reading_secrets(self, kind: str, tmp_path: Path, request: Any) -> None:
        """The issue's example, on every store: outside mail goes until a file under
        /secrets is read in the session; then only acme.com mail goes."""
        agent = Agent(store=make(kind, tmp_path, request))
        with g.context(session="s1"):
            assert agent.send_email("eve@evil.example") == "sent"
            agent.read_file("/srv/readme")
            assert agent.send_email("eve@evil.example") == "sent"
            agent.read_file("/secrets/../secrets/api-key")
            assert agent.send_email("bob@acme.com") == "sent"
            error = denied(agent.send_email, "eve@evil.example")
        assert error.decision.rule_id == "secrets-then-mail"
        assert "once a secret was read" in str(error)
        with g.context(session="s2"):  # another session has its own history
            assert agent.send_email("eve@evil.example") == "sent"
        assert agent.ran.count("eve@evil.example") == 3

    def test_the_fourth_delete_in_an_hour(self, kind: str, tmp_path: Path, request: Any) -> None:
        """Three deletes of any kind go; the fourth needs a person (refused here:
        and a refused call is not noted, so the next is asked about too)."""
        clock = Clock()
        answers: list[bool] = [False, True]
        agent = Agent(store=make(kind, tmp_path, request, clock=clock), approver=lambda r: answers.pop(0))
        with g.context(session="s1"):
            agent.delete_row(1)
            asyncio.run(agent.delete_file("/tmp/a"))
            agent.delete_row(2)
            with pytest.raises(g.ApprovalDenied, match="4th delete"):
                agent.delete_row(3)
            assert agent.delete_row(4) == 4  # approved this time
            clock.now += 3600  # an hour after the first three: they no longer count
            assert agent.delete_row(5) == 5
        assert agent.ran == [1, "/tmp/a", 2, 4, 5]
        assert answers == []

    def test_window_edges(self) -> None:
        """A note counts for exactly ``within`` seconds after the call started."""
        clock = Clock()
        agent = Agent(store=MemoryStore(clock=clock))
        with g.context(session="s"):
            agent.read_file("/secrets/k")
            clock.now += 86_400 - 0.001
            denied(agent.send_email, "eve@evil.example")
            clock.now += 0.001
            assert agent.send_email("eve@evil.example") == "sent"

    def test_a_denied_call_is_not_noted_a_failed_one_is(self) -> None:
        """Only a call whose tool started counts: one that raised may have read the secret."""
        policy = g.Policy(
            [SECRETS, g.deny("read_file", when=g.arg("path") == "/secrets/forbidden"), g.allow("*")]
        )
        agent = Agent(policy)
        with g.context(session="s"):
            denied(agent.read_file, "/secrets/forbidden")
            assert agent.send_email("eve@evil.example") == "sent"
            with pytest.raises(FileNotFoundError):
                agent.read_file("/secrets/missing")
            denied(agent.send_email, "eve@evil.example")

    def test_a_rerun_is_noted_once(self) -> None:
        """A tool call re-run under the same tool-call id (a resumed graph) is one call."""
        agent = Agent()
        with g.context(session="s"):
            for _ in range(3):
                with g.context(tool_call_id="call-1"):
                    agent.delete_row(1)
            agent.delete_row(2)
            agent.delete_row(3)  # the third distinct delete: still no approval needed
            with pytest.raises(g.ApprovalDenied):
                agent.delete_row(4)

    def test_a_when_that_cannot_be_evaluated_notes_the_call(self) -> None:
        """Fail closed: a read whose path cannot be judged may have been the secret one."""
        agent = Agent()
        with g.context(session="s"):
            agent.read_file(b"/secrets/k")  # type: ignore[arg-type]
            denied(agent.send_email, "eve@evil.example")

    def test_a_missing_key_makes_the_rule_apply(self) -> None:
        """No session in the context: the deny rule cannot tell, so it applies, and says why."""
        agent = Agent()
        error = denied(agent.send_email, "eve@evil.example")
        assert "could not be checked" in str(error.decision.reason)
        assert "session" in str(error.decision.reason)
        agent.read_file("/secrets/k")  # no session: nothing to note it under, and it runs
        assert agent.ran == ["/secrets/k"]

    def test_a_key_of_arguments(self) -> None:
        """History can be kept per argument: a refund after a lookup of the same customer."""
        policy = g.Policy(
            [
                g.deny(
                    "refund",
                    when=~g.after("lookup", within="1h", key=g.arg("customer")),
                    reason="look the customer up first",
                ),
                g.allow("*"),
            ]
        )
        gov = g.Governor(policy)
        lookup = g.governed("lookup", governor=gov)(lambda customer: customer)
        refund = g.governed("refund", governor=gov)(lambda customer, amount: amount)
        with pytest.raises(g.ActionDenied, match="look the customer up first"):
            refund("C-1", 5)
        lookup("C-1")
        assert refund("C-1", 5) == 5
        with pytest.raises(g.ActionDenied):
            refund("C-2", 5)

    def test_async_tools(self) -> None:
        """Async tools are noted and judged the same way."""
        policy = g.Policy([g.deny("delete_*", when=g.after("delete_*", within="1m")), g.allow("*")])
        agent = Agent(policy)

        async def main() -> None:
            with g.context(session="s"):
                await agent.delete_file("/a")
                with pytest.raises(g.ActionDenied):
                    await agent.delete_file("/b")

        asyncio.run(main())
        assert agent.ran == ["/a"]

    def test_check_reads_history_and_notes_nothing(self) -> None:
        """``gov.check`` sees the history; ``Policy.evaluate`` cannot (no store), and says
        nothing about the after(...) rule rather than guessing."""
        agent = Agent()
        assert agent.gov.check("read_file", {"path": "/secrets/k"}, {"session": "s"}).allowed
        assert agent.gov.check("send_email", {"to": "eve@evil.example"}, {"session": "s"}).allowed
        with g.context(session="s"):
            agent.read_file("/secrets/k")
        decision = agent.gov.check("send_email", {"to": "eve@evil.example"}, {"session": "s"})
        assert decision.effect is g.Effect.DENY and decision.rule_id == "secrets-then-mail"
        assert POLICY.evaluate("send_email", {"to": "eve@evil.example"}, {"session": "s"}).allowed
        with pytest.raises(g.EvaluationError, match="judge it with a Governor"):
            SECRETS.when(g.Call("send_email", {"to": "x@y.z"}, {"session": "s"}))  # type: ignore[misc]

    def test_audit_records_name_the_rule(self) -> None:
        agent = Agent()
        with g.context(session="s"):
            agent.read_file("/secrets/k")
            denied(agent.send_email, "eve@evil.example")
        record = agent.audit.records[-1]
        assert record.outcome is g.Outcome.NOT_RUN and record.rule_id == "secrets-then-mail"

    def test_replay_and_lint(self) -> None:
        """Replay leaves calls that after(...) judges out (the history is not rebuilt);
        lint does not call the rules after(...) restricts shadowed or duplicated."""
        from guardrails.testing.lint import lint
        from guardrails.testing.replay import replay

        assert [f.kind for f in lint(POLICY)] == ["wide-allow"]  # the allow("*"), nothing else
        agent = Agent()
        with g.context(session="s"):
            agent.read_file("/secrets/k")
            denied(agent.send_email, "eve@evil.example")
        report = replay(agent.audit.records, POLICY)
        assert (report.calls, report.stateful, report.changes) == (2, 1, [])
        without = g.Policy([g.allow("*")])
        changes = replay(agent.audit.records, without).changes
        assert [(c.record.action, c.kind) for c in changes] == [("send_email", "newly allowed")]


class FailingStore(MemoryStore):
    """A store whose reads or writes fail on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.reads_fail = self.writes_fail = False

    def usage(self, key: str, window: float) -> Any:
        if self.reads_fail:
            raise ConnectionError("connection refused")
        return super().usage(key, window)

    def force(self, token: str, entries: Any) -> Any:
        if self.writes_fail:
            raise ConnectionError("read-only replica")
        return super().force(token, entries)


class TestFailClosed:
    def test_a_store_that_cannot_be_read_denies(self) -> None:
        store = FailingStore()
        agent = Agent(store=store)
        store.reads_fail = True
        with g.context(session="s"):
            error = denied(agent.send_email, "eve@evil.example")
            # Mail inside needs no history: the rule cannot apply whatever the store says.
            assert agent.send_email("bob@acme.com") == "sent"
        assert error.decision.rule_id == "secrets-then-mail"
        assert "state store" in str(error) and "connection refused" in str(error)
        assert agent.ran == ["bob@acme.com"]

    def test_a_call_that_cannot_be_noted_does_not_run(self) -> None:
        """Unnoted, a later mail could not know the secret was read: the read does not run."""
        store = FailingStore()
        agent = Agent(store=store)
        store.writes_fail = True
        with g.context(session="s"):
            error = denied(agent.read_file, "/secrets/k")
            assert "failed to note the call" in str(error) and "read-only replica" in str(error)
            assert agent.read_file("/srv/readme") == "contents"  # nothing to note: it runs
        assert agent.ran == ["/srv/readme"]
        assert agent.audit.records[0].outcome is g.Outcome.NOT_RUN

    def test_shadow_mode_runs_and_logs(self, caplog: pytest.LogCaptureFixture) -> None:
        store = FailingStore()
        agent = Agent(store=store, mode="shadow")
        store.writes_fail = True
        with g.context(session="s"):
            assert agent.read_file("/secrets/k") == "contents"
        assert any("failed to note" in r.getMessage() for r in caplog.records)


class TestDeclaring:
    def test_only_on_restricting_rules(self) -> None:
        with pytest.raises(g.PolicyError, match="deny or require_approval"):
            g.allow("send_email", when=g.after("read_file", within="1d"))
        with pytest.raises(g.PolicyError, match="shadow"):
            g.deny("send_email", when=g.after("read_file", within="1d"), shadow=True)

    @pytest.mark.parametrize(
        ("call", "message"),
        [
            (lambda: g.after("read file", within="1d"), "tool name or glob"),
            (lambda: g.after("read_file", within="soon"), "window"),
            (lambda: g.after("read_file", within="1d", at_least=0), "at_least"),
            (lambda: g.after("read_file", within="1d", at_least=True), "at_least"),
            (lambda: g.after("read_file", within="1d", key=g.arg("path").casefold()), "key"),
            (
                lambda: g.after("read_file", within="1d", when=g.after("list_dir", within="1d")),
                "cannot be nested",
            ),
        ],
    )
    def test_bad_arguments(self, call: Any, message: str) -> None:
        with pytest.raises(g.PolicyError, match=message):
            call()

    def test_within_is_required(self) -> None:
        with pytest.raises(TypeError, match="within"):
            g.after("read_file")  # type: ignore[call-arg]

    def test_document_round_trip(self) -> None:
        doc = {
            "version": 1,
            "rules": [
                {
                    "id": "secrets-then-mail",
                    "action": "send_email",
                    "effect": "deny",
                    "when": {
                        "all": [
                            {
                                "after": "read_file",
                                "when": {"arg": "path", "within": "/secrets"},
                                "within": "1d",
                            },
                            {"not": {"arg": "to", "email_domain_in": ["acme.com"]}},
                        ]
                    },
                },
                {
                    "action": "delete_*",
                    "effect": "require_approval",
                    "when": {"after": "delete_*", "within": 3600, "key": [{"ctx": "user"}], "at_least": 3},
                },
            ],
        }
        policy = g.Policy.from_dict(doc)
        assert policy.to_dict()["rules"] == doc["rules"]
        assert repr(policy.rules[1].when) == "after('delete_*', within=3600, key=ctx('user'), at_least=3)"
        assert g.Policy.from_dict(policy.to_dict()).version == policy.version
        python = g.Policy([SECRETS])
        assert g.Policy.from_dict(python.to_dict()).version == python.version

    @pytest.mark.parametrize(
        ("when", "message"),
        [
            ({"after": "read_file"}, r"rules\[0\]\.when.*within"),
            ({"after": "read_file", "within": "1d", "at_least": 0}, r"rules\[0\]\.when: .*at_least"),
            ({"after": "read_file", "within": "1d", "key": [{"ctx": "s", "arg": "x"}]}, "key part"),
            ({"after": "read_file", "within": "1d", "since": "1d"}, "since"),
            (
                {"after": "read_file", "within": "1d", "when": {"after": "x", "within": "1d"}},
                "cannot be nested",
            ),
        ],
    )
    def test_document_errors(self, when: dict[str, Any], message: str) -> None:
        doc = {"version": 1, "rules": [{"action": "send_email", "effect": "deny", "when": when}]}
        with pytest.raises(g.PolicyError, match=message):
            g.Policy.from_dict(doc)

    def test_rules_asking_the_same_share_the_notes(self) -> None:
        """Two rules asking about the same earlier calls read the same notes (one note per call)."""
        same = g.after("read_file", when=g.arg("path").within("/secrets"), within="1d")
        policy = g.Policy([SECRETS, g.require_approval("upload", when=same), g.allow("*")])
        assert len(policy.noted_for("read_file")) == 1
        assert policy.noted_for("send_email") == ()
        assert [r.id for r in policy.stateful_for("send_email")] == ["secrets-then-mail"]


class TestSweep:
    def test_memory_store_forgets_ended_sessions(self) -> None:
        """Notes of sessions no call asks about again go once their window passed."""
        clock = Clock()
        store = MemoryStore(clock=clock)
        agent = Agent(store=store)
        for session in range(3000):
            with g.context(session=f"s{session}"):
                agent.read_file("/secrets/k")
            clock.now += 60
        # Each note lasts a day (1440 minutes): older sessions were swept as new ones came.
        assert len(store) <= 2 * 1440 + 2
        with g.context(session="s2999"):
            denied(agent.send_email, "eve@evil.example")

    def test_sqlite_store_forgets_ended_sessions(self, tmp_path: Path) -> None:
        clock = Clock()
        store = SQLiteStore(tmp_path / "s.db", clock=clock)
        try:
            agent = Agent(store=store)
            for session in range(1100):
                with g.context(session=f"s{session}"):
                    agent.read_file("/secrets/k")
                clock.now += 600  # ten minutes: 144 sessions a day
            db = store._acquire()
            try:
                (rows,) = db.execute("SELECT count(*) FROM guardrails_usage").fetchone()
            finally:
                store._release(db)
            assert rows < 1100 - 256 + 1  # a sweep ran and dropped a batch of expired sessions
            with g.context(session="s1099"):
                denied(agent.send_email, "eve@evil.example")
        finally:
            store.close()


def _read_secret(path: str) -> None:
    store = SQLiteStore(path)
    try:
        agent = Agent(store=store)
        with g.context(session="shared"):
            agent.read_file("/secrets/k")
    finally:
        store.close()


def test_another_process_noted_it(tmp_path: Path) -> None:
    """Sharing a SQLite file, a read in one process restricts mail in another."""
    path = str(tmp_path / "s.db")
    store: Store = SQLiteStore(path)
    try:
        agent = Agent(store=store)
        with g.context(session="shared"):
            assert agent.send_email("eve@evil.example") == "sent"
            process = multiprocessing.get_context("spawn").Process(target=_read_secret, args=(path,))
            process.start()
            process.join(60)
            assert process.exitcode == 0
            denied(agent.send_email, "eve@evil.example")
    finally:
        store.close()  # type: ignore[attr-defined]
