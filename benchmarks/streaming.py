"""Live analysis: AnalyzeStream fed JPEG frames of samples/face.mp4 in real time.

One stream sends a config (vision only, `target_fps`, `window_s`) then `target_fps x seconds`
frames, each at its scheduled moment, timestamped on the stream's timeline. Per stream:

- update latency: for each progressive update about [a, b), the time from sending the first
  frame at or after b (the frame that closes the window; end of input for the last window)
  to receiving the update;
- analysed frames/s: frames sent / time from the first frame to the final result;
- sent frames/s: the rate the client achieved (below target when the stream pushed back);
- held: no error, sent >= 95% of target and p95 update latency <= one window: the service
  finished each window before the next one closed, so no backlog built up.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from benchmarks.stats import percentile, summarize_ms
from veritas.client import AsyncClient
from veritas.v1 import common_pb2

SEND_RATE_FRACTION = 0.95


@dataclass
class Update:
    start_s: float
    end_s: float
    received: float
    final: bool


@dataclass
class StreamRecord:
    target_fps: float
    window_s: float
    frame_times_s: list[float] = field(default_factory=list)  # on the stream's timeline
    sent_at: list[float] = field(default_factory=list)  # perf_counter when each frame left
    end_of_input: float = 0.0
    updates: list[Update] = field(default_factory=list)
    error: str | None = None


def update_latencies(record: StreamRecord) -> list[float]:
    """Seconds from the frame that closed each progressive update's window to the update."""
    out = []
    for update in record.updates:
        if update.final:
            continue
        trigger = record.end_of_input
        for t, sent in zip(record.frame_times_s, record.sent_at, strict=True):
            if t >= update.end_s - 1e-9:
                trigger = sent
                break
        out.append(update.received - trigger)
    return out


def stream_metrics(record: StreamRecord) -> dict[str, Any]:
    """The numbers of one stream (pure: works on a record)."""
    n = len(record.sent_at)
    latencies = update_latencies(record)
    finals = [u for u in record.updates if u.final]
    sent_fps = (n - 1) / (record.sent_at[-1] - record.sent_at[0]) if n > 1 else 0.0
    analysed_fps = 0.0
    drain_ms = None
    if finals and n:
        analysed_fps = n / (finals[-1].received - record.sent_at[0])
        drain_ms = (finals[-1].received - record.end_of_input) * 1000
    p95 = percentile(latencies, 95)
    held = (
        record.error is None
        and bool(finals)
        and sent_fps >= SEND_RATE_FRACTION * record.target_fps
        and bool(latencies)
        and p95 <= record.window_s
    )
    return {
        "target_fps": record.target_fps,
        "window_s": record.window_s,
        "frames_sent": n,
        "sent_fps": sent_fps,
        "analysed_fps": analysed_fps,
        "updates": len(latencies),
        "update_latency": summarize_ms(latencies),
        "final_after_end_ms": drain_ms,
        "error": record.error,
        "held": held,
    }


async def _frames(
    record: StreamRecord, frames: Sequence[bytes], count: int
) -> AsyncIterator[common_pb2.LiveChunk]:
    options = common_pb2.Options(
        modalities=[common_pb2.VISION], target_fps=record.target_fps, window_s=record.window_s
    )
    yield common_pb2.LiveChunk(
        config=common_pb2.StreamConfig(request_id=uuid.uuid4().hex, options=options)
    )
    began = time.perf_counter()
    for i in range(count):
        t = i / record.target_fps
        delay = began + t - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        record.frame_times_s.append(t)
        record.sent_at.append(time.perf_counter())
        image = frames[i % len(frames)]
        yield common_pb2.LiveChunk(
            video_frame=common_pb2.VideoFrame(image=image, mime_type="image/jpeg", timestamp_s=t)
        )
    record.end_of_input = time.perf_counter()


async def one_stream(
    client: AsyncClient, frames: Sequence[bytes], fps: float, seconds: float, window_s: float
) -> dict[str, Any]:
    record = StreamRecord(target_fps=fps, window_s=window_s)
    try:
        async for result in client.stream(_frames(record, frames, round(fps * seconds))):
            record.updates.append(
                Update(
                    result.window_start_s, result.window_end_s, time.perf_counter(), result.final
                )
            )
    except grpc.aio.AioRpcError as e:
        record.error = f"{e.code().name}: {e.details()}"
    if not record.end_of_input:
        record.end_of_input = time.perf_counter()
    return stream_metrics(record)


async def fps_sweep(
    client: AsyncClient,
    frames: Sequence[bytes],
    targets: Sequence[float],
    seconds: float,
    window_s: float,
) -> list[dict[str, Any]]:
    return [await one_stream(client, frames, fps, seconds, window_s) for fps in targets]


async def concurrent_streams(
    client: AsyncClient,
    frames: Sequence[bytes],
    fps: float,
    levels: Sequence[int],
    seconds: float,
    window_s: float,
    single: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run N streams at once for each N in `levels`, stopping at the first N that does not
    hold `fps`. `single` (a 1-stream run at `fps` already measured) stands in for N=1."""
    runs = []
    most = 0
    for n in levels:
        if n == 1 and single is not None:
            streams = [single]
        else:
            streams = list(
                await asyncio.gather(
                    *(one_stream(client, frames, fps, seconds, window_s) for _ in range(n))
                )
            )
        held = all(s["held"] for s in streams)
        runs.append(
            {
                "streams": n,
                "held": held,
                "analysed_fps_min": min(s["analysed_fps"] for s in streams),
                "update_latency_p95_ms_max": max(
                    (s["update_latency"]["p95_ms"] for s in streams), default=float("nan")
                ),
                "errors": sum(1 for s in streams if s["error"]),
            }
        )
        if not held:
            break
        most = n
    return {"target_fps": fps, "max_streams_held": most, "levels": runs}
