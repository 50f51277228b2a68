"""State across calls: counters over sliding windows, kept in a store.

A rate limit counts calls, a budget sums an argument, both per key and window.
When a call is decided its use is *reserved*; it is *committed* when the tool
returns and *released* when it raises or does not run, so concurrent calls
cannot jointly overspend and a failed tool does not eat the budget. A token
(the framework's tool-call id, or the call id) is counted once per counter,
however often the same call is re-run.

History (``after(...)``, ``guardrails.policy.history``) is kept the same way: a call
is noted by ``force`` then ``commit`` under a key of its own, and asked about
with ``usage``. Stores forget what has left every window, keys included.

Stores: ``MemoryStore`` (one process), ``SQLiteStore`` (one machine, several
processes, survives restarts), ``RedisStore`` (many hosts; extra ``[redis]``).
Any object with the ``Store`` methods works.
"""

from guardrails.errors import StoreError
from guardrails.state.memory import MemoryStore
from guardrails.state.redis import RedisStore
from guardrails.state.sqlite import SQLiteStore
from guardrails.state.store import Entry, Held, Store

__all__ = ["Entry", "Held", "MemoryStore", "RedisStore", "SQLiteStore", "Store", "StoreError"]
