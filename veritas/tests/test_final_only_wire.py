"""A final-only call (`x-veritas-final-only: 1`) of a streaming method is served as unary:
one message, the stream's last, whether the client calls it as a stream or as unary; other
calls still get every message. On a real grpc.aio server with the services' interceptors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from veritas import hints
from veritas.grpc_tracing import ServerTracing
from veritas.metrics import MetricsInterceptor
from veritas.v1 import common_pb2, modality_pb2, modality_pb2_grpc
from veritas.wire import FinalOnlyUnaryInterceptor, MalformedRequestInterceptor

METHOD = "/veritas.v1.ModalityAnalyzer/Analyze"
FINAL_ONLY = hints.FINAL_ONLY_METADATA


class Updates(modality_pb2_grpc.ModalityAnalyzerServicer):
    """Analyze answers a window, then the final result; request_id picks other endings."""

    async def Analyze(
        self, request: modality_pb2.ModalityRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        if request.request_id == "nothing":
            return
        yield modality_pb2.ModalityUpdate(result=common_pb2.ModalityResult(reason="window"))
        if request.request_id == "abort":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "input.x: bad")
        yield modality_pb2.ModalityUpdate(
            final=True, result=common_pb2.ModalityResult(reason="whole")
        )


@pytest.fixture
async def address() -> AsyncIterator[str]:
    server = grpc.aio.server(
        interceptors=[
            MetricsInterceptor("test"),
            MalformedRequestInterceptor(),
            ServerTracing(),
            FinalOnlyUnaryInterceptor(),
        ]
    )
    modality_pb2_grpc.add_ModalityAnalyzerServicer_to_server(Updates(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


def unary(channel: grpc.aio.Channel) -> Any:
    return channel.unary_unary(
        METHOD,
        request_serializer=modality_pb2.ModalityRequest.SerializeToString,
        response_deserializer=modality_pb2.ModalityUpdate.FromString,
    )


async def test_a_final_only_call_gets_the_last_message_alone(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = modality_pb2_grpc.ModalityAnalyzerStub(channel)
        request = modality_pb2.ModalityRequest(request_id="r")
        every = [u.result.reason async for u in stub.Analyze(request)]
        streamed = [u.result.reason async for u in stub.Analyze(request, metadata=FINAL_ONLY)]
        answer = await unary(channel)(request, metadata=FINAL_ONLY)
        # Progressive callers (no header) still get every message, in both orders of calls.
        again = [u.result.reason async for u in stub.Analyze(request)]
    assert every == again == ["window", "whole"]
    assert streamed == ["whole"]
    assert answer.final and answer.result.reason == "whole"


async def test_an_abort_and_malformed_bytes_keep_their_status(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as aborted:
            await unary(channel)(
                modality_pb2.ModalityRequest(request_id="abort"), metadata=FINAL_ONLY
            )
        raw = channel.unary_unary(METHOD, request_serializer=lambda b: b)
        with pytest.raises(grpc.aio.AioRpcError) as malformed:
            await raw(b"\xff\xff\xff\xff\x0f\x01", metadata=FINAL_ONLY)
    assert aborted.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert aborted.value.details() == "input.x: bad"
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert malformed.value.details().startswith("request: not a valid veritas.v1.ModalityRequest")


async def test_a_stream_without_messages_answers_an_empty_one(address: str) -> None:
    """The final-only caller finds no final result in it, as in the empty stream."""
    async with grpc.aio.insecure_channel(address) as channel:
        answer = await unary(channel)(
            modality_pb2.ModalityRequest(request_id="nothing"), metadata=FINAL_ONLY
        )
    assert answer.ByteSize() == 0 and not answer.final


async def test_the_unary_form_is_built_once_per_method() -> None:
    interceptor = FinalOnlyUnaryInterceptor()
    handler = grpc.unary_stream_rpc_method_handler(lambda r, c: None)

    async def continuation(_details: Any) -> grpc.RpcMethodHandler:
        return handler

    class Details:
        method = METHOD
        invocation_metadata = (("x-other", "1"), *FINAL_ONLY)

    class Plain:
        method = METHOD
        invocation_metadata = (("x-other", "1"),)

    first = await interceptor.intercept_service(continuation, Details())
    second = await interceptor.intercept_service(continuation, Details())
    assert first is second and first.unary_unary is not None and first.unary_stream is None
    assert await interceptor.intercept_service(continuation, Plain()) is handler
