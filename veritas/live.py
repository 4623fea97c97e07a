"""Live streams in a modality service: pacing, quality control and per-stream metrics.

The servicer (veritas.modality_service) receives a stream's chunks on one task and
analyses them on another, so a slow analysis never stalls the transport. Between the two
sits a bounded queue: input that arrives faster than it can be analysed is skipped evenly
(video frames; `Pacer`), never buffered without bound, and a client that overruns even that
gets RESOURCE_EXHAUSTED. A `QualityController` per stream steps the analysis quality down
when updates come late and back up when there is room, with hysteresis so it does not
oscillate.
"""

from __future__ import annotations

import math
import os
import time

from prometheus_client import Counter, Gauge, Histogram

from veritas.v1 import common_pb2

LOW, MEDIUM, HIGH = (
    int(common_pb2.QUALITY_LOW),
    int(common_pb2.QUALITY_MEDIUM),
    int(common_pb2.QUALITY_HIGH),
)
LEVELS = (LOW, MEDIUM, HIGH)
DEFAULT_TARGET_MS = 150.0  # update latency after a window closes (the operators' target)

STREAMS_OPEN = Gauge("veritas_live_streams_open", "Live streams in progress", ["service"])
WINDOWS = Counter(
    "veritas_live_windows",
    "Live windows answered, by the quality they were made at and whether on time",
    ["service", "quality", "outcome"],  # outcome: on_time | late | skipped
)
SKIPPED = Counter(
    "veritas_live_input_skipped",
    "Live chunks (video frames) skipped evenly to keep up",
    ["service"],
)
UPDATE_LATENCY = Histogram(
    "veritas_live_update_latency_seconds",
    "From the moment a live window closed (its next chunk arrived) to its update being sent",
    ["service"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2, 5, 10, 30),
)


_NAMES: dict[int, str] = {LOW: "low", MEDIUM: "medium", HIGH: "high"}


def quality_name(level: int) -> str:
    return _NAMES.get(level, "auto")


def target_s(options: common_pb2.Options) -> float:
    """The stream's update-latency target in seconds (validated by the caller)."""
    return (options.update_latency_target_ms or DEFAULT_TARGET_MS) / 1000


class QualityController:
    """Per-stream quality: AUTO steps between LOW, MEDIUM and HIGH; a pinned level stays.

    After each window it is told how late the update was (window close to update sent) and
    how far analysis lags behind arrival. One late window steps down at once (falling behind
    compounds); stepping up needs `up_after` windows in a row well inside the target (under
    half of it) with the process's CPU not saturated, and each step down after a step up
    doubles that requirement, so a level that cannot be held is not retried every few
    windows (no oscillation).
    """

    def __init__(self, pinned: int, target_s: float, up_after: int = 3, max_up_after: int = 120):
        self.auto = pinned not in LEVELS
        self.level = HIGH if self.auto else pinned
        self.target_s = target_s
        self.base_up_after = up_after
        self.up_after = up_after
        self.max_up_after = max_up_after
        self.calm = 0  # windows in a row well inside the target
        self.stepped_up = False  # the last change was a step up

    def observe(self, latency_s: float, lag_s: float = 0.0, cpu_busy: float = 0.0) -> int:
        """Record one window; return the level to analyse at from now on."""
        if not self.auto:
            return self.level
        late = latency_s > self.target_s or lag_s > self.target_s
        if late:
            self.calm = 0
            if self.level != LOW:
                if self.stepped_up:  # the level we just tried cannot be held: wait longer
                    self.up_after = min(self.up_after * 2, self.max_up_after)
                self._set(LEVELS[LEVELS.index(self.level) - 1], up=False)
            return self.level
        if latency_s < self.target_s / 2 and lag_s < self.target_s / 2 and cpu_busy < 0.9:
            self.calm += 1
        else:
            self.calm = 0
        if self.level != HIGH and self.calm >= self.up_after:
            self._set(LEVELS[LEVELS.index(self.level) + 1], up=True)
        elif self.stepped_up and self.calm >= self.up_after:
            self.stepped_up = False  # the new level held: forgive earlier failures slowly
            self.up_after = max(self.base_up_after, self.up_after // 2)
        return self.level

    def _set(self, level: int, up: bool) -> None:
        self.level = level
        self.calm = 0
        self.stepped_up = up


class Pacer:
    """Chooses which chunks of a thinnable kind (video frames) to analyse: evenly spaced at
    the quality's rate, and sparser still while analysis lags behind arrival."""

    def __init__(self) -> None:
        self.next_t = -math.inf

    def take(self, t_s: float, rate_hz: float, lag_s: float, window_s: float) -> bool:
        if rate_hz <= 0:
            return True
        step = 1.0 / rate_hz
        if lag_s > window_s:  # behind by more than a window: halve the rate per window behind
            step *= 2 ** min(6, int(lag_s / window_s))
        if t_s + 1e-6 < self.next_t:
            return False
        # Keep the grid (even spacing) unless we fell far behind it.
        self.next_t = self.next_t + step if t_s - self.next_t < step else t_s + step
        return True


class CpuMeter:
    """This process's CPU use as a share of the machine's cores, over the last readings."""

    def __init__(self) -> None:
        self.cores = os.cpu_count() or 1
        self._last = (time.monotonic(), time.process_time())
        self._share = 0.0

    def busy(self) -> float:
        now, cpu = time.monotonic(), time.process_time()
        wall = now - self._last[0]
        if wall >= 0.2:  # shorter spans say little
            self._share = (cpu - self._last[1]) / wall / self.cores
            self._last = (now, cpu)
        return self._share
