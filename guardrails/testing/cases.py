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

Rules with a limit (``rate``, ``budget``) and ``after(...)`` conditions depend on
the calls before; a case says what came before in one of two ways, and is then
judged as a governor with a fresh ``MemoryStore`` would judge it::

    [[cases]]
    name = "the sixth mail in a minute is refused"
    action = "send_email"
    args = { to = "bob@acme.com" }
    context = { user = "alice" }
    usage = { mail-rate = 5 }          # rule id = what its counter already holds for
    expect = "deny"                    #   this call's key (calls for a rate, the sum
    rule = "mail-rate"                 #   of the argument for a budget)

    [[cases]]
    name = "no mail out after reading a secret"
    action = "send_email"
    args = { to = "eve@evil.example" }
    context = { session = "s-1" }
    prior_calls = [                    # run first, oldest first, as a governor would:
      { action = "read_file", args = { path = "/secrets/key" } },
      { times = 2 },                   # action, args, context: the case's when left out
      { ago = "2h" },                  # made that long before the case's call
    ]
    expect = "deny"

A prior call counts against limits and is noted for ``after(...)`` only when it
would run: one denied, or needing approval (unless it has ``approved = true``),
counts for nothing. ``usage`` is put on the counters after the prior calls.
Without either, a case is judged as the first call of a fresh store. A rule with
a limit is covered when a case reaches its limit (the rule decides the case).

``guardrails test`` runs such files; the pytest plugin collects files named
``policy_test_*.toml`` (``.json``, ``.yaml``, ``.yml``), one test per case.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from guardrails._text import brief
from guardrails.documents.load import read_document
from guardrails.documents.policy import Policy as DocumentPolicy
from guardrails.errors import PolicyError
from guardrails.policy.decision import Decision
from guardrails.policy.evaluate import Policy
from guardrails.policy.limits import parse_window
from guardrails.testing.stateful import LimitState, PriorCall, countable, judge_with_state

__all__ = [
    "Case",
    "CaseResult",
    "Coverage",
    "load_cases",
    "mismatch",
    "policy_for",
    "run_case",
    "state_from",
    "uncovered",
]

EffectName = Literal["allow", "deny", "require_approval"]


#: The most prior calls a case may run, ``times`` included: a case stays quick.
MAX_TIMES = 10_000
Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False), AfterValidator(countable)]


class _PriorCallDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: StrictStr | None = None
    args: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    times: StrictInt = Field(1, ge=1, le=MAX_TIMES)
    ago: StrictStr | StrictInt | StrictFloat | None = None
    approved: StrictBool = False

    @field_validator("ago")
    @classmethod
    def _window(cls, ago: str | float | None) -> str | float | None:
        if ago is not None:
            try:
                parse_window(ago)
            except PolicyError as exc:
                raise ValueError(str(exc).replace("a window", "ago")) from None
        return ago


class _StateDoc(BaseModel):
    """What came before a call: the ``usage`` and ``prior_calls`` of a case (or of ``explain``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usage: dict[StrictStr, Amount] = Field(default_factory=dict)
    prior_calls: list[_PriorCallDoc] = Field(default_factory=list, max_length=MAX_TIMES)

    @field_validator("prior_calls")
    @classmethod
    def _bounded(cls, calls: list[_PriorCallDoc]) -> list[_PriorCallDoc]:
        if sum(call.times for call in calls) > MAX_TIMES:
            raise ValueError(f"at most {MAX_TIMES} prior calls in all (times included)")
        return calls


class _CaseDoc(_StateDoc):
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
    #: What the counters of limited rules already hold for this call's key, by rule id.
    usage: Mapping[str, Decimal] = field(default_factory=dict)
    #: The calls run before this one, oldest first.
    prior_calls: tuple[PriorCall, ...] = ()


@dataclass(frozen=True)
class CaseResult:
    """How a case fared: the decision, and what was wrong with it if anything."""

    case: Case
    decision: Decision | None
    problem: str | None = None
    #: How each rule with a limit stood for the case's call.
    limits: tuple[LimitState, ...] = ()

    def explain(self) -> str:
        """The decision explained rule by rule, limits included ("" when there is none)."""
        if self.decision is None:
            return ""
        return self.decision.explain({state.rule.id: str(state) for state in self.limits})

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
                usage=doc_case.usage,
                prior_calls=_prior_calls(doc_case, doc_case.action, doc_case.args, doc_case.context),
            )
        )
    return cases


def state_from(
    data: Any, action: str, args: Mapping[str, Any], context: Mapping[str, Any], where: str
) -> tuple[dict[str, Decimal], tuple[PriorCall, ...]]:
    """``{"usage": {...}, "prior_calls": [...]}`` (as in a case) checked: the usage by
    rule id and the prior calls, for a call of ``action``. Raises ``PolicyError``."""
    try:
        doc = _StateDoc.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(part) for part in first["loc"])
        raise PolicyError(f"{where}: {place}: {first['msg'].removeprefix('Value error, ')}") from None
    return dict(doc.usage), _prior_calls(doc, action, args, context)


def _prior_calls(
    doc: _StateDoc, action: str, args: Mapping[str, Any], context: Mapping[str, Any]
) -> tuple[PriorCall, ...]:
    return tuple(
        PriorCall(
            action=prior.action if prior.action is not None else action,
            args=prior.args if prior.args is not None else args,
            context=prior.context if prior.context is not None else context,
            times=prior.times,
            ago=0.0 if prior.ago is None else parse_window(prior.ago),
            approved=prior.approved,
        )
        for prior in doc.prior_calls
    )


def policy_for(paths: Sequence[Path], source: str) -> Policy:
    """The policy a case file names (several files are combined)."""
    if not paths:
        raise PolicyError(f'{source}: name the policy: policy = "policy.toml" in the file, or --policy')
    return DocumentPolicy.from_file(paths[0]) if len(paths) == 1 else DocumentPolicy.from_files(paths)


def run_case(policy: Policy, case: Case) -> CaseResult:
    """Judge the case's call under ``policy`` (its prior calls and usage first, with a
    store of its own) and compare with what it expects."""
    try:
        judged = judge_with_state(policy, case.action, case.args, case.context, case.usage, case.prior_calls)
    except PolicyError as exc:
        return CaseResult(case, None, str(exc))
    except Exception as exc:  # noqa: BLE001 - a case that cannot be judged fails, it does not crash the run
        return CaseResult(case, None, f"could not be judged: {type(exc).__name__}: {exc}")
    return CaseResult(case, judged.decision, mismatch(judged.decision, case.expect, case.rule), judged.limits)


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
