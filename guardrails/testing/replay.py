"""Re-judge recorded calls under a candidate policy: what would a change do to real traffic?

Each call in an audit log is judged again, from its recorded arguments and
context, and the new effect compared with the policy's decision then (the
record's ``decided``: an approved or refused call had ``require_approval``;
calls stopped by the kill switch are left out). Recorded values are the
redacted view: a call whose record is not ``exact`` (a value redacted, cut or
recorded as text) may be judged differently than the real call would be; such
calls are counted as ``uncertain``.

Limits and ``after(...)`` are replayed: the calls go, in the order of their
recorded times (whatever the order of the logs given, or of lines in a file) and
at those times, through a fresh ``MemoryStore`` judged by the candidate,
as a governor would — a call the candidate lets run counts against its limits
and is noted for ``after(...)`` (given back if its tool raised then); one it
denies, or sends for an approval nobody gave then, counts for nothing. A call
needing approval under the candidate runs when a person approved it then.
Calls judged by ``provenance(...)`` cannot be compared: the log does not keep
what the tools returned, which that condition reads. They are counted in
``not_compared`` and left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from guardrails.audit.records import AuditRecord, Outcome
from guardrails.policy.conditions import AllOf, AnyOf, Condition, Not
from guardrails.policy.decision import Decision
from guardrails.policy.evaluate import Policy
from guardrails.policy.provenance import Provenance
from guardrails.testing.stateful import Simulation, make_call

__all__ = ["Change", "ReplayReport", "recorded_effect", "replay"]


@dataclass(frozen=True)
class Change:
    """A recorded call the candidate policy decides differently."""

    record: AuditRecord
    was: str
    now: Decision
    uncertain: bool

    @property
    def kind(self) -> str:
        """``newly denied``, ``newly allowed``, ``newly needs approval``..."""
        return {"deny": "newly denied", "allow": "newly allowed"}.get(
            self.now.effect.value, "newly needs approval"
        )


@dataclass
class ReplayReport:
    """What changes: counts, and every changed call."""

    calls: int = 0
    unchanged: int = 0
    uncertain: int = 0
    #: Calls the candidate judged with limits or ``after(...)``: compared, with the
    #: calls before them replayed in order.
    stateful: int = 0
    #: Calls that could not be compared (``provenance(...)`` reads what tools
    #: returned, which the log does not keep), by action.
    not_compared: Counter[str] = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)

    @property
    def compared(self) -> int:
        """The calls judged again and compared."""
        return self.calls - sum(self.not_compared.values())

    def summary(self) -> dict[str, dict[str, int]]:
        """``{"newly denied": {"rule 'cap'": 10, "the default": 2}, ...}``."""
        groups: dict[str, Counter[str]] = {}
        for change in self.changes:
            by = "the default" if change.now.rule is None else f"rule {change.now.rule_id!r}"
            groups.setdefault(change.kind, Counter())[by] += 1
        return {kind: dict(counter.most_common()) for kind, counter in sorted(groups.items())}


def recorded_effect(record: AuditRecord) -> str | None:
    """The effect the policy decided for a recorded call, before any approval; None for a
    record that is not a call's decision (or a block by the kill switch)."""
    if record.kind != "call" or record.outcome not in (Outcome.STARTED, Outcome.NOT_RUN):
        return None
    if record.rule_id.startswith("kill-switch:"):
        return None
    return record.decided or record.effect


def replay(records: Iterable[AuditRecord], policy: Policy) -> ReplayReport:
    """Judge every recorded call again under ``policy``, in the order of the records'
    times (records of one time in the order given), with the limits and ``after(...)``
    of ``policy`` replayed from the calls before it."""
    report = ReplayReport()
    simulation = Simulation(policy)
    seen: set[str] = set()
    for record in sorted(records, key=_time):  # stable: a call's records of one time stay in order
        if record.call_id in seen:
            _finished(simulation, record)  # the outcome of a call already judged
            continue
        was = recorded_effect(record)
        if was is None:
            continue
        seen.add(record.call_id)
        report.calls += 1
        stateful = policy.stateful_for(record.action)
        if any(_reads_outputs(rule.when) for rule in stateful):
            report.not_compared[record.action] += 1
            continue
        report.stateful += bool(stateful)
        _compare(report, record, was, _judged(simulation, record))
    return report


def _time(record: AuditRecord) -> float:
    """When the record was written, as a timestamp (a time without a zone is local, as
    ``datetime.timestamp`` takes it): aware and naive times sort together."""
    return record.time.timestamp()


def _judged(simulation: Simulation, record: AuditRecord) -> Decision:
    """The candidate's decision on the recorded call, counted and noted if it would run."""
    simulation.at(record.time.timestamp())
    context = dict(record.context)
    if record.tool_call_id is not None:
        context.setdefault("tool_call_id", record.tool_call_id)  # a re-run counts once, as then
    call = make_call(record.action, record.args, context, record.call_id)
    # A person approved it then: the candidate's approval would have been given too.
    decision = simulation.start(call, approved=record.approval is not None and record.approval.approved)
    if record.outcome is Outcome.NOT_RUN:
        simulation.finish(record.call_id)  # it did not run then: as if it had, and returned
    return decision


def _finished(simulation: Simulation, record: AuditRecord) -> None:
    """A later record of a call: its tool returned (its share is used), or raised or did not run."""
    if record.outcome is not None and record.outcome is not Outcome.STARTED:
        simulation.finish(record.call_id, returned=record.outcome is Outcome.RETURNED)


def _compare(report: ReplayReport, record: AuditRecord, was: str, now: Decision) -> None:
    uncertain = not record.exact
    report.uncertain += uncertain
    if now.effect.value == was:
        report.unchanged += 1
    else:
        report.changes.append(Change(record, was, now, uncertain))


def _reads_outputs(condition: Condition | None) -> bool:
    """Whether ``condition`` has a ``provenance(...)`` part."""
    return any(isinstance(part, Provenance) for part in _parts(condition))


def _parts(condition: Condition | None) -> Iterator[Condition]:
    if condition is None:
        return
    yield condition
    if isinstance(condition, (AllOf, AnyOf)):
        for part in condition.conditions:
            yield from _parts(part)
    elif isinstance(condition, Not):
        yield from _parts(condition.condition)
