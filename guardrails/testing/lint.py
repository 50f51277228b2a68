"""``guardrails check``: rules that cannot do what they look like they do.

Each finding names the rule, what is wrong, and how sure we are:

- ``shadowed`` — a rule that can never decide: an unconditional deny (or
  require_approval, for an allow) covers every call it would match;
- ``duplicate`` — the same action, effect and condition as an earlier rule;
- ``unknown-action`` — with a tool registry: no governed tool has the action;
- ``wide-allow`` — an allow on a pattern wider than the conditional deny
  beside it: the deny bounds one action, the allow lets every other through;
- ``unknown-argument`` — with a tool registry: a condition names an argument
  the tool does not have (it would fail closed on every call).
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from guardrails.policy.conditions import AllOf, AnyOf, Condition, Not
from guardrails.policy.evaluate import Policy
from guardrails.policy.refs import ArgRef, Compare, Matcher
from guardrails.policy.rules import PRECEDENCE, Effect, Rule
from guardrails.runtime.decorator import spec_of

__all__ = ["Finding", "Tool", "lint", "tools_from"]

Kind = Literal["shadowed", "duplicate", "unknown-action", "wide-allow", "unknown-argument"]


@dataclass(frozen=True)
class Finding:
    """Something a policy's author should look at."""

    kind: Kind
    rule_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: rule {self.rule_id!r}: {self.message}"


@dataclass(frozen=True)
class Tool:
    """A governed tool as the linter sees it: its action and its parameters."""

    action: str
    parameters: frozenset[str]
    takes_any: bool = False  # **kwargs: any argument name may come


def lint(policy: Policy, tools: Iterable[Tool] | None = None) -> list[Finding]:
    """Every finding for ``policy``; with ``tools``, also those needing the tool registry."""
    findings: list[Finding] = []
    rules = list(policy.rules)
    findings += _shadowed(rules)
    findings += _duplicates(rules)
    findings += _wide_allows(rules)
    if tools is not None:
        registry = {tool.action: tool for tool in tools}
        findings += _unknown_actions(rules, registry)
        findings += _unknown_arguments(rules, registry)
    return findings


def _covers(wide: str, narrow: str) -> bool:
    """Whether glob ``wide`` matches every action glob ``narrow`` matches (conservatively)."""
    if wide == narrow or wide == "*":
        return True
    if not any(c in narrow for c in "*?["):
        return fnmatch.fnmatchcase(narrow, wide)
    prefix = wide[:-1]
    return wide.endswith("*") and not any(c in prefix for c in "*?[") and narrow.startswith(prefix)


def _wins_over(other: Rule, rule: Rule) -> bool:
    """Whether ``other`` is judged first when both match: precedence, then id."""
    return (PRECEDENCE[other.effect], other.id) < (PRECEDENCE[rule.effect], rule.id)


def _shadowed(rules: list[Rule]) -> Iterator[Finding]:
    for rule in rules:
        if rule.shadow:
            continue
        for other in rules:
            if (
                other is not rule
                and not other.shadow
                and other.when is None
                and other.limit is None  # a limited rule applies only past its limit
                and _wins_over(other, rule)
                and _covers(other.action, rule.action)
                and _key(other) != _key(rule)  # that is a duplicate, reported as such
            ):
                why = (
                    "wins"
                    if other.effect is not rule.effect
                    else "wins (same effect, and its id sorts first)"
                )
                yield Finding(
                    "shadowed",
                    rule.id,
                    f"can never decide: rule {other.id!r} ({other.effect.value} {other.action!r}, "
                    f"no condition) matches every call this one does, and {why}",
                )
                break


def _key(rule: Rule) -> tuple[str, Effect, str, bool]:
    condition = "" if rule.when is None else rule.when.fingerprint()
    if rule.limit is not None:
        condition += " limit " + rule.limit.fingerprint()
    return (rule.action, rule.effect, condition, rule.shadow)


def _duplicates(rules: list[Rule]) -> Iterator[Finding]:
    groups: dict[tuple[str, Effect, str, bool], list[Rule]] = {}
    for rule in rules:
        groups.setdefault(_key(rule), []).append(rule)
    for group in groups.values():
        winner = min(group, key=lambda r: r.id)  # the one that decides: ids break ties
        for rule in group:
            if rule is not winner:
                yield Finding(
                    "duplicate",
                    rule.id,
                    f"the same action, effect and condition as rule {winner.id!r}, which decides",
                )


def _wide_allows(rules: list[Rule]) -> Iterator[Finding]:
    bounds = [r for r in rules if r.effect is Effect.DENY and r.when is not None and not r.shadow]
    for rule in rules:
        if rule.effect is not Effect.ALLOW or rule.shadow or rule.when is not None:
            continue
        for deny in bounds:
            if deny.action != rule.action and _covers(rule.action, deny.action):
                yield Finding(
                    "wide-allow",
                    rule.id,
                    f"allows every action matching {rule.action!r} without a condition, while rule "
                    f"{deny.id!r} bounds only {deny.action!r}: was the bound meant for all of them?",
                )
                break


def _unknown_actions(rules: list[Rule], registry: Mapping[str, Tool]) -> Iterator[Finding]:
    for rule in rules:
        if not any(fnmatch.fnmatchcase(action, rule.action) for action in registry):
            yield Finding(
                "unknown-action", rule.id, f"no governed tool has an action matching {rule.action!r}"
            )


def _unknown_arguments(rules: list[Rule], registry: Mapping[str, Tool]) -> Iterator[Finding]:
    for rule in rules:
        if rule.when is None:
            continue
        tools = [tool for action, tool in registry.items() if fnmatch.fnmatchcase(action, rule.action)]
        for name in sorted(set(_argument_names(rule.when))):
            lacking = [t.action for t in tools if name not in t.parameters and not t.takes_any]
            if lacking:
                yield Finding(
                    "unknown-argument",
                    rule.id,
                    f"its condition reads arg({name!r}), which {', '.join(repr(a) for a in lacking)} "
                    "does not take: it fails closed on every call",
                )


def _argument_names(condition: Condition) -> Iterator[str]:
    if isinstance(condition, (AllOf, AnyOf)):
        for part in condition.conditions:
            yield from _argument_names(part)
    elif isinstance(condition, Not):
        yield from _argument_names(condition.condition)
    elif isinstance(condition, (Compare, Matcher)) and isinstance(condition.ref, ArgRef):
        yield condition.ref.name


def tools_from(spec: str) -> list[Tool]:
    """The governed tools named by ``module:attr`` (a list, dict, class or object holding
    them) or ``module`` (the governed functions and methods defined in it).

    The current directory is searched for the module first, as ``python -m`` would.
    """
    module_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module: ModuleType = importlib.import_module(module_name)
        holder: Any = module
        for part in filter(None, attr.split(".")):
            holder = getattr(holder, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--tools {spec}: {exc}") from None
    candidates = list(_candidates(holder))
    tools = [tool for tool in map(_tool, candidates) if tool is not None]
    if not tools:
        raise ValueError(f"{spec} holds no governed tools")
    return tools


def _candidates(holder: Any) -> Iterator[Any]:
    if isinstance(holder, ModuleType):
        for value in list(vars(holder).values()):
            yield value
            if isinstance(value, type) and value.__module__ == holder.__name__:
                yield from _members(value)
    elif isinstance(holder, Mapping):
        yield from holder.values()
    elif isinstance(holder, (list, tuple, set, frozenset)):
        yield from holder
    elif _tool(holder) is not None:
        yield holder
    else:  # a class or an object: its governed methods
        yield from _members(holder)


def _members(holder: Any) -> Iterator[Any]:
    for name in dir(holder):
        if not name.startswith("__"):
            try:
                yield getattr(holder, name)
            except Exception:  # noqa: BLE001 - a property that fails is not a tool
                continue


def _tool(candidate: Any) -> Tool | None:
    spec = spec_of(candidate)  # a governed function, or a governed method bound to an instance
    if spec is None:
        return None
    parameters = inspect.signature(spec.function).parameters.values()
    # *args is bound by its name (a tuple); **kwargs spreads into any names.
    return Tool(
        spec.action,
        frozenset(p.name for p in parameters if p.kind is not p.VAR_KEYWORD),
        any(p.kind is p.VAR_KEYWORD for p in parameters),
    )
