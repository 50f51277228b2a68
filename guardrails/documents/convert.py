"""Policy documents: dicts, JSON, TOML and YAML files that mirror the Python objects.

    version = 1
    default = "deny"

    [[rules]]
    id = "no-external-mail"
    action = "send_email"
    effect = "deny"
    when = { not = { arg = "to", endswith = "@acme.com" } }
    reason = "Mail may only go to acme.com"

Documents are validated by the models in ``guardrails.documents.schema`` and every
error becomes one ``PolicyError`` (``guardrails.documents.errors``) naming the
file, the path in the document and what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from guardrails.documents.errors import explain, in_source
from guardrails.documents.load import read_document
from guardrails.documents.schema import (
    AfterDoc,
    AllDoc,
    AnyDoc,
    ComparisonDoc,
    KeyPartDoc,
    LimitDoc,
    NotDoc,
    PolicyDocument,
)
from guardrails.errors import PolicyError
from guardrails.policy.approval_rules import ApprovalRules
from guardrails.policy.conditions import AllOf, AnyOf, Condition, Not
from guardrails.policy.history import after
from guardrails.policy.limits import Limit, budget, rate
from guardrails.policy.redaction import Redaction
from guardrails.policy.refs import Compare, Ref, arg, ctx
from guardrails.policy.rules import Effect, Rule
from guardrails.policy.to_doc import MATCHERS, OPERATORS

#: Deeper than any real policy; stops hostile documents before they exhaust the stack.
MAX_DEPTH = 64

__all__ = ["MAX_DEPTH", "condition_from_doc", "load_document", "policy_from_document"]


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
