"""Live analysis through the gateway's AnalyzeStream, in real time (benchmarks/live_*.py).

Experiments, in this order, on the mesh the harness started:

1. **flat cost**: one 30-fps vision stream (AUTO quality, 1 s windows) for the profile's
   length: p95 update latency per quarter of the stream (last / first: the cost per window
   must not grow with the stream's length), frames analysed per second and the quality mix
   per quarter (AUTO could hide a growing cost by stepping down: this shows it), the vision
   service's resident memory (`/proc/<pid>/status` VmRSS of the process the harness started,
   sampled every second) in the first and last minute, its CPU per quarter, and whether
   every window was answered.
2. **rate sweep**: one short stream per target frame rate.
3. **many streams**: N concurrent 30-fps vision streams for N in the profile's levels,
   stopping at the first N that does not hold; once with AUTO quality, once pinned HIGH.
   Their first level (one stream, HIGH) is also the "one stream at HIGH" number.
4. **multimodal**: concurrent streams of video 30 fps + 16 kHz audio in 0.1 s chunks +
   transcript segments + physiology in 1 s chunks (+ the sample's question markers).

Concurrent streams start a fraction of a window apart (stream i of N at i/N of a window):
independent interviews do not close their windows at the same instant. Each experiment also
reads the services' `veritas_live_*` metrics before and after (windows by quality and
outcome, frames skipped, streams still open after the streams ended: per-stream state that
was not freed).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import live_feed, procs
from benchmarks.live_client import LiveChannel
from benchmarks.live_metrics import (
    LiveRecord,
    cpu_per_quarter,
    flat_cost,
    level_summary,
    memory_growth,
    most_held,
    stream_metrics,
)
from benchmarks.workloads import Samples
from veritas.v1 import common_pb2

log = logging.getLogger("benchmarks.streaming")
LATENCY_TARGET_MS = 150.0  # the operators' target: an update within 150 ms of the window
STREAM_FPS = 30.0
QUALITY = {
    "AUTO": common_pb2.QUALITY_AUTO,
    "LOW": common_pb2.QUALITY_LOW,
    "MEDIUM": common_pb2.QUALITY_MEDIUM,
    "HIGH": common_pb2.QUALITY_HIGH,
}
SETTLE_S = 2.0  # between experiments: the last streams' teardown must not overlap the next


@dataclass(frozen=True)
class LivePlan:
    """How much of each experiment a profile runs (seconds of stream time)."""

    window_s: float
    fps_targets: tuple[float, ...]
    fps_seconds: float
    flat_seconds: float
    levels: tuple[int, ...]
    level_seconds: float
    multimodal_streams: int
    multimodal_seconds: float


class Feed:
    """The inputs of every stream, prepared once (see benchmarks/live_feed.py)."""

    def __init__(self, samples: Samples) -> None:
        self.samples = samples
        self._streams = itertools.count()  # every stream of the run gets its own number

    @cached_property
    def frames(self) -> list[bytes]:
        return live_feed.frame_pool(self.samples.video)

    @cached_property
    def audio(self) -> np.ndarray:
        """The sample speech as 16 kHz mono int16 (resampled linearly if it is not)."""
        import soundfile

        data, rate = soundfile.read(str(self.samples.audio), dtype="float64", always_2d=True)
        mono = data.mean(axis=1)
        if rate != live_feed.AUDIO_RATE_HZ:
            n = round(len(mono) * live_feed.AUDIO_RATE_HZ / rate)
            mono = np.interp(
                np.arange(n) * rate / live_feed.AUDIO_RATE_HZ, np.arange(len(mono)), mono
            )
        return np.clip(np.round(mono * 32767), -32768, 32767).astype(np.int16)

    def physiology_loop_s(self) -> float:
        return max(
            (
                len(c.samples) / c.sampling_rate_hz
                for c in self.samples.physiology.channels
                if c.sampling_rate_hz > 0
            ),
            default=0.0,
        )

    def texts(self) -> Iterator[str]:
        """What a stream's speaker says: the text workload's distinct reviews, a new run
        each, so no transcript repeats within or across the streams of a run."""
        while True:
            yield self.samples.text(self.samples.next_run())

    def vision(self, fps: float, seconds: float) -> Iterator[live_feed.Chunk]:
        """A new stream's frames (its own number in every frame: no bytes repeat in a run)."""
        return live_feed.video_chunks(self.frames, fps, seconds, next(self._streams))

    def multimodal(self, fps: float, seconds: float) -> Iterator[live_feed.Chunk]:
        """A new stream's video, audio, transcript, physiology and question chunks."""
        stream = next(self._streams)
        physiology = self.samples.physiology
        return live_feed.merged(
            live_feed.video_chunks(self.frames, fps, seconds, stream),
            live_feed.audio_chunks(self.audio, seconds, stream),
            live_feed.transcript_chunks(self.texts(), seconds),
            live_feed.physiology_chunks(physiology, seconds, stream),
            live_feed.question_chunks(physiology.markers, self.physiology_loop_s(), seconds),
        )

    def describe(self) -> dict[str, Any]:
        return {
            "frame_pool": len(self.frames),
            "mean_jpeg_bytes": sum(map(len, self.frames)) / len(self.frames),
            "jpeg_quality": live_feed.JPEG_QUALITY,
            "brightness_offsets": list(live_feed.BRIGHTNESS_OFFSETS),
            "audio_rate_hz": live_feed.AUDIO_RATE_HZ,
            "audio_chunk_s": live_feed.AUDIO_CHUNK_S,
            "physiology_chunk_s": live_feed.PHYSIO_CHUNK_S,
            "physiology_loop_s": self.physiology_loop_s(),
            "transcript": "distinct hotel reviews (the text workload's runs)",
            "transcript_words_per_s": live_feed.WORDS_PER_S,
            "transcript_words_per_segment_max": live_feed.SEGMENT_WORDS,
            "question_markers_per_loop": len(self.samples.physiology.markers),
        }


def stream_config(
    modalities: Sequence[common_pb2.Modality], fps: float, window_s: float, quality: str
) -> common_pb2.StreamConfig:
    options = common_pb2.Options(
        modalities=list(modalities),
        target_fps=fps,
        window_s=window_s,
        quality=QUALITY[quality],  # type: ignore[arg-type]
        update_latency_target_ms=LATENCY_TARGET_MS,
    )
    return common_pb2.StreamConfig(request_id=uuid.uuid4().hex, options=options)


# --- the services' own view: /proc and /metrics -------------------------------------------


def read_rss_cpu(pid: int) -> tuple[int, float] | None:
    """(resident bytes, CPU seconds so far) of one process, or None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        _, cpu, _ = procs.parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.MULTILINE)
    return (int(match.group(1)) * 1024 if match else 0), cpu


class Sampler:
    """Samples a process's RSS and CPU time every `every_s` while a stream runs."""

    def __init__(self, pid: int | None, every_s: float = 1.0) -> None:
        self.pid = pid
        self.every_s = every_s
        self.rss: list[tuple[float, int]] = []
        self.cpu: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None
        self.began = 0.0

    def start(self, began: float) -> None:
        self.began = began
        if self.pid is not None:
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self.pid is not None
        while True:
            now = time.perf_counter()
            reading = read_rss_cpu(self.pid)
            if reading is not None:
                self.rss.append((now - self.began, reading[0]))
                self.cpu.append((now - self.began, reading[1]))
            await asyncio.sleep(self.every_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def parse_prometheus(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample in a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        try:
            out.append((match.group(1), labels, float(match.group(4))))
        except ValueError:
            continue
    return out


def live_counters(text: str | None) -> dict[str, float]:
    """The live metrics of one service, flattened: windows by quality/outcome, frames
    skipped, streams open, and the update-latency histogram's count and sum."""
    if text is None:
        return {}
    out: dict[str, float] = {}
    for name, labels, value in parse_prometheus(text):
        if name == "veritas_live_windows_total":
            out[f"windows.{labels.get('quality', '?')}.{labels.get('outcome', '?')}"] = value
        elif name == "veritas_live_input_skipped_total":
            out["input_skipped"] = out.get("input_skipped", 0.0) + value
        elif name == "veritas_live_streams_open":
            out["streams_open"] = out.get("streams_open", 0.0) + value
        elif name == "veritas_live_update_latency_seconds_count":
            out["update_latency_count"] = out.get("update_latency_count", 0.0) + value
        elif name == "veritas_live_update_latency_seconds_sum":
            out["update_latency_sum_s"] = out.get("update_latency_sum_s", 0.0) + value
    return out


def counter_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """What changed between two readings (streams_open: the value after, not a change)."""
    out = {k: after[k] - before.get(k, 0.0) for k in after if k != "streams_open"}
    out = {k: v for k, v in out.items() if v}
    if "streams_open" in after:
        out["streams_open_after"] = after["streams_open"]
    return out


def scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return str(r.read().decode())
    except OSError:
        return None


class ServiceMetrics:
    """Before/after readings of the live metrics of some services."""

    def __init__(self, ports: Mapping[str, int]) -> None:
        self.ports = dict(ports)

    def read(self) -> dict[str, dict[str, float]]:
        return {name: live_counters(scrape(port)) for name, port in self.ports.items()}

    async def after(
        self, before: Mapping[str, Mapping[str, float]], wait_closed_s: float = 5.0
    ) -> dict[str, dict[str, float]]:
        """The change since `before`, once every stream is closed (or `wait_closed_s`)."""
        end = time.monotonic() + wait_closed_s
        while True:
            now = await asyncio.to_thread(self.read)
            if all(not v.get("streams_open") for v in now.values()) or time.monotonic() > end:
                return {n: counter_delta(before.get(n, {}), now[n]) for n in now}
            await asyncio.sleep(0.25)


# --- experiments ------------------------------------------------------------------------


async def run_streams(
    channel: LiveChannel,
    feed: Feed,
    count: int,
    seconds: float,
    window_s: float,
    quality: str,
    multimodal: bool = False,
    fps: float = STREAM_FPS,
    sampler: Sampler | None = None,
) -> tuple[list[LiveRecord], dict[str, float]]:
    """`count` streams at once, stream i starting i/count of a window after the first;
    returns their records and the client's own CPU use (cores) meanwhile."""
    modalities: tuple[str, ...] = (
        ("vision", "audio", "text", "physiology") if multimodal else ("vision",)
    )
    wanted: list[common_pb2.Modality] = [] if multimodal else [common_pb2.VISION]
    records = [
        LiveRecord(
            modalities=modalities,
            seconds=seconds,
            window_s=window_s,
            target_ms=LATENCY_TARGET_MS,
            target_fps=fps,
            quality=quality,
        )
        for _ in range(count)
    ]
    began = time.perf_counter() + 0.5  # every stream's config is written before time 0
    cpu_before, wall_before = procs.self_cpu_s(), time.perf_counter()
    if sampler is not None:
        sampler.start(began)
    try:
        await asyncio.gather(
            *(
                channel.run(
                    record,
                    stream_config(wanted, fps, window_s, quality),
                    (feed.multimodal if multimodal else feed.vision)(fps, seconds),
                    start_at=began + i * window_s / count,
                )
                for i, record in enumerate(records)
            )
        )
    finally:
        if sampler is not None:
            await sampler.stop()
    wall = time.perf_counter() - wall_before
    client = {"cpu_s": procs.self_cpu_s() - cpu_before, "wall_s": wall}
    client["cores"] = client["cpu_s"] / wall if wall > 0 else math.nan
    return records, client


async def flat_cost_run(
    channel: LiveChannel,
    feed: Feed,
    plan: LivePlan,
    vision_pid: int | None,
    metrics: ServiceMetrics,
) -> dict[str, Any]:
    before = await asyncio.to_thread(metrics.read)
    sampler = Sampler(vision_pid)
    records, client = await run_streams(
        channel, feed, 1, plan.flat_seconds, plan.window_s, "AUTO", sampler=sampler
    )
    record = records[0]
    out = stream_metrics(record) | flat_cost(record)
    out["memory"] = memory_growth(sampler.rss, plan.flat_seconds)
    out["memory"]["pid"] = vision_pid
    out["memory"]["series"] = [[round(t, 2), b] for t, b in sampler.rss]
    out["vision_cpu_cores_per_quarter"] = cpu_per_quarter(sampler.cpu, plan.flat_seconds)
    out["client"] = client
    out["service_metrics"] = await metrics.after(before)
    return out


async def fps_sweep(channel: LiveChannel, feed: Feed, plan: LivePlan) -> list[dict[str, Any]]:
    out = []
    for fps in plan.fps_targets:
        records, client = await run_streams(
            channel, feed, 1, plan.fps_seconds, plan.window_s, "AUTO", fps=fps
        )
        out.append(stream_metrics(records[0]) | {"client": client})
        await asyncio.sleep(SETTLE_S)
    return out


async def stream_levels(
    channel: LiveChannel, feed: Feed, plan: LivePlan, quality: str, metrics: ServiceMetrics
) -> dict[str, Any]:
    """N concurrent vision streams for each N in the plan until one N does not hold."""
    levels = []
    for n in plan.levels:
        before = await asyncio.to_thread(metrics.read)
        records, client = await run_streams(
            channel, feed, n, plan.level_seconds, plan.window_s, quality
        )
        level = level_summary([stream_metrics(r) for r in records])
        level["client"] = client
        level["service_metrics"] = await metrics.after(before)
        levels.append(level)
        log.info("%d stream(s) at %s: held=%s", n, quality, level["held"])
        await asyncio.sleep(SETTLE_S)
        if not level["held"]:
            break
    return {
        "quality": quality,
        "target_fps": STREAM_FPS,
        "seconds_per_stream": plan.level_seconds,
        "levels_planned": list(plan.levels),
        "max_streams_held": most_held(levels),
        "levels": levels,
    }


async def multimodal_run(
    channel: LiveChannel, feed: Feed, plan: LivePlan, metrics: ServiceMetrics
) -> dict[str, Any]:
    before = await asyncio.to_thread(metrics.read)
    records, client = await run_streams(
        channel,
        feed,
        plan.multimodal_streams,
        plan.multimodal_seconds,
        plan.window_s,
        "AUTO",
        multimodal=True,
    )
    streams = [stream_metrics(r) for r in records]
    return {
        "streams": len(streams),
        "seconds": plan.multimodal_seconds,
        "streams_held": sum(1 for s in streams if s["held"]),
        "held": bool(streams) and all(s["held"] for s in streams),
        "per_stream": streams,
        "client": client,
        "service_metrics": await metrics.after(before),
    }


async def run_all(
    gateway: str,
    samples: Samples,
    plan: LivePlan,
    vision_pid: int | None,
    metrics_ports: Mapping[str, int],
) -> dict[str, Any]:
    """Every experiment; one that fails is recorded with its error and the others run."""
    feed = Feed(samples)
    out: dict[str, Any] = {
        "client_note": "the client runs on the same machine as the mesh and shares its cores",
        "latency_target_ms": LATENCY_TARGET_MS,
        "window_s": plan.window_s,
        "plan": asdict(plan),
    }
    errors: dict[str, str] = {}
    out["feed"] = await asyncio.to_thread(feed.describe)  # encodes the frame pool now
    vision_metrics = ServiceMetrics({k: v for k, v in metrics_ports.items() if k == "vision"})
    all_metrics = ServiceMetrics(
        {k: v for k, v in metrics_ports.items() if k in ("vision", "audio", "text", "physiology")}
    )
    async with LiveChannel(gateway) as channel:
        # Warm-up (not counted): the first stream opens the path through every hop.
        await run_streams(channel, feed, 1, 2 * plan.window_s, plan.window_s, "AUTO")
        steps: list[tuple[str, Any]] = [
            ("flat_cost", lambda: flat_cost_run(channel, feed, plan, vision_pid, vision_metrics)),
            ("fps", lambda: fps_sweep(channel, feed, plan)),
            ("many_auto", lambda: stream_levels(channel, feed, plan, "AUTO", vision_metrics)),
            ("many_high", lambda: stream_levels(channel, feed, plan, "HIGH", vision_metrics)),
            ("multimodal", lambda: multimodal_run(channel, feed, plan, all_metrics)),
        ]
        for name, step in steps:
            log.info("live: %s", name)
            try:
                out[name] = await step()
            except Exception as e:  # noqa: BLE001 - recorded; the other experiments run
                log.exception("live experiment %s failed", name)
                errors[name] = f"{type(e).__name__}: {e}"
                out[name] = {"error": errors[name]}
            await asyncio.sleep(SETTLE_S)
    high = out.get("many_high", {})
    first = (high.get("levels") or [None])[0] if isinstance(high, dict) else None
    out["one_high"] = (
        first["per_stream"][0] | {"from": "the first level of many_high"}
        if first and first.get("streams") == 1
        else {"error": "not measured (many_high did not run one stream)"}
    )
    out["part_errors"] = errors
    return out
