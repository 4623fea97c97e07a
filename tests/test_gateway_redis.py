"""The shared limiter on a real redis-server: replicas share one exact budget."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from gateway.ratelimit import RedisLimiter
from gateway.usage import RedisUsage
from tests.gateway_fixtures import RedisServer

pytest_plugins = ("tests.gateway_fixtures",)


@pytest.fixture
async def clients(redis_server: RedisServer) -> AsyncIterator[list[redis.asyncio.Redis]]:
    """Two connections pools: two gateway replicas as far as Redis can tell."""
    pair = [redis.asyncio.Redis.from_url(redis_server.url) for _ in range(2)]
    yield pair
    for c in pair:
        await c.aclose()


def replicas(clients, **kw) -> list[RedisLimiter]:
    prefix = f"test-{uuid.uuid4().hex}"  # a fresh budget per test
    return [RedisLimiter(c, prefix=prefix, **kw) for c in clients]


async def test_two_replicas_pass_exactly_the_burst_under_concurrency(clients):
    a, b = replicas(clients, rate=0.001, burst=25, max_streams=1)
    verdicts = await asyncio.gather(
        *(limiter.take("acme", 1) for _ in range(60) for limiter in (a, b))
    )
    assert sum(v.allowed for v in verdicts) == 25
    refused = [v for v in verdicts if not v.allowed]
    assert len(refused) == 95
    assert all(v.retry_after_s == pytest.approx(1000, rel=0.01) for v in refused)


async def test_the_shared_bucket_refills_at_its_rate(clients):
    # One token per 0.5 s: far longer than the two takes take, however busy the machine.
    a, b = replicas(clients, rate=2.0, burst=2, max_streams=1)
    assert (await a.take("acme", 2)).allowed
    verdict = await b.take("acme", 1)
    assert not verdict.allowed and 0 < verdict.retry_after_s <= 0.5
    await asyncio.sleep(verdict.retry_after_s + 0.02)
    assert (await b.take("acme", 1)).allowed


async def test_stream_slots_are_shared_and_freed(clients):
    a, b = replicas(clients, rate=1, burst=1, max_streams=3)
    leases = await asyncio.gather(*(r.acquire_stream("acme") for r in (a, b) for _ in range(4)))
    held = [(r, lease) for r, lease in zip([a] * 4 + [b] * 4, leases, strict=True) if lease]
    assert len(held) == 3
    limiter, lease = held[0]
    await limiter.release_stream("acme", lease)
    assert await b.acquire_stream("acme") is not None
    assert await a.acquire_stream("acme") is None
    for r, lease in held[1:]:
        await r.release_stream("acme", lease)


async def test_a_dead_replicas_slots_expire(clients):
    (a, b) = replicas(clients, rate=1, burst=1, max_streams=1)
    a.lease_ttl_ms = 1000  # far longer than the next two calls take, however busy the machine
    lease = await a.acquire_stream("acme")
    assert lease is not None
    a._renewals.pop(lease).cancel()  # the replica dies: nobody renews its lease
    assert await b.acquire_stream("acme") is None
    await asyncio.sleep(1.1)
    assert await b.acquire_stream("acme") is not None


async def test_usage_totals_are_shared(clients):
    prefix = f"test-{uuid.uuid4().hex}"
    a, b = (RedisUsage(c, prefix) for c in clients)
    await a.add("acme", {"requests": 1, "analyses": 3, "request_bytes": 100})
    await b.add("acme", {"requests": 1, "analyses": 1, "errors": 1})
    assert await a.get("acme") == {
        "requests": 2,
        "analyses": 4,
        "rejected": 0,
        "errors": 1,
        "request_bytes": 100,
    }


async def test_more_concurrent_checks_than_connections_wait_their_turn(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
):
    from gateway.server import REDIS_CONNECTIONS, stores
    from gateway.settings import Settings

    monkeypatch.setenv("VERITAS_AUTH", "none")
    monkeypatch.setenv("VERITAS_REDIS_URL", redis_server.url)
    monkeypatch.setenv("VERITAS_RATE_LIMIT_BURST", "300")
    monkeypatch.setenv("VERITAS_RATE_LIMIT_RPS", "0.001")
    limiter, _, client = stores(Settings.from_env())
    try:
        tenant = f"pool-{uuid.uuid4().hex}"
        verdicts = await asyncio.gather(
            *(limiter.take(tenant, 1) for _ in range(10 * REDIS_CONNECTIONS))
        )
        assert sum(v.allowed for v in verdicts) == 300
    finally:
        await client.aclose()  # type: ignore[union-attr]
