"""Policy documents: dicts, JSON, TOML and YAML files that mirror the Python objects.

    version = 1
    default = "deny"

    [[rules]]
    id = "no-external-mail"
    action = "send_email"
    effect = "deny"
    when = { not = { arg = "to", endswith = "@acme.com" } }
    reason = "Mail may only go to acme.com"

Documents are validated by the pydantic models below (unknown keys are
errors); every error becomes one ``PolicyError`` naming the file, the path in
the document (``rules[3].when.any[1]``), what is wrong and, for a misspelt key,
the nearest valid one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from guardrails.conditions import AllOf, AnyOf, Condition, Not
from guardrails.errors import PolicyError
from guardrails.loading import read_document
from guardrails.refs import Compare, Matcher, Ref, arg, ctx
from guardrails.rules import Effect, Rule

#: Deeper than any real policy; stops hostile documents before they exhaust the stack.
MAX_DEPTH = 64

__all__ = [
    "OPERATORS",
    "PolicyDocument",
    "condition_from_doc",
    "condition_to_doc",
    "load_document",
    "read_document",
]

#: Document operator → the Python operator or method it stands for.
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
_SYMBOLS = {symbol: name for name, symbol in OPERATORS.items()}
_COMBINATORS = ("all", "any", "not")

Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
Number = StrictInt | StrictFloat
Orderable = StrictInt | StrictFloat | StrictStr
EffectName = Literal["allow", "deny", "require_approval"]


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        for key in _COMBINATORS:
            if key in value:
                return key
    return "compare"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class HostInDoc(_Model):
    """``host_in = {hosts = [...], subdomains = true, schemes = [...]}``."""

    hosts: list[StrictStr]
    subdomains: StrictBool = False
    schemes: list[StrictStr] = Field(default_factory=lambda: ["https", "http"])


class EmailDomainInDoc(_Model):
    """``email_domain_in = {domains = [...], subdomains = true}``."""

    domains: list[StrictStr]
    subdomains: StrictBool = False


class RegexDoc(_Model):
    """``regex = {pattern = "...", allow_backtracking = true, max_length = 100}``."""

    pattern: StrictStr
    allow_backtracking: StrictBool = False
    max_length: StrictInt = 10_000


Conversion = Literal["decimal", "nfkc", "casefold"]


class ComparisonDoc(_Model):
    """``{arg = NAME, OP = VALUE}`` or ``{ctx = NAME, OP = VALUE}``: one reference, one operator.

    ``items = "every"`` or ``"any"`` tests each item of a list; ``as`` converts
    the value first (``"decimal"``, ``"nfkc"``, ``"casefold"``, or a list of them).
    """

    arg: StrictStr | None = Field(None, description="Name of the tool argument to test.")
    ctx: StrictStr | None = Field(None, description="Name of the context value to test.")
    items: Literal["every", "any"] | None = Field(None, description="Test every / any item of a list.")
    as_: Conversion | list[Conversion] | None = Field(
        None, alias="as", description="Convert the value first."
    )
    eq: Scalar | None = None
    ne: Scalar | None = None
    lt: Orderable | None = None
    le: Orderable | None = None
    gt: Orderable | None = None
    ge: Orderable | None = None
    in_: list[Scalar] | None = Field(None, alias="in")
    startswith: StrictStr | None = None
    endswith: StrictStr | None = None
    contains: Scalar | None = None
    between: list[Number] | None = Field(None, min_length=2, max_length=2)
    within: StrictStr | None = None
    host_in: list[StrictStr] | HostInDoc | None = None
    email_domain_in: list[StrictStr] | EmailDomainInDoc | None = None
    matches: StrictStr | None = None
    regex: StrictStr | RegexDoc | None = None
    shell_command_in: list[StrictStr] | None = None

    @model_validator(mode="after")
    def _one_reference_one_operator(self) -> ComparisonDoc:
        given = self.model_fields_set
        refs = [name for name in ("arg", "ctx") if name in given]
        if len(refs) != 1:
            raise ValueError("a comparison names exactly one of 'arg' or 'ctx'")
        ops = [name for name in given if name not in _MODIFIERS]
        if len(ops) != 1:
            found = ", ".join(repr(_doc_name(o)) for o in sorted(ops)) or "none"
            names = ", ".join([*OPERATORS, *MATCHERS])
            raise ValueError(f"a comparison has exactly one operator ({names}); found {found}")
        return self

    def operator(self) -> tuple[str, Any]:
        (name,) = (n for n in self.model_fields_set if n not in _MODIFIERS)
        return _doc_name(name), getattr(self, name)

    def reference(self) -> Ref:
        ref = arg(self.arg) if self.arg is not None else ctx(self.ctx or "")
        conversions = [self.as_] if isinstance(self.as_, str) else list(self.as_ or [])
        return type(ref)(ref.name, tuple(conversions), self.items)


_MODIFIERS = frozenset(("arg", "ctx", "items", "as_"))
_MEMBER_MODELS: dict[str, type[BaseModel]] = {m.__name__: m for m in (HostInDoc, EmailDomainInDoc, RegexDoc)}


class AllDoc(_Model):
    """``{all = [...]}``: every condition holds."""

    all: list[ConditionDoc] = Field(min_length=1)


class AnyDoc(_Model):
    """``{any = [...]}``: at least one condition holds."""

    any: list[ConditionDoc] = Field(min_length=1)


class NotDoc(_Model):
    """``{not = {...}}``: the condition does not hold."""

    not_: ConditionDoc = Field(alias="not")


ConditionDoc = Annotated[
    Annotated[ComparisonDoc, Tag("compare")]
    | Annotated[AllDoc, Tag("all")]
    | Annotated[AnyDoc, Tag("any")]
    | Annotated[NotDoc, Tag("not")],
    Discriminator(_kind),
]


class RuleDoc(_Model):
    """One rule: ``effect`` for ``action`` when ``when`` holds."""

    id: StrictStr | None = None
    action: StrictStr
    effect: EffectName
    when: ConditionDoc | None = None
    reason: StrictStr | None = None
    shadow: StrictBool = Field(False, description="Record what the rule would decide, without enforcing it.")


class PolicyDocument(_Model):
    """A whole policy document."""

    model_config = ConfigDict(title="guardrails policy")

    version: Literal[1] = Field(1, description="Format version of the document.")
    default: EffectName = Field("deny", description="Effect when no rule matches.")
    rules: list[RuleDoc] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _an_integer(cls, value: object) -> object:
        if type(value) is not int:  # true and 1.0 are not version 1
            raise ValueError(f"this guardrails reads documents of version 1, not {value!r}")
        return value


def _doc_name(field: str) -> str:
    return "in" if field == "in_" else field


# ---- from documents -----------------------------------------------------------


def policy_from_document(doc: object, source: str | None = None) -> tuple[list[Rule], Effect]:
    """Validate ``doc`` and build its rules and default; raise ``PolicyError``."""
    checked_depth(doc, source)
    try:
        parsed = PolicyDocument.model_validate(doc)
    except ValidationError as exc:
        raise PolicyError(_explain(exc, source)) from None
    rules = []
    for i, rule in enumerate(parsed.rules):
        where = f"rules[{i}]"
        try:
            when = None if rule.when is None else condition_from_doc(rule.when, f"{where}.when")
            rules.append(Rule(rule.action, rule.effect, when, rule.reason, rule.id, shadow=rule.shadow))
        except PolicyError as exc:
            message = str(exc) if str(exc).startswith("rules[") else f"{where}: {exc}"
            raise PolicyError(_in(source, message)) from None
    return rules, Effect(parsed.default)


def condition_from_doc(doc: ComparisonDoc | AllDoc | AnyDoc | NotDoc, where: str) -> Condition:
    """Build the condition a validated document part describes."""
    if isinstance(doc, AllDoc):
        return AllOf(condition_from_doc(c, f"{where}.all[{i}]") for i, c in enumerate(doc.all))
    if isinstance(doc, AnyDoc):
        return AnyOf(condition_from_doc(c, f"{where}.any[{i}]") for i, c in enumerate(doc.any))
    if isinstance(doc, NotDoc):
        return Not(condition_from_doc(doc.not_, f"{where}.not"))
    try:
        ref = doc.reference()
        op, value = doc.operator()
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


def _in(source: str | None, message: str) -> str:
    return f"{source}: {message}" if source else message


def _path(loc: tuple[int | str, ...]) -> tuple[str, list[int | str]]:
    """Drop the union tags pydantic puts in error locations; return the path and its parts."""
    parts: list[int | str] = []
    expect_tag = False
    for part in loc:
        if expect_tag and part in ("compare", *_COMBINATORS):
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
    return ["arg", "ctx", "items", "as", *OPERATORS, *MATCHERS, *_COMBINATORS]


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


def _explain(exc: ValidationError, source: str | None) -> str:
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
    return _in(source, body)


def _one_error(error: Any, member: str | None = None) -> str:
    loc = tuple(error["loc"])
    path, parts = _path(loc)
    kind = error["type"]
    if kind in ("extra_forbidden", "missing"):
        key = str(parts[-1])
        container, container_parts = _path(loc[:-1])
        where = container or "document"
        if kind == "missing":
            return f"{where}: missing key {key!r}"
        model = _MEMBER_MODELS.get(member or "")
        valid = (
            [f.alias or n for n, f in model.model_fields.items()] if model else _valid_keys(container_parts)
        )
        in_condition = "all" in valid and model is None
        if in_condition and key in valid:
            # A known key where it cannot stand: beside all/any/not, or a second operator.
            return (
                f"{where}: {key!r} cannot stand here: a condition is one comparison "
                "({arg|ctx = NAME, OP = VALUE}) or one of all/any/not; wrap several in {all = [...]}"
            )
        if in_condition and key in _SYNONYMS:
            close = [_SYNONYMS[key]]
        elif not in_condition and model is None and key in _KEY_SYNONYMS:
            close = [_KEY_SYNONYMS[key]]
        else:
            close = difflib.get_close_matches(key, valid, n=1)
        is_operator = in_condition and bool(close) and (close[0] in OPERATORS or close[0] in MATCHERS)
        what = "operator" if is_operator else "key"
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(valid)}"
        return f"{where}: unknown {what} {key!r}; {hint}"
    where = path or "document"
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
    if isinstance(condition, Compare):
        value = list(condition.operand) if condition.op in ("in", "between") else condition.operand
        if any(isinstance(v, Decimal) for v in (value if isinstance(value, list) else [value])):
            if not callables:
                raise PolicyError(
                    f"{condition!r}: a Decimal literal has no document form; use an int or float"
                )
            value = [str(v) for v in value] if isinstance(value, list) else str(value)
        return {**_ref_doc(condition.ref), _SYMBOLS[condition.op]: value}
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
    return doc


# ---- files ----------------------------------------------------------------------------


def load_document(path: str | Path) -> tuple[list[Rule], Effect]:
    """Read and build a policy file."""
    return policy_from_document(read_document(path), str(path))


def checked_depth(doc: object, source: str | None) -> None:
    """Refuse documents nested deeper than any policy needs, before they recurse."""
    stack: list[tuple[object, str, int]] = [(doc, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PolicyError(_in(source, f"{path or 'document'}: nested more than {MAX_DEPTH} levels deep"))
        if isinstance(node, Mapping):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of policy documents."""
    schema = PolicyDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
