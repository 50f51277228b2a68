"""Table-driven policy tests: case files, running them, and which rules they cover.

A case file (TOML, JSON or YAML) names the policy and lists calls with the
effect each must get::

    policy = "support.toml"            # or a list; relative to this file

    [[cases]]
    name = "small refunds go through"  # optional: the test's id
    action = "payments.refund"
    args = { order_id = "A-1", amount = 40 }
    context = { user = "alice" }       # optional
    expect = "allow"                   # allow, deny or require_approval
    rule = "small-refunds"             # optional: the rule that must decide

``guardrails test`` runs such files; the pytest plugin collects files named
``policy_test_*.toml`` (``.json``, ``.yaml``, ``.yml``), one test per case.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from guardrails._text import brief
from guardrails.documents.load import read_document
from guardrails.documents.policy import Policy as DocumentPolicy
from guardrails.errors import PolicyError
from guardrails.policy.decision import Decision
from guardrails.policy.evaluate import Policy

__all__ = ["Case", "CaseResult", "Coverage", "load_cases", "mismatch", "policy_for", "run_case", "uncovered"]

EffectName = Literal["allow", "deny", "require_approval"]


class _CaseDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr | None = None
    action: StrictStr
    args: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    expect: EffectName
    rule: StrictStr | None = None


class _CaseFileDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: StrictStr | list[StrictStr] | None = None
    cases: list[_CaseDoc]

    @field_validator("cases")
    @classmethod
    def _some(cls, cases: list[_CaseDoc]) -> list[_CaseDoc]:
        if not cases:
            raise ValueError("a case file needs at least one case")
        return cases


@dataclass(frozen=True)
class Case:
    """One expected decision: ``action`` with ``args`` in ``context`` gets ``expect``
    (and, when given, is decided by ``rule``)."""

    name: str
    action: str
    args: Mapping[str, Any]
    context: Mapping[str, Any]
    expect: EffectName
    rule: str | None = None
    source: str = ""
    policies: tuple[Path, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class CaseResult:
    """How a case fared: the decision, and what was wrong with it if anything."""

    case: Case
    decision: Decision | None
    problem: str | None = None

    @property
    def passed(self) -> bool:
        """Whether the decision was the one expected."""
        return self.problem is None


def load_cases(path: str | Path) -> list[Case]:
    """The cases of a file, each named (its ``name``, or the action and arguments).

    Raises ``PolicyError`` naming the file and the case that is wrong.
    """
    path = Path(path)
    doc = read_document(path)
    try:
        parsed = _CaseFileDoc.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "file"
        raise PolicyError(f"{path}: {where}: {first['msg']}") from None
    policies: tuple[Path, ...] = ()
    if parsed.policy is not None:
        names = [parsed.policy] if isinstance(parsed.policy, str) else parsed.policy
        policies = tuple(path.parent / name for name in names)
    cases = []
    taken: dict[str, int] = {}
    for i, doc_case in enumerate(parsed.cases):
        name = doc_case.name or _default_name(doc_case)
        if name in taken:
            if doc_case.name:
                raise PolicyError(f"{path}: cases[{i}]: the name {name!r} is taken by cases[{taken[name]}]")
            name = f"{name} [{i}]"  # two unnamed cases alike: keep both, told apart
        taken[name] = i
        cases.append(
            Case(
                name=name,
                action=doc_case.action,
                args=doc_case.args,
                context=doc_case.context,
                expect=doc_case.expect,
                rule=doc_case.rule,
                source=f"{path}:cases[{i}]",
                policies=policies,
            )
        )
    return cases


def policy_for(paths: Sequence[Path], source: str) -> Policy:
    """The policy a case file names (several files are combined)."""
    if not paths:
        raise PolicyError(f'{source}: name the policy: policy = "policy.toml" in the file, or --policy')
    return DocumentPolicy.from_file(paths[0]) if len(paths) == 1 else DocumentPolicy.from_files(paths)


def run_case(policy: Policy, case: Case) -> CaseResult:
    """Judge the case's call under ``policy`` and compare with what it expects."""
    try:
        decision = policy.evaluate(case.action, case.args, case.context)
    except Exception as exc:  # noqa: BLE001 - a case that cannot be judged fails, it does not crash the run
        return CaseResult(case, None, f"could not be judged: {type(exc).__name__}: {exc}")
    return CaseResult(case, decision, mismatch(decision, case.expect, case.rule))


def mismatch(decision: Decision, effect: str, rule_id: str | None = None) -> str | None:
    """What is wrong with ``decision`` when ``effect`` (and ``rule_id``) was expected, or None."""
    wrong = []
    if decision.effect.value != effect:
        wrong.append(f"expected {effect}, got {decision.effect.value}")
    if rule_id is not None and decision.rule_id != rule_id:
        wrong.append(f"expected rule {rule_id!r}, decided by {decision.rule_id!r}")
    return "; ".join(wrong) or None


def uncovered(policy: Policy, decided: Iterable[str]) -> list[str]:
    """The ids of the policy's enforced rules that decided none of the cases."""
    seen = set(decided)
    return [rule.id for rule in policy.rules if not rule.shadow and rule.id not in seen]


class Coverage:
    """Which rules of which policies decided at least one case.

    Policies are told apart by version: the same policy loaded by a case file
    and by a test is one policy. ``dump`` and ``merge`` carry it between
    processes (pytest-xdist workers).
    """

    def __init__(self) -> None:
        self._policies: dict[str, dict[str, list[str]]] = {}

    def saw(self, label: str, policy: Policy, decision: Decision | None) -> None:
        """Note that ``decision`` was made under ``policy`` (known as ``label``)."""
        entry = self._policies.setdefault(
            policy.version,
            {"labels": [], "rules": [rule.id for rule in policy.rules if not rule.shadow], "decided": []},
        )
        if label not in entry["labels"]:
            entry["labels"].append(label)
        if decision is not None and decision.rule is not None and decision.rule_id not in entry["decided"]:
            entry["decided"].append(decision.rule_id)

    def report(self) -> dict[str, list[str]]:
        """For each policy, the rules no case was decided by (policies fully covered left out)."""
        out = {}
        for entry in self._policies.values():
            decided = set(entry["decided"])
            missing = [rule for rule in entry["rules"] if rule not in decided]
            if missing:
                out[" = ".join(entry["labels"])] = missing
        return out

    def dump(self) -> dict[str, dict[str, list[str]]]:
        """Plain data: what ``merge`` takes."""
        return {version: {k: list(v) for k, v in entry.items()} for version, entry in self._policies.items()}

    def merge(self, data: Mapping[str, Mapping[str, Sequence[str]]]) -> None:
        """Add what another process saw."""
        for version, theirs in data.items():
            entry = self._policies.setdefault(
                version, {"labels": [], "rules": list(theirs["rules"]), "decided": []}
            )
            for key in ("labels", "decided"):
                entry[key] += [item for item in theirs[key] if item not in entry[key]]

    def __bool__(self) -> bool:
        return bool(self._policies)


# A repr that stops early: YAML aliases can make a small file hold a huge value.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 2, 40, 40, 4, 4


def _default_name(case: _CaseDoc) -> str:
    """``action(args) -> expect``, bounded (a test id is shown on every line of a report)."""
    args = ", ".join(f"{key}={_SHORT.repr(value)}" for key, value in list(case.args.items())[:8])
    context = ", ".join(f"{key}={_SHORT.repr(value)}" for key, value in list(case.context.items())[:4])
    name = f"{case.action}({args})" + (f" in {context}" if context else "") + f" -> {case.expect}"
    return brief(name, 200)[1:-1] if len(name) > 200 else name
