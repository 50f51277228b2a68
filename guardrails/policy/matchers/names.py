"""Lists of domain names, checked once, and the test of a name against them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from guardrails._text import show
from guardrails.policy.values import KindError

__all__ = ["listed_names", "name_matcher"]


def listed_names(
    values: Iterable[str], normalise: Callable[[Any], str], matcher: str, noun: str
) -> tuple[str, ...]:
    """``values`` normalised, without repeats; ``ValueError`` naming the bad one."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValueError(f"{matcher}() takes a list of {noun}s, got {show(values)}")
    names = []
    for value in values:
        try:
            names.append(normalise(value))
        except (ValueError, KindError, TypeError) as exc:
            raise ValueError(f"{matcher}(): {show(value)} is not a {noun}: {exc}") from None
    if not names:
        raise ValueError(f"{matcher}() needs at least one {noun}")
    return tuple(dict.fromkeys(names))


def name_matcher(
    names: tuple[str, ...], subdomains: object, matcher: str, has_subdomains: Callable[[str], bool] = bool
) -> Callable[[str], bool]:
    """A test: is a normalised name listed, or (``subdomains``) under a listed one?"""
    if type(subdomains) is not bool:
        raise ValueError(f"{matcher}() subdomains must be True or False, got {show(subdomains)}")
    exact = frozenset(names)
    suffixes = tuple("." + name for name in names if has_subdomains(name)) if subdomains else ()

    def is_listed(name: str) -> bool:
        return name in exact or (bool(suffixes) and name.endswith(suffixes))

    return is_listed
