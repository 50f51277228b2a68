"""Binding arguments by name: always what Python itself binds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrails.runtime.binding import Binder


def flatten(local_vars: dict[str, Any], var_keyword: str | None = None) -> dict[str, Any]:
    """A function's own view of its arguments, **kwargs flattened (named parameters winning)."""
    out = dict(local_vars)
    extra = out.pop(var_keyword, {}) if var_keyword else {}
    for name, value in extra.items():
        out.setdefault(name, value)
    return out


# The oracle is Python itself: each function returns what it was called with.
def plain(a, b, c=3):  # type: ignore[no-untyped-def]
    return flatten(locals())


def keyword_only(a, *, b=2, c):  # type: ignore[no-untyped-def]
    return flatten(locals())


def positional_only(a, b=2, /, c=3, **kw):  # type: ignore[no-untyped-def]
    return flatten(locals(), "kw")


def star(a, *rest, b=1, **kw):  # type: ignore[no-untyped-def]
    return flatten(locals(), "kw")


def nothing():  # type: ignore[no-untyped-def]
    return flatten(locals())


FUNCTIONS = [plain, keyword_only, positional_only, star, nothing]
NAMES = ["a", "b", "c", "d", "rest", "kw"]


class TestBinder:
    def test_positional_keyword_and_default_bind_the_same(self) -> None:
        """A value is found under its name whether passed by position, keyword or default."""
        binder = Binder.for_function(plain)
        expected = {"a": 1, "b": 2, "c": 3}
        assert binder((1, 2), {}) == expected
        assert binder((), {"a": 1, "b": 2}) == expected
        assert binder((1,), {"b": 2, "c": 3}) == expected

    def test_var_positional_and_keywords(self) -> None:
        """*args binds as a tuple; extra keywords bind under their own names."""
        binder = Binder.for_function(star)
        assert binder((1, 2, 3), {"to": "x"}) == {"a": 1, "rest": (2, 3), "b": 1, "to": "x"}

    def test_named_parameter_wins_over_extra_keyword(self) -> None:
        """f(1, a=2) for f(a, /, **kw): the policy sees a=1, what the function calls a."""
        binder = Binder.for_function(positional_only)
        assert binder((1,), {"a": 2})["a"] == 1

    def test_defaults_are_the_same_objects(self) -> None:
        """A default is the function's own default object, not a copy."""
        marker = object()

        def f(x=marker):  # type: ignore[no-untyped-def]
            pass

        assert Binder.for_function(f)((), {})["x"] is marker

    @pytest.mark.parametrize(
        ("args", "kwargs", "message"),
        [
            ((), {}, "missing 2 required positional arguments"),
            ((1, 2, 3, 4), {}, "takes from 2 to 3 positional arguments but 4 were given"),
            ((1,), {"a": 1, "b": 2}, "multiple values for argument 'a'"),
            ((1, 2), {"zzz": 1}, "unexpected keyword argument 'zzz'"),
        ],
    )
    def test_wrong_calls_raise_like_python(self, args: Any, kwargs: Any, message: str) -> None:
        """A call Python would refuse raises the same TypeError."""
        with pytest.raises(TypeError, match=message):
            plain(*args, **kwargs)
        with pytest.raises(TypeError, match=message):
            Binder.for_function(plain)(args, kwargs)

    def test_skip_first(self) -> None:
        """skip_first drops self/cls for calls made as a method."""

        class C:
            def m(self, x, y=2):  # type: ignore[no-untyped-def]
                pass

        assert Binder.for_function(C.m, skip_first=True)((1,), {}) == {"x": 1, "y": 2}

    @given(
        func=st.sampled_from(FUNCTIONS),
        args=st.lists(st.integers(), max_size=5).map(tuple),
        kwargs=st.dictionaries(st.sampled_from([*NAMES, "zz", "to"]), st.integers(), max_size=4),
    )
    def test_matches_signature_bind(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """For any call, the binder sees what the function itself sees, or refuses as Python does."""
        binder = Binder.for_function(func)
        try:
            expected = func(*args, **kwargs)
        except TypeError:
            with pytest.raises(TypeError):
                binder(args, kwargs)
        else:
            assert binder(args, kwargs) == expected
