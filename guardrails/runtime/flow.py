"""The life of one governed call, written once.

``call_flow`` is a generator: it yields the steps that need the outside world
(ask the approver, run the tool, hand a denial to ``on_deny``) and receives
their results; ``guardrails.runtime.drivers`` drives it synchronously or
asynchronously. Everything that can go wrong on the way ends with the tool
not run.

The flow also defines its own shortcut, ``fast_exit``: when an allowed call
would pass through it without asking, noting, blocking or recording anything,
the call runs at once (after holding its share of its limits, if it has any).
``blocked_by`` and ``limiter_for`` are the steps ``Governor.check`` shares.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from collections.abc import Callable, Generator, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

from guardrails._text import describe_error
from guardrails.approvals.ask import ask
from guardrails.approvals.request import Approval, ApprovalDenied, ApprovalPending
from guardrails.audit.recorder import Recorder
from guardrails.audit.records import AuditApproval, Outcome
from guardrails.call import Call
from guardrails.errors import AuditError, StoreError
from guardrails.policy.decision import ActionDenied, Decision
from guardrails.policy.rules import Effect, Rule
from guardrails.runtime.drivers import HandleDenial, Raised, RunTool, Step
from guardrails.runtime.limiter import Limiter, token_for
from guardrails.runtime.notes import note, record_output
from guardrails.runtime.setup import Setup

__all__ = ["RUN", "FastExit", "Unbind", "blocked_by", "call_flow", "fast_exit", "limiter_for"]

logger = logging.getLogger("guardrails")

#: Arguments by name back to ``(args, kwargs)`` for the tool (``Binder.unbind``).
Unbind = Callable[[Mapping[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]


class Shortcut(enum.Enum):
    """The one value of ``RUN``."""

    RUN = "run"


#: The fast exit of an allowed call with nothing to hold: run the tool, nothing else.
RUN: Final = Shortcut.RUN
#: ``RUN``, or the rules whose limits an allowed call holds before it runs (``reserve_quickly``).
FastExit: TypeAlias = "Literal[Shortcut.RUN] | tuple[Rule, ...]"


def fast_exit(setup: Setup, action: str, untrusted: bool) -> FastExit | None:
    """How a call of ``action`` that a rule allows may skip the flow; decided once per setup.

    The flow would do nothing for such a call but run it (and count it) when there is
    no sink to record in (nor shadow rules to record), no block, no shadow mode, no
    output to record (``untrusted``) and no ``after(...)`` to note the call for or read
    the store. Then it runs at once (``RUN``) or, when rules with a limit apply to the
    action, once its share of each is held (the rules returned; ``reserve_quickly``).
    A call whose share cannot be held, or that no rule allows (the default decides),
    takes the flow. None: every call takes the flow.
    """
    if setup.sinks or setup.blocks or setup.mode != "enforce" or untrusted:
        return None
    stateful = setup.policy.stateful_for(action)
    if setup.policy.noted_for(action) or any(rule.limit is None for rule in stateful):
        return None  # history to note or read: the flow does it
    return stateful or RUN


def limiter_for(setup: Setup, call: Call) -> Limiter | None:
    """The limiter judging the call's stateful rules (limits, ``after(...)``) with the
    setup's store, or None when no such rule applies to its action."""
    stateful = setup.policy.stateful_for(call.action)
    return Limiter(setup.store, stateful, call, record=bool(setup.sinks)) if stateful else None


class _Trace:
    """What one call's flow holds as it goes: its records, counters and approval."""

    __slots__ = ("recorder", "limiter", "approval")

    def __init__(self, setup: Setup) -> None:
        # No sinks, no records: a call with nothing to record makes no recorder.
        self.recorder = (
            Recorder(setup.sinks, setup.on_audit_error, setup.policy.redaction) if setup.sinks else None
        )
        self.limiter: Limiter | None = None
        self.approval: Approval | None = None

    def record(self, decision: Decision, outcome: Outcome | None) -> None:
        if self.recorder is not None:
            self.recorder.record(decision, outcome, approval=self._audited(decision), limits=self._limits())

    def record_after(
        self, decision: Decision, outcome: Outcome, started: float, exc: BaseException | None = None
    ) -> None:
        if self.recorder is not None:
            self.recorder.record_after(
                decision, outcome, started, exc, approval=self._audited(decision), limits=self._limits()
            )

    def _audited(self, decision: Decision) -> AuditApproval | None:
        return None if self.approval is None else self.approval.audited(decision.allowed)

    def _limits(self) -> tuple[Mapping[str, Any], ...]:
        return () if self.limiter is None else tuple(self.limiter.outcomes)

    def release(self) -> None:
        """Give back what the call held, unless it was committed (the tool ran)."""
        if self.limiter is not None:
            self.limiter.release()
            self.limiter = None


def call_flow(
    setup: Setup,
    decision: Decision,
    live: Callable[[], Setup] | None = None,
    unbind: Unbind | None = None,
    untrusted: bool = False,
) -> Generator[Step, Any, Any]:
    """From the policy's decision to the tool's result (or the denial).

    ``live`` returns the governor's setup now: a block set while a human was
    deciding still stops the call. ``unbind`` turns arguments by name back
    into ``(args, kwargs)``, for an approver that changed them. ``untrusted``:
    what the tool returns is recorded for ``provenance(...)``.
    """
    trace = _Trace(setup)
    try:
        blocked = blocked_by(setup, decision) if setup.blocks else None
        if blocked is not None:
            decision = blocked
        else:
            limiter = trace.limiter = limiter_for(setup, decision.call)
            if limiter is not None:
                decision = limiter.decide(decision)
            if setup.mode == "shadow":
                # Observe only: record what would have happened, then run.
                decision = decision.replace(enforced=False)
            elif setup.sinks:
                shadow = setup.policy.shadow_decision(decision.call)
                if shadow is not None and (shadow.effect, shadow.rule_id) != (
                    decision.effect,
                    decision.rule_id,
                ):
                    trace.record(shadow, None)  # with the call's limits, as every record
        return (yield from _run(setup, decision, live, trace, unbind, untrusted))
    finally:
        trace.release()  # unless the tool ran and it was committed: nothing held stays held


def _run(
    setup: Setup,
    decision: Decision,
    live: Callable[[], Setup] | None,
    trace: _Trace,
    unbind: Unbind | None,
    untrusted: bool,
) -> Generator[Step, Any, Any]:
    arguments = None
    needed_approval = decision.enforced and decision.effect is Effect.REQUIRE_APPROVAL
    if needed_approval:
        decision, arguments = yield from _approve(setup, decision, live, trace, unbind)
    call = decision.call
    if decision.allowed or not decision.enforced:  # the tool is about to run
        failure = _note(setup, call, trace.limiter)
        if failure is not None:
            if decision.enforced:  # unnoted, a later call could not know this one ran
                decision = _denied(decision, failure)
            else:
                logger.error("shadow mode: %s", failure)
    if decision.enforced and not decision.allowed:
        trace.record(decision, Outcome.NOT_RUN)
        redaction = setup.policy.redaction  # what a hook shows the model hides the same secrets
        denial = (
            ApprovalDenied(decision, call, redaction=redaction, approval=trace.approval)
            if needed_approval
            else ActionDenied(decision, call, redaction=redaction)
        )
        if setup.on_deny is None:
            raise denial
        return (yield HandleDenial(setup.on_deny, denial))
    trace.record(decision, Outcome.STARTED)
    started = time.perf_counter()
    result = yield RunTool(arguments)
    return _ran(setup, decision, trace, result, started, untrusted)


def _approve(
    setup: Setup,
    decision: Decision,
    live: Callable[[], Setup] | None,
    trace: _Trace,
    unbind: Unbind | None,
) -> Generator[Step, Any, tuple[Decision, tuple[tuple[Any, ...], dict[str, Any]] | None]]:
    """Ask for approval; the decision after it, and the arguments an approver changed."""
    try:
        decision, trace.approval = yield from ask(setup, decision)
    except BaseException as exc:  # a misconfigured approver, Ctrl-C, a cancelled task
        with contextlib.suppress(AuditError):  # the original error matters more
            trace.record(_denied(decision, f"approval interrupted ({describe_error(exc)})"), Outcome.NOT_RUN)
        raise
    approval = trace.approval
    if approval.status == "pending":
        trace.record(decision, Outcome.NOT_RUN)
        assert approval.request is not None
        raise ApprovalPending(approval.request)
    if decision.allowed and live is not None:
        decision = blocked_by(live(), decision) or decision
    if decision.allowed and approval.edits is not None:
        return _edited(setup, decision, approval.edits, trace, unbind)
    if decision.allowed and trace.limiter is not None:
        try:
            trace.limiter.approved()
        except Exception as exc:  # noqa: BLE001 - a store that fails denies the call
            decision = _denied(decision, f"the state store failed to count the approved call ({exc})")
    return decision, None


def _ran(
    setup: Setup, decision: Decision, trace: _Trace, result: Any, started: float, untrusted: bool
) -> Any:
    """Record what the tool did; commit its share of the limits if it returned."""
    call, limiter = decision.call, trace.limiter
    if untrusted:
        ran = type(result) is not Raised
        try:  # what it returned, or the error it raised: both reach the model
            record_output(setup.store, call, result if ran else result.exception)
        except StoreError as exc:
            # Unrecorded, a value planted in it could pass provenance rules later:
            # the caller does not get it. A tool that ran still used its share.
            if ran and limiter is not None:
                limiter.commit()
            what = "output" if ran else "error"
            withheld = StoreError(f"{call.action!r} ran, but its {what} was withheld: {exc}")
            trace.record_after(decision, Outcome.RAISED, started, withheld)
            return Raised(withheld)
    if type(result) is Raised:
        if limiter is not None:
            limiter.release()  # a tool that failed does not use up the budget
        trace.record_after(decision, Outcome.RAISED, started, result.exception)
    else:
        if limiter is not None:
            limiter.commit()
        trace.record_after(decision, Outcome.RETURNED, started)
    return result


def _edited(
    setup: Setup, decision: Decision, changes: Mapping[str, Any], trace: _Trace, unbind: Unbind | None
) -> tuple[Decision, tuple[tuple[Any, ...], dict[str, Any]] | None]:
    """The approver changed the arguments: judge the changed call again. It runs only
    if the policy allows it, or asks approval of the very rule just approved."""
    call = decision.call
    unknown = sorted(set(changes) - set(call.args))
    if unknown or unbind is None:
        why = (
            f"arguments the tool does not have: {', '.join(map(repr, unknown))}"
            if unknown
            else "nothing to call"
        )
        return _denied(decision, f"the approver changed {why}"), None
    edited = Call(call.action, MappingProxyType({**call.args, **changes}), call.context, call.call_id)
    trace.release()  # the share of the arguments first asked about
    again = setup.policy.decide(edited)
    limiter = trace.limiter = limiter_for(setup, edited)
    if limiter is not None:
        again = limiter.decide(again)
    changed = decision.replace(call=edited)
    # Approval rules the first arguments did not meet were not what the person approved.
    unapproved = sorted(_asking(again) - _asking(decision))
    same_rule = again.effect is Effect.REQUIRE_APPROVAL and not unapproved
    if again.effect is Effect.REQUIRE_APPROVAL and unapproved:
        why = f"require_approval by rule {unapproved[0]!r}, which was not asked"
        return _denied(changed, f"the changed arguments are not allowed: {why}"), None
    if not (again.effect is Effect.ALLOW or same_rule):
        why = f"{again.effect.value} by rule {again.rule_id!r} ({again.reason})"
        return _denied(changed, f"the changed arguments are not allowed: {why}"), None
    if same_rule and trace.limiter is not None:
        try:
            trace.limiter.approved()
        except Exception as exc:  # noqa: BLE001 - a store that fails denies the call
            return _denied(changed, f"the state store failed to count the approved call ({exc})"), None
    try:
        return changed, unbind(edited.args)
    except Exception as exc:  # noqa: BLE001 - the tool cannot be called with them
        return _denied(changed, f"the changed arguments cannot be passed to the tool ({exc})"), None


def _asking(decision: Decision) -> set[str]:
    """The ids of the approval rules that apply to the decision's call."""
    return {r.id for r, matched, _ in decision.outcomes if matched and r.effect is Effect.REQUIRE_APPROVAL}


def _note(setup: Setup, call: Call, limiter: Limiter | None) -> str | None:
    """Note the call for the ``after(...)`` conditions asking about it; say why if that failed."""
    noted = setup.policy.noted_for(call.action)
    if noted:
        try:
            note(setup.store, token_for(call) if limiter is None else limiter.token, noted, call)
        except StoreError as exc:
            return str(exc)
    return None


def blocked_by(setup: Setup, decision: Decision) -> Decision | None:
    """The kill switch's denial of the call, if a block matches its action."""
    action = decision.call.action
    for block in setup.blocks:
        if block.regex.match(action):
            return Decision(
                Effect.DENY, block.rule, decision.call, (block.rule.matched,), version=decision.version
            )
    return None


def _denied(decision: Decision, why: str) -> Decision:
    return decision.replace(effect=Effect.DENY, reason=f"{decision.reason}; {why}")
