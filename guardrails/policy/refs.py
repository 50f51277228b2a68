"""References to a call's values — ``arg(name)``, ``ctx(name)`` — and the
conditions that test one: comparisons and matchers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, NoReturn

from guardrails._text import brief, show
from guardrails.call import Call
from guardrails.errors import EvaluationError, PolicyError
from guardrails.policy import matchers
from guardrails.policy.comparisons import INFIX, build_test
from guardrails.policy.conditions import Condition
from guardrails.policy.provenance import Provenance
from guardrails.policy.transforms import TRANSFORMS, check_chain, convert_literal
from guardrails.policy.values import KindError

__all__ = ["MATCHER_DEFAULTS", "ArgRef", "Compare", "CtxRef", "Matcher", "Ref", "arg", "ctx"]


class Ref:
    """A reference to a value of a call; compare it to build a condition.

    ``.every()`` / ``.any()`` make the condition hold for every / any item of
    a list or tuple value; ``.decimal()``, ``.nfkc()`` and ``.casefold()``
    convert the value (each item) before it is compared.
    """

    __slots__ = ("name", "transforms", "items")
    source: ClassVar[str]
    is_reference: ClassVar[bool] = True

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
        """The value in ``call``, before any item selection or conversion (each
        subclass reads its own source).

        Raises ``EvaluationError`` when the call has no such value.
        """
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
        # The items themselves, not what a subclass's __iter__ chooses to show.
        value = list.__iter__(value) if isinstance(value, list) else tuple.__iter__(value)
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

    def provenance(self, *kinds: str) -> Condition:
        """True when the value (any item of a list) was seen where ``kinds`` say:
        ``"untrusted"`` (in an untrusted tool's output and not in trusted input),
        ``"trusted"`` (in what the user gave), ``"invented"`` (in neither). See
        ``guardrails.policy.provenance``; judged by a governor, which keeps what was seen."""
        return Provenance(self, kinds)

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
    def infix(self) -> bool:  # type: ignore[override]
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
