"""The README's performance paragraph, written from one run's JSON so that every number in
it comes from a measurement (never typed by hand).

    python -m benchmarks.headline benchmarks/results/<date>-<machine>-quick.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.report import fmt
from benchmarks.targets import best_clean_rate
from benchmarks.workloads import LABELS

MB = 1024**2


def _latency(r: Mapping[str, Any]) -> str:
    parts = []
    for workload, d in r.get("latency", {}).items():
        if not isinstance(d, Mapping) or "mesh" not in d:
            continue
        m = d["mesh"]["latency"]
        parts.append(
            f"{LABELS.get(workload, workload)} p50 {fmt(m['p50_ms'], 0)} ms / p95 "
            f"{fmt(m['p95_ms'], 0)} ms ({d['mesh']['runs']} runs; {fmt(d['p50_ratio'], 1)}x "
            "the in-process p50)"
        )
    return "; ".join(parts)


def _throughput(r: Mapping[str, Any]) -> str:
    parts = []
    for workload, levels in r.get("throughput", {}).items():
        if not isinstance(levels, list):
            continue
        rate, concurrency = best_clean_rate(levels)
        if rate is not None:
            parts.append(
                f"{LABELS.get(workload, workload)} {fmt(rate, 0)} requests/s "
                f"({concurrency} in flight)"
            )
    return ", ".join(parts)


def _streaming(r: Mapping[str, Any]) -> str:
    s = r.get("streaming", {})
    if not isinstance(s, Mapping) or "flat_cost" not in s:
        return ""
    parts = []
    flat = s["flat_cost"]
    if isinstance(flat, Mapping) and "quarters" in flat:
        v = flat["modalities"]["vision"]
        parts.append(
            f"one {fmt(flat['seconds'] / 60, 0)}-min 30-fps live video stream: p95 update "
            f"latency {fmt(flat['quarters'][0]['update_latency']['p95_ms'], 0)} ms in the first "
            f"quarter, {fmt(flat['quarters'][-1]['update_latency']['p95_ms'], 0)} ms in the last "
            f"({fmt(flat['p95_ratio_last_first'], 2)}x), vision RSS "
            f"{fmt(flat['memory']['growth_pct'], 1)}% from the first to the last minute, "
            f"{v['windows_answered']} of {v['windows_expected']} windows answered"
        )
    for key, quality in (("many_auto", "AUTO"), ("many_high", "HIGH")):
        part = s.get(key)
        if isinstance(part, Mapping) and "levels" in part:
            parts.append(
                f"{part['max_streams_held']} concurrent 30-fps streams held at {quality} quality "
                f"(of {', '.join(str(lv['streams']) for lv in part['levels'])} tried)"
            )
    multi = s.get("multimodal")
    if isinstance(multi, Mapping) and "per_stream" in multi:
        parts.append(
            f"{multi['streams_held']} of {multi['streams']} multimodal streams held "
            f"({fmt(multi['seconds'], 0)} s)"
        )
    return "; ".join(parts)


def _resources(r: Mapping[str, Any]) -> str:
    res = r.get("resources", {})
    processes = res.get("processes") if isinstance(res, Mapping) else None
    if not processes:
        return ""
    name = max(processes, key=lambda n: processes[n]["peak_rss_bytes"])
    loads = res.get("model_load_s", {})
    slowest = max(loads.values()) if loads else None
    return (
        f"largest process group {name} at {fmt(processes[name]['peak_rss_bytes'] / MB, 0)} MB "
        f"peak resident, {fmt(res['total_rss_bytes_end'] / MB, 0)} MB for the whole mesh; "
        f"cold start of the whole mesh {fmt(res['cold_start_s'])} s, slowest model load "
        f"{fmt(slowest)} s"
    )


def headline(results: Mapping[str, Any], summary: str) -> str:
    m = results["machine"]
    targets = results.get("targets", [])
    met = [t["target"] for t in targets if t["met"] is True]
    missed = [t["target"] for t in targets if t["met"] is False]
    sentences = [
        f"Measured on {results['date'][:10]} on `{results['machine_label']}` "
        f"({m['cpu_model'] or 'unknown CPU'}, {m['cores']} cores, no GPU; load average "
        f"{(results.get('load_average_start') or ['n/a'])[0]} at start) with the "
        f"`{results['profile']['name']}` profile, the mesh and the load generator on the same "
        "machine.",
        f"Single analysis through the gateway: {_latency(results)}.",
        f"Best sustained throughput without errors: {_throughput(results)}.",
    ]
    for extra in (_streaming(results), _resources(results)):
        if extra:
            sentences.append(extra[0].upper() + extra[1:] + ".")
    if met or missed:
        sentences.append(
            f"Targets met ({len(met)} of {len(targets)}): {'; '.join(met) or 'none'}. "
            f"Not met: {'; '.join(missed) or 'none'}."
        )
    sentences.append(f"Full summary, method and plots: [{summary}]({summary}).")
    return " ".join(sentences)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a results JSON written by the harness")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    summary = args.results.with_suffix(".md")
    try:
        shown = str(summary.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(summary)
    print(headline(results, shown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
