"""Cancelled streams log no "Failed to detach context", and traces still join across hops.

The failure it guards against (opentelemetry-python-contrib #2357): a streaming handler
wrapped by opentelemetry-instrumentation-grpc's aio interceptor keeps the trace context
attached across `yield`; when the call is cancelled while the server waits to send (the
client stopped reading), grpc abandons the response generator at that `yield`, the event
loop closes it later in a task of its own, and the detach there fails with a traceback at
ERROR, once per call. The test makes exactly that happen, deliberately: the handler yields
1 MiB messages that the client never reads, so the server blocks on flow control, and the
client then cancels. It runs the same calls through the instrumentation's interceptors
(which must produce the traceback: the test can see the failure) and through
veritas.grpc_tracing (which must not). Then the same on the real mesh: live streams and
analyses cut by deadlines or cancelled, through the gateway, leave no such traceback in any
service's log, and a call's trace still joins gateway, fusion, text and Triton's call.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tools.mesh import Mesh
from veritas.grpc_tracing import ServerTracing, client_interceptors
from veritas.v1 import common_pb2 as pb
from veritas.v1 import veritas_pb2_grpc

STREAM = "/test.Flood/Stream"
TICKS = "/test.Flood/Ticks"
UNARY = "/test.Flood/Echo"
CALLS = 12
CUT_AFTER = [1 + i % 30 for i in range(60)]  # messages read before cancelling a Ticks call
DEADLINES_S = [0.001 * (1 + i) for i in range(20)]  # the handler may not even start
MESSAGE = b"x" * (1 << 20)  # far more than the flow-control window, a few at a time
tracer = trace.get_tracer("tests.grpc_tracing")
STARTED = {"ticks": 0}  # Ticks handlers that ran (a deadline can expire before one does)


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def detach_errors() -> Iterator[list[logging.LogRecord]]:
    handler = Errors()
    logger = logging.getLogger("opentelemetry.context")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


async def flood(request: bytes, context: Any) -> AsyncIterator[bytes]:
    """Keeps a span of its own open across its yields, as the services' handlers do."""
    with tracer.start_as_current_span("handler.inner"):
        while True:
            yield MESSAGE


async def ticks(request: bytes, context: Any) -> AsyncIterator[bytes]:
    """Awaits between small messages: a cancel finds it waiting, sending or between."""
    STARTED["ticks"] += 1
    with tracer.start_as_current_span("handler.ticks"):
        while True:
            await asyncio.sleep(0.0005)
            yield b"tick"


async def echo(request: bytes, context: Any) -> bytes:
    with tracer.start_as_current_span("handler.echo"):
        await asyncio.sleep(0)
        return request


HANDLERS = grpc.method_handlers_generic_handler(
    "test.Flood",
    {
        "Stream": grpc.unary_stream_rpc_method_handler(flood),
        "Ticks": grpc.unary_stream_rpc_method_handler(ticks),
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
    },
)


async def cancelled_streams(server_interceptor: Any, client: list[Any]) -> tuple[str, str, bytes]:
    """CALLS streams, each read once and then cancelled while the server is blocked
    sending; streams cancelled after 1 to 30 messages, or cut by deadlines of 1 to 20 ms
    (whichever point of the handler that finds); then one unary call. Returns the
    streams' trace id, the unary call's, and its reply."""
    server = grpc.aio.server(interceptors=[server_interceptor])
    server.add_generic_rpc_handlers((HANDLERS,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=client) as ch:
            with tracer.start_as_current_span("test.streams") as streams:
                calls = [ch.unary_stream(STREAM)(b"go") for _ in range(CALLS)]
            for call in calls:
                assert await call.read() == MESSAGE
            # The server's handler keeps producing: each stream's sender is now blocked on
            # flow control, at a `yield`, for as long as this client does not read.
            await asyncio.sleep(0.5)
            for call in calls:
                call.cancel()
            with trace.use_span(streams):  # the same trace: its spans are this run's
                await asyncio.gather(
                    *(read_then_cancel(ch, n) for n in CUT_AFTER),
                    *(read_until_deadline(ch, t) for t in DEADLINES_S),
                )
            await asyncio.sleep(0.5)
            gc.collect()  # the abandoned generators are finalised ...
            await asyncio.sleep(0.5)  # ... and closed by the loop in tasks of their own
            with tracer.start_as_current_span("test.root") as root:
                reply = await ch.unary_unary(UNARY)(b"ping", timeout=10)
    finally:
        await server.stop(0)
    return trace_of(streams), trace_of(root), reply


async def read_then_cancel(channel: grpc.aio.Channel, messages: int) -> None:
    call = channel.unary_stream(TICKS)(b"go")
    for _ in range(messages):
        assert await call.read() == b"tick"
    call.cancel()


async def read_until_deadline(channel: grpc.aio.Channel, deadline_s: float) -> None:
    call = channel.unary_stream(TICKS)(b"go", timeout=deadline_s)
    with pytest.raises(grpc.aio.AioRpcError) as cut:
        async for _ in call:
            pass
    assert cut.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def trace_of(span: Any) -> str:
    return format(span.get_span_context().trace_id, "032x")


def chain(span: ReadableSpan, spans: list[ReadableSpan]) -> list[str]:
    by_id = {s.context.span_id: s for s in spans}
    names = [span.name]
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names[::-1]


async def test_the_instrumentation_logs_detach_failures_on_cancelled_streams(
    exporter: InMemorySpanExporter, detach_errors: list[logging.LogRecord]
) -> None:
    """The failure is real here: without it, the next test would prove nothing."""
    await cancelled_streams(aio_server_interceptor(), aio_client_interceptors())
    assert any(r.getMessage() == "Failed to detach context" for r in detach_errors)


async def test_cancelled_streams_log_no_detach_failure_and_traces_join(
    exporter: InMemorySpanExporter, detach_errors: list[logging.LogRecord]
) -> None:
    STARTED["ticks"] = 0
    streams, trace_id, reply = await cancelled_streams(ServerTracing(), client_interceptors())
    assert reply == b"ping"
    assert [r.getMessage() for r in detach_errors] == []

    # This run's spans only: the instrumentation's from the test before may end late.
    spans = [s for s in exporter.get_finished_spans() if trace_of(s) in (streams, trace_id)]
    servers = [s for s in spans if s.name == STREAM and s.kind == trace.SpanKind.SERVER]
    clients = [s for s in spans if s.name == STREAM and s.kind == trace.SpanKind.CLIENT]
    assert len(servers) == len(clients) == CALLS  # every span ended, cancelled or not
    assert {(s.attributes or {})["rpc.grpc.status_code"] for s in servers} == {1}  # CANCELLED
    inner = [s for s in spans if s.name == "handler.inner"]
    assert len(inner) == CALLS  # the handler's own spans were closed too
    assert all(chain(s, spans) == ["test.streams", STREAM, STREAM, "handler.inner"] for s in inner)
    cut = [s for s in spans if s.name == "handler.ticks"]
    assert len(cut) == STARTED["ticks"] >= len(CUT_AFTER)  # all ended, wherever cut
    assert all(chain(s, spans) == ["test.streams", TICKS, TICKS, "handler.ticks"] for s in cut)
    cut = [s for s in spans if s.name == TICKS and s.kind == trace.SpanKind.SERVER]
    assert {(s.attributes or {})["rpc.grpc.status_code"] for s in cut} <= {
        1,
        4,
    }  # CANCELLED, DEADLINE

    echo_span = next(s for s in spans if s.name == "handler.echo")
    assert trace_of(echo_span) == trace_id
    assert chain(echo_span, spans) == ["test.root", UNARY, UNARY, "handler.echo"]
    server = next(s for s in spans if s.name == UNARY and s.kind == trace.SpanKind.SERVER)
    assert (server.attributes or {})["rpc.service"] == "test.Flood"
    assert (server.attributes or {})["rpc.method"] == "Echo"
    assert (server.attributes or {})["rpc.grpc.status_code"] == 0


# ---- the real mesh ----------------------------------------------------------------------

TRANSCRIPT = "I was at home all evening. I never took the money. " * 4
HOPS = [
    ("veritas-gateway", "/veritas.v1.Veritas/Analyze"),
    ("veritas-gateway", "/veritas.v1.Fusion/Fuse"),
    ("veritas-fusion", "/veritas.v1.Fusion/Fuse"),
    ("veritas-fusion", "/veritas.v1.ModalityAnalyzer/Analyze"),
    ("veritas-text", "/veritas.v1.ModalityAnalyzer/Analyze"),
    ("veritas-text", "triton.infer"),
]


async def cut_short(stub: Any, i: int) -> None:
    """A live stream or an analysis, cut by its deadline or cancelled after the first
    result, at a different point each time."""
    if i % 2:
        try:
            await stub.Analyze(
                pb.AnalysisRequest(transcript=pb.Transcript(text=TRANSCRIPT)),
                timeout=0.005 + (i % 20) * 0.01,
            )
        except grpc.aio.AioRpcError:
            pass
        return

    async def chunks() -> AsyncIterator[pb.LiveChunk]:
        yield pb.LiveChunk(config=pb.StreamConfig(options=pb.Options(window_s=1.0)))
        for k in range(40):
            segment = pb.TranscriptSegment(
                text="I was at home. ", start_s=k * 0.5, end_s=k * 0.5 + 0.4
            )
            yield pb.LiveChunk(transcript_segment=segment)
            await asyncio.sleep(0.01)

    call = stub.AnalyzeStream(chunks(), timeout=0.05 + (i % 10) * 0.05)
    try:
        async for _ in call:
            if i % 3 == 0:
                call.cancel()
                break
    except (grpc.aio.AioRpcError, asyncio.CancelledError):
        pass


def spans_of(path: Path, trace_id: str) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        if trace_id in line:
            try:
                out.append(json.loads(line))
            except ValueError:  # a line being written
                pass
    return out


@pytest.mark.integration
async def test_the_mesh_logs_no_detach_failure_under_cut_streams(mesh: Mesh) -> None:
    async with grpc.aio.insecure_channel(mesh.address("gateway")) as channel:
        stub = veritas_pb2_grpc.VeritasStub(channel)
        for _ in range(2):
            await asyncio.gather(*(cut_short(stub, i) for i in range(60)))
        trace_id = secrets.token_hex(16)  # its own: the session mesh's span file is shared
        await stub.Analyze(
            pb.AnalysisRequest(transcript=pb.Transcript(text=TRANSCRIPT)),
            metadata=(("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01"),),
            timeout=60,
        )
    path = mesh.run_dir / "spans.jsonl"
    deadline = time.monotonic() + 30  # a bound, not a wait: it stops once the trace is in
    while True:
        spans = spans_of(path, trace_id)
        names = {(s["service"], s["name"]) for s in spans}
        if set(HOPS) <= names or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    by_id = {s["span_id"]: s for s in spans}
    infer = next(s for s in spans if s["name"] == "triton.infer")
    chain_ = [infer]
    while chain_[-1]["parent_id"] in by_id:
        chain_.append(by_id[chain_[-1]["parent_id"]])
    assert chain_[-1]["parent_id"] == "00f067aa0ba902b7"  # the caller's span
    hops = [(s["service"], s["name"]) for s in reversed(chain_)]
    assert [h for h in hops if h in HOPS] == HOPS

    await asyncio.sleep(1.0)  # streams the services are still closing
    failures = {
        log.name: log.read_text(errors="replace").count("Failed to detach context")
        for log in (mesh.run_dir / "logs").glob("*.log")
    }
    assert set(failures.values()) == {0}, failures
