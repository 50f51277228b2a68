"""Built-in approvers: refuse everything, approve everything, decide later, ask in
a terminal, or try several in turn.

    g.Governor(policy, approver=g.ConsoleApprover())
    g.Governor(policy, approver=g.chain(auto_approve_small, g.DeferredApprover()))
"""

from __future__ import annotations

import getpass
import inspect
import json
import sys
from collections.abc import Callable, Mapping
from typing import IO, Any

from guardrails._text import brief
from guardrails.approvals.request import PENDING, Answer, ApprovalRequest, ApprovalResponse, Approver, Pending

__all__ = ["ConsoleApprover", "DeferredApprover", "StaticApprover", "allow_all", "chain", "deny_all"]


class StaticApprover:
    """Answers every request the same way (for tests and scripts)."""

    def __init__(self, approved: bool, *, by: str | None = None, reason: str | None = None) -> None:
        self.response = ApprovalResponse(approved, by=by, reason=reason)

    def __call__(self, request: ApprovalRequest) -> ApprovalResponse:
        return self.response

    def __repr__(self) -> str:
        return f"StaticApprover({self.response.approved!r}, by={self.response.by!r})"


#: Refuses every request — what a governor without an approver does.
deny_all = StaticApprover(False, by="deny_all", reason="every request is refused")
#: Approves every request: for tests, never for production.
allow_all = StaticApprover(True, by="allow_all")


class DeferredApprover:
    """Answers ``PENDING`` to every request: a person decides later through
    ``gov.approvals``. ``notify`` (optional) is told of each new request — post it
    to a chat, open a ticket; if it raises, the request is refused."""

    def __init__(self, notify: Callable[[ApprovalRequest], object] | None = None) -> None:
        self.notify = notify

    def __call__(self, request: ApprovalRequest) -> Pending:
        if self.notify is not None:
            self.notify(request)
        return PENDING

    def __repr__(self) -> str:
        return (
            "DeferredApprover()" if self.notify is None else f"DeferredApprover(notify={brief(self.notify)})"
        )


def chain(*approvers: Callable[[ApprovalRequest], Any]) -> Approver:
    """Ask each approver in turn; the first that answers (anything but None) decides.

    Nobody answering refuses. Async approvers may take part when the tool is async.
    """
    if not approvers or not all(callable(a) for a in approvers):
        raise TypeError("chain() takes one or more approvers")
    return Chain(approvers)


class Chain:
    """The approver ``chain(...)`` makes."""

    __slots__ = ("approvers",)

    def __init__(self, approvers: tuple[Callable[[ApprovalRequest], Any], ...]) -> None:
        self.approvers = approvers

    def __call__(self, request: ApprovalRequest) -> Any:
        approvers = self.approvers
        for i, approver in enumerate(approvers):
            answer = approver(request)
            if inspect.isawaitable(answer):
                return _Awaiting(answer, _rest(answer, approvers[i + 1 :], request))
            if answer is not None:
                return answer
        return _NOBODY

    def __repr__(self) -> str:
        return f"chain({', '.join(brief(a, 40) for a in self.approvers)})"


async def _rest(
    first: Any, rest: tuple[Callable[[ApprovalRequest], Any], ...], request: ApprovalRequest
) -> Any:
    answer = await first
    for approver in rest:
        if answer is not None:
            return answer
        answer = approver(request)
        if inspect.isawaitable(answer):
            answer = await answer
    return _NOBODY if answer is None else answer


_NOBODY = ApprovalResponse(False, reason="no approver in the chain answered")


class _Awaiting:
    """The rest of a chain once an approver answered with an awaitable. Closing
    it unawaited (a sync tool cannot wait) closes that answer too."""

    def __init__(self, first: Any, rest: Any) -> None:
        self.first, self.rest = first, rest

    def __await__(self) -> Any:
        return self.rest.__await__()

    def close(self) -> None:
        self.rest.close()
        close = getattr(self.first, "close", None)
        if close is not None:
            close()


class ConsoleApprover:
    """Asks a person at a terminal: shows the action, its arguments, the rule and
    the reason, and reads ``y`` (approve), ``s`` (approve for the rest of the
    session), ``n`` (refuse) or ``e`` (edit arguments, then approve).

    Edits are ``name=value`` lines (values as JSON, else text), ended by an
    empty line; the changed call is judged by the policy again. End of input
    refuses. ``by`` names the person (the login name unless given). It blocks
    while it waits: in an async program, an async tool calling it blocks the
    event loop.
    """

    def __init__(
        self,
        *,
        by: str | None = None,
        input: IO[str] | None = None,  # noqa: A002 - the stream it reads, as print() calls it
        output: IO[str] | None = None,
        width: int = 200,
    ) -> None:
        self.by = by
        self.input = input
        self.output = output
        self.width = width

    def __call__(self, request: ApprovalRequest) -> Answer:
        stdin = self.input or sys.stdin
        out = self.output or sys.stdout
        by = self.by or _login()
        self._show(request, out)
        answer = None
        while answer is None:
            print("approve? [y]es / [s]ession / [n]o / [e]dit: ", end="", file=out, flush=True)
            answer = self._answer(stdin.readline(), by, request, stdin, out)
        return answer

    def _show(self, request: ApprovalRequest, out: IO[str]) -> None:
        print(f"\napproval needed: {request.action}", file=out)
        for name, value in request.args.items():
            print(f"  {name} = {brief(value, self.width)}", file=out)
        print(f"  rule: {request.rule_id}", file=out)
        print(f"  reason: {request.reason}", file=out)
        if request.quorum > 1:
            done = ", ".join(a.by or "?" for a in request.approvals) or "nobody yet"
            print(f"  needs {request.quorum} approvers (so far: {done})", file=out)

    def _answer(
        self, line: str, by: str, request: ApprovalRequest, stdin: IO[str], out: IO[str]
    ) -> ApprovalResponse | None:
        """What a line typed at the prompt answers; None: ask again."""
        if not line:
            print("", file=out)
            return ApprovalResponse(False, by=by, reason="no answer (end of input)")
        choice = line.strip().lower()
        if choice in ("y", "yes"):
            return ApprovalResponse(True, by=by)
        if choice in ("s", "session"):
            return ApprovalResponse(True, by=by, remember="action")
        if choice in ("n", "no"):
            return ApprovalResponse(False, by=by, reason="refused at the console")
        if choice in ("e", "edit"):
            changes = self._edits(request.args, stdin, out)
            if changes is not None:
                return ApprovalResponse(True, by=by, reason="approved with changes", args=changes)
            return None
        print(f"  {choice!r}: answer y, s, n or e", file=out)
        return None

    def _edits(self, args: Mapping[str, Any], stdin: IO[str], out: IO[str]) -> dict[str, Any] | None:
        print("  name=value per line, an empty line to finish:", file=out)
        changes: dict[str, Any] = {}
        while True:
            print("  > ", end="", file=out, flush=True)
            line = stdin.readline()
            if not line or not line.strip():
                break
            name, sep, text = line.strip().partition("=")
            name = name.strip()
            if not sep or name not in args:
                print(f"  no argument {name!r}: one of {', '.join(args)}", file=out)
                continue
            try:
                changes[name] = json.loads(text)
            except ValueError:
                changes[name] = text.strip()
        if not changes:
            print("  nothing changed", file=out)
            return None
        return changes

    def __repr__(self) -> str:
        return "ConsoleApprover()" if self.by is None else f"ConsoleApprover(by={self.by!r})"


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name: still say it was the console
        return "console"
