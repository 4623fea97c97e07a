"""A FAILED modality's reason is plain words with a reference, whatever its service said
(fusion.reasons); the details go to fusion's log under that reference."""

from __future__ import annotations

import logging

import grpc
import pytest

from fusion import reasons
from veritas import refs
from veritas.v1 import common_pb2 as pb

GRPC_CORE = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:50054: "
    "Failed to connect to remote host: Connection refused"
)


def error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


def test_a_dead_service_is_named_without_its_address(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="veritas.fusion"):
        reason = reasons.modality_failed(pb.AUDIO, error(grpc.StatusCode.UNAVAILABLE, GRPC_CORE))
    assert reason.startswith("UNAVAILABLE: the audio service could not be reached")
    assert not refs.leaks(reason)
    ref = refs.ref_in(reason)
    logged = [r for r in caplog.records if getattr(r, "fields", {}).get("ref") == ref]
    assert logged and logged[0].fields["detail"] == GRPC_CORE  # type: ignore[attr-defined]


def test_a_service_message_written_for_the_caller_passes_through() -> None:
    written = "the model server is unavailable; retry later (ref 0a1b2c3d)"
    reason = reasons.modality_failed(pb.TEXT, error(grpc.StatusCode.UNAVAILABLE, written))
    assert reason == f"UNAVAILABLE: {written}"


@pytest.mark.parametrize(
    "code, details",
    [
        (grpc.StatusCode.UNKNOWN, "Unexpected <class 'IndexError'>: index 0 is out of bounds"),
        (grpc.StatusCode.INTERNAL, "Received RST_STREAM with error code 2"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "Received message larger than max (5 vs. 4)"),
    ],
)
def test_other_failures_are_plain(code: grpc.StatusCode, details: str) -> None:
    reason = reasons.modality_failed(pb.VISION, error(code, details))
    assert reason.startswith(f"{code.name}: the vision ")
    assert refs.ref_in(reason) and not refs.leaks(reason)


def test_a_bug_in_fusion_itself_is_internal_and_plain() -> None:
    reason = reasons.unexpected(pb.PHYSIOLOGY, KeyError("physiology"))
    assert reason.startswith("INTERNAL: fusion could not use the physiology result")
    assert refs.ref_in(reason) and not refs.leaks(reason)


def test_refused_input_is_passed_on_only_when_plain() -> None:
    named = "physiology.channels[0].sampling_rate_hz: must be > 0"
    assert reasons.invalid(named) == named
    leaked = reasons.invalid("audio.data: cannot open /tmp/tmpab12/x.wav")
    assert leaked.startswith("the input was refused by a modality service (ref ")
