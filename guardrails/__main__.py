"""``python -m guardrails`` and the ``runtime-guardrails`` command.

The install check runs before the command line is imported: a project that
shares the ``guardrails`` import package may have replaced (or, uninstalled,
deleted) ``guardrails/cli/__init__.py``, and then only a module no other project
ships can still say what is wrong.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Check the installation, then run the command line."""
    from guardrails import _install

    try:
        _install.check()
    except ImportError as exc:  # a broken environment: say so, without a traceback
        print(f"runtime-guardrails: {exc}", file=sys.stderr)
        return 2
    from guardrails.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
