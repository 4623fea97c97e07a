"""Tracing (OpenTelemetry, W3C trace context) and structured JSON logs.

One trace runs from the gateway through fusion and every modality service into Triton:
the gRPC interceptors of veritas.grpc_tracing carry `traceparent` over each hop, and
`traceparent_headers()` carries it into Triton's own OpenTelemetry tracing.
Locally every service and the OTLP receiver for Triton's spans append to one span file
(`append_spans`), which `veritas trace` reads.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

FILE_EXPORT_DELAY_MS = 200  # the span file's batch delay (OTLP export keeps the SDK's 5 s)


def append_spans(path: str, spans: Sequence[dict[str, Any]]) -> None:
    """Append span dicts to the local span store, one JSON object a line.

    Every service and the OTLP receiver (Triton's spans) append to the same file, so the
    whole batch goes out in one write() on an O_APPEND descriptor: lines of different
    writers never interleave."""
    if not spans:
        return
    data = "".join(json.dumps(s) + "\n" for s in spans).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:  # a regular file takes it all at once; loop for the rare short write
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans to a local file, one JSON object a line (`veritas trace`)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            append_spans(self._path, [span_to_dict(s) for s in spans])
        return SpanExportResult.SUCCESS


def span_to_dict(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    parent = span.parent
    return {
        "name": span.name,
        "service": span.resource.attributes.get("service.name", ""),
        "trace_id": format(ctx.trace_id, "032x") if ctx else "",
        "span_id": format(ctx.span_id, "016x") if ctx else "",
        "parent_id": format(parent.span_id, "016x") if parent else "",
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {k: _jsonable(v) for k, v in (span.attributes or {}).items()},
    }


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def setup_tracing(service: str, otlp_endpoint: str = "", trace_file: str = "") -> TracerProvider:
    """Install the global tracer provider for this process."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"veritas-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    if trace_file:
        # In the background, a batch at a time: a request's spans cost it no file write,
        # and `veritas trace` sees them within FILE_EXPORT_DELAY_MS.
        provider.add_span_processor(
            BatchSpanProcessor(
                JsonLinesSpanExporter(trace_file),
                schedule_delay_millis=FILE_EXPORT_DELAY_MS,
                max_export_batch_size=1024,
                max_queue_size=16384,
            )
        )
    trace.set_tracer_provider(provider)
    return provider


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def traceparent_headers() -> dict[str, str]:
    """W3C headers for the current span, for hops the gRPC interceptors do not cover."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the trace and span id of the current span."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self._second = (-1, "")  # the last second formatted, reused by the next line

    def _timestamp(self, created: float, msecs: float) -> str:
        second = int(created)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int(msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        ctx = trace.get_current_span().get_span_context()
        entry: dict[str, Any] = {
            "ts": self._timestamp(record.created, record.msecs),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if ctx.is_valid:
            entry["trace_id"] = format(ctx.trace_id, "032x")
            entry["span_id"] = format(ctx.span_id, "016x")
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
