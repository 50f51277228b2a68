"""What the commands share: exit codes, colour, reading policies and JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from guardrails.policy.evaluate import Policy
from guardrails.testing.cases import policy_for

__all__ = ["FOUND", "OK", "USAGE", "colour", "json_arg", "load_policy", "paint"]

OK, FOUND, USAGE = 0, 1, 2

COLOURS = {"allow": "32", "deny": "31", "require_approval": "33", "pass": "32", "fail": "31", "warn": "33"}


def colour(out: TextIO) -> bool:
    """Colour only on a terminal, and not when NO_COLOR is set."""
    return out.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, kind: str, on: bool) -> str:
    """``text`` in the colour for ``kind`` (allow, deny, pass, fail...), when ``on``."""
    code = COLOURS.get(kind)
    return f"\033[{code}m{text}\033[0m" if on and code else text


def load_policy(paths: Sequence[str | Path]) -> Policy:
    """One policy from the ``--policy`` files."""
    return policy_for([Path(p) for p in paths], "--policy")


def json_arg(text: str, what: str) -> dict[str, Any]:
    """A JSON object given on the command line."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value
