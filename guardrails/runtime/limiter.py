"""The stateful rules of one call: judge them with the store; reserve the call's
share of each limit when decided, keep or give it back after.

A rule with a limit that the call would take over applies (deny or require
approval), as does one whose ``after(...)`` condition holds; a store that
fails denies the call, saying so. The token is the
framework's tool-call id when the context has one (``context(tool_call_id=...)``),
so a call re-run on resume is counted once.

``Limiter`` judges for the flow (and peeks for ``Governor.check``); the flow's
fast exit only reserves (``reserve_quickly``), and its drivers run the tool with
the share held (``guardrails.runtime.drivers.run_reserved``). Both settle
through ``settle``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from guardrails._text import brief, json_text
from guardrails.errors import StoreError
from guardrails.policy.decision import Decision
from guardrails.policy.rules import PRECEDENCE, Effect, Rule
from guardrails.state import Entry, Held, Store
from guardrails.state.store import EXACT

if TYPE_CHECKING:
    from guardrails.call import Call

__all__ = ["Limiter", "Reserved", "held_keys", "reserve_quickly", "settle", "token_for"]

logger = logging.getLogger("guardrails")


def entry_for(rule: Rule, call: Call) -> Entry:
    """This call's share of the counter of ``rule``'s limit, under the key its values make."""
    limit = rule.limit
    assert limit is not None
    return Entry(limit.key_for(rule.counter, call), limit.window, limit.maximum, limit.amount(call))


def token_for(call: Call) -> str:
    """What a call counts as in the store: its tool-call id when the context has
    one, so a re-run is counted once, else its call id."""
    tool_call_id = call.context.get("tool_call_id")
    if isinstance(tool_call_id, (str, int)) and not isinstance(tool_call_id, bool):
        # A re-run is the same tool call with the same action and arguments:
        # another action or other arguments under that id are another use.
        digest = hashlib.sha256(json_text([call.action, dict(call.args)]).encode()).hexdigest()[:24]
        return f"{tool_call_id}|{digest}"
    return call.call_id


class Limiter:
    """The counters one call adds to, and what became of its reservations."""

    __slots__ = (
        "store",
        "reads",
        "record",
        "rules",
        "call",
        "token",
        "entries",
        "held",
        "over",
        "outcomes",
        "settled",
    )

    def __init__(
        self,
        store: Store,
        rules: Sequence[Rule],
        call: Call,
        *,
        record: bool = True,
        history: Store | None = None,
    ) -> None:
        self.store = store
        self.reads = store if history is None else history  # what after(...) reads
        self.record = record  # build what audit records tell only when there are sinks
        self.rules = rules
        self.call = call
        self.token = token_for(call)
        self.entries: list[tuple[Rule, Entry]] = []
        self.held: list[str] = []  # keys this call reserved, to commit or release
        self.over: list[tuple[Rule, Entry]] = []
        self.outcomes: list[dict[str, Any]] = []  # what the audit record says of each limit
        self.settled = False

    def decide(self, decision: Decision) -> Decision:
        """Judge the stateful rules: those whose condition holds (reading the store for
        ``after(...)``) and that have no limit apply; for those with a limit, reserve the
        call's share. The decision becomes the strongest of ``decision`` and the rules
        that apply."""
        held_true: list[Rule] = []
        failed: list[tuple[Rule, str]] = []
        broken = self._conditions(self.call.reading(self.reads), held_true, failed)
        if broken is None and self.entries:
            broken = self._reserve()
        if broken is not None:
            return self._store_failed(decision, *broken)
        # (rule, what to add to its reason, the evaluation error if any)
        applying: list[tuple[Rule, str, str | None]] = [(rule, "", None) for rule in held_true]
        applying += [(rule, _limit_reached(rule), None) for rule, _ in self.over]
        applying += [(rule, f" (could not be checked: {why})", why) for rule, why in failed]
        return self._strongest(decision, applying) if applying else decision

    def _conditions(
        self, reading: Call, held_true: list[Rule], failed: list[tuple[Rule, str]]
    ) -> tuple[Rule, str] | None:
        """Judge each rule's condition: one without a limit that holds goes to ``held_true``,
        one with a limit has its share put in ``entries``, one that cannot be evaluated goes to
        ``failed`` (it applies: fail closed). Returns the rule and why when the store failed."""
        for rule in self.rules:
            try:
                if rule.when is None or rule.when(reading):
                    if rule.limit is None:
                        held_true.append(rule)
                    else:
                        self.entries.append((rule, entry_for(rule, self.call)))
            except StoreError as exc:
                return rule, str(exc)
            except Exception as exc:  # noqa: BLE001 - fail closed: the rule applies
                failed.append((rule, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__))
        return None

    def _reserve(self) -> tuple[Rule, str] | None:
        """Reserve the shares in ``entries``; returns the rule and why when the store failed."""
        entries = [entry for _, entry in self.entries]
        try:
            results = self.store.reserve(self.token, entries)
        except Exception as exc:  # noqa: BLE001 - a store that fails denies the call
            why = f"the state store {brief(self.store)} failed, so the limit cannot be checked ({exc})"
            return self.entries[0][0], why
        self.held += held_keys(entries, results)
        for (rule, entry), result in zip(self.entries, results, strict=True):
            if self.record:
                self.outcomes.append(self._outcome(rule, entry, result))
            if result in ("over", "busy"):  # busy: the same call is under way: wait for it
                self.over.append((rule, entry))
        return None

    def _strongest(self, decision: Decision, applying: list[tuple[Rule, str, str | None]]) -> Decision:
        """The strongest of ``decision`` and the rules that apply, with their outcomes added."""
        rule, why, _ = min(applying, key=lambda item: (PRECEDENCE[item[0].effect], item[0].id))
        results = (*decision.outcomes, *((r, True, error) for r, _, error in applying))
        if decision.effect is not Effect.ALLOW and PRECEDENCE[decision.effect] <= PRECEDENCE[rule.effect]:
            return decision.replace(outcomes=results)  # already as strong: the rule that decided stays
        return Decision(
            rule.effect,
            rule,
            self.call,
            results,
            f"{rule.reason}{why}",
            version=decision.version,
            enforced=decision.enforced,
        )

    def _store_failed(self, decision: Decision, rule: Rule, why: str) -> Decision:
        """A store that fails denies the call, saying so; nothing stays reserved."""
        self.outcomes = [self._outcome(r, e, "store failed") for r, e in self.entries]
        self.settled = True
        return decision.replace(
            effect=Effect.DENY,
            rule=rule,
            reason=f"{rule.reason}: {why}",
            outcomes=(*decision.outcomes, (rule, True, why)),
            decided=Effect.DENY,
        )

    def peek(self, decision: Decision) -> Decision:
        """What ``decide`` would say now, reserving nothing (for ``Governor.check``)."""
        peeking = Limiter(_Peek(self.store), self.rules, self.call, history=self.store)  # type: ignore[arg-type]
        result = peeking.decide(decision)
        peeking.settled = True  # it reserved nothing: nothing to give back
        return result

    def approved(self) -> None:
        """A person let the call go over its limits: count it anyway."""
        if self.over:
            entries = [entry for _, entry in self.over]
            self.held += held_keys(entries, self.store.force(self.token, entries))  # busy stays busy
            for outcome in self.outcomes:
                if outcome["result"] == "over":
                    outcome["result"] = "approved over"

    def commit(self) -> None:
        """The tool ran: its reservations are used."""
        self._settle("commit")

    def release(self) -> None:
        """The tool did not run, or failed: give its reservations back."""
        self._settle("release")

    def _settle(self, how: str) -> None:
        if self.settled:
            return
        self.settled = True
        if not self.held:
            return
        settle(self.store, how, self.token, self.held, self.call)
        for outcome in self.outcomes:
            if outcome["result"] in ("held", "approved over"):
                outcome["result"] = "used" if how == "commit" else "released"

    @staticmethod
    def _outcome(rule: Rule, entry: Entry, result: str) -> dict[str, Any]:
        return {
            "rule_id": rule.id,
            "key": entry.key,
            "amount": str(entry.amount),
            "limit": str(entry.limit),
            "window": entry.window,
            "result": result,
        }


class _Peek:
    """A store that reserves nothing: it says what the real one would answer now."""

    __slots__ = ("store",)

    def __init__(self, store: Store) -> None:
        self.store = store

    def reserve(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        usage = self.store.usage
        # The store's exact sum: the default decimal context would round past 28 digits.
        return ["over" if EXACT.add(usage(e.key, e.window), e.amount) > e.limit else "held" for e in entries]


#: What the fast exit reserved for a call: (store, token, keys held, call).
Reserved: TypeAlias = "tuple[Store, str, list[str], Call]"


def reserve_quickly(store: Store, rules: Sequence[Rule], call: Call) -> Reserved | None:
    """The flow's fast exit for an allowed call with limits and nothing to record: its
    share of every limit, reserved, to run the tool with (``drivers.run_reserved``); or None when
    the full flow must judge the call (a limit reached, a twin under way, a condition that
    cannot be evaluated, a store that fails), and nothing stays held."""
    entries: list[Entry] = []
    try:
        for rule in rules:
            if rule.when is None or rule.when(call):
                entries.append(entry_for(rule, call))
    except Exception:  # noqa: BLE001 - the full flow says why the rule applies
        return None
    token = token_for(call)
    if not entries:
        return store, token, [], call
    try:
        results = store.reserve(token, entries)
    except Exception:  # noqa: BLE001 - the full flow tries again and denies
        return None
    # held_keys written out: on the hot path its call would cost as much as the comprehension
    keys = [entry.key for entry, result in zip(entries, results, strict=True) if result == "held"]
    if "over" in results or "busy" in results:
        settle(store, "release", token, keys, call)
        return None
    return store, token, keys, call


def held_keys(entries: Sequence[Entry], results: Sequence[Held]) -> list[str]:
    """The keys of the entries the store held (not over, busy or already counted)."""
    return [entry.key for entry, result in zip(entries, results, strict=True) if result == "held"]


def _limit_reached(rule: Rule) -> str:
    """What a limit reached adds to its rule's reason (the limit itself when the reason is the author's)."""
    limit = rule.limit
    return (
        " (limit reached)"
        if rule.given_reason is None or limit is None
        else f" (limit reached: {limit.describe()})"
    )


def settle(store: Store, how: str, token: str, keys: list[str], call: Call) -> None:
    """Commit or release ``keys``; a store that fails is logged (the use stays reserved)."""
    if not keys:
        return
    try:
        (store.commit if how == "commit" else store.release)(token, keys)
    except Exception:
        # Reserved use stays counted until its window passes: too strict for a
        # while, never too loose.
        logger.exception("state store %s failed to %s call %s", brief(store), how, call.call_id)
