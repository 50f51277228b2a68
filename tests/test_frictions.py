"""Issue 18's frictions: each mistake a user made is told, with what to write instead."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wrapt

import guardrails as g
from guardrails.runtime.setup import Setup

ROOT = Path(__file__).resolve().parent.parent

MAIL_RATE = g.deny("send_email", limit=g.rate(2, per="1m", key=g.ctx("user")), id="mail-rate")
DAILY = g.deny("refund", limit=g.budget("amount", 500, per="1d", key=g.arg("customer")), id="daily")
POLICY = g.Policy([g.allow("send_email"), MAIL_RATE, g.allow("refund", id="refunds"), DAILY])


def mailer(gov: g.Governor) -> Callable[[str], str]:
    @g.governed("send_email", governor=gov)
    def send_email(to: str) -> str:
        return "sent"

    return send_email


class TestUsage:
    def test_usage_reads_the_enclosing_context(self) -> None:
        """Inside ``g.context(user=...)``, usage() counts for that user, as the calls made there did."""
        gov = g.Governor(POLICY)
        send_email = mailer(gov)
        with g.context(user="alice"):
            send_email("a")
            assert gov.usage("mail-rate") == 1
        with g.context(user="bob"):
            assert gov.usage("mail-rate") == 0
        assert gov.usage("mail-rate", context={"user": "alice"}) == 1

    def test_a_given_context_wins_over_the_enclosing_one(self) -> None:
        """``context=`` given is the one used, as ``check`` does."""
        gov = g.Governor(POLICY)
        with g.context(user="alice"):
            mailer(gov)("a")
        with g.context(user="bob"):
            assert gov.usage("mail-rate", context={"user": "alice"}) == 1

    def test_a_key_that_cannot_be_made_is_a_configuration_error(self) -> None:
        """A missing key value raises ConfigurationError naming the rule, the limit and what is missing."""
        gov = g.Governor(POLICY)
        with pytest.raises(g.ConfigurationError) as info:
            gov.usage("mail-rate")
        message = str(info.value)
        assert "usage('mail-rate')" in message and "the context has no value 'user'" in message
        assert "2 calls per 1m per ctx('user')" in message
        with pytest.raises(
            g.ConfigurationError, match=r"usage\('daily'\).*'refund' has no argument 'customer'"
        ):
            gov.usage("daily", {"amount": 5})
        with pytest.raises(g.ConfigurationError, match="a key must be a string or number"):
            gov.usage("daily", {"customer": ["c1"]})

    def test_evaluation_errors_do_not_leak(self) -> None:
        """The error is not the internal EvaluationError, nor does it chain one."""
        gov = g.Governor(POLICY)
        with pytest.raises(g.ConfigurationError) as info:
            gov.usage("daily")
        assert not isinstance(info.value, g.EvaluationError)
        assert info.value.__cause__ is None and info.value.__suppress_context__

    @pytest.mark.parametrize(
        ("call", "message"),
        [
            (lambda gov: gov.usage("nope"), r"usage\('nope'\): the rule 'nope' is not in the policy"),
            (lambda gov: gov.usage("refunds"), r"usage\('refunds'\): the rule 'refunds' has no limit"),
            (
                lambda gov: gov.usage("daily", "c1"),
                r"args must be a mapping of names to values, got str 'c1'",
            ),
            (lambda gov: gov.usage("mail-rate", {}, "alice"), r"context must be a mapping"),
        ],
    )
    def test_wrong_questions(self, call: Callable[[g.Governor], Any], message: str) -> None:
        """An unknown rule, a rule without a limit, arguments that are not a mapping: each told."""
        with pytest.raises(g.ConfigurationError, match=message):
            call(g.Governor(POLICY))


class TestCheckArguments:
    @pytest.mark.parametrize(
        ("args", "context", "message"),
        [
            ("C-7", None, r"check\('refund'\): args must be a mapping"),
            ([("amount", 1)], None, r"check\('refund'\): args must be a mapping"),
            ({}, "alice", r"check\('refund'\): context must be a mapping"),
        ],
    )
    def test_check_takes_mappings(self, args: Any, context: Any, message: str) -> None:
        """``check`` with arguments or context that are not a mapping raises ConfigurationError, not ValueError."""
        with pytest.raises(g.ConfigurationError, match=message):
            g.Governor(POLICY).check("refund", args, context)

    def test_check_takes_an_action_name(self) -> None:
        with pytest.raises(g.ConfigurationError, match=r"check\(\) takes the name of an action, got int 5"):
            g.Governor(POLICY).check(5)  # type: ignore[arg-type]


class TestPolicyGivenAsAPath:
    @pytest.mark.parametrize("given", ["policy.toml", Path("policy.toml")])
    def test_governor_says_to_load_the_file(self, given: Any) -> None:
        """``Governor("policy.toml")`` is refused with the line to write instead."""
        with pytest.raises(g.ConfigurationError, match=r"pass Policy\.from_file\('policy\.toml'\)"):
            g.Governor(given)

    @pytest.mark.parametrize(
        "put",
        [
            lambda gov: gov.configure(policy="policy.toml"),
            lambda gov: setattr(gov, "policy", "policy.toml"),
            lambda gov: gov.replace_setup(Setup(policy="policy.toml")),  # type: ignore[arg-type]
        ],
    )
    def test_every_way_in_says_it(self, put: Callable[[g.Governor], Any]) -> None:
        """configure, ``policy =`` and a hand-built Setup give the same hint, and change nothing."""
        gov = g.Governor(POLICY)
        with pytest.raises(g.ConfigurationError, match=r"Policy\.from_file\('policy\.toml'\)"):
            put(gov)
        assert gov.policy is POLICY

    def test_the_default_governor_says_it(self) -> None:
        with pytest.raises(g.ConfigurationError, match=r"Policy\.from_file\('policy\.toml'\)"):
            g.configure(policy="policy.toml")  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("given", "hint"),
        [
            ({"rules": []}, r"Policy\.from_dict\(\.\.\.\)"),
            ([g.allow("x")], r"Policy\(\[rule, \.\.\.\]\)"),
            (g.allow("x"), r"Policy\(\[rule, \.\.\.\]\)"),
        ],
    )
    def test_documents_and_rules_get_their_hint(self, given: Any, hint: str) -> None:
        """A document or bare rules where a Policy goes: told how to make one."""
        with pytest.raises(g.ConfigurationError, match=hint):
            g.Governor(given)

    def test_the_loaders_take_paths(self) -> None:
        """``load`` and ``watch`` given something else than a path: ConfigurationError, not a raw TypeError."""
        gov = g.Governor(POLICY)
        with pytest.raises(g.ConfigurationError, match=r"load\(\) takes the path of a policy file"):
            gov.load(5)  # type: ignore[arg-type]
        with pytest.raises(g.ConfigurationError, match=r"watch\(\) takes the path of a policy file"):
            gov.watch(5)  # type: ignore[arg-type]
        assert gov.policy is POLICY


LIMIT_FORMS = r"limit takes rate\(\.\.\.\) or budget\(\.\.\.\), such as limit=rate\(5, per='1m'"


class TestRuleLimits:
    @pytest.mark.parametrize("limit", [5, "5/min", {"count": 5, "per": "1m"}, g.rate])
    @pytest.mark.parametrize("make", [g.deny, g.require_approval])
    def test_a_wrong_limit_shows_the_accepted_forms(self, make: Callable[..., g.Rule], limit: Any) -> None:
        """A limit that is not rate(...)/budget(...) is a PolicyError naming the rule and the forms."""
        with pytest.raises(g.PolicyError, match=LIMIT_FORMS) as info:
            make("send_email", limit=limit, id="mails")
        assert str(info.value).startswith(f"{make.__name__}('send_email', id='mails'): ")

    @pytest.mark.parametrize("limit", [g.rate(5, per="1m"), 5])
    def test_allow_with_a_limit_says_to_use_deny(self, limit: Any) -> None:
        """``allow(..., limit=...)`` is a PolicyError telling the rule to write, not a TypeError."""
        with pytest.raises(g.PolicyError) as info:
            g.allow("send_email", limit=limit)
        assert not isinstance(info.value, TypeError)
        message = str(info.value)
        assert message.startswith("allow('send_email'): a limit goes on a deny or require_approval rule")
        assert "deny('send_email', limit=rate(...))" in message

    def test_a_document_names_the_place_and_the_rule(self) -> None:
        """In a document the same error also names the rule's place."""
        doc = {"rules": [{"action": "x", "effect": "allow", "limit": {"count": 1, "per": "1m"}}]}
        with pytest.raises(g.PolicyError, match=r"rules\[0\]: allow\('x'\): a limit goes on a deny"):
            g.Policy.from_dict(doc)

    @pytest.mark.parametrize("key", ["user", 5, g.arg("a") > 1])
    def test_a_wrong_key_is_told_whole(self, key: Any) -> None:
        """``key="user"`` is refused as it was given (not as its letters), with the form to use."""
        with pytest.raises(
            g.PolicyError, match=r"a limit's key is .*such as key=ctx\('user'\)|made of arg"
        ) as info:
            g.rate(5, per="1m", key=key)
        assert "str 'u'" not in str(info.value)

    def test_a_list_of_refs_is_still_a_key(self) -> None:
        limit = g.budget("amount", 5, per="1d", key=(r for r in [g.arg("customer"), g.ctx("user")]))
        assert len(limit.key) == 2

    def test_the_first_arguments_show_an_example(self) -> None:
        with pytest.raises(g.PolicyError, match=r"as in rate\(5, per='1m'\), got str '5'"):
            g.rate("5", per="1m")  # type: ignore[arg-type]
        with pytest.raises(g.PolicyError, match=r"as in budget\('amount', 500, per='1d'\), got int 5"):
            g.budget(5, 500, per="1d")  # type: ignore[arg-type]


class TestRuleErrorsNameTheRule:
    def test_each_check_names_the_rule(self) -> None:
        """Whatever is wrong in a rule, the error says which rule."""
        with pytest.raises(g.PolicyError, match=r"^deny\('x', id='r1'\): rule reason must be a string"):
            g.deny("x", reason=5, id="r1")  # type: ignore[arg-type]
        with pytest.raises(g.PolicyError, match=r"^allow\('x'\): expected a condition"):
            g.allow("x", when="amount > 5")  # type: ignore[arg-type]
        with pytest.raises(g.PolicyError, match=r"^Rule\('x'\): effect: str 'block' is not an effect"):
            g.Rule("x", "block")

    @pytest.mark.parametrize("approvers", ["alice", 5])
    def test_approvers_are_a_list(self, approvers: Any) -> None:
        """``approvers="alice"`` is refused (not five approvers named by letters); so is a number."""
        with pytest.raises(g.PolicyError, match=r"^require_approval\('wire'\): approvers are a list of ids"):
            g.require_approval("wire", approvers=approvers)

    def test_approvers_still_take_any_iterable_or_a_predicate(self) -> None:
        rule = g.require_approval("wire", approvers=(a for a in ["alice", "bob"]))
        assert rule.approval is not None and rule.approval.approvers == ("alice", "bob")
        assert g.require_approval("wire", approvers=lambda who: who == "alice").approval is not None


#: Runs an example as if one module were not installed: a finder first on
#: ``sys.meta_path`` says so for it and its submodules.
WITHOUT = """
import runpy, sys

blocked, script = sys.argv[1], sys.argv[2]


class NotInstalled:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == blocked or name.startswith(blocked + "."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"""

EXAMPLES = [
    ("crewai_refunds.py", "crewai", "crewai"),
    ("fastmcp_refunds.py", "fastmcp", "fastmcp"),
    ("langgraph_refunds.py", "langchain_core", "langchain"),
    ("mcp_refunds.py", "mcp", "mcp"),
    ("openai_agents_refunds.py", "agents", "openai-agents"),
    ("pydantic_ai_refunds.py", "pydantic_ai", "pydantic-ai"),
]


class TestExamplesWithoutTheirFramework:
    @pytest.mark.parametrize(("script", "module", "extra"), EXAMPLES)
    def test_the_docstring_names_the_extra(self, script: str, module: str, extra: str) -> None:
        """Each framework example says in its docstring which extra it needs."""
        tree = ast.parse((ROOT / "examples" / "integrations" / script).read_text(encoding="utf-8"))
        assert f"pip install 'runtime-guardrails[{extra}]'" in (ast.get_docstring(tree) or "")

    @pytest.mark.parametrize(("script", "module", "extra"), EXAMPLES)
    def test_a_missing_framework_is_one_line(self, script: str, module: str, extra: str) -> None:
        """Without its framework an example exits non-zero with one line naming the extra, no traceback."""
        result = subprocess.run(
            [sys.executable, "-c", WITHOUT, module, f"examples/integrations/{script}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        (line,) = result.stderr.splitlines()
        assert f"pip install 'runtime-guardrails[{extra}]'" in line
        assert line.startswith("This example needs ") and f"No module named '{module}" in line
        assert result.stdout == ""


class Handler:
    def __call__(self, denial: g.ActionDenied) -> str:
        return f"handled {denial.call.action}"

    def method(self, denial: g.ActionDenied) -> str:
        return "method"


class TestOnDenyShape:
    """A wrongly shaped ``on_deny`` is refused when configured, not when a call is denied."""

    @pytest.mark.parametrize(
        "hook",
        [lambda: "x", lambda denial, extra: "x", lambda *, denial: "x", Handler.method],
        ids=["no-argument", "two-arguments", "keyword-only", "unbound-method"],
    )
    def test_a_hook_that_cannot_take_the_denial_is_refused(self, hook: Any) -> None:
        with pytest.raises(g.ConfigurationError, match=r"on_deny is called with one argument"):
            g.Governor(g.Policy([g.deny("x")]), on_deny=hook)
        gov = g.Governor(g.Policy([g.deny("x")]))
        with pytest.raises(g.ConfigurationError, match=r"on_deny is called with one argument"):
            gov.configure(on_deny=hook)
        assert gov.setup.on_deny is None  # nothing half-applied

    @pytest.mark.parametrize(
        "hook",
        [
            lambda denial: "denied",
            lambda denial, extra=1: "denied",
            lambda *args: "denied",
            Handler(),
            Handler().method,
            str,
        ],
        ids=["one", "one-and-default", "varargs", "callable-object", "bound-method", "builtin"],
    )
    def test_a_hook_that_takes_one_argument_is_accepted_and_called(self, hook: Any) -> None:
        gov = g.Governor(g.Policy([g.deny("refund", id="no")]), on_deny=hook)

        @g.governed("refund", governor=gov)
        def refund(amount: int) -> str:
            raise AssertionError("the tool ran")

        decision = gov.check("refund", {"amount": 5})
        assert refund(5) == hook(g.ActionDenied(decision, decision.call))


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        ("policy.toml", r"pass Policy\.from_file\('policy\.toml'\)"),
        (Path("rules/p.yaml"), r"pass Policy\.from_file\('rules/p\.yaml'\)"),
        ({"rules": [{"effect": "allow", "action": "x"}]}, r"pass Policy\.from_dict"),
    ],
    ids=["str", "path", "mapping"],
)
def test_policy_given_a_file_name_or_a_document_says_what_to_call(given: Any, hint: str) -> None:
    """``Policy("policy.toml")`` used to read the name's letters as rules."""
    with pytest.raises(g.PolicyError, match=hint):
        g.Policy(given)


def _injecting(function: Callable[..., str]) -> Callable[..., str]:
    """A decorator that supplies the first argument itself (as DI frameworks do)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        return function("ctx", *args, **kwargs)

    return wrapper


@wrapt.decorator
def _wrapt_injecting(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return wrapped("ctx", *args, **kwargs)


class _Proxy:
    """A lazy proxy (LocalProxy style) whose attributes raise until it is bound."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("working outside of a context")

    def __call__(self, denial: g.ActionDenied) -> str:
        return "proxy"


@_injecting
def _functools_hook(ctx: str, denial: g.ActionDenied) -> str:
    return f"{ctx} {denial.call.action}"


@_wrapt_injecting
def _wrapt_hook(ctx: str, denial: g.ActionDenied) -> str:
    return f"{ctx} {denial.call.action}"


@pytest.mark.parametrize(
    ("hook", "said"),
    [(_functools_hook, "ctx x"), (_wrapt_hook, "ctx x"), (_Proxy(), "proxy")],
    ids=["functools-wraps", "wrapt", "proxy"],
)
def test_decorated_and_proxied_on_deny_hooks_are_trusted_as_given(hook: Any, said: str) -> None:
    """The shape check cannot see through a decorator that supplies arguments, nor a
    proxy: such hooks are not refused (their signature is the wrapped function's)."""
    gov = g.Governor(g.Policy([g.deny("x")]), on_deny=hook)

    @g.governed("x", governor=gov)
    def x() -> str:
        raise AssertionError("the tool ran")

    assert x() == said
