"""Changing governance while agents run: swaps, reloads, watching, shadow mode, kill switch."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import guardrails as g


def doc(limit: int, rule_id: str = "small") -> dict[str, Any]:
    return {
        "rules": [
            {"id": rule_id, "action": "refund", "effect": "allow", "when": {"arg": "amount", "le": limit}}
        ]
    }


def write(path: Path, content: dict[str, Any] | str) -> None:
    # Write then rename, as editors and deploy tools do, so a reader never sees half a file.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(content if isinstance(content, str) else json.dumps(content))
    tmp.replace(path)


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class Shop:
    def __init__(self, governor: g.Governor) -> None:
        self.ran: list[float] = []

        @g.governed("refund", governor=governor)
        def refund(amount: float) -> str:
            self.ran.append(amount)
            return "ok"

        self.refund = refund


class TestSwap:
    def test_assigning_the_policy(self) -> None:
        """gov.policy = new applies from the next call."""
        gov = g.Governor(g.Policy.from_dict(doc(100)))
        shop = Shop(gov)
        assert shop.refund(50) == "ok"
        gov.policy = g.Policy.from_dict(doc(10))
        with pytest.raises(g.ActionDenied):
            shop.refund(50)

    def test_assigning_junk_is_refused(self) -> None:
        """Assigning something that is not a Policy raises and keeps the old one."""
        policy = g.Policy.from_dict(doc(100))
        gov = g.Governor(policy)
        with pytest.raises(g.ConfigurationError):
            gov.policy = {"rules": []}  # type: ignore[assignment]
        assert gov.policy is policy


class TestLoad:
    def test_load_and_reject(self, tmp_path: Path) -> None:
        """load() swaps in a valid file; an invalid one raises, the old policy stays, both are recorded."""
        audit = g.MemoryAudit()
        gov = g.Governor(audit=audit)
        path = tmp_path / "policy.json"
        write(path, doc(100))
        loaded = gov.load(path)
        assert gov.policy is loaded
        write(path, {"rules": [{"action": "refund", "effect": "alow"}]})
        with pytest.raises(g.PolicyError, match=r"policy\.json: rules\[0\]\.effect"):
            gov.load(path)
        assert gov.policy is loaded
        kinds = [(r.kind, r.policy_version) for r in audit.records]
        assert kinds == [("policy_loaded", loaded.version), ("policy_rejected", "")]
        assert "'alow' is not an effect" in audit.records[1].reason

    def test_reload_under_load(self, tmp_path: Path) -> None:
        """1,000+ reloads, invalid ones interleaved, while threads call: every call is judged
        by a complete policy that was loaded, never by none or by half of one."""
        # Switch threads often, so reloads and calls really interleave (and the test is quick).
        previous = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)
        files = []
        for i in range(1101):
            path = tmp_path / f"policy-{i}.json"
            if i % 4 == 3:
                write(
                    path,
                    '{"rules": [{"action": "refund", "effect": "allow", "when": {"arg": "amount", "le": ',
                )
            else:
                write(path, doc(i % 2 * 10, f"v{i}"))
            files.append(path)
        audit = g.MemoryAudit()
        gov = g.Governor(audit=audit)
        loaded = {gov.load(files[0]).version}
        shop = Shop(gov)
        stop = threading.Event()
        errors: list[BaseException] = []

        def agent() -> None:
            while not stop.is_set():
                try:
                    shop.refund(5)
                except g.ActionDenied:
                    pass
                except BaseException as exc:  # pragma: no cover - reported below
                    errors.append(exc)

        threads = [threading.Thread(target=agent) for _ in range(3)]
        for t in threads:
            t.start()
        rejected = 0
        try:
            for path in files[1:]:
                try:
                    loaded.add(gov.load(path).version)
                except g.PolicyError:
                    rejected += 1
        finally:
            stop.set()
            for t in threads:
                t.join()
            sys.setswitchinterval(previous)
        assert errors == []
        assert rejected == 275
        assert len(loaded) == 826  # every valid document has its own rule id, hence its own version
        calls = [r for r in audit.records if r.kind == "call"]
        assert len(calls) > 100
        assert {r.policy_version for r in calls} <= loaded
        assert not any("no policy is configured" in r.reason for r in calls)
        # Each rule id names the document that made the decision: the version recorded must be its.
        versions = {
            g.Policy.from_dict(doc(i % 2 * 10, f"v{i}")).version: f"v{i}" for i in range(1101) if i % 4 != 3
        }
        for r in calls:
            if r.rule_id != "default":
                assert versions[r.policy_version] == r.rule_id


class TestWatch:
    def test_reloads_on_change_and_keeps_last_good(self, tmp_path: Path) -> None:
        """The watcher loads changes, reports bad edits and keeps the last good policy."""
        path = tmp_path / "policy.json"
        write(path, doc(100))
        gov = g.Governor()
        bad: list[g.PolicyError] = []
        shop = Shop(gov)
        with gov.watch(path, interval=0.01, on_error=bad.append) as watcher:
            assert shop.refund(50) == "ok"
            write(path, doc(10, "tight"))
            assert wait_for(lambda: gov.policy.rules[0].id == "tight")
            with pytest.raises(g.ActionDenied):
                shop.refund(50)
            good = gov.policy
            write(path, "{not json")
            assert wait_for(lambda: len(bad) == 1)
            assert gov.policy is good
            assert "not valid JSON" in str(bad[0])
            assert watcher.reloads == 1 and watcher.rejections == 1
        assert "stopped" in repr(watcher)
        write(path, doc(1000, "after-stop"))
        time.sleep(0.1)
        assert gov.policy is good

    def test_invalid_at_start_raises(self, tmp_path: Path) -> None:
        """Watching a file that does not load fails at once."""
        path = tmp_path / "policy.json"
        write(path, "{")
        with pytest.raises(g.PolicyError):
            g.Governor().watch(path)

    def test_bad_interval(self, tmp_path: Path) -> None:
        """A non-positive interval is refused."""
        path = tmp_path / "policy.json"
        write(path, doc(1))
        with pytest.raises(g.ConfigurationError):
            g.Governor().watch(path, interval=0)

    def test_failing_on_error_hook_is_contained(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A broken on_error hook does not stop the watcher."""
        path = tmp_path / "policy.json"
        write(path, doc(1))

        def broken(exc: g.PolicyError) -> None:
            raise RuntimeError("hook broke")

        gov = g.Governor()
        watcher = gov.watch(path, interval=3600, on_error=broken)
        try:
            write(path, "{")
            assert (watcher.poll(), watcher.poll()) == (False, False)
            assert watcher.rejections == 1
            write(path, doc(2, "two"))
            assert (watcher.poll(), watcher.poll()) == (False, True)
            assert gov.policy.rules[0].id == "two"
        finally:
            watcher.stop()
        assert "on_error hook" in caplog.text

    def test_a_file_written_in_place_is_loaded_once_settled(self, tmp_path: Path) -> None:
        """A file caught half-written is not loaded: a change loads only when two polls agree."""
        path = tmp_path / "policy.toml"
        full = (Path(__file__).parent.parent / "examples" / "policies" / "support.toml").read_text()
        path.write_text(full)
        gov = g.Governor()
        watcher = gov.watch(path, interval=3600)
        try:
            first = gov.policy
            half = full[: full.index('[[rules]]\nid = "no-external-mail"')]  # valid TOML, fewer rules
            path.write_text(half)
            assert watcher.poll() is False
            assert gov.policy is first  # the half file was not read
            with path.open("a") as f:  # the writer finishes
                f.write(full[len(half) :] + "\n")
            assert watcher.poll() is False
            assert watcher.poll() is True
            assert len(gov.policy) == len(first)
            assert not gov.policy.evaluate("send_email", {"to": "x@evil.com"}).allowed
        finally:
            watcher.stop()

    def test_a_hostile_document_is_rejected_and_the_watcher_survives(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A document nested to exhaust the stack is a rejection; later edits still load."""
        path = tmp_path / "policy.json"
        write(path, doc(1))
        audit = g.MemoryAudit()
        gov = g.Governor(audit=audit)
        errors: list[g.PolicyError] = []
        watcher = gov.watch(path, interval=3600, on_error=errors.append)
        try:
            write(
                path,
                '{"rules": [{"action": "a", "effect": "deny", "when": '
                + '{"not": ' * 5000
                + "{}"
                + "}" * 5001
                + "]}",
            )
            watcher.poll()
            watcher.poll()
            assert len(errors) == 1
            assert "nested" in str(errors[0])
            assert [r.kind for r in audit.records][-1] == "policy_rejected"
            assert "rejected; the previous policy stays in force" in caplog.text
            write(path, doc(7, "seven"))
            watcher.poll()
            assert watcher.poll() is True
            assert gov.policy.rules[0].id == "seven"
        finally:
            watcher.stop()


SHADOW_POLICY = g.Policy(
    [
        g.allow("refund", when=g.arg("amount") <= 100, id="small"),
        g.deny("refund", when=g.arg("amount") > 50, id="new-cap", reason="trying a lower cap", shadow=True),
        g.allow("export", id="try-export", shadow=True),
        g.require_approval("payout", id="payout-approval"),
    ]
)


class TestShadowRules:
    def test_shadow_deny_never_blocks(self) -> None:
        """A shadow deny lets the call run and records what it would have done."""
        audit = g.MemoryAudit()
        gov = g.Governor(SHADOW_POLICY, audit=audit)
        shop = Shop(gov)
        assert shop.refund(80) == "ok"
        shadow, started, returned = audit.records
        assert (shadow.enforced, shadow.effect, shadow.rule_id, shadow.outcome) == (
            False,
            "deny",
            "new-cap",
            None,
        )
        assert (started.enforced, started.effect, started.rule_id) == (True, "allow", "small")
        assert returned.outcome is g.Outcome.RETURNED
        assert shop.ran == [80]

    def test_shadow_allow_never_permits(self) -> None:
        """A shadow allow does not let a call through; the record shows it would have."""
        audit = g.MemoryAudit()
        gov = g.Governor(SHADOW_POLICY, audit=audit)
        with pytest.raises(g.ActionDenied):
            g.governed("export", governor=gov)(lambda: "exported")()
        shadow, denied = audit.records
        assert (shadow.enforced, shadow.effect, shadow.rule_id) == (False, "allow", "try-export")
        assert (denied.enforced, denied.effect, denied.rule_id, denied.outcome) == (
            True,
            "deny",
            "default",
            g.Outcome.NOT_RUN,
        )

    def test_no_record_when_shadow_agrees(self) -> None:
        """When the shadow decision is the enforced one, nothing extra is recorded."""
        audit = g.MemoryAudit()
        Shop(g.Governor(SHADOW_POLICY, audit=audit)).refund(20)
        assert [r.enforced for r in audit.records] == [True, True]

    def test_shadow_decision(self) -> None:
        """policy.shadow_decision says what the shadow rules would decide, or None."""
        policy = SHADOW_POLICY
        call = policy.evaluate("refund", {"amount": 80}).call
        shadow = policy.shadow_decision(call)
        assert shadow is not None
        assert (shadow.effect, shadow.rule_id, shadow.enforced) == (g.Effect.DENY, "new-cap", False)
        assert policy.shadow_decision(policy.evaluate("payout").call) is None
        assert g.Policy([]).shadow_decision(call) is None

    def test_document_form(self) -> None:
        """shadow = true in a document; it round-trips."""
        policy = g.Policy.from_dict({"rules": [{"action": "a", "effect": "deny", "shadow": True}]})
        assert policy.rules[0].shadow
        assert policy.to_dict()["rules"][0]["shadow"] is True
        assert policy.evaluate("a").rule_id == "default"


class TestShadowMode:
    def test_records_but_never_blocks(self) -> None:
        """In shadow mode denials and approvals are recorded as not enforced, and the tool runs."""
        audit = g.MemoryAudit()
        asked: list[Any] = []
        gov = g.Governor(SHADOW_POLICY, audit=audit, mode="shadow", approver=asked.append)
        shop = Shop(gov)
        assert shop.refund(5000) == "ok"
        payout = g.governed("payout", governor=gov)(lambda: "paid")
        assert payout() == "paid"
        assert asked == []
        first, second = audit.records[0], audit.records[2]
        assert (first.effect, first.enforced, first.outcome) == ("deny", False, g.Outcome.STARTED)
        assert (second.effect, second.enforced, second.rule_id) == (
            "require_approval",
            False,
            "payout-approval",
        )

    def test_switch_modes(self) -> None:
        """configure(mode=...) switches between shadow and enforce."""
        gov = g.Governor(SHADOW_POLICY, mode="shadow")
        shop = Shop(gov)
        assert shop.refund(5000) == "ok"
        gov.configure(mode="enforce")
        with pytest.raises(g.ActionDenied):
            shop.refund(5000)
        with pytest.raises(g.ConfigurationError):
            gov.configure(mode="dry-run")  # type: ignore[arg-type]


class TestKillSwitch:
    def test_block_overrides_policy_and_shadow_mode(self) -> None:
        """A block denies even what the policy allows, even in shadow mode; unblock lifts it."""
        audit = g.MemoryAudit()
        gov = g.Governor(g.Policy([g.allow("*")]), audit=audit, mode="shadow")
        shop = Shop(gov)
        gov.block("ref*", reason="refund fraud under investigation")
        with pytest.raises(g.ActionDenied, match="refund fraud under investigation") as info:
            shop.refund(1)
        assert info.value.decision.rule_id == "kill-switch:ref*"
        assert gov.blocked() == {"ref*": "refund fraud under investigation"}
        assert gov.check("refund", {"amount": 1}).rule_id == "kill-switch:ref*"
        assert gov.unblock("ref*") is True
        assert gov.unblock("ref*") is False
        assert shop.refund(1) == "ok"
        assert shop.ran == [1]
        kinds = [r.kind for r in audit.records]
        assert kinds[0] == "block" and "unblock" in kinds
        blocked_call = audit.records[1]
        assert (blocked_call.effect, blocked_call.enforced, blocked_call.outcome) == (
            "deny",
            True,
            g.Outcome.NOT_RUN,
        )

    def test_block_applies_without_sinks(self) -> None:
        """Blocks apply on the fastest path too (no audit, allowed by the policy)."""
        gov = g.Governor(g.Policy([g.allow("*")]))
        shop = Shop(gov)
        assert shop.refund(1) == "ok"
        gov.block("refund")
        with pytest.raises(g.ActionDenied):
            shop.refund(1)

    def test_block_reaches_other_threads(self) -> None:
        """A block set in one thread stops the next call in every other thread."""
        gov = g.Governor(g.Policy([g.allow("*")]))
        shop = Shop(gov)
        blocked = threading.Event()
        results: list[str] = []

        def agent() -> None:
            blocked.wait()
            try:
                shop.refund(1)
                results.append("ran")
            except g.ActionDenied:
                results.append("denied")

        threads = [threading.Thread(target=agent) for _ in range(4)]
        for t in threads:
            t.start()
        gov.block("*", reason="incident")
        blocked.set()
        for t in threads:
            t.join()
        assert results == ["denied"] * 4

    def test_block_while_waiting_for_approval(self) -> None:
        """A block pulled while a human is deciding stops the call, even if the human says yes."""
        gov = g.Governor(g.Policy([g.require_approval("refund")]))

        def approver(request: g.ApprovalRequest) -> bool:
            gov.block("refund", reason="incident: agent compromised")
            return True

        gov.configure(approver=approver)
        shop = Shop(gov)
        with pytest.raises(g.ActionDenied, match="incident: agent compromised"):
            shop.refund(10_000)
        assert shop.ran == []

    def test_block_async_tools_and_methods(self) -> None:
        """Blocks stop async tools and methods too."""
        gov = g.Governor(g.Policy([g.allow("*")]))

        @g.governed("refund", governor=gov)
        async def refund_async(amount: float) -> str:
            return "ok"

        class Desk:
            @g.governed("refund", governor=gov)
            def refund(self, amount: float) -> str:
                return "ok"

        assert asyncio.run(refund_async(1)) == "ok"
        assert Desk().refund(1) == "ok"
        gov.block("refund")
        with pytest.raises(g.ActionDenied):
            asyncio.run(refund_async(1))
        with pytest.raises(g.ActionDenied):
            Desk().refund(1)

    def test_reblocking_replaces_reason(self) -> None:
        """Blocking a pattern again updates its reason instead of adding a second entry."""
        gov = g.Governor()
        gov.block("a", reason="one")
        gov.block("a", reason="two")
        assert gov.blocked() == {"a": "two"}
