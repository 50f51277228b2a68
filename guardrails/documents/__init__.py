"""Policy documents (JSON, TOML, YAML) to and from ``Policy``: loading, the schema, error messages."""

from guardrails.documents.convert import MAX_DEPTH, condition_from_doc, load_document, policy_from_document
from guardrails.documents.errors import explain, in_source
from guardrails.documents.load import read_document
from guardrails.documents.policy import Policy
from guardrails.documents.schema import (
    COMBINATORS,
    MATCHERS,
    MEMBER_MODELS,
    OPERATORS,
    AllDoc,
    AnyDoc,
    ComparisonDoc,
    LimitDoc,
    NotDoc,
    PolicyDocument,
    RuleDoc,
    json_schema,
)

__all__ = [
    "COMBINATORS",
    "MATCHERS",
    "MAX_DEPTH",
    "MEMBER_MODELS",
    "OPERATORS",
    "AllDoc",
    "AnyDoc",
    "ComparisonDoc",
    "LimitDoc",
    "NotDoc",
    "Policy",
    "PolicyDocument",
    "RuleDoc",
    "condition_from_doc",
    "explain",
    "in_source",
    "json_schema",
    "load_document",
    "policy_from_document",
    "read_document",
]
