"""The gateway's result cache: the same request from the same tenant, scored by the same
model versions, is answered from memory instead of being analysed again.

- Key: the tenant and a hash (BLAKE2b) of the request's bytes (deterministic serialization)
  without what does not change the answer: the request id and `options.deadline_ms`.
  Every input, the options and the subject are in it; one tenant never gets another's answer.
- Model versions: an entry records the version of each model that scored it (the answer's
  `ModelInfo.version`s). It is returned only while Triton still serves exactly those
  versions, read from Triton's repository index *after* the lookup began
  (veritas.model_index, shared between concurrent lookups): once Triton has loaded a new
  version, no answer of the old one comes from the cache. Stale entries are dropped when seen.
- Not cached: answers in which a modality failed, timed out or has no model version (they
  depend on the moment), media named by URI (the bytes behind a URI may change), the
  STACKER strategy (its stacker file can change without a model version), and any request
  that carries `x-veritas-cache: off` (veritas.hints), which neither reads nor writes.
- Bounded: LRU by bytes and entries, with a time to live (veritas.cache.BoundedCache);
  `veritas_cache_requests_total{service="gateway",result=hit|miss|bypass}`.
- A cached answer says so: a reasoning step ("cached: ...", when and by which models it
  was computed), a `cache` timing, and this request's own request id and trace id.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from veritas.cache import BYPASS, HIT, MISS, BoundedCache
from veritas.config import env
from veritas.model_index import ModelIndex, Versions, index_entries
from veritas.telemetry import current_trace_id
from veritas.v1 import common_pb2

log = logging.getLogger("veritas.gateway.cache")
ENTRY_OVERHEAD = 256  # bytes an entry costs beyond its serialized answer (key, bookkeeping)
UNSETTLED = (common_pb2.PENDING, common_pb2.FAILED, common_pb2.TIMED_OUT)


@dataclass(frozen=True)
class Cached:
    answer: bytes  # the final AnalysisResult, serialized
    versions: tuple[tuple[str, str], ...]  # (model, version) of every model that scored it


def request_digest(request: common_pb2.AnalysisRequest) -> bytes:
    """BLAKE2b of the request without its id and deadline (restored before returning)."""
    request_id, deadline = request.request_id, request.options.deadline_ms
    request.request_id = ""
    if deadline:
        request.options.deadline_ms = 0
    try:
        data = request.SerializeToString(deterministic=True)
    finally:
        request.request_id = request_id
        if deadline:
            request.options.deadline_ms = deadline
    return hashlib.blake2b(data, digest_size=32).digest()


def uncacheable(request: common_pb2.AnalysisRequest) -> str:
    """Why this request's answer must not be cached, or "" when it may be."""
    if request.options.strategy == common_pb2.STACKER:
        return "the STACKER strategy"
    for media in (request.video, request.audio, request.baseline.video, request.baseline.audio):
        if media.WhichOneof("source") == "uri":
            return "media named by URI"
    return ""


def scored_by(result: common_pb2.AnalysisResult) -> tuple[tuple[str, str], ...] | None:
    """The (model, version) pairs that scored a final answer, or None when the answer must
    not be cached (a modality unsettled or without a model version, or none scored)."""
    versions: dict[str, str] = {}
    for m in result.modalities:
        if m.status in UNSETTLED:
            return None
        if m.status == common_pb2.OK:
            if not m.model.name or not m.model.version:
                return None
            versions[m.model.name] = m.model.version
    return tuple(sorted(versions.items())) or None


def still_served(scored: tuple[tuple[str, str], ...], current: Mapping[str, str]) -> bool:
    return all(current.get(model) == version for model, version in scored)


def mark_cached(
    result: common_pb2.AnalysisResult,
    request_id: str,
    versions: tuple[tuple[str, str], ...],
    computed_wall: float,
    lookup_ms: float,
) -> None:
    """Make a stored answer this request's, saying that it was cached."""
    result.request_id = request_id
    result.trace_id = current_trace_id()
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(computed_wall))
    models = ", ".join(f"{m} v{v}" for m, v in versions)
    result.reasoning.add(
        kind=common_pb2.ReasoningStep.OBSERVE,
        text=(
            f"cached: this answer was computed at {when} for an identical request (same "
            f"input and options) and scored by the models Triton still serves ({models}); "
            "sent from the gateway's result cache without analysing again (send "
            "`x-veritas-cache: off` to analyse anew)"
        ),
    )
    result.timings.add(stage="cache", ms=lookup_ms)


class ResultCache:
    """Final answers by (tenant, request digest), valid while their model versions are."""

    def __init__(
        self,
        store: BoundedCache[tuple[str, bytes], Cached],
        index: ModelIndex | None,
        versions_max_age_s: float = 0.0,
    ) -> None:
        self.store = store
        self.index = index  # None: no Triton to ask, so nothing can be cached
        self.versions_max_age_s = versions_max_age_s
        self._seen: Versions | None = None

    @property
    def enabled(self) -> bool:
        return self.store.enabled and self.index is not None

    def key(self, tenant: str, request: common_pb2.AnalysisRequest) -> tuple[str, bytes] | None:
        """The cache key, or None (counted as a bypass) when the request is not cacheable."""
        if not self.enabled:
            return None
        if uncacheable(request):
            self.store.count(BYPASS)
            return None
        return tenant, request_digest(request)

    def bypass(self) -> None:
        """Count a request that turned the cache off (`x-veritas-cache: off`)."""
        if self.enabled:
            self.store.count(BYPASS)

    async def _current(self) -> Versions:
        assert self.index is not None
        if self.versions_max_age_s > 0:
            versions = await self.index.recent(self.versions_max_age_s)
        else:
            versions = await self.index.fresh()
        if versions != self._seen:  # Triton serves other versions: free the stale entries
            if self._seen is not None:
                dropped = self.store.purge(
                    lambda c: not still_served(c.versions, versions), "version"
                )
                if dropped:
                    log.info(
                        "cache: model versions changed", extra={"fields": {"dropped": dropped}}
                    )
            self._seen = versions
        return versions

    async def get(
        self, key: tuple[str, bytes], request_id: str
    ) -> common_pb2.AnalysisResult | None:
        """This request's answer from the cache (marked as cached), or None (a miss)."""
        started = time.perf_counter()
        entry = self.store.get(key)
        if entry is None:
            self.store.count(MISS)
            return None
        try:
            current = await self._current()
        except Exception:  # noqa: BLE001 - Triton unreachable: analyse, don't guess
            self.store.count(MISS)
            return None
        if not still_served(entry.value.versions, current):
            self.store.discard(key, "version")
            self.store.count(MISS)
            return None
        result = common_pb2.AnalysisResult.FromString(entry.value.answer)
        lookup_ms = (time.perf_counter() - started) * 1000
        mark_cached(result, request_id, entry.value.versions, entry.stored_wall, lookup_ms)
        self.store.count(HIT)
        return result

    def put(self, key: tuple[str, bytes], result: common_pb2.AnalysisResult) -> None:
        """Keep a fresh final answer, when it is one that may be cached."""
        versions = scored_by(result)
        if versions is None or not result.final:
            return
        if self._seen is not None and not still_served(versions, self._seen):
            return  # scored by a version Triton has already replaced
        answer = result.SerializeToString()
        self.store.put(key, Cached(answer, versions), len(answer) + ENTRY_OVERHEAD)


def from_env(read_index: Callable[[], Awaitable[Mapping[str, Any]]] | None) -> ResultCache:
    """The cache as configured (VERITAS_CACHE_*); `read_index` reads Triton's index."""
    store: BoundedCache[tuple[str, bytes], Cached] = BoundedCache(
        "gateway",
        max_bytes=int(float(env("VERITAS_CACHE_MAX_MB")) * 1024 * 1024),
        max_entries=int(env("VERITAS_CACHE_MAX_ENTRIES")),
        ttl_s=float(env("VERITAS_CACHE_TTL_S")),
    )
    index = ModelIndex(read_index) if read_index is not None else None
    return ResultCache(store, index, float(env("VERITAS_CACHE_VERSIONS_MAX_AGE_S")))


def triton_index_reader(url: str, timeout_s: float) -> Callable[[], Awaitable[Mapping[str, Any]]]:
    """Reads Triton's repository index over gRPC (tritonclient), for the cache's versions."""
    import tritonclient.grpc.aio as triton_aio

    from veritas.config import channel_options

    client = triton_aio.InferenceServerClient(url, channel_args=channel_options())

    async def read() -> Mapping[str, Any]:
        response = await client.get_model_repository_index(client_timeout=timeout_s)
        return index_entries(response)

    read.close = client.close  # type: ignore[attr-defined]
    return read
