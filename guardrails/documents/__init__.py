"""Policy documents (JSON, TOML, YAML) to and from ``Policy``.

``Policy`` is the core policy with the loaders: ``Policy.from_dict(doc)``,
``Policy.from_file(path)``, ``Policy.from_files(paths)``; every error is a
``PolicyError`` naming the file and the place in it. ``PolicyDocument`` is
the validated form of a document, ``json_schema()`` its JSON Schema for
editors and CI, and ``read_document(path)`` a file's plain data, read
strictly (no key given twice, YAML's scalars read as JSON's).
"""

from guardrails.documents.load import read_document
from guardrails.documents.policy import Policy
from guardrails.documents.schema import PolicyDocument, json_schema

__all__ = ["Policy", "PolicyDocument", "json_schema", "read_document"]
