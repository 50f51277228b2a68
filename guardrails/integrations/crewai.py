"""CrewAI: denials the model can read, without CrewAI retrying them.

    from crewai.tools import tool
    from guardrails.integrations import crewai as gcrew

    gov = g.Governor(policy, on_deny=gcrew.tool_failure)

    @tool                      # the framework's decorator outermost
    @g.governed(governor=gov)  # guardrails' under it: the schema stays the function's
    def refund(order_id: str, amount: float) -> str: ...

``tool_failure`` returns CrewAI's ``ToolFailure`` with the denial's reason
instead of raising: the agent hands its text to the model as the tool's
answer, and records the call as failed (``TaskOutput.tool_failures``, a
``ToolFailureDetectedEvent``). A raised error would not do: on the text
(ReAct) path CrewAI runs a tool that raised again, up to six times, and the
model never sees why. ``tool_failure_policy="raise"`` on the tool, agent,
task or crew stops the run at the first denial instead.

Approvals need nothing of CrewAI: the governor's approver is asked inside
the call, before the tool runs (CrewAI's own ``before_tool_call`` hooks can
block a call, but tell the model no reason, and cannot pause a run).
"""

from __future__ import annotations

import importlib
from typing import Any

from guardrails.integrations import reason
from guardrails.policy.decision import ActionDenied

__all__ = ["tool_failure"]


def tool_failure(denial: ActionDenied) -> Any:
    """An ``on_deny`` hook: return CrewAI's ``ToolFailure`` with the reason the model should read."""
    message = f"Not done: {reason(denial)}"
    # Imported by name: mypy checks this package where CrewAI is not installed.
    failure = getattr(importlib.import_module("crewai.tools"), "ToolFailure", None)
    if failure is None:  # pragma: no cover - CrewAI before ToolFailure: text, which it does not retry
        return message
    return failure(
        message=message, details={"action": denial.call.action, "rule_id": denial.decision.rule_id}
    )
