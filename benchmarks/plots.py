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


def streaming_figure(results: dict[str, Any]) -> Figure | None:
    runs = results.get("streaming", {}).get("fps")
    if not runs:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    targets = [r["target_fps"] for r in runs]
    left.plot(targets, targets, ":", color="grey", label="target")
    left.plot(targets, [_num(r["analysed_fps"]) for r in runs], "o-", label="analysed")
    left.plot(targets, [_num(r["sent_fps"]) for r in runs], "x--", label="sent")
    left.set_xlabel("target frames/s")
    left.set_ylabel("frames/s")
    left.set_title("Live video: frames analysed per second")
    left.legend(fontsize=8)
    for q, marker in (("p50", "o-"), ("p95", "s--")):
        right.plot(targets, [_num(r["update_latency"][f"{q}_ms"]) for r in runs], marker, label=q)
    window_ms = runs[0]["window_s"] * 1000
    right.axhline(window_ms, color="red", linestyle="--", linewidth=1, label="one window")
    right.set_xlabel("target frames/s")
    right.set_ylabel("update latency (ms)")
    right.set_title("Live video: update latency")
    right.legend(fontsize=8)
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
