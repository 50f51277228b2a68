"""``python -m guardrails``: the same as the ``guardrails`` command."""

import sys

from guardrails.cli import main

sys.exit(main())
