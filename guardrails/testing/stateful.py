"""Judging the rules that read a store — limits, ``after(...)`` — outside a running
governor: a fresh ``MemoryStore`` of its own, fed what came before.

``Policy.evaluate`` leaves such rules out: what they decide depends on the calls
before. Case files (``usage``, ``prior_calls``), ``explain --usage`` and ``replay``
judge them here with the governor's own limiter, so a limited rule decides as it
would in a running program::

    sim = Simulation(policy)
    call = make_call("send_email", {"to": "a@acme.com"}, {"user": "alice"})
    sim.use("mail-rate", 5, call)        # the rule's counter for alice already holds 5
    judged = sim.judge(call)             # the decision, and how each limit stood
    judged.decision.rule_id              # "mail-rate" when 5 + 1 is over its limit

``start`` and ``finish`` run calls through it in order, as a governor would:
a call that would run is counted against its limits and noted for ``after(...)``;
one denied (or needing an approval nobody gave) counts for nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from guardrails.call import Call
from guardrails.errors import PolicyError
from guardrails.policy.decision import Decision, RuleOutcome
from guardrails.policy.evaluate import Policy
from guardrails.policy.rules import PRECEDENCE, Effect, Rule
from guardrails.runtime.limiter import Limiter, token_for
from guardrails.runtime.notes import note
from guardrails.state.memory import MemoryStore
from guardrails.state.store import EXACT, Entry, Held, Store

__all__ = [
    "Judged",
    "LimitState",
    "PriorCall",
    "Simulation",
    "countable",
    "judge_with_state",
    "make_call",
    "number",
]


def make_call(
    action: str,
    args: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    call_id: str | None = None,
) -> Call:
    """A ``Call`` as a governed tool would make it (read-only copies of ``args`` and ``context``)."""
    return Call(action, MappingProxyType(dict(args or {})), MappingProxyType(dict(context or {})), call_id)


def number(value: Decimal) -> str:
    """``500`` for ``Decimal("500.00")``: amounts as people write them, every digit kept
    (never rounded); one with more than ``_WIDEST`` zeros to write out (``1E+999999``)
    keeps its exponent."""
    if not value.is_finite():
        return str(value)
    exact = Context(prec=max(len(value.as_tuple().digits), 1), Emax=MAX_EMAX, Emin=MIN_EMIN)
    plain = value.normalize(exact)
    exponent = plain.as_tuple().exponent
    return format(plain, "f") if isinstance(exponent, int) and abs(exponent) <= _WIDEST else str(plain)


#: The most zeros ``number`` writes out before it writes an exponent instead.
_WIDEST = 64


def countable(amount: Decimal) -> Decimal:
    """``amount`` if the state stores can count it: they add exactly (``EXACT``: at most
    60 significant digits, an exponent within about ±999999) or fail, which denies the
    call. Raises ``ValueError`` saying that rule when they cannot."""
    try:
        EXACT.plus(amount)
    except ArithmeticError:
        raise ValueError(
            f"{number(amount)} cannot be counted: the state store adds amounts exactly (at most "
            f"{EXACT.prec} significant digits, an exponent from {EXACT.Emin} to {EXACT.Emax})"
        ) from None
    return amount


@dataclass(frozen=True)
class LimitState:
    """How a rule with a limit stood for one call: what its counter held for the
    call's key (``used``) and what the call adds (``amount``); ``why`` instead
    when the limit was not counted (its condition does not hold, or the key or
    amount cannot be made — the rule then applies: it fails closed)."""

    rule: Rule
    used: Decimal | None = None
    amount: Decimal | None = None
    why: str | None = None

    @property
    def over(self) -> bool:
        """Whether this call would take the counter over the limit (the rule applies); the
        sum is the store's, exact (one the store cannot add exactly denies the call)."""
        limit = self.rule.limit
        if limit is None or self.used is None or self.amount is None:
            return False
        total = self.total
        return total is None or total > limit.maximum

    @property
    def total(self) -> Decimal | None:
        """``used + amount`` as the store adds it; None when it cannot be added exactly
        (or was not counted)."""
        if self.used is None or self.amount is None:
            return None
        try:
            return EXACT.add(self.used, self.amount)
        except ArithmeticError:
            return None

    def __str__(self) -> str:
        limit = self.rule.limit
        assert limit is not None
        head = f"limit {limit.describe()}"
        if self.why is not None or self.used is None or self.amount is None:
            return f"{head}: {self.why}"
        total = f"{number(self.used)} used + {number(self.amount)} this call"
        if self.total is None:
            return (
                f"{head}: {total} cannot be added exactly (at most {EXACT.prec} significant digits): "
                "the store fails, and the call is denied"
            )
        if self.over:
            return f"{head}: {total} > {number(limit.maximum)}: over the limit, the rule applies"
        return f"{head}: {total} <= {number(limit.maximum)}: within the limit, the rule does not apply"


@dataclass(frozen=True)
class Judged:
    """A call judged with the store: the decision (every rule considered, stateful
    ones included, in its outcomes) and how each rule with a limit stood."""

    decision: Decision
    limits: tuple[LimitState, ...] = ()

    def notes(self) -> dict[str, str]:
        """What ``Decision.explain`` shows under each limited rule, by rule id."""
        return {state.rule.id: str(state) for state in self.limits}

    def explain(self) -> str:
        """The decision explained, with each limit's standing under its rule."""
        return self.decision.explain(self.notes())


class Simulation:
    """A policy judged with a fresh in-memory store, as a governor with a ``MemoryStore``
    would judge it; the clock is the simulation's (``at``)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        #: When the simulation starts: a case's call is judged at this time.
        self.origin = time.time()
        self.now: float | None = None
        self.store = MemoryStore(clock=self._clock)
        self._running: dict[str, Limiter] = {}
        self._used = 0

    def _clock(self) -> float:
        return self.origin if self.now is None else self.now

    def at(self, when: float) -> None:
        """Move the clock to ``when``; never back (the store keeps its counts in time order)."""
        self.now = when if self.now is None else max(self.now, when)

    def use(self, rule_id: str, amount: Decimal | int | float | str, call: Call) -> None:
        """Put ``amount`` (calls for a rate, the argument's sum for a budget) on the counter
        of rule ``rule_id``'s limit under the key ``call`` makes, as if earlier calls had used
        it. Raises ``PolicyError`` when no rule with a limit of that id applies to the call's
        action, or the key cannot be made from the call."""
        rule = self._limited(rule_id, call.action)
        limit = rule.limit
        assert limit is not None
        try:
            key = limit.key_for(rule.counter, call)
        except Exception as exc:  # noqa: BLE001 - told as the usage's problem
            raise PolicyError(
                f"usage of {rule_id!r}: the key of {limit.describe()} cannot be made: {exc}"
            ) from None
        self._used += 1
        token = f"usage:{self._used}"
        entry = Entry(key, limit.window, limit.maximum, _amount(amount, rule_id))
        try:
            self.store.force(token, [entry])
        except ArithmeticError:
            raise PolicyError(
                f"usage of {rule_id!r}: {number(entry.amount)} cannot be added exactly to what its counter "
                f"holds ({number(self.store.usage(key, limit.window))}): the state store adds at most "
                f"{EXACT.prec} significant digits"
            ) from None
        self.store.commit(token, [key])

    def _limited(self, rule_id: str, action: str) -> Rule:
        for rule in self.policy.stateful_for(action):
            if rule.id == rule_id and rule.limit is not None:
                return rule
        named = next((r for r in self.policy.rules if r.id == rule_id), None)
        if named is None:
            known = [r.id for r in self.policy.stateful_for(action) if r.limit is not None]
            hint = f"; rules with a limit on {action!r}: {', '.join(known)}" if known else ""
            raise PolicyError(f"usage names rule {rule_id!r}, which the policy does not have{hint}")
        if named.limit is None:
            raise PolicyError(f"usage names rule {rule_id!r}, which has no limit")
        raise PolicyError(f"usage names rule {rule_id!r}, whose action {named.action!r} is not {action!r}")

    def judge(self, call: Call) -> Judged:
        """What a governor would decide on ``call`` now; nothing is counted."""
        pure = self.policy.decide(call)
        stateful = self.policy.stateful_for(call.action)
        if not stateful:
            return Judged(pure)
        # What Limiter.peek says, with the sum the store makes (exact, never rounded).
        peeking = Limiter(_ExactPeek(self.store), stateful, call, history=self.store)  # type: ignore[arg-type]
        judged = peeking.decide(pure)
        peeking.settled = True  # it reserved nothing: nothing to give back
        states = tuple(self.state(rule, call) for rule in stateful if rule.limit is not None)
        return Judged(_every_rule(judged, pure, stateful), states)

    def state(self, rule: Rule, call: Call) -> LimitState:
        """How ``rule``'s limit stands for ``call`` now."""
        limit = rule.limit
        assert limit is not None
        try:
            if rule.when is not None and not rule.when(call.reading(self.store)):
                return LimitState(rule, why="its condition does not hold, so the call is not counted")
            key = limit.key_for(rule.counter, call)
            amount = limit.amount(call)
        except Exception as exc:  # noqa: BLE001 - the rule applies: say why
            return LimitState(rule, why=f"cannot be counted ({type(exc).__name__}: {exc}): the rule applies")
        return LimitState(rule, self.store.usage(key, limit.window), amount)

    def start(self, call: Call, *, approved: bool = False) -> Decision:
        """Judge ``call`` as a governor would; when it would run, count its share of its
        limits (held until ``finish``) and note it for ``after(...)``. A call needing
        approval runs when ``approved``; a denied one counts for nothing."""
        decision = self.policy.decide(call)
        stateful = self.policy.stateful_for(call.action)
        limiter = Limiter(self.store, stateful, call, record=False) if stateful else None
        if limiter is not None:
            decision = limiter.decide(decision)
        runs = decision.allowed or (approved and decision.effect is Effect.REQUIRE_APPROVAL)
        if not runs:
            if limiter is not None:
                limiter.release()
            return decision
        if limiter is not None and not decision.allowed:
            limiter.approved()  # a person let it go over its limits: it counts anyway
        noted = self.policy.noted_for(call.action)
        if noted:
            note(self.store, token_for(call) if limiter is None else limiter.token, noted, call)
        if limiter is not None:
            self._running[call.call_id] = limiter
        return decision

    def finish(self, call_id: str, *, returned: bool = True) -> None:
        """The tool of a started call returned (its share stays used) or raised (given back)."""
        limiter = self._running.pop(call_id, None)
        if limiter is not None:
            (limiter.commit if returned else limiter.release)()

    def run(self, call: Call, *, approved: bool = False) -> Decision:
        """``start`` then ``finish``: the call ran and returned, if it would run."""
        decision = self.start(call, approved=approved)
        self.finish(call.call_id)
        return decision


@dataclass(frozen=True)
class PriorCall:
    """A call run before a case's call (``times`` times, ``ago`` seconds before it);
    action, args and context left out of the file are the case's."""

    action: str
    args: Mapping[str, Any]
    context: Mapping[str, Any]
    times: int = 1
    ago: float = 0.0
    approved: bool = False


def judge_with_state(
    policy: Policy,
    action: str,
    args: Mapping[str, Any],
    context: Mapping[str, Any],
    usage: Mapping[str, Decimal | int | float | str] | None = None,
    prior_calls: Sequence[PriorCall] = (),
) -> Judged:
    """A call judged as a governor with a fresh store would judge it after ``prior_calls``
    (oldest first) and with ``usage`` on the counters of limited rules. Raises
    ``PolicyError`` when the usage names no limited rule of the action."""
    simulation = Simulation(policy)
    for prior in sorted(prior_calls, key=lambda p: -p.ago):  # oldest first; ties in file order
        simulation.at(simulation.origin - prior.ago)
        for _ in range(prior.times):
            simulation.run(make_call(prior.action, prior.args, prior.context), approved=prior.approved)
    simulation.at(simulation.origin)
    call = make_call(action, args, context)
    for rule_id, amount in (usage or {}).items():
        simulation.use(rule_id, amount, call)
    return simulation.judge(call)


def _every_rule(judged: Decision, pure: Decision, stateful: Sequence[Rule]) -> Decision:
    """``judged`` with every stateful rule in its outcomes (those that do not apply as
    not matched), all in precedence order: what ``explain`` lists."""
    applying = {rule.id: (matched, error) for rule, matched, error in judged.outcomes[len(pure.outcomes) :]}
    outcomes: list[RuleOutcome] = list(pure.outcomes)
    outcomes += [(rule, *applying.get(rule.id, (False, None))) for rule in stateful]
    outcomes.sort(key=lambda outcome: (PRECEDENCE[outcome[0].effect], outcome[0].id))
    return judged.replace(outcomes=tuple(outcomes))


def _amount(value: Decimal | int | float | str, rule_id: str) -> Decimal:
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        amount = Decimal("NaN")
    if isinstance(value, bool) or not amount.is_finite() or amount < 0:
        raise PolicyError(f"usage of {rule_id!r} must be a number of at least 0, got {value!r}")
    try:
        return countable(amount)
    except ValueError as exc:
        raise PolicyError(f"usage of {rule_id!r}: {exc}") from None


class _ExactPeek:
    """A store that reserves nothing: what the real one would answer now, adding as it
    adds (``EXACT``: a sum it cannot make exactly raises, and the limiter denies)."""

    __slots__ = ("store",)

    def __init__(self, store: Store) -> None:
        self.store = store

    def __repr__(self) -> str:  # what a reason says of a store that failed: the real one
        return repr(self.store)

    def reserve(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        usage = self.store.usage
        return ["over" if EXACT.add(usage(e.key, e.window), e.amount) > e.limit else "held" for e in entries]
