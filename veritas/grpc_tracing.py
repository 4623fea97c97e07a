"""OpenTelemetry for grpc.aio: a server span per call, a client span per outgoing call, the
W3C trace context carried in the metadata both ways.

Replaces opentelemetry-instrumentation-grpc's aio interceptors, whose streaming server
wrapper keeps the trace context attached across `yield`: when a stream ends from elsewhere
(a cancelled call whose response generator is closed by the event loop's finaliser in a
new task), the detach runs in another context and OpenTelemetry logs a "Failed to detach
context" traceback at ERROR for every such call (opentelemetry-python-contrib #2357). Here:

- a unary handler runs with its context attached and detached in the same coroutine;
- a streaming handler runs each step (and its final close) as a task in a context of its
  own, so the spans it keeps open across its own `yield`s begin and end in that one
  context, whichever task drives or abandons the stream; nothing is attached across a yield
  in the caller's context, and nothing is ever detached there;
- the client side never attaches: spans get explicit parents, `traceparent` is injected
  from the call's own span, and the span ends in the call's done callback.

Span names and kinds are the instrumentation's (`/package.Service/Method`, SERVER or
CLIENT), so `veritas trace` and the tests read the same trees.

Install it innermost on the server (last in the interceptor list): it then drives the real
handler, whatever the interceptors outside it do with their own generators.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from veritas.wire import MethodWrappingInterceptor, rewrap

tracer = trace.get_tracer("veritas.grpc")

_PENDING: set[asyncio.Task[None]] = set()  # span-ending tasks, kept until they run


def _split(method: str) -> dict[str, str]:
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


def _peer(context: Any) -> dict[str, str]:
    """net.peer.* from `ipv4:127.0.0.1:57284` / `ipv6:[::1]:57284`, as the instrumentation."""
    try:
        peer = context.peer()
    except Exception:  # noqa: BLE001 - a peer we cannot read is no reason to fail a call
        return {}
    if not isinstance(peer, str) or not peer.startswith(("ipv4:", "ipv6:")):
        return {}
    return _peer_attributes(peer)


@functools.lru_cache(maxsize=1024)  # a connection's calls all come from one peer
def _peer_attributes(peer: str) -> dict[str, str]:
    ip, _, port = peer.split(",")[0].split(":", 1)[1].rpartition(":")
    ip = unquote(ip)
    out = {"net.peer.ip": ip, "net.peer.port": port}
    if ip in ("[::1]", "127.0.0.1"):
        out["net.peer.name"] = "localhost"
    return out


def _end(span: trace.Span, code: grpc.StatusCode | None, details: str | None = None) -> None:
    if code is not None:
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code is not grpc.StatusCode.OK:
            span.set_status(Status(StatusCode.ERROR, details or code.name))
    span.end()


# --------------------------------------------------------------------------- server


# How a call that was cancelled, or abandoned while sending, reaches the handler.
_GONE = (asyncio.CancelledError, GeneratorExit)


def _server_code(context: Any, error: BaseException | None) -> grpc.StatusCode:
    code = context.code() if hasattr(context, "code") else None
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(error, _GONE):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN if error is not None else grpc.StatusCode.OK


def _server_details(context: Any) -> str | None:
    try:
        details = context.details() if hasattr(context, "details") else None
    except Exception:  # noqa: BLE001
        return None
    return details if isinstance(details, str) else None


class _Method:
    """One method's span factory: attributes fixed per method, the rest per call."""

    def __init__(self, full_method: str) -> None:
        self.name = full_method
        self.attributes = _split(full_method)

    def start(self, context: Any) -> tuple[trace.Span, otel_context.Context]:
        metadata = context.invocation_metadata() or ()
        carrier = {m.key: m.value for m in metadata if isinstance(m.value, str)}
        parent = propagate.extract(carrier)
        attributes: dict[str, str | int] = dict(self.attributes)
        if "user-agent" in carrier:
            attributes["rpc.user_agent"] = carrier["user-agent"]
        attributes.update(_peer(context))  # copied: the cached dict is never changed
        span = tracer.start_span(
            self.name, context=parent, kind=SpanKind.SERVER, attributes=attributes
        )
        return span, trace.set_span_in_context(span, parent)

    def finish(self, span: trace.Span, context: Any, error: BaseException | None) -> None:
        if error is not None and not isinstance(error, _GONE):
            if type(error).__module__.split(".")[0] != "grpc":  # aborts are statuses
                span.record_exception(error)
        _end(span, _server_code(context, error), _server_details(context))


async def _step(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _wrap_unary(method: _Method, behavior: Callable[..., Any]) -> Callable[..., Any]:
    async def traced(request: Any, context: Any) -> Any:
        span, ctx = method.start(context)
        token = otel_context.attach(ctx)  # detached below, in this same coroutine and task
        error: BaseException | None = None
        try:
            return await behavior(request, context)
        except BaseException as e:
            error = e
            raise
        finally:
            otel_context.detach(token)
            method.finish(span, context, error)

    return traced


def _wrap_stream(method: _Method, behavior: Callable[..., Any]) -> Callable[..., Any]:
    async def traced(request: Any, context: Any) -> AsyncIterator[Any]:
        span, ctx = method.start(context)
        own = contextvars.copy_context()  # the handler's context for its whole life
        own.run(otel_context.attach, ctx)  # never detached: `own` is dropped with the call
        result = own.run(behavior, request, context)
        error: BaseException | None = None
        if not inspect.isasyncgen(result):  # writes with context.write (health Watch)
            try:
                if inspect.isawaitable(result):
                    await asyncio.create_task(_step(result), context=own)
            except BaseException as e:
                error = e
                raise
            finally:
                method.finish(span, context, error)
            return
        ended = False
        try:
            while True:
                step = asyncio.create_task(_step(result.__anext__()), context=own)
                try:
                    response = await step
                except StopAsyncIteration:
                    ended = True
                    return
                yield response  # holds no context: closing the stream here is harmless
        except BaseException as e:
            error = e
            raise
        finally:
            # Ended, failed, cancelled (perhaps before the step ran) or abandoned at a
            # yield: close the handler in its own context (a no-op when it has finished).
            try:
                if not ended:
                    await asyncio.create_task(_step(result.aclose()), context=own)
            except BaseException as e:  # noqa: BLE001 - ending the span matters more
                error = error or e
            method.finish(span, context, error)

    return traced


class ServerTracing(MethodWrappingInterceptor):
    """A SERVER span per call, child of the caller's `traceparent`. Put it last in the
    server's interceptor list (innermost). Each method's wrapped handler is built once."""

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        traced = _Method(method)
        return rewrap(
            handler,
            lambda unary: _wrap_unary(traced, unary),
            lambda stream: _wrap_stream(traced, stream),
        )


# --------------------------------------------------------------------------- client


class _ClientTracing:
    """Starts the CLIENT span (parent: the caller's current span), injects its context
    into the call's metadata and ends the span when the call is done."""

    def _start(self, details: grpc.aio.ClientCallDetails) -> tuple[trace.Span, Any]:
        method = details.method
        name = method.decode() if isinstance(method, bytes) else str(method)
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=_split(name))
        metadata = grpc.aio.Metadata(*tuple(details.metadata or ()))
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        for key, value in carrier.items():
            metadata[key] = value
        new = grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )
        return span, new

    async def _call(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        span, new = self._start(details)
        try:
            call = await continuation(new, request)
        except BaseException as e:
            _end(span, e.code() if isinstance(e, grpc.aio.AioRpcError) else None, str(e))
            raise
        try:
            call.add_done_callback(lambda done: _after(span, done))
        except NotImplementedError:  # a call some other interceptor made up: no status
            span.end()
        return call


def _after(span: trace.Span, call: Any) -> None:
    """The call is done; its status is read without waiting (it is known now)."""

    async def finish() -> None:
        try:
            code, details = await call.code(), await call.details()
        except BaseException:  # noqa: BLE001
            code, details = None, None
        _end(span, code, details)

    task = asyncio.get_running_loop().create_task(finish())
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)


# grpc ships no type hints: its interceptor bases are Any to mypy (the ignores below).
class _UnaryUnary(_ClientTracing, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await self._call(continuation, details, request)


class _UnaryStream(_ClientTracing, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await self._call(continuation, details, request)


class _StreamUnary(_ClientTracing, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await self._call(continuation, details, requests)


class _StreamStream(_ClientTracing, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await self._call(continuation, details, requests)


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """For `grpc.aio.*_channel(..., interceptors=client_interceptors())`."""
    return [_UnaryUnary(), _UnaryStream(), _StreamUnary(), _StreamStream()]
