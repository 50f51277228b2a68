"""Policy documents: dicts, JSON, TOML and YAML files that mirror the Python objects.

    version = 1
    default = "deny"

    [[rules]]
    id = "no-external-mail"
    action = "send_email"
    effect = "deny"
    when = { not = { arg = "to", endswith = "@acme.com" } }
    reason = "Mail may only go to acme.com"

Documents are validated by the models in ``guardrails.schema`` and every
error becomes one ``PolicyError`` (``guardrails.document_errors``) naming the
file, the path in the document and what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from guardrails.approvals import ApprovalRules
from guardrails.conditions import AllOf, AnyOf, Condition, Not
from guardrails.document_errors import explain, in_source
from guardrails.errors import PolicyError
from guardrails.history import After, after
from guardrails.limits import Limit, budget, rate
from guardrails.loading import read_document
from guardrails.provenance import Provenance
from guardrails.redaction import Redaction
from guardrails.refs import Compare, Matcher, Ref, arg, ctx
from guardrails.rules import Effect, Rule
from guardrails.schema import (
    MATCHERS,
    OPERATORS,
    SYMBOLS,
    AfterDoc,
    AllDoc,
    AnyDoc,
    ComparisonDoc,
    KeyPartDoc,
    LimitDoc,
    NotDoc,
    PolicyDocument,
)

#: Deeper than any real policy; stops hostile documents before they exhaust the stack.
MAX_DEPTH = 64

__all__ = [
    "MAX_DEPTH",
    "condition_from_doc",
    "condition_to_doc",
    "load_document",
    "policy_from_document",
    "rule_to_doc",
]


# ---- from documents -----------------------------------------------------------


def policy_from_document(
    doc: object, source: str | None = None
) -> tuple[list[Rule], Effect, Redaction | None]:
    """Validate ``doc`` and build its rules, default and redaction; raise ``PolicyError``."""
    checked_depth(doc, source)
    try:
        parsed = PolicyDocument.model_validate(doc)
    except ValidationError as exc:
        raise PolicyError(explain(exc, source)) from None
    rules = []
    for i, rule in enumerate(parsed.rules):
        where = f"rules[{i}]"
        try:
            when = None if rule.when is None else condition_from_doc(rule.when, f"{where}.when")
            limit = None if rule.limit is None else _limit_from_doc(rule.limit)
            approval = None
            if rule.approval is not None:
                try:
                    approval = ApprovalRules(**rule.approval.model_dump())
                except PolicyError as exc:
                    raise PolicyError(f"approval: {exc}") from None
            rules.append(
                Rule(
                    rule.action,
                    rule.effect,
                    when,
                    rule.reason,
                    rule.id,
                    shadow=rule.shadow,
                    limit=limit,
                    approval=approval,
                )
            )
        except PolicyError as exc:
            message = str(exc) if str(exc).startswith("rules[") else f"{where}: {exc}"
            raise PolicyError(in_source(source, message)) from None
    redaction = None
    if parsed.redact is not None:
        try:
            redaction = Redaction.from_doc(parsed.redact.model_dump())
        except PolicyError as exc:
            raise PolicyError(in_source(source, str(exc))) from None
    return rules, Effect(parsed.default), redaction


def _limit_from_doc(doc: LimitDoc) -> Limit:
    try:
        key = _key_from_doc(doc.key)
        if doc.count is not None:
            if doc.sum is not None or doc.max is not None:
                raise PolicyError("a limit is either count = N, or sum = ARG with max = N")
            return rate(doc.count, per=doc.per, key=key)
        if doc.sum is None or doc.max is None:
            raise PolicyError("a limit is either count = N, or sum = ARG with max = N")
        return budget(doc.sum, doc.max, per=doc.per, key=key)
    except PolicyError as exc:
        raise PolicyError(f"limit: {exc}") from None


def _key_from_doc(parts: list[KeyPartDoc]) -> list[Ref]:
    return [arg(k.arg) if k.arg is not None else ctx(k.ctx) for k in parts]  # type: ignore[arg-type]


def condition_from_doc(doc: ComparisonDoc | AllDoc | AnyDoc | NotDoc | AfterDoc, where: str) -> Condition:
    """Build the condition a validated document part describes."""
    if isinstance(doc, AfterDoc):
        when = None if doc.when is None else condition_from_doc(doc.when, f"{where}.when")
        try:
            if doc.key is None:
                return after(doc.after, when=when, within=doc.within, at_least=doc.at_least)
            return after(
                doc.after, when=when, within=doc.within, key=_key_from_doc(doc.key), at_least=doc.at_least
            )
        except PolicyError as exc:
            raise PolicyError(f"{where}: {exc}") from None
    if isinstance(doc, AllDoc):
        return AllOf(condition_from_doc(c, f"{where}.all[{i}]") for i, c in enumerate(doc.all))
    if isinstance(doc, AnyDoc):
        return AnyOf(condition_from_doc(c, f"{where}.any[{i}]") for i, c in enumerate(doc.any))
    if isinstance(doc, NotDoc):
        return Not(condition_from_doc(doc.not_, f"{where}.not"))
    try:
        ref = doc.reference()
        op, value = doc.operator()
        if op == "from":
            return ref.provenance(*([value] if isinstance(value, str) else value))
        if op in MATCHERS:
            return _matcher_from_doc(ref, op, value)
        return Compare(ref, OPERATORS[op], tuple(value) if op == "between" else value)
    except PolicyError as exc:
        raise PolicyError(f"{where}: {exc}") from None


def _matcher_from_doc(ref: Ref, op: str, value: Any) -> Condition:
    if isinstance(value, BaseModel):
        params = value.model_dump()
        first = next(iter(params))
        return getattr(ref, op)(params.pop(first), **params)  # type: ignore[no-any-return]
    return getattr(ref, op)(value)  # type: ignore[no-any-return]


# ---- to documents -----------------------------------------------------------------


def condition_to_doc(condition: Condition, *, callables: bool = False) -> dict[str, Any]:
    """The document form of a condition. Callables have none (unless ``callables``,
    for fingerprints: then they are named)."""
    if isinstance(condition, AllOf):
        return {"all": [condition_to_doc(c, callables=callables) for c in condition.conditions]}
    if isinstance(condition, AnyOf):
        return {"any": [condition_to_doc(c, callables=callables) for c in condition.conditions]}
    if isinstance(condition, Not):
        return {"not": condition_to_doc(condition.condition, callables=callables)}
    if isinstance(condition, Provenance):
        kinds = condition.kinds
        return {**_ref_doc(condition.ref), "from": kinds[0] if len(kinds) == 1 else list(kinds)}
    if isinstance(condition, After):
        doc = condition.to_doc()
        if condition.when is not None:
            doc["when"] = condition_to_doc(condition.when, callables=callables)
        return doc
    if isinstance(condition, Compare):
        value = list(condition.operand) if condition.op in ("in", "between") else condition.operand
        if any(isinstance(v, Decimal) for v in (value if isinstance(value, list) else [value])):
            if not callables:
                raise PolicyError(
                    f"{condition!r}: a Decimal literal has no document form; use an int or float"
                )
            value = [str(v) for v in value] if isinstance(value, list) else str(value)
        return {**_ref_doc(condition.ref), SYMBOLS[condition.op]: value}
    if isinstance(condition, Matcher):
        options = condition.non_default_options()
        first = condition.args[0]
        if options:
            first_name = MATCHERS[condition.name]
            return {**_ref_doc(condition.ref), condition.name: {first_name: first, **options}}
        return {**_ref_doc(condition.ref), condition.name: first}
    if callables:
        return {"callable": condition.fingerprint()}
    raise PolicyError(f"{condition!r} is Python code, not data: it has no document form")


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


# ---- files ----------------------------------------------------------------------------


def load_document(path: str | Path) -> tuple[list[Rule], Effect, Redaction | None]:
    """Read and build a policy file."""
    return policy_from_document(read_document(path), str(path))


def checked_depth(doc: object, source: str | None) -> None:
    """Refuse documents nested deeper than any policy needs, before they recurse."""
    stack: list[tuple[object, str, int]] = [(doc, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PolicyError(
                in_source(source, f"{path or 'document'}: nested more than {MAX_DEPTH} levels deep")
            )
        if isinstance(node, Mapping):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node))
