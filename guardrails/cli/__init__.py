"""The ``guardrails`` command (also ``python -m guardrails``).

    guardrails test CASES... [--policy FILE]   run table-driven policy tests
    guardrails explain --policy FILE --action A --args JSON [--context JSON]
    guardrails check POLICY... [--tools module:attr]
    guardrails replay AUDIT.jsonl --policy NEW
    guardrails schema                          the JSON Schema of policy documents
    guardrails audit verify|show FILE...

Exit codes: 0 all is well, 1 something was found (a failing case, a lint, a
changed decision, a tampered log), 2 the command could not do its job (bad
usage, a file that cannot be read). ``--json`` prints results for CI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from guardrails.audit.records import printable
from guardrails.cli import audit, cases, policy, replay
from guardrails.cli.common import USAGE
from guardrails.errors import GovernanceError, PolicyError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        (args.help_for if hasattr(args, "help_for") else parser).print_help()
        return USAGE
    try:
        return int(args.run(args, sys.stdout))
    except (OSError, GovernanceError, PolicyError, ValueError) as exc:
        print(f"guardrails: {printable(str(exc))}", file=sys.stderr)
        return USAGE
    except Exception as exc:  # noqa: BLE001 - exit 1 would mean "found something"; this is our failure
        print(f"guardrails: unexpected error: {type(exc).__name__}: {printable(str(exc))}", file=sys.stderr)
        return USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="guardrails",
        description="Runtime governance of AI-agent tool calls: test, explain and lint policies; "
        "replay and verify audit logs.",
        epilog="Exit codes: 0 all is well, 1 something was found, 2 usage or input error. "
        "Run 'guardrails COMMAND --help' for each command.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    cases.register(commands)
    policy.register(commands)
    replay.register(commands)
    audit.register(commands)
    return parser
