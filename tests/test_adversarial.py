"""The adversarial corpus: hostile inputs for every matcher, each with the answer it must get.

Each case in tests/adversarial/*.toml names a matcher, its parameters, a value
an attacker could send, the expected result ("yes", "no" or "error") and the
trick it uses. Every case is judged twice: by the bare condition, and through
a policy, where an allow rule must let through only "yes" and a deny rule must
stop "yes" and "error" alike.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

import guardrails as g
from guardrails.call import Call
from guardrails.errors import EvaluationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CORPUS = Path(__file__).parent / "adversarial"
MINIMUM_CASES = 250
HANG_SECONDS = 2.0


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(CORPUS.glob("*.toml")):
        for i, case in enumerate(tomllib.loads(path.read_text(encoding="utf-8"))["case"]):
            cases.append((f"{path.stem}[{i}] {case['why'][:50]}", case))
    return cases


CASES = load_cases()
x = g.arg("x")

BUILDERS: dict[str, Callable[..., g.policy.Condition]] = {
    "within": x.within,
    "host_in": x.host_in,
    "email_domain_in": x.email_domain_in,
    "matches": x.matches,
    "regex": x.regex,
    "shell_command_in": x.shell_command_in,
    "decimal_gt": lambda limit: x.decimal() > limit,
    "between": lambda lo, hi: x.between(lo, hi),
    "every_email_domain_in": x.every().email_domain_in,
    "any_email_domain_in": x.any().email_domain_in,
}


def fill(value: Any, root: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{root}", str(root))
    if isinstance(value, list):
        return [fill(v, root) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, root) for k, v in value.items()}
    return value


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file tree the path cases are written against; the cwd is {root}/data."""
    root = Path(os.path.realpath(tmp_path))
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "sub" / "file.txt").write_text("x")
    (root / "data-evil").mkdir()
    (root / "outside").mkdir()
    (root / "outside" / "secret.txt").write_text("x")
    os.symlink(root / "outside", root / "data" / "escape")
    os.symlink(root / "data" / "sub", root / "data" / "inner")
    os.symlink("/etc", root / "data" / "abs-etc")
    monkeypatch.chdir(root / "data")
    return root


def test_corpus_is_large_enough() -> None:
    """The corpus holds at least 250 hostile and benign cases, across every matcher."""
    assert len(CASES) >= MINIMUM_CASES
    used = {case["matcher"] for _, case in CASES}
    assert {"within", "host_in", "email_domain_in", "matches", "regex", "shell_command_in"} <= used
    for _, case in CASES:
        assert case["expect"] in ("yes", "no", "error")
        assert case["why"].strip()


@pytest.mark.parametrize(("case_id", "case"), CASES, ids=[case_id for case_id, _ in CASES])
def test_case(case_id: str, case: dict[str, Any], tree: Path) -> None:
    """Each hostile input gets the answer it must get, alone and through a policy."""
    condition = BUILDERS[case["matcher"]](**fill(case.get("params", {}), tree))
    value = fill(case["value"], tree)
    call = Call("tool", MappingProxyType({"x": value}))
    expect = case["expect"]
    started = time.perf_counter()
    if expect == "error":
        with pytest.raises(EvaluationError):
            condition(call)
    else:
        assert condition(call) is (expect == "yes"), f"{case['why']}: {value!r}"
    # Not a speed test: a guard against inputs that make a matcher hang (ReDoS).
    assert time.perf_counter() - started < HANG_SECONDS
    allowing = g.Policy([g.allow("tool", when=condition)])
    denying = g.Policy([g.allow("tool"), g.deny("tool", when=condition, id="stop")])
    assert allowing.decide(call).allowed is (expect == "yes")
    assert denying.decide(call).allowed is (expect == "no")
