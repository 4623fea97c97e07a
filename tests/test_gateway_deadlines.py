"""The caller's deadline and cancellation reach the modality services behind the gateway."""

from __future__ import annotations

import queue
import threading
import time

import grpc

from tests.gateway_fixtures import Credentials, GatewayProcess, bearer, metric, scrape
from veritas.cli import sample_request
from veritas.mesh import Mesh
from veritas.v1 import common_pb2 as pb
from veritas.v1 import veritas_pb2_grpc

pytest_plugins = ("tests.gateway_fixtures",)
ENDED = ("CANCELLED", "DEADLINE_EXCEEDED")


def ended_early(mesh: Mesh, service: str, method: str) -> float:
    body = scrape(mesh.ports.metrics[service])
    labels = {"service": service, "method": method}
    return sum(metric(body, "veritas_requests_total", status=s, **labels) for s in ENDED)


def wait_for(predicate, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_the_callers_deadline_reaches_every_service(
    mesh: Mesh, secured: GatewayProcess, credentials: Credentials
):
    """A 1 s gRPC deadline and no deadline in the request: fusion answers in time with
    what it has, and the slow modality calls end at the deadline instead of running on."""
    before = ended_early(mesh, "vision", "Analyze")
    request = sample_request()
    with grpc.insecure_channel(secured.address) as channel:
        started = time.perf_counter()
        result = veritas_pb2_grpc.VeritasStub(channel).Analyze(
            request, timeout=1.0, metadata=bearer(credentials.analyst)
        )
        elapsed = time.perf_counter() - started
    assert result.final and elapsed < 1.0
    timed_out = [m for m in result.modalities if m.status == pb.TIMED_OUT]
    assert timed_out and all("deadline" in m.reason for m in timed_out)
    assert pb.VISION in {m.modality for m in timed_out}
    assert wait_for(lambda: ended_early(mesh, "vision", "Analyze") > before)


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


def test_cancelling_a_call_cancels_the_modality_calls(
    mesh: Mesh, secured: GatewayProcess, credentials: Credentials
):
    before = ended_early(mesh, "vision", "Analyze")
    with grpc.insecure_channel(secured.address) as channel:
        future = veritas_pb2_grpc.VeritasStub(channel).Analyze.future(
            sample_request(), timeout=60, metadata=bearer(credentials.analyst)
        )
        body = lambda: scrape(mesh.ports.metrics["vision"])  # noqa: E731
        in_flight = lambda: metric(  # noqa: E731
            body(), "veritas_requests_in_flight", service="vision", method="Analyze"
        )
        assert wait_for(lambda: in_flight() >= 1), "vision never started"
        assert future.cancel()
    assert wait_for(lambda: ended_early(mesh, "vision", "Analyze") > before)


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
