"""The requests a person decides later (``gov.approvals``), kept in the governor's store.

With a ``SQLiteStore`` or a ``RedisStore`` they survive a restart and another
process can decide them. ``Approvals`` reads the governor's setup through a
getter, so a store or policy swapped while a request waits is the one used.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from guardrails._text import show
from guardrails.approvals.request import ApprovalRequest, ApprovalResponse
from guardrails.audit.recorder import record_event
from guardrails.audit.records import AuditApproval, AuditSink
from guardrails.errors import ApprovalError
from guardrails.policy.approval_rules import DEFAULT_RULES, same_person
from guardrails.policy.rules import Effect, Rule
from guardrails.state.store import Store

if TYPE_CHECKING:
    from guardrails.policy.decision import Decision
    from guardrails.policy.evaluate import Policy

__all__ = ["ApprovalRecord", "Approvals", "Needs", "Settings"]


class Settings(Protocol):
    """What the approvals read of a governor's setup (``guardrails.runtime.Setup`` has it)."""

    @property
    def store(self) -> Store: ...

    @property
    def sinks(self) -> tuple[AuditSink, ...]: ...

    @property
    def policy(self) -> Policy: ...


_REQUEST = "approval:request:"  # + id: the request and its answers
_CALL = "approval:call:"  # + digest: the id of the latest request for that exact call
_MEMORY = "approval:memory:"  # + session + action (+ digest): an approval remembered


@dataclass(frozen=True)
class ApprovalRecord:
    """A request as ``gov.approvals`` keeps it: what was asked, and the answers so far.

    ``args`` and ``context`` are the call's as the audit trail shows them
    (redacted, JSON-safe). ``status``: ``pending``, ``approved`` (ready for
    the retry), ``denied``, ``used`` (the retry ran, or was refused).
    ``answers`` are ``{"by", "approved", "reason", "at"}``.
    """

    id: str
    digest: str
    action: str
    args: Mapping[str, Any]
    context: Mapping[str, Any]
    rule_id: str
    reason: str
    requester: str | None
    session: str | None
    created: float
    expires: float | None
    quorum: int
    status: str = "pending"
    answers: tuple[Mapping[str, Any], ...] = ()
    #: Every approval rule that asked (all must be satisfied), sorted.
    rule_ids: tuple[str, ...] = ()

    @property
    def expired(self) -> bool:
        """Whether it can no longer be decided or used."""
        return self.expires is not None and time.time() >= self.expires

    @property
    def approvers(self) -> tuple[str, ...]:
        """Who approved it so far, in order."""
        return tuple(a["by"] for a in self.answers if a["approved"] and a.get("by"))

    def to_json(self) -> str:
        """Every field as one JSON object, as the store keeps it (a value JSON
        cannot hold is written as its ``str``)."""
        data = {**self.__dict__, "answers": list(self.answers)}
        return json.dumps(data, default=str)

    @classmethod
    def from_json(cls, text: str) -> ApprovalRecord:
        """The record ``to_json`` wrote; ``answers`` and ``rule_ids`` (if absent: none)
        become tuples again. Raises ``ValueError`` on text that is not JSON, ``TypeError``
        when its fields are not a record's."""
        data = json.loads(text)
        data["answers"] = tuple(data.get("answers", ()))
        data["rule_ids"] = tuple(data.get("rule_ids", ()))
        return cls(**data)


class Approvals:
    """The deferred approval requests of a governor (``gov.approvals``).

    ``pending()`` lists what waits for a person; ``approve(id, by=...)`` and
    ``deny(id, by=...)`` decide. The agent then retries the identical call:
    approved, it runs once (a decision is single-use); refused, it is denied.
    Other arguments make another request; requests expire (``Governor(approval_expiry=...)``).
    """

    def __init__(self, settings: Callable[[], Settings]) -> None:
        #: Returns the governor's setup as it is now.
        self._settings = settings

    def pending(self) -> list[ApprovalRecord]:
        """The requests waiting for a decision, oldest first."""
        records = [ApprovalRecord.from_json(v) for v in self._store.scan(_REQUEST).values()]
        return sorted(
            (r for r in records if r.status == "pending" and not r.expired), key=lambda r: r.created
        )

    def get(self, request_id: str) -> ApprovalRecord | None:
        """The request with this id (whatever its status), or None."""
        raw = self._store.read(_REQUEST + request_id)
        return None if raw is None else ApprovalRecord.from_json(raw)

    def approve(self, request_id: str, *, by: str, reason: str | None = None) -> ApprovalRecord:
        """Approve a pending request as ``by``. With a quorum it stays pending until
        enough distinct people approved. Raises ``ApprovalError`` when the request is
        unknown, expired or decided, or ``by`` may not approve it."""
        return self._answer(request_id, True, by, reason)

    def deny(self, request_id: str, *, by: str, reason: str | None = None) -> ApprovalRecord:
        """Refuse a pending request as ``by``: the retry is denied."""
        return self._answer(request_id, False, by, reason)

    # ---- for the flow ---------------------------------------------------------------

    @property
    def _store(self) -> Any:
        return self._settings().store

    def _answer(self, request_id: str, approved: bool, by: str, reason: str | None) -> ApprovalRecord:
        _check_answer(by, reason)
        store, key = self._store, _REQUEST + request_id
        while True:
            raw = store.read(key)
            record = self._answerable(request_id, raw, approved, by)
            answer = {"by": by, "approved": approved, "reason": reason, "at": time.time()}
            updated = _answered(record, answer)
            if store.swap(key, raw, updated.to_json(), _keep(updated)):
                break  # else someone else answered meanwhile: read again
        status = updated.status
        done = status if status != "pending" else f"approved by {by}, waiting for more"
        approval = AuditApproval(
            approved=approved,
            by=by,
            reason=reason,
            status=status,
            request_id=request_id,
            approvers=updated.approvers,
        )
        self._event(record, f"request {request_id} {done}", approval)
        return updated

    def _answerable(self, request_id: str, raw: str | None, approved: bool, by: str) -> ApprovalRecord:
        """The stored request, if ``by`` may answer it now; else ``ApprovalError`` says why not."""
        if raw is None:
            raise ApprovalError(f"no approval request {request_id!r}")
        record = ApprovalRecord.from_json(raw)
        if record.expired:
            raise ApprovalError(f"approval request {request_id} expired")
        if record.status != "pending":
            raise ApprovalError(f"approval request {request_id} is already {record.status}")
        if not approved:
            return record
        why = _needs_of(self._settings(), record).refusal(by, record.requester)
        if why is not None:
            raise ApprovalError(f"{by!r} cannot approve request {request_id}: {why}")
        if any(same_person(by, other) for other in record.approvers):
            raise ApprovalError(
                f"{by!r} approved request {request_id} already; it needs {record.quorum} different people"
            )
        return record

    def _event(self, record: ApprovalRecord, reason: str, approval: AuditApproval) -> None:
        """Record what happened to a request outside any call (decided, expired)."""
        record_event(
            self._settings().sinks,
            "approval",
            action=record.action,
            rule_id=record.rule_id,
            reason=reason,
            approval=approval,
        )

    def open(
        self,
        request: ApprovalRequest,
        args: Mapping[str, Any],
        context: Mapping[str, Any],
        rule_ids: tuple[str, ...],
    ) -> None:
        """Keep a request a person decides later."""
        call = request.call
        session = call.context.get("session")
        record = ApprovalRecord(
            id=request.id,
            digest=request.digest,
            action=request.action,
            args=dict(args),
            context=dict(context),
            rule_id=request.rule_id,
            reason=request.reason,
            requester=request.requester,
            session=None if session is None else str(session),
            created=request.created,
            expires=request.expires,
            quorum=request.quorum,
            answers=tuple(
                {"by": a.by, "approved": True, "reason": a.reason, "at": request.created}
                for a in request.approvals
            ),
            rule_ids=rule_ids,
        )
        store = self._store
        if not store.swap(_REQUEST + request.id, None, record.to_json(), _keep(record)):
            raise ApprovalError(f"approval request {request.id} exists already")
        index = _CALL + request.digest
        for _ in range(8):  # the latest request for the call wins the index
            current = store.read(index)
            if store.swap(index, current, request.id, _keep(record)):
                return
        raise ApprovalError(f"could not file approval request {request.id}")

    def for_call(self, digest: str) -> tuple[str, ApprovalRecord] | None:
        """The latest request for the exact call ``digest`` and its stored text."""
        request_id = self._store.read(_CALL + digest)
        if request_id is None:
            return None
        raw = self._store.read(_REQUEST + request_id)
        return None if raw is None else (raw, ApprovalRecord.from_json(raw))

    def use(self, raw: str, record: ApprovalRecord) -> bool:
        """Mark a decided request used; False when another retry used it first."""
        used = replace(record, status="used")
        return bool(self._store.swap(_REQUEST + record.id, raw, used.to_json(), _keep(used)))

    def expire(self, raw: str, record: ApprovalRecord) -> None:
        """Drop an expired request, and record that it expired."""
        store = self._store
        if store.swap(_REQUEST + record.id, raw, None):
            store.swap(_CALL + record.digest, record.id, None)
            expired = AuditApproval(approved=False, status="expired", request_id=record.id)
            self._event(record, f"request {record.id} expired ({record.status})", expired)

    def waiting(self, session: str | None, requester: str | None) -> int:
        """How many requests wait from ``session`` (without one: from ``requester``)."""
        if session is not None:
            return sum(1 for r in self.pending() if r.session == session)
        return sum(1 for r in self.pending() if r.session is None and r.requester == requester)

    def remembered(self, scope: str, digest: str) -> Mapping[str, Any] | None:
        """An approval remembered for ``scope`` (any arguments, or these)."""
        for key in (f"{_MEMORY}{scope}", f"{_MEMORY}{scope}:{digest}"):
            raw = self._store.read(key)
            if raw is not None:
                return dict(json.loads(raw))
        return None

    def remember(self, scope: str, digest: str | None, response: ApprovalResponse, ttl: float) -> None:
        """Remember an approval for ``scope`` (``ttl`` seconds at most)."""
        key = f"{_MEMORY}{scope}" + ("" if digest is None else f":{digest}")
        value = json.dumps({"by": response.by, "reason": response.reason, "at": time.time()})
        store = self._store
        current = store.read(key)
        store.swap(key, current, value, ttl)


def _check_answer(by: object, reason: object) -> None:
    """Reject an answer that does not say who gives it, or gives a reason that is no text."""
    if not isinstance(by, str) or not by:
        raise ApprovalError(f"say who decides: by= must be a non-empty string, got {show(by)}")
    if reason is not None and not isinstance(reason, str):
        raise ApprovalError(f"reason must be a string, got {show(reason)}")


def _answered(record: ApprovalRecord, answer: Mapping[str, Any]) -> ApprovalRecord:
    """The request with one more answer: refused, approved by enough people, or still pending."""
    approved = answer["approved"]
    if not approved:
        status = "denied"
    elif len(record.approvers) + 1 >= record.quorum:
        status = "approved"
    else:
        status = "pending"
    return replace(record, answers=(*record.answers, answer), status=status)


def _keep(record: ApprovalRecord) -> float | None:
    """How long the store keeps a request: a day past its expiry, for the record."""
    return None if record.expires is None else max(1.0, record.expires - time.time() + 86_400)


class Needs:
    """What every approval rule that applies to a call asks, together: the largest
    quorum, the shortest timeout, each rule's approvers; remembering only when
    every rule allows it and one person suffices."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        unique = {rule.id: rule for rule in rules}
        self.rule_ids = tuple(sorted(unique))
        self.rules = tuple(DEFAULT_RULES if r.approval is None else r.approval for r in unique.values())
        self.quorum = max((r.quorum for r in self.rules), default=1)
        timeouts = [r.timeout for r in self.rules if r.timeout is not None]
        self.timeout = min(timeouts) if timeouts else None
        self.rememberable = self.quorum == 1 and all(r.rememberable for r in self.rules)

    @classmethod
    def of(cls, decision: Decision) -> Needs:
        """The approval rules that apply to the decision's call (its deciding rule at least)."""
        asking = [r for r, matched, _ in decision.outcomes if matched and r.effect is Effect.REQUIRE_APPROVAL]
        if decision.rule is not None and decision.rule.effect is Effect.REQUIRE_APPROVAL:
            asking.append(decision.rule)
        return cls(asking)

    def refusal(self, by: str | None, requester: str | None) -> str | None:
        """Why ``by`` may not approve (for one rule or another); None when they may."""
        for rules in self.rules or (DEFAULT_RULES,):
            why = rules.refusal(by, requester)
            if why is not None:
                return why
        return None


def _needs_of(setup: Settings, record: ApprovalRecord) -> Needs:
    """What the rules that asked need now; a rule gone from the policy (removed, or
    changed so that its id changed) leaves nobody able to approve."""
    by_id = {rule.id: rule for rule in setup.policy.rules}
    missing = [rule_id for rule_id in record.rule_ids or (record.rule_id,) if rule_id not in by_id]
    if missing:
        raise ApprovalError(
            f"approval request {record.id} was asked by rule {missing[0]!r}, which the policy no longer has"
        )
    needs = Needs([by_id[rule_id] for rule_id in record.rule_ids or (record.rule_id,)])
    needs.quorum = max(needs.quorum, record.quorum)
    return needs
