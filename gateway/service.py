"""The public gRPC API (veritas.v1.Veritas) on top of the transport-free `Gateway`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from gateway.core import Gateway, invalid
from gateway.errors import Refused, abort
from gateway.grpc_metadata import headers
from gateway.validation import check_batch
from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2, veritas_pb2, veritas_pb2_grpc


class GatewayServicer(veritas_pb2_grpc.VeritasServicer):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def Analyze(
        self, request: common_pb2.AnalysisRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.AnalysisResult:
        try:
            async with self.gateway.call(
                "Analyze", "grpc", headers(context), context.time_remaining(), peer=context.peer()
            ) as call:
                await call.spend(1, request.ByteSize())
                return await self.gateway.analyze(call, request)
        except Refused as e:
            await abort(context, e)
        raise AssertionError("unreachable")

    async def AnalyzeBatch(
        self, request: veritas_pb2.AnalyzeBatchRequest, context: grpc.aio.ServicerContext
    ) -> veritas_pb2.AnalyzeBatchResponse:
        try:
            async with self.gateway.call(
                "AnalyzeBatch",
                "grpc",
                headers(context),
                context.time_remaining(),
                peer=context.peer(),
            ) as call:
                try:
                    check_batch(request)
                except InvalidInput as e:
                    raise invalid(e) from e
                await call.spend(len(request.requests), request.ByteSize())
                return await self.gateway.analyze_batch(call, request)
        except Refused as e:
            await abort(context, e)
        raise AssertionError("unreachable")

    async def AnalyzeStream(
        self,
        request_iterator: AsyncIterator[common_pb2.LiveChunk],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[common_pb2.AnalysisResult]:
        try:
            async with self.gateway.call(
                "AnalyzeStream",
                "grpc",
                headers(context),
                context.time_remaining(),
                stream=True,
                peer=context.peer(),
            ) as call:
                await call.spend(1, 0)
                await call.open_stream()
                async for result in self.gateway.live(call, request_iterator):
                    yield result
        except Refused as e:
            await abort(context, e)
