"""The ``guardrails`` command: ``audit verify`` and ``audit show``, their output and exit codes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import guardrails as g
from guardrails.cli import main

POLICY = g.Policy(
    [
        g.allow("payments.refund", when=g.arg("amount") <= 100, id="small-refunds"),
        g.deny("payments.wire", id="no-wires", reason="wires are off"),
        g.allow("send_email", id="mail"),
        g.deny("send_email", when=g.arg("to").endswith("@evil.com"), id="strict-mail", shadow=True),
    ]
)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    sink = g.JsonlAudit(path)
    gov = g.Governor(POLICY, audit=sink)
    refund = g.governed("payments.refund", governor=gov)(lambda amount: "ok")
    wire = g.governed("payments.wire", governor=gov)(lambda amount: "sent")
    mail = g.governed("send_email", governor=gov)(lambda to: "sent")
    with g.context(session="s-1"):
        refund(10)
        with pytest.raises(g.ActionDenied):
            wire(5)
    with g.context(session="s-2"):
        mail("bob@evil.com")
        with pytest.raises(g.ActionDenied):
            refund(500)
    gov.block("payments.*")
    sink.close()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class TestVerify:
    def test_intact(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An intact log: exit 0 and the count."""
        code, out, _ = run(capsys, "audit", "verify", str(log))
        assert code == 0
        assert out.startswith("ok: 8 records")

    def test_tampered(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A tampered log: exit 1, naming the line and what happened."""
        lines = log.read_bytes().splitlines(keepends=True)
        del lines[2]
        log.write_bytes(b"".join(lines))
        code, out, _ = run(capsys, "audit", "verify", str(log))
        assert code == 1
        assert "TAMPERED" in out and "audit.jsonl:3: deleted" in out

    def test_truncated_is_not_tampering(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A crash-truncated tail: exit 0, reported."""
        log.write_bytes(log.read_bytes()[:-30])
        code, out, _ = run(capsys, "audit", "verify", str(log))
        assert code == 0
        assert "truncated" in out and "crash" in out

    def test_json(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """``--json`` prints the result for CI."""
        log.write_bytes(log.read_bytes().replace(b'"amount":10', b'"amount":99', 1))
        code, out, _ = run(capsys, "audit", "verify", "--json", str(log))
        result = json.loads(out)
        assert code == 1 and result["ok"] is False
        assert result["problem"]["kind"] == "edited" and result["problem"]["line"] == 1

    def test_key_from_the_environment(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An HMAC key comes from an environment variable, never the command line."""
        path = tmp_path / "keyed.jsonl"
        g.JsonlAudit(path, key="k3y").close()
        sink = g.JsonlAudit(path, key="k3y")
        g.governed("x", governor=g.Governor(g.Policy([g.allow("x")]), audit=sink))(lambda: 1)()
        sink.close()
        monkeypatch.setenv("AUDIT_KEY", "k3y")
        assert run(capsys, "audit", "verify", "--key-env", "AUDIT_KEY", str(path))[0] == 0
        assert run(capsys, "audit", "verify", str(path))[0] == 1
        code, _, err = run(capsys, "audit", "verify", "--key-env", "NOT_SET_ANYWHERE", str(path))
        assert code == 2 and "NOT_SET_ANYWHERE is not set" in err

    def test_head_and_start(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """``--head`` must still be in the log; ``--start`` lets a chain begin after removed files."""
        head = g.verify_audit(log).head
        assert run(capsys, "audit", "verify", "--head", head, str(log))[0] == 0
        code, out, _ = run(capsys, "audit", "verify", "--head", "a" * 64, str(log))
        assert code == 1 and "is not in the log" in out
        assert run(capsys, "audit", "verify", "--start", "b" * 64, str(log))[0] == 1

    def test_missing_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A file that is not there: exit 2 and a message, no traceback."""
        code, _, err = run(capsys, "audit", "verify", str(tmp_path / "nope.jsonl"))
        assert code == 2 and "no audit log" in err

    @pytest.mark.parametrize(
        "text",
        ['version = 1\n[[rules]]\naction = "x"\n', '{"kind": "call", "action": "x"}\n', "\x00\xff binary"],
    )
    def test_not_an_audit_log(self, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
        """A file with no line of a log (a policy, records without a chain): exit 3, said so, not TAMPERED."""
        path = tmp_path / "policy.toml"
        path.write_text(text, encoding="latin-1")
        code, out, _ = run(capsys, "audit", "verify", str(path))
        assert code == 3
        assert (
            out.startswith(f"NOT AN AUDIT LOG: {path}: no line of it is a record") and "TAMPERED" not in out
        )
        code, out, _ = run(capsys, "audit", "verify", "--json", str(path))
        assert code == 3 and json.loads(out)["problem"]["kind"] == "not_an_audit_log"

    def test_a_rewritten_log_is_tampered(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A log rewritten whole (its chain stripped, a decision changed) is TAMPERED (exit 1), not
        a stranger (exit 3): its lines are records. With --head or --start, never a stranger."""
        head = g.verify_audit(log).head
        rewritten = []
        for line in log.read_text().splitlines():
            fields = json.loads(line)
            for name in ("seq", "prev", "hash"):
                fields.pop(name, None)
            if fields.get("effect") == "deny":
                fields["effect"] = "allow"
            rewritten.append(json.dumps(fields))
        log.write_text("\n".join(rewritten) + "\n")
        for argv in ([], ["--head", head], ["--start", head], ["--json"]):
            code, out, _ = run(capsys, "audit", "verify", *argv, str(log))
            assert code == 1 and "NOT AN AUDIT LOG" not in out and "not_an_audit_log" not in out, argv
            assert out.startswith("TAMPERED: ") or json.loads(out)["ok"] is False
        stranger = log.parent / "policy.toml"
        stranger.write_text('version = 1\n[[rules]]\naction = "x"\n')
        assert run(capsys, "audit", "verify", str(stranger))[0] == 3
        code, out, _ = run(capsys, "audit", "verify", "--head", head, str(stranger))
        assert code == 1 and out.startswith("TAMPERED: ")

    def test_a_garbled_log_is_still_tampered(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A log whose first lines were replaced is tampered (exit 1), not a stranger: one chained line tells."""
        lines = log.read_bytes().splitlines(keepends=True)
        log.write_bytes(b"garbage\n" + b"[1, 2]\n" + b"".join(lines[2:]))
        code, out, _ = run(capsys, "audit", "verify", str(log))
        assert code == 1 and out.startswith("TAMPERED: ") and "audit.jsonl:1: edited" in out
        log.write_bytes(b"")
        assert run(capsys, "audit", "verify", str(log))[:2] == (
            0,
            f"ok: 0 records, chain intact ({log}); head {'0' * 64}\n",
        )


class TestShow:
    def test_table(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Every record, oldest first, one line each, with a count."""
        code, out, _ = run(capsys, "audit", "show", str(log))
        lines = out.splitlines()
        assert code == 0
        assert lines[0].split() == [
            "TIME", "(UTC)", "USER", "ACTION", "EFFECT", "OUTCOME", "RULE", "ARGS", "REASON",
        ]  # fmt: skip
        assert len(lines) == 1 + 8 + 1
        assert "no-wires" in lines[3] and "not_run" in lines[3] and "wires are off" in lines[3]
        assert "deny*" in out and "shadow" in lines[-1]
        assert "block payments.*" in out
        assert "\033[" not in out  # not a terminal: no colour

    @pytest.mark.parametrize(
        ("options", "expected"),
        [
            (["--effect", "deny"], 3),
            (["--action", "payments.*"], 5),
            (["--action", "send_*", "--calls-only"], 3),
            (["--session", "s-1"], 3),
            (["--outcome", "returned"], 2),
            (["--since", "1h"], 8),
            (["--until", "1h"], 0),
        ],
    )
    def test_filters(
        self, log: Path, capsys: pytest.CaptureFixture[str], options: list[str], expected: int
    ) -> None:
        """Filters by action, effect, outcome, session and time combine."""
        code, out, _ = run(capsys, "audit", "show", "--json", *options, str(log))
        assert code == 0
        assert len(out.splitlines()) == expected

    def test_time_forms(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Times are ISO 8601 (UTC unless said) or ages; anything else is a usage error."""
        future = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        assert run(capsys, "audit", "show", "--json", "--since", future, str(log))[1] == ""
        with pytest.raises(SystemExit) as exit_info:
            main(["audit", "show", "--since", "yesterday", str(log)])
        assert exit_info.value.code == 2
        assert "not a time" in capsys.readouterr().err

    def test_user_and_arguments(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """USER is the context's user; ARGS the recorded (redacted) arguments, shortened unless --full-args."""
        path = tmp_path / "audit.jsonl"
        sink = g.JsonlAudit(path)
        tool = g.governed("send_email", governor=g.Governor(g.Policy([g.allow("send_email")]), audit=sink))(
            lambda to, body, password: "sent"
        )
        with g.context(user="alice"):
            tool("bob@acme.com", "x" * 200, password="hunter22")
        tool("carol@acme.com", "short", password="p")
        sink.close()
        _, out, _ = run(capsys, "audit", "show", "--calls-only", str(path))
        rows = out.splitlines()[1:-1]
        assert rows[0].split()[2] == "alice" and rows[-1].split()[2] == "-"
        assert 'to="bob@acme.com", body="xxxxxx' in rows[0] and "…" in rows[0]
        assert "hunter22" not in out and "x" * 200 not in out
        _, full, _ = run(capsys, "audit", "show", "--full-args", "--user", "alice", str(path))
        assert "x" * 200 in full and "hunter22" not in full
        assert len(full.splitlines()) == 1 + 2 + 1  # alice's call: started, returned

    def test_json_lines_are_records(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """``--json`` prints records that read back as AuditRecords."""
        _, out, _ = run(capsys, "audit", "show", "--json", str(log))
        records = [g.AuditRecord.model_validate_json(line) for line in out.splitlines()]
        assert records == list(g.read_audit(log))

    def test_terminal_gets_colour_and_fits(self, log: Path) -> None:
        """On a terminal, effects are coloured and lines cut to its width; NO_COLOR turns colour off."""
        import io

        from guardrails.cli.audit import _table
        from guardrails.cli.common import colour as _colour

        out = io.StringIO()
        _table(g.read_audit(log), out, colour=True, width=130)
        lines = out.getvalue().splitlines()
        assert "\033[31m" in out.getvalue() and "\033[32m" in out.getvalue()
        plain = [
            line.replace("\033[31m", "").replace("\033[32m", "").replace("\033[0m", "") for line in lines
        ]
        assert all(len(line) <= 130 for line in plain[1:-1])
        assert any(line.endswith("…") for line in plain)

        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("NO_COLOR", raising=False)
            patch.setenv("TERM", "xterm")
            assert _colour(Terminal())
            patch.setenv("NO_COLOR", "1")
            assert not _colour(Terminal())
        assert not _colour(io.StringIO())

    def test_unreadable_line(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A line that is not a record: exit 2 naming file and line."""
        lines = log.read_bytes().splitlines(keepends=True)
        lines.insert(1, b"garbage\n")
        log.write_bytes(b"".join(lines))
        code, _, err = run(capsys, "audit", "show", str(log))
        assert code == 2 and "audit.jsonl:2: not an audit record" in err


class TestHostileLogs:
    def test_rows_cannot_be_forged(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A newline or escape code in a tool's error is shown escaped, not as a new row or a colour."""
        path = tmp_path / "audit.jsonl"
        sink = g.JsonlAudit(path)
        gov = g.Governor(g.Policy([g.allow("x")]), audit=sink)

        @g.governed("x", governor=gov)
        def x() -> None:
            raise ValueError("oops\n2026-01-01 00:00:00  payments.wire  deny  not_run\x1b[8m")

        with pytest.raises(ValueError, match="oops"):
            x()
        sink.close()
        _, out, _ = run(capsys, "audit", "show", str(path))
        assert len(out.splitlines()) == 1 + 2 + 1
        assert "\x1b" not in out and "\\x1b[8m" in out and "\\n2026" in out

    def test_braces_in_rule_ids(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Rule ids are printed as they are, braces and all."""
        path = tmp_path / "audit.jsonl"
        sink = g.JsonlAudit(path)
        g.governed("x", governor=g.Governor(g.Policy([g.allow("x", id="tier-{gold}")]), audit=sink))(
            lambda: 1
        )()
        sink.close()
        code, out, _ = run(capsys, "audit", "show", str(path))
        assert code == 0 and "tier-{gold}" in out

    def test_huge_ages_and_naive_times(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An age longer than the calendar, and records whose time has no zone, still filter."""
        path = tmp_path / "audit.jsonl"
        sink = g.JsonlAudit(path)
        sink(g.AuditRecord(time=datetime(2026, 1, 1, 12, 0), kind="note", reason="hand-made"))
        sink.close()
        code, out, _ = run(capsys, "audit", "show", "--json", "--since", "99999999d", str(path))
        assert code == 0 and len(out.splitlines()) == 1
        code, out, _ = run(capsys, "audit", "show", "--json", "--since", "2026-01-01T13:00", str(path))
        assert code == 0 and out == ""


class TestUsage:
    def test_no_command(self, capsys: pytest.CaptureFixture[str]) -> None:
        """No command prints help and exits 2."""
        code, out, _ = run(capsys)
        assert code == 2 and "audit" in out

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        """``--version`` prints the distribution's name and the version that runs."""
        with pytest.raises(SystemExit) as exit_info:
            main(["--version"])
        assert exit_info.value.code == 0
        assert capsys.readouterr().out == f"runtime-guardrails {g.__version__}\n"

    @pytest.mark.parametrize(
        ("argv0", "prog"),
        [
            ("/venv/bin/runtime-guardrails", "runtime-guardrails"),
            ("C:\\venv\\Scripts\\runtime-guardrails.exe", "runtime-guardrails"),
            ("/src/guardrails/__main__.py", "python -m guardrails"),
            ("/venv/bin/guardrails", "guardrails"),
            ("/venv/bin/pytest", "runtime-guardrails"),
        ],
    )
    def test_the_name_it_was_run_by(self, argv0: str, prog: str) -> None:
        """Usage names the command as it was run."""
        from guardrails.cli import program

        assert program(argv0.replace("\\", "/")) == prog

    @pytest.mark.parametrize("argv", [["--help"], ["audit", "verify", "--help"], ["audit", "show", "--help"]])
    def test_help_teaches(self, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
        """Help explains the command and its exit codes."""
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        out: Any = capsys.readouterr().out
        assert exit_info.value.code == 0
        assert "Exit codes" in out or "Examples" in out
