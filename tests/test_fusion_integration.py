"""Fusion on the real mesh: progressive updates about aligned moments arrive before the final
answer, and STACKER without a trained stacker is refused with the reason."""

from __future__ import annotations

import time

import grpc
import pytest

from fusion.stacker import DEFAULT_PATH
from tests.conftest import SAMPLES
from tools.mesh import Mesh
from veritas.client import build_request
from veritas.physio_csv import read_physio_csv
from veritas.v1 import common_pb2 as pb
from veritas.v1 import fusion_pb2_grpc

TRANSCRIPT = (SAMPLES / "transcript.txt").read_text(encoding="utf-8")
LIMIT = 64 * 1024 * 1024


def timed_transcript() -> pb.Transcript:
    """The sample transcript as one segment per sentence, 2 s apart."""
    sentences = [s.strip() + "." for s in TRANSCRIPT.split(".") if s.strip()]
    return pb.Transcript(
        segments=[
            pb.TranscriptSegment(start_s=2.0 * i, end_s=2.0 * i + 1.9, text=s)
            for i, s in enumerate(sentences)
        ]
    )


def request(strategy: int = pb.FUSION_STRATEGY_UNSPECIFIED) -> pb.AnalysisRequest:
    r = build_request(
        video=SAMPLES / "face.mp4",
        audio=SAMPLES / "speech.wav",
        transcript=timed_transcript(),
        physiology=read_physio_csv(SAMPLES / "physiology.csv"),
        request_id="fusion-progressive",
    )
    r.options.strategy = strategy  # type: ignore[assignment]
    r.options.window_s = 2.0
    return r


def fuse(mesh: Mesh, r: pb.AnalysisRequest) -> list[tuple[float, pb.AnalysisResult]]:
    options = [("grpc.max_receive_message_length", LIMIT), ("grpc.max_send_message_length", LIMIT)]
    with grpc.insecure_channel(mesh.address("fusion"), options=options) as channel:
        started = time.perf_counter()
        return [
            (time.perf_counter() - started, result)
            for result in fusion_pb2_grpc.FusionStub(channel).Fuse(r, timeout=120)
        ]


def overlaps(m: pb.ModalityResult, start: float, end: float) -> bool:
    return m.window_end_s > m.window_start_s and m.window_start_s < end and m.window_end_s > start


def test_progressive_updates_about_aligned_moments_arrive_before_the_final(mesh: Mesh) -> None:
    stream = fuse(mesh, request())
    progressive = [(t, r) for t, r in stream if not r.final]
    final_at, final = stream[-1]
    assert final.final and sum(r.final for _, r in stream) == 1
    assert progressive, "no progressive update"
    assert progressive[0][0] < final_at  # the first update came before the answer
    timed = [r for _, r in progressive if r.window_end_s > r.window_start_s]
    assert timed, "no progressive update placed on the timeline"
    for r in timed:
        scored = [m for m in r.modalities if m.model.name and m.status in (pb.OK, pb.PENDING)]
        assert scored
        for m in scored:  # every piece of evidence is about this update's moment
            assert overlaps(m, r.window_start_s, r.window_end_s), (r.window_start_s, m)
        assert any(s.text.startswith("aligned on ") for s in r.reasoning)
        assert r.decision_reason and r.uncertainty.total > 0
    statuses = {
        pb.Modality.Name(m.modality): pb.ModalityStatus.Name(m.status) for m in final.modalities
    }
    reasons = [m.reason for m in final.modalities]
    assert statuses == {"VISION": "OK", "AUDIO": "OK", "TEXT": "OK", "PHYSIOLOGY": "OK"}, reasons
    assert final.probability_low <= final.deception_probability <= final.probability_high
    u = final.uncertainty
    assert u.total == pytest.approx((u.model**2 + u.disagreement**2 + u.missing**2) ** 0.5)
    assert final.window_end_s > final.window_start_s
    assert final.summary and final.decision_reason in final.summary


@pytest.mark.skipif(DEFAULT_PATH.exists(), reason="a trained stacker is installed here")
def test_stacker_without_a_trained_stacker_is_refused_with_the_reason(mesh: Mesh) -> None:
    with pytest.raises(grpc.RpcError) as info:
        fuse(mesh, request(pb.STACKER))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert info.value.details().startswith("options.strategy: STACKER is unavailable")
    assert "models.training.stacker" in info.value.details()


@pytest.mark.skipif(DEFAULT_PATH.exists(), reason="a trained stacker is installed here")
def test_a_live_stream_asking_for_stacker_is_refused_the_same_way(mesh: Mesh) -> None:
    chunks = [
        pb.LiveChunk(config=pb.StreamConfig(options=pb.Options(strategy=pb.STACKER))),
        pb.LiveChunk(transcript_segment=pb.TranscriptSegment(start_s=0, end_s=2, text="Hello.")),
    ]
    with grpc.insecure_channel(mesh.address("fusion")) as channel:
        with pytest.raises(grpc.RpcError) as info:
            list(fusion_pb2_grpc.FusionStub(channel).FuseLive(iter(chunks), timeout=30))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert info.value.details().startswith("config.options.strategy: STACKER is unavailable")
