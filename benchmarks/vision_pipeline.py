"""The vision pipeline's cost, neural face models (served and in-process) against dlib.

    .venv/bin/python -m benchmarks.vision_pipeline            # ~15-20 minutes (live: most)
    .venv/bin/python -m benchmarks.vision_pipeline --no-live  # ~2-4 minutes on 2 busy cores
    .venv/bin/python -m benchmarks.vision_pipeline --repeats 5 --out results.md

What it measures, in one run, on the bundled sample (samples/face.mp4 sampled at the
service's default 10 fps: 90 frames of 320x320):

1. Per-frame vision cost, four ways (each repeated, the median run reported):
   - `dlib`: the old path (HOG detector + 68-point predictor, services/vision/face.py) and
     the per-frame geometry, in this process;
   - `neural, in-process`: the face models run with onnxruntime in this process (one thread,
     as Triton's python backend runs them here), 16 frames per call;
   - `neural, Triton`: the service's path: the same frames sent to a local Triton (the
     python-backend mirror of tools/triton_server.py, face models only) through the
     synchronous gRPC client, 16 frames per request. Cost = this process's CPU (the
     service's share: resizing, crops, geometry, pupils, gRPC) + Triton's CPU (its process
     group: the server and its python stubs running onnxruntime), and the wall time;
   - model calls alone (detector and mesh, batch 1 and 16) for scale.
2. The full multimodal analysis in process (benchmarks/inprocess.py: every modality's
   analyzer and model, one after another on one core) with the neural vision path and with
   the dlib one: the end-to-end latency and the vision share. Every analysis is a distinct
   request of the benchmarks' `full` workload (benchmarks/workloads.py), so no analyzer's
   cache of media it has measured answers it.
3. Unless `--no-live` (benchmarks/vision_live.py): a mesh on this machine, and beside its
   vision service (the neural path) a benchmark-only vision service with the dlib tracker;
   how many concurrent 30-fps live streams each pipeline holds (AUTO and pinned HIGH,
   levels 1, 2, 4, 8, 30 s each by default; the pipelines alternate), and the `full`
   workload through the gateway with the neural path, next to the in-process figures.

CPU times are process CPU (user + system) from /proc; walls are time.perf_counter. The
machine and its load average at start are written next to the figures: on a shared or busy
machine the walls are inflated and only same-run comparisons mean anything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import procs, vision_live

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "face.mp4"
RESULTS = ROOT / "benchmarks" / "results"


@dataclass(frozen=True)
class Cost:
    """One way of measuring the sample's frames: per-frame milliseconds."""

    name: str
    frames: int
    wall_ms: float  # per frame
    service_cpu_ms: float  # this process, per frame
    triton_cpu_ms: float | None = None  # Triton's process group, per frame
    requests_per_frame: float | None = None

    @property
    def total_cpu_ms(self) -> float:
        return self.service_cpu_ms + (self.triton_cpu_ms or 0.0)


def sample_frames() -> list[Any]:
    from services.vision.decode import iter_video

    return list(
        iter_video(
            SAMPLE.read_bytes(),
            "video/mp4",
            field="video",
            target_fps=10.0,
            max_duration_s=600,
            max_bytes=1 << 30,
            max_side=640,
        )
    )


class CountedModels:
    """Face models that count the requests made to them (either model): what a tracker costs
    in model calls, whichever tracker and whichever models."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.requests = 0

    def detect(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.requests += 1
        return self.inner.detect(images)  # type: ignore[no-any-return]

    def mesh(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.requests += 1
        return self.inner.mesh(crops)  # type: ignore[no-any-return]


def _median_run(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The run with the median wall time (wall, service CPU, Triton CPU)."""
    return sorted(runs)[len(runs) // 2]


def measure_cost(
    name: str,
    frames: list[Any],
    make_tracker: Callable[[], Any],
    repeats: int,
    triton_pgid: int | None = None,
    counted: CountedModels | None = None,
) -> Cost:
    """`counted`: the models `make_tracker`'s trackers call, for requests per frame."""
    from services.vision.analyzer import measure

    runs = []
    requests = 0
    for _ in range(repeats):
        tracker = make_tracker()
        requests0 = counted.requests if counted else 0
        group = {"triton": triton_pgid} if triton_pgid else {}
        before_t = procs.group_usage(group) if group else {}
        cpu0, wall0 = procs.self_cpu_s(), time.perf_counter()
        measure(frames, tracker)
        wall, cpu = time.perf_counter() - wall0, procs.self_cpu_s() - cpu0
        triton = procs.cpu_delta(before_t, procs.group_usage(group)).get("triton", 0.0)
        runs.append((wall, cpu, triton))
        requests = counted.requests - requests0 if counted else 0
    wall, cpu, triton = _median_run(runs)
    n = len(frames)
    return Cost(
        name,
        n,
        wall * 1000 / n,
        cpu * 1000 / n,
        triton * 1000 / n if triton_pgid else None,
        requests / n if requests else None,
    )


def model_calls(
    models: Any, batches: tuple[int, ...], runs: int, warmups: int = 1
) -> list[tuple[str, int, float]]:
    """(model, batch, median ms per image) for the two face models of `models` (in process:
    OnnxFaceModels with any provider), on random pixels of each model's input size."""
    rng = np.random.default_rng(0)
    out = []
    for name, size, call in (
        ("face_detector", 128, models.detect),
        ("face_landmarks", 192, models.mesh),
    ):
        for batch in batches:
            x = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
            for _ in range(warmups):
                call(x)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                call(x)
                times.append(time.perf_counter() - t0)
            out.append((name, batch, statistics.median(times) * 1000 / batch))
    return out


def write_results(text: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"written to {out}")


def start_triton(work: Path) -> Any:
    """A local Triton serving the committed face models only."""
    from services.vision.neural_face import DETECTOR, LANDMARKS, REPOSITORY
    from tools.mesh import free_port
    from tools.triton_server import TritonServer, prepare_local_repository

    for name in (DETECTOR, LANDMARKS):
        shutil.copytree(REPOSITORY / name, work / "source" / name)
    prepare_local_repository(work / "source", work / "local")
    server = TritonServer(backend_root=work / "backends")
    server.start(
        work / "local",
        grpc_port=free_port(),
        http_port=free_port(),
        metrics_port=free_port(),
        log_path=work / "triton.log",
        ready_timeout_s=120,
    )
    return server


@dataclass(frozen=True)
class FullRun:
    pipeline: str
    total_ms: list[float]
    vision_ms: list[float]
    cpu_ms: list[float]  # this process's CPU for the whole analysis


def full_multimodal(repeats: int) -> list[FullRun]:
    """The full workload in process, with each vision path; the two paths alternate run by
    run, so a burst of load from elsewhere falls on both. Every analysis gets a distinct
    request (benchmarks/workloads.py): the audio analyzer keeps a recording it has measured,
    so a repeated request would leave audio's cost out of every run after the first."""
    from benchmarks.inprocess import InProcess
    from benchmarks.workloads import Samples
    from services.vision.analyzer import VisionAnalyzer
    from services.vision.face import FaceTracker

    inproc = InProcess(("vision", "audio", "text", "physiology"))
    paths = {
        "neural (in-process ONNX)": inproc.analyzers["vision"],
        "dlib": VisionAnalyzer(make_tracker=FaceTracker),
    }
    samples = Samples()
    measured: dict[str, tuple[list[float], list[float], list[float]]] = {
        name: ([], [], []) for name in paths
    }
    for run in range(repeats + 1):
        for name, analyzer in paths.items():
            inproc.analyzers["vision"] = analyzer
            request = samples.request("full")
            cpu0 = procs.self_cpu_s()
            result = inproc.analyze(request, "full")
            cpu = procs.self_cpu_s() - cpu0
            if run == 0:
                continue  # warm-up
            totals, visions, cpus = measured[name]
            totals.append(sum(r.seconds for r in result.values()) * 1000)
            visions.append(result["vision"].seconds * 1000)
            cpus.append(cpu * 1000)
    inproc.analyzers["vision"] = paths["neural (in-process ONNX)"]
    return [FullRun(name, *values) for name, values in measured.items()]


def header(
    machine: dict[str, Any],
    load: list[float],
    when: str,
    title: str,
    load_end: list[float] | None = None,
) -> list[str]:
    """The title and what the figures were measured on: the harness's machine, commit and
    load-average facts (benchmarks/report.py), and that no GPU was used."""
    from benchmarks.harness import git_revision

    git = git_revision()
    commit = (git.get("commit") or "unknown")[:12] + (
        " (uncommitted changes)" if git.get("dirty") else ""
    )
    end = f", at end {', '.join(map(str, load_end))}" if load_end else ""
    return [
        f"# {title} ({when})",
        "",
        f"Measured on `{machine.get('label', '?')}` ({machine.get('cpu_model', '?')}, "
        f"{machine.get('cores', '?')} cores, no GPU) at commit {commit}. Load average "
        f"(1, 5, 15 min) at start: {', '.join(map(str, load))}{end}. **On a shared or busy "
        "machine wall times are inflated and vary; compare only figures of this one run.** "
        "**CPU only: nothing here ran on a GPU** (benchmarks/gpu_vision.py is the GPU run).",
        "",
    ]


def report(
    machine: dict[str, Any],
    load: list[float],
    costs: list[Cost],
    calls: list[tuple[str, int, float]],
    full: list[FullRun],
    when: str,
    live: dict[str, Any] | None = None,
    load_end: list[float] | None = None,
) -> str:
    """`live`: benchmarks/vision_live.py's result (live streams held per pipeline, and the
    full analysis through the mesh), when it ran."""
    title = "Vision pipeline: neural face models vs dlib"
    lines = header(machine, load, when, title, load_end) + [
        "## Per-frame vision cost (samples/face.mp4, 90 frames at 10 fps, 320x320)",
        "",
        "Face finding, landmarks and per-frame geometry of already decoded frames (decoding "
        "is the same for every path and not included).",
        "",
        "| path | wall ms/frame | service CPU ms/frame | Triton CPU ms/frame | total CPU ms/frame "
        "| model requests/frame |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in costs:
        triton = f"{c.triton_cpu_ms:.1f}" if c.triton_cpu_ms is not None else "-"
        requests = f"{c.requests_per_frame:.2f}" if c.requests_per_frame is not None else "-"
        lines.append(
            f"| {c.name} | {c.wall_ms:.1f} | {c.service_cpu_ms:.1f} | {triton} | "
            f"{c.total_cpu_ms:.1f} | {requests} |"
        )
    lines += [
        "",
        "Service CPU: this process (decoded frames in; resizing, crops, geometry, pupils, and "
        "for Triton the gRPC client). Triton CPU: the tritonserver process group (python "
        "backend stubs running onnxruntime with one thread).",
        "",
        "## Model calls alone (in process, onnxruntime, one thread)",
        "",
        "| model | batch | ms per image |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {m} | {b} | {ms:.2f} |" for m, b, ms in calls]
    lines += [
        "",
        "## Full multimodal analysis in process (vision + audio + text + physiology)",
        "",
        "Every modality's analyzer and model one after another on one core "
        "(benchmarks/inprocess.py); every analysis a distinct request of the benchmarks' "
        "`full` workload (the bundled video, speech and physiology with per-run bytes, a hotel "
        "review), so no cache answers it; vision includes decoding the video. Median and range "
        "of the runs, the two paths alternating. CPU: this process's user + "
        "system time for the whole analysis (all in process: no Triton).",
        "",
        "| vision path | runs | total p50 ms | total min-max ms | vision p50 ms | CPU p50 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in full:
        lines.append(
            f"| {r.pipeline} | {len(r.total_ms)} | {statistics.median(r.total_ms):.0f} | "
            f"{min(r.total_ms):.0f}-{max(r.total_ms):.0f} | {statistics.median(r.vision_ms):.0f} "
            f"| {statistics.median(r.cpu_ms):.0f} |"
        )
    if live is not None:
        row = vision_live.mesh_full_row(live)
        if row:
            lines.append(row)
        lines += [
            "",
            "The mesh row: the same workload (distinct requests) one at a time through the "
            "gateway (benchmarks/latency.py), every service and Triton in its own process, "
            "the vision service on the neural path; CPU: all those processes' user + system "
            "time per analysis (mean). No dlib row through the mesh: the dlib service is "
            "measured on live streams below.",
            "",
            *vision_live.report_lines(live),
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--machine", default=None, help="label in the file name (hostname)")
    parser.add_argument(
        "--no-live", action="store_true", help="skip the live streams and the mesh (section 3)"
    )
    vision_live.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from services.vision.face import FaceTracker
    from services.vision.neural_face import NeuralFaceTracker, OnnxFaceModels, TritonFaceModels

    machine = procs.machine()
    machine["label"] = args.machine or machine["hostname"]
    load = procs.load_average()
    when = dt.date.today().isoformat()
    frames = sample_frames()
    local = CountedModels(OnnxFaceModels())
    costs = [
        measure_cost(
            "dlib (HOG + 68-point predictor), in-process", frames, FaceTracker, args.repeats
        ),
        measure_cost(
            "neural, in-process ONNX",
            frames,
            lambda: NeuralFaceTracker(local),
            args.repeats,
            counted=local,
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        server = start_triton(Path(tmp))
        try:
            served = CountedModels(TritonFaceModels(server.grpc_url, timeout_s=60))
            assert server.process is not None
            measure_cost("warm-up", frames[:16], lambda: NeuralFaceTracker(served), 1)
            costs.append(
                measure_cost(
                    "neural, Triton (the service's path)",
                    frames,
                    lambda: NeuralFaceTracker(served),
                    args.repeats,
                    triton_pgid=os.getpgid(server.process.pid),
                    counted=served,
                )
            )
        finally:
            server.stop()
    calls = model_calls(local.inner, (1, 16), max(3, args.repeats * 3))
    full = full_multimodal(args.repeats)
    live = None if args.no_live else vision_live.run(vision_live.plan_from(args))
    text = report(machine, load, costs, calls, full, when, live, procs.load_average())
    out = args.out or RESULTS / f"{when}-{machine['label']}-vision.md"
    write_results(text, out)
    if live is not None:
        vision_live.write_json(live, out.with_suffix(".json"))
        if live["errors"]:
            print("failed: " + "; ".join(f"{k}: {v}" for k, v in live["errors"].items()))
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
