"""One error type for every refusal, whatever the transport: gRPC turns it into a status
(with google.rpc.RetryInfo when a retry can succeed), HTTP into a status code and JSON."""

from __future__ import annotations

import math
from typing import Any

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.FAILED_PRECONDITION: 400,  # before INVALID_ARGUMENT: 400 maps back to it
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
CODE_BY_HTTP = {v: k for k, v in HTTP_STATUS.items()} | {413: grpc.StatusCode.RESOURCE_EXHAUSTED}


class Refused(Exception):
    """The gateway will not (or could not) serve this call."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        retry_after_s: float | None = None,
        http_status: int | None = None,
        principal: Any = None,
    ) -> None:
        super().__init__(message)
        self.principal = principal  # who, when known (a revoked key): for the audit log
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s
        self.http_status = http_status or HTTP_STATUS.get(code, 500)

    def grpc_status(self) -> grpc.Status:
        """The status with its rich details (google.rpc.Status in grpc-status-details-bin)."""
        status = status_pb2.Status(code=self.code.value[0], message=self.message)
        if self.retry_after_s is not None:
            delay = duration_pb2.Duration()
            delay.FromNanoseconds(int(self.retry_after_s * 1e9))
            status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        return rpc_status.to_status(status)

    def retry_after_header(self) -> str | None:
        """Retry-After in whole seconds (rounded up: never invite a retry that must fail)."""
        if self.retry_after_s is None:
            return None
        return str(max(1, math.ceil(self.retry_after_s)))

    def http_body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code.name, "message": self.message}
        if self.retry_after_s is not None:
            error["retry_after_s"] = round(self.retry_after_s, 3)
        return {"error": error}


async def abort(context: grpc.aio.ServicerContext, refused: Refused) -> None:
    await context.abort_with_status(refused.grpc_status())
