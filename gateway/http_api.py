"""The same API over HTTP/JSON (starlette, served by uvicorn in the gateway process).

POST /v1/analyze           AnalysisRequest JSON -> AnalysisResult JSON
POST /v1/analyze:batch     AnalyzeBatchRequest JSON -> AnalyzeBatchResponse JSON
POST /v1/analyze:stream    AnalysisRequest JSON -> NDJSON, progressive results then the final
POST /api/analyze          the old body {video_path, audio_path, transcript, physiological_data}
GET  /openapi.json         the OpenAPI document (docs/openapi.json)
GET  /healthz              liveness, no auth

Calls run the same `Gateway` code as gRPC, in the same event loop (no hop through the gRPC
port). JSON follows protobuf's JSON mapping (media bytes in base64; field names in either
snake_case or lowerCamelCase; answers in snake_case). Bodies are measured before they are
read: Content-Length first, then counted while streaming in.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.core import Call, Gateway, invalid
from gateway.deadlines import http_deadline_s
from gateway.errors import CODE_BY_HTTP, Refused
from gateway.legacy import old_field_names, to_request
from gateway.openapi import document
from gateway.validation import check_batch
from veritas.analysis import InvalidInput
from veritas.metrics import IN_FLIGHT, LATENCY, REQUESTS
from veritas.v1 import common_pb2, veritas_pb2

tracer = trace.get_tracer("veritas.gateway.http")
M = TypeVar("M", bound=Message)
NDJSON = "application/x-ndjson"


def to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def error_response(refused: Refused, extra_headers: dict[str, str] | None = None) -> Response:
    headers = dict(extra_headers or {})
    if refused.retry_after_header():
        headers["Retry-After"] = refused.retry_after_header() or ""
    if refused.code == grpc.StatusCode.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(refused.http_body(), refused.http_status, headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    too_big = Refused(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"request body larger than {limit} bytes",
        http_status=413,
    )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "Content-Length: not a number")
        if int(declared) > limit:
            raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def parse(body: bytes, message: M) -> M:
    try:
        json_format.Parse(body or b"{}", message)
    except json_format.ParseError as e:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"body: {e}") from e
    return message


async def until_disconnect(request: Request, work: Awaitable[Response]) -> Response:
    """Run `work`; if the client goes away first, cancel it (and with it the calls to
    fusion and the modality services)."""
    task = asyncio.ensure_future(work)

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if not task.done():
        task.cancel()
        raise Refused(grpc.StatusCode.CANCELLED, "client disconnected")
    return task.result()


Handler = Callable[[Request, Call, dict[str, str]], Awaitable[Response]]


class HttpApi:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        s = gateway.settings
        self.limits = {
            "/v1/analyze": s.max_request_bytes,
            "/v1/analyze:batch": s.max_request_bytes,
            "/v1/analyze:stream": s.max_request_bytes,
            "/api/analyze": s.max_legacy_request_bytes,
        }

    def app(self) -> Starlette:
        routes = [
            Route("/v1/analyze", self.endpoint(self._analyze), methods=["POST"]),
            Route("/v1/analyze:batch", self.endpoint(self._batch), methods=["POST"]),
            Route("/v1/analyze:stream", self.endpoint(self._stream), methods=["POST"]),
            Route("/api/analyze", self.endpoint(self._legacy), methods=["POST"]),
            Route("/openapi.json", self._openapi, methods=["GET"]),
            Route("/healthz", self._health, methods=["GET"]),
        ]
        return Starlette(routes=routes)

    async def _openapi(self, request: Request) -> Response:
        return JSONResponse(document())

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"status": "SERVING"})

    def endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Trace (continuing a W3C traceparent), count, time, admit and render errors."""

        async def run(request: Request) -> Response:
            path = request.url.path
            method = f"POST {path}"
            labels = ("gateway", method)
            IN_FLIGHT.labels(*labels).inc()
            started = time.perf_counter()
            status = "INTERNAL"
            with tracer.start_as_current_span(
                method,
                context=propagate.extract(dict(request.headers)),
                kind=SpanKind.SERVER,
                attributes={"http.request.method": "POST", "url.path": path},
            ) as span:
                ids = {"X-Trace-Id": format(span.get_span_context().trace_id, "032x")}
                try:
                    deadline = http_deadline_s(request.headers.get("x-deadline-ms"))
                    async with self.gateway.call(
                        method,
                        "http",
                        dict(request.headers),
                        deadline,
                        peer=request.client.host if request.client else "",
                    ) as call:
                        response = await handler(request, call, ids)
                    status = "OK" if response.status_code < 400 else "UNKNOWN"
                except Refused as e:
                    if handler == self._legacy and e.code == grpc.StatusCode.INVALID_ARGUMENT:
                        e.message = old_field_names(e.message)
                    status = e.code.name
                    response = error_response(e, ids)
                finally:
                    IN_FLIGHT.labels(*labels).dec()
                    LATENCY.labels(*labels).observe(time.perf_counter() - started)
                    REQUESTS.labels("gateway", method, status).inc()
                span.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 500:
                    span.set_status(trace.Status(trace.StatusCode.ERROR))
                return response

        return run

    async def _body(self, request: Request) -> bytes:
        return await read_body(request, self.limits[request.url.path])

    async def _analyze(self, request: Request, call: Call, ids: dict[str, str]) -> Response:
        body = await self._body(request)
        message = parse(body, common_pb2.AnalysisRequest())
        await call.spend(1, len(body))

        async def work() -> Response:
            result = await self.gateway.analyze(call, message)
            return JSONResponse(to_json(result), headers=ids)

        return await until_disconnect(request, work())

    async def _legacy(self, request: Request, call: Call, ids: dict[str, str]) -> Response:
        body = await self._body(request)
        try:
            parsed = json.loads(body or b"null")
            message = await asyncio.to_thread(
                to_request, parsed, self.gateway.settings.max_request_bytes
            )
        except json.JSONDecodeError as e:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"body: not JSON: {e}") from e
        except InvalidInput as e:
            raise invalid(e) from e
        await call.spend(1, len(body))

        async def work() -> Response:
            result = await self.gateway.analyze(call, message)
            return JSONResponse(to_json(result), headers=ids)

        return await until_disconnect(request, work())

    async def _batch(self, request: Request, call: Call, ids: dict[str, str]) -> Response:
        body = await self._body(request)
        batch = parse(body, veritas_pb2.AnalyzeBatchRequest())
        try:
            check_batch(batch)
        except InvalidInput as e:
            raise invalid(e) from e
        await call.spend(len(batch.requests), len(body))

        async def work() -> Response:
            return JSONResponse(to_json(await self.gateway.analyze_batch(call, batch)), headers=ids)

        return await until_disconnect(request, work())

    async def _stream(self, request: Request, call: Call, ids: dict[str, str]) -> Response:
        """NDJSON: one AnalysisResult a line as fusion updates, the final one last. A failure
        after the first line arrives as a last line {"error": {...}}."""
        body = await self._body(request)
        message = parse(body, common_pb2.AnalysisRequest())
        await call.spend(1, len(body))
        results = self.gateway.progressive(call, message)
        try:
            first = await anext(results)
        except StopAsyncIteration:
            raise Refused(grpc.StatusCode.UNAVAILABLE, "fusion sent no result") from None
        call.detached = True  # audited and accounted when the last line is sent

        async def lines() -> AsyncIterator[bytes]:
            call.detached = False
            async with self.gateway.running(call):
                yield (json.dumps(to_json(first)) + "\n").encode()
                try:
                    async for result in results:
                        yield (json.dumps(to_json(result)) + "\n").encode()
                except Refused as e:
                    call.failed = e.code.name
                    yield (json.dumps(e.http_body()) + "\n").encode()

        return StreamingResponse(lines(), media_type=NDJSON, headers=ids)


def error_code(http_status: int) -> grpc.StatusCode:
    return CODE_BY_HTTP.get(http_status, grpc.StatusCode.UNKNOWN)
