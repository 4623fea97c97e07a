"""The safety net around streaming handlers (veritas.guard), on a real grpc.aio server:
late bad input names its field, a known dependency failure gets its status, anything else
is INTERNAL with a plain message and a reference that also sits in the trailing metadata and
in the one log record that holds the traceback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc
import pytest

from veritas import refs
from veritas.analysis import InvalidInput
from veritas.guard import Known, guarded
from veritas.triton_client import TritonUnavailable
from veritas.v1 import modality_pb2, modality_pb2_grpc

log = logging.getLogger("veritas.test.guard")
Stub = modality_pb2_grpc.ModalityAnalyzerStub


class Failing(modality_pb2_grpc.ModalityAnalyzerServicer):
    """Raises what the request id names, after one update."""

    async def _updates(self, what: str) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        yield modality_pb2.ModalityUpdate()
        if what == "bug":
            raise IndexError("index 1 is out of bounds for axis 0 with size 1")
        if what == "late-input":
            raise InvalidInput("options.window_s", "must be 0 (the default) or a number up to 3600")
        if what == "triton":
            raise TritonUnavailable("Triton at 127.0.0.1:8001: connection refused")
        yield modality_pb2.ModalityUpdate(final=True)

    async def Analyze(
        self, request: modality_pb2.ModalityRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        known: Known = {
            TritonUnavailable: (grpc.StatusCode.UNAVAILABLE, "the model server is down")
        }
        updates = self._updates(request.request_id)
        async for update in guarded(updates, context, log, "could not analyse", known):
            yield update


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    server = grpc.aio.server()
    modality_pb2_grpc.add_ModalityAnalyzerServicer_to_server(Failing(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield modality_pb2_grpc.ModalityAnalyzerStub(channel)
    await server.stop(0)


async def outcome(stub: Stub, what: str) -> grpc.aio.AioRpcError:
    call = stub.Analyze(modality_pb2.ModalityRequest(request_id=what))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in call:
            pass
    return info.value


async def test_a_bug_is_internal_with_a_reference_and_one_traceback(
    stub: Stub, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="veritas.test.guard"):
        error = await outcome(stub, "bug")
    assert error.code() == grpc.StatusCode.INTERNAL
    ref = refs.ref_in(error.details())
    assert ref and error.details() == f"could not analyse (ref {ref})"
    assert dict(error.trailing_metadata())[refs.REF_METADATA] == ref
    records = [r for r in caplog.records if getattr(r, "fields", {}).get("ref") == ref]
    assert len(records) == 1 and records[0].exc_info is not None
    assert "IndexError" in vars(records[0])["fields"]["detail"]  # the class: to the log only


async def test_bad_input_found_late_still_names_its_field(stub: Stub) -> None:
    error = await outcome(stub, "late-input")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("options.window_s: ")


async def test_a_known_failure_gets_its_status_without_the_address(stub: Stub) -> None:
    error = await outcome(stub, "triton")
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details().startswith("the model server is down (ref ")
    assert not refs.leaks(error.details())


async def test_a_clean_stream_passes_through(stub: Stub) -> None:
    updates = [u async for u in stub.Analyze(modality_pb2.ModalityRequest(request_id="ok"))]
    assert [u.final for u in updates] == [False, True]
