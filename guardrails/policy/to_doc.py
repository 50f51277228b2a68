"""Rules and conditions as plain data: the document form a policy file holds.

``rule_to_doc`` and ``condition_to_doc`` give what ``guardrails.documents``
reads back; with ``callables=True`` they name Python callables too, which is
what a policy's ``version`` fingerprint is made of.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from guardrails.errors import PolicyError
from guardrails.policy.conditions import AllOf, AnyOf, Condition, Not
from guardrails.policy.history import After
from guardrails.policy.provenance import Provenance
from guardrails.policy.refs import Compare, Matcher, Ref
from guardrails.policy.rules import Rule

__all__ = ["MATCHERS", "OPERATORS", "SYMBOLS", "condition_to_doc", "rule_to_doc"]

#: The comparison operators of documents, and the symbol each is in Python.
OPERATORS = {
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "in": "in",
    "startswith": "startswith",
    "endswith": "endswith",
    "contains": "contains",
    "between": "between",
}
#: Matchers in documents, and the name of each one's first parameter.
MATCHERS = {
    "within": "root",
    "host_in": "hosts",
    "email_domain_in": "domains",
    "matches": "glob",
    "regex": "pattern",
    "shell_command_in": "prefixes",
}
SYMBOLS = {symbol: name for name, symbol in OPERATORS.items()}


def condition_to_doc(condition: Condition, *, callables: bool = False) -> dict[str, Any]:
    """The document form of a condition. Callables have none (unless ``callables``,
    for fingerprints: then they are named)."""
    for kind, form in _FORMS:
        if isinstance(condition, kind):
            return form(condition, callables)
    if callables:
        return {"callable": condition.fingerprint()}
    raise PolicyError(f"{condition!r} is Python code, not data: it has no document form")


def _all_doc(condition: AllOf, callables: bool) -> dict[str, Any]:
    return {"all": [condition_to_doc(c, callables=callables) for c in condition.conditions]}


def _any_doc(condition: AnyOf, callables: bool) -> dict[str, Any]:
    return {"any": [condition_to_doc(c, callables=callables) for c in condition.conditions]}


def _not_doc(condition: Not, callables: bool) -> dict[str, Any]:
    return {"not": condition_to_doc(condition.condition, callables=callables)}


def _provenance_doc(condition: Provenance, callables: bool) -> dict[str, Any]:
    kinds, ref = condition.kinds, condition.ref
    assert isinstance(ref, Ref)  # provenance() is a method of Ref
    return {**_ref_doc(ref), "from": kinds[0] if len(kinds) == 1 else list(kinds)}


def _after_doc(condition: After, callables: bool) -> dict[str, Any]:
    """``{after = "read_file", when = {...}, within = "1d", key = [{ctx = "session"}], at_least = 1}``."""
    doc: dict[str, Any] = {"after": condition.action}
    if condition.when is not None:
        doc["when"] = condition_to_doc(condition.when, callables=callables)
    doc["within"] = condition.within
    if not condition.by_session:
        doc["key"] = [{ref.source: ref.name} for ref in condition.key]
    if condition.at_least != 1:
        doc["at_least"] = condition.at_least
    return doc


def _compare_doc(condition: Compare, callables: bool) -> dict[str, Any]:
    value = list(condition.operand) if condition.op in ("in", "between") else condition.operand
    if any(isinstance(v, Decimal) for v in (value if isinstance(value, list) else [value])):
        if not callables:
            raise PolicyError(f"{condition!r}: a Decimal literal has no document form; use an int or float")
        value = [str(v) for v in value] if isinstance(value, list) else str(value)
    return {**_ref_doc(condition.ref), SYMBOLS[condition.op]: value}


def _matcher_doc(condition: Matcher, callables: bool) -> dict[str, Any]:
    options = condition.non_default_options()
    first = condition.args[0]
    if options:
        first_name = MATCHERS[condition.name]
        return {**_ref_doc(condition.ref), condition.name: {first_name: first, **options}}
    return {**_ref_doc(condition.ref), condition.name: first}


#: The conditions that are data, each with its document form, tried in turn.
_FORMS: tuple[tuple[type[Condition], Callable[[Any, bool], dict[str, Any]]], ...] = (
    (AllOf, _all_doc),
    (AnyOf, _any_doc),
    (Not, _not_doc),
    (Provenance, _provenance_doc),
    (After, _after_doc),
    (Compare, _compare_doc),
    (Matcher, _matcher_doc),
)


def _ref_doc(ref: Ref) -> dict[str, Any]:
    doc: dict[str, Any] = {ref.source: ref.name}
    if ref.items is not None:
        doc["items"] = ref.items
    if ref.transforms:
        doc["as"] = ref.transforms[0] if len(ref.transforms) == 1 else list(ref.transforms)
    return doc


def rule_to_doc(rule: Rule, *, callables: bool = False) -> dict[str, Any]:
    """A rule as a document. Ids and reasons derived from the content are left
    out (they derive again the same), unless ``callables`` asks for everything."""
    doc: dict[str, Any] = {}
    if rule.explicit_id or callables:
        doc["id"] = rule.id
    doc.update(action=rule.action, effect=rule.effect.value)
    if rule.when is not None:
        doc["when"] = condition_to_doc(rule.when, callables=callables)
    if rule.given_reason is not None or callables:
        doc["reason"] = rule.reason
    if rule.shadow and not callables:
        doc["shadow"] = True
    if rule.limit is not None:
        doc["limit"] = rule.limit.to_doc()
    if rule.approval is not None:
        doc["approval"] = rule.approval.to_doc(callables=callables)
    return doc
