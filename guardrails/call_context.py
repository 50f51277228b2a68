"""``context(...)``: who is calling, in which session, for every governed call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType
from typing import Any

from guardrails.call import EMPTY

__all__ = ["context", "current_context"]

_current: ContextVar[Mapping[str, Any]] = ContextVar("guardrails.context", default=EMPTY)
# The tokens of the blocks entered in this thread or task, innermost last. They
# live in a ContextVar too, so one ``context`` object can be entered by several
# threads or tasks at once without one restoring another's values.
_entered: ContextVar[tuple[Token[Mapping[str, Any]], ...]] = ContextVar(
    "guardrails.context.entered", default=()
)


#: ``current_context()``: the context values in effect here (read-only). The
#: variable's own getter, so that reading it costs a governed call nothing more.
current_context: Callable[[], Mapping[str, Any]] = _current.get


class context:  # noqa: N801 - used like a function: ``with context(user="alice")``
    """Set context values for the governed calls made inside the ``with`` block.

    Nested blocks add to and override the outer values, and restore them on
    exit. Values live in a ``contextvars.ContextVar``: each asyncio task and
    each thread sees its own, and a task inherits what was set when it was
    created.
    """

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        self._values = values

    def __enter__(self) -> Mapping[str, Any]:
        merged = MappingProxyType({**_current.get(), **self._values})
        _entered.set((*_entered.get(), _current.set(merged)))
        return merged

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        *outer, token = _entered.get()
        _current.reset(token)
        _entered.set(tuple(outer))

    async def __aenter__(self) -> Mapping[str, Any]:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"context({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"
