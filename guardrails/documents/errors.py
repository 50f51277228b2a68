"""Turning pydantic's validation errors into one message a person can act on.

Each problem becomes ``path: what is wrong``, with the path as written in
the document (``rules[3].when.any[1]``), union members folded, and for a
misspelt key or operator the nearest valid one.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from guardrails.documents.schema import COMBINATORS, MEMBER_MODELS, PolicyDocument, RedactDoc, RuleDoc
from guardrails.policy.to_doc import MATCHERS, OPERATORS

__all__ = ["explain", "in_source"]


def in_source(source: str | None, message: str) -> str:
    return f"{source}: {message}" if source else message


def _path(loc: tuple[int | str, ...]) -> tuple[str, list[int | str]]:
    """Drop the union tags pydantic puts in error locations; return the path and its parts."""
    parts: list[int | str] = []
    expect_tag = False
    for part in loc:
        if expect_tag and part in ("compare", *COMBINATORS):
            expect_tag = False
            continue
        parts.append(part)
        previous = parts[-2] if len(parts) > 1 else None
        expect_tag = part in ("when", "not") or (isinstance(part, int) and previous in ("all", "any"))
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text, parts


def _valid_keys(parts: list[int | str]) -> list[str]:
    if not parts:
        return list(PolicyDocument.model_fields)
    if parts[-1] == "rules" or (isinstance(parts[-1], int) and len(parts) == 2):
        return list(RuleDoc.model_fields)
    if parts == ["redact"]:
        return list(RedactDoc.model_fields)
    return ["arg", "ctx", "items", "as", *OPERATORS, *MATCHERS, *COMBINATORS]


# What other policy languages call our operators, for "did you mean".
_SYNONYMS = {
    "lte": "le",
    "gte": "ge",
    "neq": "ne",
    "equals": "eq",
    "==": "eq",
    "!=": "ne",
    "<": "lt",
    "<=": "le",
    ">": "gt",
    ">=": "ge",
    "starts_with": "startswith",
    "ends_with": "endswith",
    "includes": "contains",
    "one_of": "in",
    "and": "all",
    "or": "any",
}
# What other tools call the keys of a rule.
_KEY_SYNONYMS = {
    "condition": "when",
    "if": "when",
    "match": "when",
    "where": "when",
    "name": "id",
    "description": "reason",
    "message": "reason",
    "tool": "action",
    "decision": "effect",
}
_TYPE_TAGS = {"int": "a number", "float": "a number", "str": "a string", "bool": "a boolean"}
_TYPE_ERRORS = {
    "string_type": "a string",
    "int_type": "a number",
    "float_type": "a number",
    "bool_type": "a boolean",
    "list_type": "a list",
}


_MEMBER = re.compile(r"int|float|str|bool|list\[.*\]|literal\[.*\]|[A-Z]\w*Doc")


def _member_kind(tag: str) -> str:
    if tag in _TYPE_TAGS:
        return _TYPE_TAGS[tag]
    if tag.startswith("list["):
        return "a list"
    if tag.startswith("literal["):
        return "one of " + tag[len("literal[") : -1].replace(",", ", ")
    return "a table of keys and values"


def explain(exc: ValidationError, source: str | None) -> str:
    """One readable line per problem, with union members (``list[str] | HostInDoc``)
    folded: the member whose shape fits speaks, or "expected X or Y" if none fits."""
    groups: dict[tuple[Any, ...], list[tuple[int, Any]]] = {}
    plain_errors: list[Any] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        at = next(
            (i for i, part in enumerate(loc) if isinstance(part, str) and _MEMBER.fullmatch(part)), None
        )
        if at is None:
            plain_errors.append(error)
        else:
            groups.setdefault(loc[:at], []).append((at, error))
    lines = [_one_error(error) for error in plain_errors]
    for prefix, members in groups.items():
        deeper = [(at, e) for at, e in members if len(e["loc"]) > at + 1]
        if deeper:
            for at, error in deeper:
                lines.append(
                    _one_error(
                        {**error, "loc": error["loc"][:at] + error["loc"][at + 1 :]}, member=error["loc"][at]
                    )
                )
            continue
        kinds = list(dict.fromkeys(_member_kind(str(e["loc"][at])) for at, e in members))
        path, _ = _path(prefix)
        lines.append(f"{path or 'document'}: expected {' or '.join(kinds)} (got {members[0][1]['input']!r})")
    unique = list(dict.fromkeys(lines))
    body = unique[0] if len(unique) == 1 else "\n  ".join(["invalid policy document:", *unique])
    return in_source(source, body)


def _one_error(error: Any, member: str | None = None) -> str:
    if error["type"] in ("extra_forbidden", "missing"):
        return _key_error(error, member)
    return _value_error(error)


def _key_error(error: Any, member: str | None) -> str:
    """A key that is missing, or one written where it has no place."""
    loc = tuple(error["loc"])
    _, parts = _path(loc)
    key = str(parts[-1])
    container, container_parts = _path(loc[:-1])
    where = container or "document"
    if error["type"] == "missing":
        return f"{where}: missing key {key!r}"
    return _unknown_key(where, key, container_parts, MEMBER_MODELS.get(member or ""))


def _unknown_key(
    where: str, key: str, container_parts: list[int | str], model: type[BaseModel] | None
) -> str:
    """A key not valid here (``model``: the union member it was read as, if any),
    with the key most likely meant."""
    valid = [f.alias or n for n, f in model.model_fields.items()] if model else _valid_keys(container_parts)
    in_condition = "all" in valid and model is None
    if in_condition and key in valid:
        # A known key where it cannot stand: beside all/any/not, or a second operator.
        return (
            f"{where}: {key!r} cannot stand here: a condition is one comparison "
            "({arg|ctx = NAME, OP = VALUE}) or one of all/any/not; wrap several in {all = [...]}"
        )
    synonyms = _synonyms_here(in_condition, model, container_parts)
    close = [synonyms[key]] if key in synonyms else difflib.get_close_matches(key, valid, n=1)
    is_operator = in_condition and bool(close) and (close[0] in OPERATORS or close[0] in MATCHERS)
    what = "operator" if is_operator else "key"
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(valid)}"
    return f"{where}: unknown {what} {key!r}; {hint}"


def _synonyms_here(
    in_condition: bool, model: type[BaseModel] | None, container_parts: list[int | str]
) -> dict[str, str]:
    """What other languages call the keys valid here: operators in a condition, the
    keys of a rule or document; none for a matcher's or the redaction's own keys."""
    if in_condition:
        return _SYNONYMS
    if model is None and container_parts != ["redact"]:
        return _KEY_SYNONYMS
    return {}


def _value_error(error: Any) -> str:
    """A value of the wrong type or out of its choices; pydantic's message otherwise."""
    path, parts = _path(tuple(error["loc"]))
    where = path or "document"
    kind = error["type"]
    if kind == "literal_error" and parts and parts[-1] in ("effect", "default"):
        return f"{where}: {error['input']!r} is not an effect; use 'allow', 'deny' or 'require_approval'"
    if kind == "literal_error" and parts == ["version"]:
        return f"version: this guardrails reads documents of version 1, not {error['input']!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{where}: expected a table of keys and values, got {error['input']!r}"
    if kind in _TYPE_ERRORS:
        return f"{where}: expected {_TYPE_ERRORS[kind]} (got {error['input']!r})"
    message = error["msg"].removeprefix("Value error, ")
    if "input" in error and kind != "value_error":
        message += f" (got {error['input']!r})"
    return f"{where}: {message}"
