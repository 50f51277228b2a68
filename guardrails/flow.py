"""The life of one governed call, written once.

``call_flow`` is a generator: it yields the steps that need the outside world
(ask the approver, run the tool, hand a denial to ``on_deny``) and receives
their results; ``guardrails.steps`` drives it synchronously or asynchronously.
Everything that can go wrong on the way ends with the tool not run.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from guardrails.approvals import Approver
from guardrails.approving import Approvals, ask
from guardrails.audit import AuditSink, Outcome
from guardrails.call import Call
from guardrails.decision import Decision
from guardrails.errors import ActionDenied, ApprovalDenied, ApprovalPending, AuditError, ConfigurationError
from guardrails.history import note
from guardrails.limiting import Limiter, token_for
from guardrails.policy import Policy
from guardrails.provenance import record_output
from guardrails.recording import OnAuditError, Recorder, describe_error
from guardrails.rules import Effect, Rule
from guardrails.state import MemoryStore, Store, StoreError
from guardrails.steps import HandleDenial, Raised, RunTool, Step

__all__ = ["Block", "Mode", "OnDeny", "Setup", "call_flow"]

logger = logging.getLogger("guardrails")

#: ``(ActionDenied) -> value``: returned to the caller instead of raising.
OnDeny = Callable[[ActionDenied], Any]
Mode = Literal["enforce", "shadow"]
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
    approvals: Approvals | None = None
    #: Actions (compiled globs) whose output is recorded as untrusted unless the tool says.
    untrusted: tuple[re.Pattern[str], ...] = ()
    #: Nothing to record, block or shadow: an allowed call may skip the flow.
    fast: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fast", not self.sinks and not self.blocks and self.mode == "enforce")


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
    call = decision.call
    recorder = Recorder(setup)
    limiter: Limiter | None = None
    try:
        blocked = _blocked(setup, decision)
        if blocked is not None:
            decision = blocked
        else:
            stateful = setup.policy.stateful_for(call.action)
            if stateful:
                limiter = recorder.limiter = Limiter(setup.store, stateful, call, record=bool(setup.sinks))
                decision = limiter.decide(decision)
            if setup.mode == "shadow":
                # Observe only: record what would have happened, then run.
                decision = decision.replace(enforced=False)
            elif setup.sinks:
                shadow = setup.policy.shadow_decision(call)
                if shadow is not None and (shadow.effect, shadow.rule_id) != (
                    decision.effect,
                    decision.rule_id,
                ):
                    recorder.record(shadow, None)
        return (yield from _run(setup, decision, live, recorder, unbind, untrusted))
    finally:
        for held in (limiter, recorder.limiter):
            if held is not None:
                held.release()  # unless the tool ran and it was committed: nothing held stays held


def _run(
    setup: Setup,
    decision: Decision,
    live: Callable[[], Setup] | None,
    recorder: Recorder,
    unbind: Unbind | None,
    untrusted: bool,
) -> Generator[Step, Any, Any]:
    call = decision.call
    limiter = recorder.limiter
    arguments = None
    needed_approval = decision.enforced and decision.effect is Effect.REQUIRE_APPROVAL
    if needed_approval:
        try:
            if setup.approvals is None:
                raise ConfigurationError("approvals need a Governor")  # pragma: no cover - always set
            decision = yield from ask(setup, decision, setup.approvals)
        except BaseException as exc:  # a misconfigured approver, Ctrl-C, a cancelled task
            with contextlib.suppress(AuditError):  # the original error matters more
                recorder.record(
                    _denied(decision, f"approval interrupted ({describe_error(exc)})"), Outcome.NOT_RUN
                )
            raise
        if decision.approval_status == "pending":
            recorder.record(decision, Outcome.NOT_RUN)
            assert decision.approval_request is not None
            raise ApprovalPending(decision.approval_request)
        if decision.allowed and live is not None:
            decision = _blocked(live(), decision) or decision
        if decision.allowed and decision.approval is not None and decision.approval.args is not None:
            decision, arguments = _edited(setup, decision, recorder, unbind)
            call = decision.call
            limiter = recorder.limiter
        elif decision.allowed and limiter is not None:
            try:
                limiter.approved()
            except Exception as exc:  # noqa: BLE001 - a store that fails denies the call
                decision = _denied(decision, f"the state store failed to count the approved call ({exc})")
    if decision.allowed or not decision.enforced:  # the tool is about to run
        failure = _note(setup, call, limiter)
        if failure is not None:
            if decision.enforced:  # unnoted, a later call could not know this one ran
                decision = _denied(decision, failure)
            else:
                logger.error("shadow mode: %s", failure)
    if decision.enforced and not decision.allowed:
        recorder.record(decision, Outcome.NOT_RUN)
        denial = (ApprovalDenied if needed_approval else ActionDenied)(decision, call)
        denial.redaction = setup.policy.redaction  # what a hook shows the model hides the same secrets
        if setup.on_deny is None:
            raise denial
        return (yield HandleDenial(setup.on_deny, denial))
    recorder.record(decision, Outcome.STARTED)
    started = time.perf_counter()
    result = yield RunTool(arguments)
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
            recorder.record_after(decision, Outcome.RAISED, started, withheld)
            return Raised(withheld)
    if type(result) is Raised:
        if limiter is not None:
            limiter.release()  # a tool that failed does not use up the budget
        recorder.record_after(decision, Outcome.RAISED, started, result.exception)
    else:
        if limiter is not None:
            limiter.commit()
        recorder.record_after(decision, Outcome.RETURNED, started)
    return result


def _edited(
    setup: Setup, decision: Decision, recorder: Recorder, unbind: Unbind | None
) -> tuple[Decision, tuple[tuple[Any, ...], dict[str, Any]] | None]:
    """The approver changed the arguments: judge the changed call again. It runs only
    if the policy allows it, or asks approval of the very rule just approved."""
    call, changes = decision.call, decision.approval.args if decision.approval else None
    assert changes is not None
    unknown = sorted(set(changes) - set(call.args))
    if unknown or unbind is None:
        why = (
            f"arguments the tool does not have: {', '.join(map(repr, unknown))}"
            if unknown
            else "nothing to call"
        )
        return _denied(decision, f"the approver changed {why}"), None
    edited = Call(call.action, MappingProxyType({**call.args, **changes}), call.context, call.call_id)
    if recorder.limiter is not None:
        recorder.limiter.release()  # the share of the arguments first asked about
        recorder.limiter = None
    again = setup.policy.decide(edited)
    stateful = setup.policy.stateful_for(edited.action)
    if stateful:
        recorder.limiter = Limiter(setup.store, stateful, edited, record=bool(setup.sinks))
        again = recorder.limiter.decide(again)
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
    if same_rule and recorder.limiter is not None:
        try:
            recorder.limiter.approved()
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


def _blocked(setup: Setup, decision: Decision) -> Decision | None:
    action = decision.call.action
    for block in setup.blocks:
        if block.regex.match(action):
            return Decision(
                Effect.DENY, block.rule, decision.call, (block.rule.matched,), version=decision.version
            )
    return None


def _denied(decision: Decision, why: str) -> Decision:
    return decision.replace(effect=Effect.DENY, reason=f"{decision.reason}; {why}")
