"""``matches(glob)`` and ``regex(pattern)``: text patterns that cannot be made to hang."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from guardrails.values import KindError, show

__all__ = ["matches", "regex"]

if sys.version_info >= (3, 11):  # the parser moved in Python 3.11
    import re._constants as _sre_constants
    import re._parser as _sre_parse
else:  # pragma: no cover
    import sre_constants as _sre_constants
    import sre_parse as _sre_parse

DEFAULT_MAX_LENGTH = 10_000


def matches(glob: str) -> Callable[[Any], bool]:
    """A case-sensitive full-match glob: ``*`` stops at ``/``, ``**`` crosses it, ``?`` is one character.

    Matched by a bit-parallel automaton in time linear in the value: a
    backtracking regex would take exponential time on ``*a*a*a*a*b`` against
    ``aaaa...a`` (the flaw CPython's fnmatch had, bpo-40480).
    """
    if not isinstance(glob, str) or not glob or "\0" in glob:
        raise ValueError(f"matches() takes a non-empty glob, got {show(glob)}")
    tokens: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**", i):
            tokens.append("**")
            i += 2
            while glob.startswith("*", i):  # *** is **
                i += 1
        else:
            tokens.append(glob[i])
            i += 1
    literal: dict[str, int] = {}
    one = star = cross = 0
    for bit, token in enumerate(tokens):
        if token == "**":
            cross |= 1 << bit
        elif token == "*":
            star |= 1 << bit
        elif token == "?":
            one |= 1 << bit
        else:
            literal[token] = literal.get(token, 0) | 1 << bit
    stars = star | cross
    accept = 1 << len(tokens)

    def closure(states: int) -> int:
        # A star may match nothing: being at a star is also being just past it.
        while True:
            grown = states | (states & stars) << 1
            if grown == states:
                return states
            states = grown

    start = closure(1)

    def test(value: Any) -> bool:
        if not isinstance(value, str) or "\0" in value:
            raise KindError(f"expected a string without NUL bytes, got {show(value)}")
        states = start
        for c in str.__str__(value):
            if c == "/":
                states = closure((states & literal.get(c, 0)) << 1 | states & cross)
            else:
                states = closure((states & (literal.get(c, 0) | one)) << 1 | states & stars)
            if not states:
                return False
        return bool(states & accept)

    return test


def regex(
    pattern: str, *, allow_backtracking: bool = False, max_length: int = DEFAULT_MAX_LENGTH
) -> Callable[[Any], bool]:
    """A full match of ``pattern``, compiled now; nested unbounded repetition is refused."""
    if not isinstance(pattern, str):
        raise ValueError(f"regex() takes a pattern string, got {show(pattern)}")
    if not (isinstance(max_length, int) and not isinstance(max_length, bool) and max_length > 0):
        raise ValueError(f"regex() max_length must be a positive int, got {show(max_length)}")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"regex() pattern {pattern!r} does not compile: {exc}") from None
    if not allow_backtracking:
        nested = _nested_unbounded(_sre_parse.parse(pattern))
        if nested:
            raise ValueError(
                f"regex() pattern {pattern!r} repeats an unbounded repetition ({nested}), which can take "
                "exponential time on hostile input; rewrite it, or pass allow_backtracking=True"
            )

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            raise KindError(f"expected a string, got {show(value)}")
        if len(value) > max_length:
            raise KindError(f"expected at most {max_length} characters, got {len(value)}")
        return compiled.fullmatch(str.__str__(value)) is not None

    return test


_REPEATS = (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT)
_UNBOUNDED = _sre_constants.MAXREPEAT


def _nested_unbounded(parsed: Any, inside_unbounded: bool = False) -> str | None:
    """Find an unbounded repeat inside another one: (a+)+, (a*)*, (x|y+)*..."""
    for op, av in parsed:
        if op in _REPEATS:
            _low, high, sub = av
            unbounded = high is _UNBOUNDED or high == _UNBOUNDED
            if unbounded and inside_unbounded:
                return "a '+', '*' or '{n,}' inside another"
            found = _nested_unbounded(sub, inside_unbounded or unbounded)
            if found:
                return found
        elif op is _sre_constants.SUBPATTERN:
            found = _nested_unbounded(av[-1], inside_unbounded)
            if found:
                return found
        elif op is _sre_constants.BRANCH:
            for branch in av[1]:
                found = _nested_unbounded(branch, inside_unbounded)
                if found:
                    return found
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            found = _nested_unbounded(av[1], inside_unbounded)
            if found:
                return found
    return None
