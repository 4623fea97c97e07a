"""What one modality's outcome does to an analysis, and its final answer: the code Fuse and
FuseBatch share, so an item of a batch is answered exactly as the same request alone.

An outcome is a modality's update, the end of its call (neither update nor error), or its
error: the modality call's (a gRPC status, or a batch item's status as one), its media
fetch's (InvalidInput: the caller's URI; MediaUnavailable: the media server), or a bug.
"""

from __future__ import annotations

import logging
import time
from typing import TypeAlias

import grpc

from fusion import reasons
from fusion.aggregate import Aggregate
from fusion.media import MediaUnavailable
from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2, modality_pb2

log = logging.getLogger("veritas.fusion")

Error: TypeAlias = grpc.aio.AioRpcError | InvalidInput | MediaUnavailable | Exception


def record(
    agg: Aggregate,
    modality: int,
    update: modality_pb2.ModalityUpdate | None,
    error: Error | None,
) -> str | None:
    """Apply one outcome to `agg`. Returns the INVALID_ARGUMENT message when it means the
    caller's input is refused (the whole request fails: the caller has to fix it)."""
    if isinstance(error, InvalidInput):
        return str(error)
    if isinstance(error, MediaUnavailable):
        agg.fail(
            modality, common_pb2.TIMED_OUT if error.timed_out else common_pb2.FAILED, str(error)
        )
    elif isinstance(error, grpc.aio.AioRpcError):
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
            return reasons.invalid(error.details() or "")
        agg.fail(modality, common_pb2.FAILED, reasons.modality_failed(modality, error))
    elif error is not None:  # nobody expected it: plain reason, details logged
        agg.fail(modality, common_pb2.FAILED, reasons.unexpected(modality, error))
    elif update is None:
        if modality not in agg.finished:  # the call ended after its final result: nothing new
            agg.fail(modality, common_pb2.FAILED, "stream ended without a final result")
    else:
        agg.update(modality, update)
    return None


def expire(agg: Aggregate) -> None:
    """The deadline passed: every modality still running is TIMED_OUT, saying how far it got."""
    for modality in agg.running:
        last = agg.state[modality]
        seen = (
            f"; last window ended at {last.window_end_s:.1f} s"
            if last.status == common_pb2.PENDING and last.model.name
            else ""
        )
        agg.fail(modality, common_pb2.TIMED_OUT, f"no final result within the deadline{seen}")


def final(agg: Aggregate) -> common_pb2.AnalysisResult:
    """The final result, logged as `fused`."""
    result = agg.result(final=True)
    log.info(
        "fused",
        extra={
            "fields": {
                "request_id": agg.request_id,
                "decision": common_pb2.Decision.Name(result.decision),
                "ms": round((time.perf_counter() - agg.started) * 1000, 1),
            }
        },
    )
    return result
