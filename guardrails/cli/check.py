"""``check``: validate and lint policies, each on its own (``--together``: also combined)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO, TypedDict

from guardrails.cli.common import FOUND, OK, colour, paint
from guardrails.documents.policy import Policy
from guardrails.errors import PolicyError
from guardrails.policy.evaluate import Policy as CorePolicy
from guardrails.testing.imports import is_spec, policy_from_spec
from guardrails.testing.lint import Finding, Tool, lint, tools_from

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add ``check``."""
    check = commands.add_parser(
        "check",
        help="validate and lint policies",
        description=(
            "Load each policy (errors name the file and the place) and look for rules that cannot do "
            "what they look like they do: shadowed by an unconditional deny, duplicates, allows wider "
            "than the deny beside them; with --tools, actions no tool has and arguments a tool does "
            "not take. Warnings point at policies probably wider than meant: a deny-list of shell "
            "commands (shell_command_in on a deny rule), a policy with no rules."
        ),
        epilog=(
            "POLICY is a file (.toml, .json, .yaml) or module:attr naming a guardrails Policy, or a\n"
            "function returning one (imported with the current directory on sys.path).\n"
            "Each is checked on its own; --together also checks them combined, as\n"
            "Policy.from_files combines files (clashing ids, one file shadowing another).\n\n"
            "--tools takes module:attr (a list or dict of governed functions, or an object holding\n"
            "them) or a module (its governed functions). Examples:\n"
            "  runtime-guardrails check policy.toml --tools myagent.tools:TOOLS\n"
            "  runtime-guardrails check base.toml team.toml --together\n"
            "  runtime-guardrails check myagent.policy:build_policy\n\n"
            "Exit codes: 0 nothing found, or warnings only (with --strict warnings give 1),\n"
            "1 findings (or a policy that does not load), 2 usage error or a file or module that\n"
            "is not there."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("policies", nargs="+", metavar="POLICY", help="policy files, or module:attr")
    check.add_argument("--tools", action="append", metavar="MODULE[:ATTR]", help="the governed tools")
    check.add_argument("--together", action="store_true", help="also check the policies combined into one")
    check.add_argument("--strict", action="store_true", help="warnings fail the check too (exit 1)")
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.set_defaults(run=_check)


class _Result(TypedDict):
    """What ``check`` found in one policy, or in the policies together."""

    invalid: str | None
    findings: list[dict[str, str]]


def _check(args: argparse.Namespace, out: TextIO) -> int:
    tools = [tool for spec in args.tools for tool in tools_from(spec)] if args.tools else None
    report = _lint_all(args.policies, tools, together=args.together)
    if args.json:
        print(json.dumps(report, indent=2), file=out)
    else:
        _print_report(report, out, strict=args.strict)
    if len(args.policies) > 1 and not args.together:
        print(ALONE, file=sys.stderr if args.json else out)  # --json: stdout stays one JSON document
    findings = [f for result in report.values() for f in result["findings"]]
    failing = any(r["invalid"] for r in report.values()) or any(f["severity"] == "error" for f in findings)
    return FOUND if failing or (args.strict and findings) else OK


#: Said when several policies were checked each on its own.
ALONE = (
    "note: checked each policy on its own; to check them as one policy (as Policy.from_files "
    "loads them: clashing ids, one file's rule shadowing another's) pass --together"
)


def _lint_all(names: list[str], tools: list[Tool] | None, *, together: bool) -> dict[str, _Result]:
    """Each policy alone; with ``together``, then (``a + b``) what those that load give combined.
    Each policy is loaded once: a function building one is called once."""
    report: dict[str, _Result] = {}
    loaded: dict[str, CorePolicy] = {}
    for name in names:
        try:
            loaded[name] = _load(name)
        except PolicyError as exc:
            report[name] = {"invalid": str(exc), "findings": []}
            continue
        report[name] = {"invalid": None, "findings": [_finding(f) for f in lint(loaded[name], tools)]}
    if together and len(loaded) > 1:
        alone = {(f["kind"], f["rule_id"]) for name in loaded for f in report[name]["findings"]}
        report[" + ".join(loaded)] = _lint_together(loaded, alone, tools)
    return report


def _load(name: str) -> CorePolicy:
    """The policy a file or ``module:attr`` names. Raises ``FileNotFoundError`` or
    ``ImportFailed`` when it is not there (``CodeExited`` when its code exits),
    ``PolicyError`` when it does not load."""
    if is_spec(name):
        return policy_from_spec(name)
    if not Path(name).is_file():
        raise FileNotFoundError(f"no policy file at {name}")
    return Policy.from_file(name)


def _lint_together(
    loaded: dict[str, CorePolicy], alone: set[tuple[str, str]], tools: list[Tool] | None
) -> _Result:
    """What the policies combined give that none gives alone (``alone``: kind and rule of
    those). Files are combined as ``Policy.from_files`` combines them; policies named by
    ``module:attr`` are the ones already loaded."""
    files = [name for name in loaded if not is_spec(name)]
    try:
        parts: list[CorePolicy] = [Policy.from_files(files)] if files else []
        parts += [policy for name, policy in loaded.items() if is_spec(name)]
        combined = parts[0]
        for part in parts[1:]:
            combined = combined + part
    except PolicyError as exc:
        return {"invalid": str(exc), "findings": []}
    extra = [f for f in map(_finding, lint(combined, tools)) if (f["kind"], f["rule_id"]) not in alone]
    return {"invalid": None, "findings": extra}


def _print_report(report: dict[str, _Result], out: TextIO, *, strict: bool) -> None:
    on = colour(out)
    warnings = 0
    for name, result in report.items():
        if result["invalid"]:
            print(f"{name}: {paint('invalid: ' + result['invalid'], 'fail', on)}", file=out)
        elif not result["findings"]:
            print(f"{name}: {paint('ok', 'pass', on)}", file=out)
        for finding in result["findings"]:
            where = f"rule {finding['rule_id']!r}: " if finding["rule_id"] else ""
            text = f"{finding['kind']}: {where}{finding['message']}"
            if finding["severity"] == "warning":
                warnings += 1
                print(f"{name}: {paint('warning: ' + text, 'warn', on)}", file=out)
            else:
                print(f"{name}: {paint(text, 'fail', on)}", file=out)
    if warnings and not strict:
        print(f"{warnings} warning(s): they do not fail the check (--strict makes them)", file=out)


def _finding(finding: Finding) -> dict[str, str]:
    return {
        "kind": finding.kind,
        "rule_id": finding.rule_id,
        "message": finding.message,
        "severity": finding.severity,
    }
