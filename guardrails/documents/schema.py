"""The pydantic models of policy documents, and their JSON Schema.

A document mirrors the Python objects one to one: ``version``, ``default``
and ``rules``; a rule's ``when`` is a comparison ``{arg|ctx = NAME, OP =
VALUE}`` (optionally with ``items`` and ``as``) or ``{all|any = [...]}`` /
``{not = ...}``. Unknown keys are errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from guardrails.policy.refs import Ref, arg, ctx
from guardrails.policy.to_doc import MATCHERS, OPERATORS

__all__ = [
    "COMBINATORS",
    "MATCHERS",
    "MEMBER_MODELS",
    "OPERATORS",
    "AllDoc",
    "AnyDoc",
    "ComparisonDoc",
    "LimitDoc",
    "NotDoc",
    "PolicyDocument",
    "RuleDoc",
    "json_schema",
]


#: Document operator → the Python operator or method it stands for.
COMBINATORS = ("all", "any", "not", "after")

Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
Number = StrictInt | StrictFloat
Orderable = StrictInt | StrictFloat | StrictStr
EffectName = Literal["allow", "deny", "require_approval"]


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        for key in COMBINATORS:
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
ProvenanceKind = Literal["untrusted", "trusted", "invented"]


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
    from_: ProvenanceKind | list[ProvenanceKind] | None = Field(
        None, alias="from", description="Where the value was seen: untrusted, trusted, invented."
    )

    @model_validator(mode="after")
    def _one_reference_one_operator(self) -> ComparisonDoc:
        given = self.model_fields_set
        refs = [name for name in ("arg", "ctx") if name in given]
        if len(refs) != 1:
            raise ValueError("a comparison names exactly one of 'arg' or 'ctx'")
        ops = [name for name in given if name not in _MODIFIERS]
        if len(ops) != 1:
            found = ", ".join(repr(_doc_name(o)) for o in sorted(ops)) or "none"
            names = ", ".join([*OPERATORS, *MATCHERS, "from"])
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
MEMBER_MODELS: dict[str, type[BaseModel]] = {m.__name__: m for m in (HostInDoc, EmailDomainInDoc, RegexDoc)}


class AllDoc(_Model):
    """``{all = [...]}``: every condition holds."""

    all: list[ConditionDoc] = Field(min_length=1)


class AnyDoc(_Model):
    """``{any = [...]}``: at least one condition holds."""

    any: list[ConditionDoc] = Field(min_length=1)


class NotDoc(_Model):
    """``{not = {...}}``: the condition does not hold."""

    not_: ConditionDoc = Field(alias="not")


class KeyPartDoc(_Model):
    """One value a limit is kept per: an argument or a context value."""

    arg: StrictStr | None = None
    ctx: StrictStr | None = None

    @model_validator(mode="after")
    def _one(self) -> KeyPartDoc:
        if (self.arg is None) == (self.ctx is None):
            raise ValueError("a key part is {arg = NAME} or {ctx = NAME}")
        return self


class AfterDoc(_Model):
    """``{after = "read_file", when = {...}, within = "1d", key = [{ctx = "session"}], at_least = 1}``:
    enough calls of an action, for which ``when`` held, started under the same key."""

    after: StrictStr = Field(description="The tool name or glob of the earlier calls.")
    when: ConditionDoc | None = Field(None, description="What the earlier calls must have matched.")
    within: StrictStr | StrictInt | StrictFloat = Field(
        description="How far back to look: seconds, or '30s', '1m', '1h', '1d', '1w'."
    )
    key: list[KeyPartDoc] | None = Field(
        None, description="What the history is kept per; the session (ctx 'session') by default."
    )
    at_least: StrictInt = Field(1, description="How many such calls it takes.")


try:  # pydantic >= 2.5: pick the model by the keys present, for precise errors
    from pydantic import Discriminator, Tag

    ConditionDoc = Annotated[
        Annotated[ComparisonDoc, Tag("compare")]
        | Annotated[AllDoc, Tag("all")]
        | Annotated[AnyDoc, Tag("any")]
        | Annotated[NotDoc, Tag("not")]
        | Annotated[AfterDoc, Tag("after")],
        Discriminator(_kind),
    ]
except ImportError:  # pragma: no cover - older pydantic: a plain union, vaguer errors
    ConditionDoc = ComparisonDoc | AllDoc | AnyDoc | NotDoc | AfterDoc  # type: ignore[misc,assignment]


class LimitDoc(_Model):
    """``{count = 5, per = "1m"}`` or ``{sum = "amount", max = 500, per = "1d"}``, with a ``key``."""

    count: StrictInt | None = Field(None, description="At most this many calls per window.")
    sum: StrictStr | None = Field(None, description="The argument whose values are summed per window.")
    max: StrictInt | StrictFloat | StrictStr | None = Field(None, description="The most the sum may reach.")
    per: StrictStr | StrictInt | StrictFloat = Field(
        description="The window: seconds, or '30s', '1m', '1h', '1d', '1w'."
    )
    key: list[KeyPartDoc] = Field(default_factory=list, description="What the counter is kept per.")


class ApprovalDoc(_Model):
    """How a require_approval rule's approvals are given."""

    timeout: StrictInt | StrictFloat | None = Field(None, description="Seconds the approver has.")
    quorum: StrictInt = Field(1, description="How many distinct people must approve.")
    approvers: list[StrictStr] | None = Field(None, description="Who may approve (ids).")
    rememberable: StrictBool = Field(True, description="Whether 'remember for this session' is allowed.")


class RuleDoc(_Model):
    """One rule: ``effect`` for ``action`` when ``when`` holds."""

    id: StrictStr | None = None
    action: StrictStr
    effect: EffectName
    when: ConditionDoc | None = None
    reason: StrictStr | None = None
    shadow: StrictBool = Field(False, description="Record what the rule would decide, without enforcing it.")
    limit: LimitDoc | None = Field(
        None, description="Apply only when this limit is reached (deny or approval rules)."
    )
    approval: ApprovalDoc | None = Field(
        None, description="How approvals are given (require_approval rules)."
    )


class RedactDoc(_Model):
    """What the audit trail must not keep."""

    names: list[StrictStr] = Field(
        default_factory=list, description="Globs of argument, context and key names, any case: '*password*'."
    )
    values: list[StrictStr] = Field(
        default_factory=list,
        description="'card', 'api_key', 'jwt', 'private_key', or regular expressions of values to hide.",
    )
    defaults: StrictBool = Field(True, description="Also redact the built-in names and value patterns.")


class PolicyDocument(_Model):
    """A whole policy document."""

    model_config = ConfigDict(title="guardrails policy")

    version: Literal[1] = Field(1, description="Format version of the document.")
    default: EffectName = Field("deny", description="Effect when no rule matches.")
    rules: list[RuleDoc] = Field(default_factory=list)
    redact: RedactDoc | None = Field(None, description="What the audit trail must not keep.")

    @field_validator("version", mode="before")
    @classmethod
    def _an_integer(cls, value: object) -> object:
        if type(value) is not int:  # true and 1.0 are not version 1
            raise ValueError(f"this guardrails reads documents of version 1, not {value!r}")
        return value


def _doc_name(field: str) -> str:
    return {"in_": "in", "from_": "from"}.get(field, field)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of policy documents."""
    schema = PolicyDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
