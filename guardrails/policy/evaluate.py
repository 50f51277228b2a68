"""``Policy``: rules indexed by action, judged purely and in constant order."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from fnmatch import translate
from types import MappingProxyType
from typing import Any

from guardrails._text import show
from guardrails.call import EMPTY, Call
from guardrails.errors import EvaluationError, PolicyError
from guardrails.policy.decision import Decision, RuleOutcome
from guardrails.policy.history import After
from guardrails.policy.redaction import Redaction
from guardrails.policy.rules import PRECEDENCE, Effect, Rule, parse_effect
from guardrails.policy.to_doc import rule_to_doc

__all__ = ["DEFAULT_REDACTION", "Judgement", "Policy", "combined"]

_CACHE_LIMIT = 4096
DEFAULT_REDACTION = Redaction()

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

    ``version`` is a SHA-256 digest of the policy's canonical form (rule order
    aside): every decision carries it.

    ``redact`` says what the audit trail must not keep of a call (a
    ``Redaction``; by default the built-in names and value patterns).

    This is the pure core; ``guardrails.Policy`` adds the document loaders
    (``from_dict``, ``from_file``...).
    """

    __slots__ = (
        "rules",
        "default",
        "redaction",
        "version",
        "_exact",
        "_globs",
        "_cache",
        "_stateful",
        "_noted",
        "_histories",
        "_default_reason",
        "_has_shadow",
    )

    def __init__(
        self,
        rules: Iterable[Rule] = (),
        default: Effect | str = Effect.DENY,
        *,
        default_reason: str | None = None,
        redact: Redaction | None = None,
    ) -> None:
        _not_a_document(rules)
        if isinstance(rules, Rule) or not isinstance(rules, Iterable):
            raise PolicyError(f"Policy takes a list of rules, got {show(rules)}")
        if redact is not None and not isinstance(redact, Redaction):
            raise PolicyError(f"redact must be a Redaction, got {show(redact)}")
        self.default = parse_effect(default, "policy default")
        self.redaction = DEFAULT_REDACTION if redact is None else redact
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
        self._stateful: dict[str, tuple[Rule, ...]] = {}
        self._noted: dict[str, tuple[After, ...]] = {}
        self._histories = tuple(
            {
                h.counter: h
                for rule in self.rules
                if rule.when is not None
                for h in rule.when.histories()
                if isinstance(h, After)
            }.values()
        )
        self._has_shadow = any(rule.shadow for rule in self.rules)
        self.version = _fingerprint(self.default, self.rules, self.redaction)

    # ---- building ----------------------------------------------------------------

    def __add__(self, other: Policy) -> Policy:
        """A policy with the rules of both.

        Since deny beats require_approval beats allow, adding rules can only
        add restrictions or explicit permissions; it never lifts a deny. The
        defaults must agree, and rule ids must not clash.
        """
        if not isinstance(other, Policy):
            return NotImplemented
        if other.default is not self.default:
            raise PolicyError(
                f"cannot combine policies with different defaults ({self.default.value!r} and {other.default.value!r})"
            )
        return type(self)(
            (*self.rules, *other.rules), self.default, redact=combined((self.redaction, other.redaction))
        )

    def to_dict(self) -> dict[str, Any]:
        """The policy as a document; ``Policy.from_dict`` builds it back."""
        doc: dict[str, Any] = {
            "version": 1,
            "default": self.default.value,
            "rules": [rule_to_doc(rule) for rule in self.rules],
        }
        if self.redaction != DEFAULT_REDACTION:
            doc["redact"] = self.redaction.to_doc()
        return doc

    # ---- judging ------------------------------------------------------------------

    def rules_for(self, action: str, *, shadow: bool = False) -> tuple[Rule, ...]:
        """The rules that decide ``action``, in the order they are judged.

        With ``shadow=True``, shadow rules are included as if they enforced.
        """
        matching = list(self._exact.get(action, ()))
        matching += [rule for pattern, rule in self._globs if pattern.match(action)]
        if not shadow:
            matching = [rule for rule in matching if not rule.shadow]
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
            return Decision(self.default, None, call, outcomes, self._default_reason, version=self.version)
        return Decision(winner.effect, winner, call, outcomes, version=self.version)

    def shadow_decision(self, call: Call) -> Decision | None:
        """What the policy would decide if its shadow rules enforced, or None
        when no shadow rule applies to the call's action."""
        if not self._has_shadow:
            return None
        rules = tuple(r for r in self.rules_for(call.action, shadow=True) if not r.stateful)
        if not any(rule.shadow for rule in rules):
            return None
        winner, outcomes = _compile_judge(rules)(call)
        decision = self.decision(call, winner, outcomes)
        return decision.replace(enforced=False)

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
        # Stateful rules need the store: the governor judges them (see ``stateful_for``).
        judge = _compile_judge(tuple(r for r in self.rules_for(action) if not r.stateful))
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[action] = judge
        return judge

    def stateful_for(self, action: str) -> tuple[Rule, ...]:
        """The rules with a limit or an ``after(...)`` condition that apply to ``action``.

        ``evaluate`` does not judge them: what they decide depends on what the
        governor's store holds.
        """
        stateful = self._stateful.get(action)
        if stateful is None:
            stateful = tuple(r for r in self.rules_for(action) if r.stateful)
            if len(self._stateful) < _CACHE_LIMIT:
                self._stateful[action] = stateful
        return stateful

    def noted_for(self, action: str) -> tuple[After, ...]:
        """The ``after(...)`` conditions that ask about calls of ``action``: the governor
        notes such calls in its store before their tool runs."""
        noted = self._noted.get(action)
        if noted is None:
            noted = tuple(h for h in self._histories if h.pattern.match(action))
            if len(self._noted) < _CACHE_LIMIT:
                self._noted[action] = noted
        return noted

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return f"<Policy {len(self.rules)} rules, default={self.default.value}, version={self.version[:12]}>"


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
        except Exception as exc:  # noqa: BLE001 - fail closed, never propagate
            outcome = _failed(rule, exc)
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
        return _failed(rule, exc)


def _failed(rule: Rule, exc: Exception) -> RuleOutcome:
    """A rule whose condition raised: it applies if it restricts, not if it allows."""
    return (rule, rule.effect is not Effect.ALLOW, _message(exc))


def combined(redactions: Iterable[Redaction]) -> Redaction | None:
    combined = None
    for redaction in redactions:
        combined = redaction if combined is None else combined + redaction
    return None if combined == DEFAULT_REDACTION else combined


def _fingerprint(default: Effect, rules: tuple[Rule, ...], redaction: Redaction) -> str:
    canonical: dict[str, Any] = {
        "default": default.value,
        "rules": sorted(
            ({**rule_to_doc(rule, callables=True), "shadow": rule.shadow} for rule in rules),
            key=lambda doc: str(doc["id"]),
        ),
    }
    if redaction != DEFAULT_REDACTION:
        # What is recorded is part of the policy; the default leaves old versions as they were.
        canonical["redact"] = {
            "names": sorted(redaction.names),
            "values": sorted(redaction.values),
            "defaults": redaction.defaults,
        }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _message(exc: Exception) -> str:
    if isinstance(exc, EvaluationError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _not_a_document(rules: object) -> None:
    """Refuse a file name or a document given where rules belong, saying what to call."""
    if isinstance(rules, (str, bytes, os.PathLike)):  # a file name, read as its letters
        raise PolicyError(
            f"Policy takes rules, got {show(rules)}; to use a policy file, "
            f"pass Policy.from_file({os.fspath(rules)!r})"
        )
    if isinstance(rules, Mapping):
        raise PolicyError(
            "Policy takes rules, got a mapping; to use a policy document, pass Policy.from_dict(...)"
        )


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
            if rule.id.startswith("kill-switch:"):
                raise PolicyError(f"rules[{i}]: rule ids starting 'kill-switch:' are reserved for blocks")
            explicit.add(rule.id)
    seen = set(explicit)
    out: list[Rule] = []
    for rule in given:
        if not rule.explicit_id:
            if rule.id in seen:
                base = rule.derived_id()
                n = 2
                while f"{base}#{n}" in seen:
                    n += 1
                rule = rule.with_id(f"{base}#{n}")
                rule.explicit_id = False  # still derived: combining policies may renumber it
            seen.add(rule.id)
        out.append(rule)
    return tuple(out)
