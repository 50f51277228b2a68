"""Asking for approval: the approver, a quorum, session memory and deferred requests.

``ask`` is the part of a call's flow that turns a ``require_approval``
decision into an approved or a refused one, with an ``Approval`` saying how
it went (or raises ``ApprovalPending``). It yields ``AskApprover`` when it
needs the approver; the flow's driver runs it, sync or async.

Every way it can go wrong ends with the call not approved, saying why.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Generator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from guardrails._text import brief, json_text, show
from guardrails.approvals.inbox import ApprovalRecord, Approvals, Needs, Settings
from guardrails.approvals.request import (
    PENDING,
    Approval,
    ApprovalPending,
    ApprovalRequest,
    ApprovalResponse,
    ApprovalStatus,
    Approver,
    as_response,
)
from guardrails.errors import ConfigurationError
from guardrails.policy.approval_rules import same_person
from guardrails.policy.rules import Effect
from guardrails.policy.view import AuditView

if TYPE_CHECKING:
    from guardrails.policy.decision import Decision

__all__ = ["AskApprover", "AskSettings", "Asked", "ask", "async_hook_error", "discard"]

#: The decision after asking, and how asking went.
Asked = tuple["Decision", Approval]


class AskSettings(Settings, Protocol):
    """What asking reads of a governor's setup (``guardrails.runtime.Setup`` has it)."""

    @property
    def approver(self) -> Approver | None: ...

    @property
    def approval_timeout(self) -> float | None: ...

    @property
    def approval_expiry(self) -> float | None: ...

    @property
    def max_pending(self) -> int: ...


class AskApprover:
    """The step ``ask`` yields: ask the approver about a request; a timeout raises ``TimeoutError``."""

    __slots__ = ("approver", "request", "timeout")

    def __init__(self, approver: Approver, request: ApprovalRequest, timeout: float | None) -> None:
        self.approver = approver
        self.request = request
        self.timeout = timeout

    def run_sync(self, tool: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        if inspect.iscoroutinefunction(self.approver):
            raise async_hook_error("approver", self.approver, self.request.action)
        answer = self.approver(self.request)
        if inspect.isawaitable(answer):
            discard(answer)
            raise async_hook_error("approver", self.approver, self.request.action)
        return answer

    async def run_async(self, tool: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        answer = self.approver(self.request)
        if inspect.isawaitable(answer):
            if self.timeout is None:
                return await answer
            return await asyncio.wait_for(_awaited(answer), self.timeout)
        return answer


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def discard(awaitable: Any) -> None:
    """Close an awaitable that will not be awaited (no "never awaited" warning)."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


def async_hook_error(kind: str, hook: object, action: str) -> ConfigurationError:
    """The error for an async hook given to a sync tool."""
    return ConfigurationError(
        f"{action!r} did not run: the {kind} {brief(hook)} is async but the tool is sync; "
        f"use a sync {kind}, or make the tool async"
    )


# ---- the flow -------------------------------------------------------------------------


def ask(setup: AskSettings, decision: Decision) -> Generator[AskApprover, Any, Asked]:
    """From a ``require_approval`` decision to an approved or refused one.

    Every approval rule that applies to the call must be satisfied (see
    ``Needs``). Raises ``ApprovalPending`` when a person decides later.
    """
    call = decision.call
    approvals = Approvals(lambda: setup)
    needs = Needs.of(decision)
    in_context = call.context.get("session")
    session = None if in_context is None else str(in_context)
    try:
        request = ApprovalRequest(
            call,
            decision,
            expires=None if setup.approval_expiry is None else time.time() + setup.approval_expiry,
            quorum=needs.quorum,
            redaction=setup.policy.redaction,
        )
    except Exception as exc:  # noqa: BLE001 - a call that cannot be described is not approved
        return _refused(
            decision, f"the request could not be made ({type(exc).__name__}: {exc})", "failed", None, None
        )
    # Remembered approvals are kept per session, caller and the rules that asked.
    scope = (
        None
        if session is None
        else json_text([session, request.requester, list(needs.rule_ids), call.action])
    )
    try:
        # 1. Remembered for this session?
        if needs.rememberable and scope is not None:
            memory = approvals.remembered(scope, request.digest)
            if memory is not None and needs.refusal(memory.get("by"), request.requester) is None:
                response = ApprovalResponse(True, by=memory.get("by"), reason="remembered for this session")
                return _approved(decision, response, request, "remembered")
        # 2. Decided by a person since the call was last tried (under the same rules)?
        found = approvals.for_call(request.digest)
        if found is not None and found[1].rule_ids == needs.rule_ids:
            raw, record = found
            if record.expired:
                approvals.expire(raw, record)
            elif record.status == "pending":
                return _pending(decision, _as_request(record, request), "still waiting for approval")
            elif record.status in ("approved", "denied") and approvals.use(raw, record):
                last = record.answers[-1]
                decided = ApprovalResponse(
                    record.status == "approved", by=last.get("by"), reason=last.get("reason")
                )
                request = _as_request(record, request)
                if decided.approved:
                    return _approved(decision, decided, request, "approved")
                return _refused(decision, _said(decided, "refused"), "refused", decided, request)
    except ApprovalPending:
        raise
    except Exception as exc:  # noqa: BLE001 - a store that fails: not approved
        return _refused(decision, f"the approvals could not be read ({exc})", "failed", None, request)
    # 3. Ask the approver, as many times as the quorum needs distinct people.
    if setup.approver is None:
        return _refused(decision, "no approver is configured", "failed", None, request)
    timeout = needs.timeout if needs.timeout is not None else setup.approval_timeout
    while True:
        started = time.monotonic()
        try:
            answer = yield AskApprover(setup.approver, request, timeout)
        except (ConfigurationError, GeneratorExit):
            raise
        except Exception as exc:
            if isinstance(exc, getattr(setup.approver, "pauses", ())):
                raise  # a framework pausing the run to ask a person: not a refusal
            if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):  # one class since 3.11, two before
                return _refused(decision, f"no answer within {timeout:g}s", "timed_out", None, request)
            why = f"the approver failed ({type(exc).__name__}: {exc})"
            return _refused(decision, why, "failed", None, request)
        given = as_response(answer)
        if given is None:
            why = f"the approver returned {show(answer)}, not a bool, ApprovalResponse or PENDING"
            return _refused(decision, why, "failed", None, request)
        if timeout is not None and time.monotonic() - started > timeout:
            return _refused(
                decision, f"the answer came after the {timeout:g}s timeout", "timed_out", None, request
            )
        if given is PENDING:
            return _defer(setup, decision, request, approvals, session, needs)
        assert isinstance(given, ApprovalResponse)
        response = given
        if not response.approved:
            return _refused(decision, _said(response, "refused"), "refused", response, request)
        refusal = needs.refusal(response.by, request.requester)
        if refusal is None and any(same_person(response.by, a.by) for a in request.approvals):
            refusal = f"{response.by!r} approved already; it needs {needs.quorum} different people"
        if refusal is None and response.args is not None and needs.quorum > 1:
            refusal = "an approval that changes the arguments cannot count toward a quorum"
        if refusal is not None:
            return _refused(decision, f"approval not counted: {refusal}", "refused", response, request)
        request = replace(request, approvals=(*request.approvals, response))
        if len(request.approvals) >= needs.quorum:
            break
    if response.remember is not None:
        if not needs.rememberable or scope is None or response.args is not None:
            # Approved for this call only: a rule forbids more, it needs more than one
            # person, there is no session, or the approval changed the arguments.
            response = replace(response, remember=None)
        else:
            try:
                digest = None if response.remember == "action" else request.digest
                approvals.remember(scope, digest, response, setup.approval_expiry or 86_400)
            except Exception as exc:  # noqa: BLE001 - this call stays approved; later ones will ask
                return _approved(decision, response, request, "approved", note=f"not remembered ({exc})")
    return _approved(decision, response, request, "approved")


def _defer(
    setup: AskSettings,
    decision: Decision,
    request: ApprovalRequest,
    approvals: Approvals,
    session: str | None,
    needs: Needs,
) -> Asked:
    try:
        if approvals.waiting(session, request.requester) >= setup.max_pending:
            who = "in this session" if session is not None else "from this caller"
            why = f"{setup.max_pending} approval requests already wait {who}"
            return _refused(decision, why, "refused", None, request)
        view = AuditView(setup.policy.redaction, request.call.args, request.call.context)
        approvals.open(request, view.args, view.context, needs.rule_ids)
    except Exception as exc:  # noqa: BLE001 - nobody could decide it later: not approved
        return _refused(decision, f"the request could not be kept for later ({exc})", "failed", None, request)
    return _pending(decision, request, "waiting for approval")


def _pending(decision: Decision, request: ApprovalRequest, why: str) -> Asked:
    """A decision the flow turns into ``ApprovalPending``."""
    denied = decision.replace(effect=Effect.DENY, reason=f"{decision.reason}; {why} (request {request.id})")
    return denied, Approval("pending", request)


def _as_request(record: ApprovalRecord, request: ApprovalRequest) -> ApprovalRequest:
    approvals = tuple(
        ApprovalResponse(True, by=a.get("by"), reason=a.get("reason"))
        for a in record.answers
        if a["approved"]
    )
    return replace(
        request,
        id=record.id,
        created=record.created,
        expires=record.expires,
        quorum=record.quorum,
        approvals=approvals,
    )


def _said(response: ApprovalResponse, verb: str) -> str:
    who = f" by {response.by}" if response.by else ""
    why = f": {response.reason}" if response.reason else ""
    return f"{verb}{who}{why}"


def _approved(
    decision: Decision,
    response: ApprovalResponse,
    request: ApprovalRequest,
    status: ApprovalStatus,
    note: str = "",
) -> Asked:
    approved = decision.replace(
        effect=Effect.ALLOW,
        reason=f"{decision.reason}; {_said(response, status)}{'; ' + note if note else ''}",
    )
    return approved, Approval(status, request, response)


def _refused(
    decision: Decision,
    why: str,
    status: ApprovalStatus,
    response: ApprovalResponse | None,
    request: ApprovalRequest | None,
) -> Asked:
    text = why if status == "refused" and why.startswith("refused") else f"not approved: {why}"
    refused = decision.replace(effect=Effect.DENY, reason=f"{decision.reason}; {text}")
    return refused, Approval(status, request, response)
