"""The life of one governed call, written once.

``call_flow`` is a generator: it yields the steps that need the outside world
(ask the approver, run the tool, hand a denial to ``on_deny``) and receives
their results; ``guardrails.steps`` drives it synchronously or asynchronously.
Everything that can go wrong on the way ends with the tool not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Literal

from guardrails.approvals import ApprovalRequest, Approver, as_response
from guardrails.audit import AuditSink, Outcome
from guardrails.call import Call
from guardrails.decision import Decision
from guardrails.errors import ActionDenied, ApprovalDenied, AuditError, ConfigurationError
from guardrails.history import note
from guardrails.limiting import Limiter, token_for
from guardrails.policy import Policy
from guardrails.recording import OnAuditError, Recorder, describe_error
from guardrails.rules import Effect, Rule
from guardrails.state import MemoryStore, Store, StoreError
from guardrails.steps import AskApprover, HandleDenial, Raised, RunTool, Step
from guardrails.values import show

__all__ = ["Block", "Mode", "OnDeny", "Setup", "call_flow"]

logger = logging.getLogger("guardrails")

#: ``(ActionDenied) -> value``: returned to the caller instead of raising.
OnDeny = Callable[[ActionDenied], Any]
Mode = Literal["enforce", "shadow"]


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
    #: Nothing to record, block or shadow: an allowed call may skip the flow.
    fast: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fast", not self.sinks and not self.blocks and self.mode == "enforce")


def call_flow(
    setup: Setup, decision: Decision, live: Callable[[], Setup] | None = None
) -> Generator[Step, Any, Any]:
    """From the policy's decision to the tool's result (or the denial).

    ``live`` returns the governor's setup now: a block set while a human was
    deciding still stops the call.
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
        return (yield from _run(setup, decision, live, recorder, limiter))
    finally:
        if limiter is not None:
            limiter.release()  # unless the tool ran and it was committed: nothing held stays held


def _run(
    setup: Setup,
    decision: Decision,
    live: Callable[[], Setup] | None,
    recorder: Recorder,
    limiter: Limiter | None,
) -> Generator[Step, Any, Any]:
    call = decision.call
    needed_approval = decision.enforced and decision.effect is Effect.REQUIRE_APPROVAL
    if needed_approval:
        try:
            decision = yield from _approve(setup, decision)
        except BaseException as exc:  # a misconfigured approver, Ctrl-C, a cancelled task
            with contextlib.suppress(AuditError):  # the original error matters more
                recorder.record(
                    _denied(decision, f"approval interrupted ({describe_error(exc)})"), Outcome.NOT_RUN
                )
            raise
        if decision.allowed and live is not None:
            decision = _blocked(live(), decision) or decision
        if decision.allowed and limiter is not None:
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
        if setup.on_deny is None:
            raise denial
        return (yield HandleDenial(setup.on_deny, denial))
    recorder.record(decision, Outcome.STARTED)
    started = time.perf_counter()
    result = yield RunTool()
    if type(result) is Raised:
        if limiter is not None:
            limiter.release()  # a tool that failed does not use up the budget
        recorder.record_after(decision, Outcome.RAISED, started, result.exception)
    else:
        if limiter is not None:
            limiter.commit()
        recorder.record_after(decision, Outcome.RETURNED, started)
    return result


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
    except (TimeoutError, asyncio.TimeoutError):  # one class since Python 3.11, two before
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
    return _denied(decision, f"not approved: {why}")


def _denied(decision: Decision, why: str) -> Decision:
    return decision.replace(effect=Effect.DENY, reason=f"{decision.reason}; {why}")
