"""Per-tenant limits: a token bucket (rate, burst) on analyses and a cap on concurrent
streams.

Two interchangeable stores: in memory (one replica; exact because the event loop runs each
check without yielding) and Redis (all replicas share one budget; exact because each check
is one Lua script, run atomically by Redis on Redis's own clock). Stream slots in Redis are
leases that the holder renews, so a replica that dies cannot leak its tenants' slots.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc

from gateway.errors import Refused
from veritas import refs

log = logging.getLogger("veritas.gateway")

STREAM_RETRY_S = 1.0  # a stream slot frees when a stream ends: no better estimate exists


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: float = 0.0


def refill(tokens: float, elapsed_s: float, rate: float, burst: float) -> float:
    return min(burst, tokens + max(0.0, elapsed_s) * rate)


def take(tokens: float, cost: float, rate: float) -> tuple[float, Verdict]:
    """(tokens left, verdict) for a bucket already refilled."""
    if tokens >= cost:
        return tokens - cost, Verdict(True)
    return tokens, Verdict(False, (cost - tokens) / rate)


class Limiter(Protocol):
    rate: float
    burst: float

    async def take(self, tenant: str, cost: int) -> Verdict: ...

    async def acquire_stream(self, tenant: str) -> str | None:
        """A lease id, or None when the tenant has all its streams open."""
        ...

    async def release_stream(self, tenant: str, lease: str) -> None: ...


@dataclass
class MemoryLimiter:
    rate: float
    burst: float
    max_streams: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    streams: dict[str, set[str]] = field(default_factory=dict)

    async def take(self, tenant: str, cost: int) -> Verdict:
        now = time.monotonic()
        tokens, last = self.buckets.get(tenant, (self.burst, now))
        tokens, verdict = take(refill(tokens, now - last, self.rate, self.burst), cost, self.rate)
        self.buckets[tenant] = (tokens, now)
        return verdict

    async def acquire_stream(self, tenant: str) -> str | None:
        open_ = self.streams.setdefault(tenant, set())
        if len(open_) >= self.max_streams:
            return None
        lease = uuid.uuid4().hex
        open_.add(lease)
        return lease

    async def release_stream(self, tenant: str, lease: str) -> None:
        self.streams.get(tenant, set()).discard(lease)


# KEYS[1] bucket; ARGV rate, burst, cost. Times in microseconds from Redis's clock.
TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(s[1]), tonumber(s[2])
if tokens == nil then tokens, ts = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - ts) / 1000000 * rate)
local allowed, retry = 0, 0
if tokens >= cost then tokens = tokens - cost; allowed = 1 else retry = (cost - tokens) / rate end
local fmt = '%.17g'
redis.call('HSET', KEYS[1], 'tokens', string.format(fmt, tokens), 'ts', string.format(fmt, now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, string.format('%.17g', retry)}
"""

# KEYS[1] zset of leases scored by expiry (ms); ARGV lease, cap, ttl_ms.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return n
"""


class RedisLimiter:
    def __init__(
        self,
        redis: object,
        rate: float,
        burst: float,
        max_streams: int,
        prefix: str = "veritas",
        lease_ttl_s: float = 30.0,
    ) -> None:
        self.redis = redis
        self.rate = rate
        self.burst = burst
        self.max_streams = max_streams
        self.prefix = prefix
        self.lease_ttl_ms = int(lease_ttl_s * 1000)
        self._take = redis.register_script(TAKE)  # type: ignore[attr-defined]
        self._acquire = redis.register_script(ACQUIRE)  # type: ignore[attr-defined]
        self._renew = redis.register_script(RENEW)  # type: ignore[attr-defined]
        self._renewals: dict[str, asyncio.Task[None]] = {}

    async def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        import redis.exceptions

        try:
            return await script(keys=keys, args=args)
        except redis.exceptions.RedisError as e:
            # Fail closed: without the shared budget no replica can keep the limit.
            ref = refs.logged(log, "rate-limit store unavailable", str(e))  # names its address
            message = refs.with_ref("rate-limit store unavailable; retry later", ref)
            raise Refused(grpc.StatusCode.UNAVAILABLE, message, ref=ref) from e

    async def take(self, tenant: str, cost: int) -> Verdict:
        key = f"{self.prefix}:bucket:{tenant}"
        allowed, retry = await self._call(self._take, [key], [self.rate, self.burst, cost])
        return Verdict(bool(int(allowed)), float(retry))

    async def acquire_stream(self, tenant: str) -> str | None:
        key, lease = f"{self.prefix}:streams:{tenant}", uuid.uuid4().hex
        ok = await self._call(self._acquire, [key], [lease, self.max_streams, self.lease_ttl_ms])
        if not int(ok):
            return None
        self._renewals[lease] = asyncio.create_task(self._keep(key, lease))
        return lease

    async def _keep(self, key: str, lease: str) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl_ms / 3000)
            try:
                await self._call(self._renew, [key], [lease, self.lease_ttl_ms])
            except Refused:
                continue  # Redis is back before the lease ends, or the lease lapses

    async def release_stream(self, tenant: str, lease: str) -> None:
        task = self._renewals.pop(lease, None)
        if task:
            task.cancel()
        try:
            await self.redis.zrem(f"{self.prefix}:streams:{tenant}", lease)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 (the lease expires on its own)
            pass


async def admit(limiter: Limiter, tenant: str, cost: int) -> None:
    """Spend `cost` tokens of the tenant's bucket or refuse with the time to wait."""
    if cost > limiter.burst:
        raise Refused(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"{cost} analyses in one call exceed this tenant's burst of {limiter.burst:g}",
        )
    verdict = await limiter.take(tenant, cost)
    if not verdict.allowed:
        raise Refused(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"rate limit of tenant {tenant!r}: {limiter.rate:g}/s, burst {limiter.burst:g}",
            retry_after_s=verdict.retry_after_s,
        )


@asynccontextmanager
async def stream_slot(limiter: Limiter, tenant: str, cap: int) -> AsyncIterator[None]:
    lease = await limiter.acquire_stream(tenant)
    if lease is None:
        raise Refused(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"tenant {tenant!r} already has {cap} streams open",
            retry_after_s=STREAM_RETRY_S,
        )
    try:
        yield
    finally:
        await limiter.release_stream(tenant, lease)
