"""``guardrails explain``, ``check`` and ``schema``: looking at a policy."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO, TypedDict

from guardrails.cli.common import FOUND, OK, colour, json_arg, load_policy, paint
from guardrails.documents.policy import Policy
from guardrails.errors import PolicyError
from guardrails.testing.lint import Finding, Tool, lint, tools_from

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add ``explain``, ``check`` and ``schema``."""
    explain = commands.add_parser(
        "explain",
        help="show how a policy decides one call, rule by rule",
        description=(
            "Judge one call and show every rule considered, matched or not and why "
            "(the condition and the values it saw), then the decision."
        ),
        epilog=(
            "Example:\n"
            "  guardrails explain --policy policy.toml --action payments.refund \\\n"
            '      --args \'{"amount": 5000}\' --context \'{"user": "alice"}\'\n\n'
            "Exit codes: 0 explained, 2 usage or input error."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument("--policy", action="append", required=True, metavar="FILE", help="the policy")
    explain.add_argument("--action", required=True, help="the action called")
    explain.add_argument("--args", default="{}", metavar="JSON", help="its arguments, a JSON object")
    explain.add_argument("--context", default="{}", metavar="JSON", help="its context, a JSON object")
    explain.add_argument("--json", action="store_true", help="print the decision as JSON")
    explain.set_defaults(run=_explain)

    check = commands.add_parser(
        "check",
        help="validate and lint policy files",
        description=(
            "Load each policy (errors name the file and the place) and look for rules that cannot do "
            "what they look like they do: shadowed by an unconditional deny, duplicates, allows wider "
            "than the deny beside them; with --tools, actions no tool has and arguments a tool does "
            "not take."
        ),
        epilog=(
            "--tools takes module:attr (a list or dict of governed functions, or an object holding\n"
            "them) or a module (its governed functions). Example:\n"
            "  guardrails check policy.toml --tools myagent.tools:TOOLS\n\n"
            "Several files are also checked together, as Policy.from_files combines them.\n\n"
            "Exit codes: 0 nothing found, 1 findings (or a policy that does not load), 2 usage error\n"
            "or a file that is not there."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("policies", nargs="+", metavar="POLICY", help="policy files")
    check.add_argument("--tools", action="append", metavar="MODULE[:ATTR]", help="the governed tools")
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.set_defaults(run=_check)

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of policy documents",
        description="Print the JSON Schema of policy documents, for editors and CI validators.",
        epilog=(
            "Example:\n"
            "  guardrails schema > policy.schema.json\n"
            "  # then, at the top of a YAML policy (yaml-language-server):\n"
            "  # yaml-language-server: $schema=./policy.schema.json\n\n"
            "Exit codes: 0 printed."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    schema.set_defaults(run=_schema)


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    policy = load_policy(args.policy)
    decision = policy.evaluate(
        args.action, json_arg(args.args, "--args"), json_arg(args.context, "--context")
    )
    if args.json:
        print(
            json.dumps(
                {
                    "effect": decision.effect.value,
                    "rule": decision.rule_id,
                    "reason": decision.reason,
                    "policy_version": decision.version,
                    "rules": [
                        {
                            "rule": r.rule.id,
                            "effect": r.rule.effect.value,
                            "when": None if r.rule.when is None else repr(r.rule.when),
                            "matched": r.matched,
                            "error": r.error,
                        }
                        for r in decision.results
                    ],
                },
                indent=2,
            ),
            file=out,
        )
        return OK
    text = decision.explain()
    on = colour(out)
    lines = text.splitlines()
    if on and lines:
        lines[-1] = paint(lines[-1], decision.effect.value, on)
    print("\n".join(lines), file=out)
    return OK


class _Result(TypedDict):
    """What ``check`` found in one file, or in the files together."""

    invalid: str | None
    findings: list[dict[str, str]]


def _check(args: argparse.Namespace, out: TextIO) -> int:
    tools = [tool for spec in args.tools for tool in tools_from(spec)] if args.tools else None
    report = _lint_files(args.policies, tools)
    if args.json:
        print(json.dumps(report, indent=2), file=out)
    else:
        _print_report(report, out)
    return FOUND if any(r["invalid"] or r["findings"] for r in report.values()) else OK


def _lint_files(paths: list[str], tools: list[Tool] | None) -> dict[str, _Result]:
    """Each file alone, then (``a + b``) what the files that load give together."""
    report: dict[str, _Result] = {}
    loaded: list[str] = []
    for path in paths:
        report[path] = _lint_file(path, tools)
        if report[path]["invalid"] is None:
            loaded.append(path)
    if len(loaded) > 1:  # what the files do together: clashing ids, one file shadowing another
        alone = {(f["kind"], f["rule_id"]) for path in loaded for f in report[path]["findings"]}
        report[" + ".join(loaded)] = _lint_together(loaded, alone, tools)
    return report


def _lint_file(path: str, tools: list[Tool] | None) -> _Result:
    """One file alone: why it does not load, or what lint finds in it."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no policy file at {path}")
    try:
        policy = Policy.from_file(path)
    except PolicyError as exc:
        return {"invalid": str(exc), "findings": []}
    return {"invalid": None, "findings": [_finding(f) for f in lint(policy, tools)]}


def _lint_together(paths: list[str], alone: set[tuple[str, str]], tools: list[Tool] | None) -> _Result:
    """What the files combined give that none gives alone (``alone``: kind and rule of those)."""
    try:
        combined = Policy.from_files(paths)
    except PolicyError as exc:
        return {"invalid": str(exc), "findings": []}
    extra = [f for f in map(_finding, lint(combined, tools)) if (f["kind"], f["rule_id"]) not in alone]
    return {"invalid": None, "findings": extra}


def _print_report(report: dict[str, _Result], out: TextIO) -> None:
    on = colour(out)
    for path, result in report.items():
        if result["invalid"]:
            print(f"{path}: {paint('invalid: ' + result['invalid'], 'fail', on)}", file=out)
        elif not result["findings"]:
            print(f"{path}: {paint('ok', 'pass', on)}", file=out)
        for finding in result["findings"]:
            text = f"{finding['kind']}: rule {finding['rule_id']!r}: {finding['message']}"
            print(f"{path}: {paint(text, 'fail', on)}", file=out)


def _finding(finding: Finding) -> dict[str, str]:
    return {"kind": finding.kind, "rule_id": finding.rule_id, "message": finding.message}


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    print(json.dumps(Policy.json_schema(), indent=2, sort_keys=True), file=out)
    return OK
