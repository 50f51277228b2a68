"""What governing a tool call costs, against baselines measured in the same run.

    python benchmarks/overhead.py            # full run, about a minute
    python benchmarks/overhead.py --quick    # a smoke run, a few seconds
    python benchmarks/overhead.py --json out.json

Each case is timed in batches of calls; batches of all cases are interleaved
so that a noisy neighbour slows every case alike, and the median batch is
reported. Ratios, not absolute times, are what carries from one machine to
another.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wrapt

import guardrails as g

LIMIT = 1000


def refund(order_id: str, amount: float) -> str:
    return order_id


async def refund_async(order_id: str, amount: float) -> str:
    return order_id


def policy_with(total_rules: int, actions: int, own_rules: int = 1) -> g.Policy:
    """``total_rules`` rules over ``actions`` actions; ``refund`` has ``own_rules`` of them.

    The other rules belong to other actions (a tenth of them globs over other
    namespaces), so they only cost something if the index fails to skip them.
    """
    rules = [g.allow("refund", when=g.arg("amount") <= LIMIT, id="refund-small")]
    rules += [
        g.deny("refund", when=g.arg("amount") > LIMIT * (10 + i), id=f"refund-cap-{i}")
        for i in range(own_rules - 1)
    ]
    others = total_rules - len(rules)
    for i in range(others):
        action = f"tool{i % (actions - 1)}"
        if i % 10 == 9:
            rules.append(g.deny(f"ns{i}.*", when=g.arg("amount") > i, id=f"glob-{i}"))
        else:
            rules.append(g.allow(action, when=g.arg("amount") <= LIMIT + i, id=f"r-{i}"))
    return g.Policy(rules)


def governed_refund(policy: g.Policy, **options: Any) -> Callable[..., Any]:
    return g.governed("refund", governor=g.Governor(policy, **options))(refund)


def sync_cases() -> dict[str, Callable[[], Any]]:
    def closure(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        return inner

    def passthrough(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return wrapped(*args, **kwargs)

    wraps_fn = closure(refund)
    wrapt_fn = wrapt.FunctionWrapper(refund, passthrough)
    p10 = policy_with(10, 10)
    p1000 = policy_with(1000, 100)
    p10000 = policy_with(10_000, 1000)
    p1000_own10 = policy_with(1000, 100, own_rules=10)
    gov10 = governed_refund(p10)
    gov1000 = governed_refund(p1000)
    gov10000 = governed_refund(p10000)
    gov_own10 = governed_refund(p1000_own10)
    denied = governed_refund(p10, on_deny=lambda d: "denied")
    return {
        "plain call": lambda: refund("o-1", 50),
        "functools.wraps closure": lambda: wraps_fn("o-1", 50),
        "bare wrapt wrapper": lambda: wrapt_fn("o-1", 50),
        "policy.evaluate, 10 rules": lambda: p10.evaluate("refund", {"order_id": "o-1", "amount": 50}),
        "governed, 10 rules": lambda: gov10("o-1", 50),
        "governed, 1,000 rules / 100 actions": lambda: gov1000("o-1", 50),
        "governed, 10,000 rules / 1,000 actions": lambda: gov10000("o-1", 50),
        "governed, 1,000 rules, 10 on the tool": lambda: gov_own10("o-1", 50),
        "governed, denied (on_deny message)": lambda: denied("o-1", 5000),
    }


AUDIT_DIR = Path(tempfile.mkdtemp(prefix="guardrails-bench-"))


def audit_cases() -> dict[str, Callable[[], Any]]:
    """The same governed call (10 rules) with each audit sink: two records per allowed call."""
    p10 = policy_with(10, 10)

    def jsonl(name: str, fsync: Any) -> g.JsonlAudit:
        # Files roll over at 16 MB and the old ones are removed between batches.
        return g.JsonlAudit(AUDIT_DIR / name, fsync=fsync, rotate_bytes=16 << 20)

    never = governed_refund(p10, audit=jsonl("never.jsonl", "never"))
    batch = governed_refund(p10, audit=jsonl("batch.jsonl", "batch"))
    memory = governed_refund(p10, audit=g.MemoryAudit(maxlen=1000))
    null = governed_refund(p10, audit=lambda record: None)
    denied = governed_refund(p10, audit=jsonl("denied.jsonl", "never"), on_deny=lambda d: "denied")
    return {
        "audit: a sink that does nothing": lambda: null("o-1", 50),
        "audit: MemoryAudit": lambda: memory("o-1", 50),
        "audit: JSONL, fsync=never": lambda: never("o-1", 50),
        "audit: JSONL, fsync=batch": lambda: batch("o-1", 50),
        "audit: JSONL, denied call": lambda: denied("o-1", 5000),
    }


def limit_cases() -> dict[str, Callable[[], Any]]:
    """The same governed call with a rate limit no call reaches, kept in each store."""
    p10 = policy_with(10, 10)
    limited = p10 + g.Policy(
        [g.deny("refund", limit=g.rate(10**12, per="1h", key=g.arg("order_id")), id="rate")]
    )
    memory = governed_refund(limited, store=g.MemoryStore())
    sqlite = governed_refund(limited, store=g.SQLiteStore(AUDIT_DIR / "state.db"))
    # A sequence rule that asks about the very action it judges: each call reads
    # the history, then is noted in it.
    sequenced = p10 + g.Policy(
        [g.deny("refund", when=g.after("refund", within="1h", key=[], at_least=10**9), id="seq")]
    )
    after = governed_refund(sequenced, store=g.MemoryStore())
    return {
        "limit: rate, MemoryStore": lambda: memory("o-1", 50),
        "limit: rate, SQLiteStore": lambda: sqlite("o-1", 50),
        "sequence: after(), MemoryStore": lambda: after("o-1", 50),
    }


def provenance_cases() -> dict[str, Callable[[], Any]]:
    """A governed call whose one argument is checked against 1 MB of untrusted output
    recorded in the session (the calls run in ``context(session="bench")``)."""
    p10 = policy_with(10, 10)
    checked = p10 + g.Policy(
        [
            g.deny("refund", when=g.arg("order_id").provenance("untrusted"), id="planted"),
            g.allow("read_page"),
        ]
    )
    store = g.MemoryStore()
    gov = g.Governor(checked, store=store)
    page = g.governed("read_page", governor=gov, output="untrusted")(lambda n: PAGES[n])
    for n in range(len(PAGES)):
        page(n)
    governed = g.governed("refund", governor=gov)(refund)
    if governed("o-1", 50) != "o-1":
        raise RuntimeError("the provenance case must be allowed")
    return {"provenance: 1 argument, 1 MB recorded": lambda: governed("o-1", 50)}


# Four pages of mail-like text, about a megabyte, full of addresses, hosts and numbers.
PAGES = [
    " ".join(
        f"From user{i}@site{i % 97}.example: see https://h{i}.example/p, account {i:010d}"
        for i in range(page * 3500, (page + 1) * 3500)
    )
    for page in range(4)
]


def clear_rotated() -> None:
    for path in AUDIT_DIR.glob("*.jsonl.*"):
        path.unlink()


def matcher_cases() -> dict[str, Callable[[], Any]]:
    """Each matcher judging one typical value, as the condition of a rule sees it."""
    from types import MappingProxyType

    from guardrails.call import Call

    x = g.arg("x")
    cases = {
        "matcher within": (x.within("/srv/data"), "/srv/data/reports/2026/q3.csv"),
        "matcher host_in": (x.host_in(["acme.com"], subdomains=True), "https://api.acme.com/v1/orders?id=7"),
        "matcher email_domain_in": (x.email_domain_in(["acme.com"]), "Dana Smith <dana@acme.com>"),
        "matcher matches (glob)": (x.matches("reports/**/*.csv"), "reports/2026/q3.csv"),
        "matcher regex": (x.regex("[A-Z]{3}-[0-9]+"), "ORD-12345"),
        "matcher shell_command_in": (x.shell_command_in(["git status", "git log"]), "git log --oneline -n 5"),
        "matcher decimal() > 100": (x.decimal() > 100, "99.95"),
        "every() of 5 addresses": (
            x.every().email_domain_in(["acme.com"]),
            [f"u{i}@acme.com" for i in range(5)],
        ),
    }

    def bind(condition: g.policy.Condition, value: Any) -> Callable[[], Any]:
        call = Call("t", MappingProxyType({"x": value}))
        return lambda: condition(call)

    return {name: bind(condition, value) for name, (condition, value) in cases.items()}


def time_sync(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def time_async(fn: Callable[..., Any], calls: int) -> float:
    async def run() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await fn("o-1", 50)
        return (time.perf_counter() - start) / calls

    return asyncio.run(run())


def measure(repeats: int, calls: int) -> dict[str, float]:
    sync = {**sync_cases(), **audit_cases(), **limit_cases(), **provenance_cases(), **matcher_cases()}
    async_cases: dict[str, Callable[..., Any]] = {
        "plain async call": refund_async,
        "governed async, 10 rules": g.governed("refund", governor=g.Governor(policy_with(10, 10)))(
            refund_async
        ),
    }
    samples: dict[str, list[float]] = {name: [] for name in [*sync, *async_cases]}
    for fn in sync.values():  # warm caches before timing
        time_sync(fn, 1000)
    for _ in range(repeats):
        for name, fn in sync.items():
            samples[name].append(time_sync(fn, calls))
        for name, afn in async_cases.items():
            samples[name].append(time_async(afn, calls))
        clear_rotated()
    return {name: statistics.median(values) * 1e6 for name, values in samples.items()}


RATIOS = [
    # (label, numerator, denominator, target or None)
    ("governed / bare wrapt wrapper", "governed, 10 rules", "bare wrapt wrapper", 2.5),
    ("1,000 rules / 10 rules", "governed, 1,000 rules / 100 actions", "governed, 10 rules", 1.2),
    ("10,000 rules / 10 rules", "governed, 10,000 rules / 1,000 actions", "governed, 10 rules", None),
    ("async governed / plain async", "governed async, 10 rules", "plain async call", None),
    ("denied / allowed", "governed, denied (on_deny message)", "governed, 10 rules", None),
    ("rate limit (memory) / no limit", "limit: rate, MemoryStore", "governed, 10 rules", 2.0),
    ("rate limit (SQLite) / no limit", "limit: rate, SQLiteStore", "governed, 10 rules", None),
    ("after() read + note (memory) / none", "sequence: after(), MemoryStore", "governed, 10 rules", None),
]

DIFFERENCES = [
    # (label, case, baseline, target in µs or None): what one part adds to a call
    ("recording two records (any sink)", "audit: a sink that does nothing", "governed, 10 rules", None),
    ("JSONL never, over no audit", "audit: JSONL, fsync=never", "governed, 10 rules", 10.0),
    (
        "provenance, 1 argument, 1 MB recorded",
        "provenance: 1 argument, 1 MB recorded",
        "governed, 10 rules",
        10.0,
    ),
    ("JSONL batch, over no audit", "audit: JSONL, fsync=batch", "governed, 10 rules", 10.0),
    ("JSONL never, over recording", "audit: JSONL, fsync=never", "audit: a sink that does nothing", None),
    ("JSONL batch, over recording", "audit: JSONL, fsync=batch", "audit: a sink that does nothing", None),
    (
        "JSONL, denied call, over no audit",
        "audit: JSONL, denied call",
        "governed, denied (on_deny message)",
        None,
    ),
]


MATCHER_TARGET = 5.0  # µs per matcher on typical input


def report(results: dict[str, float]) -> dict[str, Any]:
    width = max(map(len, results))
    print(f"{'case':<{width}}  µs/call")
    for name, micros in results.items():
        mark = ""
        if name.startswith("matcher "):
            mark = f"   target ≤ {MATCHER_TARGET:g}: {'met' if micros <= MATCHER_TARGET else 'MISSED'}"
        print(f"{name:<{width}}  {micros:8.3f}{mark}")
    print()
    ratios = {}
    for label, top, bottom, target in RATIOS:
        ratio = results[top] / results[bottom]
        ratios[label] = ratio
        verdict = "" if target is None else f"   target ≤ {target}: {'met' if ratio <= target else 'MISSED'}"
        print(f"{label:<34} {ratio:6.2f}×{verdict}")
    print()
    for label, case, baseline, target in DIFFERENCES:
        added = results[case] - results[baseline]
        ratios[label] = added
        verdict = (
            "" if target is None else f"   target ≤ {target:g}: {'met' if added <= target else 'MISSED'}"
        )
        print(f"{label:<34} {added:+6.2f} µs{verdict}")
    return ratios


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "wrapt": getattr(wrapt, "__version__", "?"),
        "guardrails": g.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few seconds: checks the benchmark runs")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--calls", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    options = parser.parse_args()
    repeats = options.repeats or (3 if options.quick else 21)
    calls = options.calls or (2_000 if options.quick else 50_000)
    info = machine()
    print(
        f"guardrails {info['guardrails']} · Python {info['python']} · {info['platform']} · {info['cpus']} CPUs"
    )
    print(f"median of {repeats} batches of {calls:,} calls\n")
    with g.context(session="bench"):  # every case alike: provenance is kept per session
        results = measure(repeats, calls)
    ratios = report(results)
    if options.json:
        options.json.write_text(
            json.dumps({"machine": info, "micros": results, "ratios": ratios}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
