"""The ``runtime-guardrails`` command (also ``python -m guardrails``).

    runtime-guardrails test CASES... [--policy FILE]   run table-driven policy tests
    runtime-guardrails explain --policy FILE --action A --args JSON [--context JSON] [--usage JSON]
    runtime-guardrails check POLICY... [--tools module:attr] [--together] [--strict]
    runtime-guardrails replay AUDIT.jsonl --policy NEW
    runtime-guardrails schema                          the JSON Schema of policy documents
    runtime-guardrails audit verify|show FILE...
    runtime-guardrails --version

Exit codes: 0 all is well, 1 something was found (a failing case, a lint, a
changed decision, a tampered log), 2 the command could not do its job (bad
usage, a file that cannot be read), 3 the input is not what the command judges
or could not be judged in full (not an audit log; calls a replay could not
compare). ``--json`` prints results for CI. Errors are one line on stderr,
never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from guardrails._install import DISTRIBUTION
from guardrails._version import __version__
from guardrails.audit.records import printable
from guardrails.cli import audit, cases, check, policy, replay
from guardrails.cli.common import USAGE
from guardrails.errors import GovernanceError, PolicyError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    prog = program(sys.argv[0] if sys.argv else "")
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        (args.help_for if hasattr(args, "help_for") else parser).print_help()
        return USAGE
    try:
        return int(args.run(args, sys.stdout))
    except BrokenPipeError:  # the reader went away (| head): nothing more to say, nor to flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a command stopped by SIGPIPE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except (OSError, GovernanceError, PolicyError, ValueError, LookupError) as exc:
        print(f"{prog}: {printable(str(exc))}", file=sys.stderr)
        return USAGE
    except Exception as exc:  # noqa: BLE001 - exit 1 would mean "found something"; this is our failure
        print(f"{prog}: unexpected error: {type(exc).__name__}: {printable(str(exc))}", file=sys.stderr)
        return USAGE


def program(argv0: str) -> str:
    """The command's name as it was run: ``runtime-guardrails`` (or an older ``guardrails``
    script), ``python -m guardrails``, else the distribution's command."""
    name = Path(argv0).name
    if name in ("__main__.py", "-m"):
        return "python -m guardrails"
    name = name.removesuffix(".exe")
    return name if name in (DISTRIBUTION, "guardrails") else DISTRIBUTION


def version() -> str:
    """``runtime-guardrails 0.1.0``: the distribution's name and the version that runs."""
    return f"{DISTRIBUTION} {__version__}"


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Runtime governance of AI-agent tool calls: test, explain and lint policies; "
        "replay and verify audit logs.",
        epilog="Exit codes: 0 all is well, 1 something was found, 2 usage or input error, 3 not what "
        f"the command judges or not judged in full. Run '{prog} COMMAND --help' for each command.",
    )
    parser.add_argument("--version", action="version", version=version())
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    cases.register(commands)
    policy.register(commands)
    check.register(commands)
    replay.register(commands)
    audit.register(commands)
    return parser
