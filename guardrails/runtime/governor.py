"""``Governor``: a policy with its hooks and sinks, changeable while agents run."""

from __future__ import annotations

import fnmatch
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from typing_extensions import Unpack

from guardrails._text import show
from guardrails.approvals.inbox import Approvals
from guardrails.approvals.request import Approver
from guardrails.audit.recorder import record_event
from guardrails.call import Call
from guardrails.call_context import current_context
from guardrails.documents.policy import Policy as DocumentPolicy
from guardrails.errors import ConfigurationError, EvaluationError, PolicyError
from guardrails.policy.decision import Decision
from guardrails.policy.evaluate import Policy
from guardrails.policy.rules import Effect, Rule
from guardrails.runtime.flow import blocked_by, limiter_for
from guardrails.runtime.notes import record_trusted
from guardrails.runtime.setup import (
    AuditArg,
    Block,
    KeywordOptions,
    OnDeny,
    Options,
    Setup,
    check_fields,
    checked,
)
from guardrails.runtime.watch import PolicyWatcher

__all__ = ["Governor", "configure", "get_governor"]


class Governor:
    """A policy, the hooks that act on its decisions, and the audit sinks.

    ``policy`` is a ``Policy``: for a file, ``Policy.from_file("policy.toml")``
    (a path given instead raises ``ConfigurationError`` saying so), or start
    without one and ``load`` or ``watch`` the file. ``approver`` answers calls
    that need approval (no approver: they are denied). ``on_deny`` turns a
    denial into a value returned to the caller (for example a message the
    model can read); without it the denial is raised. ``audit`` is a sink or a list of sinks receiving an
    ``AuditRecord`` for every decision and outcome. ``approval_timeout``
    (seconds) denies approvals that take longer. ``mode="shadow"`` records
    what the policy decides but lets every call run (the kill switch still
    applies). A sink that fails before a tool runs stops the call;
    ``on_audit_error="allow"`` lets it go on, and the other sinks record the
    failure. ``store`` keeps the counters of rules with a limit
    (``MemoryStore()`` unless given: ``SQLiteStore``, ``RedisStore`` to share them).

    Every change — ``configure``, ``policy = ...``, ``load``, ``block`` —
    swaps one immutable snapshot: a call sees the old setup or the new one,
    never a mix, and a call under way finishes with what it started with.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        approver: Approver | None = None,
        on_deny: OnDeny | None = None,
        audit: AuditArg = None,
        **options: Unpack[KeywordOptions],
    ) -> None:
        given: dict[str, Any] = {
            "policy": _unconfigured() if policy is None else policy,
            "approver": approver,
            "on_deny": on_deny,
            "audit": audit,
            **options,
        }
        if "store" in given and given["store"] is None:
            del given["store"]  # None was always this governor's own MemoryStore, as when not given
        setup = Setup(**checked(given))
        #: The requests a person decides later: ``pending()``, ``approve(id, by=...)``, ``deny(...)``.
        self.approvals = Approvals(lambda: self.setup)
        #: The policy, hooks and sinks in force, as one immutable snapshot: read it
        #: freely; change it with ``configure``, ``policy = ...``, ``block`` or ``replace_setup``.
        self.setup: Setup
        self._put(setup)
        self._lock = threading.Lock()  # serialises writers; readers never wait
        #: Held while a policy file is read and put in force (``load``, a watcher's reload).
        self.loading = threading.Lock()

    def _put(self, setup: Setup) -> None:
        # ``setup`` is a plain attribute, so that every call reads it at the cost of
        # one lookup; only this method writes it (``__setattr__`` refuses others).
        object.__setattr__(self, "setup", setup)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "setup":
            raise AttributeError("Governor.setup is read-only: use configure(), replace_setup() or block()")
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name == "setup":
            raise AttributeError("Governor.setup is read-only: use configure(), replace_setup() or block()")
        super().__delattr__(name)

    def configure(self, **options: Unpack[Options]) -> None:
        """Change some parts at once (the options of ``guardrails.runtime.setup.Options``);
        calls already under way keep what they started with.

        Everything is checked before anything changes: a bad value raises and
        leaves the governor as it was.
        """
        changes = checked(options)
        with self._lock:
            self._put(replace(self.setup, **changes))

    def replace_setup(self, setup: Setup) -> Setup:
        """Put a whole new snapshot in force (nothing of the old one carries over);
        return the old one, to put back later (the pytest fixture does)."""
        if not isinstance(setup, Setup):
            raise ConfigurationError(f"replace_setup takes a Setup, got {show(setup)}")
        check_fields(setup)  # a subclass may skip the checks of its own construction
        with self._lock:
            old = self.setup
            self._put(setup)
        return old

    @property
    def policy(self) -> Policy:
        """The policy in force. Assigning a new one swaps it atomically."""
        return self.setup.policy

    @policy.setter
    def policy(self, policy: Policy) -> None:
        self.configure(policy=policy)

    # ---- live changes ----------------------------------------------------------

    def load(self, path: str | Path) -> Policy:
        """Replace the policy with the one in ``path``; return it.

        An invalid file raises ``PolicyError`` and the policy in force stays.
        Both outcomes are recorded in the audit trail. Loads are serialised:
        the one that starts last is the one in force.
        """
        path = _path(path, "load()")
        with self.loading:
            policy = self.read_policy(path)
            self.install(policy, path)
            return policy

    def read_policy(self, path: str | Path) -> Policy:
        """Build the policy in ``path`` without installing it; a failure is recorded
        as ``policy_rejected`` and raised as ``PolicyError``."""
        try:
            return DocumentPolicy.from_file(path)
        except Exception as exc:  # every failure to load is a rejection
            error = (
                exc if isinstance(exc, PolicyError) else PolicyError(f"{path}: {type(exc).__name__}: {exc}")
            )
            record_event(self.setup.sinks, "policy_rejected", action=str(path), reason=str(error))
            raise error from exc

    def install(self, policy: Policy, source: str | Path = "") -> None:
        """Put ``policy`` in force and record it as ``policy_loaded``."""
        self.configure(policy=policy)
        record_event(
            self.setup.sinks,
            "policy_loaded",
            action=str(source),
            policy_version=policy.version,
            reason=f"{len(policy)} rules" + (f" from {source}" if source else ""),
        )

    def watch(
        self,
        path: str | Path,
        interval: float = 1.0,
        on_error: Callable[[PolicyError], object] | None = None,
    ) -> PolicyWatcher:
        """Load ``path`` now, then reload it whenever it changes, from a daemon thread.

        A bad edit is reported — to ``on_error(exc)`` if given, to the
        ``guardrails`` logger, and as a ``policy_rejected`` audit record — and
        the last good policy stays in force. Call ``.stop()`` on the result to
        end watching.
        """
        return PolicyWatcher(self, Path(_path(path, "watch()")), interval, on_error)

    def block(self, pattern: str, *, reason: str = "blocked by the kill switch") -> None:
        """Deny every action matching ``pattern`` (a name or glob) from the next call on.

        Blocks stand above any policy and above shadow mode, in every thread.
        """
        rule = Rule(pattern, Effect.DENY, reason=reason, id=f"kill-switch:{pattern}")
        block = Block(pattern, re.compile(fnmatch.translate(pattern)), rule)
        with self._lock:
            kept = tuple(b for b in self.setup.blocks if b.pattern != pattern)
            self._put(replace(self.setup, blocks=(*kept, block)))
        record_event(self.setup.sinks, "block", action=pattern, effect="deny", rule_id=rule.id, reason=reason)

    def unblock(self, pattern: str) -> bool:
        """Lift the block on ``pattern``; return whether there was one."""
        with self._lock:
            kept = tuple(b for b in self.setup.blocks if b.pattern != pattern)
            found = len(kept) != len(self.setup.blocks)
            self._put(replace(self.setup, blocks=kept))
        if found:
            record_event(self.setup.sinks, "unblock", action=pattern, reason=f"block on {pattern!r} lifted")
        return found

    def blocked(self) -> dict[str, str]:
        """The blocked patterns and their reasons."""
        return {b.pattern: b.rule.reason for b in self.setup.blocks}

    # ---- asking ---------------------------------------------------------------------

    def check(
        self,
        action: str,
        args: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Decide on a call without running, approving or recording anything.

        ``context`` defaults to the values of the enclosing ``guardrails.context``.
        The kill switch applies; limits and ``after(...)`` are looked up in the
        store (nothing is reserved or noted); shadow mode and shadow rules do not change the answer.
        ``args`` or ``context`` that is not a mapping raises ``ConfigurationError``.
        """
        if not isinstance(action, str):
            raise ConfigurationError(f"check() takes the name of an action, got {show(action)}")
        args = _mapping(args, "args", f"check({action!r})")
        context = current_context() if context is None else _mapping(context, "context", f"check({action!r})")
        setup = self.setup
        decision = setup.policy.evaluate(action, args, context)
        blocked = blocked_by(setup, decision)
        if blocked is not None:
            return blocked
        limiter = limiter_for(setup, decision.call)
        return decision if limiter is None else limiter.peek(decision)

    def trust(self, *texts: Any, session: str | None = None) -> None:
        """Record what the user said (a request, an address book, an allow-list) as
        trusted input for ``session`` (the current context's when not given):
        ``provenance(...)`` then sees values found in it as trusted."""
        if session is None:
            current = current_context().get("session")
            if current is None:
                # Trust without a session would be everyone's: one user's words
                # would vouch for a value planted in another's conversation.
                raise ConfigurationError("trust() needs a session: context(session=...) or session=")
            session = str(current)
        record_trusted(self.setup.store, session, list(texts))

    def usage(
        self, rule_id: str, args: Mapping[str, Any] | None = None, context: Mapping[str, Any] | None = None
    ) -> Decimal:
        """How much of a rule's limit is used now for the key that ``args`` and
        ``context`` make: ``gov.usage("daily-refunds", {"customer": "C-7"})``.

        ``context`` defaults to the values of the enclosing ``guardrails.context``,
        as a governed call made here would see them. Raises ``ConfigurationError``
        naming the rule and the reason when the policy has no rule ``rule_id``
        with a limit, or when the limit's key cannot be made from ``args`` and
        ``context`` (a value it names is missing, or is not a string or number).
        """
        where = f"usage({rule_id!r})"
        args = _mapping(args, "args", where)
        context = current_context() if context is None else _mapping(context, "context", where)
        setup = self.setup
        rule = next((r for r in setup.policy.rules if r.id == rule_id), None)
        if rule is None or rule.limit is None:
            why = "has no limit" if rule is not None else "is not in the policy in force"
            raise ConfigurationError(
                f"{where}: the rule {rule_id!r} {why}; usage() reads the counters of a limit"
            )
        limit = rule.limit
        call = Call(rule.action, MappingProxyType(dict(args)), MappingProxyType(dict(context)))
        try:
            key = limit.key_for(rule.counter, call)
        except EvaluationError as exc:
            raise ConfigurationError(
                f"{where}: the key of {limit.describe()} cannot be made ({exc}); "
                "give its values in args= or context=, or call it inside guardrails.context(...)"
            ) from None
        return setup.store.usage(key, limit.window)

    def __repr__(self) -> str:
        s = self.setup
        return f"<Governor {s.policy!r} mode={s.mode} sinks={len(s.sinks)} blocks={len(s.blocks)}>"


def _mapping(value: Mapping[str, Any] | None, name: str, where: str) -> Mapping[str, Any]:
    """``value`` (None: empty), or ``ConfigurationError`` when it is not a mapping of names."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}: {name} must be a mapping of names to values, got {show(value)}")
    return value


def _path(path: object, where: str) -> str | Path:
    """``path`` when it names a file, or ``ConfigurationError``."""
    if isinstance(path, str):
        return path
    if not isinstance(path, os.PathLike) or not isinstance(os.fspath(path), str):
        raise ConfigurationError(f"{where} takes the path of a policy file (str or Path), got {show(path)}")
    return Path(path)


def _unconfigured() -> Policy:
    return DocumentPolicy(
        (),
        default=Effect.DENY,
        default_reason="no policy is configured; call guardrails.configure(policy=...) "
        "or pass governor=... to @governed",
    )


_default = Governor()


def get_governor() -> Governor:
    """The default governor, used by ``@governed`` without ``governor=``."""
    return _default


def configure(**options: Unpack[Options]) -> Governor:
    """Configure the default governor (only the parts given change); returns it."""
    _default.configure(**options)
    return _default
