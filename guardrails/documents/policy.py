"""``guardrails.Policy``: the core ``Policy`` with the document loaders.

The pure core (``guardrails.policy``) never reads files nor imports pydantic;
this subclass adds building from documents and files, and the schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from guardrails.documents.convert import load_document, policy_from_document
from guardrails.documents.schema import json_schema
from guardrails.errors import PolicyError
from guardrails.policy import evaluate
from guardrails.policy.evaluate import combined
from guardrails.policy.redaction import Redaction
from guardrails.policy.rules import Effect, Rule

__all__ = ["Policy"]


class Policy(evaluate.Policy):
    """An immutable set of rules with a default effect (see ``guardrails.policy.Policy``),
    buildable from documents: ``Policy.from_dict(doc)``, ``Policy.from_file(path)``."""

    __slots__ = ()

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str | None = None) -> Policy:
        """Build a policy from a document (``version``, ``default``, ``rules``).

        Raises ``PolicyError`` naming ``source`` and the path of what is wrong.
        """
        return _built(source, *policy_from_document(doc, source))

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """Build a policy from a ``.json``, ``.toml``, ``.yaml`` or ``.yml`` file."""
        return _built(str(path), *load_document(path))

    @classmethod
    def from_files(cls, paths: Iterable[str | Path]) -> Policy:
        """Combine several files into one policy (see ``__add__``); errors name the files."""
        loaded = [(str(path), cls.from_file(path)) for path in paths]
        if not loaded:
            raise PolicyError("from_files needs at least one file")
        first_path, first = loaded[0]
        owners: dict[str, str] = {}
        for path, policy in loaded:
            if policy.default is not first.default:
                raise PolicyError(
                    f"{path}: default {policy.default.value!r} conflicts with {first.default.value!r} in {first_path}"
                )
            for i, rule in enumerate(policy.rules):
                if rule.explicit_id:
                    if rule.id in owners:
                        raise PolicyError(
                            f"{path}: rules[{i}]: rule id {rule.id!r} is already used in {owners[rule.id]}"
                        )
                    owners[rule.id] = path
        return cls(
            [rule for _, policy in loaded for rule in policy.rules],
            first.default,
            redact=combined(policy.redaction for _, policy in loaded),
        )

    @staticmethod
    def json_schema() -> dict[str, Any]:
        """The JSON Schema of policy documents (for editors and CI checks)."""
        return json_schema()


def _built(source: str | None, rules: list[Rule], default: Effect, redact: Redaction | None) -> Policy:
    try:
        return Policy(rules, default, redact=redact)
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc}" if source else str(exc)) from None
