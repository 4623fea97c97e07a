"""The gateway's result cache on its own: what makes two requests the same, what may be
cached, and that an answer is returned only while Triton serves the versions that scored
it (Triton's index is a stand-in reader here; tests/test_result_cache.py runs the mesh)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.result_cache import (
    Cached,
    ResultCache,
    request_digest,
    scored_by,
    uncacheable,
)
from veritas.cache import BoundedCache
from veritas.model_index import ModelIndex
from veritas.v1 import common_pb2 as pb


def request(text: str = "I was at home all evening.", **options: Any) -> pb.AnalysisRequest:
    return pb.AnalysisRequest(
        request_id="r1", transcript=pb.Transcript(text=text), options=pb.Options(**options)
    )


def answer(version: str = "1", status: int = pb.OK) -> pb.AnalysisResult:
    return pb.AnalysisResult(
        request_id="r1",
        final=True,
        deception_probability=0.7,
        modalities=[
            pb.ModalityResult(
                modality=pb.TEXT,
                status=status,  # type: ignore[arg-type]
                model=pb.ModelInfo(name="text_deception", version=version),
            ),
            pb.ModalityResult(modality=pb.AUDIO, status=pb.SKIPPED),
        ],
    )


class Triton:
    """What Triton's index says, and how often it was read."""

    def __init__(self, version: str = "1") -> None:
        self.version = version
        self.reads = 0

    async def read(self) -> Mapping[str, Any]:
        self.reads += 1
        return {"models": [{"name": "text_deception", "version": self.version, "state": "READY"}]}


def cache(triton: Triton, max_bytes: int = 1 << 20) -> ResultCache:
    store: BoundedCache[tuple[str, bytes], Cached] = BoundedCache(
        "gateway-test", max_bytes, 100, ttl_s=60
    )
    return ResultCache(store, ModelIndex(triton.read))


def test_the_key_ignores_the_request_id_and_deadline_only() -> None:
    base = request()
    again = request(deadline_ms=5000)
    again.request_id = "another"
    assert request_digest(base) == request_digest(again)
    assert again.request_id == "another" and again.options.deadline_ms == 5000  # restored
    assert request_digest(base) != request_digest(request("I was at home all evening!"))
    assert request_digest(base) != request_digest(request(domain=pb.WRITTEN_REVIEW))
    assert request_digest(base) != request_digest(request(explain=True))
    other_subject = request()
    other_subject.subject_id = "s2"
    assert request_digest(base) != request_digest(other_subject)


def test_what_is_never_cached() -> None:
    assert uncacheable(request()) == ""
    assert uncacheable(request(strategy=pb.STACKER)) == "the STACKER strategy"
    by_uri = request()
    by_uri.audio.uri = "https://media.example/a.wav"
    assert uncacheable(by_uri) == "media named by URI"
    assert scored_by(answer()) == (("text_deception", "1"),)
    assert scored_by(answer(status=pb.TIMED_OUT)) is None
    assert scored_by(answer(status=pb.FAILED)) is None
    assert scored_by(answer(version="")) is None


async def test_a_hit_is_this_requests_answer_and_says_it_was_cached() -> None:
    triton = Triton()
    results = cache(triton)
    key = results.key("acme", request())
    assert key is not None
    assert await results.get(key, "r1") is None  # a miss: nothing stored yet
    results.put(key, answer())
    hit = await results.get(results.key("acme", request()), "r2")  # type: ignore[arg-type]
    assert hit is not None and hit.request_id == "r2" and hit.deception_probability == 0.7
    assert hit.reasoning[-1].text.startswith("cached: ")
    assert "text_deception v1" in hit.reasoning[-1].text
    assert [t.stage for t in hit.timings] == ["cache"]
    assert triton.reads == 1  # every hit reads Triton's index anew (shared when concurrent)


async def test_another_tenant_never_gets_the_answer() -> None:
    results = cache(Triton())
    key = results.key("acme", request())
    results.put(key, answer())  # type: ignore[arg-type]
    other = results.key("globex", request())
    assert other is not None and await results.get(other, "r2") is None


async def test_a_new_model_version_is_never_answered_from_the_cache() -> None:
    triton = Triton("1")
    results = cache(triton)
    key = results.key("acme", request())
    assert key is not None
    results.put(key, answer("1"))
    assert await results.get(key, "r2") is not None
    triton.version = "2"  # Triton loaded version 2 (and let version 1 go)
    assert await results.get(key, "r3") is None
    assert len(results.store) == 0  # the stale answer is gone
    results.put(key, answer("1"))  # a late answer of the old version: not kept
    assert len(results.store) == 0
    results.put(key, answer("2"))
    hit = await results.get(key, "r4")
    assert hit is not None and hit.modalities[0].model.version == "2"


async def test_unsettled_answers_and_opted_out_requests_are_not_stored() -> None:
    results = cache(Triton())
    key = results.key("acme", request())
    results.put(key, answer(status=pb.TIMED_OUT))  # type: ignore[arg-type]
    assert len(results.store) == 0
    assert results.key("acme", request(strategy=pb.STACKER)) is None


async def test_triton_unreachable_means_analyse_again() -> None:
    async def down() -> Mapping[str, Any]:
        raise ConnectionError("no route")

    store: BoundedCache[tuple[str, bytes], Cached] = BoundedCache("gateway-test", 1 << 20, 10, 60)
    results = ResultCache(store, ModelIndex(down))
    key = results.key("acme", request())
    results.put(key, answer())  # type: ignore[arg-type]
    assert await results.get(key, "r2") is None  # type: ignore[arg-type]


def test_without_triton_nothing_is_cached() -> None:
    store: BoundedCache[tuple[str, bytes], Cached] = BoundedCache("gateway-test", 1 << 20, 10, 60)
    assert ResultCache(store, None).key("acme", request()) is None
