"""What the commands share: exit codes, colour, reading policies and JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from guardrails.policy.evaluate import Policy
from guardrails.testing.cases import policy_for
from guardrails.testing.imports import is_spec, policy_from_spec

__all__ = ["FOUND", "INCOMPLETE", "OK", "USAGE", "colour", "json_arg", "json_list", "load_policy", "paint"]

#: Exit codes: all is well; something was found; the command could not do its job;
#: the input is not what the command judges, or could not be judged in full.
OK, FOUND, USAGE, INCOMPLETE = 0, 1, 2, 3

COLOURS = {"allow": "32", "deny": "31", "require_approval": "33", "pass": "32", "fail": "31", "warn": "33"}


def colour(out: TextIO) -> bool:
    """Colour only on a terminal, and not when NO_COLOR is set."""
    return out.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, kind: str, on: bool) -> str:
    """``text`` in the colour for ``kind`` (allow, deny, pass, fail...), when ``on``."""
    code = COLOURS.get(kind)
    return f"\033[{code}m{text}\033[0m" if on and code else text


def load_policy(paths: Sequence[str | Path]) -> Policy:
    """One policy from the ``--policy`` values: files (combined as ``Policy.from_files``
    combines them) and ``module:attr`` naming a Policy or a function returning one."""
    files = [Path(p) for p in paths if not is_spec(str(p))]
    policies = [policy_for(files, "--policy")] if files else []
    policies += [policy_from_spec(str(p)) for p in paths if is_spec(str(p))]
    combined = policies[0]
    for policy in policies[1:]:
        combined = combined + policy
    return combined


def json_arg(text: str, what: str) -> dict[str, Any]:
    """A JSON object given on the command line."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def json_list(text: str, what: str) -> list[Any]:
    """A JSON array given on the command line."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a JSON array, got {type(value).__name__}")
    return value
