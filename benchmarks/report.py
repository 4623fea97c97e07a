"""The Markdown summary of one run, written beside its JSON (pure: results in, text out)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from benchmarks.workloads import LABELS

GB = 1024**3
MB = 1024**2
NA = "n/a"


def fmt(value: Any, digits: int = 1) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return NA if value is None else str(value)


def size(n: float) -> str:
    return f"{n / 1024:,.0f} KiB" if n >= 10 * 1024 else f"{n:,.0f} B"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _failed(section: Any) -> str | None:
    if isinstance(section, Mapping) and "error" in section:
        return f"Not measured: the section failed ({section['error']})."
    if isinstance(section, Mapping) and "skipped" in section:
        return f"Not measured: {section['skipped']}."
    return None


def _header(r: Mapping[str, Any]) -> list[str]:
    m = r["machine"]
    git = r.get("git", {})
    commit = (git.get("commit") or "unknown")[:12] + (
        " (uncommitted changes)" if git.get("dirty") else ""
    )
    lines = [
        f"# Veritas benchmarks: {r['date'][:10]} on {r['machine_label']}",
        "",
        f"- Profile: `{r['profile']['name']}`; wall time {fmt(r.get('wall_s'), 0)} s; "
        f"commit {commit}",
        f"- Machine: {m['cpu_model'] or 'unknown CPU'}, {m['cores']} cores "
        f"({m['cores_usable']} usable), {fmt(m['memory_bytes'] / GB)} GB memory, "
        f"Linux {m['kernel']}, Python {m['python']}; no GPU used (Triton on CPU)",
        f"- Load average (1, 5, 15 min) at start {r.get('load_average_start')}, "
        f"at end {r.get('load_average_end')}: the mesh, the load generator and anything else "
        "on the machine share these cores",
        "- Each number below states how many runs (calls, streams, seconds) it comes from.",
    ]
    lines += [f"- {note}" for note in r["profile"].get("notes", [])]
    return lines + [""]


def _targets(r: Mapping[str, Any]) -> list[str]:
    rows = []
    for t in r.get("targets", []):
        met = {True: "**met**", False: "**not met**", None: "not measured"}[t["met"]]
        limit = f"{t['comparison']} {fmt(float(t['limit']), 0)} {t['unit']}"
        rows.append([t["target"], limit, f"{fmt(t['measured'], 2)} {t['unit']}", met, t["basis"]])
    return ["## Targets", ""] + table(["target", "goal", "measured", "", "basis"], rows)


def _workloads(r: Mapping[str, Any]) -> list[str]:
    w = r.get("workloads", {})
    if _failed(w):
        return ["## Workloads", "", _failed(w) or "", ""]
    a, v, t, p = w["audio"], w["video"], w["transcript"], w["physiology"]
    channels = ", ".join(f"{c['name']} {fmt(c['sampling_rate_hz'], 0)} Hz" for c in p["channels"])
    duration = max((c["duration_s"] for c in p["channels"]), default=0.0)
    lines = [
        "## Workloads",
        "",
        f"- text only: `samples/{t['file']}`, {t['words']} words ({t['characters']} characters)",
        f"- audio + text: `samples/{a['file']}` ({fmt(a['duration_s'])} s, "
        f"{a['sample_rate_hz']} Hz, {a['channels']} channel(s), {size(a['bytes'])} "
        "WAV) + the transcript",
        f"- full multimodal: `samples/{v['file']}` ({fmt(v['duration_s'])} s, {fmt(v['fps'], 0)} "
        f"fps, {v['width']}x{v['height']}, {size(v['bytes'])} MP4; analysed at the "
        "vision service's default sampling rate) + the audio + the transcript + "
        f"`samples/{p['file']}` ({fmt(duration)} s: {channels})",
        f"- live: frames of `samples/{v['file']}` re-encoded as JPEG (quality "
        f"{w['live_frames']['jpeg_quality']}), looped, sent in real time",
        "- request sizes: "
        + ", ".join(f"{LABELS.get(k, k)} {size(x['bytes'])}" for k, x in w["requests"].items()),
        "",
    ]
    return lines


def _latency(r: Mapping[str, Any]) -> list[str]:
    data = r.get("latency", {})
    lines = ["## Single analysis latency", ""]
    if _failed(data):
        return lines + [_failed(data) or "", ""]
    lines += [
        "One request at a time through the gateway (gRPC), after a warm-up, and the same "
        "analysis in-process (each modality's analyzer and its ONNX model called directly, "
        "modalities one after another: no gRPC, no Triton, no fusion). Ratio = mesh / "
        "in-process. CPU s/request: CPU time of every mesh process over the runs / runs.",
        "",
    ]
    rows = []
    for workload, d in data.items():
        mesh, local = d["mesh"]["latency"], d["in_process"]["latency"]
        rows.append(
            [
                LABELS.get(workload, workload),
                d["mesh"]["runs"],
                " / ".join(fmt(mesh[f"{q}_ms"]) for q in ("p50", "p95", "p99")),
                " / ".join(fmt(local[f"{q}_ms"]) for q in ("p50", "p95", "p99")),
                f"{fmt(d.get('p50_ratio'), 2)} / {fmt(d.get('p95_ratio'), 2)}",
                fmt(d["mesh"]["cpu_s_per_request_total"], 3),
                fmt(d["in_process"]["cpu_s_per_request"], 3),
                ", ".join(f"{k} {v}" for k, v in d["mesh"]["outcomes"].items()),
            ]
        )
    lines += table(
        [
            "workload",
            "runs (each side)",
            "mesh p50 / p95 / p99 ms",
            "in-process p50 / p95 / p99 ms",
            "ratio p50 / p95",
            "mesh CPU s/request",
            "in-process CPU s/request",
            "mesh outcomes",
        ],
        rows,
    )
    lines += [_agreement(data), ""]
    services = sorted({s for d in data.values() for s in d["mesh"]["cpu_s_per_request"]})
    lines += ["CPU seconds per request, by process group:", ""]
    lines += table(
        ["workload", *services],
        [
            [LABELS.get(w, w), *(fmt(d["mesh"]["cpu_s_per_request"].get(s), 4) for s in services)]
            for w, d in data.items()
        ],
    )
    return lines


def _agreement(data: Mapping[str, Any]) -> str:
    """Whether both sides computed the same thing: each modality's final score compared."""
    diffs, unscored = [], []
    for workload, d in data.items():
        for modality, s in d.get("scores", {}).items():
            if s["abs_diff"] is None:
                unscored.append(f"{modality} ({LABELS.get(workload, workload)})")
            else:
                diffs.append(s["abs_diff"])
    text = (
        f"Same analysis on both sides: each modality's final score, mesh vs in-process, "
        f"differs by at most {max(diffs):.2g} over {len(diffs)} comparisons"
        if diffs
        else "Same analysis on both sides: no score could be compared"
    )
    if unscored:
        text += f"; not comparable (no score on one side): {', '.join(unscored)}"
    return text + "."


def _batch(r: Mapping[str, Any]) -> list[str]:
    data = r.get("batch", {})
    lines = ["## Batch analysis", ""]
    if _failed(data):
        return lines + [_failed(data) or "", ""]
    lines += [f"AnalyzeBatch of N copies of the {LABELS.get(data['workload'])} request.", ""]
    rows = [
        [
            s["batch_size"],
            s["repeats"],
            fmt(s["latency"]["p50_ms"]),
            fmt(s["latency"]["max_ms"]),
            fmt(s["items_per_s"]),
            s["item_errors"],
        ]
        for s in data["sizes"]
    ]
    return lines + table(
        ["batch size", "calls", "latency p50 ms", "latency max ms", "items/s", "item errors"], rows
    )


def _streaming(r: Mapping[str, Any]) -> list[str]:
    data = r.get("streaming", {})
    lines = ["## Streaming (AnalyzeStream, video frames)", ""]
    if _failed(data):
        return lines + [_failed(data) or "", ""]
    lines += [
        f"One stream per target rate, {fmt(data['seconds_per_stream'])} s of frames each, "
        f"window {fmt(data['fps'][0]['window_s'])} s. Update latency: from the frame that "
        "closes a window to the update about it. Analysed frames/s: frames / (first frame to "
        "final result). Held: sent >= 95% of target and p95 update latency <= one window.",
        "",
    ]
    rows = [
        [
            fmt(s["target_fps"], 0),
            s["frames_sent"],
            fmt(s["sent_fps"]),
            fmt(s["analysed_fps"]),
            s["updates"],
            f"{fmt(s['update_latency']['p50_ms'], 0)} / {fmt(s['update_latency']['p95_ms'], 0)}",
            fmt(s["final_after_end_ms"], 0),
            fmt(s["held"]) + (f" ({s['error']})" if s["error"] else ""),
        ]
        for s in data["fps"]
    ]
    lines += table(
        [
            "target fps",
            "frames",
            "sent fps",
            "analysed fps",
            "updates",
            "update latency p50 / p95 ms",
            "final after input ended ms",
            "held",
        ],
        rows,
    )
    c = data["concurrent"]
    lines += [
        f"Concurrent streams at {fmt(c['target_fps'], 0)} fps: **{c['max_streams_held']}** "
        "held (0: not even one).",
        "",
    ]
    lines += table(
        ["streams", "held", "min analysed fps", "max p95 update latency ms", "errors"],
        [
            [
                lv["streams"],
                fmt(lv["held"]),
                fmt(lv["analysed_fps_min"]),
                fmt(lv["update_latency_p95_ms_max"], 0),
                lv["errors"],
            ]
            for lv in c["levels"]
        ],
    )
    return lines


def _throughput(r: Mapping[str, Any]) -> list[str]:
    data = r.get("throughput", {})
    lines = ["## Throughput (grpc.aio load generator)", ""]
    if _failed(data):
        return lines + [_failed(data) or "", ""]
    seconds = r["profile"]["throughput_seconds"]
    lines += [
        f"Closed loop: N requests in flight, each sent as soon as the last answered; "
        f"{fmt(seconds)} s measured per level after a warm-up. Degraded: an answer in which a "
        "requested modality did not finish OK.",
        "",
    ]
    for workload, levels in data.items():
        lines += [f"**{LABELS.get(workload, workload)}**", ""]
        lines += table(
            [
                "in flight",
                "requests/s",
                "p50 ms",
                "p99 ms",
                "answered",
                "degraded",
                "errors",
                "load generator CPU (cores)",
            ],
            [
                [
                    lv["concurrency"],
                    fmt(lv["requests_per_s"]),
                    fmt(lv["latency"]["p50_ms"]),
                    fmt(lv["latency"]["p99_ms"]),
                    lv["latency"]["n"],
                    lv["degraded"],
                    lv["error_count"]
                    if not lv["errors"]
                    else ", ".join(f"{k} {v}" for k, v in lv["errors"].items()),
                    fmt(lv.get("client_cpu_cores"), 2),
                ]
                for lv in levels
            ],
        )
    return lines


def _http(r: Mapping[str, Any]) -> list[str]:
    data = r.get("http_load", {})
    lines = ["## HTTP load (locust)", ""]
    if _failed(data):
        return lines + [_failed(data) or "", ""]
    lines += [
        f"{data['users']} locust users, no wait between requests, {fmt(data['duration_s'], 0)} s "
        "(benchmarks/locustfile.py).",
        "",
    ]
    rows = [
        [
            e["name"],
            e["requests"],
            e["failures"],
            fmt(e["requests_per_s"]),
            fmt(e["p50_ms"], 0),
            fmt(e["p95_ms"], 0),
            fmt(e["p99_ms"], 0),
        ]
        for e in [*data["endpoints"], *([data["total"]] if data.get("total") else [])]
    ]
    return lines + table(
        ["endpoint", "requests", "failures", "requests/s", "p50 ms", "p95 ms", "p99 ms"], rows
    )


def _reloads(data: Mapping[str, Any]) -> str:
    at_start = data.get("model_loads_at_start") or {}
    twice = sorted(name for name, n in at_start.items() if n > 1)
    lines = []
    if twice:
        lines.append(
            f"- Loaded more than once while the mesh started (Triton reloaded them; the "
            f"harness waited for the loads to finish before measuring): {', '.join(twice)}"
        )
    reloaded = data.get("models_reloaded_during_run") or []
    if not reloaded:
        return "\n".join([*lines, "- No model was reloaded during the measurements"])
    lines.append(
        f"- **Reloaded during the measurements** (their files changed; numbers measured "
        f"meanwhile are disturbed): {', '.join(reloaded)}"
    )
    return "\n".join(lines)


def _triton_line(data: Mapping[str, Any]) -> str:
    t = data["processes"].get("triton")
    if not t:
        return "- Triton: not measured"
    return (
        f"- Triton (server + {t['processes'] - 1} python-backend model processes): "
        f"{fmt(t['rss_bytes_end'] / MB, 0)} MB resident at the end, "
        f"{fmt(t['peak_rss_bytes'] / MB, 0)} MB peak"
    )


def _resources(r: Mapping[str, Any]) -> list[str]:
    data = r.get("resources", {})
    lines = ["## Resources", ""]
    if _failed(data):
        return lines + [_failed(data) or "", ""]
    loads = ", ".join(f"{k} {fmt(v, 2)} s" for k, v in data["model_load_s"].items()) or NA
    lines += [
        f"- Mesh cold start (Triton + six services, until all healthy; new processes, warm OS "
        f"file cache): {fmt(data['cold_start_s'])} s, of which Triton ready "
        f"{fmt(data['triton_ready_s'])} s",
        f"- Model load times (Triton log, models load in parallel): {loads}",
        _triton_line(data),
        _reloads(data),
        f"- Total resident memory at the end: {fmt(data['total_rss_bytes_end'] / GB, 2)} GB; "
        f"sum of per-process peaks: {fmt(data['total_peak_rss_bytes'] / GB, 2)} GB",
        "",
    ]
    rows = [
        [
            name,
            p["processes"],
            fmt(p["rss_bytes_after_start"] / MB, 0),
            fmt(p["rss_bytes_end"] / MB, 0),
            fmt(p["peak_rss_bytes"] / MB, 0),
            fmt(p["metric_memory_usage_bytes"] / MB, 0)
            if p.get("metric_memory_usage_bytes")
            else NA,
            fmt(p["cpu_s_total"]),
        ]
        for name, p in data["processes"].items()
    ]
    return lines + table(
        [
            "process group",
            "processes",
            "RSS after start MB",
            "RSS at end MB",
            "peak RSS MB",
            "veritas_memory_usage_bytes MB",
            "CPU s (whole run)",
        ],
        rows,
    )


def render(results: Mapping[str, Any], files: Mapping[str, str]) -> str:
    lines = _header(results) + _targets(results) + _workloads(results)
    for part in (_latency, _batch, _streaming, _throughput, _http, _resources):
        lines += part(results)
    plots = [name for key, name in files.items() if key.startswith("plot_")]
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    if results.get("errors"):
        lines += ["## Failed sections", ""]
        lines += [f"- {k}: {v}" for k, v in results["errors"].items()] + [""]
    return "\n".join(lines)
