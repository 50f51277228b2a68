"""Conditions: what a rule's ``when`` says about a call.

``arg(name)`` and ``ctx(name)`` refer to a value of the call; comparing them
builds a condition, and conditions combine with ``&``, ``|`` and ``~``. Any
callable taking a ``Call`` and returning ``bool`` is a condition too.

Evaluation is three-valued (Kleene): a condition is true, false, or cannot be
evaluated (missing value, wrong type, a callable that raises). ``a & b`` is
false as soon as one side is false, ``a | b`` true as soon as one side is true;
otherwise an error on either side makes the whole condition an error. The
policy resolves errors fail-closed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from guardrails import matchers
from guardrails.call import Call
from guardrails.comparisons import INFIX, build_test
from guardrails.errors import EvaluationError, PolicyError
from guardrails.transforms import TRANSFORMS, check_chain, convert_literal
from guardrails.values import KindError, brief, show

__all__ = [
    "AllOf",
    "AnyOf",
    "Compare",
    "Condition",
    "ConditionLike",
    "FnCondition",
    "Matcher",
    "Not",
    "Ref",
    "arg",
    "as_condition",
    "ctx",
]


class Condition:
    """Base of every condition. Call it with a ``Call`` to get ``True``/``False``.

    Raises ``EvaluationError`` when it cannot decide.
    """

    __slots__ = ()

    def __call__(self, call: Call) -> bool:
        raise NotImplementedError

    def refs(self) -> Iterator[Ref]:
        """Yield the argument and context references this condition reads."""
        return iter(())

    def fingerprint(self) -> str:
        """A text that tells this condition apart from others, stable across runs.

        The repr, except that code is named by where it is defined (two
        lambdas have the same repr but not the same fingerprint).
        """
        return repr(self)

    def __and__(self, other: ConditionLike) -> Condition:
        return AllOf((self, as_condition(other)))

    def __rand__(self, other: ConditionLike) -> Condition:
        return AllOf((as_condition(other), self))

    def __or__(self, other: ConditionLike) -> Condition:
        return AnyOf((self, as_condition(other)))

    def __ror__(self, other: ConditionLike) -> Condition:
        return AnyOf((as_condition(other), self))

    def __invert__(self) -> Condition:
        return Not(self)

    def __bool__(self) -> NoReturn:
        raise TypeError(
            f"the truth of condition {self!r} is only known per call; "
            "combine conditions with & | ~ instead of and/or/not, "
            "and write one comparison per condition (no chained a < x < b)"
        )


ConditionLike = Condition | Callable[[Call], bool]


def as_condition(value: object) -> Condition:
    """Return ``value`` as a ``Condition``: conditions pass, callables are wrapped."""
    if isinstance(value, Condition):
        return value
    if isinstance(value, Ref):
        raise PolicyError(f"{value!r} is a value, not a condition; compare it (e.g. {value!r} == ...)")
    if callable(value):
        return FnCondition(value)
    raise PolicyError(f"expected a condition or a callable (Call) -> bool, got {show(value)}")


class Ref:
    """A reference to a value of a call; compare it to build a condition.

    ``.every()`` / ``.any()`` make the condition hold for every / any item of
    a list or tuple value; ``.decimal()``, ``.nfkc()`` and ``.casefold()``
    convert the value (each item) before it is compared.
    """

    __slots__ = ("name", "transforms", "items")
    source: ClassVar[str]

    def __init__(self, name: str, transforms: tuple[str, ...] = (), items: str | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise PolicyError(f"{self.source}() needs a non-empty name, got {show(name)}")
        for transform in transforms:
            if transform not in TRANSFORMS:
                raise PolicyError(f"unknown conversion {transform!r}; use one of {', '.join(TRANSFORMS)}")
        if items not in (None, "every", "any"):
            raise PolicyError(f"items must be 'every' or 'any', got {show(items)}")
        try:
            check_chain(tuple(transforms))
        except ValueError as exc:
            raise PolicyError(f"{self.source}({name!r}): {exc}") from None
        self.name = name
        self.transforms = tuple(transforms)
        self.items = items

    def resolve(self, call: Call) -> Any:
        raise NotImplementedError

    @property
    def is_plain(self) -> bool:
        """True when the value is compared as it is: no items, no conversion."""
        return not self.transforms and self.items is None

    def judge(self, value: Any, test: Callable[[Any], bool]) -> bool:
        """Apply the conversions (to each item, with ``every``/``any``) and ``test``."""
        if self.items is None:
            return test(self._convert(value))
        if not isinstance(value, (list, tuple)):
            raise KindError(f"expected a list of items, got {show(value)}")
        error: KindError | None = None
        decisive = self.items == "any"  # any: a True decides; every: a False decides
        for item in value:
            try:
                if test(self._convert(item)) is decisive:
                    return decisive
            except KindError as exc:
                error = error or KindError(f"item {brief(item)}: {exc}")
        if error is not None:
            raise error
        return not decisive

    def _convert(self, value: Any) -> Any:
        for transform in self.transforms:
            value = TRANSFORMS[transform](value)
        return value

    def _with(self, transforms: tuple[str, ...] | None = None, items: str | None = None) -> Ref:
        if items is not None and self.items is not None:
            raise PolicyError(f"{self!r} already has .{self.items}()")
        return type(self)(
            self.name, self.transforms if transforms is None else transforms, items or self.items
        )

    def every(self) -> Ref:
        """Hold for every item of a list or tuple value (an empty list: true)."""
        return self._with(items="every")

    def any(self) -> Ref:
        """Hold for at least one item of a list or tuple value (an empty list: false)."""
        return self._with(items="any")

    def decimal(self) -> Ref:
        """Compare as a Decimal: ints, finite floats, Decimals, and strings of plain
        digits with an optional sign and point ("12.50"); anything else is an error."""
        return self._with(transforms=(*self.transforms, "decimal"))

    def nfkc(self) -> Ref:
        """Compare the string in Unicode NFKC form (fullwidth and compatibility
        characters folded: "ｅｖｉｌ" is "evil")."""
        return self._with(transforms=(*self.transforms, "nfkc"))

    def casefold(self) -> Ref:
        """Compare the string case-folded ("ADMIN" is "admin")."""
        return self._with(transforms=(*self.transforms, "casefold"))

    def __repr__(self) -> str:
        text = f"{self.source}({self.name!r})"
        if self.items is not None:
            text += f".{self.items}()"
        return text + "".join(f".{t}()" for t in self.transforms)

    # == builds a condition, so a reference cannot be a dict key or set member.
    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> NoReturn:
        raise TypeError(f"{self!r} has no truth value; compare it, e.g. {self!r} == True")

    def _compare(self, op: str, operand: Any) -> Compare:
        return Compare(self, op, operand)

    def __lt__(self, operand: Any) -> Condition:
        return self._compare("<", operand)

    def __le__(self, operand: Any) -> Condition:
        return self._compare("<=", operand)

    def __gt__(self, operand: Any) -> Condition:
        return self._compare(">", operand)

    def __ge__(self, operand: Any) -> Condition:
        return self._compare(">=", operand)

    def __eq__(self, operand: Any) -> Condition:  # type: ignore[override]
        return self._compare("==", operand)

    def __ne__(self, operand: Any) -> Condition:  # type: ignore[override]
        return self._compare("!=", operand)

    def in_(self, values: Iterable[Any]) -> Condition:
        """True when the value equals one of ``values`` (same kind)."""
        return Compare(self, "in", values)

    def startswith(self, prefix: str) -> Condition:
        """True when the (string) value starts with ``prefix``."""
        return Compare(self, "startswith", prefix)

    def endswith(self, suffix: str) -> Condition:
        """True when the (string) value ends with ``suffix``."""
        return Compare(self, "endswith", suffix)

    def contains(self, item: Any) -> Condition:
        """True when a string value contains ``item`` as a substring, or a
        list/tuple/set value holds an element equal to ``item``."""
        return Compare(self, "contains", item)

    def between(self, low: Any, high: Any) -> Condition:
        """True when the number is at least ``low`` and at most ``high``."""
        return Compare(self, "between", (low, high))

    # ---- matchers: normalise, then compare; fail closed on what does not parse

    def within(self, root: str) -> Condition:
        """True when the path, resolved as the OS will open it, is ``root`` or inside it."""
        return Matcher(self, "within", (root,), {}, lambda: matchers.within(root)[1])

    def host_in(
        self, hosts: Iterable[str], *, subdomains: bool = False, schemes: Iterable[str] = ("https", "http")
    ) -> Condition:
        """True when the URL's host, parsed as a browser does, is one of ``hosts``
        (or, with ``subdomains``, under one of them)."""
        hosts, schemes = _listed(hosts), _listed(schemes)
        options = {"subdomains": subdomains, "schemes": schemes}
        return Matcher(
            self,
            "host_in",
            (hosts,),
            options,
            lambda: matchers.host_in(hosts, subdomains=subdomains, schemes=schemes)[1],
        )

    def email_domain_in(self, domains: Iterable[str], *, subdomains: bool = False) -> Condition:
        """True when the e-mail address's domain is one of ``domains`` (or under one)."""
        domains = _listed(domains)
        return Matcher(
            self,
            "email_domain_in",
            (domains,),
            {"subdomains": subdomains},
            lambda: matchers.email_domain_in(domains, subdomains=subdomains)[1],
        )

    def matches(self, glob: str) -> Condition:
        """True when the string matches ``glob`` in full (``*`` stops at ``/``, ``**`` does not)."""
        return Matcher(self, "matches", (glob,), {}, lambda: matchers.matches(glob))

    def regex(self, pattern: str, *, allow_backtracking: bool = False, max_length: int = 10_000) -> Condition:
        """True when the string matches ``pattern`` in full. Patterns that can backtrack
        exponentially are refused unless ``allow_backtracking``; longer inputs are errors."""
        options = {"allow_backtracking": allow_backtracking, "max_length": max_length}
        return Matcher(
            self,
            "regex",
            (pattern,),
            options,
            lambda: matchers.regex(pattern, allow_backtracking=allow_backtracking, max_length=max_length),
        )

    def shell_command_in(self, prefixes: Iterable[str]) -> Condition:
        """True when the command line is one simple command whose argv starts with
        one of ``prefixes`` ("git status" allows "git status -s", not "git status; rm")."""
        prefixes = _listed(prefixes)
        return Matcher(
            self, "shell_command_in", (prefixes,), {}, lambda: matchers.shell_command_in(prefixes)[1]
        )


class ArgRef(Ref):
    """``arg(name)``: an argument of the tool, bound by name, defaults applied."""

    __slots__ = ()
    source = "arg"

    def resolve(self, call: Call) -> Any:
        try:
            return call.args[self.name]
        except KeyError:
            raise EvaluationError(f"{call.action!r} has no argument {self.name!r}") from None


class CtxRef(Ref):
    """``ctx(name)``: a value from ``guardrails.context(...)``."""

    __slots__ = ()
    source = "ctx"

    def resolve(self, call: Call) -> Any:
        try:
            return call.context[self.name]
        except KeyError:
            raise EvaluationError(f"the context has no value {self.name!r}") from None


def arg(name: str) -> Ref:
    """Refer to the tool argument ``name`` (positional, keyword or default)."""
    return ArgRef(name)


def ctx(name: str) -> Ref:
    """Refer to the context value ``name`` set with ``guardrails.context``."""
    return CtxRef(name)


class _RefTest(Condition):
    """A test of one referenced value: the shared evaluation of comparisons and matchers."""

    __slots__ = ("ref", "_test", "_name", "_in_args", "_plain")

    def _prepare(self, ref: Ref, test: Callable[[Any], bool]) -> None:
        self.ref = ref
        self._test = test
        self._name = ref.name
        self._in_args = isinstance(ref, ArgRef)
        self._plain = ref.is_plain

    def __call__(self, call: Call) -> bool:
        # Hot path: read the value directly rather than through ref.resolve().
        try:
            value = (call.args if self._in_args else call.context)[self._name]
        except KeyError:
            return self.ref.resolve(call)  # type: ignore[no-any-return]  # raises the clear error
        try:
            if self._plain:
                return self._test(value)
            return self.ref.judge(value, self._test)
        except KindError as exc:
            raise EvaluationError(f"{self!r}: {exc}") from None

    def refs(self) -> Iterator[Ref]:
        yield self.ref


class Compare(_RefTest):
    """A reference compared with a literal; see ``Ref`` for the operators."""

    __slots__ = ("op", "operand")

    def __init__(self, ref: Ref, op: str, operand: Any) -> None:
        self.op = op
        where = f"{ref!r} {op} ..."
        written = operand
        try:
            if ref.transforms:
                operand = convert_literal(ref.transforms, operand, where)  # converted like the value
            stored, test = build_test(op, operand, where)
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
        # The literal as written, for repr and documents; the test holds the converted one.
        self.operand = (
            stored if operand is written else (tuple(written) if op in ("in", "between") else written)
        )
        self._prepare(ref, test)

    @property
    def infix(self) -> bool:
        return self.op in INFIX

    def __repr__(self) -> str:
        if self.op in INFIX:
            return f"{self.ref!r} {self.op} {self.operand!r}"
        if self.op == "in":
            return f"{self.ref!r}.in_({list(self.operand)!r})"
        if self.op == "between":
            low, high = self.operand
            return f"{self.ref!r}.between({low!r}, {high!r})"
        return f"{self.ref!r}.{self.op}({self.operand!r})"


class Matcher(_RefTest):
    """A reference tested by a matcher (``within``, ``host_in``...); see ``Ref``."""

    __slots__ = ("name", "args", "options")

    def __init__(
        self, ref: Ref, name: str, args: tuple[Any, ...], options: dict[str, Any], build: Callable[[], Any]
    ) -> None:
        self.name = name
        self.args = args
        self.options = options
        if "decimal" in ref.transforms:
            raise PolicyError(f"{ref!r}.{name}(...): .decimal() makes a number, and {name}() takes text")
        try:
            test = build()
        except ValueError as exc:
            raise PolicyError(f"{ref!r}.{name}(...): {exc}") from None
        self._prepare(ref, test)

    def non_default_options(self) -> dict[str, Any]:
        """The options that differ from the matcher's defaults, as written in a policy."""
        defaults = MATCHER_DEFAULTS.get(self.name, {})
        return {k: v for k, v in self.options.items() if defaults.get(k, object()) != v}

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args]
        parts += [f"{k}={v!r}" for k, v in self.non_default_options().items()]
        return f"{self.ref!r}.{self.name}({', '.join(parts)})"


#: Matcher options and their defaults (options at their default are not shown).
MATCHER_DEFAULTS: dict[str, dict[str, Any]] = {
    "host_in": {"subdomains": False, "schemes": ["https", "http"]},
    "email_domain_in": {"subdomains": False},
    "regex": {"allow_backtracking": False, "max_length": 10_000},
}


def _listed(values: Iterable[str]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise PolicyError(f"expected a list of strings, got {show(values)}")
    return list(values)


def _wrap(child: Condition) -> str:
    text = repr(child)
    if isinstance(child, (AllOf, AnyOf)) or (isinstance(child, Compare) and child.infix):
        return f"({text})"
    return text


class _Combination(Condition):
    __slots__ = ("conditions",)
    symbol: ClassVar[str]

    def __init__(self, conditions: Iterable[ConditionLike]) -> None:
        flat: list[Condition] = []
        for c in conditions:
            cond = as_condition(c)
            # a & (b & c) is a & b & c: flatten for a shorter repr and call.
            flat.extend(cond.conditions if isinstance(cond, type(self)) else (cond,))
        if not flat:
            raise PolicyError(f"{type(self).__name__} needs at least one condition")
        self.conditions: tuple[Condition, ...] = tuple(flat)

    def refs(self) -> Iterator[Ref]:
        for c in self.conditions:
            yield from c.refs()

    def __repr__(self) -> str:
        return f" {self.symbol} ".join(_wrap(c) for c in self.conditions)

    def fingerprint(self) -> str:
        return f" {self.symbol} ".join(f"({c.fingerprint()})" for c in self.conditions)


class AllOf(_Combination):
    """True when every condition is true (``a & b``)."""

    __slots__ = ()
    symbol = "&"

    def __call__(self, call: Call) -> bool:
        error: Exception | None = None
        for cond in self.conditions:
            try:
                if not cond(call):
                    return False
            except Exception as exc:  # noqa: BLE001 - Kleene: a later False still decides
                error = error or exc
        if error is not None:
            raise error
        return True


class AnyOf(_Combination):
    """True when at least one condition is true (``a | b``)."""

    __slots__ = ()
    symbol = "|"

    def __call__(self, call: Call) -> bool:
        error: Exception | None = None
        for cond in self.conditions:
            try:
                if cond(call):
                    return True
            except Exception as exc:  # noqa: BLE001 - Kleene: a later True still decides
                error = error or exc
        if error is not None:
            raise error
        return False


class Not(Condition):
    """True when the condition is false (``~a``); an error stays an error."""

    __slots__ = ("condition",)

    def __init__(self, condition: ConditionLike) -> None:
        self.condition = as_condition(condition)

    def __call__(self, call: Call) -> bool:
        return not self.condition(call)

    def __invert__(self) -> Condition:
        return self.condition

    def refs(self) -> Iterator[Ref]:
        return self.condition.refs()

    def __repr__(self) -> str:
        return f"~{_wrap(self.condition)}"

    def fingerprint(self) -> str:
        return f"~({self.condition.fingerprint()})"


class FnCondition(Condition):
    """A plain callable ``(Call) -> bool`` used as a condition.

    It must return exactly ``True`` or ``False``; anything else, or an
    exception, is an evaluation error.
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Call], bool]) -> None:
        if inspect.iscoroutinefunction(fn):
            raise PolicyError(
                f"condition {_name(fn)} is async; conditions are evaluated without awaiting, "
                "so they must be plain functions"
            )
        self.fn = fn

    def __call__(self, call: Call) -> bool:
        try:
            result = self.fn(call)
        except Exception as exc:
            raise EvaluationError(f"{self!r} raised {type(exc).__name__}: {exc}") from exc
        if type(result) is not bool:
            if inspect.isawaitable(result):
                getattr(result, "close", lambda: None)()
            raise EvaluationError(f"{self!r} returned {show(result)}, expected True or False")
        return result

    def __repr__(self) -> str:
        return f"{_name(self.fn)}(call)"

    def fingerprint(self) -> str:
        """Module, name and defining file of the code, plus the simple values it
        closes over or holds, so ``over(10)`` and ``over(10**6)`` differ."""
        fn = self.fn
        code = getattr(fn, "__code__", None)
        if code is None:  # a callable object: name its class and its __call__
            code = getattr(type(fn).__call__, "__code__", None)
            state = _simple(getattr(fn, "__dict__", {}))
            name = f"{type(fn).__module__}.{type(fn).__qualname__}"
        else:
            cells = getattr(fn, "__closure__", None) or ()
            state = _simple({str(i): cell.cell_contents for i, cell in enumerate(cells)})
            name = f"{getattr(fn, '__module__', '?')}.{_name(fn)}"
        where = Path(code.co_filename).name if code is not None else "?"
        return f"{name}@{where}{state}"


def _simple(values: dict[str, Any]) -> str:
    """The values that are plain data, as text; others only by type (no addresses)."""
    shown = []
    for key, value in values.items():
        try:
            text = (
                repr(value)
                if isinstance(value, (str, int, float, bool, type(None), tuple, frozenset))
                else ""
            )
        except Exception:  # noqa: BLE001 - a broken repr only loses detail
            text = ""
        shown.append(f"{key}={text}" if text and "0x" not in text else f"{key}:{type(value).__name__}")
    return f"[{', '.join(shown)}]" if shown else ""


def _name(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if isinstance(name, str):
        return name
    return type(fn).__qualname__  # a callable object: its class, never its address
