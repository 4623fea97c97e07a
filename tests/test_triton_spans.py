"""Triton's own spans join the request's trace: the OTLP receiver (tools.otlp_receiver)
that the local launcher starts writes them into the span file, and `veritas trace` shows
Triton's request, queue and compute spans under each `triton.infer`.

The receiver is tested on bodies of both OTLP/HTTP encodings (a JSON body in the shape
Triton 2.51 sends, a protobuf body from the OpenTelemetry SDK's own encoder), then the whole
chain on the real mesh for one analysis of the bundled sample.
"""

from __future__ import annotations

import copy
import gzip
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tools.cli import sample_request
from tools.mesh import Mesh
from tools.otlp_receiver import OtlpReceiver, TraceAssembler, decode_request, spans_of
from tools.prometheus_local import render_chart
from tools.tracing_view import show_trace
from tools.triton_server import TritonInstall, TritonServer, trace_args
from veritas.client import Client

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"  # the client's triton.infer span
TRITON_OWN_TRACE = "d8059fb74ac1fe40b18a3dfb91a29d97"  # a trace Triton started itself


def triton_body(trace_id: str, root_parent: str, request_id: str = "") -> dict[str, Any]:
    """An export as Triton 2.51 sends it (OTLP/JSON, level=TIMESTAMPS): InferRequest ->
    the model's span -> compute, with the events the receiver reads."""
    model_attrs = [
        {"key": "triton.model_name", "value": {"stringValue": "physiology_cues"}},
        {"key": "triton.model_version", "value": {"intValue": "1"}},
        {"key": "triton.trace_id", "value": {"intValue": "1"}},
    ]
    if request_id:
        model_attrs.append({"key": "triton.request_id", "value": {"stringValue": request_id}})
    spans = [
        {
            "name": "compute",
            "kind": 2,
            "traceId": trace_id,
            "spanId": "2b48695869c65393",
            "parentSpanId": "ccc91cf9e3fd0282",
            "startTimeUnixNano": "1796491086934175968",
            "endTimeUnixNano": "1796491087007326437",
            "events": [
                {"name": "COMPUTE_START", "timeUnixNano": "1796491086934175968"},
                {"name": "COMPUTE_INPUT_END", "timeUnixNano": "1796491086934307049"},
                {"name": "COMPUTE_OUTPUT_START", "timeUnixNano": "1796491087006899863"},
                {"name": "COMPUTE_END", "timeUnixNano": "1796491087007326437"},
            ],
        },
        {
            "name": "physiology_cues",
            "kind": 2,
            "traceId": trace_id,
            "spanId": "ccc91cf9e3fd0282",
            "parentSpanId": "42114e6701b3ac26",
            "startTimeUnixNano": "1796491086930416881",
            "endTimeUnixNano": "1796491087007413582",
            "attributes": model_attrs,
            "events": [
                {"name": "REQUEST_START", "timeUnixNano": "1796491086930416881"},
                {"name": "QUEUE_START", "timeUnixNano": "1796491086930442053"},
                {"name": "REQUEST_END", "timeUnixNano": "1796491087007413582"},
            ],
        },
        {
            "name": "InferRequest",
            "kind": 2,
            "traceId": trace_id,
            "spanId": "42114e6701b3ac26",
            "startTimeUnixNano": "1796491086930335307",
            "endTimeUnixNano": "1796491087007482707",
            "events": [
                {"name": "GRPC_WAITREAD_START", "timeUnixNano": "1796491086828579241"},
                {"name": "GRPC_WAITREAD_END", "timeUnixNano": "1796491086930276696"},
                {"name": "GRPC_SEND_END", "timeUnixNano": "1796491087007452685"},
            ],
        },
    ]
    if root_parent:
        spans[2]["parentSpanId"] = root_parent
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "triton"}},
                        {"key": "telemetry.sdk.language", "value": {"stringValue": "cpp"}},
                    ]
                },
                "scopeSpans": [{"scope": {"name": "triton-server"}, "spans": spans}],
            }
        ]
    }


def post(url: str, body: bytes, content_type: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def stored(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --------------------------------------------------------------------------- the receiver


def test_a_triton_json_export_lands_in_the_span_file(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    with OtlpReceiver(path) as receiver:
        body = triton_body(CALLER_TRACE, CALLER_SPAN)
        status, reply = post(receiver.url, json.dumps(body).encode(), "application/json")
        assert status == 200 and json.loads(reply) == {}
    spans = {s["name"]: s for s in stored(path)}
    assert set(spans) == {"InferRequest", "physiology_cues", "queue", "compute"}
    assert {s["trace_id"] for s in spans.values()} == {CALLER_TRACE}
    assert {s["service"] for s in spans.values()} == {"triton"}
    root, model = spans["InferRequest"], spans["physiology_cues"]
    assert root["parent_id"] == CALLER_SPAN  # the caller's span, from the W3C context
    assert model["parent_id"] == root["span_id"]
    assert model["attributes"]["triton.model_version"] == 1
    assert spans["compute"]["parent_id"] == model["span_id"]
    queue = spans["queue"]  # QUEUE_START of the model span to COMPUTE_START of its compute
    assert queue["parent_id"] == model["span_id"]
    assert queue["start_ns"] == 1796491086930442053
    assert queue["end_ns"] == 1796491086934175968
    assert "veritas.derived" in queue["attributes"]
    assert "veritas.relinked_from" not in root["attributes"]
    # The tree `veritas trace` prints, under the caller's span id (not in this file: a root).
    tree = show_trace(CALLER_TRACE, path).splitlines()[1:]
    assert [line.split("  (")[0] for line in tree] == [
        "InferRequest",
        "└─ physiology_cues",
        "   ├─ queue",
        "   └─ compute",
    ]
    assert tree[2].endswith("(triton, 3.7 ms)")


def test_a_trace_triton_started_itself_is_moved_under_its_caller(tmp_path: Path) -> None:
    """Triton sometimes ignores the W3C context and starts its own trace; the request id
    the client sends (its traceparent) puts it back under the caller's span."""
    path = tmp_path / "spans.jsonl"
    traceparent = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    with OtlpReceiver(path) as receiver:
        body = triton_body(TRITON_OWN_TRACE, "", request_id=traceparent)
        status, _ = post(receiver.url, json.dumps(body).encode(), "application/json")
        assert status == 200
    spans = {s["name"]: s for s in stored(path)}
    assert {s["trace_id"] for s in spans.values()} == {CALLER_TRACE}
    assert spans["InferRequest"]["parent_id"] == CALLER_SPAN
    assert spans["InferRequest"]["attributes"]["veritas.relinked_from"] == TRITON_OWN_TRACE
    assert spans["queue"]["trace_id"] == CALLER_TRACE


def test_a_request_id_that_is_not_a_traceparent_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    with OtlpReceiver(path) as receiver:
        body = triton_body(TRITON_OWN_TRACE, "", request_id="order-42")
        assert post(receiver.url, json.dumps(body).encode(), "application/json")[0] == 200
    spans = stored(path)
    assert {s["trace_id"] for s in spans} == {TRITON_OWN_TRACE}
    assert [s["parent_id"] for s in spans if s["name"] == "InferRequest"] == [""]


def test_a_protobuf_export_from_the_sdk_encoder(tmp_path: Path) -> None:
    """application/x-protobuf, gzip-compressed, encoded by OpenTelemetry's own encoder."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "triton"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("InferRequest"):
        with tracer.start_as_current_span("text_deception", attributes={"triton.model_version": 3}):
            pass
    finished = memory.get_finished_spans()
    body = gzip.compress(encode_spans(finished).SerializeToString())
    path = tmp_path / "spans.jsonl"
    with OtlpReceiver(path) as receiver:
        status, reply = post(
            receiver.url, body, "application/x-protobuf", **{"Content-Encoding": "gzip"}
        )
        assert status == 200 and reply == b""  # an empty ExportTraceServiceResponse
    spans = {s["name"]: s for s in stored(path)}
    root, model = spans["InferRequest"], spans["text_deception"]
    assert root["trace_id"] == format(finished[1].context.trace_id, "032x")
    assert model["parent_id"] == root["span_id"] == format(finished[1].context.span_id, "016x")
    assert model["attributes"] == {"triton.model_version": 3}
    assert model["end_ns"] == finished[0].end_time


@pytest.mark.parametrize(
    ("body", "content_type", "path", "status", "message"),
    [
        (b"{not json", "application/json", "/v1/traces", 400, "body: not JSON"),
        (b'{"resourceSpans": 3}', "application/json", "/v1/traces", 400, "body: not an Export"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
         "application/json", "/v1/traces", 400, "traceId: not a hex id"),
        (b"\xff\x00garbage", "application/x-protobuf", "/v1/traces", 400, "body: not an Export"),
        (b"{}", "text/plain", "/v1/traces", 415, "Content-Type:"),
        (b"{}", "application/json", "/v1/metrics", 404, "only /v1/traces"),
    ],
)  # fmt: skip
def test_bad_exports_are_refused_naming_what_is_wrong(
    tmp_path: Path, body: bytes, content_type: str, path: str, status: int, message: str
) -> None:
    with OtlpReceiver(tmp_path / "spans.jsonl") as receiver:
        url = receiver.url.replace("/v1/traces", path)
        got, reply = post(url, body, content_type)
        assert got == status
        assert json.loads(reply)["message"].startswith(message)
        # the receiver still takes a good export afterwards
        good = json.dumps(triton_body(CALLER_TRACE, CALLER_SPAN)).encode()
        assert post(receiver.url, good, "application/json")[0] == 200
    assert len(stored(tmp_path / "spans.jsonl")) == 4


def test_a_trace_split_across_exports_is_written_whole(tmp_path: Path) -> None:
    """Triton's batch exporter may cut between the compute span and the top-level span: the
    receiver holds the first part until the rest comes, or for hold_s at most."""
    body = triton_body(TRITON_OWN_TRACE, "", request_id=f"00-{CALLER_TRACE}-{CALLER_SPAN}-01")
    spans = spans_of(decode_request(json.dumps(body).encode(), "application/json"))
    first, rest = spans[:2], spans[2:]  # compute and the model's span; then InferRequest

    path = tmp_path / "spans.jsonl"
    assembler = TraceAssembler(str(path), hold_s=3.0)
    assembler.add(copy.deepcopy(first), now=0)
    assert stored(path) == []  # held: the top-level span has not come yet
    assembler.add(copy.deepcopy(rest), now=1)
    written = stored(path)
    assert len(written) == 4 and {s["trace_id"] for s in written} == {CALLER_TRACE}

    # A part whose top-level span never comes is written as it is after hold_s.
    lonely = tmp_path / "lonely.jsonl"
    assembler = TraceAssembler(str(lonely), hold_s=3.0)
    assembler.add(copy.deepcopy(first), now=0)
    assembler.flush(now=2.9)
    assert stored(lonely) == []
    assembler.flush(now=3.0)
    assert [s["name"] for s in stored(lonely)] == ["compute", "physiology_cues", "queue"]


# --------------------------------------------------------------------------- the chart


def _triton_args(values: dict[str, Any]) -> list[str]:
    (triton,) = [
        d
        for d in render_chart(values)
        if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-triton")
    ]
    return [a for a in triton["spec"]["template"]["spec"]["containers"][0]["args"]]


def test_the_chart_starts_triton_with_the_same_trace_flags(tmp_path: Path) -> None:
    """In a cluster Triton exports to the collector with the flags the local Triton uses."""
    url = "http://otel-collector.observability:4318/v1/traces"
    values = {
        "telemetry": {"tritonTraceUrl": url},
        "triton": {"image": {"tag": "25.04-py3"}},  # tracing needs 25.04+ (docs/kubernetes.md)
    }
    chart = [a for a in _triton_args(values) if "trace" in a]
    install = TritonInstall(*(tmp_path / n for n in ("bin", "python", "stub", "caches", "libs")))
    command = TritonServer(tmp_path, install).command(
        tmp_path, 8001, 8000, 8002, otlp_url=url, trace_rate=100
    )
    local = [a for a in command if "trace" in a]
    assert sorted(chart) == sorted(local) == sorted(trace_args(url, rate=100))
    assert not [a for a in _triton_args({}) if "trace" in a]  # no URL, no tracing


# --------------------------------------------------------------------------- the mesh


MODALITIES = ("vision", "audio", "text", "physiology")


def _all_written(spans: list[dict[str, Any]]) -> bool:
    """Every modality service's RPC span is in (its children ended, and were exported,
    before it), and every inference call has Triton's spans under it."""
    served = {s["service"] for s in spans if s["name"].endswith("ModalityAnalyzer/Analyze")}
    infers = [s for s in spans if s["name"] == "triton.infer"]
    children = {s["parent_id"] for s in spans if s["name"] == "InferRequest"}
    return {f"veritas-{m}" for m in MODALITIES} <= served and all(
        s["span_id"] in children for s in infers
    )


def test_tritons_spans_sit_under_each_inference_call(mesh: Mesh, triton_traced: Mesh) -> None:
    """One analysis of the bundled sample: every triton.infer span of its trace has Triton's
    InferRequest as a child, then the model's span, then its queue and compute spans.

    Triton 2.51 now and then drops the caller's context and starts a trace of its own
    (docs/kubernetes.md); the receiver moves those back by request id, but one such call in
    an analysis can still be lost, so up to three analyses are tried for one whole trace."""
    path = mesh.run_dir / "spans.jsonl"
    for _ in range(3):
        with Client(mesh.address("gateway"), timeout_s=120) as client:
            result = client.analyze(sample_request())  # type: ignore[arg-type]
        trace_id = result.trace_id
        deadline = time.monotonic() + 20  # a bound: services and Triton export every 200 ms
        while True:
            spans = [s for s in stored(path) if s["trace_id"] == trace_id]
            if _all_written(spans) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if _all_written(spans):
            break
    by_id = {s["span_id"]: s for s in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        children.setdefault(span["parent_id"], []).append(span)
    infers = [s for s in spans if s["name"] == "triton.infer"]
    models = {s["attributes"]["triton.model"] for s in infers}
    assert models >= {"vision_behaviour", "audio_cues", "text_deception", "physiology_cues"}
    for infer in infers:
        (request,) = [c for c in children.get(infer["span_id"], []) if c["service"] == "triton"]
        assert request["name"] == "InferRequest"
        assert request["trace_id"] == trace_id
        # (no check that Triton's times lie within the call's: Triton converts its steady-clock
        # timestamps to wall-clock time with its own offset, which may be off by milliseconds)
        (model,) = children[request["span_id"]]
        assert model["name"] == infer["attributes"]["triton.model"]
        assert model["attributes"]["triton.model_name"] == model["name"]
        assert sorted(c["name"] for c in children[model["span_id"]]) == ["compute", "queue"]
    # The inference calls themselves sit under the modality services' RPCs, down from the gateway.
    for infer in infers:
        span, hops = infer, []
        while span["parent_id"] in by_id:
            span = by_id[span["parent_id"]]
            hops.append(span["service"])
        assert hops[-1] == "veritas-gateway"

    tree = show_trace(trace_id, path).splitlines()
    assert "triton" in tree[0].split("services: ")[1]
    lines = [  # (name, indentation) of each line of the tree
        (line.lstrip("│├└─ ").split("  (")[0], len(line) - len(line.lstrip("│├└─ ")))
        for line in tree[1:]
    ]
    shown = 0
    for i, (name, depth) in enumerate(lines):
        if name != "triton.infer":
            continue
        request, model, queue, compute = lines[i + 1 : i + 5]
        assert request == ("InferRequest", depth + 3)
        assert model[1] == depth + 6 and model[0] in models
        assert (queue, compute) == (("queue", depth + 9), ("compute", depth + 9))
        shown += 1
    assert shown == len(infers)
