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
read: Content-Length first, then counted while streaming in. A refused body is read and
discarded (bounded) before the answer goes out, so the client can read it (see `drain`).
Every error is JSON (bad input names its field); a bug is a 500 with a reference, not a bare one.
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
from gateway.errors import CODE_BY_HTTP, Refused, internal_error
from gateway.legacy import old_field_names
from gateway.legacy import parse as parse_legacy
from gateway.openapi import document
from gateway.validation import check_batch
from veritas import refs
from veritas.analysis import InvalidInput
from veritas.media_uri import MediaUnavailable
from veritas.metrics import IN_FLIGHT, LATENCY, REQUESTS
from veritas.v1 import common_pb2, veritas_pb2

tracer = trace.get_tracer("veritas.gateway.http")
MessageT = TypeVar("MessageT", bound=Message)
NDJSON = "application/x-ndjson"
# A refused body is drained at most this much, this long, and while bytes keep coming.
DRAIN_MAX_BYTES = 128 * 1024 * 1024
DRAIN_MAX_S = 10.0
DRAIN_IDLE_S = 1.0
BODY_STATE = "veritas.body"  # ASGI scope key: whether the request body has all arrived


def to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def error_response(refused: Refused, extra_headers: dict[str, str] | None = None) -> Response:
    headers = dict(extra_headers or {}) | refused.http_headers()
    return JSONResponse(refused.http_body(), refused.http_status, headers)


class BodyTracker:
    """ASGI middleware that notes when a request's body has all arrived (or the client went
    away), so an error answer knows whether there is unread body to drain first."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope[BODY_STATE] = {"done": False}

        async def tracked() -> Any:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                state["done"] = True
            return message

        await self.app(scope, tracked, send)


async def drain(request: Request) -> None:
    """Read and discard what is left of a body that will not be used, before answering.

    Closing a connection with unread bytes makes the kernel reset it, and a client still
    sending then fails before it reads the answer: a 413 would arrive as a reset connection.
    Nothing is kept, and the draining is bounded (DRAIN_MAX_BYTES, DRAIN_MAX_S, and it stops
    when the client pauses for DRAIN_IDLE_S), so a client cannot hold the gateway with it. A
    client that sent `Expect: 100-continue` has sent no body: nothing to drain."""
    state = request.scope.get(BODY_STATE, {"done": True})
    if state["done"] or request.headers.get("expect", "").lower() == "100-continue":
        return
    loop = asyncio.get_running_loop()
    end, seen = loop.time() + DRAIN_MAX_S, 0
    while not state["done"] and seen <= DRAIN_MAX_BYTES:
        wait = min(DRAIN_IDLE_S, end - loop.time())
        if wait <= 0:
            return
        try:
            message = await asyncio.wait_for(request.receive(), wait)
        except TimeoutError:
            return
        seen += len(message.get("body", b""))


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


def text_of(body: bytes) -> str:
    """The body as text; JSON is UTF-8 (RFC 8259), anything else is the caller's error."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"body: not valid UTF-8 at byte {e.start}: JSON must be UTF-8 encoded",
        ) from None


def parse(body: bytes, message: MessageT) -> MessageT:
    """`body` as JSON of `message`'s type; INVALID_ARGUMENT naming the field otherwise."""
    text = text_of(body).strip() or "{}"
    name = message.DESCRIPTOR.name
    if not text.startswith("{"):
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"body: must be a JSON object ({name})")
    try:
        json_format.Parse(text, message)
    except json_format.ParseError as e:
        problem = str(e).split("\n", 1)[0].rstrip(".")
        if refs.leaks(problem):
            problem = f"not a valid {name} in JSON"
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"body: {problem}") from None
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

    def app(self) -> BodyTracker:
        routes = [
            Route("/v1/analyze", self.endpoint(self._analyze), methods=["POST"]),
            Route("/v1/analyze:batch", self.endpoint(self._batch), methods=["POST"]),
            Route("/v1/analyze:stream", self.endpoint(self._stream), methods=["POST"]),
            Route("/api/analyze", self.endpoint(self._legacy), methods=["POST"]),
            Route("/openapi.json", self._openapi, methods=["GET"]),
            Route("/healthz", self._health, methods=["GET"]),
        ]
        return BodyTracker(Starlette(routes=routes))

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
                except Exception as e:  # noqa: BLE001 (a bug: a 500 with a reference, logged)
                    refused = internal_error(e)
                    status = refused.code.name
                    response = error_response(refused, ids)
                finally:
                    IN_FLIGHT.labels(*labels).dec()
                    LATENCY.labels(*labels).observe(time.perf_counter() - started)
                    REQUESTS.labels("gateway", method, status).inc()
                span.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 500:
                    span.set_status(trace.Status(trace.StatusCode.ERROR))
                if response.status_code >= 400:
                    await drain(request)  # so the client can read this answer
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
        """The old body: checked without I/O, charged, and only then are its media files
        read, each at most the old API's limit (VERITAS_MAX_LEGACY_REQUEST_KB)."""
        body = await self._body(request)
        try:
            legacy = parse_legacy(json.loads(text_of(body) or "null"))
        except (json.JSONDecodeError, RecursionError) as e:
            problem = str(e) if isinstance(e, json.JSONDecodeError) else "nested too deeply"
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"body: not JSON: {problem}") from e
        except InvalidInput as e:
            raise invalid(e) from e
        await call.spend(1, len(body))
        try:
            limit = self.gateway.settings.max_legacy_request_bytes
            message = await legacy.read(limit, call.timeout)
        except InvalidInput as e:
            raise invalid(e) from e
        except MediaUnavailable as e:
            raise Refused(grpc.StatusCode.UNAVAILABLE, str(e)) from e

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
                except Exception as e:  # noqa: BLE001 (a bug: a last line with a reference)
                    refused = internal_error(e)
                    call.failed = refused.code.name
                    yield (json.dumps(refused.http_body()) + "\n").encode()

        return StreamingResponse(lines(), media_type=NDJSON, headers=ids)


def error_code(http_status: int) -> grpc.StatusCode:
    return CODE_BY_HTTP.get(http_status, grpc.StatusCode.UNKNOWN)
