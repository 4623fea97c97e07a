"""Rate limits and stream caps held exactly by two gateway processes sharing one Redis."""

from __future__ import annotations

import queue
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.gateway_fixtures import (
    Credentials,
    GatewayProcess,
    Gateways,
    RedisServer,
    auth_env,
    metric,
    scrape,
)
from tools.mesh import Mesh
from veritas import keys
from veritas.client import build_request
from veritas.v1 import common_pb2 as pb
from veritas.v1 import veritas_pb2_grpc

pytest_plugins = ("tests.gateway_fixtures",)
BURST = 5


@pytest.fixture(scope="module")
def pair(
    gateways: Gateways, credentials: Credentials, redis_server: RedisServer
) -> tuple[GatewayProcess, GatewayProcess]:
    env = auth_env(credentials) | {
        "VERITAS_REDIS_URL": redis_server.url,
        "VERITAS_RATE_LIMIT_RPS": "0.01",
        "VERITAS_RATE_LIMIT_BURST": str(BURST),
        "VERITAS_MAX_STREAMS_PER_TENANT": "1",
    }
    return gateways.start("redis-a", env), gateways.start("redis-b", env)


def tenant_key(credentials: Credentials, tenant: str) -> str:
    return keys.create_key(credentials.key_file, tenant, ["analyst"])[1]


def call(gw: GatewayProcess, key: str) -> grpc.RpcError | None:
    with grpc.insecure_channel(gw.address) as channel:
        stub = veritas_pb2_grpc.VeritasStub(channel)
        try:
            stub.Analyze(
                build_request(transcript="I was at home all evening."),
                timeout=60,
                metadata=[("authorization", f"Bearer {key}")],
            )
        except grpc.RpcError as e:
            return e
    return None


def retry_delay_s(error: grpc.RpcError) -> float:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "no google.rpc.Status in the trailers"
    info = error_details_pb2.RetryInfo()
    assert any(d.Unpack(info) for d in status.details), "no RetryInfo"
    return info.retry_delay.ToTimedelta().total_seconds()


def test_two_gateways_share_one_exact_budget(pair, credentials):
    key = tenant_key(credentials, "limited")
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(lambda i: call(pair[i % 2], key), range(16)))
    passed = [o for o in outcomes if o is None]
    refused = [o for o in outcomes if o is not None]
    assert len(passed) == BURST, [o.details() for o in refused if o]
    assert all(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for e in refused)
    # At 0.01 tokens/s the next token is ~100 s away; the delay says so.
    assert all(90 < retry_delay_s(e) <= 100 for e in refused)
    # Another tenant has its own budget.
    assert call(pair[0], tenant_key(credentials, "unlimited")) is None


def test_http_says_429_with_retry_after(pair, credentials):
    key = tenant_key(credentials, "limited-http")
    statuses, retry_after = [], []
    for i in range(BURST + 2):
        request = urllib.request.Request(
            f"{pair[i % 2].http}/v1/analyze",
            data=b'{"transcript": {"text": "I was at home."}}',
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as e:
            statuses.append(e.code)
            retry_after.append(e.headers.get("Retry-After"))
    assert statuses == [200] * BURST + [429, 429]
    assert all(r is not None and 90 < int(r) <= 100 for r in retry_after)


def test_concurrent_streams_are_capped_across_gateways(pair, credentials, mesh: Mesh):
    key = tenant_key(credentials, "streamer")
    metadata = [("authorization", f"Bearer {key}")]
    hold: queue.Queue[pb.LiveChunk | None] = queue.Queue()

    def fusion_streams() -> float:
        body = scrape(mesh.ports.metrics["fusion"])
        return metric(body, "veritas_requests_in_flight", service="fusion", method="FuseLive")

    before = fusion_streams()

    def chunks():
        yield pb.LiveChunk(config=pb.StreamConfig(request_id="held"))
        yield pb.LiveChunk(transcript_segment=pb.TranscriptSegment(text="Hello.", end_s=1))
        while (chunk := hold.get()) is not None:
            yield chunk

    first_channel = grpc.insecure_channel(pair[0].address)
    first = veritas_pb2_grpc.VeritasStub(first_channel).AnalyzeStream(
        chunks(), timeout=60, metadata=metadata
    )
    results: list[pb.AnalysisResult] = []
    reader = threading.Thread(target=lambda: results.extend(first))
    reader.start()
    try:
        # The first stream is admitted asynchronously after the call starts. Its gateway
        # opens the stream to fusion only after it holds the tenant's slot in Redis, so wait
        # until fusion has one more stream in flight: then the slot is surely taken.
        deadline = time.monotonic() + 30
        while fusion_streams() <= before:
            assert time.monotonic() < deadline, "the first stream never reached fusion"
            time.sleep(0.05)
        with grpc.insecure_channel(pair[1].address) as channel:
            second = veritas_pb2_grpc.VeritasStub(channel).AnalyzeStream(
                iter([pb.LiveChunk(config=pb.StreamConfig())]), timeout=30, metadata=metadata
            )
            with pytest.raises(grpc.RpcError) as info:
                list(second)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "streams open" in info.value.details()
        assert retry_delay_s(info.value) > 0
    finally:
        hold.put(None)
        reader.join(60)
        first_channel.close()
    assert results and results[-1].final
