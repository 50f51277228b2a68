"""Every code block of the README and of docs/ works as written.

Each ```python block runs, in a namespace of its own, from the repository's root;
its assertions must hold and, when an ```text block marked ``<!-- output -->``
follows it, it must print exactly that (``…`` stands for any run of characters
within a line). Every TOML, JSON and YAML block parses; policy documents load and
case files pass. An HTML comment on the line just above a fence changes how the
block is run:

- ``<!-- continue -->``: run after the python block before it on the page (and what
  that one continues), in its namespace: a fragment that builds on it.
- ``<!-- output -->``: this block is what the python block before it prints.
- ``<!-- requires: MODULE ... -->``: the block needs a framework. It runs where the
  module is installed, and fails where it is missing if ``GUARDRAILS_FRAMEWORKS=required``
  (``GUARDRAILS_CREWAI=required`` for ``crewai``); otherwise it is not collected (the
  default suite needs no framework).
- ``<!-- cwd: DIR -->``: the block's relative paths are relative to ``DIR``.
- ``<!-- pytest -->``: the block is a test module; pytest runs it (with the plugin's
  fixtures) and every test in it passes.
- ``<!-- no-run: REASON -->``: the block is only compiled (used sparingly).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import need

import guardrails as g

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LANGUAGES = {"python", "text", "toml", "json", "yaml", "sh"}
DIRECTIVES = {"continue", "output", "requires", "cwd", "no-run", "pytest"}
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+)(?P<info>[^`]*)$")
DIRECTIVE = re.compile(r"^\s*<!--\s*(?P<name>[a-z-]+)\s*(?::\s*(?P<value>.*?))?\s*-->\s*$")
COMMENT = re.compile(r"<!--(?!\s*-->)")
# The frameworks a block may require (``requires:``), and the variable that, set to
# "required", makes a missing one fail its blocks: GUARDRAILS_FRAMEWORKS unless named here.
FRAMEWORKS = {"langchain_core", "langgraph", "agents", "pydantic_ai", "mcp", "fastmcp", "crewai"}
REQUIRED_BY = {"crewai": "GUARDRAILS_CREWAI"}


@dataclass
class Block:
    """One fenced block of a page."""

    page: Path
    line: int  # of the fence
    language: str
    code: str
    directives: dict[str, str]
    before: Block | None = None  # the block just above it on the page
    previous: Block | None = None  # the python block before it on the page
    output: Block | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT).as_posix()}:{self.line}"

    @property
    def chain(self) -> list[Block]:
        """This block and the python blocks it continues, first to last."""
        chain = [self]
        while "continue" in chain[0].directives and chain[0].previous is not None:
            chain.insert(0, chain[0].previous)
        return chain

    @property
    def requires(self) -> list[str]:
        return sorted({m for b in self.chain for m in b.directives.get("requires", "").split()})

    @property
    def cwd(self) -> Path:
        return ROOT / self.directives.get("cwd", ".")


def directives_above(lines: list[str], index: int) -> dict[str, str]:
    found: dict[str, str] = {}
    while index > 0 and (match := DIRECTIVE.match(lines[index - 1])):
        found[match["name"]] = (match["value"] or "").strip()
        index -= 1
    return found


def blocks_of(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        assert end < len(lines), f"{page}:{index + 1}: a fence that is never closed"
        code = "\n".join(line[len(indent) :] for line in lines[index + 1 : end]) + "\n"
        info = opening["info"].strip()
        block = Block(page, index + 1, info.split()[0] if info else "", code, directives_above(lines, index))
        block.before = blocks[-1] if blocks else None
        block.previous = next((b for b in reversed(blocks) if b.language == "python"), None)
        if "output" in block.directives and block.before is not None:
            block.before.output = block
        blocks.append(block)
        index = end + 1
    return blocks


BLOCKS = [block for page in PAGES for block in blocks_of(page)]
PYTHON = [b for b in BLOCKS if b.language == "python" and not {"no-run", "pytest"} & set(b.directives)]
LEAN = [b for b in PYTHON if not b.requires]
FRAMEWORK = [b for b in PYTHON if b.requires]
NOT_RUN = [b for b in BLOCKS if b.language == "python" and "no-run" in b.directives]
PYTEST = [b for b in BLOCKS if b.language == "python" and "pytest" in b.directives]
DATA = [b for b in BLOCKS if b.language in {"toml", "json", "yaml"}]


def ids(blocks: list[Block]) -> list[str]:
    return [b.name for b in blocks]


def matches(expected: str, printed: str) -> bool:
    """Whether ``printed`` is ``expected``, line for line, ``…`` matching any run of characters."""
    want, got = expected.rstrip("\n").splitlines(), printed.rstrip("\n").splitlines()
    patterns = [re.compile(".*?".join(map(re.escape, line.rstrip().split("…")))) for line in want]
    return len(want) == len(got) and all(
        p.fullmatch(line.rstrip()) for p, line in zip(patterns, got, strict=True)
    )


def run_chain(block: Block, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the block after the blocks it continues; what the block itself printed."""
    monkeypatch.chdir(block.cwd)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    printed = ""
    for step in block.chain:
        source = "\n" * step.line + step.code  # tracebacks name the page's own lines
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(source, str(step.page), "exec"), namespace)
        printed = out.getvalue()
    return printed


def check_output(block: Block, printed: str) -> None:
    if block.output is not None:
        expected = block.output.code
        assert matches(expected, printed), f"{block.name} printed:\n{printed}\nthe page says:\n{expected}"


@pytest.mark.parametrize("block", LEAN, ids=ids(LEAN))
def test_python_block(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    """A python block runs as written, and prints what the page says it prints."""
    check_output(block, run_chain(block, monkeypatch))


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a dotted name whose package is missing
        return False


def required(module: str) -> bool:
    return os.environ.get(REQUIRED_BY.get(module, "GUARDRAILS_FRAMEWORKS")) == "required"


# A framework's blocks run where it is installed, and fail where it is required but
# missing; elsewhere (the default suite needs no framework) they are not collected,
# as tests/extras/ is not.
FRAMEWORK_HERE = [b for b in FRAMEWORK if all(installed(m) or required(m) for m in b.requires)]


if FRAMEWORK_HERE:  # (an empty parametrization would be reported as a skip)

    @pytest.mark.parametrize("block", FRAMEWORK_HERE, ids=ids(FRAMEWORK_HERE))
    def test_framework_block(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
        """A python block that needs a framework runs where the framework is installed."""
        missing = [m for m in block.requires if not installed(m)]
        assert missing == [], f"required but not installed: {missing}"
        with warnings.catch_warnings():
            # What the frameworks warn about themselves is theirs (CrewAI 1.15's own imports
            # raise ImportWarning, and it reads its deprecated fields); ours still fail the test.
            warnings.simplefilter("ignore", ImportWarning)
            for module in block.requires:
                warnings.filterwarnings("ignore", category=DeprecationWarning, module=rf"{module}(\.|$)")
            printed = run_chain(block, monkeypatch)
        check_output(block, printed)


@pytest.mark.parametrize("block", PYTEST, ids=ids(PYTEST))
def test_pytest_block(block: Block, tmp_path: Path) -> None:
    """A test module on a page passes under pytest, the plugin's fixtures and all."""
    module = tmp_path / "test_block.py"
    module.write_text(block.code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", str(module)],
        cwd=block.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b[1-9]\d* passed", result.stdout), result.stdout


def test_blocks_not_run_say_why_and_compile() -> None:
    """A block marked no-run (used sparingly) says why, and is at least valid Python."""
    for block in NOT_RUN:
        assert block.directives["no-run"], f"{block.name}: no-run needs a reason"
        compile(block.code, block.name, "exec")


def parse(block: Block) -> Any:
    if block.language == "json":
        return json.loads(block.code)
    if block.language == "yaml":
        need("yaml")
        import yaml

        return yaml.safe_load(block.code)
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    return tomllib.loads(block.code)


@pytest.mark.parametrize("block", DATA, ids=ids(DATA))
def test_data_block(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A TOML, JSON or YAML block parses; a policy document loads; a case file's cases pass."""
    from guardrails.testing.cases import load_cases, policy_for, run_case

    doc = parse(block)
    if not isinstance(doc, dict) or not {"rules", "redact", "default", "cases"} & set(doc):
        return
    monkeypatch.chdir(block.cwd)
    path = tmp_path / f"block.{block.language}"
    path.write_text(block.code, encoding="utf-8")
    if "cases" not in doc:
        g.Policy.from_file(path)
        return
    cases = load_cases(path)
    failures = []
    for case in cases:
        policy = policy_for([block.cwd / p.relative_to(tmp_path) for p in case.policies], block.name)
        result = run_case(policy, case)
        if not result.passed:
            failures.append(f"{case.name}: {result.problem}")
    assert cases and failures == []


class TestConventions:
    def test_the_blocks_are_found(self) -> None:
        """The pages are read: the README and the docs hold python blocks, and most of them run."""
        assert len(PAGES) > 20
        assert any(b.page.name == "README.md" for b in LEAN)
        assert len(LEAN) > 30 and len(NOT_RUN) <= 3

    def test_every_fence_names_its_language(self) -> None:
        """No block escapes its test by leaving out (or misspelling) its language."""
        assert [f"{b.name} {b.language!r}" for b in BLOCKS if b.language not in LANGUAGES] == []

    def test_every_comment_is_a_known_directive_above_a_fence(self) -> None:
        """A misspelt directive, or one a blank line parts from its block, is an error, not ignored."""
        bad = []
        for page in PAGES:
            blocks = blocks_of(page)
            inside = {n for b in blocks for n in range(b.line, b.line + b.code.count("\n") + 2)}
            attached = {b.line - i for b in blocks for i in range(1, len(b.directives) + 1)}
            for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
                match = DIRECTIVE.match(line)
                if number in inside:
                    continue
                if match is None and COMMENT.search(re.sub(r"`[^`]*`", "", line)):
                    bad.append(f"{page.name}:{number}: a comment that is not a directive")
                elif match is not None and (match["name"] not in DIRECTIVES or number not in attached):
                    bad.append(f"{page.name}:{number}: {line.strip()}")
        assert bad == []

    def test_directives_sit_where_they_mean_something(self) -> None:
        """Output follows a python block, a continued block continues one, requirements are named."""
        bad = []
        for b in BLOCKS:
            before = b.before
            if "output" in b.directives and (
                b.language != "text" or before is None or before.language != "python"
            ):
                bad.append(f"{b.name}: output must be a text block just after a python block")
            if "continue" in b.directives and (
                b.previous is None or {"no-run", "pytest"} & set(b.previous.directives)
            ):
                bad.append(f"{b.name}: continue needs a python block that runs before it on the page")
            if "requires" in b.directives and not set(b.directives["requires"].split()) <= FRAMEWORKS:
                bad.append(f"{b.name}: requires names no module, or one that is not a framework")
        assert bad == []

    def test_output_matching_can_fail(self) -> None:
        """The output check above is not vacuous: a changed word or an extra line fails it."""
        assert matches("rule 'cap:…': no\n", "rule 'cap:9f2e': no\n")
        assert not matches("rule 'cap:…': no\n", "rule 'cap:9f2e': yes\n")
        assert not matches("one\n", "one\ntwo\n")


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None, "the quick start has no sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


class TestReadme:
    def test_a_landing_page(self) -> None:
        """The README stays a landing page; the manual lives in docs/."""
        assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150

    def test_quick_start_has_exactly_two_commands(self) -> None:
        """The quick start's first code block holds two commands: demo, then tests."""
        commands = quick_start_commands()
        assert len(commands) == 2
        assert commands[0].endswith("examples/quickstart.py")

    def test_ci_runs_the_readme_test_command(self) -> None:
        """.ci/run runs the README's test command."""
        test_command = quick_start_commands()[1]
        assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")

    def test_links_reach_files(self) -> None:
        """Every relative link of the README names a file or folder of the repository."""
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        targets = re.findall(r"\]\((?!https?:|#)([^)#\s]+)", readme)
        assert targets
        assert [t for t in targets if not (ROOT / t).exists()] == []


def test_redact_table_in_the_docs_loads(tmp_path: Path) -> None:
    """The docs' ``[redact]`` example is a valid policy document that redacts an IBAN."""
    from guardrails.policy.view import AuditView

    (block,) = [b for b in DATA if b.language == "toml" and "[redact]" in b.code]
    (tmp_path / "redact.toml").write_text(block.code)
    policy = g.Policy.from_file(tmp_path / "redact.toml")
    view = AuditView(
        policy.redaction, {"note": "IBAN DE89 3704 0044 0532 0130 00", "ssn": "x", "card_pin": 1}, {}
    )
    assert view.args == {"note": "[REDACTED]", "ssn": "[REDACTED]", "card_pin": "[REDACTED]"}
