"""``Setup``: the governor's immutable snapshot, read by every call.

Every change to a governor swaps one ``Setup`` for another, so a call sees
the old one or the new one, never half of a change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from guardrails.approvals.request import Approver
from guardrails.audit.recorder import OnAuditError
from guardrails.audit.records import AuditSink
from guardrails.policy.decision import ActionDenied
from guardrails.policy.evaluate import Policy
from guardrails.policy.rules import Rule
from guardrails.state import MemoryStore, Store

__all__ = ["Block", "Mode", "OnDeny", "Setup"]


#: ``(ActionDenied) -> value``: returned to the caller instead of raising.
OnDeny = Callable[[ActionDenied], Any]
Mode = Literal["enforce", "shadow"]
#: Arguments by name back to ``(args, kwargs)`` for the tool (``Binder.unbind``).
Unbind = Callable[[Mapping[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]


@dataclass(frozen=True)
class Block:
    """A kill-switch entry: calls whose action matches ``pattern`` are denied."""

    pattern: str
    regex: re.Pattern[str]
    rule: Rule


@dataclass(frozen=True)
class Setup:
    """Everything one call reads, swapped as a whole so a call never sees half a change."""

    policy: Policy
    approver: Approver | None = None
    on_deny: OnDeny | None = None
    sinks: tuple[AuditSink, ...] = ()
    approval_timeout: float | None = None
    mode: Mode = "enforce"
    on_audit_error: OnAuditError = "deny"
    store: Store = field(default_factory=MemoryStore)
    blocks: tuple[Block, ...] = ()
    #: Seconds a deferred request can be decided and its decision used (None: no end).
    approval_expiry: float | None = 86_400.0
    #: Deferred requests that may wait at once in one session (floods are refused).
    max_pending: int = 10
    #: Actions (compiled globs) whose output is recorded as untrusted unless the tool says.
    untrusted: tuple[re.Pattern[str], ...] = ()
    #: Nothing to record, block or shadow: an allowed call may skip the flow.
    fast: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fast", not self.sinks and not self.blocks and self.mode == "enforce")
