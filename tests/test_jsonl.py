"""The hash-chained JSONL log: writing, rotating, resuming, and catching every kind of tampering."""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import guardrails as g
from guardrails.audit.chain import GENESIS, audit_files

POLICY = g.Policy([g.allow("refund"), g.deny("wire", reason="no wires")])


def write(path: Path, calls: int, **options: Any) -> g.JsonlAudit:
    """A log with ``calls`` refunds (two records each) and one denied wire."""
    log = g.JsonlAudit(path, **options)
    gov = g.Governor(POLICY, audit=log)

    @g.governed("refund", governor=gov)
    def refund(order_id: str, amount: float) -> str:
        return "ok"

    @g.governed("wire", governor=gov)
    def wire(amount: float) -> None: ...

    for i in range(calls):
        refund(f"A-{i}", float(i))
    with pytest.raises(g.ActionDenied):
        wire(1.0)
    return log


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    write(path, 5).close()  # 11 records
    return path


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, new: list[bytes]) -> None:
    path.write_bytes(b"".join(new))


class TestWriting:
    def test_lines_are_json_records_in_a_chain(self, log_path: Path) -> None:
        """Each line is a JSON record with its place, the previous digest and its own."""
        parsed = [json.loads(line) for line in lines(log_path)]
        assert [p["seq"] for p in parsed] == list(range(11))
        assert parsed[0]["prev"] == GENESIS
        assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(parsed))
        assert parsed[1]["args"] == {"order_id": "A-0", "amount": 0.0}
        assert parsed[-1]["outcome"] == "not_run" and parsed[-1]["reason"] == "no wires"

    def test_read_back_as_records(self, tmp_path: Path) -> None:
        """``read_audit`` gives back the records the sinks received, field by field."""
        memory = g.MemoryAudit()
        log = g.JsonlAudit(tmp_path / "a.jsonl")
        refund = g.governed("refund", governor=g.Governor(POLICY, audit=[memory, log]))(lambda order_id: "ok")
        with g.context(user="alice", tool_call_id="call_1"):
            refund("A-1")
        log.close()
        read = list(g.read_audit(tmp_path / "a.jsonl"))
        assert len(read) == len(memory.records) == 2
        for got, sent in zip(read, memory.records, strict=False):
            assert got.model_dump(exclude={"duration_ms"}) == sent.model_dump(exclude={"duration_ms"})
            assert got.duration_ms == pytest.approx(sent.duration_ms, abs=1e-6)

    def test_verifies(self, log_path: Path) -> None:
        """An untouched log verifies, and says how many records and its head."""
        result = g.verify_audit(log_path)
        assert result.ok and result.problem is None and not result.truncated
        assert result.records == 11
        assert result.head == json.loads(lines(log_path)[-1])["hash"]
        assert str(result).startswith("ok: 11 records")

    def test_empty_log_verifies(self, tmp_path: Path) -> None:
        """A log opened but never written is a valid, empty chain."""
        g.JsonlAudit(tmp_path / "a.jsonl").close()
        assert g.verify_audit(tmp_path / "a.jsonl").records == 0

    def test_resumes_the_chain_after_restart(self, log_path: Path) -> None:
        """Opening an existing log continues its chain."""
        write(log_path, 2).close()
        result = g.verify_audit(log_path)
        assert result.ok and result.records == 11 + 5

    def test_head_is_the_last_digest(self, tmp_path: Path) -> None:
        """``head`` is what to keep elsewhere to detect a rewritten tail."""
        log = write(tmp_path / "a.jsonl", 1)
        assert log.head == g.verify_audit(tmp_path / "a.jsonl").head
        log.close()

    def test_one_writer_per_file(self, log_path: Path) -> None:
        """A second sink on the same file is refused clearly (the chain would fork)."""
        first = g.JsonlAudit(log_path)
        with pytest.raises(g.ConfigurationError, match="being written by another JsonlAudit"):
            g.JsonlAudit(log_path)
        first.close()
        g.JsonlAudit(log_path).close()

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
    def test_forked_child_must_open_its_own(self, tmp_path: Path) -> None:
        """A child process cannot write the parent's log: it fails closed, and the parent's chain stays whole."""
        log = write(tmp_path / "a.jsonl", 1)
        record = next(iter(g.read_audit(tmp_path / "a.jsonl")))
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            try:
                log(record)
            except g.AuditError as exc:
                os._exit(0 if "forked child" in str(exc) else 3)
            os._exit(4)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        log(record)
        log.close()
        assert g.verify_audit(tmp_path / "a.jsonl").ok

    def test_options_are_checked(self, tmp_path: Path) -> None:
        """Bad options are ConfigurationErrors naming the option."""
        for options, name in [
            ({"fsync": "sometimes"}, "fsync"),
            ({"fsync_interval": 0}, "fsync_interval"),
            ({"rotate_bytes": -1}, "rotate_bytes"),
            ({"rotate_bytes": 1.5}, "rotate_bytes"),
            ({"key": b""}, "key"),
        ]:
            with pytest.raises(g.ConfigurationError, match=name):
                g.JsonlAudit(tmp_path / "a.jsonl", **options)

    def test_fsync_modes(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """'always' syncs every record, 'batch' at most once per interval, 'never' only when asked."""
        synced: list[int] = []
        real = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
        counts = {}
        for mode in ("always", "batch", "never"):
            synced.clear()
            log = write(tmp_path / f"{mode}.jsonl", 5, fsync=mode, fsync_interval=3600)
            counts[mode] = len(synced)
            log.close()
            counts[mode + " closed"] = len(synced)
        files = 1  # a new file's directory entry is synced once (not with 'never')
        assert counts["always"] == 11 + files
        assert counts["batch"] == files
        assert counts["batch closed"] == files + 1
        assert counts["never"] == counts["never closed"] == 0

    def test_key_makes_an_hmac_chain(self, tmp_path: Path) -> None:
        """With a key, only the key verifies the log; a plain re-hash does not."""
        write(tmp_path / "a.jsonl", 2, key="s3cret").close()
        assert g.verify_audit(tmp_path / "a.jsonl", key="s3cret").ok
        wrong = g.verify_audit(tmp_path / "a.jsonl")
        assert not wrong.ok and wrong.problem is not None
        assert "pass it" in wrong.problem.message
        assert not g.verify_audit(tmp_path / "a.jsonl", key="guess").ok


class TestRotation:
    def test_rotates_and_verifies_across_files(self, tmp_path: Path) -> None:
        """Files roll over at ``rotate_bytes``; the chain runs on across them."""
        path = tmp_path / "audit.jsonl"
        write(path, 20, rotate_bytes=2000).close()
        files = audit_files(path)
        assert len(files) > 3
        assert files[-1] == path and files[0].name == "audit.jsonl.1"
        assert all(f.stat().st_size <= 2000 for f in files)
        result = g.verify_audit(path)
        assert result.ok and result.records == 41
        assert len(list(g.read_audit(path))) == 41

    def test_resumes_from_the_latest_rotated_file(self, tmp_path: Path) -> None:
        """After a rotation the new file may be missing or empty: the chain continues from the last rotated one."""
        path = tmp_path / "audit.jsonl"
        write(path, 5, rotate_bytes=1500).close()
        path.unlink()  # as if the process died right after renaming
        write(path, 1).close()
        assert g.verify_audit(path).ok

    def test_a_rotated_file_alone_misses_its_start(self, tmp_path: Path) -> None:
        """Verifying a later file alone reports the earlier records as missing."""
        path = tmp_path / "audit.jsonl"
        write(path, 10, rotate_bytes=1500).close()
        result = g.verify_audit(audit_files(path)[1])
        assert not result.ok and result.problem is not None
        assert result.problem.kind == "deleted" and "earlier rotated files" in result.problem.message

    def test_deleting_a_rotated_file_is_found(self, tmp_path: Path) -> None:
        """A whole rotated file removed from the middle is a deletion."""
        path = tmp_path / "audit.jsonl"
        write(path, 10, rotate_bytes=1500).close()
        audit_files(path)[1].unlink()
        problem = g.verify_audit(path).problem
        assert problem is not None and problem.kind == "deleted"


class TestTampering:
    def test_edited_line(self, log_path: Path) -> None:
        """Changing a value in a line: the line no longer matches its digest."""
        content = lines(log_path)
        edited = content[4].replace(b'"amount":2.0', b'"amount":9.0')
        assert edited != content[4]
        content[4] = edited
        rewrite(log_path, content)
        result = g.verify_audit(log_path)
        assert not result.ok and result.problem is not None
        assert (result.problem.kind, result.problem.line) == ("edited", 5)
        assert result.records == 4

    def test_edited_and_rehashed_line(self, log_path: Path) -> None:
        """Editing a line and fixing its own digest still breaks the link from the next line."""
        import hashlib

        content = lines(log_path)
        doc = content[4].rstrip(b"\n")
        cut = doc.rindex(b',"hash":"')
        body = doc[:cut].replace(b'"amount":2.0', b'"amount":9.0')
        assert body != doc[:cut]
        content[4] = body + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'
        rewrite(log_path, content)
        problem = g.verify_audit(log_path).problem
        assert problem is not None and (problem.kind, problem.line) == ("edited", 6)
        assert "rewritten" in problem.message

    def test_deleted_line(self, log_path: Path) -> None:
        """Removing a line leaves a gap in the sequence."""
        content = lines(log_path)
        del content[3]
        rewrite(log_path, content)
        problem = g.verify_audit(log_path).problem
        assert problem is not None and (problem.kind, problem.line) == ("deleted", 4)
        assert "record 3 missing" in problem.message

    def test_deleted_first_lines(self, log_path: Path) -> None:
        """Removing the start of the log is found: the chain does not begin at record 0."""
        rewrite(log_path, lines(log_path)[2:])
        problem = g.verify_audit(log_path).problem
        assert problem is not None and (problem.kind, problem.line) == ("deleted", 1)

    def test_reordered_lines(self, log_path: Path) -> None:
        """Swapping two lines is reported as reordering, not deletion."""
        content = lines(log_path)
        content[3], content[4] = content[4], content[3]
        rewrite(log_path, content)
        problem = g.verify_audit(log_path).problem
        assert problem is not None and (problem.kind, problem.line) == ("reordered", 4)

    def test_line_moved_later(self, log_path: Path) -> None:
        """A line moved towards the end is reordering too."""
        content = lines(log_path)
        content.append(content.pop(2))
        rewrite(log_path, content)
        problem = g.verify_audit(log_path).problem
        assert problem is not None and problem.kind == "reordered"

    def test_inserted_copy(self, log_path: Path) -> None:
        """A copied line (a replayed approval, say) is an insertion."""
        content = lines(log_path)
        content.insert(6, content[2])
        rewrite(log_path, content)
        problem = g.verify_audit(log_path).problem
        assert problem is not None and (problem.kind, problem.line) == ("inserted", 7)

    def test_forged_line(self, log_path: Path) -> None:
        """A line that is not an audit line at all is an edit."""
        content = lines(log_path)
        content.insert(5, b'{"seq":5,"action":"refund","effect":"allow"}\n')
        rewrite(log_path, content)
        problem = g.verify_audit(log_path).problem
        assert problem is not None and (problem.kind, problem.line) == ("edited", 6)

    def test_blank_line(self, log_path: Path) -> None:
        """Even an empty line in the middle is an edit."""
        content = lines(log_path)
        content.insert(5, b"\n")
        rewrite(log_path, content)
        problem = g.verify_audit(log_path).problem
        assert problem is not None and problem.kind == "edited"

    @pytest.mark.parametrize(
        "tail",
        [b'{"seq":10,"prev":"0000', b'{"note":"nothing to see here"}', b"garbage"],
        ids=["wrong-prev", "foreign-json", "garbage"],
    )
    def test_unfinished_last_line_that_no_crash_makes(self, log_path: Path, tail: bytes) -> None:
        """A last line without a newline is a crash only if it is how the next line would begin."""
        rewrite(log_path, [*lines(log_path)[:-1], tail])
        result = g.verify_audit(log_path)
        assert not result.ok and result.problem is not None and result.problem.kind == "edited"

    def test_edited_last_line_without_newline_is_tampering(self, log_path: Path) -> None:
        """Editing the last line and dropping its newline does not pass for a crash."""
        content = lines(log_path)
        edited = content[-1].rstrip(b"\n").replace(b'"amount":1.0', b'"amount":5.0')
        assert edited != content[-1].rstrip(b"\n")
        rewrite(log_path, [*content[:-1], edited])
        result = g.verify_audit(log_path)
        assert not result.ok and result.problem is not None and result.problem.kind == "edited"

    @pytest.mark.parametrize("keep", [1, 40, -3])
    def test_truncated_last_line_is_a_crash_not_tampering(self, log_path: Path, keep: int) -> None:
        """A last line cut short (no newline, not whole) is reported as truncated, and the log is ok."""
        content = lines(log_path)
        content[-1] = content[-1][:keep]
        rewrite(log_path, content)
        result = g.verify_audit(log_path)
        assert result.ok and result.truncated
        assert result.problem is not None and result.problem.line == 11
        assert result.records == 10
        assert "crash" in str(result)
        assert len(list(g.read_audit(log_path))) == 10

    def test_cut_line_in_the_middle_is_tampering(self, log_path: Path) -> None:
        """A line cut short anywhere but the end is not a crash."""
        content = lines(log_path)
        content[5] = content[5][:40] + b"\n"
        rewrite(log_path, content)
        result = g.verify_audit(log_path)
        assert not result.ok and result.problem is not None and result.problem.kind == "edited"
        with pytest.raises(g.AuditError, match=r"audit.jsonl:6: not an audit record"):
            list(g.read_audit(log_path))

    def test_last_line_without_newline_but_whole(self, log_path: Path) -> None:
        """A whole last line missing only its newline is fine."""
        rewrite(log_path, [*lines(log_path)[:-1], lines(log_path)[-1].rstrip(b"\n")])
        result = g.verify_audit(log_path)
        assert result.ok and not result.truncated and result.records == 11

    def test_missing_file(self, tmp_path: Path) -> None:
        """Verifying a file that is not there is an error, not 'ok'."""
        with pytest.raises(FileNotFoundError):
            g.verify_audit(tmp_path / "nope.jsonl")


class TestRecovery:
    def test_crash_fragment_is_moved_aside_and_recorded(self, log_path: Path) -> None:
        """Reopening a log whose last line was cut short moves the fragment to a side file,
        says so in the log, and the chain verifies."""
        content = lines(log_path)
        fragment = content[-1][:50]
        content[-1] = fragment
        rewrite(log_path, content)
        write(log_path, 1).close()
        result = g.verify_audit(log_path)
        assert result.ok and not result.truncated
        records = list(g.read_audit(log_path))
        recovered = records[10]
        assert recovered.kind == "audit_recovered"
        assert (
            "a crash cut record 10 short: its 50 bytes were moved to audit.jsonl.crash-10" in recovered.reason
        )
        assert (log_path.parent / "audit.jsonl.crash-10").read_bytes() == fragment
        assert len(records) == 10 + 1 + 3
        assert audit_files(log_path) == [log_path]  # the side file is not part of the chain

    def test_crash_in_the_first_line_after_rotation(self, tmp_path: Path) -> None:
        """A crash cutting the first line of a freshly rotated file: the chain goes on from the rotated file."""
        path = tmp_path / "audit.jsonl"
        write(path, 6, rotate_bytes=1500).close()
        assert audit_files(path)[:-1]
        path.write_bytes(lines(path)[0][:60])  # only a cut first line left in the current file
        assert g.verify_audit(path).truncated
        write(path, 1).close()
        result = g.verify_audit(path)
        assert result.ok and not result.truncated, result

    def test_tampered_fragment_is_not_removed(self, log_path: Path) -> None:
        """A last line that is not how the next line would begin is no crash: the sink refuses to go on."""
        forged = b'{"note":"nothing to see here"}'
        rewrite(log_path, [*lines(log_path)[:-1], forged])
        with pytest.raises(g.ConfigurationError, match="not an audit line cut short by a crash"):
            g.JsonlAudit(log_path)
        assert lines(log_path)[-1] == forged

    def test_whole_last_line_without_newline_is_kept(self, log_path: Path) -> None:
        """A last line missing only its newline is completed, not thrown away."""
        rewrite(log_path, [*lines(log_path)[:-1], lines(log_path)[-1].rstrip(b"\n")])
        write(log_path, 1).close()
        result = g.verify_audit(log_path)
        assert result.ok and result.records == 11 + 3
        assert all(r.kind == "call" for r in g.read_audit(log_path))

    def test_tampered_tail_refuses_to_continue(self, log_path: Path) -> None:
        """If the last whole line is not a valid audit line, the sink will not build on it."""
        content = lines(log_path)
        content[-1] = b'{"not": "a record"}\n'
        rewrite(log_path, content)
        with pytest.raises(g.ConfigurationError, match="does not end with a whole audit line"):
            g.JsonlAudit(log_path)


class TestCommandLineEntry:
    def test_python_dash_m(self, log_path: Path) -> None:
        """``python -m guardrails audit verify`` works without the console script."""
        import subprocess

        done = subprocess.run(
            [sys.executable, "-m", "guardrails", "audit", "verify", str(log_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "ok: 11 records" in done.stdout


class TestHardCases:
    def test_log_named_like_a_rotated_file(self, tmp_path: Path) -> None:
        """A log called ``audit.20261127`` rotates to ``.1``, ``.2``... and loses nothing."""
        path = tmp_path / "audit.20261127"
        write(path, 20, rotate_bytes=1500).close()
        assert len(audit_files(path)) > 3
        result = g.verify_audit(path)
        assert result.ok and result.records == 41

    def test_rotation_never_replaces_a_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """If the rotated name is taken after all (another program, a race), the write fails
        and the call stops; nothing is overwritten."""
        import guardrails.audit.jsonl

        path = tmp_path / "audit.jsonl"
        log = write(path, 1, rotate_bytes=900)
        taken = path.with_name("audit.jsonl.1")
        before = taken.read_bytes()
        monkeypatch.setattr(guardrails.audit.jsonl, "rotated_files", lambda path: [])  # the listing misses it
        record = next(iter(g.read_audit(path)))

        def until_it_rotates() -> None:
            for _ in range(5):
                log(record)

        with pytest.raises(g.AuditError, match="cannot rotate"):
            until_it_rotates()
        assert taken.read_bytes() == before
        log.close()

    def test_interrupted_write_is_taken_back(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Ctrl-C between writing a line and syncing it: the line is taken back and the chain stays whole."""
        path = tmp_path / "audit.jsonl"
        log = write(path, 1, fsync="always")
        record = next(iter(g.read_audit(path)))
        real = os.fsync

        def interrupted(fd: int) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(os, "fsync", interrupted)
        with pytest.raises(KeyboardInterrupt):
            log(record)
        monkeypatch.setattr(os, "fsync", real)
        log(record)
        log.close()
        result = g.verify_audit(path)
        assert result.ok and result.records == 4

    def test_failed_sync_stops_the_call_and_leaves_no_line(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A sync that fails: the call does not run, and the log holds no 'started' without an outcome."""
        path = tmp_path / "audit.jsonl"
        log = g.JsonlAudit(path, fsync="always")
        ran: list[int] = []
        refund = g.governed("refund", governor=g.Governor(POLICY, audit=log))(lambda: ran.append(1))

        def failing(fd: int) -> None:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(os, "fsync", failing)
        with pytest.raises(g.AuditError, match="Input/output error"):
            refund()
        monkeypatch.undo()
        log.close()
        assert ran == []
        assert path.read_bytes() == b""

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
    def test_fork_while_another_thread_writes(self, tmp_path: Path) -> None:
        """A child forked while the lock is held fails closed at once instead of hanging."""
        import threading

        log = write(tmp_path / "a.jsonl", 1)
        record = next(iter(g.read_audit(tmp_path / "a.jsonl")))
        log._lock.acquire()  # as if another thread were writing at the fork
        try:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child reports through its exit code
                timer = threading.Timer(5, lambda: os._exit(9))
                timer.start()
                try:
                    log(record)
                except g.AuditError:
                    os._exit(0)
                os._exit(4)
        finally:
            log._lock.release()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        log.close()

    def test_start_and_head_anchors(self, tmp_path: Path) -> None:
        """Old files removed on purpose verify from the head noted before; a noted head must still be there."""
        path = tmp_path / "audit.jsonl"
        write(path, 10, rotate_bytes=1500).close()
        files = audit_files(path)
        noted = g.verify_audit(files[0]).head
        files[0].unlink()
        assert not g.verify_audit(path).ok
        assert g.verify_audit(path, start=noted).ok
        assert not g.verify_audit(path, start="f" * 64).ok
        head = g.verify_audit(path, start=noted).head
        assert g.verify_audit(path, start=noted, head=head).ok
        missing = g.verify_audit(path, start=noted, head="e" * 64)
        assert (
            not missing.ok and missing.problem is not None and "is not in the log" in missing.problem.message
        )
