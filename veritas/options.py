"""The ranges every service applies to `Options`, in one place.

The gateway checks a request's (or a stream config's) options before anything else runs; the
modality services check them again with the same function (a caller may reach them without
the gateway), so a value the gateway accepts is never refused further in.
"""

from __future__ import annotations

import math

from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2

MAX_TARGET_FPS = 60.0  # video sampling: above this, frames differ by less than landmark noise
MAX_WINDOW_S = 3600.0
MAX_LATENCY_TARGET_MS = 60_000.0
MAX_DEADLINE_MS = 3_600_000


def _finite_range(value: float, field: str, high: float, what: str) -> None:
    if not math.isfinite(value) or value < 0 or value > high:
        raise InvalidInput(field, f"must be 0 ({what}) or a number up to {high:g}")


def check_options(options: common_pb2.Options, field: str = "options") -> None:
    """Every option's range; raise InvalidInput naming the field."""
    for i, m in enumerate(options.modalities):
        if m not in common_pb2.Modality.values() or m == common_pb2.MODALITY_UNSPECIFIED:
            raise InvalidInput(f"{field}.modalities[{i}]", f"unknown modality {m}")
    if options.strategy not in common_pb2.FusionStrategy.values():
        raise InvalidInput(f"{field}.strategy", f"unknown fusion strategy {options.strategy}")
    if options.domain not in common_pb2.InputDomain.values():
        raise InvalidInput(f"{field}.domain", f"unknown input domain {options.domain}")
    if options.deadline_ms > MAX_DEADLINE_MS:
        raise InvalidInput(f"{field}.deadline_ms", f"must be at most {MAX_DEADLINE_MS}")
    _finite_range(options.target_fps, f"{field}.target_fps", MAX_TARGET_FPS, "the default")
    _finite_range(options.window_s, f"{field}.window_s", MAX_WINDOW_S, "the default")
    if options.quality not in common_pb2.Quality.values():  # live streams
        raise InvalidInput(f"{field}.quality", f"unknown quality {options.quality}")
    _finite_range(
        options.update_latency_target_ms,
        f"{field}.update_latency_target_ms",
        MAX_LATENCY_TARGET_MS,
        "the default, 150 ms",
    )
