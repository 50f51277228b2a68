"""guardrails beside the engines a user would pick instead: pycasbin and cedarpy.

    pip install -e '.[bench]'
    python benchmarks/compare.py                   # the full run, a few minutes
    python benchmarks/compare.py --quick --out /tmp/smoke   # a smoke run (CI)

The same policy for every engine: N rules, each allowing one tool when an
amount is under a limit, the rule that matches the call written last; a call
that is allowed and one that is denied (an amount over the limit). Each
engine is built once and judged per call, as its documentation recommends:
pycasbin's ``Enforcer`` and ``FastEnforcer`` with an ABAC ``eval()``
matcher, cedarpy's ``is_authorized`` with a pre-parsed ``PolicySet`` and
``Entities``. Floors (a plain call, a ``functools.wraps`` closure, a bare
wrapt wrapper) are measured in the same run.

Per-call figures are medians of repeated batches, interleaved so that a noisy
neighbour slows every case alike. The run also measures the time to build a
policy, its memory (tracemalloc; cedarpy's lives in Rust, so its figure is
the growth of the process), and calls per second from one and two threads.
It writes ``compare.json`` and ``compare.png`` (latency against N, log-log)
to ``--out`` (``benchmarks/results`` unless given).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wrapt

import guardrails as g

LIMIT = 1000
ALLOWED, DENIED = 50, 5000
RESULTS = Path(__file__).resolve().parent / "results"


def tool(amount: float) -> str:
    return "done"


# ---- the engines ----------------------------------------------------------------------


def guardrails_policy(n: int) -> g.Policy:
    """N rules, one per tool; the called tool is the last."""
    return g.Policy([g.allow(f"tool_{i}", when=g.arg("amount") < LIMIT) for i in range(n)])


CASBIN_MODEL = """
[request_definition]
r = sub, act, amount

[policy_definition]
p = sub, act, rule

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.sub == p.sub && r.act == p.act && eval(p.rule)
"""


def casbin_enforcer(n: int, *, fast: bool, folder: Path) -> Any:
    import casbin

    model = folder / "model.conf"
    model.write_text(CASBIN_MODEL)
    enforcer = (
        casbin.FastEnforcer(str(model), None, cache_key_order=[0, 1]) if fast else casbin.Enforcer(str(model))
    )
    enforcer.add_policies([["agent", f"tool_{i}", f"r.amount < {LIMIT}"] for i in range(n)])
    return enforcer


def cedar_policies(n: int) -> str:
    return "\n".join(
        f'permit(principal, action == Action::"tool_{i}", resource) when {{ context.amount < {LIMIT} }};'
        for i in range(n)
    )


def cedar_engine(n: int) -> tuple[Any, Any]:
    import cedarpy

    return cedarpy.PolicySet.from_str(cedar_policies(n)), cedarpy.Entities.from_json_str("[]")


def cedar_request(n: int, amount: int) -> dict[str, Any]:
    return {
        "principal": 'User::"agent"',
        "action": f'Action::"tool_{n - 1}"',
        "resource": 'Tool::"shop"',
        "context": {"amount": amount},
    }


# ---- the cases ----------------------------------------------------------------------------


def floor_cases() -> dict[str, Callable[[], Any]]:
    @functools.wraps(tool)
    def closure(*args: Any, **kwargs: Any) -> Any:
        return tool(*args, **kwargs)

    @wrapt.decorator
    def passthrough(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return wrapped(*args, **kwargs)

    bare = passthrough(tool)
    return {
        "floor: plain call": lambda: tool(ALLOWED),
        "floor: functools.wraps closure": lambda: closure(ALLOWED),
        "floor: bare wrapt wrapper": lambda: bare(ALLOWED),
    }


def engine_cases(n: int, folder: Path) -> tuple[dict[str, Callable[[], Any]], dict[str, Callable[[], Any]]]:
    """Sync cases and async cases (coroutine functions) at N rules."""
    import cedarpy

    policy = guardrails_policy(n)
    name = f"tool_{n - 1}"
    gov = g.Governor(policy)
    governed = g.governed(name, governor=gov)(tool)
    denying = g.Governor(policy, on_deny=lambda denial: "denied")
    governed_denied = g.governed(name, governor=denying)(tool)

    async def async_tool(amount: float) -> str:
        return "done"

    governed_async = g.governed(name, governor=gov)(async_tool)
    limited_policy = policy + g.Policy([g.deny(name, limit=g.rate(10**12, per="1h"), id="rate")])
    limited = g.governed(name, governor=g.Governor(limited_policy, store=g.MemoryStore()))(tool)
    audit = g.JsonlAudit(
        Path(tempfile.mkdtemp(dir=folder)) / "audit.jsonl", fsync="never", rotate_bytes=64 * 1024 * 1024
    )
    audited = g.governed(name, governor=g.Governor(policy, audit=audit))(tool)
    casbin = casbin_enforcer(n, fast=False, folder=folder)
    fast = casbin_enforcer(n, fast=True, folder=folder)
    policies, entities = cedar_engine(n)
    allowed, denied = cedar_request(n, ALLOWED), cedar_request(n, DENIED)
    args_allowed, args_denied = {"amount": ALLOWED}, {"amount": DENIED}
    # Every engine must agree on both calls, or the comparison means nothing.
    agreed = [
        policy.evaluate(name, args_allowed).allowed,
        not policy.evaluate(name, args_denied).allowed,
        casbin.enforce("agent", name, ALLOWED),
        not casbin.enforce("agent", name, DENIED),
        fast.enforce("agent", name, ALLOWED),
        not fast.enforce("agent", name, DENIED),
        cedarpy.is_authorized(allowed, policies, entities).allowed,
        not cedarpy.is_authorized(denied, policies, entities).allowed,
        governed(ALLOWED) == limited(ALLOWED) == audited(ALLOWED) == "done",
        governed_denied(DENIED) == "denied",
    ]
    if not all(agreed):
        raise RuntimeError(f"the engines disagree at N={n}: {agreed}")

    sync = {
        "guardrails: policy.evaluate": lambda: policy.evaluate(name, args_allowed),
        "guardrails: governed call": lambda: governed(ALLOWED),
        "guardrails: governed, rate limit (MemoryStore)": lambda: limited(ALLOWED),
        "guardrails: governed, JSONL audit": lambda: audited(ALLOWED),
        "guardrails: policy.evaluate, denied": lambda: policy.evaluate(name, args_denied),
        "guardrails: governed call, denied": lambda: governed_denied(DENIED),
        "pycasbin: enforce": lambda: casbin.enforce("agent", name, ALLOWED),
        "pycasbin: enforce, denied": lambda: casbin.enforce("agent", name, DENIED),
        "pycasbin: FastEnforcer": lambda: fast.enforce("agent", name, ALLOWED),
        "pycasbin: FastEnforcer, denied": lambda: fast.enforce("agent", name, DENIED),
        "cedarpy: is_authorized": lambda: cedarpy.is_authorized(allowed, policies, entities),
        "cedarpy: is_authorized, denied": lambda: cedarpy.is_authorized(denied, policies, entities),
    }
    return sync, {"guardrails: governed async call": lambda: governed_async(ALLOWED)}


# ---- timing -----------------------------------------------------------------------------


def batch_size(fn: Callable[[], Any], target: float) -> int:
    """How many calls take about ``target`` seconds (at least one)."""
    calls = 1
    while True:
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        spent = time.perf_counter() - started
        if spent >= target / 4 or calls >= 1 << 20:
            return max(1, int(calls * target / max(spent, 1e-9)))
        calls *= 4


def time_sync(fn: Callable[[], Any], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls


def time_async(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any], calls: int) -> float:
    async def run() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await fn()
        return (time.perf_counter() - started) / calls

    return loop.run_until_complete(run())


def measure(
    sync: dict[str, Callable[[], Any]],
    async_cases: dict[str, Callable[[], Any]],
    repeats: int,
    target: float,
) -> dict[str, float]:
    """Median µs per call of each case, batches interleaved."""
    loop = asyncio.new_event_loop()
    try:
        sizes = {name: batch_size(fn, target) for name, fn in sync.items()}
        for name, afn in async_cases.items():
            sizes[name] = max(1, int(target / max(time_async(loop, afn, 200), 1e-9)))
        samples: dict[str, list[float]] = {name: [] for name in sizes}
        for _ in range(repeats):
            for name, fn in sync.items():
                samples[name].append(time_sync(fn, sizes[name]))
            for name, afn in async_cases.items():
                samples[name].append(time_async(loop, afn, sizes[name]))
    finally:
        loop.close()
    return {name: statistics.median(values) * 1e6 for name, values in samples.items()}


def throughput(fn: Callable[[], Any], threads: int, seconds: float) -> tuple[float, int]:
    """Calls per second from ``threads`` threads calling ``fn`` for ``seconds``, and
    how many calls raised (counted, not in the rate)."""
    counts = [0] * threads
    failures = [0] * threads
    stop = threading.Event()

    def work(slot: int) -> None:
        done = failed = 0
        while not stop.is_set():
            try:
                fn()
                done += 1
            except Exception:  # noqa: BLE001 - an engine that fails under threads: counted
                failed += 1
        counts[slot], failures[slot] = done, failed

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started), sum(failures)


def rss() -> int:
    """The process's resident memory in bytes (Linux), else 0."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def build_costs(n: int, folder: Path) -> dict[str, dict[str, float]]:
    """Seconds to build each engine's policy of ``n`` rules, and its memory in bytes."""
    out: dict[str, dict[str, float]] = {}
    builders: dict[str, Callable[[], Any]] = {
        "guardrails": lambda: _compiled(guardrails_policy(n), n),
        "guardrails, from a document": lambda: _compiled(
            g.Policy.from_dict(
                {
                    "rules": [
                        {"action": f"tool_{i}", "effect": "allow", "when": {"arg": "amount", "lt": LIMIT}}
                        for i in range(n)
                    ]
                }
            ),
            n,
        ),
        "pycasbin": lambda: casbin_enforcer(n, fast=False, folder=folder),
        "pycasbin FastEnforcer": lambda: casbin_enforcer(n, fast=True, folder=folder),
        "cedarpy": lambda: cedar_engine(n),
    }
    for name, build in builders.items():
        gc.collect()
        started = time.perf_counter()
        built = build()
        seconds = time.perf_counter() - started
        del built
        gc.collect()
        before_rss = rss()
        tracemalloc.start()
        built = build()
        traced, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        grown = rss() - before_rss
        del built
        out[name] = {"build_seconds": seconds, "traced_bytes": traced, "rss_growth_bytes": grown}
    return out


def _compiled(policy: g.Policy, n: int) -> g.Policy:
    policy.judge_for(f"tool_{n - 1}")  # what the first call compiles
    return policy


# ---- the report ---------------------------------------------------------------------------


TARGETS = [
    # (label, numerator case, denominator case, N, at least)
    ("pycasbin enforce / governed call, N=10", "pycasbin: enforce", "guardrails: governed call", 10, 25.0),
    ("cedarpy / governed call, N=10", "cedarpy: is_authorized", "guardrails: governed call", 10, 25.0),
    (
        "pycasbin enforce / governed call, N=10,000",
        "pycasbin: enforce",
        "guardrails: governed call",
        10_000,
        500.0,
    ),
    (
        "cedarpy / governed call, N=10,000",
        "cedarpy: is_authorized",
        "guardrails: governed call",
        10_000,
        500.0,
    ),
]


def report(results: dict[str, Any]) -> list[str]:
    lines = []
    ns = results["ns"]
    cases = list(next(iter(results["latency_us"].values())))
    width = max(len(c) for c in cases)
    lines.append(f"{'µs per call':{width}}  " + "  ".join(f"{'N=' + format(n, ','):>12}" for n in ns))
    for case in cases:
        cells = "  ".join(f"{results['latency_us'][str(n)][case]:12.3f}" for n in ns)
        lines.append(f"{case:{width}}  {cells}")
    lines.append("")
    lines.append("ratio to guardrails' governed call")
    for case in cases:
        if case.startswith(("pycasbin", "cedarpy")) and not case.endswith("denied"):
            cells = "  ".join(
                f"{results['latency_us'][str(n)][case] / results['latency_us'][str(n)]['guardrails: governed call']:11.0f}×"
                for n in ns
            )
            lines.append(f"{case:{width}}  {cells}")
    lines.append("")
    for label, top, bottom, n, least in TARGETS:
        if str(n) in results["latency_us"]:
            ratio = results["latency_us"][str(n)][top] / results["latency_us"][str(n)][bottom]
            verdict = "met" if ratio >= least else "MISSED"
            lines.append(f"{label:45} {ratio:10.0f}×   target ≥ {least:g}×: {verdict}")
    first, last = str(ns[0]), str(ns[-1])
    flat = (
        results["latency_us"][last]["guardrails: governed call"]
        / results["latency_us"][first]["guardrails: governed call"]
    )
    lines.append(
        f"{'governed call, N=' + format(ns[-1], ',') + ' / N=' + format(ns[0], ','):45} {flat:10.2f}×   target ≤ 1.2×: {'met' if flat <= 1.2 else 'MISSED'}"
    )
    lines.append("")
    lines.append(f"building a policy of {results['build_n']:,} rules")
    for name, cost in results["build"].items():
        per_rule = cost["traced_bytes"] / results["build_n"]
        lines.append(
            f"  {name:28} {cost['build_seconds'] * 1000:9.1f} ms   traced {per_rule * 1000 / 1024:8.0f} KiB"
            f" per 1,000 rules   process grew {cost['rss_growth_bytes'] / results['build_n'] * 1000 / 1024:8.0f} KiB"
        )
    build = results["build"]["guardrails"]
    lines.append(
        f"  guardrails build < 1 s: {'met' if build['build_seconds'] < 1 else 'MISSED'}; "
        f"memory < 5 KiB per rule: {'met' if build['traced_bytes'] / results['build_n'] < 5120 else 'MISSED'}"
    )
    lines.append("")
    lines.append(
        f"calls per second at N={results['throughput_n']:,}: 1 thread, 2 threads (calls that raised)"
    )
    for name, ((one, one_failed), (two, two_failed)) in results["throughput"].items():
        lines.append(f"  {name:40} {one:12,.0f} ({one_failed}) {two:12,.0f} ({two_failed})")
    return lines


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = results["ns"]
    lines = [
        ("guardrails: governed call", "guardrails, governed call", "-o"),
        ("guardrails: policy.evaluate", "guardrails, policy.evaluate", "-s"),
        ("guardrails: governed, rate limit (MemoryStore)", "guardrails, with a rate limit", "--o"),
        ("guardrails: governed, JSONL audit", "guardrails, with the JSONL audit", ":o"),
        ("pycasbin: enforce", "pycasbin Enforcer (ABAC)", "-^"),
        ("pycasbin: FastEnforcer", "pycasbin FastEnforcer", "-v"),
        ("cedarpy: is_authorized", "cedarpy is_authorized", "-D"),
    ]
    figure, axes = plt.subplots(figsize=(8, 6.2), dpi=110)
    for case, label, style in lines:
        axes.plot(ns, [results["latency_us"][str(n)][case] for n in ns], style, label=label)
    for case, label in (
        ("floor: bare wrapt wrapper", "bare wrapt wrapper"),
        ("floor: plain call", "plain call"),
    ):
        axes.axhline(results["floors_us"][case], color="grey", linestyle="--", linewidth=0.8)
        axes.annotate(
            label,
            (ns[0], results["floors_us"][case]),
            textcoords="offset points",
            xytext=(2, 3),
            fontsize=8,
            color="grey",
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("rules in the policy (N)")
    axes.set_ylabel("µs per allowed call (median)")
    axes.set_title("One allowed tool call, the matching rule written last")
    axes.grid(True, which="both", linewidth=0.3)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    figure.text(0.99, 0.005, results["machine"], ha="right", fontsize=7, color="grey")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: N = 10 and 100, short batches")
    parser.add_argument("--out", type=Path, default=None, help="where compare.json and compare.png go")
    options = parser.parse_args()
    ns = [10, 100] if options.quick else [10, 100, 1_000, 10_000]
    repeats, target = (3, 0.005) if options.quick else (7, 0.1)
    out = options.out or RESULTS
    out.mkdir(parents=True, exist_ok=True)
    import casbin  # noqa: F401 - fail now with a clear message if the extra is missing
    import cedarpy  # noqa: F401

    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"
    print(f"guardrails {g.__version__} · {machine}")
    with tempfile.TemporaryDirectory(prefix="guardrails-compare-") as scratch:
        folder = Path(scratch)
        floors = measure(floor_cases(), {}, repeats, target)
        latency: dict[str, dict[str, float]] = {}
        for n in ns:
            sync, async_cases = engine_cases(n, folder)
            latency[str(n)] = measure(sync, async_cases, repeats, target)
            print(
                f"  N={n:,}: governed {latency[str(n)]['guardrails: governed call']:.2f} µs, "
                f"pycasbin {latency[str(n)]['pycasbin: enforce']:.0f} µs, cedarpy {latency[str(n)]['cedarpy: is_authorized']:.1f} µs"
            )
        build_n = ns[-1] if options.quick else 10_000
        build = build_costs(build_n, folder)
        throughput_n = 100
        sync, _ = engine_cases(throughput_n, folder)
        seconds = 0.2 if options.quick else 2.0
        rates = {
            name: (throughput(sync[name], 1, seconds), throughput(sync[name], 2, seconds))
            # Not FastEnforcer: it filters its shared policy in place, and from two
            # threads at once it fails (or answers for the other thread's request).
            for name in ("guardrails: governed call", "pycasbin: enforce", "cedarpy: is_authorized")
        }
    results: dict[str, Any] = {
        "guardrails": g.__version__,
        "pycasbin": _version("pycasbin"),
        "cedarpy": _version("cedarpy"),
        "machine": machine,
        "python": sys.version.split()[0],
        "quick": options.quick,
        "repeats": repeats,
        "ns": ns,
        "floors_us": floors,
        "latency_us": {n: {**floors, **cases} for n, cases in latency.items()},
        "build_n": build_n,
        "build": build,
        "throughput_n": throughput_n,
        "throughput": rates,
    }
    print()
    print("\n".join(report(results)))
    (out / "compare.json").write_text(json.dumps(results, indent=2) + "\n")
    chart(results, out / "compare.png")
    print(f"\nwrote {out / 'compare.json'} and {out / 'compare.png'}")


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
