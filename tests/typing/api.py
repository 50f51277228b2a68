"""Checked by mypy, never run: the public API keeps the types of governed tools.

Each ``# type: ignore[...]`` below marks a call mypy must reject; with
``warn_unused_ignores`` (strict), a governed tool that lost its parameter
types would make that ignore unused, and mypy fail.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from typing_extensions import assert_type

import guardrails as g

gov = g.Governor(g.Policy([g.allow("*")]))


@g.governed
def send_email(to: str, subject: str, body: str = "") -> str:
    return to


@g.governed("payments.refund", governor=gov)
def refund(order_id: str, amount: float) -> str:
    return order_id


@g.governed(action="fetch", governor=gov)
async def fetch(url: str) -> bytes:
    return b""


assert_type(send_email("a@acme.com", "hi"), str)
assert_type(refund("o-1", 20.0), str)
pending: Coroutine[Any, Any, bytes] = fetch("https://acme.com")


async def use_fetch() -> None:
    assert_type(await fetch("https://acme.com"), bytes)
    await fetch(b"https://acme.com")  # type: ignore[arg-type]


as_callable: Callable[[str, float], str] = refund

refund("o-1", "twenty")  # type: ignore[arg-type]
refund("o-1")  # type: ignore[call-arg]
send_email(to=1, subject="x")  # type: ignore[arg-type]
wrong: Callable[[int], str] = refund  # type: ignore[assignment]


class Shop:
    @g.governed(governor=gov)
    def refund(self, amount: float) -> float:
        return amount


assert_type(Shop().refund(2.0), float)
Shop().refund("2")  # type: ignore[arg-type]

decision = gov.check("payments.refund", {"amount": 5})
assert_type(decision.effect, g.Effect)
assert_type(decision.allowed, bool)
assert_type(decision.rule_id, str)
assert_type(decision.reason, str)

condition: g.policy.Condition = (g.arg("amount") > 100) & ~g.ctx("role").in_(["admin"])
rule: g.Rule = g.require_approval("payments.refund", when=condition, reason="big", id="r1")
policy: g.Policy = g.Policy([rule], default=g.Effect.DENY)


def approver(request: g.ApprovalRequest) -> g.ApprovalResponse:
    return g.ApprovalResponse(approved=request.args["amount"] < 1000, by="bot")


async def async_approver(request: g.ApprovalRequest) -> bool:
    return True


def on_deny(denial: g.ActionDenied) -> str:
    return denial.decision.reason


g.configure(policy=policy, approver=approver, on_deny=on_deny, audit=g.MemoryAudit())
g.Governor(policy, approver=async_approver, audit=[g.MemoryAudit(), print])
