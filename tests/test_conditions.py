"""Conditions: comparisons, combinators, callables, and how they fail closed."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import pytest

import guardrails as g
from guardrails.call import Call
from guardrails.errors import EvaluationError


def call(context: dict[str, Any] | None = None, **args: Any) -> Call:
    return Call("tool", MappingProxyType(args), MappingProxyType(context or {}))


class TestComparisons:
    @pytest.mark.parametrize(
        ("condition", "amount", "expected"),
        [
            (g.arg("amount") > 100, 250, True),
            (g.arg("amount") > 100, 100, False),
            (g.arg("amount") >= 100, 100, True),
            (g.arg("amount") < 100, 99.5, True),
            (g.arg("amount") <= 100, 100.0, True),
            (g.arg("amount") == 100, 100.0, True),
            (g.arg("amount") != 100, 100, False),
            (g.arg("amount") > 100, Decimal("100.01"), True),
            (g.arg("amount") < 1, Fraction(1, 3), True),
        ],
    )
    def test_numbers(self, condition: g.policy.Condition, amount: object, expected: bool) -> None:
        """Numbers of any numeric type compare by value."""
        assert condition(call(amount=amount)) is expected

    def test_strings(self) -> None:
        """Strings compare with strings, exactly and case-sensitively."""
        assert (g.arg("region") == "eu")(call(region="eu")) is True
        assert (g.arg("region") == "eu")(call(region="EU")) is False
        assert (g.arg("day") < "2026-12-01")(call(day="2026-11-27")) is True

    def test_booleans(self) -> None:
        """Booleans equal booleans."""
        assert (g.arg("force") == True)(call(force=True)) is True  # noqa: E712
        assert (g.arg("force") != True)(call(force=False)) is True  # noqa: E712

    def test_none(self) -> None:
        """Comparing with None tests for None, whatever the value's type."""
        assert (g.arg("cc") == None)(call(cc=None)) is True  # noqa: E711
        assert (g.arg("cc") != None)(call(cc=["x"])) is True  # noqa: E711

    def test_string_methods(self) -> None:
        """startswith, endswith and contains work on strings."""
        c = call(to="bob@acme.com")
        assert g.arg("to").endswith("@acme.com")(c) is True
        assert g.arg("to").startswith("bob")(c) is True
        assert g.arg("to").contains("acme")(c) is True
        assert g.arg("to").contains("evil")(c) is False

    def test_contains_on_lists(self) -> None:
        """contains on a list, tuple or set looks for an equal element of the same kind."""
        assert g.arg("to").contains("a@x.com")(call(to=["b@x.com", "a@x.com"])) is True
        assert g.arg("ids").contains(1)(call(ids=(2, 3))) is False
        assert g.arg("ids").contains(1)(call(ids={1.0})) is True
        assert g.arg("ids").contains(1)(call(ids=(True, "1", 1))) is True

    def test_in(self) -> None:
        """in_ tests membership by kind: True is not 1 and "1" is not 1."""
        cond = g.arg("region").in_(["eu", "us"])
        assert cond(call(region="eu")) is True
        assert cond(call(region="asia")) is False
        numbers = g.arg("n").in_([1, 2])
        assert numbers(call(n=2.0)) is True
        mixed = g.arg("n").in_([1, "x"])
        with pytest.raises(EvaluationError):
            mixed(call(n=True))

    def test_context_values(self) -> None:
        """ctx() reads the call's context."""
        assert (g.ctx("user") == "alice")(call({"user": "alice"})) is True
        assert (g.ctx("user") == "alice")(call({"user": "bob"})) is False


class TestFailClosed:
    @pytest.mark.parametrize(
        "value",
        [
            "1e9",
            "100",
            None,
            [1000],
            {"a": 1},
            True,
            False,
            math.nan,
            math.inf,
            -math.inf,
            Decimal("NaN"),
            Decimal("Infinity"),
            b"1000",
            object(),
        ],
    )
    def test_ordering_rejects_non_numbers(self, value: object) -> None:
        """A number comparison on anything but a finite number is an error, not False."""
        with pytest.raises(EvaluationError, match=r"arg\('amount'\) > 100: expected a finite number"):
            (g.arg("amount") > 100)(call(amount=value))

    @pytest.mark.parametrize("value", ["100", None, True, math.nan, [100]])
    def test_equality_rejects_other_kinds(self, value: object) -> None:
        """== and != on a value of another kind are errors (so != cannot be fooled by "100")."""
        with pytest.raises(EvaluationError):
            (g.arg("amount") == 100)(call(amount=value))
        with pytest.raises(EvaluationError):
            (g.arg("amount") != 100)(call(amount=value))

    @pytest.mark.parametrize("value", [None, 1, ["@acme.com"], b"x@acme.com"])
    def test_string_methods_reject_non_strings(self, value: object) -> None:
        """endswith on a non-string is an error."""
        with pytest.raises(EvaluationError, match="expected a string"):
            g.arg("to").endswith("@acme.com")(call(to=value))

    def test_contains_rejects_other_values(self) -> None:
        """contains on a number or a dict is an error; a number inside a string too."""
        with pytest.raises(EvaluationError):
            g.arg("x").contains("a")(call(x=5))
        with pytest.raises(EvaluationError):
            g.arg("x").contains("a")(call(x={"a": 1}))
        with pytest.raises(EvaluationError):
            g.arg("x").contains(1)(call(x="123"))

    @pytest.mark.parametrize("elements", [["666"], [[666]], [math.nan], [True], [None, 5]])
    def test_contains_rejects_lists_with_other_kinds(self, elements: list[object]) -> None:
        """A list holding "666" where 666 is sought is an error, so a deny rule still applies."""
        with pytest.raises(EvaluationError, match="only elements of kind number"):
            g.arg("accounts").contains(666)(call(accounts=elements))

    def test_subclass_operators_are_ignored(self) -> None:
        """Subclasses of str, int and float are compared as the plain value they hold."""

        class Sneaky(str):
            def endswith(self, *args: object) -> bool:  # type: ignore[override]
                return True

            def __eq__(self, other: object) -> bool:
                return True

            __hash__ = str.__hash__

        class Float64(float):  # numpy-like: comparisons return a non-bool
            def __eq__(self, other: object) -> Any:
                return [float(self) == other]

            def __ne__(self, other: object) -> Any:
                return [float(self) != other]

        assert g.arg("to").endswith("@acme.com")(call(to=Sneaky("x@evil.com"))) is False
        assert (g.arg("to") == "a@acme.com")(call(to=Sneaky("x@evil.com"))) is False
        assert g.arg("to").in_(["a@acme.com"])(call(to=Sneaky("x@evil.com"))) is False
        assert (g.arg("amount") != 0)(call(amount=Float64(5))) is True
        assert (g.arg("amount") == 5)(call(amount=Float64(5))) is True
        assert (g.arg("amount") > 1)(call(amount=Float64(5))) is True

    def test_in_rejects_unhashable_and_other_kinds(self) -> None:
        """in_ on a list value or a value of another kind is an error."""
        cond = g.arg("region").in_(["eu", "us"])
        for value in (["eu"], None, 1, {"eu": 1}):
            with pytest.raises(EvaluationError):
                cond(call(region=value))

    def test_missing_argument(self) -> None:
        """A missing argument is an error naming it."""
        with pytest.raises(EvaluationError, match="no argument 'amount'"):
            (g.arg("amount") > 1)(call())

    def test_missing_context(self) -> None:
        """A missing context value is an error naming it."""
        with pytest.raises(EvaluationError, match="no value 'role'"):
            g.ctx("role").in_(["admin"])(call())

    def test_mixed_number_types(self) -> None:
        """int, float, Decimal and Fraction values compare with each other's literals."""
        assert (g.arg("x") < Decimal("0.5"))(call(x=Fraction(1, 3))) is True
        assert (g.arg("x") >= Fraction(1, 2))(call(x=Decimal("0.5"))) is True
        assert (g.arg("x") == 0.5)(call(x=Fraction(1, 2))) is True


class TestLiterals:
    @pytest.mark.parametrize(
        "build",
        [
            lambda: g.arg("x") > math.nan,
            lambda: g.arg("x") > None,
            lambda: g.arg("x") > True,
            lambda: g.arg("x") > [1],
            lambda: g.arg("x") == [1],
            lambda: g.arg("x").in_("eu"),
            lambda: g.arg("x").in_([]),
            lambda: g.arg("x").in_([math.inf]),
            lambda: g.arg("x").in_(5),
            lambda: g.arg("x").startswith(5),
            lambda: g.arg("x").contains(None),
            lambda: g.arg(""),
            lambda: g.ctx(5),
        ],
    )
    def test_bad_literals_are_policy_errors(self, build: Any) -> None:
        """A condition that could never be evaluated is refused when it is written."""
        with pytest.raises(g.PolicyError):
            build()

    def test_no_truth_value(self) -> None:
        """Using `and`, `not` or a chained comparison on conditions raises instead of guessing."""
        cond = g.arg("a") > 1
        with pytest.raises(TypeError, match=r"& \| ~"):
            bool(cond)
        with pytest.raises(TypeError):
            _ = 1 < g.arg("a") < 5
        with pytest.raises(TypeError):
            bool(g.arg("a"))

    def test_refs_are_not_hashable(self) -> None:
        """A reference cannot be a dict key, since == builds a condition."""
        with pytest.raises(TypeError):
            {g.arg("a"): 1}


class TestCombinators:
    def test_and_or_not(self) -> None:
        """& | ~ combine conditions."""
        big = g.arg("amount") > 100
        admin = g.ctx("role") == "admin"
        c = call({"role": "user"}, amount=500)
        assert (big & admin)(c) is False
        assert (big | admin)(c) is True
        assert (~admin)(c) is True
        assert (big & ~admin)(c) is True

    def test_kleene_false_decides_and(self) -> None:
        """An error beside a false side of & gives False: the result does not depend on it."""
        cond = (g.arg("missing") > 1) & (g.arg("amount") > 1000)
        assert cond(call(amount=5)) is False

    def test_kleene_true_decides_or(self) -> None:
        """An error beside a true side of | gives True."""
        cond = (g.arg("missing") > 1) | (g.arg("amount") > 1)
        assert cond(call(amount=5)) is True

    @pytest.mark.parametrize(
        "cond",
        [
            (g.arg("missing") > 1) & (g.arg("amount") > 1),
            (g.arg("amount") > 1) & (g.arg("missing") > 1),
            (g.arg("missing") > 1) | (g.arg("amount") > 1000),
            ~(g.arg("missing") > 1),
            ~~(g.arg("missing") > 1),
        ],
    )
    def test_errors_propagate_otherwise(self, cond: g.policy.Condition) -> None:
        """When the error could change the result, the whole condition is an error."""
        with pytest.raises(EvaluationError):
            cond(call(amount=5))

    def test_callables_combine(self) -> None:
        """Plain callables combine with conditions on either side."""

        def weekend(c: Call) -> bool:
            return c.context.get("day") in ("sat", "sun")

        c = call({"day": "sat"}, amount=5)
        assert ((g.arg("amount") > 1) & weekend)(c) is True
        assert (weekend & (g.arg("amount") > 10))(c) is False
        assert (weekend | (g.arg("amount") > 10))(c) is True

    def test_flattening(self) -> None:
        """a & (b & c) flattens into one AllOf of three."""
        a, b, c = g.arg("a") > 1, g.arg("b") > 1, g.arg("c") > 1
        combined = a & (b & c)
        assert isinstance(combined, g.policy.AllOf)
        assert len(combined.conditions) == 3


class TestCallableConditions:
    def test_must_return_bool(self) -> None:
        """A callable returning anything but True/False is an error, even a truthy value."""
        for result in (1, "yes", None, [True]):
            cond = g.policy.AllOf([lambda c, r=result: r])
            with pytest.raises(EvaluationError, match="expected True or False"):
                cond(call())

    def test_raising_callable(self) -> None:
        """A callable that raises is an evaluation error naming it."""

        def broken(c: Call) -> bool:
            raise RuntimeError("db down")

        with pytest.raises(EvaluationError, match=r"broken\(call\) raised RuntimeError: db down"):
            g.policy.AllOf([broken])(call())

    def test_async_callable_refused(self) -> None:
        """An async callable cannot be a condition: refused when written."""

        async def check(c: Call) -> bool:
            return True

        with pytest.raises(g.PolicyError, match="async"):
            g.allow("x", when=check)

    def test_not_a_condition(self) -> None:
        """A non-callable or a bare reference is refused as a condition."""
        with pytest.raises(g.PolicyError):
            g.allow("x", when=5)  # type: ignore[arg-type]
        with pytest.raises(g.PolicyError, match="is a value, not a condition"):
            g.allow("x", when=g.arg("a"))  # type: ignore[arg-type]


class TestRepr:
    @pytest.mark.parametrize(
        ("cond", "text"),
        [
            (g.arg("amount") > 100, "arg('amount') > 100"),
            (g.ctx("user") == "alice", "ctx('user') == 'alice'"),
            (g.arg("region").in_(["eu", "us"]), "arg('region').in_(['eu', 'us'])"),
            (g.arg("to").endswith("@acme.com"), "arg('to').endswith('@acme.com')"),
            (~g.arg("to").endswith("@acme.com"), "~arg('to').endswith('@acme.com')"),
            (
                (g.arg("a") > 1) & ~g.ctx("role").in_(["admin"]),
                "(arg('a') > 1) & ~ctx('role').in_(['admin'])",
            ),
            (
                ((g.arg("a") > 1) | (g.arg("b") > 2)) & (g.arg("c") < 3),
                "((arg('a') > 1) | (arg('b') > 2)) & (arg('c') < 3)",
            ),
            (~(g.arg("a") > 1), "~(arg('a') > 1)"),
        ],
    )
    def test_reads_like_the_policy(self, cond: g.policy.Condition, text: str) -> None:
        """repr is the Python that builds the condition."""
        assert repr(cond) == text

    @pytest.mark.parametrize(
        "cond",
        [
            (g.arg("a") > 1) & ~g.ctx("role").in_(["admin", "ops"]),
            ((g.arg("a") > 1) | (g.arg("b") <= 2.5)) & g.arg("to").contains("x"),
            ~((g.arg("s") == "x") | (g.arg("t") != None)),  # noqa: E711
        ],
    )
    def test_repr_round_trips(self, cond: g.policy.Condition) -> None:
        """Evaluating the repr builds an equivalent condition with the same repr."""
        rebuilt = eval(repr(cond), {"arg": g.arg, "ctx": g.ctx})
        assert repr(rebuilt) == repr(cond)

    def test_callable_repr(self) -> None:
        """A callable condition shows its name."""

        def business_hours(c: Call) -> bool:
            return True

        assert "business_hours(call)" in repr(g.policy.AllOf([business_hours]))
