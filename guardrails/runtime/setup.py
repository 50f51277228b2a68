"""``Setup``: the governor's immutable snapshot, read by every call, and the options that make it.

Every change to a governor swaps one ``Setup`` for another, so a call sees
the old one or the new one, never half of a change.

The options of ``Governor(...)``, ``gov.configure(...)`` and
``guardrails.configure(...)`` are declared here once: ``Options`` types them
for callers, ``OPTIONS`` checks each one and names the ``Setup`` field it
sets, and ``checked`` applies it to what a caller gave.
"""

from __future__ import annotations

import fnmatch
import inspect
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from typing_extensions import TypedDict

from guardrails._text import show
from guardrails.approvals.request import Approver
from guardrails.audit.recorder import OnAuditError
from guardrails.audit.records import AuditSink
from guardrails.errors import ConfigurationError
from guardrails.policy.decision import ActionDenied
from guardrails.policy.evaluate import Policy
from guardrails.policy.rules import Rule
from guardrails.state import MemoryStore, Store

__all__ = [
    "OPTIONS",
    "AuditArg",
    "Block",
    "KeywordOptions",
    "Mode",
    "OnDeny",
    "Options",
    "Setup",
    "check_fields",
    "checked",
]


#: ``(ActionDenied) -> value``: returned to the caller instead of raising.
OnDeny = Callable[[ActionDenied], Any]
#: ``"enforce"``: decisions apply. ``"shadow"``: they are recorded (``enforced=False``)
#: and every call runs; the kill switch (``gov.block``) still applies.
Mode = Literal["enforce", "shadow"]
#: What ``audit=`` takes: a sink, several, or None.
AuditArg = AuditSink | Iterable[AuditSink] | None
#: Arguments by name back to ``(args, kwargs)`` for the tool (``Binder.unbind``).
Unbind = Callable[[Mapping[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]


@dataclass(frozen=True)
class Block:
    """A kill-switch entry: calls whose action matches ``pattern`` are denied."""

    pattern: str
    regex: re.Pattern[str]
    rule: Rule


@dataclass(frozen=True)
class Setup:
    """Everything one call reads, swapped as a whole so a call never sees half a change."""

    policy: Policy
    approver: Approver | None = None
    on_deny: OnDeny | None = None
    sinks: tuple[AuditSink, ...] = ()
    approval_timeout: float | None = None
    mode: Mode = "enforce"
    on_audit_error: OnAuditError = "deny"
    store: Store = field(default_factory=MemoryStore)
    blocks: tuple[Block, ...] = ()
    #: Seconds a deferred request can be decided and its decision used (None: no end).
    approval_expiry: float | None = 86_400.0
    #: Deferred requests that may wait at once in one session (floods are refused).
    max_pending: int = 10
    #: Actions (compiled globs) whose output is recorded as untrusted unless the tool says.
    untrusted: tuple[re.Pattern[str], ...] = ()

    def __post_init__(self) -> None:
        check_fields(self)


class KeywordOptions(TypedDict, total=False):
    """The options ``Governor(...)`` takes by keyword only (see ``Options``)."""

    approval_timeout: float | None
    mode: Mode
    on_audit_error: OnAuditError
    store: Store
    approval_expiry: float | None
    max_pending: int
    untrusted: Iterable[str]


class Options(KeywordOptions, total=False):
    """Every option of a governor, as ``gov.configure(...)`` and ``guardrails.configure(...)``
    take them: only those given change. ``audit`` sets ``Setup.sinks``; ``untrusted``
    (names or globs) sets ``Setup.untrusted``; the others set the field of their name."""

    policy: Policy
    approver: Approver | None
    on_deny: OnDeny | None
    audit: AuditArg


def _policy(name: str, value: Any) -> Policy:
    if not isinstance(value, Policy):
        raise ConfigurationError(f"{name} must be a Policy, got {show(value)}{_policy_hint(value)}")
    return value


def _policy_hint(value: Any) -> str:
    """How to make a Policy of what was given instead, when it is plain what was meant."""
    if isinstance(value, (str, os.PathLike)):
        # Kept explicit: reading a file is the caller's choice, never a guess made from a string.
        return f"; to use a policy file, pass Policy.from_file({os.fspath(value)!r})"
    if isinstance(value, Mapping):
        return "; to use a policy document, pass Policy.from_dict(...)"
    if isinstance(value, Rule) or (
        isinstance(value, (list, tuple)) and value and all(isinstance(r, Rule) for r in value)
    ):
        return "; to use rules, pass Policy([rule, ...])"
    return ""


def _hook(name: str, value: Any) -> Any:
    if value is not None and not callable(value):
        raise ConfigurationError(f"{name} must be callable, got {show(value)}")
    return value


def _denial_hook(name: str, value: Any) -> Any:
    """``on_deny`` is called with the denial alone: a hook that cannot take it would
    fail only when a call is denied, so its shape is checked here."""
    _hook(name, value)
    if value is not None:
        try:
            if getattr(value, "__wrapped__", None) is not None:
                # Decorated (functools.wraps, wrapt): the decorator may supply arguments
                # that the signature it reports (the wrapped function's) declares.
                return value
            signature = inspect.signature(value)
        except Exception:  # noqa: BLE001 - a builtin or a proxy without one: trusted as given
            return value
        try:
            signature.bind(None)
        except TypeError:
            raise ConfigurationError(
                f"{name} is called with one argument (the ActionDenied), but {show(value)} takes {signature}"
            ) from None
    return value


def _sinks(name: str, value: Any) -> tuple[AuditSink, ...]:
    if value is None:
        return ()
    sinks = (value,) if callable(value) else tuple(value)
    for sink in sinks:
        if not callable(sink):
            raise ConfigurationError(f"audit sinks must be callable, got {show(sink)}")
        if inspect.iscoroutinefunction(sink) or inspect.iscoroutinefunction(type(sink).__call__):
            raise ConfigurationError(
                f"audit sink {show(sink)} is async: a sink must record before the tool runs; "
                "make it a plain function (hand records to a queue if it must do I/O later)"
            )
    return sinks


def _seconds(name: str, value: Any) -> float | None:
    if value is not None and not (
        isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    ):
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {show(value)}")
    return value


def _count(name: str, value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ConfigurationError(f"{name} must be a whole number, got {show(value)}")
    return value


def _globs(name: str, value: Any) -> tuple[re.Pattern[str], ...]:
    patterns = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(p, str) and p for p in patterns):
        raise ConfigurationError(f"{name} takes tool names or globs, got {show(value)}")
    return tuple(re.compile(fnmatch.translate(p)) for p in patterns)


def _one_of(*choices: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        # A str subclass could answer == as it likes: only the plain strings are options.
        if type(value) is not str or value not in choices:
            raise ConfigurationError(f"{name} must be {' or '.join(map(repr, choices))}, got {show(value)}")
        return value

    return check


def _store(name: str, value: Any) -> Store:
    if not isinstance(value, Store):
        raise ConfigurationError(f"{name} must be a Store (MemoryStore, SQLiteStore...), got {show(value)}")
    return value


#: Each option: the ``Setup`` field it sets and the check that turns what a caller
#: gave into that field's value (raising ``ConfigurationError``). Checked in this order.
OPTIONS: Mapping[str, tuple[str, Callable[[str, Any], Any]]] = MappingProxyType(
    {
        "policy": ("policy", _policy),
        "approver": ("approver", _hook),
        "on_deny": ("on_deny", _denial_hook),
        "audit": ("sinks", _sinks),
        "approval_timeout": ("approval_timeout", _seconds),
        "approval_expiry": ("approval_expiry", _seconds),
        "max_pending": ("max_pending", _count),
        "untrusted": ("untrusted", _globs),
        "mode": ("mode", _one_of("enforce", "shadow")),
        "on_audit_error": ("on_audit_error", _one_of("deny", "allow")),
        "store": ("store", _store),
    }
)


def check_fields(setup: Setup) -> None:
    """Check a ``Setup``'s fields as they are kept, by the options' own checks (a
    snapshot built by hand, as ``replace_setup`` takes, is held to the same bar)."""
    for name, (field_name, check) in OPTIONS.items():
        value = getattr(setup, field_name)
        if field_name == "sinks" and type(value) is not tuple:
            raise ConfigurationError(f"Setup.sinks must be a tuple of sinks, got {show(value)}")
        if field_name == "untrusted":
            if type(value) is not tuple or not all(isinstance(p, re.Pattern) for p in value):
                raise ConfigurationError(
                    f"Setup.untrusted must be a tuple of compiled patterns, got {show(value)}"
                )
            continue
        check(name, value)
    if type(setup.blocks) is not tuple or not all(isinstance(b, Block) for b in setup.blocks):
        raise ConfigurationError(f"Setup.blocks must be a tuple of Block, got {show(setup.blocks)}")


def checked(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check every option in ``options``; return the ``Setup`` fields they set.

    A bad value, or a name that is not an option, raises ``ConfigurationError``
    (a ``TypeError``) before anything is built, so a caller changes all or nothing.
    """
    unknown = sorted(set(options) - OPTIONS.keys())
    if unknown:
        raise ConfigurationError(f"unexpected option {unknown[0]!r}; the options are {', '.join(OPTIONS)}")
    return {field: check(name, options[name]) for name, (field, check) in OPTIONS.items() if name in options}
