"""``matches(glob)`` and ``regex(pattern)``: text patterns that cannot be made to hang."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from guardrails._text import show
from guardrails.policy.values import KindError

__all__ = ["backtracking_risk", "matches", "regex"]

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
        risk = backtracking_risk(pattern)
        if risk:
            raise ValueError(
                f"regex() pattern {pattern!r} can backtrack for minutes on hostile input ({risk}); "
                "rewrite it, or pass allow_backtracking=True"
            )

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            raise KindError(f"expected a string, got {show(value)}")
        text = str.__str__(value)
        if len(text) > max_length:
            raise KindError(f"expected at most {max_length} characters, got {len(text)}")
        return compiled.fullmatch(text) is not None

    return test


_C = _sre_constants
_REPEATS = tuple(
    getattr(_C, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(_C, name)
)
_ATOMIC = getattr(_C, "ATOMIC_GROUP", None)
_LIMIT = 1000  # most repetitions one repeat may make of another bounded one


def backtracking_risk(pattern: str) -> str | None:
    """Why the compiled ``pattern`` could backtrack for minutes, or None (a heuristic)."""
    return _nested_unbounded(_sre_parse.parse(pattern))


def _nested_unbounded(parsed: Any) -> str | None:
    """Why ``parsed`` can backtrack exponentially (or worse than quadratically), or None.

    A heuristic over the parsed pattern, erring on the side of refusing:
    repetition inside unbounded repetition (``(a+)+``, ``(\\w+\\s?)*``),
    bounded repetition nested past a thousand (``(a{1,1000}){1,1000}``),
    alternatives under repetition that can start alike (``(a|aa)*``,
    ``(?:a|b|ab)*``), and more than two ``.*`` in one pattern (``.*a.*a.*b``).
    Atomic groups, possessive repeats and conditionals are looked inside.
    """
    dots = [0]
    found = _scan(parsed, 1, False, dots)
    if found is None and dots[0] > 2:
        found = f"{dots[0]} unbounded '.*'/'.+' in one pattern"
    return found


def _scan(parsed: Any, multiplicity: int, unbounded: bool, dots: list[int]) -> str | None:
    """The first risk in a parsed (sub)pattern, or None. ``multiplicity``: how many
    times the enclosing repeats may run it; ``unbounded``: whether one of them is
    endless; ``dots`` counts the ``.*`` seen so far."""
    for op, av in parsed:
        scan = _SCANNERS.get(op)
        found = None if scan is None else scan(av, multiplicity, unbounded, dots)
        if found:
            return found
    return None


def _scan_each(parts: Any, multiplicity: int, unbounded: bool, dots: list[int]) -> str | None:
    """The first risk in any of ``parts`` (a conditional's missing branch is None)."""
    for part in parts:
        found = None if part is None else _scan(part, multiplicity, unbounded, dots)
        if found:
            return found
    return None


def _scan_repeat(av: Any, multiplicity: int, unbounded: bool, dots: list[int]) -> str | None:
    _low, high, sub = av
    endless = high == _C.MAXREPEAT
    if endless and len(sub) == 1 and sub[0][0] is _C.ANY:
        dots[0] += 1
    if high > 1 and (unbounded or (multiplicity > 1 and (endless or multiplicity * high > _LIMIT))):
        return "a repetition inside another"
    return _scan(sub, multiplicity * max(high, 1), unbounded or endless, dots)


def _scan_branch(av: Any, multiplicity: int, unbounded: bool, dots: list[int]) -> str | None:
    branches = av[1]
    if unbounded and not _distinct_starts(branches):
        return "alternatives inside a repetition that can match the same text"
    return _scan_each(branches, multiplicity, unbounded, dots)


def _scan_group(av: Any, multiplicity: int, unbounded: bool, dots: list[int]) -> str | None:
    return _scan(av[-1], multiplicity, unbounded, dots)  # (group, add flags, del flags, pattern)


def _scan_atomic(av: Any, multiplicity: int, unbounded: bool, dots: list[int]) -> str | None:
    return _scan(av, multiplicity, unbounded, dots)


def _scan_conditional(av: Any, multiplicity: int, unbounded: bool, dots: list[int]) -> str | None:
    return _scan_each(av[1:], multiplicity, unbounded, dots)  # (group, yes, no or None)


def _scan_assertion(av: Any, multiplicity: int, unbounded: bool, dots: list[int]) -> str | None:
    return _scan(av[1], multiplicity, unbounded, dots)  # (direction, pattern)


#: The opcodes that hold a subpattern, and how each is looked inside; the others
#: (literals, classes, anchors) cannot backtrack by themselves.
_SCANNERS: dict[Any, Callable[[Any, int, bool, list[int]], str | None]] = {
    **dict.fromkeys(_REPEATS, _scan_repeat),
    _C.SUBPATTERN: _scan_group,
    _C.BRANCH: _scan_branch,
    _C.GROUPREF_EXISTS: _scan_conditional,
    _C.ASSERT: _scan_assertion,
    _C.ASSERT_NOT: _scan_assertion,
}
if _ATOMIC is not None:
    _SCANNERS[_ATOMIC] = _scan_atomic


def _distinct_starts(branches: list[Any]) -> bool:
    """True when every alternative starts with its own literal character."""
    starts = []
    for branch in branches:
        if not branch or branch[0][0] is not _C.LITERAL:
            return False
        starts.append(branch[0][1])
    return len(set(starts)) == len(starts)
