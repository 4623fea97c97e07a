"""A local OTLP/HTTP trace receiver: Triton's own spans into the span store `veritas trace` reads.

Triton exports its traces only over OTLP/HTTP. In a cluster they go to the OpenTelemetry
collector; on one machine (`make run`, the tests) the launcher (tools.mesh) starts this
receiver and points Triton at it, so Triton's request, model and compute spans land in the
same JSON-lines file as the services' spans (veritas.telemetry.append_spans).

Bodies are decoded with the OpenTelemetry protocol package: `ExportTraceServiceRequest`,
`ParseFromString` for application/x-protobuf and google.protobuf.json_format for
application/json (OTLP/JSON writes trace and span ids as hex where protobuf's JSON mapping
expects base64, the one conversion done before parsing).

Two things are added to what Triton sends, both marked on the spans they touch:

- a `queue` span under each model span, from Triton's own QUEUE_START (model span) to
  COMPUTE_START (compute span) events: Triton records the queue time as events, not a span;
- the parent link, when Triton dropped it. Triton 2.51 ignores the W3C context of some gRPC
  requests and starts a trace of its own (seen now and then from the services' asyncio
  client, more often from tritonclient's synchronous one; no script here counts it).
  The client sends its `traceparent` as the request id too (veritas.triton_client), which
  Triton records on the model span as `triton.request_id`; such a trace is moved under
  the caller's span, with `veritas.relinked_from` holding Triton's own trace id.

Spans of one Triton trace are written together once its top-level span (`InferRequest`,
which ends last) has arrived, or after `hold_s` if it never does.

    python -m tools.otlp_receiver --file .run/spans.jsonl --port 4318
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import logging
import signal
import threading
import time
import zlib
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from veritas.telemetry import append_spans

log = logging.getLogger("veritas.launcher.otlp")

TRACES_PATH = "/v1/traces"
JSON, PROTOBUF = "application/json", "application/x-protobuf"
MAX_BODY_BYTES = 16 << 20
TOP_LEVEL = "InferRequest"  # Triton's one top-level span per trace; it ends last
REQUEST_ID = "triton.request_id"
_HEX_ID_FIELDS = ("traceId", "spanId", "parentSpanId")
_STATUS = {
    Status.STATUS_CODE_UNSET: "UNSET",
    Status.STATUS_CODE_OK: "OK",
    Status.STATUS_CODE_ERROR: "ERROR",
}


class BadRequest(ValueError):
    """The body is not an OTLP trace export this receiver can read."""


# --------------------------------------------------------------------------- decoding


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON ids are hex; protobuf's JSON mapping of `bytes` is base64."""
    if isinstance(node, list):
        return [_hex_ids_to_base64(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in _HEX_ID_FIELDS and isinstance(value, str):
            try:
                value = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            except ValueError as e:
                raise BadRequest(f"{key}: not a hex id: {value!r}") from e
        else:
            value = _hex_ids_to_base64(value)
        out[key] = value
    return out


def decode_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Parse an OTLP/HTTP traces body (protobuf or JSON)."""
    request = ExportTraceServiceRequest()
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as e:
            raise BadRequest(f"body: not an ExportTraceServiceRequest: {e}") from e
    elif kind == JSON:
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadRequest(f"body: not JSON: {e}") from e
        try:
            json_format.ParseDict(_hex_ids_to_base64(document), request, ignore_unknown_fields=True)
        except json_format.ParseError as e:
            raise BadRequest(f"body: not an ExportTraceServiceRequest: {e}") from e
    else:
        raise BadRequest(f"Content-Type: {content_type!r} is neither {JSON} nor {PROTOBUF}")
    return request


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind) if kind else None


def _span_dict(span: Span, service: str) -> dict[str, Any]:
    """One span in the span store's shape (veritas.telemetry.span_to_dict) plus its events."""
    return {
        "name": span.name,
        "service": service,
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_id": span.parent_span_id.hex(),
        "start_ns": span.start_time_unix_nano,
        "end_ns": span.end_time_unix_nano,
        "status": _STATUS.get(span.status.code, "UNSET"),
        "attributes": {a.key: _value(a.value) for a in span.attributes},
        "events": [{"name": e.name, "time_ns": e.time_unix_nano} for e in span.events],
    }


def spans_of(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """Every span of an export, with its resource's service.name."""
    out = []
    for resource_spans in request.resource_spans:
        attrs = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        service = str(attrs.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            out += [_span_dict(s, service) for s in scope_spans.spans]
    return out


# --------------------------------------------------------------------------- Triton's traces


def _event(span: dict[str, Any], name: str) -> int | None:
    return next((e["time_ns"] for e in span.get("events", ()) if e["name"] == name), None)


def caller_of(request_id: str) -> tuple[str, str] | None:
    """(trace id, span id) of the caller when the request id is a W3C traceparent."""
    context = TraceContextTextMapPropagator().extract({"traceparent": request_id})
    span_context = trace.get_current_span(context).get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def relink(spans: list[dict[str, Any]]) -> None:
    """Put one Triton trace under its caller's span when Triton dropped the W3C context."""
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if s["parent_id"] not in ids]
    request_ids = {s["attributes"][REQUEST_ID] for s in spans if REQUEST_ID in s["attributes"]}
    if len(roots) != 1 or len(request_ids) != 1:
        return
    caller = caller_of(str(request_ids.pop()))
    if caller is None:
        return
    trace_id, parent_id = caller
    root = roots[0]
    if root["trace_id"] == trace_id and root["parent_id"] == parent_id:
        return
    original = root["trace_id"]
    for span in spans:
        span["trace_id"] = trace_id
        span["attributes"]["veritas.relinked_from"] = original
    root["parent_id"] = parent_id


def queue_spans(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A `queue` span per model span: its QUEUE_START event to its compute's COMPUTE_START."""
    out = []
    for model in spans:
        queued = _event(model, "QUEUE_START")
        if queued is None:
            continue
        computes = [s for s in spans if s["parent_id"] == model["span_id"]]
        started = min((t for s in computes if (t := _event(s, "COMPUTE_START"))), default=None)
        if started is None or started < queued:
            continue
        span_id = hashlib.blake2b(f"queue:{model['span_id']}".encode(), digest_size=8).hexdigest()
        out.append(
            {
                "name": "queue",
                "service": model["service"],
                "trace_id": model["trace_id"],
                "span_id": span_id,
                "parent_id": model["span_id"],
                "start_ns": queued,
                "end_ns": started,
                "status": "UNSET",
                "attributes": {
                    "veritas.derived": "Triton's QUEUE_START and COMPUTE_START events",
                    **{
                        k: v for k, v in model["attributes"].items() if k.startswith("triton.model")
                    },
                },
                "events": [],
            }
        )
    return out


class TraceAssembler:
    """Holds each Triton trace until it is complete, then relinks it and writes it."""

    def __init__(self, path: str, hold_s: float = 3.0) -> None:
        self.path = path
        self.hold_s = hold_s
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._since: dict[str, float] = {}
        self._lock = threading.Lock()
        self.written = 0

    def add(self, spans: Iterable[dict[str, Any]], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        ready: list[list[dict[str, Any]]] = []
        with self._lock:
            complete: dict[str, None] = {}  # the traces this batch completes, in order
            for span in spans:
                self._pending.setdefault(span["trace_id"], []).append(span)
                self._since.setdefault(span["trace_id"], now)
                if span["name"] == TOP_LEVEL:
                    complete[span["trace_id"]] = None
            ready += [self._take(trace_id) for trace_id in complete]
            ready += self._expired(now)
            self._write(ready)

    def flush(self, now: float | None = None, everything: bool = False) -> None:
        """Write traces held longer than hold_s (all of them with everything=True)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if everything:
                self._write([self._take(t) for t in list(self._pending)])
            else:
                self._write(self._expired(now))

    def _take(self, trace_id: str) -> list[dict[str, Any]]:
        self._since.pop(trace_id, None)
        return self._pending.pop(trace_id)

    def _expired(self, now: float) -> list[list[dict[str, Any]]]:
        old = [t for t, since in self._since.items() if now - since >= self.hold_s]
        return [self._take(t) for t in old]

    def _write(self, groups: list[list[dict[str, Any]]]) -> None:
        out: list[dict[str, Any]] = []
        for group in groups:
            relink(group)
            out += group + queue_spans(group)
        append_spans(self.path, out)
        self.written += len(out)


# --------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: Triton's exporter reuses its connection

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.split("?", 1)[0] != TRACES_PATH:
            self._reply(HTTPStatus.NOT_FOUND, JSON, b'{"message": "only /v1/traces"}')
            return
        content_type = self.headers.get("Content-Type", "")
        try:
            length = int(self.headers.get("Content-Length", "0"))
            if not 0 <= length <= MAX_BODY_BYTES:
                raise BadRequest(f"Content-Length: {length} outside 0..{MAX_BODY_BYTES}")
            body = self.rfile.read(length)
            encoding = self.headers.get("Content-Encoding", "").lower()
            if encoding == "gzip":
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError, zlib.error) as e:
                    raise BadRequest(f"body: not gzip: {e}") from e
            elif encoding not in ("", "identity"):
                raise BadRequest(f"Content-Encoding: {encoding!r} is not gzip")
            request = decode_request(body, content_type)
        except BadRequest as e:
            status = (
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE
                if str(e).startswith("Content-Type")
                else HTTPStatus.BAD_REQUEST
            )
            log.warning("rejected an export: %s", e)
            self._reply(status, JSON, json.dumps({"message": str(e)}).encode())
            return
        except ValueError as e:
            self._reply(HTTPStatus.BAD_REQUEST, JSON, json.dumps({"message": str(e)}).encode())
            return
        self.server.assembler.add(spans_of(request))
        response = ExportTraceServiceResponse()
        if content_type.split(";", 1)[0].strip().lower() == PROTOBUF:
            self._reply(HTTPStatus.OK, PROTOBUF, response.SerializeToString())
        else:
            self._reply(HTTPStatus.OK, JSON, json_format.MessageToJson(response).encode())

    def _reply(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        if status != HTTPStatus.OK:
            self.close_connection = True  # a refused body may be unread: start afresh
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    assembler: TraceAssembler

    def service_actions(self) -> None:
        self.assembler.flush()  # traces whose top-level span never came


class OtlpReceiver:
    """OTLP/HTTP traces on `host:port` (0: a free port) appended to the span file `path`."""

    def __init__(
        self, path: str | Path, host: str = "127.0.0.1", port: int = 0, hold_s: float = 3.0
    ) -> None:
        self.path = Path(path)
        self._server = _Server((host, port), _Handler)
        self._server.assembler = TraceAssembler(str(self.path), hold_s)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The traces URL to give an exporter (Triton's `opentelemetry,url`)."""
        host = str(self._server.server_address[0])
        return f"http://{host}:{self.port}{TRACES_PATH}"

    @property
    def assembler(self) -> TraceAssembler:
        return self._server.assembler

    def start(self) -> OtlpReceiver:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="otlp-receiver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and write whatever is still held."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()
        self._server.assembler.flush(everything=True)

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, default=Path(".run/spans.jsonl"), help="span file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4318)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with OtlpReceiver(args.file, args.host, args.port) as receiver:
        print(f"OTLP/HTTP traces: {receiver.url} -> {args.file}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
