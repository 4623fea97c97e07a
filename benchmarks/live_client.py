"""One live stream through the gateway's public AnalyzeStream, measured from the client.

A sender task writes the config, then each chunk at its scheduled moment by the wall clock
(`asyncio.sleep` until then; late chunks go at once, so a slow client shows as a real-time
ratio below 1, never as a silently stretched timeline) and notes when it began each write.
A receiver task reads results as they come and notes when each arrived. The moment a write
began is used as "sent" so that transport back-pressure counts against the service: a
blocked write makes the update later, never earlier.

Through the gateway every modality update reaches the client inside a fused progressive
result; a modality's result about a window is recognised by (modality, window span) and one
update from another by its latency_ms (set by the modality service, copied by fusion). The
first arrival of each update is what counts; repeats in later fused results are ignored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import grpc

from benchmarks.live_feed import Chunk
from benchmarks.live_metrics import LiveRecord, Seen, Sent
from veritas.config import channel_options
from veritas.v1 import common_pb2, veritas_pb2_grpc


def quality_name(level: int) -> str:
    return (
        common_pb2.Quality.Name(level).removeprefix("QUALITY_")
        if level in common_pb2.Quality.values()
        else "?"
    )


def modality_name(modality: int) -> str:
    return common_pb2.Modality.Name(modality).lower()


def seen(result: common_pb2.ModalityResult, at: float) -> Seen:
    c = result.coverage
    return Seen(
        at=at,
        status=common_pb2.ModalityStatus.Name(result.status),
        quality=quality_name(result.quality),
        received=c.received,
        analysed=c.analysed,
        skipped=c.skipped,
    )


def observe(record: LiveRecord, result: common_pb2.AnalysisResult, at: float) -> None:
    """Note every modality window update in one result from the gateway (pure but for
    `record`): progressive results carry window updates; the final one carries each
    modality's whole-input result, which progressive results may also have carried."""
    for r in result.modalities:
        key = (modality_name(r.modality), r.window_start_s, r.window_end_s)
        if result.final:
            record.observe_final(key, r.latency_ms, seen(r, at))  # with or without a span
        elif r.window_end_s > r.window_start_s:  # else a placeholder: PENDING, no window yet
            record.observe_window(key, r.latency_ms, seen(r, at))
    if result.final:
        record.final_at = at


class LiveChannel:
    """One grpc.aio channel to the gateway for any number of concurrent streams."""

    def __init__(self, target: str, api_key: str | None = None) -> None:
        self.channel = grpc.aio.insecure_channel(target, options=channel_options())
        self.stub = veritas_pb2_grpc.VeritasStub(self.channel)
        self.metadata = (("authorization", f"Bearer {api_key}"),) if api_key else None

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> LiveChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run(
        self,
        record: LiveRecord,
        config: common_pb2.StreamConfig,
        chunks: Iterator[Chunk],
        start_at: float | None = None,
        timeout_s: float | None = None,
    ) -> LiveRecord:
        """Stream `chunks` in real time from `start_at` (client clock; default: now) and
        record what comes back. Errors are recorded, never raised."""
        timeout = timeout_s if timeout_s is not None else record.seconds + 120.0
        call = self.stub.AnalyzeStream(timeout=timeout, metadata=self.metadata)

        async def send() -> None:
            try:
                await call.write(common_pb2.LiveChunk(config=config))
                began = start_at if start_at is not None else time.perf_counter()
                record.began = began
                for chunk in chunks:
                    delay = began + chunk.send_s - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    now = time.perf_counter()
                    record.sent.append(
                        Sent(chunk.modality, chunk.lane, chunk.start_s, chunk.end_s, now)
                    )
                    await call.write(chunk.message)
                await call.done_writing()
            except (grpc.RpcError, asyncio.InvalidStateError):
                pass  # the call ended: the receiver records why
            finally:
                record.end_of_input = time.perf_counter()

        sender = asyncio.create_task(send())
        try:
            while True:
                result = await call.read()
                if result is grpc.aio.EOF:
                    break
                observe(record, result, time.perf_counter())
        except grpc.aio.AioRpcError as e:
            record.error = f"{e.code().name}: {e.details()}"
        finally:
            if not sender.done():
                sender.cancel()
            try:
                await sender
            except asyncio.CancelledError:
                pass
        if record.final_at is None and record.error is None:
            record.error = "the stream ended without a final result"
        return record
