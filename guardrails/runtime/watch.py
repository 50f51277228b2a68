"""Reload a policy file when it changes, from a daemon thread."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from guardrails._text import show
from guardrails.errors import ConfigurationError, PolicyError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["Loader", "PolicyWatcher"]

logger = logging.getLogger("guardrails")


class Loader(Protocol):
    """What a watcher loads policies into (a ``Governor``)."""

    @property
    def loading(self) -> AbstractContextManager[Any]:
        """Held while a policy file is read and put in force."""
        ...

    def load(self, path: str | Path) -> Any:
        """Read the policy in ``path`` and put it in force."""
        ...

    def read_policy(self, path: str | Path) -> Any:
        """Read the policy in ``path``; raise ``PolicyError`` if it does not load."""
        ...

    def install(self, policy: Any, source: str | Path = "") -> None:
        """Put a policy ``read_policy`` gave in force."""
        ...


class PolicyWatcher:
    """Polls a policy file and loads it into a governor whenever it changes.

    The file is loaded once when watching starts (an invalid file raises
    there). After that, a change that does not load is reported — to
    ``on_error``, to the ``guardrails`` logger and as a ``policy_rejected``
    audit record — and the last good policy stays in force.
    """

    def __init__(
        self,
        governor: Loader,
        path: Path,
        interval: float = 1.0,
        on_error: Callable[[PolicyError], object] | None = None,
    ) -> None:
        if not (isinstance(interval, (int, float)) and not isinstance(interval, bool) and interval > 0):
            raise ConfigurationError(
                f"watch interval must be a positive number of seconds, got {show(interval)}"
            )
        if on_error is not None and not callable(on_error):
            raise ConfigurationError(f"on_error must be callable, got {show(on_error)}")
        self.governor = governor
        self.path = path
        self.interval = float(interval)
        self.on_error = on_error
        self.reloads = 0
        self.rejections = 0
        self._stop = threading.Event()
        self._seen = self._stamp()
        self._pending: tuple[int, int, int] | None = None
        governor.load(path)
        self._thread = threading.Thread(target=self._run, name=f"guardrails-watch:{path.name}", daemon=True)
        self._thread.start()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # pragma: no cover - the thread must outlive any surprise
                logger.exception("the policy watcher of %s failed a poll", self.path)

    def poll(self) -> bool:
        """Check the file once; reload it if it changed and has stopped changing.

        A change is loaded only once two polls in a row see the same size and
        time stamps, so a file written in place is not read half-written (a
        truncated document can be valid and allow what the full one denies).
        Replacing the file by rename is still the safe way to publish it.
        """
        stamp = self._stamp()
        if stamp == self._seen:
            self._pending = None
            return False
        if stamp != self._pending:
            self._pending = stamp  # changed: wait one more poll for it to settle
            return False
        self._pending = None
        with self.governor.loading:
            try:
                policy = self.governor.read_policy(self.path)
            except PolicyError as error:
                self._seen = stamp
                self.rejections += 1
                logger.warning("policy %s rejected; the previous policy stays in force: %s", self.path, error)
                if self.on_error is not None:
                    try:
                        self.on_error(error)
                    except Exception:
                        logger.exception("the on_error hook of the policy watcher failed")
                return False
            if self._stamp() != stamp:
                return False  # it changed while being read: load it once it settles
            self.governor.install(policy, self.path)
        self._seen = stamp
        self.reloads += 1
        return True

    def stop(self) -> None:
        """Stop watching; the policy in force stays."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> PolicyWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stop.is_set() else "watching"
        return f"<PolicyWatcher {state} {self.path} every {self.interval:g}s>"
