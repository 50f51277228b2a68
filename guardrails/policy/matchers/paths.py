"""``within(root)``: path containment, resolved the way the OS will open the path."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any

from guardrails._text import show
from guardrails.policy.values import KindError

__all__ = ["within"]


def within(root: str) -> tuple[str, Callable[[Any], bool]]:
    """Return the resolved root and a test: is a path inside it (or it)?

    The path is joined to the working directory if relative, then resolved
    with ``os.path.realpath`` — ``.``, ``..``, repeated separators and
    symlinks, as the OS will when the tool opens it — and compared by whole
    components, so ``/srv/data-evil`` is not within ``/srv/data``.
    """
    if not isinstance(root, str) or not root or "\0" in root:
        raise ValueError(f"within() takes a directory path, got {show(root)}")
    resolved_root = os.path.realpath(root)
    prefix = resolved_root if resolved_root.endswith(os.sep) else resolved_root + os.sep
    posix = os.sep == "/"
    resolve = _posix_resolver(resolved_root) if posix else os.path.realpath

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            raise KindError(f"expected a path string, got {show(value)}")
        if not value or "\0" in value:
            raise KindError(f"expected a non-empty path without NUL bytes, got {show(value)}")
        try:
            path = str.__str__(value)
            # An absolute POSIX path is joined to nothing: spare the getcwd() syscall.
            resolved = resolve(path if posix and path[0] == "/" else os.path.join(os.getcwd(), path))
        except (OSError, ValueError) as exc:
            raise KindError(f"cannot resolve path {show(value)}: {exc}") from None
        return resolved == resolved_root or resolved.startswith(prefix)

    return resolved_root, test


_MAX_LINKS = 40  # as the Linux kernel: more is a loop, and an error


def _posix_resolver(resolved_root: str) -> Callable[[str], str]:
    """``os.path.realpath`` for absolute POSIX paths, with two shortcuts that keep its
    answer: the (already resolved) root is not asked about again, and below a
    component that does not exist nothing can be a symlink (until ``..`` climbs
    back out). A symlink loop is an error, where realpath gives up silently."""
    root_parts = [p for p in resolved_root.split("/") if p]

    def resolve(path: str) -> str:
        pending = [p for p in path.split("/") if p and p != "."]
        pending.reverse()  # pop() from the end is cheap
        resolved: list[str] = []
        if pending[-len(root_parts) :][::-1] == root_parts if root_parts else False:
            del pending[-len(root_parts) :]
            resolved = list(root_parts)
        missing_from = -1  # index of the first component that does not exist
        links = 0
        while pending:
            name = pending.pop()
            if name == "..":
                if resolved:
                    resolved.pop()
                    if len(resolved) <= missing_from:
                        missing_from = -1  # back in directories that exist
                continue
            if missing_from < 0:
                candidate = "/" + "/".join([*resolved, name])
                try:
                    mode = os.lstat(candidate).st_mode
                except (FileNotFoundError, NotADirectoryError):
                    missing_from = len(resolved)
                else:
                    if stat.S_ISLNK(mode):
                        links += 1
                        if links > _MAX_LINKS:
                            raise OSError(f"more than {_MAX_LINKS} symlinks (a loop?) at {candidate}")
                        target = os.readlink(candidate)
                        if target.startswith("/"):
                            resolved = []
                        pending.extend(p for p in reversed(target.split("/")) if p and p != ".")
                        continue
            resolved.append(name)
        return "/" + "/".join(resolved)

    return resolve
