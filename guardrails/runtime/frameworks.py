"""Telling a framework's tool object from a function: ``@governed`` given one means
the decorators are in the wrong order, and its calls would not pass through guardrails."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

__all__ = ["framework_tool"]

#: Where agent frameworks keep their tool classes (top-level package: framework and
#: the distributions that install it): a tool object given to @governed means the
#: decorators are in the wrong order.
_FRAMEWORKS = {
    "langchain_core": ("LangChain", ("langchain-core",)),
    "langchain": ("LangChain", ("langchain",)),
    "agents": ("OpenAI Agents SDK", ("openai-agents",)),
    "crewai": ("CrewAI", ("crewai",)),
    "pydantic_ai": ("Pydantic AI", ("pydantic-ai-slim", "pydantic-ai")),
    "mcp": ("MCP", ("mcp",)),
    "fastmcp": ("FastMCP", ("fastmcp",)),
}


def framework_tool(obj: object) -> str | None:
    """The framework whose tool object ``obj`` is, if it is one (a package of the
    same name that the framework's distribution did not install is not it)."""
    for klass in type(obj).__mro__:
        root = klass.__module__.split(".", 1)[0]
        known = _FRAMEWORKS.get(root)
        if (
            known is not None
            and "tool" in f"{klass.__module__}.{klass.__qualname__}".lower()
            and _installed_by(root, known[1])
        ):
            return known[0]
    return None


def _installed_by(root: str, distributions: tuple[str, ...]) -> bool:
    module = sys.modules.get(root)
    where = getattr(module, "__file__", None)
    if where is None:
        return False
    for name in distributions:
        try:
            expected = importlib.metadata.distribution(name).locate_file(f"{root}/__init__.py")
        except importlib.metadata.PackageNotFoundError:
            continue
        if Path(str(expected)).resolve() == Path(where).resolve():
            return True
    return False
