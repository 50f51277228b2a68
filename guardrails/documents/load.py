"""Reading policy files: JSON, TOML and YAML into plain data, strictly.

Strict means: a key given twice is an error in every format (JSON and YAML
parsers would quietly keep the last), and YAML reads its scalars as JSON
would — ``no``, ``on`` and ``0777`` stay the strings they look like.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from guardrails.errors import PolicyError

__all__ = ["read_document"]


def read_document(path: str | Path) -> object:
    """Parse a JSON, TOML or YAML file into plain data; raise ``PolicyError``."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc.strerror or exc})") from None
    try:
        if suffix == ".json":
            return json.loads(data, object_pairs_hook=_unique_keys)
        if suffix == ".toml":
            return _toml().loads(data.decode("utf-8"))
        if suffix in (".yaml", ".yml"):
            return _load_yaml(data, path)
    except (ValueError, UnicodeDecodeError) as exc:  # JSON, TOML and YAML errors are ValueErrors
        raise PolicyError(f"{path}: not valid {suffix[1:].upper()}: {exc}") from None
    except RecursionError:
        raise PolicyError(f"{path}: nested too deeply to be a policy") from None
    raise PolicyError(f"{path}: unknown policy file type {suffix!r}; use .json, .toml, .yaml or .yml")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} is given twice in one object")
        result[key] = value
    return result


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:
        import tomli
    except ImportError:  # pragma: no cover - Python 3.10 without the extra
        raise PolicyError("reading TOML on Python 3.10 needs tomli: pip install 'guardrails[toml]'") from None
    return tomli


def _load_yaml(data: bytes, path: Path) -> object:
    try:
        import yaml
    except ImportError:
        raise PolicyError(f"{path}: reading YAML needs PyYAML: pip install 'guardrails[yaml]'") from None
    try:
        return yaml.load(data, Loader=_strict_yaml_loader(yaml))
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


_LOADER: Any = None


def _strict_yaml_loader(yaml: Any) -> Any:
    """A SafeLoader with JSON's scalars (YAML 1.2 core) and no duplicate keys."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER

    class StrictLoader(yaml.SafeLoader):  # type: ignore[misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"a key must be a plain value, not {type(key).__name__}",
                        key_node.start_mark,
                    )
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the key {key!r} is given twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)  # type: ignore[no-any-return]

    # Start from no implicit types at all, then add only what JSON has.
    StrictLoader.yaml_implicit_resolvers = {}
    resolvers = [
        ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
        ("tag:yaml.org,2002:int", r"[-+]?[0-9]+", "-+0123456789"),
        (
            "tag:yaml.org,2002:float",
            r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?",
            "-+.0123456789",
        ),
        ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ]
    for tag, pattern, first in resolvers:
        StrictLoader.add_implicit_resolver(tag, re.compile(f"^(?:{pattern})$"), list(first))
    # YAML 1.1 reads 0777 as octal and 1_000 as 1000; JSON reads digits as decimal.
    StrictLoader.add_constructor(
        "tag:yaml.org,2002:int", lambda loader, node: int(loader.construct_scalar(node), 10)
    )
    _LOADER = StrictLoader
    return StrictLoader
