"""How guardrails writes values into messages and JSON: bounded, never raising.

``show`` and ``brief`` describe any value for an error message (a hostile
``__repr__`` cannot break or flood it); ``describe_error`` names an exception;
``json_text`` is the compact canonical JSON of records, digests and keys.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from guardrails import _install

# The first module of ours that the subpackages load, and one no other `guardrails`
# project ships: when another project's __init__.py replaced ours (or none is left),
# `import guardrails.policy`, the pytest plugin and the command stop here with a
# message that says so (issue 18). Free when the package is ours.
_install.check_parent()

__all__ = ["brief", "describe_error", "json_text", "show"]


def show(value: Any, limit: int = 60) -> str:
    """Describe a value for an error message: its type and a bounded repr."""
    if value is None:
        return "None"
    if isinstance(value, float) and not math.isfinite(value):
        return f"float {value!r}"
    if isinstance(value, Decimal) and not value.is_finite():
        return f"Decimal {str(value)!r}"
    return f"{type(value).__name__} {brief(value, limit)}"


def brief(value: Any, limit: int = 60) -> str:
    """A repr of ``value`` cut to ``limit`` characters."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not break a message
        text = f"<{type(value).__name__} with a failing repr>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_error(exc: BaseException, limit: int | None = 200) -> str:
    """``Type: message``, the message cut to ``limit`` characters."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the tool's exception
        text = "<message could not be read>"
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _fallback(value: Any) -> Any:
    # Records hold read-only mappings; anything else comes from hand-made records.
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return brief(value, 4096)


def _encoder() -> Callable[[Any], str]:
    # json.dumps builds an encoder on every call, which costs more than encoding
    # a call's arguments; build the C encoder once. Values from a governed call
    # are trees (the recorder made them), so no check for cycles.
    make = getattr(json.encoder, "c_make_encoder", None)
    text = getattr(json.encoder, "c_encode_basestring_ascii", None)
    if make is None or text is None:  # pragma: no cover - Pythons without the C accelerator
        return json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_fallback).encode
    encode = make(None, _fallback, text, None, ":", ",", False, False, False)
    return lambda value: "".join(encode(value, 0))


#: A value as compact JSON (mappings and tuples included).
json_text = _encoder()
