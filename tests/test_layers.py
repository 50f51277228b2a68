"""The package's layers hold: no import cycle, the core loads alone, the contracts pass."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "guardrails"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The package's modules that ``name`` imports anywhere: at the top, under
    ``TYPE_CHECKING``, inside functions. (Python runs a package's ``__init__``
    before any of its modules: that is no import of the package by the module.)"""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # ``from pkg import module`` imports the module; ``from pkg import name``, pkg.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("guardrails"):
                yield target


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    # The package's own __init__ re-exports everything lazily; it is no layer.
    return {
        name: {t for t in imported(name, path, known) if t != "guardrails"}
        for name, path in known.items()
        if name != "guardrails"
    }


def too_complex(source: str) -> Iterator[tuple[int, str, int]]:
    """``(line, name, complexity)`` of every function, method or closure in ``source``
    that radon grades D or worse."""
    from radon.complexity import cc_rank, cc_visit

    blocks = list(cc_visit(source))  # functions and methods (a class's are listed too), not closures
    while blocks:
        block = blocks.pop()
        blocks += getattr(block, "closures", ())
        if not hasattr(block, "methods") and cc_rank(block.complexity) not in "ABC":
            yield block.lineno, block.name, block.complexity


class TestLayers:
    def test_no_import_cycle(self) -> None:
        """No module imports, however indirectly, one that imports it back
        (TYPE_CHECKING and in-function imports counted)."""
        graph = import_graph()
        assert len(graph) > 60  # the walk found the package
        assert cycles(graph) == []

    def test_the_cycle_finder_finds_a_cycle(self) -> None:
        """The check above can fail: a planted cycle is found."""
        graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
        assert cycles(graph) == [["a", "b", "c"]]

    def test_the_core_loads_alone(self) -> None:
        """``import guardrails.policy`` loads neither pydantic, sqlite3, the stores,
        the documents, the audit nor the runtime."""
        probe = (
            "import sys, guardrails.policy as p\n"
            "assert p.Policy([]).evaluate('x').effect.value == 'deny'\n"
            "heavy = ('pydantic', 'sqlite3', 'redis', 'wrapt', 'guardrails.state', 'guardrails.documents',"
            " 'guardrails.audit', 'guardrails.runtime', 'guardrails.approvals')\n"
            "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
        )
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        assert result.stdout.strip() == "[]"

    def test_no_module_is_shadowed(self) -> None:
        """Every module is what its package's attribute of the same name gives
        (no ``guardrails.chain`` that is a function). Checked in a fresh interpreter:
        in this one, pytester's in-process runs re-import modules (the pytest plugin)
        behind their package's back."""
        names = sorted(n for n in modules() if n != "guardrails" and not n.endswith("__main__"))
        script = (
            "import importlib, sys\n"
            "shadowed = []\n"
            "for name in sys.argv[1:]:\n"
            "    module = importlib.import_module(name)\n"
            "    parent, _, attribute = name.rpartition('.')\n"
            "    if getattr(importlib.import_module(parent), attribute, None) is not module:\n"
            "        shadowed.append(name)\n"
            "print(len(sys.argv) - 1, shadowed)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", script, *names], capture_output=True, text=True, check=False, cwd=ROOT
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split(maxsplit=1) == [str(len(names)), "[]\n"]

    def test_modules_stay_small(self) -> None:
        """A module holds one idea: none is over 400 lines."""
        sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
        assert sizes["guardrails.runtime.flow"] > 100  # the count reads the files
        assert {name: n for name, n in sizes.items() if n > 400} == {}

    def test_no_function_is_complex(self) -> None:
        """Every function, method and closure is radon grade C or better (cyclomatic
        complexity 20 at most)."""
        worst = [
            f"{name}:{lineno} {function} {complexity}"
            for name, path in modules().items()
            for lineno, function, complexity in too_complex(path.read_text(encoding="utf-8"))
        ]
        assert worst == []

    def test_the_complexity_check_sees_methods(self) -> None:
        """The check above can fail: a method, and a closure, with 21 branches are found."""
        branches = "".join(f"        if x == {i}:\n            return {i}\n" for i in range(21))
        source = f"class A:\n    def m(self, x):\n{branches}        return -1\n"
        assert [(f, c) for _, f, c in too_complex(source)] == [("m", 22)]
        closure = f"def outer():\n    def inner(x):\n{branches}        return -1\n    return inner\n"
        assert [(f, c) for _, f, c in too_complex(closure)] == [("inner", 22)]

    def test_import_linter_contracts_hold(self) -> None:
        """The layer contracts in pyproject.toml pass, with no ignored imports."""
        config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
        assert "ignore_imports" not in config
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from importlinter.cli import lint_imports_command; lint_imports_command()",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "2 kept, 0 broken" in result.stdout
