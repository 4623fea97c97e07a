"""The real mesh, called as a client would: gateway -> fusion -> modality services -> Triton."""

from __future__ import annotations

import time
import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.conftest import SAMPLES
from veritas.cli import sample_request
from veritas.client import Client, build_request
from veritas.mesh import SERVICES, Mesh
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
    assert result.decision in (pb.TRUTHFUL, pb.DECEPTIVE, pb.INCONCLUSIVE)
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


def test_a_short_deadline_answers_in_time_with_what_it_has(mesh: Mesh) -> None:
    request = sample_request()
    request.options.deadline_ms = 600
    with Client(mesh.address("gateway"), timeout_s=10) as client:
        started = time.perf_counter()
        result = client.analyze(request)
        elapsed = time.perf_counter() - started
    assert result.final
    assert elapsed < 3.0  # the deadline is 0.6 s; generous for a loaded CI machine
    statuses = {pb.ModalityStatus.Name(m.status) for m in result.modalities}
    assert "TIMED_OUT" in statuses
    timed_out = [m for m in result.modalities if m.status == pb.TIMED_OUT]
    assert all("deadline" in m.reason for m in timed_out)


def test_metrics_count_requests_by_method_and_code(mesh: Mesh, client: Client) -> None:
    client.analyze(build_request(transcript=TRANSCRIPT))
    port = mesh.ports.metrics["gateway"]
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    assert 'veritas_requests_total{method="Analyze",service="gateway",status="OK"}' in body
    assert "veritas_request_duration_seconds_bucket" in body
    assert "veritas_memory_usage_bytes" in body
    assert 'status="INVALID_ARGUMENT"' in body  # from the bad-input tests


def test_one_trace_spans_every_hop(mesh: Mesh, client: Client) -> None:
    import json

    result = client.analyze(build_request(transcript=TRANSCRIPT, physiology=[70, 72, 75, 74]))
    time.sleep(0.5)
    spans = [json.loads(line) for line in (mesh.run_dir / "spans.jsonl").read_text().splitlines()]
    mine = [s for s in spans if s["trace_id"] == result.trace_id]
    services = {s["service"] for s in mine}
    assert {"veritas-gateway", "veritas-fusion", "veritas-text", "veritas-physiology"} <= services
    assert any(s["name"] == "triton.infer" for s in mine)


def test_modality_service_drains_in_flight_calls_on_sigterm(mesh: Mesh) -> None:
    """SIGTERM while a call is running: the call completes, the process exits 0."""
    request = modality_pb2.ModalityRequest(
        request_id="drain",
        input=pb.ModalityInput(
            media=pb.Media(data=(SAMPLES / "face.mp4").read_bytes(), mime_type="video/mp4")
        ),
    )
    with grpc.insecure_channel(mesh.address("vision")) as channel:
        call = modality_pb2_grpc.ModalityAnalyzerStub(channel).Analyze(request, timeout=60)
        first = next(call)  # the call is in flight
        code = mesh.stop_service("vision")
        updates = [first, *call]
    assert code == 0
    assert updates[-1].final and updates[-1].result.status == pb.OK
    mesh.restart_service("vision")
