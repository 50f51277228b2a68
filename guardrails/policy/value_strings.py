"""Every string inside a value, read within a budget: what provenance breaks into tokens.

A tool's output, the texts the user gave and an argument's value can be
anything — dicts, lists, pydantic models, dataclasses, exceptions, bytes,
numbers. ``strings`` walks any of them without recursion (no depth limit to
hit), visits each object once (cycles end), and stops at ``MAX_OUTPUT``
characters: what it could not read in full ends with ``OVERFLOW_MARK``, which
provenance counts as untrusted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections import deque
from collections.abc import Generator, Iterator, Mapping
from decimal import Decimal
from typing import Any

__all__ = ["MAX_OUTPUT", "OVERFLOW_MARK", "strings"]

#: Characters of one tool output that are read; an output with more counts as overflow.
MAX_OUTPUT = 4_000_000

#: Yielded last by ``strings`` when more was there than was read.
OVERFLOW_MARK = "\x00overflow"


def strings(value: Any, budget: int | None = None) -> Iterator[str]:
    """Every string inside ``value`` — dict keys and values, list items, pydantic
    models, dataclasses, object attributes and slots, exceptions' messages — up
    to ``budget`` characters (``MAX_OUTPUT``); then ``OVERFLOW_MARK`` if
    anything could not be read: more text than that, an iterator (reading it
    would consume it), or an object that fails to show itself."""
    # MAX_OUTPUT is read at call time: tests lower it.
    left = MAX_OUTPUT if budget is None else budget
    if type(value) is str and len(value) <= left:  # most arguments: no walk to set up
        yield value
        return
    complete = yield from _walk(value, left)
    if not complete:
        yield OVERFLOW_MARK


def _walk(value: Any, left: int) -> Generator[str, None, bool]:
    """Yield the strings inside ``value`` while they fit in ``left`` characters;
    return whether everything was read."""
    stack: list[Any] = [value]
    seen: dict[int, Any] = {}  # holding each object keeps its id from being reused
    while stack:
        item = _as_text(stack.pop())
        if isinstance(item, str):
            if len(item) > left:
                return False
            yield item
            left -= len(item)
            continue
        if isinstance(item, bool) or item is None or id(item) in seen:
            continue
        if isinstance(item, (int, float, Decimal)):
            text = _number(item)
            if text is None:
                return False
            yield text  # an account number returned as a number is still one
            continue
        seen[id(item)] = item
        children = _readable_children(item)
        if children is None:
            return False
        stack.extend(reversed(children))
    return True


def _as_text(item: Any) -> Any:
    """Bytes (and memory views) as the text they hold; anything else as it is."""
    if isinstance(item, memoryview):
        item = item.tobytes()
    if isinstance(item, (bytes, bytearray)):
        return _decoded(bytes(item))
    return item


def _readable_children(item: Any) -> list[Any] | None:
    """``_children``, or None when reading them fails."""
    try:
        return _children(item)
    except Exception:  # noqa: BLE001 - what cannot be read is not known to be clean
        return None


def _children(item: Any) -> list[Any] | None:
    """What an object holds, to read in turn; None when it cannot be read safely."""
    if isinstance(item, Mapping):
        return [part for pair in item.items() for part in pair]
    if isinstance(item, (list, tuple, set, frozenset, deque)):
        return list(item)
    if isinstance(item, BaseException):
        return [str(item), *item.args]
    if isinstance(item, Iterator) or inspect.isgenerator(item) or inspect.isasyncgen(item):
        return None  # reading it would take it from the caller
    if hasattr(item, "model_dump") and callable(item.model_dump):  # pydantic
        return [item.model_dump()]
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return [getattr(item, f.name) for f in dataclasses.fields(item)]
    if hasattr(item, "getvalue") and callable(item.getvalue):  # StringIO, BytesIO
        return [item.getvalue()]
    return _attributes(item)


def _attributes(item: Any) -> list[Any]:
    """An object's attributes and slots, and what it shows of itself (a UUID, a date, an Enum)."""
    parts: list[Any] = []
    if hasattr(item, "__dict__"):
        parts += list(vars(item).values())
    for name in _slots(type(item)):
        with contextlib.suppress(AttributeError):
            parts.append(getattr(item, name))
    parts.append(str(item))
    return parts


def _slots(kind: type) -> list[str]:
    names: list[str] = []
    for klass in kind.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names += (
            [slots] if isinstance(slots, str) else [n for n in slots if n not in ("__dict__", "__weakref__")]
        )
    return names


def _number(value: int | float | Decimal) -> str | None:
    try:
        return str(value)
    except ValueError:  # an int too long to show: not read
        return None


def _decoded(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8", "replace")
