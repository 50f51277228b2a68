"""The runtime: the governor, its setup, the flow of one call and its drivers, limits, the decorator."""

from guardrails.runtime.binding import Binder
from guardrails.runtime.decorator import GovernedFunction, Spec, governed, spec_of
from guardrails.runtime.drivers import HandleDenial, Raised, RunTool, Step, drive_async, drive_sync
from guardrails.runtime.flow import Unbind, blocked_by, call_flow
from guardrails.runtime.governor import Governor, configure, get_governor
from guardrails.runtime.limiter import Limiter, reserve_quickly, settle, token_for
from guardrails.runtime.notes import note, record_output, record_trusted
from guardrails.runtime.setup import Block, Mode, OnDeny, Setup
from guardrails.runtime.watch import Loader, PolicyWatcher

__all__ = [
    "Binder",
    "Block",
    "GovernedFunction",
    "Governor",
    "HandleDenial",
    "Limiter",
    "Loader",
    "Mode",
    "OnDeny",
    "PolicyWatcher",
    "Raised",
    "RunTool",
    "Setup",
    "Spec",
    "Step",
    "Unbind",
    "blocked_by",
    "call_flow",
    "configure",
    "drive_async",
    "drive_sync",
    "get_governor",
    "governed",
    "note",
    "record_output",
    "record_trusted",
    "reserve_quickly",
    "settle",
    "spec_of",
    "token_for",
]
