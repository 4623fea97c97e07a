"""Malformed protobuf bytes get INVALID_ARGUMENT, not UNKNOWN and a logged traceback.

grpc's own handling of a request that does not parse is to log an ERROR with a traceback
and answer UNKNOWN/INTERNAL: a caller learns nothing, and anyone can flood the logs. This
interceptor gives every handler a deserializer that never raises: bytes that do not parse
become a `Malformed` marker, which the handler wrapper turns into INVALID_ARGUMENT naming
the message type (for streams: the message's position), logged once at INFO.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from veritas import hints

log = logging.getLogger("veritas.wire")


@dataclass(frozen=True)
class Malformed:
    """Request bytes that did not parse as the method's message type."""

    type_name: str
    size: int


def _tolerant(
    deserializer: Callable[[bytes], Any] | None, type_name: str
) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        if deserializer is None:
            return data
        try:
            return deserializer(data)
        except (DecodeError, ValueError, RuntimeError, TypeError):
            return Malformed(type_name, len(data))

    return parse


def _message_name(deserializer: Callable[[bytes], Any] | None) -> str:
    owner = getattr(deserializer, "__self__", None)  # e.g. AnalysisRequest.FromString
    descriptor = getattr(owner, "DESCRIPTOR", None)
    return str(getattr(descriptor, "full_name", "request"))


async def _refuse(context: grpc.aio.ServicerContext, bad: Malformed, where: str) -> None:
    message = f"{where}: not a valid {bad.type_name} message ({bad.size} bytes that do not parse)"
    log.info("malformed request", extra={"fields": {"why": message}})
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)


async def _responses(result: Any) -> AsyncIterator[Any]:
    """A streaming handler's responses, whether it yields them or writes them with
    `context.write` (grpc_health's Watch does) and returns a coroutine."""
    if inspect.isawaitable(result):
        await result
        return
    async for response in result:
        yield response


def rewrap(
    handler: grpc.RpcMethodHandler,
    unary: Callable[[Callable[..., Any]], Callable[..., Any]],
    stream: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> grpc.RpcMethodHandler:
    """`handler` with its behaviour wrapped, (de)serializers kept: `unary` wraps the shapes
    that answer once (unary-unary, stream-unary), `stream` those that stream answers."""
    args = (handler.request_deserializer, handler.response_serializer)
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), *args)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), *args)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream(handler.unary_stream), *args)
    return grpc.stream_stream_rpc_method_handler(stream(handler.stream_stream), *args)


class MethodWrappingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc: untyped
    """A server interceptor that wraps each method's handler once and reuses the wrapper
    (the metrics, the malformed-request guard and tracing are all of this kind)."""

    def __init__(self) -> None:
        # By the handler's identity: one method can come as two handlers (a unary-stream
        # method, and its unary form for a final-only caller: FinalOnlyUnaryInterceptor).
        self._handlers: dict[int, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def wraps(self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails) -> bool:
        """Whether this interceptor has anything to do for this handler (and this call)."""
        return True

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not self.wraps(handler, details):
            return handler
        cached = self._handlers.get(id(handler))
        if cached is not None and cached[0] is handler:
            return cached[1]
        method = details.method if isinstance(details.method, str) else details.method.decode()
        wrapped = self.wrap(method, handler)
        self._handlers[id(handler)] = (handler, wrapped)  # kept alive here: ids stay unique
        return wrapped


class MalformedRequestInterceptor(MethodWrappingInterceptor):
    """Turns unparseable request bytes into INVALID_ARGUMENT for every method shape."""

    def wraps(self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails) -> bool:
        return handler.request_deserializer is not None

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        name = _message_name(handler.request_deserializer)
        parse = _tolerant(handler.request_deserializer, name)

        async def checked(requests: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
            index = 0
            async for request in requests:
                if isinstance(request, Malformed):
                    await _refuse(context, request, f"message[{index}]")
                index += 1
                yield request

        if handler.unary_unary:
            unary = handler.unary_unary

            async def unary_unary(request: Any, context: Any) -> Any:
                if isinstance(request, Malformed):
                    await _refuse(context, request, "request")
                return await unary(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, parse, handler.response_serializer
            )
        if handler.unary_stream:
            server_stream = handler.unary_stream

            async def unary_stream(request: Any, context: Any) -> AsyncIterator[Any]:
                if isinstance(request, Malformed):
                    await _refuse(context, request, "request")
                async for response in _responses(server_stream(request, context)):
                    yield response

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, parse, handler.response_serializer
            )
        if handler.stream_unary:
            client_stream = handler.stream_unary

            async def stream_unary(requests: Any, context: Any) -> Any:
                return await client_stream(checked(requests, context), context)

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, parse, handler.response_serializer
            )
        bidi = handler.stream_stream

        async def stream_stream(requests: Any, context: Any) -> AsyncIterator[Any]:
            async for response in _responses(bidi(checked(requests, context), context)):
                yield response

        return grpc.stream_stream_rpc_method_handler(
            stream_stream, parse, handler.response_serializer
        )


# --------------------------------------------------------------------------- final-only

FINAL_ONLY = hints.FINAL_ONLY_METADATA[0]  # ("x-veritas-final-only", "1")
_NOTHING = object()  # a stream that ended without a message: sent as an empty message


def _final_only(metadata: Any) -> bool:
    return any(pair == FINAL_ONLY for pair in metadata or ())


class FinalOnlyUnaryInterceptor(MethodWrappingInterceptor):
    """A unary-stream method called by a caller that reads only the final result
    (`x-veritas-final-only: 1`, veritas.hints) is served as unary-unary: the handler's
    stream is drained and its last message sent with the status in one batch.

    On the wire a unary answer and a one-message stream are the same (headers, one
    message, trailers), so any client reads it, streaming or unary; but the server skips
    the streaming machinery (a send per message, then the status; the tracing's step
    tasks), and a unary client (the gateway's and fusion's final-only calls) skips its
    own. A stream that ended without a message answers an empty one: a final-only caller
    finds no final result in it, as it would have found none in the stream.

    Put it innermost (last): the interceptors outside it (tracing, metrics, the malformed
    request guard) then wrap the unary form, each built once per form."""

    def wraps(self, handler: grpc.RpcMethodHandler, details: grpc.HandlerCallDetails) -> bool:
        return handler.unary_stream is not None and _final_only(details.invocation_metadata)

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        return _as_unary(handler)


def _as_unary(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    stream = handler.unary_stream
    serialize = handler.response_serializer

    async def last(request: Any, context: Any) -> Any:
        answer = _NOTHING
        async for response in _responses(stream(request, context)):
            answer = response
        return answer

    def serializer(message: Any) -> bytes:
        if message is _NOTHING:
            return b""
        return serialize(message) if serialize is not None else message  # type: ignore[no-any-return]

    return grpc.unary_unary_rpc_method_handler(last, handler.request_deserializer, serializer)
