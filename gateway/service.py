"""The gateway: the only door. Admits the caller, checks the request, forwards it to
fusion within the deadline, and maps whatever goes wrong to a clear gRPC status."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import grpc

from gateway.policy import AccessPolicy
from gateway.validation import check_batch, check_options, check_request
from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2, fusion_pb2_grpc, veritas_pb2, veritas_pb2_grpc

log = logging.getLogger("veritas.gateway")

BATCH_CONCURRENCY = 4
# Codes a caller can act on pass through unchanged; anything else from inside is UNAVAILABLE.
PASS_THROUGH = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
}


def map_error(error: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str]:
    code = error.code()
    if code in PASS_THROUGH:
        return code, error.details() or code.name
    return grpc.StatusCode.UNAVAILABLE, f"analysis backend failed: {code.name}: {error.details()}"


class GatewayServicer(veritas_pb2_grpc.VeritasServicer):
    def __init__(
        self, fusion: grpc.aio.Channel, policy: AccessPolicy, max_deadline_s: float
    ) -> None:
        self.fusion = fusion_pb2_grpc.FusionStub(fusion)
        self.policy = policy
        self.max_deadline_s = max_deadline_s

    def _timeout(self, context: grpc.aio.ServicerContext) -> float:
        """The caller's deadline, capped; fusion answers within it with what it has."""
        remaining = context.time_remaining()
        return min(remaining, self.max_deadline_s) if remaining else self.max_deadline_s

    async def _analyze(
        self, request: common_pb2.AnalysisRequest, timeout: float
    ) -> common_pb2.AnalysisResult:
        final = None
        async for result in self.fusion.Fuse(request, timeout=timeout):
            final = result
        if final is None or not final.final:
            raise RuntimeError("fusion ended without a final result")
        return final

    async def Analyze(
        self, request: common_pb2.AnalysisRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.AnalysisResult:
        await self.policy.admit("Analyze", context)
        try:
            check_request(request)
        except InvalidInput as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        try:
            return await self._analyze(request, self._timeout(context))
        except grpc.aio.AioRpcError as e:
            await context.abort(*map_error(e))
        raise AssertionError("unreachable")

    async def AnalyzeBatch(
        self, request: veritas_pb2.AnalyzeBatchRequest, context: grpc.aio.ServicerContext
    ) -> veritas_pb2.AnalyzeBatchResponse:
        await self.policy.admit("AnalyzeBatch", context)
        try:
            check_batch(request)
        except InvalidInput as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        timeout = self._timeout(context)
        gate = asyncio.Semaphore(BATCH_CONCURRENCY)

        async def one(i: int, item: common_pb2.AnalysisRequest) -> veritas_pb2.BatchItem:
            try:
                check_request(item, f"requests[{i}]")
                async with gate:
                    return veritas_pb2.BatchItem(result=await self._analyze(item, timeout))
            except InvalidInput as e:
                code, message = grpc.StatusCode.INVALID_ARGUMENT, str(e)
            except grpc.aio.AioRpcError as e:
                code, message = map_error(e)
                if code == grpc.StatusCode.INVALID_ARGUMENT:
                    message = f"requests[{i}].{message}"
            return veritas_pb2.BatchItem(error_code=code.value[0], error_message=message)

        items = await asyncio.gather(*(one(i, r) for i, r in enumerate(request.requests)))
        return veritas_pb2.AnalyzeBatchResponse(items=items)

    async def AnalyzeStream(
        self,
        request_iterator: AsyncIterator[common_pb2.LiveChunk],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[common_pb2.AnalysisResult]:
        await self.policy.admit("AnalyzeStream", context)

        async def checked() -> AsyncIterator[common_pb2.LiveChunk]:
            async for chunk in request_iterator:
                if chunk.HasField("config"):
                    check_options(chunk.config.options, "config.options")
                yield chunk

        call = self.fusion.FuseLive(checked(), timeout=context.time_remaining())
        try:
            async for result in call:
                yield result
        except grpc.aio.AioRpcError as e:
            await context.abort(*map_error(e))
        except InvalidInput as e:
            call.cancel()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
