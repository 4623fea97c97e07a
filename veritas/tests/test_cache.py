"""The bounded cache (LRU by bytes and entries, TTL), the feature-cache key, and the shared
reads of Triton's model index. The audio service's feature cache, built on the first two, is
tested with the audio analyzer in services/audio/tests/test_feature_cache.py."""

from __future__ import annotations

import asyncio

import pytest

from veritas.cache import (
    CACHE_REQUESTS,
    CACHE_SCOPE,
    BoundedCache,
    media_key,
)
from veritas.model_index import ModelIndex, ready_versions
from veritas.v1 import common_pb2


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_used_goes_first_by_bytes_and_by_entries() -> None:
    cache: BoundedCache[str, str] = BoundedCache("t-lru", max_bytes=100, max_entries=3, ttl_s=60)
    for key in ("a", "b", "c"):
        assert cache.put(key, key.upper(), 30)
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("d", "D", 30)  # 120 bytes: b (least recently used) goes
    assert [k for k in ("a", "b", "c", "d") if cache.get(k)] == ["a", "c", "d"]
    assert cache.bytes == 90 and len(cache) == 3
    cache.put("e", "E", 5)  # 4 entries > 3: the least recently used (a) goes
    assert cache.get("a") is None and len(cache) == 3
    assert not cache.put("huge", "X", 101)  # bigger than the whole cache: not stored
    cache.put("c", "C2", 40)  # replacing an entry does not count it twice
    assert cache.get("c").value == "C2" and cache.bytes == 75  # type: ignore[union-attr]


def test_an_entry_past_its_time_to_live_is_never_returned() -> None:
    clock = Clock()
    cache: BoundedCache[str, int] = BoundedCache("t-ttl", 1000, 10, ttl_s=5, clock=clock)
    cache.put("k", 1, 10)
    clock.now += 5
    assert cache.get("k") is not None
    clock.now += 0.01
    assert cache.get("k") is None and len(cache) == 0 and cache.bytes == 0


def test_purge_and_a_cache_sized_zero() -> None:
    cache: BoundedCache[str, int] = BoundedCache("t-purge", 1000, 10, ttl_s=60)
    for i in range(5):
        cache.put(str(i), i, 10)
    assert cache.purge(lambda v: v % 2 == 0, "version") == 3
    assert sorted(k for k in "01234" if cache.get(k)) == ["1", "3"]
    off: BoundedCache[str, int] = BoundedCache("t-off", 0, 10, ttl_s=60)
    assert not off.enabled and not off.put("k", 1, 1) and off.get("k") is None


def test_lookups_are_counted_by_result() -> None:
    cache: BoundedCache[str, int] = BoundedCache("t-count", 1000, 10, ttl_s=60)
    before = CACHE_REQUESTS.labels("t-count", "hit")._value.get()
    cache.count("hit")
    cache.count("miss")
    assert CACHE_REQUESTS.labels("t-count", "hit")._value.get() == before + 1


def test_media_key_is_the_caller_and_the_content() -> None:
    a = common_pb2.Media(data=b"RIFF....", mime_type="audio/wav")
    b = common_pb2.Media(data=b"RIFF....", mime_type="audio/wav")
    assert media_key(a) == media_key(b)
    assert media_key(a) != media_key(common_pb2.Media(data=b"RIFF...!", mime_type="audio/wav"))
    assert media_key(a) != media_key(common_pb2.Media(data=b"RIFF....", mime_type="audio/x"))
    unscoped = media_key(a)
    token = CACHE_SCOPE.set("tenant:acme")
    try:
        scoped = media_key(a)
    finally:
        CACHE_SCOPE.reset(token)
    assert scoped is not None and unscoped is not None
    assert scoped[0] == "tenant:acme" and scoped[1] == unscoped[1] and scoped != unscoped
    assert media_key(common_pb2.Media(uri="https://example.org/a.wav")) is None
    assert media_key(common_pb2.Media()) is None


# --------------------------------------------------------------------------- model index


def test_ready_versions_takes_the_highest_ready_one() -> None:
    index = {
        "models": [
            {"name": "m", "version": "1", "state": "READY"},
            {"name": "m", "version": "2", "state": "READY"},
            {"name": "m", "version": "3", "state": "LOADING"},
            {"name": "n", "version": "1", "state": "UNAVAILABLE"},
        ]
    }
    assert ready_versions(index) == {"m": "2"}


async def test_a_fresh_read_starts_after_the_call_and_is_shared() -> None:
    """A caller arriving while a read is in flight waits for the next read (the running one
    may predate what it must see); all callers arriving meanwhile share that next read."""
    reads: list[asyncio.Event] = []
    version = {"v": "1"}

    async def read() -> dict[str, object]:
        seen = version["v"]  # what Triton reports as the read starts
        gate = asyncio.Event()
        reads.append(gate)
        await gate.wait()
        return {"models": [{"name": "m", "version": seen, "state": "READY"}]}

    index = ModelIndex(read)
    first = asyncio.create_task(index.fresh())
    while not reads:  # until the first read has started
        await asyncio.sleep(0)
    version["v"] = "2"  # a new version is loaded while the first read is in flight
    late = [asyncio.create_task(index.fresh()) for _ in range(5)]
    await asyncio.sleep(0)
    assert len(reads) == 1
    reads[0].set()
    assert await first == {"m": "1"}
    while len(reads) < 2:
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert len(reads) == 2  # one more read for all five late callers
    reads[1].set()
    assert [await t for t in late] == [{"m": "2"}] * 5
    assert await index.recent(60) == {"m": "2"} and len(reads) == 2


async def test_a_failed_read_fails_its_callers_only() -> None:
    calls = {"n": 0}

    async def read() -> dict[str, object]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("triton down")
        return {"models": [{"name": "m", "version": "4", "state": "READY"}]}

    index = ModelIndex(read)
    with pytest.raises(ConnectionError):
        await index.fresh()
    assert await index.fresh() == {"m": "4"}
