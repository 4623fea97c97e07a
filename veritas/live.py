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
from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Cpu:
    """Shares of the machine's cores in use: by this process, and by everything."""

    process: float = 0.0
    machine: float = 0.0


def machine_jiffies(stat: str = "/proc/stat") -> tuple[int, int] | None:
    """(busy, total) CPU time of the whole machine so far, or None where it cannot be read."""
    try:
        with open(stat, encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = sum(fields[3:5])  # idle, iowait
    return sum(fields) - idle, sum(fields)


IDLE = Cpu()


# What each level costs relative to the others, where a session does not say (its rate).
DEFAULT_COST: dict[int, float] = {LOW: 1.0, MEDIUM: 2.0, HIGH: 4.0}
CPU_ROOM = 0.8  # a step up must leave the machine's CPU share under this


class Climbs:
    """The step ups of one process's streams, one at a time: after one stream steps up,
    the others hold for about two windows each (counted in windows observed by any stream)
    to see what it cost. Without it, eight streams that each see room step up together and
    overshoot."""

    def __init__(self, windows_per_stream: int = 2) -> None:
        self.windows_per_stream = windows_per_stream
        self.hold = 0

    def tick(self) -> None:
        self.hold = max(0, self.hold - 1)

    @property
    def free(self) -> bool:
        return self.hold == 0

    def took(self, streams: int) -> None:
        self.hold = self.windows_per_stream * max(streams, 1)


class QualityController:
    """Per-stream quality: AUTO steps between LOW, MEDIUM and HIGH; a pinned level stays.

    AUTO starts at MEDIUM: HIGH is earned. After each window it is told how late the update
    was (window close to update sent), how far analysis lags behind arrival, the CPU use
    (`CpuMeter`) and how many streams share the process. One late window steps down at once
    (falling behind compounds). A step up needs `up_after` windows in a row well inside the
    target (under half of it) with the machine's CPU not saturated, and room for it: this
    stream's part of the process's CPU (process / streams), grown by the next level's cost
    (`cost`: the session's frame rate per level, say), must leave the machine under
    CPU_ROOM; and no other stream of the process may have stepped up in the last windows
    (`Climbs`). So eight streams on two cores do not each try a level the machine cannot
    give them. Each step down after a step
    up (the starting level counts as one) doubles `up_after`, so a level that cannot be held
    is not retried every few windows (no oscillation).
    """

    def __init__(
        self,
        pinned: int,
        target_s: float,
        up_after: int = 3,
        max_up_after: int = 120,
        cost: Callable[[int], float] | None = None,
        climbs: Climbs | None = None,
    ) -> None:
        self.auto = pinned not in LEVELS
        self.climbs = climbs or Climbs()  # shared by the streams of a process
        self.level = MEDIUM if self.auto else pinned
        self.target_s = target_s
        self.base_up_after = up_after
        self.up_after = up_after
        self.max_up_after = max_up_after
        self.cost = cost or DEFAULT_COST.__getitem__
        self.calm = 0  # windows in a row well inside the target
        self.stepped_up = self.auto  # the last change was a step up (the start: a guess)

    def observe(
        self, latency_s: float, lag_s: float = 0.0, cpu: Cpu = IDLE, streams: int = 1
    ) -> int:
        """Record one window; return the level to analyse at from now on."""
        if not self.auto:
            return self.level
        self.climbs.tick()
        late = latency_s > self.target_s or lag_s > self.target_s
        if late:
            self.calm = 0
            if self.level != LOW:
                if self.stepped_up:  # the level we just tried cannot be held: wait longer
                    self.up_after = min(self.up_after * 2, self.max_up_after)
                self._set(LEVELS[LEVELS.index(self.level) - 1], up=False)
            return self.level
        if latency_s < self.target_s / 2 and lag_s < self.target_s / 2 and cpu.machine < 0.9:
            self.calm += 1
        else:
            self.calm = 0
        if self.level != HIGH and self.calm >= self.up_after:
            if self.climbs.free and self.room(cpu, streams):
                self._set(LEVELS[LEVELS.index(self.level) + 1], up=True)
                self.climbs.took(streams)
        elif self.stepped_up and self.calm >= self.up_after:
            self.stepped_up = False  # the new level held: forgive earlier failures slowly
            self.up_after = max(self.base_up_after, self.up_after // 2)
        return self.level

    def room(self, cpu: Cpu, streams: int) -> bool:
        """Whether the next level up is predicted to leave the machine under CPU_ROOM: this
        stream's part of the process's CPU grows by the next level's cost ratio."""
        now = self.cost(self.level)
        ratio = self.cost(LEVELS[LEVELS.index(self.level) + 1]) / now if now > 0 else math.inf
        return cpu.machine + cpu.process / max(streams, 1) * (ratio - 1) < CPU_ROOM

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
    """This process's and the machine's CPU use, as shares of its cores, over the last
    readings. The machine's share counts the neighbours a stream's step up competes with
    (locally the gateway and fusion forward every frame; on a shared node, other pods: a
    cautious reading). Without /proc/stat it is the process's share."""

    def __init__(self, stat: str = "/proc/stat") -> None:
        self.cores = os.cpu_count() or 1
        self.stat = stat
        self._last = (time.monotonic(), time.process_time(), machine_jiffies(stat))
        self._cpu = Cpu()

    def read(self) -> Cpu:
        now, cpu = time.monotonic(), time.process_time()
        wall = now - self._last[0]
        if wall >= 0.2:  # shorter spans say little (and /proc/stat is read no more often)
            jiffies = machine_jiffies(self.stat)
            process = (cpu - self._last[1]) / wall / self.cores
            machine = process
            before = self._last[2]
            if jiffies is not None and before is not None and jiffies[1] > before[1]:
                machine = max(process, (jiffies[0] - before[0]) / (jiffies[1] - before[1]))
            self._cpu = Cpu(process, min(machine, 1.0))
            self._last = (now, cpu, jiffies)
        return self._cpu
