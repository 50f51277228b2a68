"""Approval requests and responses: what an approver sees and answers.

An approver is ``(ApprovalRequest) -> bool | ApprovalResponse`` (or an
awaitable of either, for async tools). It may also answer ``PENDING``: a
person will decide later (``gov.approvals.approve(request.id, by=...)``), and
the call raises ``ApprovalPending`` until the agent retries it after that.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal

from guardrails.chain import json_text
from guardrails.errors import PolicyError
from guardrails.values import show

if TYPE_CHECKING:
    from guardrails.call import Call
    from guardrails.decision import Decision
    from guardrails.redaction import Redaction

__all__ = [
    "PASS_THROUGH",
    "PENDING",
    "ApprovalRequest",
    "ApprovalResponse",
    "ApprovalRules",
    "Approver",
    "Pending",
    "as_response",
    "call_digest",
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


#: Exceptions an approver may raise to pause the run rather than fail (a
#: framework's interrupt): they pass through, the tool does not run, and
#: nothing counts the call as refused. Integrations add to it.
PASS_THROUGH: set[type[BaseException]] = set()

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
    if isinstance(value, float):
        return {"f": repr(float(value))}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, (str, int)):  # a subclass: its plain value, marked
        return {"v": _canonical(str.__str__(value) if isinstance(value, str) else int.__int__(value))}
    if isinstance(value, Mapping):
        items = [[_canonical(k), _canonical(v)] for k, v in value.items()]
        return {"m": sorted(items, key=json_text)}
    if isinstance(value, list):
        return {"l": [_canonical(v) for v in value]}
    if isinstance(value, tuple):
        return {"t": [_canonical(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"s": sorted((_canonical(v) for v in value), key=json_text)}
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken repr: the digest cannot match a retry
        text = f"<unrepresentable {id(value)}>"
    return {"o": f"{type(value).__module__}.{type(value).__qualname__}", "r": text}


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two ids name one person: compared as NFKC, case-folded, stripped text."""
    return a is not None and b is not None and person(a) == person(b)


def person(name: str) -> str:
    """The form of an id that people are compared by (``" Alice"`` is ``"alice"``)."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


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
            if not isinstance(self.args, Mapping) or not all(isinstance(k, str) for k in self.args):
                raise TypeError(
                    f"ApprovalResponse.args must map argument names to values, got {show(self.args)}"
                )
            if not self.approved:
                raise TypeError(
                    "ApprovalResponse.args changes the arguments of an approved call, not a refused one"
                )
        if self.remember is not None:
            if self.remember not in ("action", "args"):
                raise TypeError(
                    f"ApprovalResponse.remember must be 'action' or 'args', got {show(self.remember)}"
                )
            if not self.approved:
                raise TypeError("ApprovalResponse.remember applies to an approval, not a refusal")


@dataclass(frozen=True)
class ApprovalRules:
    """How the approvals of one rule are given (``require_approval(..., timeout=, quorum=,
    approvers=, rememberable=)``).

    ``timeout``: seconds the approver has (else the governor's). ``quorum``: how
    many distinct people must approve (two for a wire transfer). ``approvers``:
    who may (their ids, or a predicate on the id); any approval then needs a
    ``by``. The caller (``ctx('user')``) never approves its own call.
    ``rememberable=False``: "remember for this session" is refused.
    """

    timeout: float | None = None
    quorum: int = 1
    approvers: tuple[str, ...] | Callable[[str], bool] | None = None
    rememberable: bool = True

    def __post_init__(self) -> None:
        if self.timeout is not None and not (
            isinstance(self.timeout, (int, float)) and not isinstance(self.timeout, bool) and self.timeout > 0
        ):
            raise PolicyError(
                f"an approval timeout is a positive number of seconds, got {show(self.timeout)}"
            )
        if type(self.quorum) is not int or self.quorum < 1:
            raise PolicyError(
                f"an approval quorum is a whole number of people from 1, got {show(self.quorum)}"
            )
        approvers = self.approvers
        if approvers is not None and not callable(approvers):
            if isinstance(approvers, str) or not all(isinstance(a, str) and a for a in approvers):
                raise PolicyError(f"approvers are a list of ids or a predicate, got {show(approvers)}")
            object.__setattr__(self, "approvers", tuple(approvers))
        if type(self.rememberable) is not bool:
            raise PolicyError(f"rememberable must be True or False, got {show(self.rememberable)}")

    @property
    def named(self) -> bool:
        """Whether approvals must say who gave them (a quorum or a list of approvers)."""
        return self.quorum > 1 or self.approvers is not None

    def refusal(self, by: str | None, requester: str | None) -> str | None:
        """Why ``by`` may not approve a call of ``requester``; None when they may."""
        if by is None:
            return "an approval must say who gave it (by=...)" if self.named else None
        if same_person(by, requester):
            return f"{by!r} made the call and cannot approve it"
        approvers = self.approvers
        if approvers is None:
            return None
        if callable(approvers):
            try:
                allowed = approvers(by) is True
            except Exception as exc:  # noqa: BLE001 - a failing predicate says no
                return f"the approvers check failed for {by!r} ({type(exc).__name__}: {exc})"
        else:
            allowed = person(by) in {person(a) for a in approvers}
        return None if allowed else f"{by!r} is not one of the approvers of this rule"

    def to_doc(self, *, callables: bool = False) -> dict[str, Any]:
        """The document form: ``{timeout = 60, quorum = 2, approvers = [...], rememberable = false}``.

        A predicate has none (unless ``callables``, for fingerprints: then it is named).
        """
        doc: dict[str, Any] = {}
        if self.timeout is not None:
            doc["timeout"] = self.timeout
        if self.quorum != 1:
            doc["quorum"] = self.quorum
        approvers = self.approvers
        if callable(approvers):
            if not callables:
                raise PolicyError(
                    "approvers given as a predicate are Python code, not data: no document form"
                )
            doc["approvers"] = {"callable": self.fingerprint()}
        elif approvers is not None:
            doc["approvers"] = list(approvers)
        if not self.rememberable:
            doc["rememberable"] = False
        return doc

    def fingerprint(self) -> str:
        """Stable text telling these apart (part of a rule's derived id)."""
        approvers = self.approvers
        named = (
            f"{getattr(approvers, '__module__', '?')}.{getattr(approvers, '__qualname__', type(approvers).__name__)}"
            if callable(approvers)
            else approvers
        )
        return repr((self.timeout, self.quorum, named, self.rememberable))


#: The approval rules of a rule that sets none.
DEFAULT_RULES: Final = ApprovalRules()


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
