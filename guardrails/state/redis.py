"""``RedisStore``: counters in Redis, shared by agents on many hosts (extra ``[redis]``).

Each reservation is one Lua script, so it is atomic on the server whatever
the number of clients. Times come from the Redis server (``TIME``) unless a
``clock`` is given, so hosts with skewed clocks agree on the window.

Amounts are kept as integer millionths: exact to six decimal places, up to
about nine billion per counter (Lua counts in doubles). An amount with more
decimal places is refused (``StoreError``), never rounded.
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from guardrails.errors import ConfigurationError, StoreError
from guardrails.state.store import EXACT, Entry, Held

__all__ = ["RedisStore"]

_RECORD = ":r"
_GLOB = re.compile(r"[*?\[\]\\]")
_UNIT = Decimal("0.000001")
_SCALE = Decimal(1_000_000)
_MAX_UNITS = 2**53  # Lua's numbers are doubles: integers are exact below this

_NOW = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
"""

# Per counter: a sorted set of tokens by time (:t), their amounts and states
# (:a, "amount|0" reserved, "amount|1" used) and the running total (:n).
_EXPIRE = """
local function expire(z, h, n, before)
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', before)
  for _, t in ipairs(old) do
    local v = redis.call('HGET', h, t)
    if v then redis.call('DECRBY', n, string.match(v, '^(%d+)')) end
    redis.call('HDEL', h, t)
  end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', before)
end
local function used(n)
  return tonumber(redis.call('GET', n) or '0')
end
"""

# KEYS: zset, hash, total per entry. ARGV: now ('' for the server's), check,
# token, then window, limit, amount per entry.
_RESERVE = (
    _NOW
    + _EXPIRE
    + """
local check, token = ARGV[2] == '1', ARGV[3]
local out = {}
for i = 1, #KEYS / 3 do
  local z, h, n = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local base = 3 + (i - 1) * 3
  local window, limit, amount = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), ARGV[base + 3]
  expire(z, h, n, now - window)
  local v = redis.call('HGET', h, token)
  if v then
    if string.sub(v, -1) == '1' then out[i] = 'counted' else out[i] = 'busy' end
  elseif check and used(n) + tonumber(amount) > limit then
    out[i] = 'over'
  else
    redis.call('ZADD', z, now, token)
    redis.call('HSET', h, token, amount .. '|0')
    redis.call('INCRBY', n, amount)
    local ttl = math.ceil(window * 1000) + 60000
    redis.call('PEXPIRE', z, ttl)
    redis.call('PEXPIRE', h, ttl)
    redis.call('PEXPIRE', n, ttl)
    out[i] = 'held'
  end
end
return out
"""
)

# KEYS: zset, hash, total per key. ARGV: token, "commit" or "release".
_SETTLE = """
local token, commit = ARGV[1], ARGV[2] == 'commit'
for i = 1, #KEYS / 3 do
  local z, h, n = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local v = redis.call('HGET', h, token)
  if v then
    local amount, state = string.match(v, '^(%d+)|(%d)$')
    if commit then
      redis.call('HSET', h, token, amount .. '|1')
    elseif state == '0' then
      redis.call('HDEL', h, token)
      redis.call('ZREM', z, token)
      redis.call('DECRBY', n, amount)
    end
  end
end
return 1
"""

# KEYS: zset, hash, total. ARGV: now, window.
_USAGE = (
    _NOW
    + _EXPIRE
    + """
local window = tonumber(ARGV[2])
local sum = 0
local fresh = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - window), '+inf')
for _, t in ipairs(fresh) do
  local v = redis.call('HGET', KEYS[2], t)
  if v then sum = sum + tonumber(string.match(v, '^(%d+)')) end
end
return string.format('%.0f', sum)
"""
)


# KEYS: the record. ARGV: expected given ('0'/'1'), expected, new given, new, ttl in ms ('' none).
_SWAP = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
if ARGV[3] == '0' then
  redis.call('DEL', KEYS[1])
elseif ARGV[5] == '' then
  redis.call('SET', KEYS[1], ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
end
return 1
"""


class RedisStore:
    """Counters in a Redis server (``url``, or a ``redis.Redis`` given as ``client``).

    ``prefix`` starts every Redis key this store uses. Keys expire a minute
    after their window, so Redis holds only what can still count.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        client: Any = None,
        prefix: str = "guardrails:",
        clock: Callable[[], float] | None = None,
        timeout: float = 2.0,
    ) -> None:
        if client is None:
            try:
                import redis
            except ImportError:
                raise ConfigurationError(
                    "RedisStore needs the redis client: pip install 'guardrails[redis]'"
                ) from None
            client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
            self._finalizer: Any = weakref.finalize(self, client.close)  # ours to close
        self._redis = client
        self.prefix = prefix
        self._clock = clock
        self._reserve_script = client.register_script(_RESERVE)
        self._settle_script = client.register_script(_SETTLE)
        self._usage_script = client.register_script(_USAGE)
        self._swap_script = client.register_script(_SWAP)
        try:
            self._call(client.ping)  # fail now, not at the first call, if the server cannot be reached
        except StoreError:
            client.close()
            raise

    def reserve(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        """See ``Store.reserve``; every entry in one Lua script, atomic on the server.
        An amount it cannot keep exactly, or a limit with more than six decimal
        places, raises ``StoreError`` (see the module)."""
        return self._reserve(token, entries, check=True)

    def force(self, token: str, entries: Sequence[Entry]) -> list[Held]:
        """See ``Store.force``; one Lua script, atomic on the server, as ``reserve``."""
        return self._reserve(token, entries, check=False)

    def _reserve(self, token: str, entries: Sequence[Entry], *, check: bool) -> list[Held]:
        if not entries:
            return []
        keys = [k for entry in entries for k in self._keys(entry.key)]
        args: list[Any] = [self._now(), "1" if check else "0", token]
        for entry in entries:
            limit = min(_units(entry.limit, clamp=True), _MAX_UNITS - 1)  # beyond it: never reached anyway
            args += [repr(float(entry.window)), str(limit), str(_units(entry.amount))]
        result = self._call(self._reserve_script, keys=keys, args=args)
        return [_text(item) for item in result]

    def commit(self, token: str, keys: Sequence[str]) -> None:
        """See ``Store.commit``; one Lua script, atomic on the server."""
        self._settle(token, keys, "commit")

    def release(self, token: str, keys: Sequence[str]) -> None:
        """See ``Store.release``; one Lua script, atomic on the server."""
        self._settle(token, keys, "release")

    def _settle(self, token: str, keys: Sequence[str], how: str) -> None:
        if keys:
            self._call(
                self._settle_script, keys=[k for key in keys for k in self._keys(key)], args=[token, how]
            )

    def usage(self, key: str, window: float) -> Decimal:
        """See ``Store.usage``; one Lua script, timed by the server unless a ``clock`` is given."""
        units = self._call(self._usage_script, keys=self._keys(key), args=[self._now(), repr(float(window))])
        return Decimal(_text(units)) / _SCALE

    def close(self) -> None:
        """Close the connections."""
        self._redis.close()

    def __repr__(self) -> str:
        return f"<RedisStore prefix={self.prefix!r}>"

    def read(self, key: str) -> str | None:
        """See ``Store.read``; one ``GET``."""
        value = self._call(self._redis.get, name=self._record(key))
        return None if value is None else str(_text(value))

    def swap(self, key: str, expected: str | None, new: str | None, ttl: float | None = None) -> bool:
        """See ``Store.swap``; one Lua script, atomic on the server (``ttl`` in whole
        milliseconds, rounded up)."""
        args = [
            "0" if expected is None else "1",
            expected or "",
            "0" if new is None else "1",
            new or "",
            "" if ttl is None else str(max(1, math.ceil(ttl * 1000))),
        ]
        return bool(self._call(self._swap_script, keys=[self._record(key)], args=args))

    def scan(self, prefix: str) -> dict[str, str]:
        """See ``Store.scan``; ``SCAN`` then ``MGET``, so not one atomic view: a record
        removed in between is left out."""
        pattern = _GLOB.sub(r"\\\g<0>", self._record(prefix)[: -len(_RECORD)]) + "*" + _RECORD
        names = list(self._call(self._redis.scan_iter, match=pattern, count=500))
        if not names:
            return {}
        values = self._call(self._redis.mget, keys=names)
        start, end = len(self.prefix), -len(_RECORD)
        return {
            str(_text(name))[start:end]: str(_text(value))
            for name, value in zip(names, values, strict=True)
            if value is not None
        }

    def add_tokens(self, key: str, tokens: Iterable[str], ttl: float) -> int:
        """See ``Store.add_tokens``; one ``MULTI``/``EXEC`` transaction. With no tokens
        it only counts the set, leaving its expiry as it was."""
        name, items = self._set(key), list(tokens)

        def add() -> int:
            pipe = self._redis.pipeline(transaction=True)
            for start in range(0, len(items), 1000):
                pipe.sadd(name, *items[start : start + 1000])
            pipe.pexpire(name, max(1, math.ceil(ttl * 1000)))
            pipe.scard(name)
            return int(pipe.execute()[-1])

        return int(self._call(add)) if items else int(self._call(self._redis.scard, name=name))

    def find_tokens(self, key: str, tokens: Iterable[str]) -> set[str]:
        """See ``Store.find_tokens``; one ``SMISMEMBER`` (Redis 6.2 or later)."""
        items = list(dict.fromkeys(tokens))
        if not items:
            return set()
        flags = self._call(self._redis.smismember, name=self._set(key), values=items)
        return {token for token, flag in zip(items, flags, strict=True) if flag}

    def _set(self, key: str) -> str:
        return f"{self.prefix}{key}:s"  # counters end in :t, :a or :n, records in :r

    def _record(self, key: str) -> str:
        return f"{self.prefix}{key}{_RECORD}"  # counters end in :t, :a or :n; records never do

    def _keys(self, key: str) -> list[str]:
        return [f"{self.prefix}{key}:t", f"{self.prefix}{key}:a", f"{self.prefix}{key}:n"]

    def _now(self) -> str:
        return "" if self._clock is None else repr(float(self._clock()))

    def _call(self, function: Any, **kwargs: Any) -> Any:
        try:
            return function(**kwargs)
        except Exception as exc:
            raise StoreError(f"the Redis state store failed: {type(exc).__name__}: {exc}") from exc


def _units(amount: Decimal, *, clamp: bool = False) -> int:
    if clamp and amount >= _MAX_UNITS:
        return _MAX_UNITS
    try:
        units = EXACT.multiply(amount, _SCALE)
    except ArithmeticError:
        raise StoreError(f"RedisStore cannot keep {amount} exactly") from None
    if units != units.to_integral_value():
        raise StoreError(f"RedisStore keeps six decimal places; {amount} has more")
    if abs(units) >= _MAX_UNITS:
        raise StoreError(f"RedisStore counts exactly up to {_MAX_UNITS / _SCALE:.0f}; {amount} is more")
    return int(units)


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
