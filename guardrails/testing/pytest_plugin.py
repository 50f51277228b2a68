"""The pytest plugin (registered as ``guardrails``; inert unless used).

- Files named ``policy_test_*.toml`` (``.json``, ``.yaml``, ``.yml``) holding
  ``cases`` are case files: each case is a test, with its name as the id (see
  ``guardrails.testing.cases``).
- Fixtures: ``guardrails_governor`` (the default governor, fresh for the test
  and restored after), ``guardrails_audit`` (its captured records) and
  ``guardrails_approver`` (a ``ScriptedApprover`` it asks; it starts with no
  answers: queue them before the calls, ``guardrails_approver.push(True, False)``).
- After the run, the rules that decided none of the cases (and none of the
  ``assert_*`` helpers' calls) are listed; ``--guardrails-fail-uncovered``
  makes them fail the run, and says so at the end of the report. A rule with a
  limit is covered by a case that reaches it (``usage`` or ``prior_calls``).
  Works with pytest-xdist.

It needs pytest 7 or later; with an older pytest it stays out of the way.
"""

import pytest

if getattr(pytest, "version_tuple", (0,)) >= (7, 0):
    from guardrails.testing.fixtures import *  # noqa: F403 - pytest finds hooks and fixtures by name
