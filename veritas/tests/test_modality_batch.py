"""ModalityAnalyzer.AnalyzeBatch on a real grpc.aio server with the services' interceptors:
each item is answered as a final-only Analyze would answer it, items run together (their
model calls meet), and an item's failure is its own. The analyzer and the model server are
stand-ins here (the real ones: tests/test_batch.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt
import pytest

from veritas import hints
from veritas.analysis import InvalidInput, Window
from veritas.grpc_tracing import ServerTracing
from veritas.metrics import MetricsInterceptor
from veritas.modality_service import ModalityServicer
from veritas.triton_client import ModelSpec, Prediction, TritonUnavailable
from veritas.v1 import common_pb2, modality_pb2, modality_pb2_grpc
from veritas.wire import FinalOnlyUnaryInterceptor, MalformedRequestInterceptor

SPEC = ModelSpec(
    name="m",
    version="1",
    feature_names=("words",),
    contribution_names=(),
    calibrated=False,
    card="",
    validated_auc=0.5,
    has_text_input=False,
)


class Analyzer:
    """Counts words; the text picks a failure: "bad" (bad input), "crash" (a bug); "wait ..."
    waits for its gate."""

    modality = common_pb2.TEXT
    model_name = "m"
    inline_max_bytes = 1 << 20  # on the event loop, as the text service does
    summary_needs_windows = False

    def prepare(self, request: modality_pb2.ModalityRequest) -> str:
        text = request.input.transcript.text
        if text == "bad":
            raise InvalidInput("transcript.text", "not a statement")
        if text == "crash":
            raise RuntimeError("a bug")
        return text

    def windows(self, prepared: str, options: common_pb2.Options) -> Iterator[Window]:
        return iter(())

    def __init__(self) -> None:
        self.gate = threading.Event()  # what a "wait ..." item waits for (a worker's call)

    def summarize(self, prepared: str, windows: Sequence[Window]) -> Window:
        if prepared.startswith("wait"):
            assert self.gate.wait(30), "no other item reached the workers"
        return Window(0.0, 1.0, {"words": float(len(prepared.split()))})


class Triton:
    """Scores words / 10; "down" as the only word: the model server is unreachable."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0

    async def spec(self, model: str) -> ModelSpec:
        return SPEC

    async def newer_spec(self, spec: ModelSpec) -> ModelSpec | None:
        return None

    def forget(self, model: str) -> None:
        pass

    async def predict(
        self,
        spec: ModelSpec,
        features: npt.NDArray[np.float32],
        text: str | None,
        timeout_s: float | None,
    ) -> Prediction:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # every item ready this turn gets here before any goes on
            if features[0] == 1.0:
                raise TritonUnavailable("Triton at 10.0.0.1:8001: connection refused")
            return Prediction(probability=float(features[0]) / 10, contributions={})
        finally:
            self.in_flight -= 1


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Triton, ModalityServicer[Any]]]:
    server = grpc.aio.server(
        interceptors=[
            MetricsInterceptor("test"),
            MalformedRequestInterceptor(),
            ServerTracing(),
            FinalOnlyUnaryInterceptor(),
        ]
    )
    triton = Triton()
    servicer: ModalityServicer[Any] = ModalityServicer(Analyzer(), triton)  # type: ignore[arg-type]
    modality_pb2_grpc.add_ModalityAnalyzerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", triton, servicer
    await server.stop(0)


def request(text: str) -> modality_pb2.ModalityRequest:
    return modality_pb2.ModalityRequest(
        request_id=text,
        input=common_pb2.ModalityInput(transcript=common_pb2.Transcript(text=text)),
    )


async def test_each_item_is_answered_on_its_own(served: Any) -> None:
    address, _, _ = served
    texts = ["one two three", "bad", "crash", "down", "four five"]
    batch = modality_pb2.ModalityBatchRequest(requests=[request(t) for t in texts])
    async with grpc.aio.insecure_channel(address) as channel:
        stub = modality_pb2_grpc.ModalityAnalyzerStub(channel)
        response = await stub.AnalyzeBatch(batch)
        # The final-only hint (fusion's single calls carry it) changes nothing here.
        hinted = await stub.AnalyzeBatch(batch, metadata=hints.FINAL_ONLY_METADATA)
        single = await stub.Analyze(
            request("one two three"), metadata=hints.FINAL_ONLY_METADATA
        ).read()
    assert len(response.items) == len(texts)
    good, bad, crash, down, other = response.items
    assert good.error_code == 0 and good.update.final
    assert good.update.result.status == common_pb2.OK
    assert good.update.result.score == pytest.approx(0.3)
    assert good.update.result.score == single.result.score  # as a final-only Analyze
    assert other.update.result.score == pytest.approx(0.2)
    assert bad.error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert bad.error_message == "requests[1].transcript.text: not a statement"
    assert crash.error_code == grpc.StatusCode.INTERNAL.value[0]
    assert "could not analyse this input" in crash.error_message and "(ref " in crash.error_message
    assert "RuntimeError" not in crash.error_message
    assert down.error_code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert "model server is unavailable" in down.error_message
    assert "10.0.0.1" not in down.error_message
    assert [i.error_code for i in hinted.items] == [i.error_code for i in response.items]


async def test_items_run_together_up_to_the_bound(served: Any) -> None:
    address, triton, servicer = served
    servicer.batch_concurrency = 3
    batch = modality_pb2.ModalityBatchRequest(requests=[request(f"w{i} x") for i in range(8)])
    async with grpc.aio.insecure_channel(address) as channel:
        response = await modality_pb2_grpc.ModalityAnalyzerStub(channel).AnalyzeBatch(batch)
    assert all(i.update.final and not i.error_code for i in response.items)
    assert [i.update.result.modality for i in response.items] == [common_pb2.TEXT] * 8
    assert triton.most_in_flight == 3


@pytest.mark.parametrize("count, problem", [(0, "empty batch"), (257, "more than 256 items")])
async def test_an_empty_or_oversized_batch_is_invalid(
    served: Any, count: int, problem: str
) -> None:
    address, _, _ = served
    batch = modality_pb2.ModalityBatchRequest(requests=[request("a")] * count)
    async with grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await modality_pb2_grpc.ModalityAnalyzerStub(channel).AnalyzeBatch(batch)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == f"requests: {problem}"


async def test_malformed_bytes_are_invalid(served: Any) -> None:
    address, _, _ = served
    async with grpc.aio.insecure_channel(address) as channel:
        raw = channel.unary_unary(
            "/veritas.v1.ModalityAnalyzer/AnalyzeBatch", request_serializer=lambda b: b
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await raw(b"\xff\xff\xff\xff\x0f\x01")
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "veritas.v1.ModalityBatchRequest" in info.value.details()


class Workers:
    """A stand-in for the measuring workers (veritas.analysis_pool): nine words, once they
    have started; asking them to start, or to measure, lets a "wait ..." item finish."""

    def __init__(self, analyzer: Analyzer) -> None:
        self.ready = False
        self.starts = self.calls = 0
        self.analyzer = analyzer

    def start(self) -> None:
        self.starts += 1
        self.analyzer.gate.set()

    async def whole(self, request: modality_pb2.ModalityRequest) -> Window:
        self.calls += 1
        self.analyzer.gate.set()
        return Window(0.0, 1.0, {"words": 9.0})


async def test_a_second_item_at_once_starts_the_workers_then_goes_to_them(served: Any) -> None:
    address, _, servicer = served
    servicer.analyzer.inline_max_bytes = 0  # measured off the event loop, as audio is
    servicer.pool = workers = Workers(servicer.analyzer)
    alone = modality_pb2.ModalityBatchRequest(requests=[request("one two")])
    # "wait a moment" is measured here and holds its thread until the workers are asked.
    together = modality_pb2.ModalityBatchRequest(
        requests=[request("wait a moment"), request("a b")]
    )
    async with grpc.aio.insecure_channel(address) as channel:
        stub = modality_pb2_grpc.ModalityAnalyzerStub(channel)
        first = await stub.AnalyzeBatch(alone)
        starting = await stub.AnalyzeBatch(together)
        starts_asked = workers.starts
        workers.analyzer.gate.clear()
        workers.ready = True  # they have started
        started = await stub.AnalyzeBatch(together)
    assert first.items[0].update.result.score == pytest.approx(0.2)  # alone: in a thread here
    assert starts_asked == 1  # by the second item at once, not by the one alone
    assert [i.update.result.score for i in starting.items] == pytest.approx([0.3, 0.2])
    assert [i.update.result.score for i in started.items] == pytest.approx([0.3, 0.9])
    assert workers.calls == 1 and servicer.measuring == 0
