"""Naming Python objects on the command line: ``module:attr`` (tools, policies).

The current directory is searched for the module first, as ``python -m`` would,
so ``check mypolicy:POLICY`` works from the installed command too.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path
from typing import Any

from guardrails._text import show
from guardrails.errors import PolicyError
from guardrails.policy.evaluate import Policy

__all__ = ["ImportFailed", "import_object", "is_spec", "policy_from_spec"]

_SPEC = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*")


class ImportFailed(LookupError):
    """The module or the attribute a ``module:attr`` names is not there."""


def is_spec(text: str) -> bool:
    """Whether ``text`` reads as ``module:attr`` (and no file of that name exists)."""
    return bool(_SPEC.fullmatch(text)) and not Path(text).exists()


def import_object(spec: str, what: str) -> Any:
    """The object ``module:attr`` (or ``module``) names; ``what`` says what it is for.

    Raises ``ImportFailed`` when the module or the attribute is not there; an error
    raised by the module's own code while importing propagates as it was.
    """
    module_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        holder: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise  # the module is there, but something it imports is not
        raise ImportFailed(
            f"{what} {spec}: no module named {exc.name!r} (looked in the current directory and sys.path)"
        ) from None
    name, separator = module_name, ":"
    for part in filter(None, attr.split(".")):
        try:
            holder = getattr(holder, part)
        except AttributeError:
            raise ImportFailed(f"{what} {spec}: {name} has no attribute {part!r}") from None
        name, separator = f"{name}{separator}{part}", "."
    return holder


def policy_from_spec(spec: str) -> Policy:
    """The policy ``module:attr`` names: a ``Policy``, or a function returning one
    (called with no arguments). Raises ``ImportFailed`` when it is not there and
    ``PolicyError`` when it is not a policy or building it failed."""
    found = import_object(spec, "policy")
    if callable(found) and not isinstance(found, Policy):
        try:
            found = found()
        except PolicyError as exc:
            raise PolicyError(f"{spec}: {exc}") from None
    if not isinstance(found, Policy):
        raise PolicyError(f"{spec} is {show(found)}, not a guardrails Policy (nor a function returning one)")
    return found
