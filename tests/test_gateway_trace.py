"""One trace from the gateway to Triton: in memory (in-process stack) and in the span file
of the running mesh, shown as a tree by `veritas trace`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fusion.service import FusionServicer
from gateway.audit import AuditLog
from gateway.auth import Authenticator
from gateway.core import Gateway
from gateway.ratelimit import MemoryLimiter
from gateway.service import GatewayServicer
from gateway.settings import Settings
from gateway.usage import MemoryUsage
from services.text.analyzer import TextAnalyzer
from tests.conftest import SAMPLES
from tests.gateway_fixtures import Credentials, GatewayProcess
from tools.mesh import Mesh
from tools.tracing_view import show_trace
from veritas import modalities
from veritas.grpc_tracing import ServerTracing, client_interceptors
from veritas.modality_service import ModalityServicer
from veritas.triton_client import TritonClient
from veritas.v1 import common_pb2 as pb
from veritas.v1 import fusion_pb2_grpc, modality_pb2_grpc, veritas_pb2_grpc

pytest_plugins = ("tests.gateway_fixtures",)
TRANSCRIPT = (SAMPLES / "transcript.txt").read_text(encoding="utf-8")
# Every hop, outermost first: each span's parent is the one before it.
CHAIN = [
    "/veritas.v1.Veritas/Analyze",  # gateway, server
    "/veritas.v1.Fusion/Fuse",  # gateway, client
    "/veritas.v1.Fusion/Fuse",  # fusion, server
    "/veritas.v1.ModalityAnalyzer/Analyze",  # fusion, client
    "/veritas.v1.ModalityAnalyzer/Analyze",  # text, server
    # A unary Analyze reads only the final result: the whole-input result is the one
    # scored, by the servicer itself (veritas.hints), not inside "features.windows".
    "triton.infer",
]


def settings(tmp: Path) -> Settings:
    return Settings(
        auth=frozenset({"none"}),
        api_keys_file="",
        jwt_jwks="",
        jwt_issuer="",
        jwt_audience="",
        jwt_leeway_s=30,
        jwt_tenant_claim="tenant",
        jwt_roles_claim="roles",
        redis_url="",
        rate=100,
        burst=100,
        max_streams=4,
        max_request_bytes=1 << 20,
        max_legacy_request_bytes=1 << 20,
        budget_s=0.05,
        default_deadline_s=30,
        max_deadline_s=120,
        max_stream_s=600,
        http_port=0,
        tls_cert="",
        tls_key="",
        audit_file=str(tmp / "audit.jsonl"),
    )


async def serve(add) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server(interceptors=[ServerTracing()])
    add(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


def ancestry(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = [span.name]
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names[::-1]


async def test_the_full_tree_in_memory(mesh: Mesh, exporter: InMemorySpanExporter, tmp_path):
    """Gateway, fusion and the text service in this process, Triton from the mesh."""
    triton = TritonClient(mesh.triton_url, 10.0)
    text, text_addr = await serve(
        lambda s: modality_pb2_grpc.add_ModalityAnalyzerServicer_to_server(
            ModalityServicer(TextAnalyzer(), triton), s
        )
    )
    channels = {
        m: grpc.aio.insecure_channel(text_addr, interceptors=client_interceptors())
        for m in modalities.ENUMS
    }
    fusion, fusion_addr = await serve(
        lambda s: fusion_pb2_grpc.add_FusionServicer_to_server(FusionServicer(channels, 30), s)
    )
    to_fusion = grpc.aio.insecure_channel(fusion_addr, interceptors=client_interceptors())
    config = settings(tmp_path)
    gateway = Gateway(
        to_fusion,
        Authenticator(None, None, anonymous=True),
        MemoryLimiter(config.rate, config.burst, config.max_streams),
        MemoryUsage(),
        AuditLog(config.audit_file),
        config,
    )
    front, front_addr = await serve(
        lambda s: veritas_pb2_grpc.add_VeritasServicer_to_server(GatewayServicer(gateway), s)
    )
    try:
        async with grpc.aio.insecure_channel(front_addr) as channel:
            result = await veritas_pb2_grpc.VeritasStub(channel).Analyze(
                pb.AnalysisRequest(transcript=pb.Transcript(text=TRANSCRIPT)), timeout=60
            )
    finally:
        for server in (front, fusion, text):
            await server.stop(0)
        for c in [to_fusion, *channels.values()]:
            await c.close()
        await triton.close()
    spans = [
        s
        for s in exporter.get_finished_spans()
        if format(s.context.trace_id, "032x") == result.trace_id
    ]
    by_id = {s.context.span_id: s for s in spans}
    roots = [s for s in spans if s.parent is None]
    assert [s.name for s in roots] == ["/veritas.v1.Veritas/Analyze"]
    chains = [ancestry(s, by_id) for s in spans if s.name == "triton.infer"]
    assert CHAIN in chains
    names = {s.name for s in spans}
    assert {"gateway.authenticate", "gateway.rate_limit", "fusion.plan", "decode"} <= names
    assert "features.summary" in names


def test_an_http_call_is_one_tree_in_the_span_file(
    mesh: Mesh, triton_traced: Mesh, secured: GatewayProcess, credentials: Credentials
):
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    response = httpx.post(
        f"{secured.http}/v1/analyze",
        json={"transcript": {"text": TRANSCRIPT}, "physiology": {"heart_rate": [70, 72, 75]}},
        headers={
            "Authorization": f"Bearer {credentials.analyst}",
            "traceparent": f"00-{trace_id}-b7ad6b7169203331-01",
        },
        timeout=60,
    )
    assert response.status_code == 200 and response.json()["trace_id"] == trace_id
    path = mesh.run_dir / "spans.jsonl"
    deadline = time.monotonic() + 30  # a bound, not a wait: it stops as soon as all are in
    while True:  # the last spans land as their services finish
        spans = [json.loads(x) for x in path.read_text().splitlines() if trace_id in x]
        services = {s["service"] for s in spans}
        wanted = {"veritas-gateway", "veritas-fusion", "veritas-text", "veritas-physiology"}
        # The HTTP span (the caller's child) ends after the response has been sent.
        root_written = any(s["parent_id"] == "b7ad6b7169203331" for s in spans)
        # Triton's spans come through the OTLP receiver, after each inference call ended.
        under_infer = {s["parent_id"] for s in spans if s["name"] == "InferRequest"}
        infers = [s["span_id"] for s in spans if s["name"] == "triton.infer"]
        triton_written = bool(infers) and all(i in under_infer for i in infers)
        done = wanted <= services and root_written and triton_written
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert wanted <= services
    by_id = {s["span_id"]: s for s in spans}
    (root,) = [s for s in spans if s["parent_id"] not in by_id]
    assert root["name"] == "POST /v1/analyze" and root["parent_id"] == "b7ad6b7169203331"
    infer = [s for s in spans if s["name"] == "triton.infer"]
    assert len(infer) >= 2  # text and physiology
    for span in infer:
        hops = []
        while span["parent_id"] in by_id:
            span = by_id[span["parent_id"]]
            hops.append(span["service"])
        assert hops[-1] == "veritas-gateway" and "veritas-fusion" in hops

    tree = show_trace(trace_id, path).splitlines()
    assert tree[0].startswith(f"trace {trace_id}: {len(spans)} spans")
    assert tree[1].startswith("POST /v1/analyze  (gateway, ")
    indents = [
        (line.lstrip("│├└─ ").split("  (")[0], len(line) - len(line.lstrip("│├└─ ")))
        for line in tree[1:]
    ]
    fuse = min(i for name, i in indents if name == "/veritas.v1.Fusion/Fuse")
    assert all(i > fuse for name, i in indents if name in ("triton.infer", "decode"))
    assert show_trace(trace_id[:12], path) == "\n".join(tree)
    assert show_trace("ffff0000", path).startswith("no spans")


def test_the_tree_nests_by_parent_and_orders_by_start(tmp_path: Path):
    def span(name: str, span_id: str, parent: str, start: int, service: str = "veritas-x"):
        return {
            "name": name,
            "service": service,
            "trace_id": "ab" * 16,
            "span_id": span_id,
            "parent_id": parent,
            "start_ns": start,
            "end_ns": start + 2_000_000,
            "status": "UNSET",
        }

    lines = [
        span("child-late", "c2", "r1", 30),
        span("root", "r1", "caller-span-not-in-file", 0, "veritas-gateway"),
        span("grandchild", "g1", "c1", 20),
        span("child-early", "c1", "r1", 10),
        {**span("other trace", "o1", "", 0), "trace_id": "cd" * 16},
    ]
    path = tmp_path / "spans.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{partial")
    assert show_trace("abab", path).splitlines()[1:] == [
        "root  (gateway, 2.0 ms)",
        "├─ child-early  (x, 2.0 ms)",
        "│  └─ grandchild  (x, 2.0 ms)",
        "└─ child-late  (x, 2.0 ms)",
    ]
