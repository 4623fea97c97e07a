"""The operators' guide's targets, checked against one run's results (pure functions).

Targets: p95 < 200 ms on CPU for one audio + text analysis; > 100 requests/s sustained;
< 2 GB resident per instance (each service process group, Triton included); whole-mesh
start < 30 s; each model loaded in < 10 s. Live analysis (issue 11): a 30-fps vision
stream's p95 update latency in its last quarter at most 1.2x its first; the vision service's
RSS up by at most 5% from the first to the last minute of that stream; every one of its
windows answered; at least 8 concurrent 30-fps streams held with AUTO quality; one stream at
HIGH with p95 update latency <= 150 ms; 4 concurrent multimodal streams held. The mesh's
cost (issue 13), each in the same run on the same machine: text only, mesh p50 minus
in-process p50 <= 4 ms and >= 250 requests/s with p99 <= 50 ms at some concurrency; audio +
text p50 ratio <= 1.15; AnalyzeBatch items/s at the largest batch >= 3x batch 1 for text
only and >= 1.6x for audio + text; result cache hit p50 <= 2 ms through the gateway; cold
start to all healthy <= 5 s with every model loaded once. A target whose input was not
measured in the run is reported as not measured (met = None), never as met.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

GB = 1024**3


def _finite(value: Any) -> TypeGuard[int | float]:
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


COMPARE = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _target(
    name: str,
    measured: float | None,
    limit: float,
    unit: str,
    below: bool | str,
    basis: str,
) -> dict[str, Any]:
    """One target; `below` is True (<), False (>) or a comparison from COMPARE."""
    comparison = below if isinstance(below, str) else "<" if below else ">"
    met = None if measured is None else COMPARE[comparison](measured, limit)
    return {
        "target": name,
        "limit": limit,
        "comparison": comparison,
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
    return out + mesh_cost(results) + live(results.get("streaming", {}))


def best_rate_within(
    levels: Sequence[Mapping[str, Any]], p99_ms: float
) -> tuple[float | None, int | None]:
    """Highest requests/s over clean levels whose p99 latency is at most `p99_ms`."""
    fast = [
        lv
        for lv in levels
        if _finite(lv.get("latency", {}).get("p99_ms")) and lv["latency"]["p99_ms"] <= p99_ms
    ]
    return best_clean_rate(fast)


def batch_gain(sizes: Sequence[Mapping[str, Any]]) -> tuple[float | None, int | None]:
    """items/s at the largest batch size / items/s at batch 1, and that size."""
    by_size = {s["batch_size"]: s for s in sizes if _finite(s.get("items_per_s"))}
    if 1 not in by_size or len(by_size) < 2 or not by_size[1]["items_per_s"]:
        return None, None
    largest = max(by_size)
    return by_size[largest]["items_per_s"] / by_size[1]["items_per_s"], largest


def _floor_note(floor: Mapping[str, Any]) -> str:
    """The same hops doing nothing, measured in the same run (benchmarks.floor)."""
    value = floor.get("overhead_p50_ms")
    return f"; the bare hops' floor: {value:.2f} ms" if _finite(value) else ""


def _floor_rate_note(floor: Mapping[str, Any]) -> str:
    """What the bare hops carried with p99 <= 50 ms in the same run (benchmarks.floor)."""
    rate = best_rate_within(floor.get("throughput", []), 50.0)[0]
    return f"; the bare hops' best: {rate:.0f} req/s" if rate is not None else ""


def mesh_cost(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Issue 13's targets: what the mesh costs beyond the analysis itself."""
    out = []
    text = results.get("latency", {}).get("text", {})
    mesh_p50 = text.get("mesh", {}).get("latency", {}).get("p50_ms")
    local_p50 = text.get("in_process", {}).get("latency", {}).get("p50_ms")
    gap = mesh_p50 - local_p50 if _finite(mesh_p50) and _finite(local_p50) else None
    out.append(
        _target(
            "text only: mesh p50 minus in-process p50",
            gap,
            4.0,
            "ms",
            "<=",
            f"distinct reviews, {text.get('mesh', {}).get('runs')} runs each side"
            + _floor_note(text.get("floor", {}))
            if gap is not None
            else "not measured",
        )
    )
    levels = results.get("throughput", {}).get("text", [])
    rate, concurrency = best_rate_within(levels if isinstance(levels, list) else [], 50.0)
    out.append(
        _target(
            "text only: requests/s with p99 <= 50 ms",
            rate,
            250.0,
            "req/s",
            ">=",
            f"best clean level with p99 <= 50 ms ({concurrency} in flight)"
            + _floor_rate_note(text.get("floor", {}))
            if rate is not None
            else "no clean level with p99 <= 50 ms"
            if levels
            else "not measured",
        )
    )
    ratio = results.get("latency", {}).get("audio_text", {}).get("p50_ratio")
    out.append(
        _target(
            "audio + text: p50 mesh / in-process",
            ratio if _finite(ratio) else None,
            1.15,
            "x",
            "<=",
            "distinct audio and reviews" if _finite(ratio) else "not measured",
        )
    )
    batch = results.get("batch", {})
    by_workload = batch.get("by_workload", {}) if isinstance(batch, Mapping) else {}
    for workload, label, limit in (("text", "text only", 3.0), ("audio_text", "audio + text", 1.6)):
        gain, size = batch_gain(by_workload.get(workload, []))
        out.append(
            _target(
                f"AnalyzeBatch items/s, largest batch / batch 1, {label}",
                gain,
                limit,
                "x",
                ">=",
                f"batch {size} vs batch 1" if gain is not None else "not measured",
            )
        )
    cache = results.get("cache", {})
    hit = cache.get("text", {}).get("hit", {}) if isinstance(cache, Mapping) else {}
    hit_p50 = hit.get("p50_ms") if _finite(hit.get("p50_ms")) else None
    out.append(
        _target(
            "result cache hit p50 through the gateway",
            hit_p50,
            2.0,
            "ms",
            "<=",
            f"text only, {hit.get('n')} hits" if hit_p50 is not None else "not measured",
        )
    )
    resources = results.get("resources", {})
    start = resources.get("cold_start_s") if isinstance(resources, Mapping) else None
    loads = resources.get("model_loads_at_start", {}) if isinstance(resources, Mapping) else {}
    once = bool(loads) and all(n == 1 for n in loads.values())
    target = _target(
        "cold start to all healthy, every model loaded once",
        start if _finite(start) else None,
        5.0,
        "s",
        "<=",
        (
            "every model loaded once"
            if once
            else "models loaded more than once: "
            + ", ".join(f"{m} x{n}" for m, n in loads.items() if n != 1)
        )
        if _finite(start)
        else "not measured",
    )
    if target["met"] and not once:
        target["met"] = False
    out.append(target)
    return out


def _part(section: Any, name: str) -> Mapping[str, Any]:
    part = section.get(name) if isinstance(section, Mapping) else None
    # A failed experiment is {"error": ...}; a stream's metrics carry "error": None.
    return part if isinstance(part, Mapping) and not part.get("error") else {}


def live(streaming: Any) -> list[dict[str, Any]]:
    """The live-analysis targets from the streaming section (see benchmarks/streaming.py)."""
    out = []
    flat = _part(streaming, "flat_cost")
    seconds = flat.get("seconds")
    length = (
        f"{seconds / 60:g} min" if _finite(seconds) and seconds >= 60 else f"{seconds} s"
    ) + " 30-fps vision stream"
    ratio = flat.get("p95_ratio_last_first")
    out.append(
        _target(
            "live flat cost: p95 update latency, last / first quarter",
            ratio if _finite(ratio) else None,
            1.2,
            "x",
            "<=",
            f"one {length}, AUTO quality, in-stream windows" if flat else "not measured",
        )
    )
    growth = flat.get("memory", {}).get("growth_pct")
    span = flat.get("memory", {}).get("span_s")
    out.append(
        _target(
            "live memory growth, vision service",
            growth if _finite(growth) else None,
            5.0,
            "%",
            "<=",
            f"mean RSS, first vs last {span:g} s of the same stream"
            if _finite(growth) and _finite(span)
            else "not measured",
        )
    )
    vision = flat.get("modalities", {}).get("vision", {})
    missing = None
    if _finite(vision.get("windows_missing")) and _finite(seconds) and vision.get("window_s"):
        # A stream cut short spans fewer windows than planned: those are missing too.
        planned = math.ceil(seconds / vision["window_s"] - 1e-6)
        missing = float(max(vision["windows_missing"], planned - vision["windows_answered"]))
    out.append(
        _target(
            "live windows answered, long stream",
            missing,
            0.0,
            "missing windows",
            "<=",
            f"{vision.get('windows_answered')} of {vision.get('windows_expected')} windows "
            "answered (the same stream)"
            if missing is not None
            else "not measured",
        )
    )
    many = _part(streaming, "many_auto")
    held = many.get("max_streams_held")
    tried = [lv["streams"] for lv in many.get("levels", [])]
    out.append(
        _target(
            "live concurrent 30-fps streams held, AUTO quality",
            float(held) if _finite(held) else None,
            8.0,
            "streams",
            ">=",
            f"levels tried {', '.join(map(str, tried))}; held: sent >= 95%, every window "
            "answered, p95 <= 150 ms"
            if tried
            else "not measured",
        )
    )
    one = _part(streaming, "one_high")
    p95 = one.get("modalities", {}).get("vision", {}).get("update_latency", {}).get("p95_ms")
    out.append(
        _target(
            "live one stream at HIGH: p95 update latency",
            p95 if _finite(p95) else None,
            150.0,
            "ms",
            "<=",
            f"one {one.get('seconds'):g} s 30-fps vision stream, pinned HIGH"
            if _finite(p95) and _finite(one.get("seconds"))
            else "not measured",
        )
    )
    multi = _part(streaming, "multimodal")
    count = multi.get("streams_held")
    out.append(
        _target(
            "live multimodal streams held",
            float(count) if _finite(count) else None,
            4.0,
            "streams",
            ">=",
            f"{multi.get('streams')} concurrent streams of {multi.get('seconds'):g} s: video "
            "30 fps + 16 kHz audio + transcript + physiology"
            if _finite(count) and _finite(multi.get("seconds"))
            else "not measured",
        )
    )
    return out
