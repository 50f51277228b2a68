"""``Policy``: rules indexed by action, judged purely and in constant order."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from fnmatch import translate
from types import MappingProxyType
from typing import Any

from guardrails.call import EMPTY, Call
from guardrails.decision import Decision, RuleOutcome
from guardrails.errors import EvaluationError, PolicyError
from guardrails.rules import PRECEDENCE, Effect, Rule, parse_effect
from guardrails.values import show

__all__ = ["Policy"]

_CACHE_LIMIT = 4096

#: The deciding rule (or None) and every rule's outcome, in precedence order.
Judgement = tuple["Rule | None", tuple[RuleOutcome, ...]]


class Policy:
    """An immutable set of rules with a default effect.

    Rules are indexed when the policy is built: exact action names in a dict,
    globs compiled once, and the rules that apply to an action are looked up
    once and cached, so judging a call costs the same however many rules
    other actions have.

    Judging is pure and order-independent: among the rules whose condition
    holds, deny beats require_approval beats allow; with none, ``default``
    (deny unless set otherwise). A condition that cannot be evaluated makes a
    deny or require-approval rule apply and an allow rule not apply.
    """

    __slots__ = ("rules", "default", "_exact", "_globs", "_cache", "_default_reason")

    def __init__(
        self,
        rules: Iterable[Rule] = (),
        default: Effect | str = Effect.DENY,
        *,
        default_reason: str | None = None,
    ) -> None:
        if isinstance(rules, Rule) or not isinstance(rules, Iterable):
            raise PolicyError(f"Policy takes a list of rules, got {show(rules)}")
        self.default = parse_effect(default, "policy default")
        self._default_reason = default_reason
        self.rules: tuple[Rule, ...] = _with_unique_ids(rules)
        self._exact: dict[str, list[Rule]] = {}
        self._globs: list[tuple[re.Pattern[str], Rule]] = []
        for rule in self.rules:
            if rule.is_glob:
                self._globs.append((re.compile(translate(rule.action)), rule))
            else:
                self._exact.setdefault(rule.action, []).append(rule)
        self._cache: dict[str, Callable[[Call], Judgement]] = {}

    def rules_for(self, action: str) -> tuple[Rule, ...]:
        """The rules that apply to ``action``, in the order they are judged."""
        matching = list(self._exact.get(action, ()))
        matching += [rule for pattern, rule in self._globs if pattern.match(action)]
        # Precedence first, then id: the order rules were written never matters.
        return tuple(sorted(matching, key=lambda r: (PRECEDENCE[r.effect], r.id)))

    def evaluate(
        self,
        action: str,
        args: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Judge a call of ``action`` with ``args`` (by name) in ``context``. Pure."""
        if not isinstance(action, str):
            raise TypeError(f"action must be a string, got {show(action)}")
        return self.decide(
            Call(
                action,
                MappingProxyType(dict(args)) if args else EMPTY,
                MappingProxyType(dict(context)) if context else EMPTY,
            )
        )

    def decide(self, call: Call) -> Decision:
        """Judge a prepared ``Call``."""
        return self.decision(call, *self.judge(call))

    def decision(self, call: Call, winner: Rule | None, outcomes: tuple[RuleOutcome, ...]) -> Decision:
        """The ``Decision`` for what ``judge`` found."""
        if winner is None:
            return Decision(self.default, None, call, outcomes, self._default_reason)
        return Decision(winner.effect, winner, call, outcomes)

    def judge(self, call: Call) -> Judgement:
        """The deciding rule (None: the default decides) and how every rule fared.

        The hot path of every governed call; ``decide`` wraps it in a ``Decision``.
        """
        judge = self._cache.get(call.action)
        if judge is None:
            judge = self.judge_for(call.action)
        return judge(call)

    def judge_for(self, action: str) -> Callable[[Call], Judgement]:
        """The function that judges calls of ``action``, compiled once per action."""
        judge = self._cache.get(action)
        if judge is not None:
            return judge
        judge = _compile_judge(self.rules_for(action))
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[action] = judge
        return judge

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return f"<Policy {len(self.rules)} rules, default={self.default.value}>"


def _compile_judge(rules: tuple[Rule, ...]) -> Callable[[Call], Judgement]:
    """A function judging a call against ``rules`` (already in precedence order)."""
    if not rules:
        nothing: Judgement = (None, ())
        return lambda call: nothing
    if len(rules) == 1:
        return _judge_one(rules[0])

    def judge(call: Call) -> Judgement:
        outcomes = [_outcome(rule, call) for rule in rules]
        for outcome in outcomes:
            if outcome[1]:
                return outcome[0], tuple(outcomes)  # precedence order: the first match wins
        return None, tuple(outcomes)

    return judge


def _judge_one(rule: Rule) -> Callable[[Call], Judgement]:
    # The common case of one rule per tool, without the loop: this is most
    # of what a governed call costs.
    when = rule.when
    matched: Judgement = (rule, (rule.matched,))
    if when is None:
        return lambda call: matched
    unmatched: Judgement = (None, (rule.unmatched,))

    def judge(call: Call) -> Judgement:
        try:
            if when(call):
                return matched
        except Exception:  # noqa: BLE001 - fail closed, never propagate
            outcome = _outcome(rule, call)
            return (rule if outcome[1] else None), (outcome,)
        return unmatched

    return judge


def _outcome(rule: Rule, call: Call) -> RuleOutcome:
    when = rule.when
    if when is None:
        return rule.matched
    try:
        return rule.matched if when(call) else rule.unmatched
    except Exception as exc:  # noqa: BLE001 - fail closed, never propagate
        return (rule, rule.effect is not Effect.ALLOW, _message(exc))


def _message(exc: Exception) -> str:
    if isinstance(exc, EvaluationError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _with_unique_ids(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """Check the rules; explicit ids must be unique, derived ones get ``#2``..."""
    given = list(rules)
    explicit: set[str] = set()
    for i, rule in enumerate(given):
        if not isinstance(rule, Rule):
            raise PolicyError(f"rules[{i}] is not a Rule: {show(rule)}")
        if rule.explicit_id:
            if rule.id in explicit:
                raise PolicyError(f"rules[{i}]: duplicate rule id {rule.id!r}")
            explicit.add(rule.id)
    seen = set(explicit)
    out: list[Rule] = []
    for rule in given:
        if not rule.explicit_id:
            if rule.id in seen:
                n = 2
                while f"{rule.id}#{n}" in seen:
                    n += 1
                rule = rule.with_id(f"{rule.id}#{n}")
            seen.add(rule.id)
        out.append(rule)
    return tuple(out)
