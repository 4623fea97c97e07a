"""The Markdown summary of one run, written beside its JSON (pure: results in, text out)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from benchmarks import floor, transport
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


def duration(seconds: float) -> str:
    """'10 min', '90 s'."""
    return f"{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g} s"


def size(n: float) -> str:
    return f"{n / 1024:,.0f} KiB" if n >= 10 * 1024 else f"{n:,.0f} B"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _failed(section: Any) -> str | None:
    if isinstance(section, Mapping) and section.get("error"):
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
        limit = f"{t['comparison']} {float(t['limit']):g} {t['unit']}"
        rows.append([t["target"], limit, f"{fmt(t['measured'], 2)} {t['unit']}", met, t["basis"]])
    return ["## Targets", ""] + table(["target", "goal", "measured", "", "basis"], rows)


def _workloads(r: Mapping[str, Any]) -> list[str]:
    w = r.get("workloads", {})
    if _failed(w):
        return ["## Workloads", "", _failed(w) or "", ""]
    a, v, t, p = w["audio"], w["video"], w["transcript"], w["physiology"]
    channels = ", ".join(f"{c['name']} {fmt(c['sampling_rate_hz'], 0)} Hz" for c in p["channels"])
    duration = max((c["duration_s"] for c in p["channels"]), default=0.0)
    reviews = w.get("reviews")
    text_line = (
        f"- text only: a distinct hotel review on every run ({reviews['texts']} reviews of "
        f"`{reviews['file']}`, read at run time; median {reviews['words_median']} words, "
        f"{reviews['words_min']}-{reviews['words_max']}; after all were sent once, sentences "
        "rotated, then another review's sentence appended)"
        if isinstance(reviews, Mapping) and "texts" in reviews
        else f"- text only: `samples/{t['file']}`, {t['words']} words "
        f"({t['characters']} characters)"
    )
    lines = [
        "## Workloads",
        "",
        "Every run sends a distinct input, so no cache answers a measured request (only the "
        "cache section repeats requests, on purpose).",
        "",
        text_line,
        f"- audio + text: `samples/{a['file']}` ({fmt(a['duration_s'])} s, "
        f"{a['sample_rate_hz']} Hz, {a['channels']} channel(s), {size(a['bytes'])} "
        "WAV) with the run's own gain (0.85-1.0) and dither (at most 2 LSB) + the run's review",
        f"- full multimodal: `samples/{v['file']}` ({fmt(v['duration_s'])} s, {fmt(v['fps'], 0)} "
        f"fps, {v['width']}x{v['height']}, {size(v['bytes'])} MP4 plus a `free` box naming the "
        "run: same pixels, other bytes; analysed at the vision service's default sampling "
        "rate) + the run's audio + the run's review + "
        f"`samples/{p['file']}` ({fmt(duration)} s: {channels}; dithered per run)",
        f"- live: frames of `samples/{v['file']}` re-encoded as JPEG (quality "
        f"{w['live_frames']['jpeg_quality']}), looped, every frame sent tagged with its stream "
        "and number (same pixels, other bytes); speech and physiology looped with a dither per "
        "chunk; transcripts from the distinct reviews; all sent in real time",
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
                fmt(mesh["p50_ms"] - local["p50_ms"], 2)
                if isinstance(mesh.get("p50_ms"), float) and isinstance(local.get("p50_ms"), float)
                else NA,
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
            "mesh - in-process p50 ms",
            "ratio p50 / p95",
            "mesh CPU s/request",
            "in-process CPU s/request",
            "mesh outcomes",
        ],
        rows,
    )
    lines += [_agreement(data), ""]
    lines += floor.describe(data.get("text", {}).get("floor", {}))
    lines += transport.describe(data.get("text", {}).get("transport", {}))
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
    lines += [
        "AnalyzeBatch of N distinct requests of the workload; items/s = answered items / the "
        "calls' total time; x batch 1 = items/s over batch 1's.",
        "",
    ]
    by_workload = data.get("by_workload") or {data["workload"]: data["sizes"]}
    for workload, sizes in by_workload.items():
        single = next((s["items_per_s"] for s in sizes if s["batch_size"] == 1), None)
        rows = [
            [
                s["batch_size"],
                s["repeats"],
                fmt(s["latency"]["p50_ms"]),
                fmt(s["latency"]["max_ms"]),
                fmt(s["items_per_s"]),
                fmt(s["items_per_s"] / single, 2) if single else NA,
                s["item_errors"],
            ]
            for s in sizes
        ]
        lines += [f"**{LABELS.get(workload, workload)}**", ""]
        lines += table(
            [
                "batch size",
                "calls",
                "latency p50 ms",
                "latency max ms",
                "items/s",
                "x batch 1",
                "item errors",
            ],
            rows,
        )
    return lines


def _cache(r: Mapping[str, Any]) -> list[str]:
    data = r.get("cache", {})
    lines = ["## Result cache", ""]
    if _failed(data) or not data:
        return lines + [_failed(data) or "Not measured.", ""]
    lines += [
        "The only section that repeats requests. Per run: a new distinct request (miss: "
        "analysed and stored), the same request again with new request ids (hits, each "
        "checked to say `cached:` in its reasoning), and once more with `x-veritas-cache: "
        "off` (analysed anew, past the result cache; a modality's feature cache still "
        "answers media it measured for this tenant, so audio + text is not measured again). "
        "Through the gateway's gRPC API, one call at a time.",
        "",
    ]
    rows = []
    for workload, d in data.items():
        for kind, label in (("miss", "miss"), ("hit", "hit"), ("off", "cache off")):
            q = d[kind]
            rows.append(
                [
                    LABELS.get(workload, workload),
                    label,
                    q.get("n"),
                    " / ".join(fmt(q.get(f"{x}_ms"), 2) for x in ("p50", "p95", "p99")),
                ]
            )
    lines += table(["workload", "lookup", "calls", "p50 / p95 / p99 ms"], rows)
    answers = "; ".join(
        f"{LABELS.get(w, w)}: " + ", ".join(f"{k} {v}" for k, v in d["answers"].items())
        for w, d in data.items()
    )
    return lines + [f"Answers: {answers}.", ""]


def _scaling(r: Mapping[str, Any]) -> list[str]:
    data = r.get("scaling", {})
    lines = ["## Scaling out", ""]
    if _failed(data) or not data.get("workloads"):
        return lines + [_failed(data) or "Not measured.", ""]
    rate = data["rate_per_s"]
    lines += [
        f"Replicas each service needs for {fmt(rate, 0)} requests/s, from the CPU per request "
        f"measured here, against `helm/veritas/{data['chart']}`: an HPA on CPU settles near "
        "ceil(rate x CPU per request / (CPU request x target utilisation)) replicas, which "
        "its maxReplicas must allow. This machine's cores are not a cluster node's: scale "
        "the CPU figures by how the CPUs compare.",
        "",
    ]
    for workload, plan in data["workloads"].items():
        lines += [f"**{LABELS.get(workload, workload)}** ({plan['basis']})", ""]
        rows = [
            [
                row["service"],
                fmt(row.get("cpu_ms_per_request"), 2),
                fmt(row.get("cores_at_rate"), 2),
                fmt(row.get("cpu_request_cores"), 2),
                f"{row.get('target_cpu_pct')}%",
                row.get("replicas_needed", NA),
                f"{row.get('min_replicas')}-{row.get('max_replicas')}",
                fmt(row["fits"]) if "fits" in row else row.get("note", NA),
            ]
            for row in plan["rows"]
        ]
        lines += table(
            [
                "service",
                "CPU ms/request",
                "cores at rate",
                "CPU request (cores)",
                "HPA target",
                "replicas needed",
                "chart min-max",
                "fits",
            ],
            rows,
        )
    return lines


def mix(quality: Mapping[str, int] | None) -> str:
    """A quality mix as shares of the windows, e.g. 'HIGH 80%, MEDIUM 20%'."""
    if not quality:
        return NA
    total = sum(quality.values())
    return ", ".join(f"{q} {100 * n / total:.0f}%" for q, n in quality.items() if n)


def _ms(latency: Mapping[str, Any], *quantiles: str) -> str:
    return " / ".join(fmt(latency.get(f"{q}_ms"), 0) for q in quantiles)


def _metrics_line(metrics: Mapping[str, Mapping[str, float]] | None) -> str:
    """The services' own live counters over one experiment."""
    if not metrics:
        return ""
    parts = []
    for service, counters in metrics.items():
        if not counters:
            parts.append(f"{service}: no live metrics")
            continue
        windows = ", ".join(
            f"{k.removeprefix('windows.')} {v:.0f}"
            for k, v in counters.items()
            if k.startswith("windows.")
        )
        parts.append(
            f"{service}: windows {windows or 'none'}; frames skipped "
            f"{counters.get('input_skipped', 0):.0f}; streams still open after "
            f"{fmt(counters.get('streams_open_after'), 0)}"
        )
    return "Service metrics (`veritas_live_*`, change over the experiment): " + "; ".join(parts)


def _coverage(v: Mapping[str, Any]) -> str:
    c = v["coverage"]
    final = c.get("final")
    text = (
        f"{v['chunks_sent']} sent; windows' coverage: {c['received']} received, "
        f"{c['analysed']} analysed, {c['skipped']} skipped"
    )
    if final:
        text += (
            f"; final result's coverage: {final['received']} received, {final['analysed']} analysed"
        )
    return text


def _flat(data: Mapping[str, Any]) -> list[str]:
    flat = data.get("flat_cost", {})
    lines = ["### Flat cost: one long 30-fps vision stream", ""]
    if _failed(flat):
        return lines + [_failed(flat) or "", ""]
    v = flat["modalities"]["vision"]
    mem = flat["memory"]
    latency = v["update_latency"]
    lines += [
        f"One stream of {duration(flat['seconds'])} ({v['windows_expected']} windows of "
        f"{fmt(v['window_s'])} s), AUTO quality, sent at {fmt(flat['sent_fps'])} frames/s "
        f"(target {fmt(flat['target_fps'], 0)}); the client used "
        f"{fmt(flat['client']['cores'], 2)} cores.",
        "",
        f"- **p95 update latency, last quarter / first quarter: "
        f"{fmt(flat['p95_ratio_last_first'], 2)}** (target <= 1.2; in-stream windows: "
        "the windows closed by the end of input measure the finish and are left out)",
        f"- **Vision service RSS** (`/proc/{mem.get('pid')}/status`, {mem['samples']} samples, "
        f"one a second): first {fmt(mem['span_s'], 0)} s mean "
        f"{fmt(mem['first_mean_bytes'] / MB, 0)} MB (max {fmt(mem['first_max_bytes'] / MB, 0)}), "
        f"last {fmt(mem['span_s'], 0)} s mean {fmt(mem['last_mean_bytes'] / MB, 0)} MB "
        f"(max {fmt(mem['last_max_bytes'] / MB, 0)}): **{fmt(mem['growth_pct'], 1)}%** "
        "(target <= 5%)",
        f"- **Windows answered: {v['windows_answered']} of {v['windows_expected']}**"
        + (f" (first missing at {v['missing_first_s']} s)" if v["windows_missing"] else "")
        + f"; most updates for one window {v['updates_per_window_max']}; windows off the grid "
        f"{v['windows_off_grid']}; closed by the end of input {v['windows_closed_by_end']}",
        f"- Update latency over the whole stream p50 / p95 / max: "
        f"{_ms(latency, 'p50', 'p95', 'max')} ms ({latency['n']} windows); final result "
        f"{fmt(flat['final_after_end_ms'], 0)} ms after the input ended",
        f"- Frames: {_coverage(v)}",
        f"- Error: {flat['error']}" if flat["error"] else "- No stream error",
        "",
    ]
    cpu = flat.get("vision_cpu_cores_per_quarter") or [None] * 4
    rows = [
        [
            q["quarter"],
            q["in_stream_windows"],
            _ms(q["update_latency"], "p50", "p95", "max"),
            fmt(q["analysed_per_s"]),
            mix(q["quality"]),
            fmt(cpu[i] if i < len(cpu) else None, 2),
        ]
        for i, q in enumerate(flat["quarters"])
    ]
    lines += table(
        [
            "quarter",
            "in-stream windows",
            "update latency p50 / p95 / max ms",
            "analysed frames/s",
            "quality",
            "vision CPU (cores)",
        ],
        rows,
    )
    metrics = _metrics_line(flat.get("service_metrics"))
    return lines + ([metrics, ""] if metrics else [])


def _fps(data: Mapping[str, Any]) -> list[str]:
    runs = data.get("fps")
    lines = ["### Frame rates: one short vision stream per rate", ""]
    if _failed(runs) or not isinstance(runs, list):
        return lines + [_failed(runs) or "Not measured.", ""]
    rows = []
    for s in runs:
        v = s["modalities"]["vision"]
        rows.append(
            [
                fmt(s["target_fps"], 0),
                s["frames_sent"],
                fmt(s["sent_fps"]),
                fmt(v["analysed_per_s"]),
                f"{v['windows_answered']} / {v['windows_expected']}",
                _ms(v["update_latency"], "p50", "p95"),
                mix(v["quality"]),
                fmt(s["final_after_end_ms"], 0),
                fmt(s["held"]) + (f" ({s['error']})" if s["error"] else ""),
            ]
        )
    return lines + table(
        [
            "target fps",
            "frames",
            "sent fps",
            "analysed fps",
            "windows answered",
            "update latency p50 / p95 ms",
            "quality",
            "final after input ended ms",
            "held",
        ],
        rows,
    )


def _levels(part: Any, title: str) -> list[str]:
    lines = [f"### {title}", ""]
    if _failed(part) or not isinstance(part, Mapping):
        return lines + [_failed(part) or "Not measured.", ""]
    lines += [
        f"{fmt(part['target_fps'], 0)}-fps vision streams of {fmt(part['seconds_per_stream'], 0)} "
        f"s, quality {part['quality']}; levels planned "
        f"{', '.join(map(str, part['levels_planned']))}, stopping at the first that does not "
        f"hold. **Held: {part['max_streams_held']}** (0: not even one).",
        "",
    ]
    lines += table(
        [
            "streams",
            "held",
            "streams held",
            "min sent fps",
            "analysed fps per stream min / mean",
            "max p95 update latency ms",
            "missing windows",
            "quality (all windows)",
            "errors",
            "client CPU (cores)",
        ],
        [
            [
                lv["streams"],
                fmt(lv["held"]),
                lv["streams_held"],
                fmt(lv["sent_fps_min"]),
                f"{fmt(lv['analysed_fps_min'])} / {fmt(lv['analysed_fps_mean'])}",
                fmt(lv["update_latency_p95_ms_max"], 0),
                lv["windows_missing"],
                mix(lv["quality"]),
                lv["errors"],
                fmt(lv.get("client", {}).get("cores"), 2),
            ]
            for lv in part["levels"]
        ],
    )
    rows = []
    for lv in part["levels"]:
        for i, s in enumerate(lv["per_stream"]):
            v = s["modalities"].get("vision", {})
            rows.append(
                [
                    lv["streams"],
                    i + 1,
                    fmt(s["held"]),
                    fmt(s["sent_fps"]),
                    fmt(v.get("analysed_per_s")),
                    _ms(v.get("update_latency", {}), "p50", "p95"),
                    v.get("windows_missing", NA),
                    mix(v.get("quality")),
                    s["error"] or "",
                ]
            )
    lines += ["Each stream:", ""]
    lines += table(
        [
            "streams at once",
            "stream",
            "held",
            "sent fps",
            "analysed fps",
            "update latency p50 / p95 ms",
            "missing windows",
            "quality",
            "error",
        ],
        rows,
    )
    metrics = [_metrics_line(lv.get("service_metrics")) for lv in part["levels"]]
    return (
        lines
        + [f"- {lv['streams']} stream(s): {m}" for lv, m in zip(part["levels"], metrics) if m]
        + [""]
    )


def _one_high(data: Mapping[str, Any]) -> list[str]:
    one = data.get("one_high", {})
    lines = ["### One stream at HIGH", ""]
    if _failed(one):
        return lines + [_failed(one) or "", ""]
    v = one["modalities"]["vision"]
    lat = v["update_latency"]
    return lines + [
        f"The first level of the pinned-HIGH run: one {fmt(one['seconds'], 0)} s stream. "
        f"**p95 update latency {fmt(lat['p95_ms'], 0)} ms** (target <= 150 ms); p50 "
        f"{fmt(lat['p50_ms'], 0)} ms, max {fmt(lat['max_ms'], 0)} ms over {lat['n']} windows; "
        f"analysed {fmt(v['analysed_per_s'])} frames/s; quality {mix(v['quality'])}.",
        "",
    ]


def _multimodal(data: Mapping[str, Any]) -> list[str]:
    multi = data.get("multimodal", {})
    lines = ["### Multimodal streams", ""]
    if _failed(multi):
        return lines + [_failed(multi) or "", ""]
    lines += [
        f"{multi['streams']} concurrent streams of {fmt(multi['seconds'], 0)} s, each: video "
        "30 fps + 16 kHz audio in 0.1 s chunks + transcript segments + physiology in 1 s "
        f"chunks per channel (+ question markers). **Held: {multi['streams_held']} of "
        f"{multi['streams']}**; the client used {fmt(multi['client']['cores'], 2)} cores.",
        "",
    ]
    rows = []
    for i, s in enumerate(multi["per_stream"]):
        for name, v in s["modalities"].items():
            c = v["coverage"]
            rows.append(
                [
                    i + 1,
                    name,
                    fmt(v["window_s"]),
                    v["chunks_sent"],
                    fmt(v["realtime_ratio_min"], 2),
                    f"{v['windows_answered']} / {v['windows_expected']}",
                    _ms(v["update_latency"], "p50", "p95"),
                    f"{c['analysed']} / {c['received']}",
                    mix(v["quality"]),
                    v["final_status"] or NA,
                    fmt(v["held"]) + (f" ({s['error']})" if s["error"] else ""),
                ]
            )
    lines += table(
        [
            "stream",
            "modality",
            "window s",
            "chunks sent",
            "real-time ratio (min lane)",
            "windows answered",
            "update latency p50 / p95 ms",
            "analysed / received",
            "quality",
            "final",
            "held",
        ],
        rows,
    )
    metrics = _metrics_line(multi.get("service_metrics"))
    return lines + ([metrics, ""] if metrics else [])


def _streaming(r: Mapping[str, Any]) -> list[str]:
    data = r.get("streaming", {})
    lines = ["## Streaming: live analysis (AnalyzeStream)", ""]
    if _failed(data):
        return lines + [_failed(data) or "", ""]
    if "flat_cost" not in data:
        return lines + ["Recorded by an older harness: see the JSON.", ""]
    cores = r.get("machine", {}).get("cores", "?")
    feed = data.get("feed", {})
    lines += [
        f"Through the gateway's public `AnalyzeStream`, in real time. **The client runs on the "
        f"same {cores}-core machine as the mesh** and shares its cores (its CPU use is given "
        "per experiment): a grpc.aio sender task writes each chunk at its moment by the wall "
        "clock, a receiver task timestamps every update. Frames come from a pool of "
        f"{feed.get('frame_pool', NA)} distinct JPEGs of `samples/face.mp4` (quality "
        f"{feed.get('jpeg_quality', NA)}, small brightness offsets), encoded before the "
        "streams start; each frame sent also carries its own number in a JPEG comment, so no "
        "two frames are the same bytes. Windows of "
        f"{fmt(data['window_s'])} s; latency target {fmt(data['latency_target_ms'], 0)} ms.",
        "",
        "- *Window close*: when the client began sending the chunk that completed the window "
        "(video: the first frame at or after its end; physiology: the first chunk whose data "
        "reaches its end; audio: the chunk whose samples reach its end; transcript: the first "
        "segment after the window's segments); the last windows close at the end of input.",
        "- *Update latency*: from the window's close to the first update about it at the client.",
        "- *Analysed fps*: frames analysed according to the updates' coverage / stream seconds.",
        "- *Held*: no error, a final result, sent at >= 95% of real time, every window "
        "answered, p95 update latency <= the target.",
        "- Concurrent streams start a fraction of a window apart (stream i of N at i/N of a "
        "window), as independent interviews would.",
        "",
    ]
    lines += _flat(data)
    lines += _fps(data)
    lines += _levels(data.get("many_auto"), "Many streams, AUTO quality")
    lines += _levels(data.get("many_high"), "Many streams, pinned HIGH")
    lines += _one_high(data)
    lines += _multimodal(data)
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
        services = sorted({s for lv in levels for s in lv.get("cpu_s_per_request", {})})
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
                *(f"{s} CPU ms/req" for s in services),
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
                    *(
                        fmt(lv["cpu_s_per_request"][s] * 1000, 2)
                        if s in lv.get("cpu_s_per_request", {})
                        else NA
                        for s in services
                    ),
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
            fmt(p.get("cpu_s_after_start")),
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
            "CPU s at start",
            "CPU s (whole run)",
        ],
        rows,
    )


def render(results: Mapping[str, Any], files: Mapping[str, str]) -> str:
    lines = _header(results) + _targets(results) + _workloads(results)
    for part in (_latency, _batch, _cache, _streaming, _throughput, _scaling, _http, _resources):
        lines += part(results)
    plots = [name for key, name in files.items() if key.startswith("plot_")]
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    if results.get("errors"):
        lines += ["## Failed sections", ""]
        lines += [f"- {k}: {v}" for k, v in results["errors"].items()] + [""]
    return "\n".join(lines)
