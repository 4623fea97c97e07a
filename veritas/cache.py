"""A bounded in-memory cache: least recently used out first, by bytes and by entries, with a
time to live, and the `veritas_cache_*` metrics every cache of the mesh reports.

Used by the gateway's result cache (gateway/result_cache.py) and by the modality services'
feature caches (e.g. the audio service's decoded and measured recordings). Thread-safe: a
feature cache is read and written from worker threads.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from prometheus_client import Counter, Gauge

from veritas.v1 import common_pb2

CACHE_REQUESTS = Counter(
    "veritas_cache_requests",
    "Cache lookups by service and result: hit, miss, or bypass (not cacheable, or turned "
    "off for the request)",
    ["service", "result"],
)
CACHE_EVICTIONS = Counter(
    "veritas_cache_evictions",
    "Entries dropped by service and reason: size (LRU), ttl, or version (a model version "
    "that Triton no longer serves)",
    ["service", "reason"],
)
CACHE_BYTES = Gauge("veritas_cache_bytes", "Bytes held by the cache", ["service"])
CACHE_ENTRIES = Gauge("veritas_cache_entries", "Entries held by the cache", ["service"])
# What the caches of a service's other processes hold (a modality service's measuring
# workers, veritas.analysis_pool), by service: (bytes, entries), added to its own figures.
_elsewhere: dict[str, tuple[float, float]] = {}
_reported_here: set[str] = set()  # services a cache of this process reports


def held_elsewhere(service: str, size: float, entries: float) -> None:
    """Set what `service`'s caches in other processes hold; the gauges show it beside (or,
    with no cache of the service here, as) this process's own."""
    _elsewhere[service] = (size, entries)
    if service not in _reported_here:
        CACHE_BYTES.labels(service).set(size)
        CACHE_ENTRIES.labels(service).set(entries)


HIT, MISS, BYPASS = "hit", "miss", "bypass"
FEATURE_TTL_S = 3600.0
FEATURE_MAX_ENTRIES = 4096
# Whose request this is (the gateway's tenant, as fusion forwards it): a feature cache is
# scoped by it, so one caller's media never answers, or times, another's. Set by the
# modality servicer; worker threads started with asyncio.to_thread see it too.
CACHE_SCOPE: ContextVar[str] = ContextVar("veritas_cache_scope", default="")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Entry(Generic[V]):
    value: V
    size: int
    stored_at: float  # time.monotonic()
    stored_wall: float  # time.time(), for "computed at" notes


class BoundedCache(Generic[K, V]):
    """LRU bounded by `max_bytes` (sizes as the caller states them) and `max_entries`;
    an entry older than `ttl_s` is never returned. `max_bytes` or `max_entries` 0: off."""

    def __init__(
        self,
        service: str,
        max_bytes: int,
        max_entries: int,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.max_bytes = max(0, max_bytes)
        self.max_entries = max(0, max_entries)
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[K, Entry[V]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._requests = {r: CACHE_REQUESTS.labels(service, r) for r in (HIT, MISS, BYPASS)}
        self._evicted = {r: CACHE_EVICTIONS.labels(service, r) for r in ("size", "ttl", "version")}
        _reported_here.add(service)
        CACHE_BYTES.labels(service).set_function(
            lambda: self._bytes + _elsewhere.get(service, (0.0, 0.0))[0]
        )
        CACHE_ENTRIES.labels(service).set_function(
            lambda: len(self._entries) + _elsewhere.get(service, (0.0, 0.0))[1]
        )

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0 and self.max_entries > 0 and self.ttl_s > 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def count(self, result: str) -> None:
        """Count one lookup's outcome (hit, miss or bypass)."""
        self._requests[result].inc()

    def get(self, key: K) -> Entry[V] | None:
        """The live entry for `key` (now the most recently used), or None. Does not count:
        the caller decides (a found entry may still be refused, e.g. an old model)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() - entry.stored_at > self.ttl_s:
                self._drop(key, "ttl")
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: K, value: V, size: int, wall: float | None = None) -> bool:
        """Store `value` (replacing any entry for `key`); False when it alone is too big."""
        if not self.enabled or size > self.max_bytes:
            return False
        entry = Entry(value, size, self._clock(), time.time() if wall is None else wall)
        with self._lock:
            if key in self._entries:
                self._drop(key, None)
            self._entries[key] = entry
            self._bytes += size
            while self._bytes > self.max_bytes or len(self._entries) > self.max_entries:
                self._drop(next(iter(self._entries)), "size")
        return True

    def discard(self, key: K, reason: str) -> None:
        with self._lock:
            if key in self._entries:
                self._drop(key, reason)

    def purge(self, stale: Callable[[V], bool], reason: str) -> int:
        """Drop every entry whose value `stale` says is; returns how many."""
        with self._lock:
            keys = [k for k, e in self._entries.items() if stale(e.value)]
            for key in keys:
                self._drop(key, reason)
        return len(keys)

    def _drop(self, key: K, reason: str | None) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size
        if reason is not None:
            self._evicted[reason].inc()


def media_key(media: common_pb2.Media) -> tuple[str, bytes] | None:
    """A feature-cache key for inline media: (caller scope, BLAKE2b of type and bytes);
    None for media named by URI or empty (nothing to key on)."""
    if media.WhichOneof("source") != "data" or not media.data:
        return None
    digest = hashlib.blake2b(media.mime_type.encode() + b"\0", digest_size=32)
    digest.update(media.data)
    return CACHE_SCOPE.get(), digest.digest()


def feature_cache(service: str, max_bytes: int | None = None) -> BoundedCache[Any, Any]:
    """A modality service's feature cache, sized by VERITAS_FEATURE_CACHE_MB."""
    if max_bytes is None:
        from veritas.config import env

        max_bytes = int(float(env("VERITAS_FEATURE_CACHE_MB")) * 1024 * 1024)
    return BoundedCache(service, max_bytes, FEATURE_MAX_ENTRIES, FEATURE_TTL_S)
