"""Per-tenant usage: Prometheus counters (scraped per replica) and totals for the admin
API (kept in Redis when configured, so GetUsage answers for all replicas)."""

from __future__ import annotations

from collections import Counter as Tally
from typing import Any, Protocol

from prometheus_client import Counter

TENANT_REQUESTS = Counter(
    "veritas_tenant_requests",
    "Gateway calls by tenant, method and status code (gRPC and HTTP)",
    ["tenant", "method", "status"],
)
TENANT_ANALYSES = Counter(
    "veritas_tenant_analyses", "Analyses run by tenant (a batch counts each item)", ["tenant"]
)
TENANT_BYTES = Counter(
    "veritas_tenant_request_bytes", "Bytes of admitted requests by tenant", ["tenant"]
)
FIELDS = ("requests", "analyses", "rejected", "errors", "request_bytes")


class UsageStore(Protocol):
    async def add(self, tenant: str, counts: dict[str, int]) -> None: ...

    async def get(self, tenant: str) -> dict[str, int]: ...


class MemoryUsage:
    def __init__(self) -> None:
        self._tallies: dict[str, Tally[str]] = {}

    async def add(self, tenant: str, counts: dict[str, int]) -> None:
        self._tallies.setdefault(tenant, Tally()).update(counts)

    async def get(self, tenant: str) -> dict[str, int]:
        tally = self._tallies.get(tenant, Tally())
        return {f: int(tally[f]) for f in FIELDS}


class RedisUsage:
    def __init__(self, redis: object, prefix: str = "veritas") -> None:
        self.redis = redis
        self.prefix = prefix

    async def add(self, tenant: str, counts: dict[str, int]) -> None:
        pipe = self.redis.pipeline(transaction=False)  # type: ignore[attr-defined]
        for name, n in counts.items():
            if n:
                pipe.hincrby(f"{self.prefix}:usage:{tenant}", name, n)
        await pipe.execute()

    async def get(self, tenant: str) -> dict[str, int]:
        raw = await self.redis.hgetall(f"{self.prefix}:usage:{tenant}")  # type: ignore[attr-defined]
        values = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
        return {f: values.get(f, 0) for f in FIELDS}


# Labelled children by their labels, looked up once (`labels()` takes a lock and builds
# a key on every call). Bounded by the tenants x methods x statuses the metrics hold anyway.
_CHILDREN: dict[tuple[object, ...], Any] = {}


def _child(metric: Counter, *labels: str) -> Any:
    key = (id(metric), *labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*labels)
    return child


def record(tenant: str, method: str, status: str, analyses: int, request_bytes: int) -> None:
    _child(TENANT_REQUESTS, tenant, method, status).inc()
    if analyses:
        _child(TENANT_ANALYSES, tenant).inc(analyses)
    if request_bytes:
        _child(TENANT_BYTES, tenant).inc(request_bytes)
