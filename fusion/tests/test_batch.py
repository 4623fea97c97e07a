"""FuseBatch on real grpc.aio servers, with a stand-in text service: each item is answered
as Fuse answers it alone, its modality calls travel as one AnalyzeBatch call per modality
(cut by message size), and an item's failure is its own, named by its place in the batch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from fusion import batch as fusion_batch
from fusion.service import FusionServicer
from fusion.stacker import StackerStore
from veritas import hints
from veritas.v1 import common_pb2 as pb
from veritas.v1 import fusion_pb2_grpc, modality_pb2, modality_pb2_grpc, veritas_pb2

DOWN = "the text model server is unavailable (ref 0123abcd)"


def scored(text: str) -> modality_pb2.ModalityUpdate:
    return modality_pb2.ModalityUpdate(
        final=True,
        result=pb.ModalityResult(
            modality=pb.TEXT,
            status=pb.OK,
            score=min(0.9, 0.1 * len(text.split())),
            confidence=1.0,
            model=pb.ModelInfo(name="text_deception", version="1", calibrated=True),
        ),
    )


class Text(modality_pb2_grpc.ModalityAnalyzerServicer):
    """Scores by word count; "bad": bad input, "down": its model server is unavailable."""

    def __init__(self) -> None:
        self.batches: list[int] = []  # items per AnalyzeBatch call

    async def Analyze(self, request: Any, context: Any) -> AsyncIterator[Any]:
        yield scored(request.input.transcript.text)

    async def AnalyzeBatch(self, request: Any, context: Any) -> Any:
        self.batches.append(len(request.requests))
        items = []
        for k, r in enumerate(request.requests):
            text = r.input.transcript.text
            if text == "bad":
                code, message = grpc.StatusCode.INVALID_ARGUMENT, f"requests[{k}].transcript: bad"
            elif text == "down":
                code, message = grpc.StatusCode.UNAVAILABLE, DOWN
            else:
                items.append(modality_pb2.ModalityBatchItem(update=scored(text)))
                continue
            items.append(
                modality_pb2.ModalityBatchItem(error_code=code.value[0], error_message=message)
            )
        return modality_pb2.ModalityBatchResponse(items=items)


@pytest.fixture
async def fusion(tmp_path: Path) -> AsyncIterator[tuple[Any, Text]]:
    text = Text()
    modality = grpc.aio.server()
    modality_pb2_grpc.add_ModalityAnalyzerServicer_to_server(text, modality)
    port = modality.add_insecure_port("127.0.0.1:0")
    await modality.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    servicer = FusionServicer({pb.TEXT: channel}, 30.0, StackerStore(tmp_path / "none.json"))
    server = grpc.aio.server()
    fusion_pb2_grpc.add_FusionServicer_to_server(servicer, server)
    fport = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{fport}") as client:
        yield fusion_pb2_grpc.FusionStub(client), text
    await server.stop(0)
    await channel.close()
    await modality.stop(0)


def request(text: str, **options: Any) -> pb.AnalysisRequest:
    return pb.AnalysisRequest(
        request_id=f"r-{text}",
        transcript=pb.Transcript(text=text),
        options=pb.Options(modalities=[pb.TEXT], **options),
    )


async def test_items_fail_on_their_own_and_the_rest_match_fuse(fusion: Any) -> None:
    stub, text = fusion
    requests = [
        request("one two three", domain=pb.WRITTEN_REVIEW),
        request("bad"),
        request("down"),
        request("x", strategy=pb.STACKER),  # no stacker trained here
        request("y", strategy=42),  # type: ignore[arg-type]
        pb.AnalysisRequest(request_id="r-none", options=pb.Options(modalities=[pb.TEXT])),
        request("four five six seven"),
    ]
    response = await stub.FuseBatch(veritas_pb2.AnalyzeBatchRequest(requests=requests))
    items = response.items
    assert len(items) == len(requests)
    assert text.batches == [4]  # one call for every item that needs text (and passed its plan)
    codes = [grpc.StatusCode.OK.value[0] if not i.error_code else i.error_code for i in items]
    invalid = grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert codes[1] == codes[4] == invalid
    assert items[1].error_message == "requests[1].transcript: bad"
    assert items[4].error_message.startswith("requests[4].options.strategy: unknown")
    assert items[3].error_code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert items[3].error_message.startswith("requests[3].options.strategy: STACKER")
    down = {pb.Modality.Name(m.modality): m for m in items[2].result.modalities}["TEXT"]
    assert down.status == pb.FAILED and down.reason == f"UNAVAILABLE: {DOWN}"
    none = {pb.Modality.Name(m.modality): m for m in items[5].result.modalities}["TEXT"]
    assert none.status == pb.SKIPPED and none.reason == "no input"
    for j in (0, 6):
        alone = await stub.Fuse(requests[j], metadata=hints.FINAL_ONLY_METADATA).read()
        got = items[j].result
        assert got.final and got.request_id == requests[j].request_id
        assert got.decision == alone.decision
        assert got.deception_probability == alone.deception_probability
        assert [m.score for m in got.modalities] == [m.score for m in alone.modalities]
        assert [s.text for s in got.reasoning] == [s.text for s in alone.reasoning]


async def test_a_large_batch_is_cut_into_calls_by_size(
    fusion: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub, text = fusion
    words = " ".join(["word"] * 200)  # about 1 KB per item
    monkeypatch.setenv("VERITAS_MAX_MESSAGE_MB", str(4 * 1024 / (1024 * 1024)))  # 3 KB batches
    requests = [request(f"{words} {i}") for i in range(7)]
    response = await stub.FuseBatch(veritas_pb2.AnalyzeBatchRequest(requests=requests))
    assert all(i.result.final and not i.error_code for i in response.items)
    assert sum(text.batches) == 7 and len(text.batches) > 1
    assert max(text.batches) < 7
    assert [i.result.request_id for i in response.items] == [r.request_id for r in requests]


@pytest.mark.parametrize("count, problem", [(0, "empty batch"), (257, "more than 256 items")])
async def test_an_empty_or_oversized_batch_is_invalid(
    fusion: Any, count: int, problem: str
) -> None:
    stub, _ = fusion
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.FuseBatch(veritas_pb2.AnalyzeBatchRequest(requests=[request("a")] * count))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == f"requests: {problem}"


def test_a_modality_answer_with_the_wrong_count_is_refused() -> None:
    with pytest.raises(RuntimeError, match="answered 1 items for 2"):
        fusion_batch.outcomes(
            modality_pb2.ModalityBatchResponse(items=[modality_pb2.ModalityBatchItem()]), 2
        )


def test_an_outcome_after_the_item_deadline_is_not_taken() -> None:
    from fusion.aggregate import Aggregate

    item = fusion_batch.Item(0, deadline=10.0, agg=Aggregate("r", pb.Options()))
    assert item.agg is not None
    item.agg.open(pb.TEXT)
    item.deliver(pb.TEXT, scored("a b"), None, now=11.0)
    result = item.answer().result
    (text,) = result.modalities
    assert text.status == pb.TIMED_OUT and text.reason == "no final result within the deadline"
