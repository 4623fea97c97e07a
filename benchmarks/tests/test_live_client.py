"""The live client against a small in-process gateway stand-in (no mesh): what it records
from fused results, and that its clocks measure what the server did."""

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from benchmarks import live_feed
from benchmarks.live_client import LiveChannel, observe
from benchmarks.live_metrics import LiveRecord, stream_metrics, window_rows
from benchmarks.streaming import stream_config
from veritas.v1 import common_pb2 as pb
from veritas.v1 import veritas_pb2_grpc

DELAY_S = 0.08  # the stand-in answers each window this long after the frame that closed it


def _window(start: float, end: float, update_id: float, frames: int) -> pb.ModalityResult:
    return pb.ModalityResult(
        modality=pb.VISION,
        status=pb.PENDING,
        window_start_s=start,
        window_end_s=end,
        latency_ms=update_id,
        quality=pb.QUALITY_MEDIUM,
        coverage=pb.Coverage(received=frames, analysed=frames // 2, skipped=frames - frames // 2),
    )


def test_observe_takes_windows_from_fused_results_and_finals_from_the_last() -> None:
    record = LiveRecord(modalities=("vision", "audio"), seconds=2, window_s=1, target_ms=150)
    audio = pb.ModalityResult(
        modality=pb.AUDIO, status=pb.PENDING, window_start_s=0, window_end_s=1, latency_ms=9
    )
    placeholder = pb.ModalityResult(modality=pb.TEXT, status=pb.PENDING)  # no span
    observe(record, pb.AnalysisResult(modalities=[_window(0, 1, 5, 10), placeholder]), 1.0)
    observe(record, pb.AnalysisResult(modalities=[_window(0, 1, 5, 10), audio]), 1.5)
    whole = _window(0, 2, 7, 20)
    whole.status = pb.OK
    observe(record, pb.AnalysisResult(modalities=[whole]), 2.5)  # fused as a moment
    failed = pb.ModalityResult(modality=pb.TEXT, status=pb.FAILED)  # no span: still a final
    observe(record, pb.AnalysisResult(modalities=[whole, failed], final=True), 3.0)
    assert set(record.windows) == {("vision", 0, 1), ("audio", 0, 1)}
    assert record.finals["text"].status == "FAILED"
    seen = record.windows[("vision", 0, 1)][5]
    assert seen.at == 1.0 and seen.quality == "MEDIUM" and seen.analysed == 5
    assert record.finals["vision"].received == 20 and record.final_at == 3.0


class StandIn(veritas_pb2_grpc.VeritasServicer):
    """Answers each 1 s window DELAY_S after the frame that closes it; aborts after
    `abort_after` frames when set."""

    def __init__(self, abort_after: int | None = None) -> None:
        self.abort_after = abort_after
        self.config: pb.StreamConfig | None = None

    async def AnalyzeStream(
        self, request_iterator: AsyncIterator[pb.LiveChunk], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.AnalysisResult]:
        frames, window, in_window, update = 0, 0, 0, 1.0
        async for chunk in request_iterator:
            if chunk.HasField("config"):
                self.config = chunk.config
                continue
            frames += 1
            if self.abort_after is not None and frames > self.abort_after:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too fast")
            t = chunk.video_frame.timestamp_s
            while t >= window + 1:
                await asyncio.sleep(DELAY_S)
                yield pb.AnalysisResult(modalities=[_window(window, window + 1, update, in_window)])
                window, in_window, update = window + 1, 0, update + 1
            in_window += 1
        yield pb.AnalysisResult(modalities=[_window(window, window + 1, update, in_window)])
        final = _window(0, window + 1, 0.5, frames)
        final.status = pb.OK
        yield pb.AnalysisResult(modalities=[final], final=True)


async def _serve(servicer: StandIn) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    veritas_pb2_grpc.add_VeritasServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


def _record(seconds: float) -> LiveRecord:
    return LiveRecord(
        modalities=("vision",), seconds=seconds, window_s=1.0, target_ms=150.0, target_fps=30
    )


@pytest.fixture(scope="module")
def pool() -> list[bytes]:
    from benchmarks.workloads import Samples

    return live_feed.frame_pool(Samples().video, size=30)


async def test_the_client_paces_in_real_time_and_measures_the_servers_delay(
    pool: list[bytes],
) -> None:
    servicer = StandIn()
    server, address = await _serve(servicer)
    try:
        async with LiveChannel(address) as channel:
            record = await channel.run(
                _record(3.0),
                stream_config([pb.VISION], 30.0, 1.0, "HIGH"),
                live_feed.video_chunks(pool, 30.0, 3.0),
            )
    finally:
        await server.stop(None)
    assert servicer.config is not None
    assert servicer.config.options.quality == pb.QUALITY_HIGH
    assert servicer.config.options.update_latency_target_ms == 150.0
    assert record.error is None and record.final_at is not None
    assert len(record.sent) == 90
    # Real time: 89 frame intervals of 1/30 s (the sleep can only be late, never early).
    assert record.sent[-1].sent_at - record.sent[0].sent_at >= 89 / 30 - 0.01
    rows, _ = window_rows(record, "vision")
    assert [r.closed_by for r in rows] == ["chunk", "chunk", "end"]
    # The server waited DELAY_S after the closing frame arrived: never less is measured.
    for row in rows[:2]:
        assert row.latency_s is not None and row.latency_s >= DELAY_S
    m = stream_metrics(record)["modalities"]["vision"]
    assert m["windows_answered"] == 3 and m["coverage"]["received"] == 90
    assert m["quality"] == {"MEDIUM": 3}


async def test_a_stream_the_server_ends_is_recorded_not_raised(pool: list[bytes]) -> None:
    server, address = await _serve(StandIn(abort_after=10))
    try:
        async with LiveChannel(address) as channel:
            record = await channel.run(
                _record(3.0),
                stream_config([pb.VISION], 30.0, 1.0, "AUTO"),
                live_feed.video_chunks(pool, 30.0, 3.0),
            )
    finally:
        await server.stop(None)
    assert record.error is not None and record.error.startswith("RESOURCE_EXHAUSTED")
    assert len(record.sent) < 90  # the sender stopped
    assert stream_metrics(record)["held"] is False
