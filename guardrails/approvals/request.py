"""Approval requests and responses: what an approver sees and answers.

An approver is ``(ApprovalRequest) -> bool | ApprovalResponse`` (or an
awaitable of either, for async tools). It may also answer ``PENDING``: a
person will decide later (``gov.approvals.approve(request.id, by=...)``), and
the call raises ``ApprovalPending`` until the agent retries it after that.

An approver that pauses the run instead of answering (a framework's interrupt)
raises ``PauseRun(the_framework_exception)``: that exception is raised in the
caller's place, untouched, and the call neither runs nor counts as refused.
An approver that wraps another passes ``PauseRun`` on like any exception.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal

from guardrails._text import json_text, show
from guardrails.audit.records import AuditApproval
from guardrails.errors import GovernanceError
from guardrails.policy.decision import ActionDenied

if TYPE_CHECKING:
    from guardrails.call import Call
    from guardrails.policy.decision import Decision
    from guardrails.policy.redaction import Redaction

__all__ = [
    "PENDING",
    "Approval",
    "ApprovalDenied",
    "ApprovalPending",
    "ApprovalRequest",
    "ApprovalResponse",
    "Approver",
    "PauseRun",
    "Pending",
    "as_response",
    "call_digest",
    "pausing",
]


class Pending:
    """The type of ``PENDING``: an approver's answer meaning "a person decides later"."""

    _instance: Pending | None = None

    def __new__(cls) -> Pending:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "PENDING"

    def __reduce__(self) -> str:
        return "PENDING"


#: Answer this to say that a person will decide later: the call raises
#: ``ApprovalPending``, and runs when retried once the request is approved.
PENDING: Final = Pending()


def call_digest(call: Call) -> str:
    """SHA-256 of what an approval is bound to: the action, every argument, and the
    context (who calls, in which session, from where), except ``tool_call_id``
    (a framework may give a retry a new one).

    Values are encoded with their type (``1``, ``1.0``, ``"1"``, ``[1]`` and
    ``(1,)`` differ); one JSON cannot show is taken by its type and ``repr``,
    so a value whose ``repr`` differs between runs (an object's address)
    makes every retry a new request.
    """
    context = {k: v for k, v in call.context.items() if k != "tool_call_id"}
    text = json_text([call.action, _canonical(dict(call.args)), _canonical(context)])
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    """``value`` as JSON that tells apart every value a policy tells apart."""
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, (float, Decimal, str, int)):
        return _canonical_scalar(value)
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return _canonical_collection(value)
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken repr: the digest cannot match a retry
        text = f"<unrepresentable {id(value)}>"
    return {"o": f"{type(value).__module__}.{type(value).__qualname__}", "r": text}


def _canonical_scalar(value: float | Decimal | str | int) -> Any:
    """A float, a ``Decimal``, or a subclass of str or int: its plain value, marked."""
    if isinstance(value, float):
        return {"f": repr(float(value))}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    return {"v": _canonical(str.__str__(value) if isinstance(value, str) else int.__int__(value))}


def _canonical_collection(
    value: Mapping[Any, Any] | list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any],
) -> Any:
    """A mapping (in no order), list, tuple or set (in no order)."""
    if isinstance(value, Mapping):
        items = [[_canonical(k), _canonical(v)] for k, v in value.items()]
        return {"m": sorted(items, key=json_text)}
    if isinstance(value, list):
        return {"l": [_canonical(v) for v in value]}
    if isinstance(value, tuple):
        return {"t": [_canonical(v) for v in value]}
    return {"s": sorted((_canonical(v) for v in value), key=json_text)}


@dataclass(frozen=True)
class ApprovalRequest:
    """A call that a rule says needs approval: show it to a human or a program.

    ``call`` is exactly what will run if approved; ``decision`` names the rule
    and its reason. ``id`` names the request (``gov.approvals.approve(id)``);
    ``digest`` is the SHA-256 the approval is bound to (``call_digest``);
    ``created`` and ``expires`` are Unix times (``expires`` None: never).
    ``quorum`` is how many distinct people must approve; ``approvals`` are the
    answers given so far.
    """

    call: Call
    decision: Decision
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.time)
    expires: float | None = None
    digest: str = ""
    quorum: int = 1
    approvals: tuple[ApprovalResponse, ...] = ()
    #: The policy's redaction, for showing the request (``view``); None: the default one.
    redaction: Redaction | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", call_digest(self.call))

    @property
    def action(self) -> str:
        """The action waiting for approval."""
        return self.call.action

    @property
    def args(self) -> Mapping[str, Any]:
        """Its arguments, by name."""
        return self.call.args

    @property
    def context(self) -> Mapping[str, Any]:
        """The context it was called in."""
        return self.call.context

    @property
    def rule_id(self) -> str:
        """The rule that asked for approval."""
        return self.decision.rule_id

    @property
    def reason(self) -> str:
        """Why approval is needed."""
        return self.decision.reason

    @property
    def requester(self) -> str | None:
        """Who made the call (``ctx('user')``): never one of its approvers."""
        user = self.call.context.get("user")
        return None if user is None else str(user)


#: What a response may ask to remember for the rest of the session: this
#: action whatever its arguments, or only calls with these very arguments.
Remember = Literal["action", "args"]


@dataclass(frozen=True)
class ApprovalResponse:
    """An approver's answer: ``approved``, and optionally who and why.

    ``args`` (approving only) changes arguments before the call runs — lower an
    amount, drop a recipient; the changed call is judged by the policy again
    and runs only if that allows it. ``remember`` (approving only) lets later
    calls in the same session through without asking: ``"action"`` (any
    arguments) or ``"args"`` (the same ones), unless the rule forbids it.
    """

    approved: bool
    by: str | None = None
    reason: str | None = None
    args: Mapping[str, Any] | None = None
    remember: Remember | None = None

    def __post_init__(self) -> None:
        if type(self.approved) is not bool:
            raise TypeError(f"ApprovalResponse.approved must be True or False, got {show(self.approved)}")
        for name in ("by", "reason"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"ApprovalResponse.{name} must be a string, got {show(value)}")
        if self.args is not None:
            _check_args(self.args, self.approved)
        if self.remember is not None:
            _check_remember(self.remember, self.approved)


def _check_args(args: object, approved: bool) -> None:
    if not isinstance(args, Mapping) or not all(isinstance(k, str) for k in args):
        raise TypeError(f"ApprovalResponse.args must map argument names to values, got {show(args)}")
    if not approved:
        raise TypeError("ApprovalResponse.args changes the arguments of an approved call, not a refused one")


def _check_remember(remember: object, approved: bool) -> None:
    if remember not in ("action", "args"):
        raise TypeError(f"ApprovalResponse.remember must be 'action' or 'args', got {show(remember)}")
    if not approved:
        raise TypeError("ApprovalResponse.remember applies to an approval, not a refusal")


ApprovalStatus = Literal["approved", "remembered", "refused", "timed_out", "failed", "expired", "pending"]


@dataclass(frozen=True)
class Approval:
    """How asking for approval went: its own value, beside the decision it changed.

    ``status``: approved, remembered, refused, timed_out, failed, expired or
    pending. ``request`` is what the approver was asked (None: none could be
    made); ``response`` the answer that decided (None: there was none).
    """

    status: ApprovalStatus
    request: ApprovalRequest | None = None
    response: ApprovalResponse | None = None

    @property
    def edits(self) -> Mapping[str, Any] | None:
        """The arguments an approver changed (None: it approved them as they were)."""
        return None if self.response is None else self.response.args

    def audited(self, allowed: bool) -> AuditApproval:
        """What the audit trail says of it; ``allowed``: whether the call may run now."""
        response, request = self.response, self.request
        return AuditApproval(
            approved=allowed,
            by=None if response is None else response.by,
            reason=None if response is None else response.reason,
            status=self.status,
            request_id=None if request is None else request.id,
            approvers=() if request is None else tuple(a.by for a in request.approvals if a.by is not None),
            edited=self.edits is not None,
        )


class PauseRun(Exception):
    """Raised by an approver to pause the run instead of answering.

    ``exception`` (a framework's interrupt: LangGraph's, Pydantic AI's
    ``ApprovalRequired``...) is raised in the caller's place, untouched; the
    call does not run and does not count as refused.
    """

    def __init__(self, exception: BaseException) -> None:
        if not pausing(exception):
            raise TypeError(f"PauseRun carries a framework's exception, got {show(exception)}")
        self.exception = exception
        super().__init__(f"the approver paused the run: {type(exception).__name__}")


def pausing(exception: object) -> bool:
    """Whether ``exception`` may stand in for a call's answer: an exception instance,
    and not one that would read as the generator's end, a pause, or guardrails' own
    verdict (a forged denial or pending request)."""
    return isinstance(exception, BaseException) and not isinstance(
        exception, (StopIteration, StopAsyncIteration, GeneratorExit, PauseRun, GovernanceError)
    )


class ApprovalDenied(ActionDenied):
    """A call needing approval was not approved (refused, timed out or failed).

    ``approval`` says how asking went (its ``status``, ``request`` and ``response``).
    """

    def __init__(
        self,
        decision: Decision,
        call: Call,
        *,
        redaction: Redaction | None = None,
        approval: Approval | None = None,
    ) -> None:
        self.approval = approval
        super().__init__(decision, call, redaction=redaction)

    def _message(self) -> str:
        d = self.decision
        return f"{d.call.action!r} not approved (rule {d.rule_id!r}): {d.reason}"


class ApprovalPending(GovernanceError):
    """A call waits for a person's approval: the tool did not run.

    ``request`` is the ``ApprovalRequest`` (its ``id`` is what
    ``gov.approvals.approve`` takes). Retry the identical call once it is
    decided: approved, it runs once; refused, it is denied.
    """

    def __init__(self, request: ApprovalRequest, why: str = "waiting for approval") -> None:
        self.request = request
        self.decision = request.decision
        self.call = request.call
        super().__init__(
            f"{request.action!r} did not run: {why} (request {request.id}, rule {request.rule_id!r}: "
            f"{request.reason})"
        )


Answer = bool | ApprovalResponse | Pending
#: ``(ApprovalRequest) -> bool | ApprovalResponse | PENDING``, or an awaitable of either.
Approver = Callable[[ApprovalRequest], Answer | Awaitable[Answer]]


def as_response(answer: object) -> ApprovalResponse | Pending | None:
    """Return an approver's answer as a response (or ``PENDING``), or None if it is neither."""
    if type(answer) is bool:
        return ApprovalResponse(answer)
    if answer is PENDING:
        return PENDING
    if isinstance(answer, ApprovalResponse) and type(answer.approved) is bool:
        return answer  # a subclass that skipped the check cannot approve with a truthy "no"
    return None
