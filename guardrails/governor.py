"""``Governor``: a policy with its hooks, and the flow of one governed call.

The flow is written once, as a generator that yields the steps needing the
outside world (ask the approver, run the tool, hand a denial to ``on_deny``);
``flow.py`` drives it synchronously or asynchronously.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from guardrails.approvals import ApprovalRequest, Approver, as_response
from guardrails.audit import AuditRecord, AuditSink, Outcome
from guardrails.call import EMPTY, Call
from guardrails.context import current_context
from guardrails.decision import Decision
from guardrails.errors import (
    ActionDenied,
    ApprovalDenied,
    AuditError,
    ConfigurationError,
)
from guardrails.policy import Policy
from guardrails.rules import Effect
from guardrails.steps import AskApprover, HandleDenial, RunTool, Step
from guardrails.values import brief, show

__all__ = ["Governor", "OnDeny", "Setup", "configure", "get_governor", "make_call"]

logger = logging.getLogger("guardrails")

#: ``(ActionDenied) -> value``: returned to the caller instead of raising.
OnDeny = Callable[[ActionDenied], Any]
AuditArg = AuditSink | Iterable[AuditSink] | None

_UNSET: Any = object()


@dataclass(frozen=True)
class Setup:
    """Everything one call reads, swapped as a whole so a call never sees half a change."""

    policy: Policy
    approver: Approver | None
    on_deny: OnDeny | None
    sinks: tuple[AuditSink, ...]
    approval_timeout: float | None


class Governor:
    """A policy, the hooks that act on its decisions, and the audit sinks.

    ``approver`` answers calls that need approval (no approver: they are
    denied). ``on_deny`` turns a denial into a value returned to the caller
    (for example a message the model can read); without it the denial is
    raised. ``audit`` is a sink or a list of sinks receiving an
    ``AuditRecord`` for every decision and outcome. ``approval_timeout``
    (seconds) denies approvals that take longer.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        approver: Approver | None = None,
        on_deny: OnDeny | None = None,
        audit: AuditArg = None,
        *,
        approval_timeout: float | None = None,
    ) -> None:
        self._setup = Setup(_unconfigured(), None, None, (), None)
        self.configure(
            policy=_unconfigured() if policy is None else policy,
            approver=approver,
            on_deny=on_deny,
            audit=audit,
            approval_timeout=approval_timeout,
        )

    def configure(
        self,
        *,
        policy: Policy = _UNSET,
        approver: Approver | None = _UNSET,
        on_deny: OnDeny | None = _UNSET,
        audit: AuditArg = _UNSET,
        approval_timeout: float | None = _UNSET,
    ) -> None:
        """Change some parts at once; calls already under way keep what they started with.

        Everything is checked before anything changes: a bad value raises and
        leaves the governor as it was.
        """
        changes: dict[str, Any] = {}
        if policy is not _UNSET:
            if not isinstance(policy, Policy):
                raise ConfigurationError(f"policy must be a Policy, got {show(policy)}")
            changes["policy"] = policy
        for name, hook in (("approver", approver), ("on_deny", on_deny)):
            if hook is not _UNSET:
                if hook is not None and not callable(hook):
                    raise ConfigurationError(f"{name} must be callable, got {show(hook)}")
                changes[name] = hook
        if audit is not _UNSET:
            changes["sinks"] = _sinks(audit)
        if approval_timeout is not _UNSET:
            if approval_timeout is not None and not (
                isinstance(approval_timeout, (int, float))
                and not isinstance(approval_timeout, bool)
                and approval_timeout > 0
            ):
                raise ConfigurationError(
                    f"approval_timeout must be a positive number, got {show(approval_timeout)}"
                )
            changes["approval_timeout"] = approval_timeout
        self._setup = replace(self._setup, **changes)

    @property
    def setup(self) -> Setup:
        """The current policy, hooks and sinks, as one snapshot."""
        return self._setup

    @property
    def policy(self) -> Policy:
        return self._setup.policy

    def check(
        self,
        action: str,
        args: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Decide on a call without running, approving or recording anything.

        ``context`` defaults to the values of the enclosing ``guardrails.context``.
        """
        if context is None:
            context = current_context()
        return self._setup.policy.evaluate(action, args, context)

    def flow(self, setup: Setup, decision: Decision) -> Generator[Step, Any, Any]:
        """The life of one call after the policy decided; see ``guardrails.steps``."""
        call = decision.call
        needed_approval = decision.effect is Effect.REQUIRE_APPROVAL
        if needed_approval:
            decision = yield from _approve(setup, decision)
        if not decision.allowed:
            _record(setup, decision, Outcome.NOT_RUN)
            denial = (ApprovalDenied if needed_approval else ActionDenied)(decision, call)
            if setup.on_deny is None:
                raise denial
            return (yield HandleDenial(setup.on_deny, denial))
        _record(setup, decision, Outcome.STARTED)
        started = time.perf_counter()
        try:
            result = yield RunTool()
        except GeneratorExit:
            raise
        except BaseException as exc:
            _record_after(setup, decision, Outcome.RAISED, started, exc)
            raise
        _record_after(setup, decision, Outcome.RETURNED, started)
        return result

    def __repr__(self) -> str:
        s = self._setup
        return f"<Governor {s.policy!r} approver={s.approver!r} sinks={len(s.sinks)}>"


def _unconfigured() -> Policy:
    return Policy(
        (),
        default=Effect.DENY,
        default_reason="no policy is configured; call guardrails.configure(policy=...) "
        "or pass governor=... to @governed",
    )


def _sinks(audit: AuditArg) -> tuple[AuditSink, ...]:
    if audit is None:
        return ()
    sinks = (audit,) if callable(audit) else tuple(audit)
    for sink in sinks:
        if not callable(sink):
            raise ConfigurationError(f"audit sinks must be callable, got {show(sink)}")
    return sinks


def _approve(setup: Setup, decision: Decision) -> Generator[Step, Any, Decision]:
    """Ask the approver; every way it can fail ends in a denial that says why."""
    if setup.approver is None:
        return _refused(decision, "no approver is configured")
    timeout = setup.approval_timeout
    started = time.monotonic()
    try:
        answer = yield AskApprover(setup.approver, ApprovalRequest(decision.call, decision), timeout)
    except (ConfigurationError, GeneratorExit):
        raise
    except TimeoutError:
        return _refused(decision, f"no answer within {timeout:g}s")
    except Exception as exc:  # noqa: BLE001 - an approver that breaks says no
        return _refused(decision, f"the approver failed ({type(exc).__name__}: {exc})")
    response = as_response(answer)
    if response is None:
        return _refused(decision, f"the approver returned {show(answer)}, not a bool or ApprovalResponse")
    if timeout is not None and time.monotonic() - started > timeout:
        return _refused(decision, f"the answer came after the {timeout:g}s timeout")
    who = f" by {response.by}" if response.by else ""
    why = f": {response.reason}" if response.reason else ""
    if response.approved:
        return decision.replace(
            effect=Effect.ALLOW, approval=response, reason=f"{decision.reason}; approved{who}{why}"
        )
    return decision.replace(
        effect=Effect.DENY, approval=response, reason=f"{decision.reason}; refused{who}{why}"
    )


def _refused(decision: Decision, why: str) -> Decision:
    return decision.replace(effect=Effect.DENY, reason=f"{decision.reason}; not approved: {why}")


def _audit_record(decision: Decision, outcome: Outcome, **extra: Any) -> AuditRecord:
    call = decision.call
    return AuditRecord(
        time=datetime.now(timezone.utc),
        call_id=call.call_id,
        action=call.action,
        args=dict(call.args),
        context=dict(call.context),
        effect=decision.effect.value,
        rule_id=decision.rule_id,
        reason=decision.reason,
        outcome=outcome,
        approved_by=decision.approval.by if decision.approval else None,
        **extra,
    )


def _record(setup: Setup, decision: Decision, outcome: Outcome) -> None:
    """Record before the tool runs: a failing sink means the tool does not run."""
    if not setup.sinks:
        return
    record = _audit_record(decision, outcome)
    for sink in setup.sinks:
        try:
            sink(record)
        except Exception as exc:
            raise AuditError(
                f"{decision.call.action!r} did not run: audit sink {brief(sink)} failed "
                f"({type(exc).__name__}: {exc})"
            ) from exc


def _record_after(
    setup: Setup, decision: Decision, outcome: Outcome, started: float, exc: BaseException | None = None
) -> None:
    """Record the outcome. The tool has run: a failing sink is logged, not raised,
    so the caller still learns what the tool did (and does not retry it)."""
    if not setup.sinks:
        return
    error = None if exc is None else _describe(exc)
    record = _audit_record(decision, outcome, error=error, duration_ms=(time.perf_counter() - started) * 1e3)
    for sink in setup.sinks:
        try:
            sink(record)
        except Exception:
            logger.exception(
                "audit sink %s failed to record the outcome of call %s", brief(sink), record.call_id
            )


def _describe(exc: BaseException, limit: int = 200) -> str:
    text = str(exc)
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_default = Governor()


def get_governor() -> Governor:
    """The default governor, used by ``@governed`` without ``governor=``."""
    return _default


def configure(
    *,
    policy: Policy = _UNSET,
    approver: Approver | None = _UNSET,
    on_deny: OnDeny | None = _UNSET,
    audit: AuditArg = _UNSET,
    approval_timeout: float | None = _UNSET,
) -> Governor:
    """Configure the default governor (only the parts given change); returns it."""
    _default.configure(
        policy=policy, approver=approver, on_deny=on_deny, audit=audit, approval_timeout=approval_timeout
    )
    return _default


def make_call(action: str, args: dict[str, Any]) -> Call:
    """A ``Call`` for ``action`` with bound ``args`` in the current context."""
    return Call(action, MappingProxyType(args) if args else EMPTY, current_context())
