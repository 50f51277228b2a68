"""The pure core: from a ``Call`` to a ``Decision``, with no I/O.

A ``Policy`` is a list of rules and a default effect. A ``Rule`` gives an
``Effect`` (``allow``, ``deny``, ``require_approval``) to calls of an action
when its ``Condition`` holds. Conditions are built from ``arg(name)`` and
``ctx(name)`` — compared, matched (``.within``, ``.host_in``,
``.email_domain_in``, ``.matches``, ``.regex``, ``.shell_command_in``) or
asked where their value came from (``.provenance``, a ``Provenance``) —
combined with ``& | ~`` (``AllOf``, ``AnyOf``, ``Not``), and from plain
``(Call) -> bool`` callables (``ConditionLike``). ``after(...)`` (an
``After``) asks what ran before; with ``rate(...)`` or ``budget(...)`` (a
``Limit``) a deny or approval rule applies only past the limit.
``ApprovalRules`` says who may approve and how; ``Redaction`` what records
must not show, and ``AuditView`` shows a call through it. Judging gives a
``Decision`` (how each rule fared: its ``results``, ``RuleResult``s); a
denied call raises ``ActionDenied``.

Everything else (the matchers' builders, tokens, the document form) lives in
the modules; ``import guardrails.policy`` loads the core alone.
"""

from guardrails.policy.approval_rules import ApprovalRules
from guardrails.policy.conditions import AllOf, AnyOf, Condition, ConditionLike, Not
from guardrails.policy.decision import ActionDenied, Decision, RuleResult
from guardrails.policy.evaluate import Policy
from guardrails.policy.history import After, after
from guardrails.policy.limits import Limit, budget, rate
from guardrails.policy.provenance import Provenance
from guardrails.policy.redaction import Redaction
from guardrails.policy.refs import Ref, arg, ctx
from guardrails.policy.rules import Effect, Rule, allow, deny, require_approval
from guardrails.policy.view import AuditView

__all__ = [
    "ActionDenied",
    "After",
    "AllOf",
    "AnyOf",
    "ApprovalRules",
    "AuditView",
    "Condition",
    "ConditionLike",
    "Decision",
    "Effect",
    "Limit",
    "Not",
    "Policy",
    "Provenance",
    "Redaction",
    "Ref",
    "Rule",
    "RuleResult",
    "after",
    "allow",
    "arg",
    "budget",
    "ctx",
    "deny",
    "rate",
    "require_approval",
]
