"""Naming Python objects on the command line: ``module:attr`` (tools, policies).

The current directory is searched for the module first, as ``python -m`` would,
so ``check mypolicy:POLICY`` works from the installed command too.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from guardrails._text import show
from guardrails.errors import PolicyError
from guardrails.policy.evaluate import Policy

__all__ = ["CodeExited", "ImportFailed", "import_object", "is_spec", "policy_from_spec"]

_SPEC = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*")


class ImportFailed(LookupError):
    """The module or the attribute a ``module:attr`` names is not there (or, as
    ``CodeExited``, importing or building it exited)."""


class CodeExited(ImportFailed):
    """The module's own code, or the function building the policy, raised ``SystemExit``
    (``sys.exit()``): nothing was loaded, and the command must not end as if all were well."""


_T = TypeVar("_T")


def guarded(doing: str, run: Callable[[], _T]) -> _T:
    """``run()``; a ``SystemExit`` (or another ``BaseException`` but ``KeyboardInterrupt``,
    which stays Ctrl-C) raised by the user's code in it becomes ``CodeExited``, saying
    ``doing`` exited."""
    try:
        return run()
    except (KeyboardInterrupt, Exception):
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit from user code must not end the command
        detail = f"SystemExit {exc.code!r}" if isinstance(exc, SystemExit) else type(exc).__name__
        raise CodeExited(f"{doing} exited ({detail})") from None


def is_spec(text: str) -> bool:
    """Whether ``text`` reads as ``module:attr`` (and no file of that name exists)."""
    return bool(_SPEC.fullmatch(text)) and not Path(text).exists()


def import_object(spec: str, what: str) -> Any:
    """The object ``module:attr`` (or ``module``) names; ``what`` says what it is for.

    Raises ``ImportFailed`` when the module or the attribute is not there, ``CodeExited``
    when the module's code exits (``sys.exit()``) while importing or reading the attribute;
    an error raised by the module's own code while importing propagates as it was.
    """
    return guarded(f"importing {what} {spec}", lambda: _import(spec, what))


def _import(spec: str, what: str) -> Any:
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
    """The policy ``module:attr`` names: a ``Policy``, or a (plain, not async) function
    returning one (called with no arguments, once).

    Raises ``ImportFailed`` when it is not there, ``CodeExited`` when importing or
    building it exits (``sys.exit()``), and ``PolicyError`` when it is not a policy or
    importing or building it failed.
    """
    return guarded(f"importing or building the policy {spec}", lambda: _build(spec))


def _build(spec: str) -> Policy:
    try:
        found = _import(spec, "policy")
    except ImportFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - the module's own code failed: it does not load
        raise PolicyError(f"{spec}: importing or building it failed: {type(exc).__name__}: {exc}") from None
    if callable(found) and not isinstance(found, Policy):
        found = _call(spec, found)
    if not isinstance(found, Policy):
        raise PolicyError(f"{spec} is {show(found)}, not a guardrails Policy (nor a function returning one)")
    return found


def _call(spec: str, factory: Callable[[], Any]) -> Any:
    """What the function ``spec`` names returns, called once with no arguments."""
    if inspect.iscoroutinefunction(factory):
        raise PolicyError(f"{spec} is an async function: {_NO_AWAIT}")
    try:
        made = factory()
    except PolicyError as exc:
        raise PolicyError(f"{spec}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's function failed: the policy does not load
        raise PolicyError(f"{spec}: importing or building it failed: {type(exc).__name__}: {exc}") from None
    if inspect.isawaitable(made):
        if inspect.iscoroutine(made):
            made.close()  # never run, and no "was never awaited" warning
        raise PolicyError(f"{spec} returned {show(made)}, something to await: {_NO_AWAIT}")
    return made


_NO_AWAIT = "a policy is built without await (name a Policy, or a plain function returning one)"
