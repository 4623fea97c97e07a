"""One error type for every refusal, whatever the transport: gRPC turns it into a status
(with google.rpc.RetryInfo when a retry can succeed), HTTP into a status code and JSON.

Messages tell the caller what to do, never where things live: an error from fusion is passed
on only when its words were written for the caller (a field named, a plain reason); anything
else (grpc's own words with addresses, an exception's) is replaced by a plain sentence and a
reference, the details logged under it (veritas.refs). The reference also travels as gRPC
trailing metadata `x-veritas-ref`, or the HTTP header `X-Veritas-Ref` and `error.ref`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from veritas import refs

log = logging.getLogger("veritas.gateway")

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
        ref: str | None = None,
    ) -> None:
        super().__init__(message)
        self.principal = principal  # who, when known (a revoked key): for the audit log
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s
        self.http_status = http_status or HTTP_STATUS.get(code, 500)
        self.ref = ref or refs.ref_in(message)  # the log record with the details, if any

    def grpc_status(self) -> grpc.Status:
        """The status with its rich details (google.rpc.Status in grpc-status-details-bin)."""
        status = status_pb2.Status(code=self.code.value[0], message=self.message)
        if self.retry_after_s is not None:
            delay = duration_pb2.Duration()
            delay.FromNanoseconds(int(self.retry_after_s * 1e9))
            status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        rich = rpc_status.to_status(status)
        if self.ref is None:
            return rich
        metadata = (*rich.trailing_metadata, (refs.REF_METADATA, self.ref))
        return _Status(rich.code, rich.details, metadata)

    def retry_after_header(self) -> str | None:
        """Retry-After in whole seconds (rounded up: never invite a retry that must fail)."""
        if self.retry_after_s is None:
            return None
        return str(max(1, math.ceil(self.retry_after_s)))

    def http_body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code.name, "message": self.message}
        if self.retry_after_s is not None:
            error["retry_after_s"] = round(self.retry_after_s, 3)
        if self.ref is not None:
            error["ref"] = self.ref
        return {"error": error}

    def http_headers(self) -> dict[str, str]:
        headers = {}
        if self.retry_after_header():
            headers["Retry-After"] = self.retry_after_header() or ""
        if self.code == grpc.StatusCode.UNAUTHENTICATED:
            headers["WWW-Authenticate"] = "Bearer"
        if self.ref is not None:
            headers[refs.REF_HEADER] = self.ref
        return headers


class _Status(grpc.Status):
    def __init__(self, code: grpc.StatusCode, details: str, trailing_metadata: Any) -> None:
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


# Codes whose message fusion and the services write for the caller (a field named, a plain
# reason): passed on when plain. Everything else is said in the gateway's words.
WRITTEN_FOR_CALLER = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,  # e.g. STACKER asked for with no stacker trained
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
# What the caller is told for each code from fusion, and the code it gets.
BACKEND: dict[grpc.StatusCode, tuple[grpc.StatusCode, str]] = {
    grpc.StatusCode.UNAVAILABLE: (
        grpc.StatusCode.UNAVAILABLE,
        "the analysis service is unavailable; retry later",
    ),
    grpc.StatusCode.DEADLINE_EXCEEDED: (
        grpc.StatusCode.DEADLINE_EXCEEDED,
        "the analysis did not finish within the deadline; allow more time or send less input",
    ),
    grpc.StatusCode.CANCELLED: (grpc.StatusCode.CANCELLED, "the call was cancelled"),
    grpc.StatusCode.INVALID_ARGUMENT: (grpc.StatusCode.INVALID_ARGUMENT, "the input was refused"),
    grpc.StatusCode.FAILED_PRECONDITION: (
        grpc.StatusCode.FAILED_PRECONDITION,
        "the analysis cannot run as asked on this server",
    ),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "the request is too large or too fast for the analysis service",
    ),
}
INTERNAL = (grpc.StatusCode.INTERNAL, "the analysis failed inside Veritas; this is logged")


def from_backend(error: grpc.aio.AioRpcError) -> Refused:
    """A Refused for an error from fusion: its own words when they were written for the
    caller (or carry a reference already), else a plain sentence and a new reference."""
    code, details = error.code(), error.details() or ""
    plain = bool(details) and not refs.leaks(details)
    if plain and (code in WRITTEN_FOR_CALLER or refs.ref_in(details)):
        return Refused(code if code in HTTP_STATUS else grpc.StatusCode.INTERNAL, details)
    out, phrase = BACKEND.get(code, INTERNAL)
    ref = refs.logged(log, "analysis backend failed", details, code=code.name)
    return Refused(out, refs.with_ref(phrase, ref), ref=ref)


def internal_error(error: BaseException) -> Refused:
    """A bug in the gateway: INTERNAL with a reference; the traceback logged once."""
    ref = refs.logged_bug(log, error)
    return Refused(grpc.StatusCode.INTERNAL, refs.with_ref(INTERNAL[1], ref), ref=ref)


async def abort(context: grpc.aio.ServicerContext, refused: Refused) -> None:
    await context.abort_with_status(refused.grpc_status())
