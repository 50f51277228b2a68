"""Effects and rules: which action, under which condition, gets which effect."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from enum import Enum

from guardrails._text import show
from guardrails.call import ACTION
from guardrails.errors import PolicyError
from guardrails.policy.approval_rules import ApprovalRules
from guardrails.policy.conditions import Condition, ConditionLike, as_condition
from guardrails.policy.limits import Limit

__all__ = ["Effect", "Rule", "allow", "deny", "require_approval"]


class Effect(str, Enum):
    """What a rule does to a matching call. Precedence: deny > require_approval > allow."""

    ALLOW = "allow"
    DENY = "deny"
    REQUIRE_APPROVAL = "require_approval"

    def __str__(self) -> str:
        return self.value


#: Lower runs first and wins: a matching deny beats everything.
PRECEDENCE = {Effect.DENY: 0, Effect.REQUIRE_APPROVAL: 1, Effect.ALLOW: 2}

_VERB = {Effect.ALLOW: "allow", Effect.DENY: "deny", Effect.REQUIRE_APPROVAL: "approval required for"}


def parse_effect(value: object, where: str = "effect") -> Effect:
    """Return ``value`` as an ``Effect``, or raise ``PolicyError``."""
    try:
        return Effect(value)
    except ValueError:
        valid = ", ".join(repr(e.value) for e in Effect)
        raise PolicyError(f"{where}: {show(value)} is not an effect; use one of {valid}") from None


class Rule:
    """``effect`` applies to calls of ``action`` when ``when`` holds.

    ``action`` is an exact tool name or a glob (``payments.*``, ``*``; ``*``
    and ``?`` are the wildcards). ``when=None`` means always. ``id`` names the
    rule in decisions and audit records; a stable one is derived from the
    rule's content when omitted. ``reason`` is told to the caller (and the
    model) when the rule decides. ``limit`` (on deny and require_approval
    rules) makes the rule apply only to calls past a rate or budget kept in
    the governor's store. Rules with a limit or an ``after(...)`` condition
    are *stateful*: the governor judges them with its store, ``Policy.evaluate``
    does not.
    """

    __slots__ = (
        "action",
        "effect",
        "when",
        "reason",
        "id",
        "shadow",
        "limit",
        "approval",
        "stateful",
        "counter",
        "is_glob",
        "explicit_id",
        "given_reason",
        "matched",
        "unmatched",
    )

    def __init__(
        self,
        action: str,
        effect: Effect | str = Effect.DENY,
        when: ConditionLike | None = None,
        reason: str | None = None,
        id: str | None = None,
        *,
        shadow: bool = False,
        limit: Limit | None = None,
        approval: ApprovalRules | None = None,
    ) -> None:
        self.action = _checked_action(action)
        try:
            self.effect = parse_effect(effect)
            self.when: Condition | None = None if when is None else as_condition(when)
            _check_reason(reason)
            _check_id(id)
            _check_shadow(shadow)
            self.shadow = shadow
            self.limit = _checked_limit(limit, self.effect, shadow, action)
            self.approval = _checked_approval(approval, self.effect)
            self.stateful = _reads_store(self.when, self.effect, shadow) or limit is not None
        except PolicyError as exc:  # told with the rule it is about: a policy has many
            raise PolicyError(f"{_label(action, effect, id)}: {exc}") from None
        self.is_glob = "*" in action or "?" in action
        self.explicit_id = id is not None
        self.given_reason = reason
        self.id: str = id if id is not None else self.derived_id()
        self.reason: str = reason if reason is not None else self._derived_reason()
        #: The name of this rule's limit counters in the store.
        self.counter = self._counter()
        # The two clean outcomes of judging this rule, built once, not per call.
        self.matched: tuple[Rule, bool, str | None] = (self, True, None)
        self.unmatched: tuple[Rule, bool, str | None] = (self, False, None)

    def _counter(self) -> str:
        """The name of this rule's limit counters in the store (``counter``).

        Its id when given — so a rule whose maximum, reason or window text is
        edited keeps counting — else its action, effect, condition and the
        limit's kind, argument, window and key, never its maximum or reason.
        """
        if self.explicit_id or self.limit is None:
            return self.id
        limit = self.limit
        parts = [self.action, self.effect.value, "" if self.when is None else self.when.fingerprint()]
        parts += [limit.kind, limit.arg or "", repr(limit.window), repr(limit.key)]
        return f"{self.effect.value}:{self.action}:{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()[:12]}"

    def derived_id(self) -> str:
        """The id this rule gets from its content when none is given."""
        base = f"{self.effect.value}:{self.action}"
        content = [] if self.when is None else [self.when.fingerprint()]
        if self.given_reason is not None:
            content.append(self.given_reason)
        if self.shadow:
            content.append("shadow")
        if self.limit is not None:
            content.append(self.limit.fingerprint())
        if self.approval is not None:
            content.append(self.approval.fingerprint())
        if not content:
            return base
        digest = hashlib.sha256("\0".join(content).encode()).hexdigest()[:8]
        return f"{base}:{digest}"

    def _derived_reason(self) -> str:
        text = f"{_VERB[self.effect]} {self.action!r}"
        text = text if self.when is None else f"{text} when {self.when!r}"
        return text if self.limit is None else f"{text} beyond {self.limit.describe()}"

    def with_id(self, id: str) -> Rule:
        """Return a copy of this rule with another id."""
        return Rule(
            self.action,
            self.effect,
            self.when,
            self.given_reason,
            id,
            shadow=self.shadow,
            limit=self.limit,
            approval=self.approval,
        )

    def __repr__(self) -> str:
        parts = [repr(self.action)]
        if self.when is not None:
            parts.append(f"when={self.when!r}")
        parts.append(f"reason={self.reason!r}")
        parts.append(f"id={self.id!r}")
        if self.shadow:
            parts.append("shadow=True")
        if self.limit is not None:
            parts.append(f"limit={self.limit!r}")
        if self.approval is not None:
            parts.append(f"approval={self.approval!r}")
        return f"{self.effect.value}({', '.join(parts)})"


# ---- what Rule(...) checks, in the order it checks it: the first problem is the one told


def _label(action: str, effect: object, rule_id: object) -> str:
    """How an error names the rule being built: ``deny('send_email', id='mail-rate')``."""
    try:
        name = Effect(effect).value
    except ValueError:
        name = "Rule"
    return f"{name}({action!r}" + (f", id={rule_id!r})" if isinstance(rule_id, str) else ")")


def _checked_action(action: object) -> str:
    if not isinstance(action, str) or not ACTION.fullmatch(action):
        raise PolicyError(
            f"rule action must be a tool name or glob without spaces or brackets, got {show(action)}"
        )
    return action


def _check_reason(reason: object) -> None:
    if reason is not None and not isinstance(reason, str):
        raise PolicyError(f"rule reason must be a string, got {show(reason)}")


def _check_id(rule_id: object) -> None:
    if rule_id is not None and (not isinstance(rule_id, str) or not rule_id.strip()):
        raise PolicyError(f"rule id must be a non-empty string, got {show(rule_id)}")
    if rule_id == "default":
        raise PolicyError("rule id 'default' is reserved: it names decisions no rule made")


def _check_shadow(shadow: object) -> None:
    if type(shadow) is not bool:
        raise PolicyError(f"rule shadow must be True or False, got {show(shadow)}")


def _checked_limit(limit: object, effect: Effect, shadow: bool, action: str) -> Limit | None:
    if limit is None:
        return None
    if effect is Effect.ALLOW:
        raise PolicyError(
            "a limit goes on a deny or require_approval rule, which applies once the limit is reached; "
            f"to allow calls up to a limit, write allow({action!r}) and deny({action!r}, limit=rate(...))"
        )
    if not isinstance(limit, Limit):
        raise PolicyError(
            "limit takes rate(...) or budget(...), such as limit=rate(5, per='1m', key=ctx('user')) "
            f"or limit=budget('amount', 500, per='1d', key=arg('customer')); got {show(limit)}"
        )
    if shadow:
        raise PolicyError("a shadow rule cannot have a limit: it would count calls it does not judge")
    return limit


def _checked_approval(approval: ApprovalRules | None, effect: Effect) -> ApprovalRules | None:
    if approval is None:
        return None
    if not isinstance(approval, ApprovalRules):
        raise PolicyError(f"rule approval must be ApprovalRules, got {show(approval)}")
    if effect is not Effect.REQUIRE_APPROVAL:
        raise PolicyError("approval options go on a require_approval rule")
    if approval == ApprovalRules():
        return None  # the defaults: the same rule as one without
    return approval


def _reads_store(when: Condition | None, effect: Effect, shadow: bool) -> bool:
    """Whether ``when`` reads the store (``after(...)``, ``provenance(...)``), which
    only a restricting rule judged with the store may do."""
    if when is None or not when.reads_store():
        return False
    if effect is Effect.ALLOW:
        raise PolicyError(
            "after(...) and provenance(...) go on a deny or require_approval rule: "
            "what the store knows can only restrict"
        )
    if shadow:
        raise PolicyError(
            "a shadow rule cannot use after(...) or provenance(...): "
            "shadow rules are judged without the store"
        )
    return True


def allow(
    action: str,
    *,
    when: ConditionLike | None = None,
    reason: str | None = None,
    id: str | None = None,
    shadow: bool = False,
    limit: None = None,
) -> Rule:
    """A rule that allows ``action`` when ``when`` holds (unless a deny or approval rule also matches).

    It takes no ``limit``: one given raises ``PolicyError`` saying to put it on
    a deny rule (``deny(action, limit=rate(...))``), which denies the calls
    past it.
    """
    return Rule(action, Effect.ALLOW, when, reason, id, shadow=shadow, limit=limit)


def deny(
    action: str,
    *,
    when: ConditionLike | None = None,
    reason: str | None = None,
    id: str | None = None,
    shadow: bool = False,
    limit: Limit | None = None,
) -> Rule:
    """A rule that denies ``action`` when ``when`` holds, or when ``when`` cannot be evaluated.

    With ``limit`` (``rate(...)``, ``budget(...)``) it denies only the calls
    that would go over the limit.
    """
    return Rule(action, Effect.DENY, when, reason, id, shadow=shadow, limit=limit)


def require_approval(
    action: str,
    *,
    when: ConditionLike | None = None,
    reason: str | None = None,
    id: str | None = None,
    shadow: bool = False,
    limit: Limit | None = None,
    timeout: float | None = None,
    quorum: int = 1,
    approvers: Iterable[str] | Callable[[str], bool] | None = None,
    rememberable: bool = True,
) -> Rule:
    """A rule that sends ``action`` to the approver when ``when`` holds (or cannot be evaluated).

    With ``limit`` (``rate(...)``, ``budget(...)``) only the calls that would
    go over the limit need approval. ``timeout`` (seconds) overrides the
    governor's; ``quorum`` distinct people must approve; ``approvers`` (ids, or
    a predicate on the id) are the ones who may; ``rememberable=False`` refuses
    "remember for this session". Nobody approves their own call.
    """
    try:
        approval = ApprovalRules(timeout, quorum, _approver_ids(approvers), rememberable)
    except PolicyError as exc:
        raise PolicyError(f"{_label(action, Effect.REQUIRE_APPROVAL, id)}: {exc}") from None
    return Rule(
        action, Effect.REQUIRE_APPROVAL, when, reason, id, shadow=shadow, limit=limit, approval=approval
    )


def _approver_ids(approvers: object) -> tuple[str, ...] | Callable[[str], bool] | None:
    """``approvers`` as ``ApprovalRules`` keeps them, or ``PolicyError``."""
    if approvers is None or callable(approvers):
        return approvers  # a predicate on the id: asked when an approval comes
    # A string is iterable too: approvers="alice" would be five people named by letters.
    if isinstance(approvers, (str, bytes)) or not isinstance(approvers, Iterable):
        raise PolicyError(
            f"approvers are a list of ids or a predicate, such as approvers=['alice'], got {show(approvers)}"
        )
    return tuple(approvers)
