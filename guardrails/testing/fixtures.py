"""The hooks and fixtures of the pytest plugin (``guardrails.testing.pytest_plugin`` loads them on pytest 7+)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from guardrails.documents.load import read_document
from guardrails.errors import PolicyError
from guardrails.policy.decision import Decision
from guardrails.policy.evaluate import Policy
from guardrails.runtime.governor import Governor, get_governor
from guardrails.runtime.setup import Setup
from guardrails.testing import CapturedAudit, ScriptedApprover, decision_observers
from guardrails.testing.cases import Case, CaseResult, Coverage, load_cases, policy_for, run_case

__all__ = [
    "CaseFailed",
    "PolicyCase",
    "PolicyCaseFile",
    "guardrails_approver",
    "guardrails_audit",
    "guardrails_governor",
    "pytest_addoption",
    "pytest_collect_file",
    "pytest_configure",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_testnodedown",
    "pytest_unconfigure",
]

CASE_FILES = ("policy_test_*.toml", "policy_test_*.json", "policy_test_*.yaml", "policy_test_*.yml")
_COVERAGE = pytest.StashKey[Coverage]()
_GATE_FAILED = pytest.StashKey[bool]()  # the coverage gate turned a passing run into a failure
_WORKER_KEY = "guardrails_coverage"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("guardrails", "guardrails policy tests")
    group.addoption(
        "--guardrails-fail-uncovered",
        action="store_true",
        help="fail the run when a policy rule decided none of the cases",
    )


def pytest_configure(config: pytest.Config) -> None:
    coverage = Coverage()
    config.stash[_COVERAGE] = coverage

    def observe(policy: Policy, decision: Decision) -> None:
        coverage.saw(f"policy {policy.version[:12]}", policy, decision)

    config.stash[_OBSERVER] = observe
    decision_observers.append(observe)


_OBSERVER = pytest.StashKey[Any]()


def pytest_unconfigure(config: pytest.Config) -> None:
    observe = config.stash.get(_OBSERVER, None)
    if observe in decision_observers:
        decision_observers.remove(observe)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not any(fnmatch.fnmatch(file_path.name, pattern) for pattern in CASE_FILES):
        return None
    try:
        doc = read_document(file_path)
    except PolicyError:
        pass  # named like a case file and broken: collecting it reports why
    else:
        if not (isinstance(doc, dict) and "cases" in doc):
            return None  # a policy or other data that only shares the name
    return PolicyCaseFile.from_parent(parent, path=file_path)


class PolicyCaseFile(pytest.File):
    """A case file: one test item per case."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            cases = load_cases(self.path)
        except PolicyError as exc:
            raise self.CollectError(str(exc)) from None
        self.policy: Policy | None = None
        for case in cases:
            yield PolicyCase.from_parent(self, name=case.name, case=case)

    def load_policy(self, case: Case) -> Policy:
        if self.policy is None:
            self.policy = policy_for(case.policies, str(self.path))
        return self.policy


class CaseFailed(AssertionError):
    """A case got another decision than the one it expects."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.problem)
        self.result = result


class PolicyCase(pytest.Item):
    """One case of a case file."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        parent = self.parent
        assert isinstance(parent, PolicyCaseFile)
        policy = parent.load_policy(self.case)
        result = run_case(policy, self.case)
        label = ", ".join(str(p) for p in self.case.policies)
        self.config.stash[_COVERAGE].saw(label, policy, result.decision)
        if not result.passed:
            raise CaseFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            result = excinfo.value.result
            explanation = "" if result.decision is None else "\n" + result.explain()
            return f"{self.case.source}: {self.case.name}: {result.problem}{explanation}"
        if isinstance(excinfo.value, PolicyError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"policy case: {self.name}"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    report = config.stash[_COVERAGE].report()
    if not report:
        return
    terminalreporter.section("guardrails rule coverage")
    for label, rules in report.items():
        terminalreporter.write_line(f"{label}: {len(rules)} rules decided no case: {', '.join(rules)}")
    if not config.getoption("--guardrails-fail-uncovered"):
        terminalreporter.write_line("(--guardrails-fail-uncovered makes this fail the run)")
    elif config.stash.get(_GATE_FAILED, False):
        total = sum(len(rules) for rules in report.values())
        terminalreporter.write_line(
            f"FAILED by --guardrails-fail-uncovered: {total} rules decided no case (listed above), "
            "so the run fails although its tests passed. Add cases these rules decide "
            "(a rule with a limit: a case with usage or prior_calls that reaches it).",
            red=True,
            bold=True,
        )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: a worker finished; add what it covered."""
    data = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
    if data:
        node.config.stash[_COVERAGE].merge(data)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    coverage = config.stash[_COVERAGE]
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller reports
        workeroutput[_WORKER_KEY] = coverage.dump()
        return
    if (
        config.getoption("--guardrails-fail-uncovered")
        and coverage.report()
        and session.exitstatus == pytest.ExitCode.OK
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        config.stash[_GATE_FAILED] = True


@pytest.fixture
def guardrails_governor() -> Iterator[Governor]:
    """The default governor, fresh for this test (no policy: every call denied) and restored after.

    Tools decorated without ``governor=`` use it: set ``guardrails_governor.policy``.
    """
    governor = get_governor()
    # A whole new snapshot: no policy, hook, block, shadow mode or timeout carries over.
    saved = governor.replace_setup(Setup(Policy([]), sinks=(CapturedAudit(),)))
    try:
        yield governor
    finally:
        governor.replace_setup(saved)


@pytest.fixture
def guardrails_audit(guardrails_governor: Governor) -> CapturedAudit:
    """What the test's governor recorded."""
    (sink,) = guardrails_governor.setup.sinks
    assert isinstance(sink, CapturedAudit)
    return sink


@pytest.fixture
def guardrails_approver(guardrails_governor: Governor) -> ScriptedApprover:
    """The test governor's approver. It starts with no answers: queue one per approval
    the test will ask for, in order, *before* the governed call::

        def test_refunds(guardrails_governor, guardrails_approver):
            guardrails_governor.policy = g.Policy([g.require_approval("refund")])
            guardrails_approver.push(True, False)   # approve the first request, refuse the second
            assert refund(250) == "ok"
            with pytest.raises(g.ApprovalDenied):
                refund(300)
            assert [r.args["amount"] for r in guardrails_approver.requests] == [250, 300]

    Asked with no answer queued, it refuses the call, and the refusal says how to
    queue answers (``push``) or to set one for every request (``.default = True``).
    """
    approver = ScriptedApprover(name="guardrails_approver")
    guardrails_governor.configure(approver=approver)
    return approver
