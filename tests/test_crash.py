"""A writer killed with SIGKILL at random moments loses nothing it confirmed, and the log still verifies."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import guardrails as g

KILLS = 50

WRITER = """
import sys
import guardrails as g

path, run = sys.argv[1], sys.argv[2]
log = g.JsonlAudit(path, fsync="always", rotate_bytes=300_000)
gov = g.Governor(g.Policy([g.allow("refund"), g.deny("wire")]), audit=log)

@g.governed("refund", governor=gov)
def refund(order_id: str, note: str, pages: list[str]) -> str:
    return order_id

@g.governed("wire", governor=gov)
def wire(amount: float) -> None: ...

print("ready", flush=True)
i = 0
while True:
    # Lines of very different sizes; the largest (~800 KB) take long enough to
    # write that a kill can land in the middle of one and leave half a line.
    pages = ["y" * 4000] * (200 if i % 4 == 3 else i % 7)
    order_id = refund(f"{run}-{i}", "x" * (i * 7919 % 60_000), pages)
    print(order_id, flush=True)  # only after the call returned to its caller
    try:
        wire(1.0)
    except g.ActionDenied:
        pass
    i += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX only")
def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    """Kill the writer ≥50 times (its log rotating as it goes): each time the log verifies (at worst a truncated tail),
    every call that returned has its 'returned' record, and the next writer appends and
    the chain goes on."""
    path = tmp_path / "audit.jsonl"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    seed = int(os.environ.get("GUARDRAILS_CRASH_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    confirmed: list[str] = []
    truncated = 0
    for run in range(KILLS):
        writer = subprocess.Popen(
            [sys.executable, str(script), str(path), str(run)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        ready = writer.stdout.readline()
        assert ready == "ready\n", (
            f"seed {seed}, run {run}: writer failed: {ready}{writer.stderr.read() if writer.stderr else ''}"
        )
        time.sleep(rng.uniform(0, 0.08))
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate()
        assert writer.returncode == -signal.SIGKILL
        # A line printed in full was printed after its call returned.
        confirmed += list(out.split("\n")[:-1])

        result = g.verify_audit(path)
        assert result.ok, f"seed {seed}, run {run}: {result}"
        truncated += result.truncated
        returned = {
            r.args["order_id"]
            for r in g.read_audit(path)
            if r.kind == "call" and r.outcome is g.Outcome.RETURNED
        }
        lost = [order_id for order_id in confirmed if order_id not in returned]
        assert not lost, f"seed {seed}, run {run}: calls returned but not recorded: {lost[:5]}"

    assert len(confirmed) >= KILLS, f"seed {seed}: the writers barely ran ({len(confirmed)} calls)"
    g.JsonlAudit(path).close()  # a last restart mends any truncated tail
    final = g.verify_audit(path)
    assert final.ok and not final.truncated, f"seed {seed}: {final}"
    recovered = [r for r in g.read_audit(path) if r.kind == "audit_recovered"]
    print(f"seed {seed}: {len(confirmed)} calls confirmed, {truncated} truncated tails")
    assert len(recovered) == truncated
