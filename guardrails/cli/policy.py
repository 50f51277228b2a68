"""``guardrails explain``, ``check`` and ``schema``: looking at a policy."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from guardrails.cli.common import FOUND, OK, colour, json_arg, load_policy, paint
from guardrails.errors import PolicyError
from guardrails.lint import lint, tools_from
from guardrails.policy import Policy

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
            "Exit codes: 0 nothing found, 1 findings (or a policy that does not load), 2 usage error."
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


def _check(args: argparse.Namespace, out: TextIO) -> int:
    tools = [tool for spec in args.tools for tool in tools_from(spec)] if args.tools else None
    report: dict[str, list[str]] = {}
    for path in args.policies:
        try:
            policy = Policy.from_file(path)
        except PolicyError as exc:
            report[path] = [f"invalid: {exc}"]
            continue
        report[path] = [str(finding) for finding in lint(policy, tools)]
    if args.json:
        print(json.dumps(report, indent=2), file=out)
    else:
        on = colour(out)
        for path, findings in report.items():
            if not findings:
                print(f"{path}: {paint('ok', 'pass', on)}", file=out)
            for finding in findings:
                print(f"{path}: {paint(finding, 'fail', on)}", file=out)
    return FOUND if any(report.values()) else OK


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    print(json.dumps(Policy.json_schema(), indent=2, sort_keys=True), file=out)
    return OK
