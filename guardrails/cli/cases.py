"""``guardrails test``: run table-driven policy tests and report rule coverage."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from guardrails.cli.common import FOUND, OK, colour, load_policy, paint
from guardrails.policy.evaluate import Policy
from guardrails.testing.cases import Case, CaseResult, Coverage, load_cases, policy_for, run_case

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add ``test``."""
    test = commands.add_parser(
        "test",
        help="run table-driven policy tests (case files)",
        description=(
            "Judge every case of the case files under the policy and compare with what it expects. "
            'The policy is the one each file names (policy = "policy.toml"), or --policy for all. '
            "Afterwards, the rules that decided no case are listed."
        ),
        epilog=(
            "A case file (TOML, JSON or YAML):\n"
            '  policy = "policy.toml"\n'
            "  [[cases]]\n"
            '  name = "small refunds go through"\n'
            '  action = "payments.refund"\n'
            "  args = { amount = 40 }\n"
            '  expect = "allow"            # allow, deny or require_approval\n'
            '  rule = "small-refunds"      # optional\n'
            "  # rules with a limit, and after(...): what came before\n"
            "  usage = { refund-budget = 450 }              # rule id = what its counter holds\n"
            '  prior_calls = [{ action = "lookup_order" }]  # run first (times, ago, approved)\n\n'
            "A rule with a limit is covered when a case reaches its limit. More in the docstring of\n"
            "guardrails.testing.cases.\n\n"
            "Exit codes: 0 every case passed, 1 a case failed (or, with --fail-uncovered, a rule\n"
            "decided no case), 2 usage or input error."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    test.add_argument("cases", nargs="+", metavar="CASES", help="case files")
    test.add_argument(
        "--policy",
        action="append",
        metavar="FILE",
        help="the policy: a file or module:attr (repeat to combine)",
    )
    test.add_argument("--fail-uncovered", action="store_true", help="fail when a rule decided no case")
    test.add_argument("--json", action="store_true", help="print the results as JSON")
    test.set_defaults(run=_test)


def _test(args: argparse.Namespace, out: TextIO) -> int:
    given: Policy | None = load_policy(args.policy) if args.policy else None
    coverage = Coverage()
    results: list[CaseResult] = []
    for path in args.cases:
        cases = load_cases(path)
        policy = given if given is not None else policy_for(cases[0].policies, path)
        label = ", ".join(args.policy) if given is not None else ", ".join(str(p) for p in cases[0].policies)
        for case in cases:
            result = run_case(policy, case)
            coverage.saw(label, policy, result.decision)
            results.append(result)
    missing = coverage.report()
    failed = [r for r in results if not r.passed]
    if args.json:
        print(
            json.dumps(
                {
                    "passed": len(results) - len(failed),
                    "failed": [_failure(r) for r in failed],
                    "uncovered": missing,
                },
                indent=2,
            ),
            file=out,
        )
    else:
        _print(results, missing, out, colour(out), fail_uncovered=args.fail_uncovered)
    return FOUND if failed or (args.fail_uncovered and missing) else OK


def _failure(result: CaseResult) -> dict[str, Any]:
    case: Case = result.case
    return {
        "case": case.name,
        "source": case.source,
        "problem": result.problem,
        "decision": None
        if result.decision is None
        else {
            "effect": result.decision.effect.value,
            "rule": result.decision.rule_id,
            "reason": result.decision.reason,
        },
    }


def _print(
    results: list[CaseResult], missing: dict[str, list[str]], out: TextIO, on: bool, *, fail_uncovered: bool
) -> None:
    for result in results:
        mark = paint("PASS", "pass", on) if result.passed else paint("FAIL", "fail", on)
        print(f"{mark}  {result.case.name}", file=out)
        if not result.passed:
            print(f"      {result.case.source}: {result.problem}", file=out)
            for line in result.explain().splitlines():
                print(f"      {line}", file=out)
    failed = sum(not r.passed for r in results)
    print(f"\n{len(results) - failed} passed, {failed} failed", file=out)
    for label, rules in missing.items():
        print(paint(f"{label}: {len(rules)} rules decided no case: {', '.join(rules)}", "warn", on), file=out)
    if missing and fail_uncovered:
        total = sum(len(rules) for rules in missing.values())
        why = f"--fail-uncovered: {total} rules decided no case (listed above): add cases they decide"
        print(paint(why, "fail", on), file=out)
