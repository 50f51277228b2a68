"""Governed tools for the linter's tests (``--tools lint_tools:TOOLS``)."""

from typing import Any

import guardrails as g


@g.governed("payments.refund")
def refund(order_id: str, amount: float) -> str:
    return order_id


@g.governed("send_email")
def send_email(to: str, subject: str, **headers: Any) -> str:
    return to


def not_governed(x: int) -> int:
    return x


TOOLS = [refund, send_email]


class Files:
    """Tools as methods."""

    @g.governed("files.delete")
    def delete(self, *paths: str) -> int:
        return len(paths)


FILES = Files()
