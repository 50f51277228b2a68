"""The runtime: the governor and its setup, the decorator, and the flow of one call.

``Governor`` holds a policy with its hooks, sinks and store as one immutable
``Setup``; ``governed`` puts a tool under one; ``Options`` are what
``Governor(...)``, ``gov.configure(...)`` and ``guardrails.configure(...)``
take. ``PolicyWatcher`` reloads a policy file as it changes; ``spec_of`` tells
what ``@governed`` prepared for a tool. The machinery (the flow, its drivers,
the limiter, what is written to the store) is imported from its module.
"""

from guardrails.runtime.decorator import GovernedFunction, Spec, governed, spec_of
from guardrails.runtime.governor import Governor, configure, get_governor
from guardrails.runtime.setup import Block, Mode, OnDeny, Options, Setup
from guardrails.runtime.watch import PolicyWatcher

__all__ = [
    "Block",
    "GovernedFunction",
    "Governor",
    "Mode",
    "OnDeny",
    "Options",
    "PolicyWatcher",
    "Setup",
    "Spec",
    "configure",
    "get_governor",
    "governed",
    "spec_of",
]
