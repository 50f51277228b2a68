"""``shell_command_in(prefixes)``: one simple command, starting with an allowed argv."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from typing import Any

from guardrails._text import show
from guardrails.policy.values import KindError

__all__ = ["shell_command_in"]

# Outside quotes, each of these makes the shell do more than run one command:
# chain, pipe, redirect, substitute, expand, glob, continue a line, comment.
_UNQUOTED = frozenset("\n\r;&|<>()`$*?[]{}~\\#")
# Inside double quotes the shell still substitutes and escapes.
_DOUBLE_QUOTED = frozenset("$`\\")
_UNQUOTED_SEARCH = re.compile("[" + re.escape("".join(sorted(_UNQUOTED))) + "]")


def shell_command_in(prefixes: Iterable[str]) -> tuple[tuple[str, ...], Callable[[Any], bool]]:
    """Return the prefixes and a test: is a command line one simple command whose
    argv begins with the argv of one of them?"""
    if isinstance(prefixes, str) or not isinstance(prefixes, Iterable):
        raise ValueError(f"shell_command_in() takes a list of commands, got {show(prefixes)}")
    parsed = []
    texts = []
    for prefix in prefixes:
        try:
            argv = _argv(prefix)
        except KindError as exc:
            raise ValueError(f"shell_command_in(): {show(prefix)} is not a plain command: {exc}") from None
        parsed.append(tuple(argv))
        texts.append(prefix)
    if not parsed:
        raise ValueError("shell_command_in() needs at least one command")

    def test(value: Any) -> bool:
        argv = tuple(_argv(value))
        return any(argv[: len(p)] == p for p in parsed)

    return tuple(texts), test


def _argv(value: Any) -> list[str]:
    if not isinstance(value, str):
        raise KindError(f"expected a command line string, got {show(value)}")
    text = str.__str__(value)
    if "\0" in text:
        raise KindError("a NUL byte in the command line")
    if "'" not in text and '"' not in text:
        # No quotes: one search for a metacharacter, then split on the blanks the
        # shell splits on (not every Unicode space, as str.split() would).
        found = _UNQUOTED_SEARCH.search(text)
        if found:
            raise KindError(f"{found.group()!r} makes this more than one simple command")
        argv = [word for word in text.replace("\t", " ").split(" ") if word]
        if not argv:
            raise KindError("an empty command line")
        return argv
    quote = None
    for c in text:
        if quote == "'":
            if c == "'":
                quote = None
        elif quote == '"':
            if c == '"':
                quote = None
            elif c in _DOUBLE_QUOTED:
                raise KindError(f"{c!r} inside double quotes is still expanded by the shell")
        elif c in "'\"":
            quote = c
        elif c in _UNQUOTED:
            raise KindError(f"{c!r} makes this more than one simple command")
    if quote is not None:
        raise KindError("unbalanced quotes")
    try:
        argv = shlex.split(text, posix=True)
    except ValueError as exc:
        raise KindError(f"cannot split the command line: {exc}") from None
    if not argv:
        raise KindError("an empty command line")
    return argv
