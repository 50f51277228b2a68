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
    Approval,
    ApprovalRequest,
    ApprovalResponse,
    ApprovalStatus,
    Approver,
    PauseRun,
    Pending,
    as_response,
    pausing,
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
    needs = Needs.of(decision)
    session = _session(decision)
    try:
        request = _request(setup, decision, needs)
    except Exception as exc:  # noqa: BLE001 - a call that cannot be described is not approved
        why = f"the request could not be made ({type(exc).__name__}: {exc})"
        return _refused(decision, why, "failed", None, None)
    asking = _Asking(setup, decision, needs, session, request)
    outcome = asking.known()
    if outcome is None:
        outcome = yield from asking.quorum()
    return outcome


def _session(decision: Decision) -> str | None:
    in_context = decision.call.context.get("session")
    return None if in_context is None else str(in_context)


def _request(setup: AskSettings, decision: Decision, needs: Needs) -> ApprovalRequest:
    expiry = setup.approval_expiry
    return ApprovalRequest(
        decision.call,
        decision,
        expires=None if expiry is None else time.time() + expiry,
        quorum=needs.quorum,
        redaction=setup.policy.redaction,
    )


class _Asking:
    """One call's approval as it goes: what is known without asking (``known``), then
    the approver, for a quorum of distinct people (``quorum``). Each step returns
    the outcome, or None: go on."""

    __slots__ = ("approvals", "decision", "needs", "request", "scope", "session", "setup", "timeout")

    def __init__(
        self,
        setup: AskSettings,
        decision: Decision,
        needs: Needs,
        session: str | None,
        request: ApprovalRequest,
    ) -> None:
        self.setup = setup
        self.decision = decision
        self.needs = needs
        self.session = session
        #: The request; a quorum adds each approval counted.
        self.request = request
        self.approvals = Approvals(lambda: setup)
        # Remembered approvals are kept per session, caller and the rules that asked.
        self.scope = (
            None
            if session is None
            else json_text([session, request.requester, list(needs.rule_ids), decision.call.action])
        )
        self.timeout = needs.timeout if needs.timeout is not None else setup.approval_timeout

    # ---- what is known without asking ---------------------------------------------------

    def known(self) -> Asked | None:
        """Remembered for this session, or decided by a person since the call was last tried."""
        try:
            return self.recalled() or self.decided()
        except Exception as exc:  # noqa: BLE001 - a store that fails: not approved
            return self.refused(f"the approvals could not be read ({exc})", "failed")

    def recalled(self) -> Asked | None:
        """An approval remembered for this session, by a person who may still give it."""
        if not self.needs.rememberable or self.scope is None:
            return None
        memory = self.approvals.remembered(self.scope, self.request.digest)
        if memory is None or self.needs.refusal(memory.get("by"), self.request.requester) is not None:
            return None
        response = ApprovalResponse(True, by=memory.get("by"), reason="remembered for this session")
        return _approved(self.decision, response, self.request, "remembered")

    def decided(self) -> Asked | None:
        """The latest request for this exact call, asked by the same rules: still waiting,
        or decided (used up now: a decision runs one retry)."""
        found = self.approvals.for_call(self.request.digest)
        if found is None or found[1].rule_ids != self.needs.rule_ids:
            return None
        raw, record = found
        if record.expired:
            self.approvals.expire(raw, record)
            return None
        if record.status == "pending":
            return _pending(self.decision, _as_request(record, self.request), "still waiting for approval")
        if record.status not in ("approved", "denied") or not self.approvals.use(raw, record):
            return None
        last = record.answers[-1]
        response = ApprovalResponse(record.status == "approved", by=last.get("by"), reason=last.get("reason"))
        request = _as_request(record, self.request)
        if response.approved:
            return _approved(self.decision, response, request, "approved")
        return _refused(self.decision, _said(response, "refused"), "refused", response, request)

    # ---- asking the approver ------------------------------------------------------------

    def quorum(self) -> Generator[AskApprover, Any, Asked]:
        """Ask the approver, as many times as the quorum needs distinct people."""
        approver = self.setup.approver
        if approver is None:
            return self.refused("no approver is configured", "failed")
        outcome: Asked | None = None
        paused: object = None
        while outcome is None:
            started = time.monotonic()
            try:
                answer = yield AskApprover(approver, self.request, self.timeout)
            except (ConfigurationError, GeneratorExit):
                raise
            except PauseRun as pause:  # a framework pausing the run to ask a person: not a refusal
                paused = getattr(pause, "exception", None)
                if pausing(paused):
                    break
                # A malformed pause refuses, as an approver that fails does.
                outcome = self.unanswered(TypeError(f"a PauseRun carrying {show(paused)}"))
            except Exception as exc:  # noqa: BLE001 - an approver that fails refuses the call
                outcome = self.unanswered(exc)
            else:
                outcome = self.judged(answer, started)
        if outcome is None and isinstance(paused, BaseException):
            raise paused  # outside the handler: the framework's exception as it was raised
        assert outcome is not None  # the loop ends with an outcome or a pause
        return outcome

    def unanswered(self, exc: Exception) -> Asked:
        """The approver raised: it timed out, or failed."""
        if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):  # one class since 3.11, two before
            # With no timeout of ours, it was the approver's own wait that ran out.
            why = "the approver timed out" if self.timeout is None else f"no answer within {self.timeout:g}s"
            return self.refused(why, "timed_out")
        return self.refused(f"the approver failed ({type(exc).__name__}: {exc})", "failed")

    def judged(self, answer: object, started: float) -> Asked | None:
        """One answer: an outcome, or None when it counted and the quorum needs more people."""
        given = as_response(answer)
        if given is None:
            why = f"the approver returned {show(answer)}, not a bool, ApprovalResponse or PENDING"
            return self.refused(why, "failed")
        if self.timeout is not None and time.monotonic() - started > self.timeout:
            return self.refused(f"the answer came after the {self.timeout:g}s timeout", "timed_out")
        if isinstance(given, Pending):
            return self.deferred()
        if not given.approved:
            return self.refused(_said(given, "refused"), "refused", given)
        refusal = self.uncounted(given)
        if refusal is not None:
            return self.refused(f"approval not counted: {refusal}", "refused", given)
        self.request = replace(self.request, approvals=(*self.request.approvals, given))
        if len(self.request.approvals) < self.needs.quorum:
            return None
        return self.approved(given)

    def uncounted(self, response: ApprovalResponse) -> str | None:
        """Why an approval does not count; None when it does."""
        refusal = self.needs.refusal(response.by, self.request.requester)
        if refusal is not None:
            return refusal
        if any(same_person(response.by, a.by) for a in self.request.approvals):
            return f"{response.by!r} approved already; it needs {self.needs.quorum} different people"
        if response.args is not None and self.needs.quorum > 1:
            return "an approval that changes the arguments cannot count toward a quorum"
        return None

    def deferred(self) -> Asked:
        """A person decides later: keep the request, unless too many wait already."""
        setup, request = self.setup, self.request
        try:
            if self.approvals.waiting(self.session, request.requester) >= setup.max_pending:
                who = "in this session" if self.session is not None else "from this caller"
                return self.refused(f"{setup.max_pending} approval requests already wait {who}", "refused")
            view = AuditView(setup.policy.redaction, request.call.args, request.call.context)
            self.approvals.open(request, view.args, view.context, self.needs.rule_ids)
        except Exception as exc:  # noqa: BLE001 - nobody could decide it later: not approved
            return self.refused(f"the request could not be kept for later ({exc})", "failed")
        return _pending(self.decision, request, "waiting for approval")

    # ---- the end ------------------------------------------------------------------------

    def approved(self, response: ApprovalResponse) -> Asked:
        """Approved by the quorum; remembered for the session when the person asked and may."""
        note = ""
        if response.remember is not None:
            if not self.needs.rememberable or self.scope is None or response.args is not None:
                # Approved for this call only: a rule forbids more, it needs more than one
                # person, there is no session, or the approval changed the arguments.
                response = replace(response, remember=None)
            else:
                note = self.remember(self.scope, response)
        return _approved(self.decision, response, self.request, "approved", note=note)

    def remember(self, scope: str, response: ApprovalResponse) -> str:
        """Remember an approval for the session; the note to add when that failed."""
        try:
            digest = None if response.remember == "action" else self.request.digest
            self.approvals.remember(scope, digest, response, self.setup.approval_expiry or 86_400)
        except Exception as exc:  # noqa: BLE001 - this call stays approved; later ones will ask
            return f"not remembered ({exc})"
        return ""

    def refused(self, why: str, status: ApprovalStatus, response: ApprovalResponse | None = None) -> Asked:
        """Not approved, saying why."""
        return _refused(self.decision, why, status, response, self.request)


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
