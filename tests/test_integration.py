"""The real mesh, called as a client would: gateway -> fusion -> modality services -> Triton."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.conftest import SAMPLES, SLOW_VISION_DELAY_S
from tests.slow_modality import SlowPath
from tools.cli import sample_request
from tools.mesh import SERVICES, Mesh
from veritas.client import Client, build_request
from veritas.v1 import common_pb2 as pb
from veritas.v1 import modality_pb2, modality_pb2_grpc

TRANSCRIPT = (SAMPLES / "transcript.txt").read_text(encoding="utf-8")
ONE_MODALITY = {
    "vision": dict(video=SAMPLES / "face.mp4"),
    "audio": dict(audio=SAMPLES / "speech.wav"),
    "text": dict(transcript=TRANSCRIPT),
    "physiology": dict(physiology=SAMPLES / "physiology.csv"),
}
# Vision: trained on human-coded behaviour codes, served automatic ones (see its card).
UNCALIBRATED = {"audio", "physiology", "vision"}
# Short beside the slow vision's delay, long for the others: audio, text and physiology of
# the sample took at most 0.7 s each on a 2-core machine with both cores busy (load 16).
SHORT_DEADLINE_MS = 6000
DRAIN_DELAY_S = 3.0  # the call is still waiting when SIGTERM comes, however fast the machine


def by_name(result: pb.AnalysisResult) -> dict[str, pb.ModalityResult]:
    return {pb.Modality.Name(m.modality).lower(): m for m in result.modalities}


def test_every_service_is_healthy_and_reflects_its_api(mesh: Mesh) -> None:
    for service in SERVICES:
        with grpc.insecure_channel(mesh.address(service)) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            names = ProtoReflectionDescriptorDatabase(channel).get_services()
            assert "grpc.health.v1.Health" in names
            assert any(n.startswith("veritas.v1.") for n in names), names


@pytest.mark.parametrize("modality", sorted(ONE_MODALITY))
def test_each_modality_alone(client: Client, modality: str) -> None:
    result = client.analyze(build_request(**ONE_MODALITY[modality]))
    assert result.final
    modalities = by_name(result)
    mine = modalities[modality]
    assert mine.status == pb.OK, mine.reason
    assert 0.0 <= mine.score <= 1.0
    assert mine.model.name and mine.model.version
    assert mine.features
    if modality not in UNCALIBRATED:
        assert any(f.contribution != 0 for f in mine.features)
    assert mine.model.calibrated == (modality not in UNCALIBRATED)
    for other, r in modalities.items():
        if other != modality:
            assert r.status == pb.SKIPPED and r.reason == "no input"
    if modality in UNCALIBRATED:
        # Cue models alone are never a verdict, and the result says why.
        assert result.decision == pb.INCONCLUSIVE
        assert any("uncalibrated" in n for n in mine.notes)
    assert result.trace_id and len(result.trace_id) == 32
    assert result.reasoning[-1].kind == pb.ReasoningStep.ACT


def test_all_modalities_together(client: Client) -> None:
    result = client.analyze(sample_request())
    modalities = by_name(result)
    assert {k: pb.ModalityStatus.Name(v.status) for k, v in modalities.items()} == {
        m: "OK" for m in ONE_MODALITY
    }
    # The sample carries question markers: comparison-question scoring shows.
    physiology = {f.name for f in modalities["physiology"].features}
    assert {"cqt_grand_total", "cqt_decision", "hrv_rmssd_ms", "eda_scr_count"} <= physiology
    assert any(e.name == "blink" for e in modalities["vision"].events)
    assert any(f.name.startswith("egemaps.") for f in modalities["audio"].features)
    observed = [s for s in result.reasoning if s.kind == pb.ReasoningStep.OBSERVE]
    assert len(observed) == 4
    # The sample does not say what its input is (no options.domain): the text model, the
    # only calibrated one, was validated on written reviews, so nothing counts as calibrated
    # evidence and the answer cannot be a verdict, whatever the scores.
    assert result.decision == pb.INCONCLUSIVE, result.decision_reason
    assert "no modality counts as calibrated evidence" in result.decision_reason
    assert "domain is unknown" in result.decision_reason
    text = modalities["text"]
    assert not text.counted_calibrated and "domain is unknown" in text.calibration_reason
    assert result.probability_low <= result.deception_probability <= result.probability_high
    assert {t.stage for t in result.timings} >= {"total", "vision", "audio", "text", "physiology"}


@pytest.mark.parametrize(
    "request_kwargs, field",
    [
        (dict(), "request"),
        (dict(audio=b"this is not audio"), "audio"),
        (dict(video=b"\x00\x01 not a video"), "video"),
        (dict(transcript="   "), "request"),
        (
            dict(
                physiology=pb.Physiology(
                    channels=[pb.PhysioChannel(name="ecg", sampling_rate_hz=0, samples=[0.1] * 100)]
                )
            ),
            "physiology.channels[0].sampling_rate_hz",
        ),
        (dict(physiology=[70, 71, 900]), "physiology"),
        (dict(audio="file:///etc/passwd"), "audio.uri"),
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field(
    client: Client, request_kwargs: dict, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        client.analyze(build_request(**request_kwargs))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith(field), info.value.details()


def test_batch_items_succeed_or_fail_on_their_own(client: Client) -> None:
    response = client.analyze_batch(
        [
            build_request(transcript=TRANSCRIPT),
            build_request(audio=b"junk"),
        ]
    )
    assert response.items[0].result.final and not response.items[0].error_code
    assert response.items[1].error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert response.items[1].error_message.startswith("requests[1].audio")


def test_stream_gives_progressive_results_then_a_final_one(client: Client) -> None:
    sentences = [s.strip() + "." for s in TRANSCRIPT.split(".") if s.strip()]

    def chunks():
        yield pb.LiveChunk(
            config=pb.StreamConfig(request_id="live-1", options=pb.Options(window_s=4.0))
        )
        for i, sentence in enumerate(sentences * 3):
            yield pb.LiveChunk(
                transcript_segment=pb.TranscriptSegment(
                    start_s=i * 2.0, end_s=i * 2.0 + 1.9, text=sentence
                )
            )
        for second in range(0, 40, 10):
            yield pb.LiveChunk(
                physio_samples=pb.PhysioChannel(
                    name="heart_rate",
                    unit="bpm",
                    sampling_rate_hz=1.0,
                    start_s=second,
                    samples=[72.0 + (j % 3) for j in range(10)],
                )
            )

    results = list(client.stream(chunks()))
    assert len(results) >= 2
    assert not results[0].final and results[-1].final
    final = by_name(results[-1])
    assert final["text"].status == pb.OK
    assert final["physiology"].status == pb.OK
    assert results[-1].request_id == "live-1"


def test_a_short_deadline_answers_in_time_with_what_it_has(slow_vision: SlowPath) -> None:
    """Vision is slow on purpose (it waits SLOW_VISION_DELAY_S before analysing); the
    request's own deadline is far shorter, yet long enough for the other three on a slow,
    busy machine. The answer comes by the deadline: vision TIMED_OUT, saying so, and what
    the other modalities measured in it."""
    request = sample_request()
    request.options.deadline_ms = SHORT_DEADLINE_MS
    with Client(slow_vision.address("gateway"), timeout_s=60) as client:
        started = time.perf_counter()
        result = client.analyze(request)
        elapsed = time.perf_counter() - started
    assert result.final
    # By the deadline (counted from fusion's start), plus the hops and the inline media.
    assert elapsed < SHORT_DEADLINE_MS / 1000 + 2.0 < SLOW_VISION_DELAY_S
    modalities = by_name(result)
    assert modalities["vision"].status == pb.TIMED_OUT
    assert "deadline" in modalities["vision"].reason
    for name in ("audio", "text", "physiology"):
        assert modalities[name].status == pb.OK, (name, modalities[name].reason)
        assert modalities[name].model.name and modalities[name].features


def test_metrics_count_requests_by_method_and_code(mesh: Mesh, client: Client) -> None:
    client.analyze(build_request(transcript=TRANSCRIPT))
    port = mesh.ports.metrics["gateway"]
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    assert 'veritas_requests_total{method="Analyze",service="gateway",status="OK"}' in body
    assert "veritas_request_duration_seconds_bucket" in body
    assert "veritas_memory_usage_bytes" in body
    assert 'status="INVALID_ARGUMENT"' in body  # from the bad-input tests


def test_one_trace_spans_every_hop(mesh: Mesh, client: Client) -> None:
    result = client.analyze(build_request(transcript=TRANSCRIPT, physiology=[70, 72, 75, 74]))
    wanted = {"veritas-gateway", "veritas-fusion", "veritas-text", "veritas-physiology"}
    # Each service writes its spans as they end, some after the answer was sent: wait for
    # them (up to a bound) rather than for a fixed time.
    end = time.monotonic() + 30
    while True:
        lines = (mesh.run_dir / "spans.jsonl").read_text().splitlines()
        mine = [s for s in map(json.loads, lines) if s["trace_id"] == result.trace_id]
        services = {s["service"] for s in mine}
        inferred = any(s["name"] == "triton.infer" for s in mine)
        if (wanted <= services and inferred) or time.monotonic() > end:
            break
        time.sleep(0.1)
    assert wanted <= services
    assert inferred


def test_modality_service_drains_in_flight_calls_on_sigterm(mesh: Mesh, tmp_path: Path) -> None:
    """SIGTERM while a call is surely running (a vision service slow on purpose: it waits
    DRAIN_DELAY_S before analysing, and gets a grace period well beyond that): the call
    completes with its result and the process exits 0."""
    request = modality_pb2.ModalityRequest(
        request_id="drain",
        input=pb.ModalityInput(
            media=pb.Media(data=(SAMPLES / "face.mp4").read_bytes(), mime_type="video/mp4")
        ),
    )
    grace = {"VERITAS_SHUTDOWN_GRACE_S": "120"}
    slow = SlowPath(mesh, tmp_path, "vision", DRAIN_DELAY_S, front=False, extra_env=grace)
    with slow.start(), grpc.insecure_channel(slow.address("vision")) as channel:
        call = modality_pb2_grpc.ModalityAnalyzerStub(channel).Analyze(request, timeout=120)
        end = time.monotonic() + 30
        while not any(c["event"] == "arrived" for c in slow.calls()):
            assert time.monotonic() < end, "the call never reached the service"
            time.sleep(0.05)
        process = slow.processes["vision"]
        process.send_signal(signal.SIGTERM)  # the call is still in its deliberate wait
        updates = list(call)
        code = process.wait(60)
    assert code == 0
    assert updates[-1].final and updates[-1].result.status == pb.OK
    ended = [c for c in slow.calls() if c["event"] == "ended"]
    assert [c["how"] for c in ended] == ["completed"]
