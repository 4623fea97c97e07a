"""What a FAILED modality's reason says: what happened and what the caller can do, in words.

A modality service's error arrives as a gRPC status whose details may be grpc's own
("failed to connect to all addresses; last error: ... 127.0.0.1:50054 ...") or an exception's
words. The caller sees the status code's name, a plain sentence and a reference; the details
go to fusion's log once under that reference (veritas.refs). A message a Veritas service
wrote itself (plain, already carrying its own reference) is passed on as it is.
"""

from __future__ import annotations

import logging

import grpc

from veritas import refs
from veritas.modalities import name_of

log = logging.getLogger("veritas.fusion")

_PHRASES: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.UNAVAILABLE: "the {m} service could not be reached; the answer was built "
    "without it (retry later)",
    grpc.StatusCode.DEADLINE_EXCEEDED: "the {m} service did not answer within the deadline",
    grpc.StatusCode.CANCELLED: "the {m} analysis was cancelled",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "the {m} service refused the input as too large or too "
    "fast",
    grpc.StatusCode.FAILED_PRECONDITION: "the {m} model is not ready",
}
_DEFAULT = "the {m} service failed on this input; the answer was built without it"


def modality_failed(modality: int, error: grpc.aio.AioRpcError) -> str:
    """The reason for a modality whose service call ended in `error` (not INVALID_ARGUMENT)."""
    code, details = error.code(), error.details() or ""
    if refs.ref_in(details) and not refs.leaks(details):
        return f"{code.name}: {details}"  # written for the caller, logged where it arose
    phrase = _PHRASES.get(code, _DEFAULT).format(m=name_of(modality))
    ref = refs.logged(
        log, "modality call failed", details, modality=name_of(modality), code=code.name
    )
    return f"{code.name}: {refs.with_ref(phrase, ref)}"


def unexpected(modality: int, error: BaseException) -> str:
    """The reason for a modality whose task in fusion raised something nobody expected."""
    ref = refs.logged_bug(log, error, modality=name_of(modality))
    return "INTERNAL: " + refs.with_ref(f"fusion could not use the {name_of(modality)} result", ref)


def invalid(details: str) -> str:
    """An INVALID_ARGUMENT message from a modality service, passed to the caller when plain."""
    return refs.plain_or(
        details, "the input was refused by a modality service", log, "refused input not plain"
    )
