"""Matchers that normalise before they compare, and fail closed on what they cannot parse.

Each builder checks its parameters once (``ValueError`` for a bad one) and
returns a test ``value -> bool`` that raises ``KindError`` for a value it
cannot judge. ``Ref`` methods (``arg("path").within(...)``) wrap them in
conditions.
"""

from guardrails.policy.matchers.emails import email_domain_in
from guardrails.policy.matchers.paths import within
from guardrails.policy.matchers.patterns import matches, regex
from guardrails.policy.matchers.shell import shell_command_in
from guardrails.policy.matchers.urls import host_in, normalise_host

__all__ = ["email_domain_in", "host_in", "matches", "normalise_host", "regex", "shell_command_in", "within"]
