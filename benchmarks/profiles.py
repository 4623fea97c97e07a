"""How much of each workload a run sends: `full` (`make bench`, about 30 min on 2 cores, of
which the live streams take up to about 23, in real time), `quick` (`make bench-quick`, about
9 min, live up to about 7) and `tiny` (the harness test and the smoke run: seconds per
section). docs/performance.md has the measured wall times."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.streaming import LivePlan


@dataclass(frozen=True)
class Profile:
    name: str
    latency_runs: dict[str, int]  # measured analyses per workload (after the warm-up)
    latency_warmup: int
    batch_workloads: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    batch_repeats: int
    batch_min_items: int  # each size is called until at least this many items were sent
    cache_runs: dict[str, int]  # workload -> distinct requests, each sent again for hits
    cache_hits_per_run: int
    stream_fps: tuple[float, ...]
    stream_seconds: float
    stream_window_s: float
    live_flat_seconds: float  # the flat-cost stream (one 30-fps vision stream)
    live_levels: tuple[int, ...]  # concurrent 30-fps vision streams tried, in order
    live_level_seconds: float  # seconds of each of those streams
    live_multimodal_streams: int  # concurrent video + audio + transcript + physiology streams
    live_multimodal_seconds: float
    throughput_levels: dict[str, tuple[int, ...]]  # workload -> concurrency levels
    throughput_seconds: float  # measured seconds per level
    throughput_warmup_s: float
    locust_users: int
    locust_seconds: float  # 0: no HTTP load test
    scaling_rate: float = 120.0  # requests/s the scaling section plans replicas for
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def live_plan(self) -> LivePlan:
        return LivePlan(
            window_s=self.stream_window_s,
            fps_targets=self.stream_fps,
            fps_seconds=self.stream_seconds,
            flat_seconds=self.live_flat_seconds,
            levels=self.live_levels,
            level_seconds=self.live_level_seconds,
            multimodal_streams=self.live_multimodal_streams,
            multimodal_seconds=self.live_multimodal_seconds,
        )


LIVE_LEVELS = (1, 2, 4, 8, 12)
STREAM_FPS = (10.0, 15.0, 30.0, 60.0)
BATCH_SIZES = (1, 4, 8, 16, 32)

PROFILES: dict[str, Profile] = {
    "full": Profile(
        name="full",
        latency_runs={"text": 200, "audio_text": 100, "full": 100},
        latency_warmup=2,
        batch_workloads=("text", "audio_text"),
        batch_sizes=BATCH_SIZES,
        batch_repeats=3,
        batch_min_items=128,
        cache_runs={"text": 100, "audio_text": 100},
        cache_hits_per_run=3,
        stream_fps=STREAM_FPS,
        stream_seconds=6.0,
        stream_window_s=1.0,
        live_flat_seconds=600.0,
        live_levels=LIVE_LEVELS,
        live_level_seconds=60.0,
        live_multimodal_streams=4,
        live_multimodal_seconds=120.0,
        throughput_levels={"text": (1, 2, 4, 8, 16, 32), "audio_text": (1, 2, 4, 8, 16)},
        throughput_seconds=15.0,
        throughput_warmup_s=1.0,
        locust_users=16,
        locust_seconds=60.0,
    ),
    "quick": Profile(
        name="quick",
        latency_runs={"text": 20, "audio_text": 10, "full": 3},
        latency_warmup=1,
        batch_workloads=("text", "audio_text"),
        batch_sizes=BATCH_SIZES,
        batch_repeats=1,
        batch_min_items=16,
        cache_runs={"text": 20, "audio_text": 10},
        cache_hits_per_run=3,
        stream_fps=STREAM_FPS,
        stream_seconds=3.0,
        stream_window_s=1.0,
        live_flat_seconds=120.0,
        live_levels=LIVE_LEVELS,
        live_level_seconds=20.0,
        live_multimodal_streams=4,
        live_multimodal_seconds=60.0,
        throughput_levels={"text": (1, 4, 16), "audio_text": (1, 4, 8)},
        throughput_seconds=3.0,
        throughput_warmup_s=0.5,
        locust_users=8,
        locust_seconds=10.0,
        notes=(
            "quick profile: indicative only, few runs per number (percentiles from 3-20 "
            "runs); `make bench` (at least 100 runs per latency percentile) is the record",
        ),
    ),
    "tiny": Profile(
        name="tiny",
        latency_runs={"text": 2, "audio_text": 1, "full": 1},
        latency_warmup=0,
        batch_workloads=("text", "audio_text"),
        batch_sizes=(1, 2),
        batch_repeats=1,
        batch_min_items=0,
        cache_runs={"text": 2},
        cache_hits_per_run=2,
        stream_fps=(10.0,),
        stream_seconds=1.0,
        stream_window_s=0.5,
        live_flat_seconds=4.0,
        live_levels=(1, 2),
        live_level_seconds=3.0,
        live_multimodal_streams=2,
        live_multimodal_seconds=3.0,
        throughput_levels={"text": (1, 2), "audio_text": (1,)},
        throughput_seconds=1.0,
        throughput_warmup_s=0.2,
        locust_users=2,
        locust_seconds=3.0,
        notes=("tiny profile: proves the harness runs; its numbers mean nothing",),
    ),
}
