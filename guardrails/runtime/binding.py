"""Bind a call's arguments by name, compiled once per function.

``inspect.Signature.bind`` costs microseconds per call. Instead, when a
function is governed we compile a twin with the same parameter list (the same
default objects, no body but ``return {names...}``) and let the interpreter
bind: positional, keyword and default values land under the same names, and
a wrong call raises the same ``TypeError`` Python would, before the tool runs.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Binder"]

_P = inspect.Parameter


class Binder:
    """Turns ``(args, kwargs)`` into ``{name: value}`` with defaults applied.

    ``*args`` is bound under its own name as a tuple; keyword arguments
    collected by ``**kwargs`` are bound under their own names, so a policy
    can name them like any other argument (a named parameter wins a clash).
    """

    __slots__ = ("signature", "bind_function")

    def __init__(self, signature: inspect.Signature, name: str = "tool", qualname: str | None = None) -> None:
        self.signature = signature
        self.bind_function = _compile(signature, name, qualname or name)

    @classmethod
    def for_function(cls, func: Callable[..., Any], *, skip_first: bool = False) -> Binder:
        """Compile a binder for ``func``; ``skip_first`` drops ``self``/``cls``."""
        signature = inspect.signature(func)
        if skip_first:
            signature = signature.replace(parameters=list(signature.parameters.values())[1:])
        name = getattr(func, "__name__", "tool")
        return cls(signature, name, getattr(func, "__qualname__", name))

    def __call__(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Bind like Python would; raise ``TypeError`` as Python would."""
        result: dict[str, Any] = self.bind_function(*args, **kwargs)
        return result

    def unbind(self, bound: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The ``(args, kwargs)`` that bind to ``bound`` (to call the tool with changed arguments)."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        named = set()
        for p in self.signature.parameters.values():
            named.add(p.name)
            if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD):
                args.append(bound[p.name])
            elif p.kind is _P.VAR_POSITIONAL:
                args.extend(bound[p.name])
            elif p.kind is _P.KEYWORD_ONLY:
                kwargs[p.name] = bound[p.name]
        kwargs.update((name, value) for name, value in bound.items() if name not in named)  # **kwargs
        return tuple(args), kwargs


def _compile(signature: inspect.Signature, name: str, qualname: str) -> Callable[..., dict[str, Any]]:
    namespace: dict[str, Any] = {}
    params: list[str] = []
    items: list[str] = []
    var_keyword = None
    star_done = False
    for i, p in enumerate(signature.parameters.values()):
        if not p.name.isidentifier() or keyword.iskeyword(p.name):  # pragma: no cover - not a real function
            raise ValueError(f"parameter name {p.name!r} is not an identifier")
        text = p.name
        if p.default is not _P.empty:
            namespace[f"__default_{i}"] = p.default
            text += f"=__default_{i}"
        if p.kind is _P.VAR_POSITIONAL:
            text, star_done = f"*{p.name}", True
        elif p.kind is _P.VAR_KEYWORD:
            text, var_keyword = f"**{p.name}", p.name
        elif p.kind is _P.KEYWORD_ONLY and not star_done:
            params.append("*")
            star_done = True
        params.append(text)
        if p.kind is not _P.VAR_KEYWORD:
            items.append(f"{p.name!r}: {p.name}")
        if p.kind is _P.POSITIONAL_ONLY and not _next_is_positional_only(signature, i):
            params.append("/")
    body = "{" + (f"**{var_keyword}, " if var_keyword else "") + ", ".join(items) + "}"
    func_name = name if name.isidentifier() and not keyword.iskeyword(name) else "tool"
    source = f"def {func_name}({', '.join(params)}):\n    return {body}\n"
    exec(source, namespace)
    bind: Callable[..., dict[str, Any]] = namespace[func_name]
    bind.__qualname__ = qualname
    return bind


def _next_is_positional_only(signature: inspect.Signature, i: int) -> bool:
    params = list(signature.parameters.values())
    return i + 1 < len(params) and params[i + 1].kind is _P.POSITIONAL_ONLY
