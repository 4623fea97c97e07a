"""PNG plots of one run's results (matplotlib, no display). A section that failed or was
skipped gets no plot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the backend
from matplotlib.figure import Figure  # noqa: E402

from benchmarks.workloads import LABELS  # noqa: E402

GB = 1024**3


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def latency_figure(results: dict[str, Any]) -> Figure | None:
    data = results.get("latency", {})
    workloads = [w for w in data if isinstance(data[w], dict) and "mesh" in data[w]]
    if not workloads:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    quantiles = ("p50", "p95", "p99")
    width = 0.13
    for wi, workload in enumerate(workloads):
        for qi, q in enumerate(quantiles):
            for si, (side, hatch) in enumerate((("mesh", ""), ("in_process", "//"))):
                x = wi + (qi * 2 + si - 2.5) * width
                value = _num(data[workload][side]["latency"][f"{q}_ms"])
                ax.bar(
                    x,
                    value,
                    width,
                    color=f"C{qi}",
                    hatch=hatch,
                    edgecolor="black",
                    linewidth=0.4,
                    label=f"{q} {'mesh' if side == 'mesh' else 'in-process'}" if wi == 0 else None,
                )
    ax.axhline(200, color="red", linestyle="--", linewidth=1, label="target p95 200 ms")
    ax.set_xticks(range(len(workloads)), [LABELS.get(w, w) for w in workloads])
    ax.set_yscale("log")
    ax.set_ylabel("ms (log scale)")
    ax.set_title("Single analysis latency: through the gateway vs in-process")
    ax.legend(fontsize=7, ncol=2)
    return fig


def batch_figure(results: dict[str, Any]) -> Figure | None:
    sizes = results.get("batch", {}).get("sizes")
    if not sizes:
        return None
    fig, left = plt.subplots(figsize=(7, 4.5))
    xs = [s["batch_size"] for s in sizes]
    left.plot(xs, [_num(s["items_per_s"]) for s in sizes], "o-", color="C0", label="items/s")
    left.set_xlabel("batch size")
    left.set_ylabel("items/s", color="C0")
    left.set_xscale("log", base=2)
    left.set_xticks(xs, [str(x) for x in xs])
    right = left.twinx()
    right.plot(xs, [_num(s["latency"]["p50_ms"]) for s in sizes], "s--", color="C1", label="p50 ms")
    right.set_ylabel("batch call latency p50 (ms)", color="C1")
    left.set_ylim(bottom=0)
    right.set_ylim(bottom=0)
    workload = LABELS.get(results["batch"].get("workload", ""), "")
    left.set_title(f"AnalyzeBatch ({workload})")
    return fig


def _vision(stream: dict[str, Any]) -> dict[str, Any]:
    return stream.get("modalities", {}).get("vision", {})


def streaming_figure(results: dict[str, Any]) -> Figure | None:
    """Frame-rate sweep (analysed vs sent fps, update latency) and concurrent streams."""
    data = results.get("streaming", {})
    runs = data.get("fps") if isinstance(data.get("fps"), list) else []
    levels = {
        q: data[key]["levels"]
        for q, key in (("AUTO", "many_auto"), ("HIGH", "many_high"))
        if isinstance(data.get(key), dict) and data[key].get("levels")
    }
    if not runs and not levels:
        return None
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4.2))
    if runs:
        targets = [r["target_fps"] for r in runs]
        left.plot(targets, targets, ":", color="grey", label="target")
        left.plot(
            targets, [_num(_vision(r).get("analysed_per_s")) for r in runs], "o-", label="analysed"
        )
        left.plot(targets, [_num(r["sent_fps"]) for r in runs], "x--", label="sent")
        for q, marker in (("p50", "o-"), ("p95", "s--")):
            middle.plot(
                targets,
                [_num(_vision(r).get("update_latency", {}).get(f"{q}_ms")) for r in runs],
                marker,
                label=q,
            )
    left.set_xlabel("target frames/s")
    left.set_ylabel("frames/s")
    left.set_title("One stream: frames analysed per second")
    left.legend(fontsize=8)
    target_ms = _num(data.get("latency_target_ms"))
    middle.axhline(target_ms, color="red", linestyle="--", linewidth=1, label="target")
    middle.set_xlabel("target frames/s")
    middle.set_ylabel("update latency (ms)")
    middle.set_title("One stream: update latency")
    middle.legend(fontsize=8)
    for i, (quality, lvs) in enumerate(levels.items()):
        xs = [lv["streams"] for lv in lvs]
        right.plot(
            xs,
            [_num(lv["update_latency_p95_ms_max"]) for lv in lvs],
            "o-",
            color=f"C{i}",
            label=f"{quality}: worst stream's p95",
        )
        for x, lv in zip(xs, lvs, strict=True):
            if not lv["held"]:
                right.plot([x], [_num(lv["update_latency_p95_ms_max"])], "x", color="red", ms=10)
    right.axhline(target_ms, color="red", linestyle="--", linewidth=1, label="target (x: not held)")
    tried = sorted({lv["streams"] for lvs in levels.values() for lv in lvs})
    if tried:
        right.set_xticks(tried, [str(n) for n in tried])
    right.set_xlabel("concurrent 30-fps streams")
    right.set_ylabel("p95 update latency (ms)")
    right.set_yscale("log")
    right.set_title("Concurrent streams")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


QUALITY_COLOURS = {"LOW": "C3", "MEDIUM": "C1", "HIGH": "C2"}


def live_figure(results: dict[str, Any]) -> Figure | None:
    """The flat-cost stream: update latency of every window over stream time, by quality,
    with the vision service's resident memory and frames analysed per window below."""
    flat = results.get("streaming", {}).get("flat_cost")
    if not isinstance(flat, dict) or "series" not in flat:
        return None
    series = flat["series"]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    ends, latencies = series["window_end_s"], series["latency_ms"]
    for quality in sorted(set(series["quality"])):
        points = [
            (t, ms)
            for t, ms, q, by in zip(
                ends, latencies, series["quality"], series["closed_by"], strict=True
            )
            if q == quality and ms is not None and by == "chunk"
        ]
        if points:
            top.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                ".",
                ms=3,
                color=QUALITY_COLOURS.get(quality, "C0"),
                label=f"{quality or 'not answered'}",
            )
    ended = [
        (t, ms)
        for t, ms, by in zip(ends, latencies, series["closed_by"], strict=True)
        if by == "end" and ms is not None
    ]
    if ended:
        top.plot(
            [p[0] for p in ended], [p[1] for p in ended], "k^", ms=5, label="closed by end of input"
        )
    seconds = _num(flat.get("seconds"))
    for q in range(1, 4):
        top.axvline(q * seconds / 4, color="grey", linewidth=0.6, linestyle=":")
    top.axhline(
        _num(results["streaming"].get("latency_target_ms")),
        color="red",
        linestyle="--",
        linewidth=1,
        label="target",
    )
    finite = [ms for ms in latencies if ms is not None and ms > 0]
    if finite and max(finite) / min(finite) > 20:
        top.set_yscale("log")
    top.set_ylabel("update latency (ms)")
    ratio = flat.get("p95_ratio_last_first")
    top.set_title(
        "One 30-fps vision stream of "
        + (f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s")
        + ": p95 update latency, last / first quarter "
        + (f"{ratio:.2f}" if isinstance(ratio, int | float) else "n/a")
    )
    top.legend(fontsize=7, loc="upper left", markerscale=2)
    width = ends[1] - ends[0] if len(ends) > 1 else 1.0
    bottom.bar(
        [t - width / 2 for t in ends],
        series["analysed"],
        width=0.8 * width,
        color="C0",
        alpha=0.5,
        label="frames analysed per window",
    )
    bottom.set_ylabel("frames analysed", color="C0")
    bottom.set_xlabel("stream time (s)")
    memory = flat.get("memory", {}).get("series") or []
    if memory:
        twin = bottom.twinx()
        twin.plot(
            [m[0] for m in memory],
            [m[1] / 1024**2 for m in memory],
            "-",
            color="C4",
            label="vision RSS",
        )
        twin.set_ylabel("vision service RSS (MB)", color="C4")
        mb = [m[1] / 1024**2 for m in memory]
        twin.set_ylim(0.9 * min(mb), 1.1 * max(mb))  # +-10%: a 5% growth shows, noise does not
    fig.tight_layout()
    return fig


def throughput_figure(results: dict[str, Any]) -> Figure | None:
    data = {
        w: levels
        for w, levels in results.get("throughput", {}).items()
        if isinstance(levels, list) and levels
    }
    if not data:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for i, (workload, levels) in enumerate(data.items()):
        xs = [lv["concurrency"] for lv in levels]
        label = LABELS.get(workload, workload)
        left.plot(
            xs, [_num(lv["requests_per_s"]) for lv in levels], "o-", color=f"C{i}", label=label
        )
        right.plot(
            xs, [_num(lv["latency"]["p99_ms"]) for lv in levels], "s--", color=f"C{i}", label=label
        )
    left.axhline(100, color="red", linestyle="--", linewidth=1, label="target 100 req/s")
    ticks = sorted({lv["concurrency"] for levels in data.values() for lv in levels})
    for ax, title, ylabel in (
        (left, "Sustained requests/s", "requests/s"),
        (right, "p99 latency under load", "ms"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("requests in flight")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def resources_figure(results: dict[str, Any]) -> Figure | None:
    processes = results.get("resources", {}).get("processes")
    if not processes:
        return None
    names = list(processes)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    xs = range(len(names))
    ax.bar(
        [x - 0.2 for x in xs],
        [_num(processes[n]["rss_bytes_after_start"]) / GB for n in names],
        0.4,
        label="after start",
    )
    ax.bar(
        [x + 0.2 for x in xs],
        [_num(processes[n]["peak_rss_bytes"]) / GB for n in names],
        0.4,
        label="peak during the run",
    )
    ax.axhline(2.0, color="red", linestyle="--", linewidth=1, label="target 2 GB per instance")
    ax.set_xticks(list(xs), names)
    ax.set_ylabel("resident memory (GB)")
    ax.set_title("Memory per service (process group)")
    ax.legend(fontsize=8)
    return fig


FIGURES: dict[str, Callable[[dict[str, Any]], Figure | None]] = {
    "latency": latency_figure,
    "batch": batch_figure,
    "streaming": streaming_figure,
    "live": live_figure,
    "throughput": throughput_figure,
    "resources": resources_figure,
}


def write_all(results: dict[str, Any], out_dir: Path, stem: str) -> dict[str, Path]:
    written = {}
    for name, make in FIGURES.items():
        figure = make(results)
        if figure is None:
            continue
        path = out_dir / f"{stem}-{name}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        written[f"plot_{name}"] = path
    return written
