"""``JsonlAudit``: an append-only, hash-chained JSON-lines audit log.

Each record is one ``os.write`` of a whole line to a file opened for appending
(no buffer in this process), so a process killed at any moment leaves every
record it had written, at worst followed by one line cut short. ``fsync``
decides what survives the machine losing power: ``"always"`` syncs every
record before the call goes on, ``"batch"`` at most every ``fsync_interval``
seconds (and on close), ``"never"`` leaves it to the operating system.

One writer per file: the file is locked while open, and a forked child must
open its own. On opening an existing log the chain continues from its last
line; a line cut short by a crash is removed first, and the removal itself is
recorded (``kind="audit_recovered"``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
import weakref
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from guardrails._text import show
from guardrails.audit.chain import (
    GENESIS,
    Key,
    cut_short,
    digester,
    line_state,
    record_fields,
    rotated_files,
    shared_fields,
)
from guardrails.audit.records import AuditRecord
from guardrails.errors import AuditError, ConfigurationError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, one writer by convention
    fcntl = None  # type: ignore[assignment]

__all__ = ["FsyncMode", "JsonlAudit"]

FsyncMode = Literal["always", "batch", "never"]

_TAIL_CHUNK = 1 << 16
_open_logs: weakref.WeakSet[JsonlAudit] = weakref.WeakSet()


class JsonlAudit:
    """An audit sink appending hash-chained JSON lines to ``path``.

    ``rotate_bytes`` starts a new file when the current one would grow past
    it: ``audit.jsonl`` becomes ``audit.jsonl.1`` (then ``.2``...), and the
    chain runs on across files. With ``key`` the digests are HMAC-SHA256, so
    only a holder of the key can forge them. ``guardrails audit verify`` (or
    ``guardrails.verify_audit``) checks a log; ``guardrails audit show``
    prints it.

    Errors opening the log raise at once; errors writing it make the sink
    raise, which stops the governed call (see ``on_audit_error``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: FsyncMode = "batch",
        fsync_interval: float = 1.0,
        rotate_bytes: int | None = None,
        key: Key = None,
    ) -> None:
        if fsync not in ("always", "batch", "never"):
            raise ConfigurationError(f"fsync must be 'always', 'batch' or 'never', got {show(fsync)}")
        if (
            isinstance(fsync_interval, bool)
            or not isinstance(fsync_interval, (int, float))
            or fsync_interval <= 0
        ):
            raise ConfigurationError(f"fsync_interval must be a positive number, got {show(fsync_interval)}")
        if rotate_bytes is not None and (type(rotate_bytes) is not int or rotate_bytes <= 0):
            raise ConfigurationError(f"rotate_bytes must be a positive int or None, got {show(rotate_bytes)}")
        if key is not None and (not isinstance(key, (bytes, str)) or not key):
            raise ConfigurationError(f"key must be non-empty bytes or str, got {type(key).__name__}")
        self.path = Path(path)
        self.fsync: FsyncMode = fsync
        self.fsync_interval = float(fsync_interval)
        self.rotate_bytes = rotate_bytes
        self._key = key
        self._lock = threading.Lock()
        self._fd = -1
        self._pid = os.getpid()
        self._closed = False
        self._synced = time.monotonic()
        self._seq, self._prev, self._size = 0, GENESIS, 0
        self._shared: tuple[Any, ...] | None = None
        self._hash = digester(key)
        self._writable = True
        self._broken = False
        recovered = self._open()
        self._finalizer = weakref.finalize(self, _close_fd, self._holder)
        _open_logs.add(self)
        if recovered:
            self(recovered)

    # ---- the sink ------------------------------------------------------------------

    def __call__(self, record: AuditRecord) -> None:
        # The records of one call share most fields: serialise them once. The
        # recorder hands every record of a call the same objects, so this is
        # mostly identity checks.
        cached = self._shared
        if (
            cached is not None
            and cached[0] is record.args
            and cached[1] is record.context
            and cached[2] is record.approval
            and cached[3]
            == (record.call_id, record.effect, record.decided, record.rule_id, record.reason, record.enforced)
            and cached[4]
            == (record.kind, record.action, record.tool_call_id, record.policy_version, record.exact)
        ):
            shared = cached[5]
        else:
            shared = shared_fields(record)
            self._shared = (
                record.args,
                record.context,
                record.approval,
                (
                    record.call_id,
                    record.effect,
                    record.decided,
                    record.rule_id,
                    record.reason,
                    record.enforced,
                ),
                (record.kind, record.action, record.tool_call_id, record.policy_version, record.exact),
                shared,
            )
        fields = record_fields(record, shared)
        with self._lock:
            if not self._writable:
                raise AuditError(self._why_not_writable())
            body = f'{{"seq":{self._seq},"prev":"{self._prev}",{fields}'.encode()
            digest = self._hash(body)
            line = body + b',"hash":"' + digest.encode() + b'"}\n'
            if self.rotate_bytes is not None and self._size and self._size + len(line) > self.rotate_bytes:
                self._rotate()
            size, seq, prev = self._size, self._seq, self._prev
            try:
                written = os.write(self._fd, line)
                if written < len(line):  # rare: a signal or a full disk mid-line
                    self._append_rest(line, written)
                self._size, self._seq, self._prev = size + len(line), seq + 1, digest
                fsync = self.fsync
                if fsync != "never" and (
                    fsync == "always" or time.monotonic() - self._synced >= self.fsync_interval
                ):
                    self._sync()
            except BaseException as exc:
                # Whatever stopped us (a full disk, a failed sync, Ctrl-C), the line
                # must be wholly in the log or not at all, and the chain must agree.
                self._undo(size, seq, prev)
                if isinstance(exc, OSError):
                    raise AuditError(f"cannot write audit log {self.path}: {exc.strerror or exc}") from exc
                raise

    def _why_not_writable(self) -> str:
        if self._closed:
            return f"audit log {self.path} is closed"
        if self._broken:
            return f"audit log {self.path} could not take back a failed write; open it again to go on"
        return (
            f"audit log {self.path} was opened in process {self._pid}; this forked child "
            "must open its own JsonlAudit (one writer per file)"
        )

    def flush(self) -> None:
        """Sync what was written to disk now (whatever ``fsync`` says)."""
        with self._lock:
            if self._writable:
                self._sync_or_raise()

    def close(self) -> None:
        """Sync (unless ``fsync="never"``), unlock and close. Later records raise."""
        with self._lock:
            if self._closed:
                return
            if self._writable and self.fsync != "never":
                self._sync_or_raise()
            self._closed = True
            self._writable = False
            self._finalizer()

    def __enter__(self) -> JsonlAudit:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def head(self) -> str:
        """The digest of the last line written: keep it elsewhere to detect a rewritten tail."""
        return self._prev

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._seq} records"
        return f"<JsonlAudit {str(self.path)!r} {state}, fsync={self.fsync}>"

    # ---- the file ------------------------------------------------------------------

    def _open(self) -> AuditRecord | None:
        """Open and lock the log; continue its chain. Returns the record of a repair, if one was made."""
        self._holder = _Holder()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigurationError(f"cannot open audit log {self.path}: {exc.strerror or exc}") from exc
        self._holder.fd = self._fd = fd
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._holder.close()
                raise ConfigurationError(
                    f"audit log {self.path} is being written by another JsonlAudit; "
                    "give each process (and each sink) its own file"
                ) from None
        try:
            return self._resume()
        except BaseException:
            self._holder.close()
            raise

    def _resume(self) -> AuditRecord | None:
        """Find where the chain stands; mend a line cut short by a crash."""
        self._size = os.fstat(self._fd).st_size
        if not self._size:
            self._sync_directory()
        last, fragment = _tail(self.path) if self._size else (None, b"")
        repaired: AuditRecord | None = None
        if fragment and line_state(fragment, self._key) is not None:
            os.write(self._fd, b"\n")  # a whole record missing only its newline
            self._size += 1
            last, fragment = fragment, b""
        self._seq, self._prev = self._position(last)
        if fragment:
            if not cut_short(fragment, self._seq, self._prev):
                raise ConfigurationError(
                    f"audit log {self.path} ends with a line that is not an audit line cut short by a "
                    "crash, so its chain cannot go on (run 'guardrails audit verify'; move the file "
                    "aside to start a new log)"
                )
            kept = self.path.with_name(f"{self.path.name}.crash-{self._seq}")
            kept.write_bytes(fragment)
            os.ftruncate(self._fd, self._size - len(fragment))
            self._size -= len(fragment)
            repaired = AuditRecord(
                time=datetime.now(timezone.utc),
                kind="audit_recovered",
                reason=f"a crash cut record {self._seq} short: its {len(fragment)} bytes were "
                f"moved to {kept.name}, and the chain goes on",
            )
        return repaired

    def _position(self, last: bytes | None) -> tuple[int, str]:
        """The next ``seq`` and the ``prev`` it follows, after the line ``last`` of the
        current file — or, when that file holds none yet, after the newest rotated file."""
        source = self.path
        if last is None:
            rotated = rotated_files(self.path)
            if not rotated:
                return 0, GENESIS
            source = rotated[-1]
            last = _tail(source)[0]
        state = None if last is None else line_state(last, self._key)
        if state is None:
            raise ConfigurationError(
                f"audit log {source} does not end with a whole audit line, so its chain cannot go on "
                "(run 'guardrails audit verify'; move the file aside to start a new log)"
            )
        return state[0] + 1, state[1]

    def _append_rest(self, line: bytes, written: int) -> None:
        while written < len(line):
            written += os.write(self._fd, line[written:])

    def _undo(self, size: int, seq: int, prev: str) -> None:
        """Take back a line that may be partly or wholly written."""
        self._size, self._seq, self._prev = size, seq, prev
        try:
            if os.fstat(self._fd).st_size != size:
                os.ftruncate(self._fd, size)
        except OSError:
            self._writable = False  # the file cannot be put right: refuse every later record
            self._broken = True

    def _sync(self) -> None:
        os.fsync(self._fd)
        self._synced = time.monotonic()

    def _sync_or_raise(self) -> None:
        try:
            self._sync()
        except OSError as exc:
            raise AuditError(f"cannot sync audit log {self.path}: {exc.strerror or exc}") from exc

    def _sync_directory(self) -> None:
        """Make a new file's name durable too."""
        if self.fsync == "never":
            return
        try:
            fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return  # not every platform can open a directory
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _rotate(self) -> None:
        numbers = [int(p.name.rsplit(".", 1)[1]) for p in rotated_files(self.path)]
        target = self.path.with_name(f"{self.path.name}.{max(numbers, default=0) + 1}")
        if self.fsync != "never":
            self._sync_or_raise()
        try:
            if target.exists():  # never replace a file of the log
                raise FileExistsError(errno.EEXIST, "a file of that name exists")
            os.rename(self.path, target)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise AuditError(
                f"cannot rotate audit log {self.path} to {target.name}: {exc.strerror or exc}"
            ) from exc
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._holder.close()
        self._holder.fd = self._fd = fd
        self._size = 0
        self._sync_directory()


class _Holder:
    """The file descriptor, apart from the sink, so a finalizer can close it."""

    __slots__ = ("fd",)

    def __init__(self) -> None:
        self.fd = -1

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)


def _close_fd(holder: _Holder) -> None:
    holder.close()


def _tail(path: Path) -> tuple[bytes | None, bytes]:
    """The last whole line of ``path`` (without newline) and any fragment after it."""
    with path.open("rb") as file:
        end = file.seek(0, os.SEEK_END)
        data = b""
        start = end
        while start > 0 and data.count(b"\n") < 2:
            start = max(0, start - _TAIL_CHUNK)
            file.seek(start)
            data = file.read(end - start)
    head, _, fragment = data.rpartition(b"\n")
    if not _:
        return None, fragment
    last = head.rpartition(b"\n")[2]
    return (last or None), fragment


def _after_fork() -> None:
    for log in list(_open_logs):
        log._lock = threading.Lock()  # another thread may have held it at the fork
        log._writable = False
        log._holder.fd = -1  # the parent's descriptor: the child must not close or write it


os.register_at_fork(after_in_child=_after_fork)
