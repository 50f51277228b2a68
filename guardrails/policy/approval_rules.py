"""How the approvals of one rule are given: timeout, quorum, approvers, memory.

Part of a rule (``require_approval(..., quorum=2, approvers=[...])``), so part
of the pure core: who may approve is decided by the policy, not the approver.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from guardrails._text import show
from guardrails.errors import PolicyError

__all__ = ["DEFAULT_RULES", "ApprovalRules", "person", "same_person"]


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two ids name one person: compared as NFKC, case-folded, stripped text."""
    return a is not None and b is not None and person(a) == person(b)


def person(name: str) -> str:
    """The form of an id that people are compared by (``" Alice"`` is ``"alice"``)."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


@dataclass(frozen=True)
class ApprovalRules:
    """How the approvals of one rule are given (``require_approval(..., timeout=, quorum=,
    approvers=, rememberable=)``).

    ``timeout``: seconds the approver has (else the governor's). ``quorum``: how
    many distinct people must approve (two for a wire transfer). ``approvers``:
    who may (their ids, or a predicate on the id); any approval then needs a
    ``by``. The caller (``ctx('user')``) never approves its own call.
    ``rememberable=False``: "remember for this session" is refused.
    """

    timeout: float | None = None
    quorum: int = 1
    approvers: tuple[str, ...] | Callable[[str], bool] | None = None
    rememberable: bool = True

    def __post_init__(self) -> None:
        if self.timeout is not None and not (
            isinstance(self.timeout, (int, float)) and not isinstance(self.timeout, bool) and self.timeout > 0
        ):
            raise PolicyError(
                f"an approval timeout is a positive number of seconds, got {show(self.timeout)}"
            )
        if type(self.quorum) is not int or self.quorum < 1:
            raise PolicyError(
                f"an approval quorum is a whole number of people from 1, got {show(self.quorum)}"
            )
        approvers = self.approvers
        if approvers is not None and not callable(approvers):
            if isinstance(approvers, str) or not all(isinstance(a, str) and a for a in approvers):
                raise PolicyError(f"approvers are a list of ids or a predicate, got {show(approvers)}")
            object.__setattr__(self, "approvers", tuple(approvers))
        if type(self.rememberable) is not bool:
            raise PolicyError(f"rememberable must be True or False, got {show(self.rememberable)}")

    @property
    def named(self) -> bool:
        """Whether approvals must say who gave them (a quorum or a list of approvers)."""
        return self.quorum > 1 or self.approvers is not None

    def refusal(self, by: str | None, requester: str | None) -> str | None:
        """Why ``by`` may not approve a call of ``requester``; None when they may."""
        if by is None:
            return "an approval must say who gave it (by=...)" if self.named else None
        if same_person(by, requester):
            return f"{by!r} made the call and cannot approve it"
        approvers = self.approvers
        if approvers is None:
            return None
        if callable(approvers):
            try:
                allowed = approvers(by) is True
            except Exception as exc:  # noqa: BLE001 - a failing predicate says no
                return f"the approvers check failed for {by!r} ({type(exc).__name__}: {exc})"
        else:
            allowed = person(by) in {person(a) for a in approvers}
        return None if allowed else f"{by!r} is not one of the approvers of this rule"

    def to_doc(self, *, callables: bool = False) -> dict[str, Any]:
        """The document form: ``{timeout = 60, quorum = 2, approvers = [...], rememberable = false}``.

        A predicate has none (unless ``callables``, for fingerprints: then it is named).
        """
        doc: dict[str, Any] = {}
        if self.timeout is not None:
            doc["timeout"] = self.timeout
        if self.quorum != 1:
            doc["quorum"] = self.quorum
        approvers = self.approvers
        if callable(approvers):
            if not callables:
                raise PolicyError(
                    "approvers given as a predicate are Python code, not data: no document form"
                )
            doc["approvers"] = {"callable": self.fingerprint()}
        elif approvers is not None:
            doc["approvers"] = list(approvers)
        if not self.rememberable:
            doc["rememberable"] = False
        return doc

    def fingerprint(self) -> str:
        """Stable text telling these apart (part of a rule's derived id)."""
        approvers = self.approvers
        named = (
            f"{getattr(approvers, '__module__', '?')}.{getattr(approvers, '__qualname__', type(approvers).__name__)}"
            if callable(approvers)
            else approvers
        )
        return repr((self.timeout, self.quorum, named, self.rememberable))


#: The approval rules of a rule that sets none.
DEFAULT_RULES: Final = ApprovalRules()
