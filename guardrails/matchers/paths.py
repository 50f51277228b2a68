"""``within(root)``: path containment, resolved the way the OS will open the path."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from guardrails.values import KindError, show

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

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            raise KindError(f"expected a path string, got {show(value)}")
        if not value or "\0" in value:
            raise KindError(f"expected a non-empty path without NUL bytes, got {show(value)}")
        try:
            resolved = os.path.realpath(os.path.join(os.getcwd(), value))
        except (OSError, ValueError) as exc:
            raise KindError(f"cannot resolve path {show(value)}: {exc}") from None
        return resolved == resolved_root or resolved.startswith(prefix)

    return resolved_root, test
