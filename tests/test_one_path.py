"""One path through a call: the fast exit, the full flow and ``Governor.check`` agree.

Hypothesis writes policies (allow, deny and require_approval rules over a few
actions, with conditions on their arguments and context, limits, ``after(...)``
and shadow rules) and runs of calls, blocks, unblocks and policy swaps. Each run
goes through two governors with the same policies: one without audit sinks,
whose allowed calls take the flow's fast exit, and one recording into a list,
whose every call takes the whole flow. Both must decide every call alike, and
``Governor.check`` on a fresh governor (sharing the store) must foresee it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from types import MappingProxyType
from typing import Any, TypeVar, get_type_hints

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import guardrails as g
from guardrails.call import Call
from guardrails.runtime.setup import OPTIONS, KeywordOptions, Options, Setup

ACTIONS = ("a", "b", "c")
WORDS = ("x", "y", "yes", "z")
USERS = ("ann", "bob")
UNLUCKY = 13  # the tools raise for it: a failed tool uses up none of its limits
SESSION = "s-1"

Outcome = tuple[Any, ...]
Test = TypeVar("Test", bound=Callable[..., None])


# ---- what Hypothesis writes ---------------------------------------------------------------


_NUMBERS = st.integers(-1, 12)
_CONDITION = st.one_of(
    _NUMBERS.map(lambda k: g.arg("n") > k),
    _NUMBERS.map(lambda k: g.arg("n") <= k),
    st.sampled_from(WORDS).map(lambda w: g.arg("s") == w),
    st.sampled_from(WORDS).map(lambda w: g.arg("s").startswith(w[0])),
    st.sampled_from(USERS).map(lambda u: g.ctx("user") == u),
    st.just(g.arg("s") > 3),  # never evaluates: a str against a number fails closed
)
_WHEN = st.one_of(
    st.none(), _CONDITION, st.tuples(_CONDITION, _CONDITION).map(lambda pair: pair[0] & pair[1])
)
_KEYS = st.sampled_from([None, g.arg("s"), g.ctx("user"), [g.ctx("user"), g.arg("s")]])
_LIMIT = st.one_of(
    st.builds(lambda k, key: g.rate(k, per="1h", key=key), st.integers(0, 2), _KEYS),
    st.builds(lambda k, key: g.budget("n", k, per="1h", key=key), st.integers(0, 12), _KEYS),
)
_AFTER_KEYS: dict[str, Any] = {"every caller": [], "user": g.ctx("user")}
_AFTER = st.builds(
    lambda action, at_least, key: (
        g.after(action, within="1h", at_least=at_least)  # per session, the default
        if key == "session"
        else g.after(action, within="1h", at_least=at_least, key=_AFTER_KEYS[key])
    ),
    st.sampled_from(ACTIONS),
    st.integers(1, 2),
    st.sampled_from(["session", "every caller", "user"]),
)
#: A rule but its id: (action, effect, condition, kind, limit, its condition, after(...)).
_RULE = st.tuples(
    st.sampled_from([*ACTIONS, "*", "b*"]),
    st.sampled_from([g.Effect.ALLOW, g.Effect.ALLOW, g.Effect.DENY, g.Effect.REQUIRE_APPROVAL]),
    _WHEN,
    st.sampled_from(["plain", "limit", "limit", "limit", "after", "shadow"]),
    _LIMIT,
    st.one_of(st.none(), st.none(), _CONDITION),  # limits count more calls with no condition
    _AFTER,
)


def _rule(
    i: int, action: str, effect: g.Effect, when: Any, kind: str, limit: Any, limited: Any, history: Any
) -> g.Rule:
    if kind == "shadow":
        return g.Rule(action, effect, when, id=f"r{i}", shadow=True)
    if effect is g.Effect.ALLOW or kind == "plain":
        return g.Rule(action, effect, when, id=f"r{i}")
    if kind == "limit":
        return g.Rule(action, effect, limited, id=f"r{i}", limit=limit)
    return g.Rule(action, effect, history if when is None else history & when, id=f"r{i}")


_POLICY = st.builds(
    lambda rules, everything, default: g.Policy(
        [_rule(i, *rule) for i, rule in enumerate(rules)] + ([g.allow("*", id="all")] if everything else []),
        default=default,
    ),
    st.lists(_RULE, max_size=6),
    st.booleans(),  # a rule allowing everything: the fast exit needs a rule that allows
    st.sampled_from([g.Effect.DENY, g.Effect.ALLOW]),
)


_CALL = st.tuples(
    st.just("call"),
    st.sampled_from(ACTIONS),
    st.sampled_from([-1, 0, 1, 2, 3, 4, 5, 8, 11, UNLUCKY, UNLUCKY]),
    st.sampled_from(WORDS),
    st.sampled_from(USERS),
)
_CHANGE = st.one_of(
    st.tuples(st.sampled_from(["block", "unblock"]), st.sampled_from(["a", "b*", "*"])),
    st.tuples(st.just("swap")),
)
# Mostly calls; a block turns the fast exit off until it is lifted.
_STEP = st.tuples(st.integers(0, 9), _CALL, _CHANGE).map(lambda t: t[1] if t[0] else t[2])


@st.composite
def _scenario(draw: st.DrawFn) -> tuple[tuple[g.Policy, g.Policy], frozenset[str], list[tuple[Any, ...]]]:
    policies = (draw(_POLICY), draw(_POLICY))
    asynchronous = frozenset(draw(st.sets(st.sampled_from(ACTIONS))))
    steps = draw(st.lists(_STEP, min_size=3, max_size=16))
    return policies, asynchronous, steps


# ---- running a scenario -------------------------------------------------------------------


def _approver(request: g.ApprovalRequest) -> bool:
    return bool(request.call.args["n"] % 2 == 0)


def _tools(
    governor: g.Governor, asynchronous: frozenset[str], ran: list[str]
) -> dict[str, Callable[..., Any]]:
    def make(action: str) -> Callable[..., Any]:
        def body(n: int, s: str) -> str:
            ran.append(action)
            if n == UNLUCKY:
                raise ValueError("unlucky")
            return f"{action}:{n}:{s}"

        if action in asynchronous:

            async def tool_async(n: int, s: str = "x") -> str:
                await asyncio.sleep(0)
                return body(n, s)

            return g.governed(action, governor=governor)(tool_async)

        def tool(n: int, s: str = "x") -> str:
            return body(n, s)

        return g.governed(action, governor=governor)(tool)

    return {action: make(action) for action in ACTIONS}


class Run:
    """One governor running a scenario; what each call did, and what ``check`` foresaw."""

    def __init__(self, policy: g.Policy, asynchronous: frozenset[str], *, recorded: bool) -> None:
        self.records: list[g.AuditRecord] = []
        self.store = g.MemoryStore()
        audit = self.records.append if recorded else None
        self.governor = g.Governor(policy, approver=_approver, audit=audit, store=self.store)
        self.ran: list[str] = []
        self.tools = _tools(self.governor, asynchronous, self.ran)
        #: Per call: (what the call did, what check foresaw, the call's records).
        self.calls: list[tuple[Outcome, g.Decision, list[g.AuditRecord]]] = []

    def fresh_check(self, action: str, n: int, s: str, user: str) -> g.Decision:
        """``check`` on a governor that never ran a call, with the same policy, blocks and store."""
        setup = self.governor.setup
        checker = g.Governor(setup.policy, store=self.store)
        for pattern in self.governor.blocked():
            checker.block(pattern)
        return checker.check(action, {"n": n, "s": s}, {"user": user, "session": SESSION})

    async def call(self, action: str, n: int, s: str, user: str) -> None:
        expected = self.fresh_check(action, n, s, user)
        tool, before, seen = self.tools[action], len(self.ran), len(self.records)
        with g.context(user=user, session=SESSION):
            try:
                result = tool(n, s=s)
                if inspect.isawaitable(result):
                    result = await result
                outcome: Outcome = ("returned", result)
            except g.ActionDenied as exc:
                d = exc.decision
                outcome = ("denied", type(exc).__name__, d.effect, d.decided, d.rule_id, d.reason)
            except ValueError as exc:
                outcome = ("raised", type(exc).__name__)
        outcome += (self.ran[before:],)
        records = [r for r in self.records[seen:] if r.kind == "call" and r.enforced]
        self.calls.append((outcome, expected, records))

    async def play(self, policies: tuple[g.Policy, g.Policy], steps: list[tuple[Any, ...]]) -> None:
        current = 0
        for step in steps:
            if step[0] == "call":
                await self.call(*step[1:])
            elif step[0] == "block":
                self.governor.block(step[1])
            elif step[0] == "unblock":
                self.governor.unblock(step[1])
            else:
                current = 1 - current
                self.governor.policy = policies[current]


def _played(
    policies: tuple[g.Policy, g.Policy],
    asynchronous: frozenset[str],
    steps: list[tuple[Any, ...]],
    *,
    recorded: bool,
) -> Run:
    run = Run(policies[0], asynchronous, recorded=recorded)
    asyncio.run(run.play(policies, steps))
    return run


def _foreseen(outcome: Outcome, check: g.Decision, n: int) -> None:
    """What ``check`` said is what the call got (before an approver answered)."""
    if outcome[0] == "denied":
        _, kind, effect, decided, rule_id, reason = outcome[:6]
        assert (effect, decided, rule_id) == (g.Effect.DENY, check.effect, check.rule_id)
        if check.effect is g.Effect.REQUIRE_APPROVAL:
            assert kind == "ApprovalDenied" and reason.startswith(f"{check.reason}; ")
        else:
            assert (kind, reason) == ("ActionDenied", check.reason)
        assert outcome[-1] == []  # the tool did not run
    else:
        assert check.effect is g.Effect.ALLOW or (check.effect is g.Effect.REQUIRE_APPROVAL and n % 2 == 0)
        assert len(outcome[-1]) == 1  # it ran, once


def _recorded(outcome: Outcome, check: g.Decision, records: list[g.AuditRecord]) -> None:
    """The records of the full flow say what the call got."""
    if outcome[0] == "denied":
        (record,) = records
        assert record.outcome is g.Outcome.NOT_RUN
        assert (record.effect, record.rule_id, record.reason) == ("deny", outcome[4], outcome[5])
    else:
        started, ended = records
        assert started.outcome is g.Outcome.STARTED
        assert ended.outcome is (g.Outcome.RETURNED if outcome[0] == "returned" else g.Outcome.RAISED)
        assert started.effect == ended.effect == "allow"
        assert started.rule_id == ended.rule_id == (check.rule_id or "")
        if check.effect is g.Effect.ALLOW:
            assert started.reason == check.reason
        else:
            assert started.reason.startswith(f"{check.reason}; ")
    assert all(r.decided == check.effect.value for r in records)


def _usage(run: Run, policies: tuple[g.Policy, g.Policy]) -> list[Any]:
    """What the store counts under every limit, for every key the calls could make."""
    found = []
    for rule in (*policies[0].rules, *policies[1].rules):
        if rule.limit is None:
            continue
        for s in WORDS:
            for user in USERS:
                call = Call(rule.action, MappingProxyType({"n": 0, "s": s}), MappingProxyType({"user": user}))
                found.append(run.store.usage(rule.limit.key_for(rule.counter, call), rule.limit.window))
    return found


def _case(
    rules: list[g.Rule], steps: list[tuple[Any, ...]], asynchronous: str = ""
) -> Callable[[Test], Test]:
    """A scenario every run tries, whatever Hypothesis draws."""
    policy = g.Policy(rules)
    add: Callable[[Test], Test] = example(((policy, policy), frozenset(asynchronous), steps))
    return add


class TestOnePath:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_scenario())
    # A tool that raised used none of its limit, sync or async.
    @_case(
        [g.allow("a"), g.deny("a", limit=g.budget("n", UNLUCKY + 1, per="1h"), id="budget")],
        [("call", "a", UNLUCKY, "x", "ann"), ("call", "a", 2, "x", "ann"), ("call", "a", 1, "x", "ann")],
    )
    @_case(
        [g.allow("a"), g.require_approval("a", limit=g.rate(1, per="1h"), id="rate")],
        [("call", "a", UNLUCKY, "x", "ann"), ("call", "a", 1, "x", "ann"), ("call", "a", 2, "x", "ann")],
        asynchronous="a",
    )
    # A call over one limit holds none of the others.
    @_case(
        [
            g.allow("a"),
            g.deny("a", limit=g.rate(1, per="1h", key=g.ctx("user")), id="per-user"),
            g.deny("a", limit=g.rate(1, per="1h", key=g.arg("s")), id="per-word"),
        ],
        [("call", "a", 1, "x", "ann"), ("call", "a", 1, "y", "ann"), ("call", "a", 1, "y", "bob")],
    )
    # A call that after(...) asks about is noted, even when allowed with nothing to record.
    @_case(
        [g.allow("*"), g.deny("b", when=g.after("a", within="1h"), id="a-then-b")],
        [("call", "b", 1, "x", "ann"), ("call", "a", 1, "x", "ann"), ("call", "b", 1, "x", "ann")],
    )
    # The kill switch stands above the fast exit, and lifting it restores it.
    @_case(
        [g.allow("a"), g.allow("b")],
        [("block", "b*"), ("call", "b", 1, "x", "ann"), ("unblock", "b*"), ("call", "b", 1, "x", "ann")],
        asynchronous="b",
    )
    def test_fast_exit_and_full_flow_decide_alike(
        self, scenario: tuple[tuple[g.Policy, g.Policy], frozenset[str], list[tuple[Any, ...]]]
    ) -> None:
        """A governor whose allowed calls take the fast exit and one whose calls take the whole
        flow decide every call alike, ``check`` foresees each decision, and the records agree."""
        policies, asynchronous, steps = scenario
        fast = _played(policies, asynchronous, steps, recorded=False)
        full = _played(policies, asynchronous, steps, recorded=True)
        calls = [step for step in steps if step[0] == "call"]
        assert len(fast.calls) == len(full.calls) == len(calls)
        for step, (outcome, check, _), (full_outcome, full_check, records) in zip(
            calls, fast.calls, full.calls, strict=True
        ):
            assert outcome == full_outcome, step
            assert (check.effect, check.rule_id, check.reason) == (
                full_check.effect,
                full_check.rule_id,
                full_check.reason,
            )
            _foreseen(outcome, check, step[2])
            _recorded(full_outcome, full_check, records)
        assert fast.records == []
        assert _usage(fast, policies) == _usage(full, policies)

    def test_the_fast_exit_is_taken(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without sinks, an allowed call with or without limits never starts the flow; with a
        sink, every call does: the property above compares the two paths, not one with itself."""
        import guardrails.runtime.decorator as decorator
        from guardrails.runtime.flow import call_flow as real

        flows: list[g.Decision] = []

        def counting(setup: Setup, decision: g.Decision, *rest: Any) -> Any:
            flows.append(decision)
            return real(setup, decision, *rest)

        monkeypatch.setattr(decorator, "call_flow", counting)
        policy = g.Policy([g.allow("a"), g.allow("b"), g.deny("b", limit=g.rate(5, per="1h"), id="rate")])
        fast = Run(policy, frozenset({"b"}), recorded=False)
        asyncio.run(fast.play((policy, policy), [("call", "a", 1, "x", "ann"), ("call", "b", 1, "x", "ann")]))
        assert flows == []
        full = Run(policy, frozenset({"b"}), recorded=True)
        asyncio.run(full.play((policy, policy), [("call", "a", 1, "x", "ann"), ("call", "b", 1, "x", "ann")]))
        assert len(flows) == 2


class TestOptions:
    def test_declared_once(self) -> None:
        """The typed options are the checked ones, and each sets a field of ``Setup``."""
        assert set(get_type_hints(Options)) == set(OPTIONS)
        assert set(get_type_hints(KeywordOptions)) < set(OPTIONS)
        fields = set(get_type_hints(Setup))
        assert all(field in fields for field, _ in OPTIONS.values())

    @pytest.mark.parametrize("name", sorted(OPTIONS))
    def test_every_option_is_checked_everywhere(self, name: str) -> None:
        """``Governor(...)``, ``gov.configure(...)`` and ``guardrails.configure(...)`` check an
        option alike, with the same message, and change nothing when it is bad."""
        bad: Any = object() if name not in ("audit", "untrusted") else [object()]
        messages = []
        for attempt in (
            lambda: g.Governor(**{name: bad}),
            lambda: g.Governor().configure(**{name: bad}),
            lambda: g.configure(**{name: bad}),
        ):
            before = g.get_governor().setup
            with pytest.raises(g.ConfigurationError) as info:
                attempt()
            assert g.get_governor().setup is before
            messages.append(str(info.value))
        assert len(set(messages)) == 1 and name in messages[0]

    def test_unknown_options_are_refused(self) -> None:
        """A misspelt option is an error (a ``TypeError``), not ignored."""
        with pytest.raises(TypeError, match="unexpected option 'polcy'"):
            g.Governor().configure(polcy=g.Policy([]))  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="unexpected option 'mod'"):
            g.Governor(mod="shadow")  # type: ignore[call-arg]
