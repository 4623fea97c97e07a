"""Bytes that are not the method's protobuf message get INVALID_ARGUMENT naming it, for
every method shape, on a real grpc.aio server with the services' interceptors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from veritas.metrics import MetricsInterceptor
from veritas.v1 import common_pb2, modality_pb2, modality_pb2_grpc
from veritas.wire import MalformedRequestInterceptor

GARBAGE = b"\xff\xff\xff\xff\x0f\x01"  # a field tag with an impossible wire type


class Echo(modality_pb2_grpc.ModalityAnalyzerServicer):
    async def Analyze(
        self, request: modality_pb2.ModalityRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        yield modality_pb2.ModalityUpdate(final=True)

    async def AnalyzeLive(
        self,
        request_iterator: AsyncIterator[common_pb2.LiveChunk],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        async for _ in request_iterator:
            yield modality_pb2.ModalityUpdate()


@pytest.fixture
async def address() -> AsyncIterator[str]:
    server = grpc.aio.server(
        interceptors=[MetricsInterceptor("test"), MalformedRequestInterceptor()]
    )
    modality_pb2_grpc.add_ModalityAnalyzerServicer_to_server(Echo(), server)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


async def test_unparseable_unary_request_is_invalid_argument(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_stream(
            "/veritas.v1.ModalityAnalyzer/Analyze",
            request_serializer=lambda b: b,
            response_deserializer=modality_pb2.ModalityUpdate.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in call(GARBAGE):
                pass
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith("request: not a valid veritas.v1.ModalityRequest")


async def test_unparseable_stream_message_names_its_position(address: str) -> None:
    good = common_pb2.LiveChunk(config=common_pb2.StreamConfig()).SerializeToString()

    async def messages() -> AsyncIterator[bytes]:
        yield good
        yield GARBAGE

    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.stream_stream(
            "/veritas.v1.ModalityAnalyzer/AnalyzeLive",
            request_serializer=lambda b: b,
            response_deserializer=modality_pb2.ModalityUpdate.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in call(messages()):
                pass
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith("message[1]: not a valid veritas.v1.LiveChunk")


async def test_valid_requests_and_health_still_work(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = modality_pb2_grpc.ModalityAnalyzerStub(channel)
        updates = [u async for u in stub.Analyze(modality_pb2.ModalityRequest())]
        assert updates[-1].final
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
