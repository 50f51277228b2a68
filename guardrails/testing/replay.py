"""Re-judge recorded calls under a candidate policy: what would a change do to real traffic?

Each call in an audit log is judged again, from its recorded arguments and
context, and the new effect compared with the policy's decision then (the
record's ``decided``: an approved or refused call had ``require_approval``;
calls stopped by the kill switch are left out). Recorded values are the
redacted view: a call whose record is not ``exact`` (a value redacted, cut or
recorded as text) may be judged differently than the real call would be; such
calls are counted as ``uncertain``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from guardrails.audit.records import AuditRecord, Outcome
from guardrails.policy.decision import Decision
from guardrails.policy.evaluate import Policy

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
    #: Calls that counted against limits, or that ``after(...)`` rules judge:
    #: their decision depends on the calls before them, which a replay cannot
    #: rebuild; not compared.
    stateful: int = 0
    changes: list[Change] = field(default_factory=list)

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
    """Judge every recorded call again under ``policy``."""
    report = ReplayReport()
    seen: set[str] = set()
    for record in records:
        was = recorded_effect(record)
        if was is None or record.call_id in seen:
            continue  # one decision per call: a later "not run" after a failing sink is the same call
        seen.add(record.call_id)
        report.calls += 1
        if record.limits or _reads_history(policy, record.action):
            report.stateful += 1
            continue
        now = policy.evaluate(record.action, dict(record.args), dict(record.context))
        uncertain = not record.exact
        report.uncertain += uncertain
        if now.effect.value == was:
            report.unchanged += 1
        else:
            report.changes.append(Change(record, was, now, uncertain))
    return report


def _reads_history(policy: Policy, action: str) -> bool:
    return any(
        rule.when is not None and next(rule.when.histories(), None) is not None
        for rule in policy.stateful_for(action)
    )
