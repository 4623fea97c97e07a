"""The operators' guide's targets, checked against one run's results (pure functions).

Targets: p95 < 200 ms on CPU for one audio + text analysis; > 100 requests/s sustained;
< 2 GB resident per instance (each service process group, Triton included); whole-mesh
start < 30 s; each model loaded in < 10 s. A target whose input was not measured in the run
is reported as not measured (met = None), never as met.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

GB = 1024**3


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def best_clean_rate(levels: Sequence[Mapping[str, Any]]) -> tuple[float | None, int | None]:
    """Highest requests/s over the concurrency levels with no errors and nothing degraded,
    and the concurrency it came from."""
    clean = [
        lv
        for lv in levels
        if not lv.get("error_count") and not lv.get("degraded") and _finite(lv["requests_per_s"])
    ]
    if not clean:
        return None, None
    best = max(clean, key=lambda lv: lv["requests_per_s"])
    return float(best["requests_per_s"]), int(best["concurrency"])


def _target(
    name: str, measured: float | None, limit: float, unit: str, below: bool, basis: str
) -> dict[str, Any]:
    met = None if measured is None else (measured < limit if below else measured > limit)
    return {
        "target": name,
        "limit": limit,
        "comparison": "<" if below else ">",
        "unit": unit,
        "measured": measured,
        "met": met,
        "basis": basis,
    }


def evaluate(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    p95 = results.get("latency", {}).get("audio_text", {}).get("mesh", {}).get("latency", {})
    out.append(
        _target(
            "p95 latency, audio + text, on CPU",
            p95.get("p95_ms") if _finite(p95.get("p95_ms")) else None,
            200.0,
            "ms",
            True,
            "single analyses through the gateway, one at a time",
        )
    )
    for workload, label in (("text", "text only"), ("audio_text", "audio + text")):
        levels = results.get("throughput", {}).get(workload, [])
        rate, concurrency = best_clean_rate(levels)
        basis = (
            f"best concurrency level without errors ({concurrency} in flight)"
            if rate is not None
            else "no concurrency level ran without errors"
            if levels
            else "not measured"
        )
        out.append(_target(f"sustained requests/s, {label}", rate, 100.0, "req/s", False, basis))
    memory = results.get("resources", {}).get("processes", {})
    peaks = {n: g["peak_rss_bytes"] for n, g in memory.items() if _finite(g.get("peak_rss_bytes"))}
    largest = max(peaks, key=lambda n: peaks[n]) if peaks else None
    out.append(
        _target(
            "memory per instance",
            peaks[largest] / GB if largest else None,
            2.0,
            "GB",
            True,
            f"largest peak resident set: {largest}" if largest else "not measured",
        )
    )
    start = results.get("resources", {}).get("cold_start_s")
    out.append(
        _target(
            "mesh cold start",
            start if _finite(start) else None,
            30.0,
            "s",
            True,
            "Triton + six services started until all healthy",
        )
    )
    loads = results.get("resources", {}).get("model_load_s", {})
    slowest = max(loads, key=lambda n: loads[n]) if loads else None
    out.append(
        _target(
            "model load",
            loads[slowest] if slowest else None,
            10.0,
            "s",
            True,
            f"slowest model: {slowest} (Triton log)" if slowest else "not measured",
        )
    )
    return out
