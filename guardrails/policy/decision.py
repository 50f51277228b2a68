"""``Decision``: what a policy decided about a call, and why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from guardrails._text import brief
from guardrails.errors import GovernanceError
from guardrails.policy.rules import Effect, Rule

if TYPE_CHECKING:
    from guardrails.call import Call
    from guardrails.policy.redaction import Redaction

__all__ = ["DEFAULT_RULE_ID", "Decision", "RuleOutcome", "RuleResult"]

#: The ``rule_id`` of a decision made by the policy's default, no rule matching.
DEFAULT_RULE_ID = "default"


#: How one rule fared: ``(rule, matched, error message or None)``.
RuleOutcome = tuple[Rule, bool, "str | None"]


class RuleResult:
    """How one rule fared against a call: matched or not, or an error.

    A rule whose condition could not be evaluated counts as matched when it is
    a deny or require-approval rule and as not matched when it allows.
    """

    __slots__ = ("rule", "matched", "error")

    def __init__(self, rule: Rule, matched: bool, error: str | None = None) -> None:
        self.rule = rule
        self.matched = matched
        self.error = error

    def __repr__(self) -> str:
        state = "matched" if self.matched else "not matched"
        if self.error is not None:
            state += f", error: {self.error}"
        return f"<RuleResult {self.rule.id!r} {state}>"


class Decision:
    """The verdict on one call.

    ``effect`` is what happens; ``rule_id`` and ``reason`` say which rule made
    it and why (``rule_id == "default"`` when no rule matched); ``results``
    holds every rule that was considered, in precedence order, with how it
    fared — what ``explain()`` prints. ``version`` is the deciding policy's version;
    ``enforced`` is False for what a shadow rule or shadow mode would have
    decided.
    """

    __slots__ = (
        "effect",
        "rule",
        "call",
        "outcomes",
        "version",
        "enforced",
        "decided",
        "_reason",
    )

    def __init__(
        self,
        effect: Effect,
        rule: Rule | None,
        call: Call,
        outcomes: tuple[RuleOutcome, ...] = (),
        reason: str | None = None,
        *,
        version: str = "",
        enforced: bool = True,
        decided: Effect | None = None,
    ) -> None:
        self.effect = effect
        #: What the policy (or the kill switch) decided, before an approver answered.
        self.decided = effect if decided is None else decided
        self.rule = rule
        self.call = call
        # (rule, matched, error) triples: cheaper to build than objects on
        # every call; ``results`` turns them into RuleResult when asked.
        self.outcomes = outcomes
        self.version = version
        self.enforced = enforced
        self._reason = reason

    @property
    def results(self) -> tuple[RuleResult, ...]:
        """Every rule considered, in precedence order, with how it fared."""
        return tuple(RuleResult(*outcome) for outcome in self.outcomes)

    @property
    def allowed(self) -> bool:
        """True when the tool may run."""
        return self.effect is Effect.ALLOW

    @property
    def rule_id(self) -> str:
        """The id of the deciding rule, or ``"default"``."""
        return self.rule.id if self.rule is not None else DEFAULT_RULE_ID

    @property
    def reason(self) -> str:
        """Why: the rule's reason (plus any evaluation error), or the default's."""
        if self._reason is not None:
            return self._reason
        if self.rule is None:
            text = f"no rule matched {self.call.action!r}; the policy's default is {self.effect.value}"
            # An allow rule that could not be evaluated is why nothing matched: say so.
            errors = "; ".join(f"rule {rule_id!r} could not be evaluated: {e}" for rule_id, e in self.errors)
            return f"{text} ({errors})" if errors else text
        error = self.error
        if error is not None:
            return f"{self.rule.reason} (condition could not be evaluated: {error})"
        return self.rule.reason

    @property
    def error(self) -> str | None:
        """The evaluation error of the deciding rule, if that is why it matched."""
        for rule, _, error in self.outcomes:
            if rule is self.rule:
                return error
        return None

    @property
    def errors(self) -> tuple[tuple[str, str], ...]:
        """``(rule_id, message)`` for every rule whose condition could not be evaluated."""
        return tuple((rule.id, error) for rule, _, error in self.outcomes if error is not None)

    def replace(self, **changes: Any) -> Decision:
        """Return a copy with some fields changed (``effect``, ``reason``, ``call``...)."""
        fields: dict[str, Any] = {
            "effect": self.effect,
            "rule": self.rule,
            "call": self.call,
            "outcomes": self.outcomes,
            "reason": self._reason,
            "version": self.version,
            "enforced": self.enforced,
            "decided": self.decided,
        }
        fields.update(changes)
        return Decision(**fields)

    def explain(self, notes: Mapping[str, str] | None = None) -> str:
        """Every rule considered, matched or not and why, then the decision.

        A rule with a limit shows it; ``notes`` (by rule id) replace that line with
        how the limit stood for this call (``guardrails.testing.stateful`` says).
        """
        call = self.call
        lines = [f"{call.action}({_kwargs(call.args)})"]
        if call.context:
            lines.append(f"  context: {_kwargs(call.context)}")
        if not self.results:
            lines.append("  no rule applies to this action")
        for result in self.results:
            rule = result.rule
            mark = "✓" if result.matched else "·"
            lines.append(f"  {mark} {rule.effect.value:<16} {rule.id}")
            if rule.when is not None:
                lines.append(f"      when {rule.when!r}{_seen(rule, call)}")
            note = None if notes is None else notes.get(rule.id)
            if note is not None:
                lines.append(f"      {note}")
            elif rule.limit is not None:
                lines.append(f"      limit {rule.limit.describe()}")
            if result.error is not None:
                lines.append(f"      error: {result.error}")
        lines.append(f"  → {self.effect.value} (rule {self.rule_id!r}): {self.reason}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Decision {self.effect.value} {self.call.action!r} rule={self.rule_id!r} reason={self.reason!r}>"


class ActionDenied(GovernanceError):
    """A governed call was not allowed to run.

    ``decision`` says which rule decided and why; ``call`` is what was attempted;
    ``redaction`` is the policy's, for showing the call to the model (None: the
    default one).
    """

    def __init__(self, decision: Decision, call: Call, *, redaction: Redaction | None = None) -> None:
        self.decision = decision
        self.call = call
        self.redaction = redaction
        super().__init__(self._message())

    def _message(self) -> str:
        d = self.decision
        return f"{d.call.action!r} denied by rule {d.rule_id!r}: {d.reason}"


def _kwargs(values: Any) -> str:
    return ", ".join(f"{k}={brief(v)}" for k, v in values.items())


def _seen(rule: Rule, call: Call) -> str:
    assert rule.when is not None
    seen: dict[str, str] = {}
    for ref in rule.when.refs():
        source = call.args if ref.source == "arg" else call.context
        seen[repr(ref)] = brief(source[ref.name]) if ref.name in source else "<missing>"
    seen_text = [f"{k}={v}" for k, v in seen.items()]
    return f"   [{', '.join(seen_text)}]" if seen_text else ""
