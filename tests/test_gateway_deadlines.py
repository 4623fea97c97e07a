"""The caller's deadline and cancellation reach the modality services behind the gateway.

Timing comes from a vision service made slow on purpose (the `slow_vision` fixture,
tests/slow_modality.py), never from how long the real analysis happens to take."""

from __future__ import annotations

import queue
import threading
import time
import uuid

import grpc

from tests.conftest import SLOW_VISION_DELAY_S
from tests.gateway_fixtures import Credentials, GatewayProcess, bearer, metric, scrape
from tests.slow_modality import SlowPath
from tools.cli import sample_request
from tools.mesh import Mesh
from veritas.v1 import common_pb2 as pb
from veritas.v1 import veritas_pb2_grpc

pytest_plugins = ("tests.gateway_fixtures",)
ENDED = ("CANCELLED", "DEADLINE_EXCEEDED")


def ended_early(metrics_port: int, service: str, method: str) -> float:
    body = scrape(metrics_port)
    labels = {"service": service, "method": method}
    return sum(metric(body, "veritas_requests_total", status=s, **labels) for s in ENDED)


def wait_for(predicate, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def recorded(path: SlowPath, request_id: str, event: str) -> dict | None:
    return next(
        (c for c in path.calls() if c["request_id"] == request_id and c["event"] == event), None
    )


def test_the_callers_deadline_reaches_every_service(slow_vision: SlowPath):
    """A 1 s gRPC deadline and none in the request, through the gateway, to fusion, to a
    vision service that is slow on purpose (it waits SLOW_VISION_DELAY_S before analysing).
    The deadline reaches each hop: the vision call arrives carrying at most the caller's
    second, fusion answers within it with vision TIMED_OUT, and the vision call ends then
    (cancelled) instead of running on."""
    metrics_port = slow_vision.ports["vision-metrics"]
    before = ended_early(metrics_port, "vision", "Analyze")
    request = sample_request()
    request.request_id = "deadline-" + uuid.uuid4().hex
    with grpc.insecure_channel(slow_vision.address("gateway")) as channel:
        started = time.perf_counter()
        result = veritas_pb2_grpc.VeritasStub(channel).Analyze(request, timeout=1.0)
        elapsed = time.perf_counter() - started
    assert result.final and elapsed < 1.0
    timed_out = [m for m in result.modalities if m.status == pb.TIMED_OUT]
    assert pb.VISION in {m.modality for m in timed_out}
    assert all("deadline" in m.reason for m in timed_out)
    arrived = recorded(slow_vision, request.request_id, "arrived")
    assert arrived is not None and 0 < arrived["deadline_s"] <= 1.0, arrived
    assert wait_for(lambda: recorded(slow_vision, request.request_id, "ended") is not None)
    ended = recorded(slow_vision, request.request_id, "ended")
    assert ended["how"] == "cancelled" and ended["after_s"] < SLOW_VISION_DELAY_S / 2, ended
    assert wait_for(lambda: ended_early(metrics_port, "vision", "Analyze") > before)


def test_a_deadline_shorter_than_the_gateways_budget_fails_fast(secured, credentials):
    with grpc.insecure_channel(secured.address) as channel:
        try:
            veritas_pb2_grpc.VeritasStub(channel).Analyze(
                sample_request(), timeout=0.03, metadata=bearer(credentials.analyst)
            )
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        else:
            raise AssertionError("a 30 ms call cannot succeed")


def test_cancelling_a_call_cancels_the_modality_calls(slow_vision: SlowPath):
    """Vision is slow on purpose, so its call is surely still running when the caller
    cancels; the cancellation must end it rather than leave it running."""
    metrics_port = slow_vision.ports["vision-metrics"]
    before = ended_early(metrics_port, "vision", "Analyze")
    request = sample_request()
    request.request_id = "cancel-" + uuid.uuid4().hex
    with grpc.insecure_channel(slow_vision.address("gateway")) as channel:
        future = veritas_pb2_grpc.VeritasStub(channel).Analyze.future(request, timeout=60)
        arrived = lambda: recorded(slow_vision, request.request_id, "arrived")  # noqa: E731
        assert wait_for(lambda: arrived() is not None), "vision never started"
        assert future.cancel()
    assert wait_for(lambda: recorded(slow_vision, request.request_id, "ended") is not None)
    assert recorded(slow_vision, request.request_id, "ended")["how"] == "cancelled"
    assert wait_for(lambda: ended_early(metrics_port, "vision", "Analyze") > before)


def test_cancelling_a_stream_ends_the_modality_streams(
    mesh: Mesh, secured: GatewayProcess, credentials: Credentials
):
    """The client never half-closes, so only cancellation can end the text service's
    live call. (Fusion half-closes its modality streams before cancelling them, so the text
    service may finish them as OK rather than CANCELLED: what matters is that they end.)"""
    hold: queue.Queue[None] = queue.Queue()

    def in_flight() -> float:
        body = scrape(mesh.ports.metrics["text"])
        return metric(body, "veritas_requests_in_flight", service="text", method="AnalyzeLive")

    before = in_flight()

    def chunks():
        yield pb.LiveChunk(config=pb.StreamConfig(request_id="to-cancel"))
        yield pb.LiveChunk(transcript_segment=pb.TranscriptSegment(text="Hello there.", end_s=1))
        hold.get()  # keep the stream open until the test is done

    with grpc.insecure_channel(secured.address) as channel:
        call = veritas_pb2_grpc.VeritasStub(channel).AnalyzeStream(
            chunks(), timeout=60, metadata=bearer(credentials.analyst)
        )
        reader = threading.Thread(target=lambda: list(_safe(call)))
        reader.start()
        assert wait_for(lambda: in_flight() > before), "text never opened its live stream"
        time.sleep(0.5)
        assert in_flight() > before  # held open by the client
        call.cancel()
        reader.join(10)
        assert wait_for(lambda: in_flight() == before), "the text stream outlived the call"
    hold.put(None)


def _safe(call):
    try:
        yield from call
    except grpc.RpcError:
        return
