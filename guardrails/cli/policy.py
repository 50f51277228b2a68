"""``explain`` and ``schema``: looking at a policy (``check`` is in ``guardrails.cli.check``)."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from guardrails.cli.common import OK, colour, json_arg, json_list, load_policy, paint
from guardrails.documents.policy import Policy
from guardrails.testing.cases import state_from
from guardrails.testing.stateful import Judged, LimitState, judge_with_state, number

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add ``explain`` and ``schema``."""
    explain = commands.add_parser(
        "explain",
        help="show how a policy decides one call, rule by rule",
        description=(
            "Judge one call and show every rule considered, matched or not and why "
            "(the condition and the values it saw), then the decision. Rules with a limit "
            "(rate, budget) show the limit and whether this call stays within it: by default "
            "the call is the first of a fresh store; --usage says what the counters already "
            "hold, --prior-calls which calls came before (for after(...) too)."
        ),
        epilog=(
            "Examples:\n"
            "  runtime-guardrails explain --policy policy.toml --action payments.refund \\\n"
            '      --args \'{"amount": 5000}\' --context \'{"user": "alice"}\'\n'
            "  runtime-guardrails explain --policy policy.toml --action send_email \\\n"
            '      --args \'{"to": "bob@acme.com"}\' --context \'{"user": "alice"}\' --usage \'{"mail-rate": 5}\'\n'
            '  runtime-guardrails explain --policy policy.toml --action send_email --args \'{"to": "x@evil.com"}\' \\\n'
            '      --prior-calls \'[{"action": "read_file", "args": {"path": "/secrets/key"}}]\'\n\n'
            "--usage: rule id -> what its counter holds for this call's key (calls for a rate, the\n"
            "sum of the argument for a budget). --prior-calls: calls as in case files (action,\n"
            "args, context, times, ago, approved; left out: this call's), run oldest first.\n\n"
            "Exit codes: 0 explained, 2 usage or input error."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    explain.add_argument(
        "--policy", action="append", required=True, metavar="FILE", help="the policy (a file, or module:attr)"
    )
    explain.add_argument("--action", required=True, help="the action called")
    explain.add_argument("--args", default="{}", metavar="JSON", help="its arguments, a JSON object")
    explain.add_argument("--context", default="{}", metavar="JSON", help="its context, a JSON object")
    explain.add_argument(
        "--usage", default="{}", metavar="JSON", help="what limits already hold, by rule id: a JSON object"
    )
    explain.add_argument(
        "--prior-calls", default="[]", metavar="JSON", help="the calls before this one: a JSON array"
    )
    explain.add_argument("--json", action="store_true", help="print the decision as JSON")
    explain.set_defaults(run=_explain)

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of policy documents",
        description="Print the JSON Schema of policy documents, for editors and CI validators.",
        epilog=(
            "Example:\n"
            "  runtime-guardrails schema > policy.schema.json\n"
            "  # then, at the top of a YAML policy (yaml-language-server):\n"
            "  # yaml-language-server: $schema=./policy.schema.json\n\n"
            "Exit codes: 0 printed."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    schema.set_defaults(run=_schema)


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    policy = load_policy(args.policy)
    call_args, context = json_arg(args.args, "--args"), json_arg(args.context, "--context")
    state = {
        "usage": json_arg(args.usage, "--usage"),
        "prior_calls": json_list(args.prior_calls, "--prior-calls"),
    }
    usage, prior_calls = state_from(state, args.action, call_args, context, "explain")
    judged = judge_with_state(policy, args.action, call_args, context, usage, prior_calls)
    if args.json:
        print(json.dumps(_as_json(judged), indent=2), file=out)
        return OK
    lines = judged.explain().splitlines()
    on = colour(out)
    if judged.limits and not (usage or prior_calls):
        lines.insert(
            -1,
            "  (limits judged as for the first call in a fresh store: --usage or --prior-calls "
            "say what came before)",
        )
    if on and lines:
        lines[-1] = paint(lines[-1], judged.decision.effect.value, on)
    print("\n".join(lines), file=out)
    return OK


def _as_json(judged: Judged) -> dict[str, Any]:
    decision = judged.decision
    limits = {state.rule.id: state for state in judged.limits}
    return {
        "effect": decision.effect.value,
        "rule": decision.rule_id,
        "reason": decision.reason,
        "policy_version": decision.version,
        "rules": [
            {
                "rule": r.rule.id,
                "effect": r.rule.effect.value,
                "when": None if r.rule.when is None else repr(r.rule.when),
                "limit": _limit_json(limits.get(r.rule.id)),
                "matched": r.matched,
                "error": r.error,
            }
            for r in decision.results
        ],
    }


def _limit_json(state: LimitState | None) -> dict[str, Any] | None:
    if state is None or state.rule.limit is None:
        return None
    return {
        "limit": state.rule.limit.describe(),
        "maximum": number(state.rule.limit.maximum),
        "used": None if state.used is None else number(state.used),
        "amount": None if state.amount is None else number(state.amount),
        "over": state.over,
        "why": state.why,
    }


def _schema(args: argparse.Namespace, out: TextIO) -> int:
    print(json.dumps(Policy.json_schema(), indent=2, sort_keys=True), file=out)
    return OK
