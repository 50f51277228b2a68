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

Warnings (``severity == "warning"``): what is allowed is probably wider than meant.

- ``command-deny-list`` — a deny (or require_approval) rule relies on
  ``shell_command_in``: a list of commands to stop cannot be complete
  (``rm -r -f``, ``/bin/rm -rf``, ``bash -c '...'``, ``python3 -c '...'`` get
  through); allow only the listed commands instead, and deny the rest. Not
  reported when every allow of the action is itself such an allow-list;
- ``empty-policy`` — no rules: every call gets the default.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from guardrails.policy.conditions import AllOf, AnyOf, Condition, Not
from guardrails.policy.evaluate import Policy
from guardrails.policy.refs import ArgRef, Compare, Matcher
from guardrails.policy.rules import PRECEDENCE, Effect, Rule
from guardrails.runtime.decorator import spec_of
from guardrails.testing.imports import ImportFailed, import_object

__all__ = ["Finding", "Tool", "lint", "tools_from"]

Kind = Literal[
    "shadowed",
    "duplicate",
    "unknown-action",
    "wide-allow",
    "unknown-argument",
    "command-deny-list",
    "empty-policy",
]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """Something a policy's author should look at: an error (a rule that cannot do what
    it looks like it does) or a warning (a policy probably wider than meant).
    ``rule_id`` is empty for what concerns the whole policy."""

    kind: Kind
    rule_id: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"rule {self.rule_id!r}: " if self.rule_id else ""
        text = f"{self.kind}: {where}{self.message}"
        return text if self.severity == "error" else f"warning: {text}"


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
    findings += _command_deny_lists(rules, policy.default)
    if not rules:
        wide = {Effect.ALLOW: "runs", Effect.DENY: "is refused"}.get(policy.default, "needs approval")
        findings.append(
            Finding(
                "empty-policy",
                "",
                f"the policy has no rules: every call gets its default ({policy.default.value}) and {wide}",
                "warning",
            )
        )
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


def _command_deny_lists(rules: list[Rule], default: Effect) -> Iterator[Finding]:
    for rule in rules:
        if rule.effect is Effect.ALLOW or rule.shadow:
            continue
        listed = [m for m in _positive(rule.when) if _is_command_list(m)]
        if not listed or _allow_listed(rule, rules, default):
            continue
        matcher = listed[0]
        assert isinstance(matcher, Matcher)
        commands = ", ".join(repr(c) for c in matcher.args[0])
        yield Finding(
            "command-deny-list",
            rule.id,
            f"{rule.effect.value} when {matcher.ref!r} starts with one of {commands}: a list of commands to stop "
            "cannot be complete ('rm -r -f', '/bin/rm -rf', \"bash -c 'rm -rf /'\", \"python3 -c '...'\" "
            f"all get through). Allow only the commands listed and deny the rest: "
            f"allow({rule.action!r}, when={matcher.ref!r}.shell_command_in([...])) with the default deny",
            "warning",
        )


def _positive(condition: Condition | None, negated: bool = False) -> Iterator[Condition]:
    """The parts of ``condition`` that hold when it holds (under no ``~``, or two)."""
    if isinstance(condition, (AllOf, AnyOf)):
        for part in condition.conditions:
            yield from _positive(part, negated)
    elif isinstance(condition, Not):
        yield from _positive(condition.condition, not negated)
    elif condition is not None and not negated:
        yield condition


def _is_command_list(condition: Condition) -> bool:
    return isinstance(condition, Matcher) and condition.name == "shell_command_in"


def _allow_listed(rule: Rule, rules: list[Rule], default: Effect) -> bool:
    """Whether nothing the rule covers is allowed but by an allow-list of commands: the
    default does not allow, and every allow of an overlapping action is such a list."""
    if default is Effect.ALLOW:
        return False
    return all(
        any(_is_command_list(part) for part in _positive(other.when))
        for other in rules
        if other.effect is Effect.ALLOW
        and not other.shadow
        and (_covers(other.action, rule.action) or _covers(rule.action, other.action))
    )


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
    Raises ``ValueError`` when the module or attribute is not there, importing it fails
    or exits (``sys.exit()``), or it holds no tools.
    """
    try:
        holder = import_object(spec, "--tools")
    except ImportFailed as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - the module's own code failed (an import of its own too)
        raise ValueError(f"--tools {spec}: importing it failed: {type(exc).__name__}: {exc}") from None
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
