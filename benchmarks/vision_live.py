"""Live 30-fps vision streams held by each vision pipeline, dlib against the neural face
models on Triton, in one run; and the full multimodal analysis through the mesh.

    .venv/bin/python -m benchmarks.vision_live                 # this section alone
    .venv/bin/python -m benchmarks.vision_pipeline             # with the per-frame costs

One mesh (tools/mesh.py, the harness's environment) serves both pipelines from one Triton:

- `neural`: the mesh's own vision service, `python -m services.vision` as deployed (faces and
  landmarks from the face models on Triton);
- `dlib`: the "before" pipeline, a benchmark-only process (`python -m benchmarks.vision_live
  serve-dlib`) running the same servicer and analyzer with the dlib reference tracker
  (services/vision/face.py) in place of the face models, with the mesh's vision
  environment on its own ports. dlib is in no service's entry point or configuration.

Both score their windows with `vision_behaviour` on the same Triton. The client streams to
each vision service's AnalyzeLive directly (no gateway or fusion hop, so the figures are
not the streaming benchmark's, which go through the gateway), with the streaming
benchmark's code: its frames (benchmarks/live_feed.py, samples/face.mp4 as a pool of
distinct JPEGs), its client (benchmarks/live_client.py) and its measures and meaning of
*held* (benchmarks/live_metrics.py: sent at >= 95% of real time, every window answered,
p95 update latency <= 150 ms after the frame that closed the window). For each quality
asked (AUTO, and pinned HIGH unless left out), N concurrent 30-fps streams for N in the
levels, the two pipelines alternating at every level (which one goes first alternates
too); a pipeline stops at its first N that does not hold, as the streaming benchmark does.
Per level: the service's and Triton's CPU (cores, from /proc over the level).

Then, when `mesh_runs` > 0, the benchmarks' `full` workload (benchmarks/latency.py: one
request at a time through the gateway, every run a distinct request) with the neural
pipeline: the mesh's end-to-end latency beside the in-process figures of
benchmarks/vision_pipeline.py.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import math
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc

from benchmarks import latency, procs
from benchmarks.live_client import LiveChannel
from benchmarks.live_metrics import level_summary, most_held, stream_metrics
from benchmarks.stats import clean_json
from benchmarks.streaming import (
    SETTLE_S,
    STREAM_FPS,
    Feed,
    ServiceMetrics,
    parse_prometheus,
    run_streams,
    scrape,
)
from benchmarks.workloads import Samples
from veritas.v1 import common_pb2, modality_pb2_grpc

log = logging.getLogger("benchmarks.vision_live")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PIPELINES = ("dlib", "neural")
DESCRIBED = {
    "dlib": "dlib (HOG + 68-point predictor), in the vision service",
    "neural": "neural face models on Triton (the service's path)",
}


@dataclass(frozen=True)
class Plan:
    levels: tuple[int, ...] = (1, 2, 4, 8)  # concurrent 30-fps streams tried, in order
    seconds: float = 30.0  # each stream's length
    window_s: float = 1.0
    qualities: tuple[str, ...] = ("AUTO", "HIGH")
    mesh_runs: int = 10  # full multimodal analyses through the gateway (0: none)
    mesh_warmup: int = 2

    def estimate_s(self) -> float:
        """The longest the live part can take (every level held by both pipelines)."""
        runs = len(self.levels) * len(PIPELINES) * len(self.qualities)
        return runs * (self.seconds + SETTLE_S + 3.0)


# --- the dlib service (benchmark only) ---------------------------------------------------


def dlib_analyzer() -> Any:
    """The vision service's analyzer (services/vision/__main__.py) with the dlib reference
    tracker: the pipeline before the face models moved to Triton."""
    from services.vision.analyzer import VisionAnalyzer
    from services.vision.face import FaceTracker
    from services.vision.neural_face import TritonFaceModels

    return VisionAnalyzer(face_models=TritonFaceModels.from_env(), make_tracker=FaceTracker)


def serve_dlib() -> None:
    from veritas.modality_service import serve_modality

    serve_modality("vision", dlib_analyzer)


class DlibService:
    """`serve-dlib` as a process beside the mesh: the mesh's vision environment (its Triton),
    its own ports; stopped (never restarted) with its process group."""

    def __init__(self, mesh: Any) -> None:
        from tools.mesh import free_port

        self.mesh = mesh
        self.port, self.metrics_port = free_port(), free_port()
        self.keeper: Any = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.keeper is not None and self.keeper.process is not None
        return int(self.keeper.process.pid)

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = self.mesh.env("vision") | {
            "VERITAS_PORT": str(self.port),
            "VERITAS_METRICS_PORT": str(self.metrics_port),
        }
        with open(self.mesh.run_dir / "logs" / "vision-dlib.log", "ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "benchmarks.vision_live", "serve-dlib"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self, timeout_s: float = 120.0) -> DlibService:
        from tools.mesh import MODALITY_READY_NAME, wait_healthy
        from tools.supervise import Supervised

        self.keeper = Supervised("vision-dlib", self._spawn, restart=False).start()
        try:
            wait_healthy(self.address, timeout_s, MODALITY_READY_NAME)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.keeper is not None:
            self.keeper.stop()
            self.keeper = None


# --- the client: a modality service's AnalyzeLive through LiveChannel ---------------------


class _LiveCall:
    """A modality AnalyzeLive call read as the gateway's AnalyzeStream: each ModalityUpdate
    comes back as a one-modality AnalysisResult (final with the whole-input result)."""

    def __init__(self, call: Any) -> None:
        self._call = call

    async def write(self, message: common_pb2.LiveChunk) -> None:
        await self._call.write(message)

    async def done_writing(self) -> None:
        await self._call.done_writing()

    async def read(self) -> Any:
        update = await self._call.read()
        if update is grpc.aio.EOF:
            return update
        return common_pb2.AnalysisResult(modalities=[update.result], final=update.final)


class _ModalityStub:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = modality_pb2_grpc.ModalityAnalyzerStub(channel)

    def AnalyzeStream(self, timeout: float | None = None, metadata: Any = None) -> _LiveCall:  # noqa: N802 - the gateway's name
        return _LiveCall(self._stub.AnalyzeLive(timeout=timeout, metadata=metadata))


class ServiceChannel(LiveChannel):
    """LiveChannel (the streaming benchmark's client: pacing, timing, records) aimed at one
    modality service instead of the gateway."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.stub = _ModalityStub(self.channel)  # type: ignore[assignment]


# --- the experiment ---------------------------------------------------------------------


@dataclass(frozen=True)
class Triton:
    """The mesh's Triton: its process group (CPU) and its metrics port (requests per model)."""

    pid: int | None
    metrics_port: int

    def requests(self) -> dict[str, float]:
        """Successful inference requests so far, per model (nv_inference_request_success)."""
        text = scrape(self.metrics_port) or ""
        out: dict[str, float] = {}
        for name, labels, value in parse_prometheus(text):
            if name == "nv_inference_request_success":
                model = labels.get("model", "?")
                out[model] = out.get(model, 0.0) + value
        return out


@dataclass
class Target:
    """One pipeline's vision service: where to stream, what to read and measure."""

    name: str
    address: str
    metrics_port: int
    pid: int


def _answered(streams: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    per = [s["modalities"].get("vision", {}) for s in streams]
    return (
        sum(m.get("windows_answered", 0) for m in per),
        sum(m.get("windows_expected", 0) for m in per),
    )


async def one_level(
    channel: ServiceChannel,
    target: Target,
    feed: Feed,
    n: int,
    plan: Plan,
    quality: str,
    triton: Triton,
) -> dict[str, Any]:
    """N concurrent streams to one pipeline: level_summary plus answered windows, the
    service's and Triton's CPU over the level, and the requests Triton served per model
    (the face models' count which pipeline found the faces)."""
    metrics = ServiceMetrics({"vision": target.metrics_port})
    before = await asyncio.to_thread(metrics.read)
    requests0 = await asyncio.to_thread(triton.requests)
    groups = {"service": target.pid} | ({"triton": triton.pid} if triton.pid else {})
    usage0, wall0 = procs.group_usage(groups), time.perf_counter()
    records, client = await run_streams(channel, feed, n, plan.seconds, plan.window_s, quality)
    wall = time.perf_counter() - wall0
    cpu = procs.cpu_delta(usage0, procs.group_usage(groups))
    requests1 = await asyncio.to_thread(triton.requests)
    streams = [stream_metrics(r) for r in records]
    level = level_summary(streams)
    answered, expected = _answered(streams)
    level |= {
        "pipeline": target.name,
        "windows_answered": answered,
        "windows_expected": expected,
        "cpu_cores": {k: v / wall for k, v in cpu.items()} if wall > 0 else {},
        "triton_requests": {
            m: v - requests0.get(m, 0.0) for m, v in requests1.items() if v > requests0.get(m, 0)
        },
        "client": client,
        "service_metrics": (await metrics.after(before)).get("vision", {}),
    }
    return level


async def stream_levels(
    targets: Sequence[Target], feed: Feed, plan: Plan, quality: str, triton: Triton
) -> dict[str, Any]:
    """Every level for every pipeline still holding, the pipelines alternating."""
    levels: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
    errors: dict[str, str] = {}
    channels = {t.name: ServiceChannel(t.address) for t in targets}
    try:
        for i, n in enumerate(plan.levels):
            order = list(targets) if i % 2 == 0 else list(reversed(targets))
            for target in order:
                done = levels[target.name]
                if target.name in errors or (done and not done[-1]["held"]):
                    continue
                try:
                    level = await one_level(
                        channels[target.name], target, feed, n, plan, quality, triton
                    )
                except Exception as e:  # noqa: BLE001 - recorded; the other pipeline goes on
                    log.exception("%s, %d stream(s) at %s failed", target.name, n, quality)
                    errors[target.name] = f"{type(e).__name__}: {e}"
                    continue
                done.append(level)
                log.info("%s: %d stream(s) at %s held=%s", target.name, n, quality, level["held"])
                await asyncio.sleep(SETTLE_S)
    finally:
        for channel in channels.values():
            await channel.close()
    return {
        name: {
            "quality": quality,
            "target_fps": STREAM_FPS,
            "seconds_per_stream": plan.seconds,
            "levels_planned": list(plan.levels),
            "max_streams_held": most_held(done),
            "levels": done,
        }
        | ({"error": errors[name]} if name in errors else {})
        for name, done in levels.items()
    }


async def warm_up(targets: Sequence[Target], feed: Feed, plan: Plan) -> None:
    """Short streams to each pipeline, as many at once as the largest level (not counted):
    models loaded, channels open, and the service's worker threads started (the dlib
    tracker builds a HOG detector per thread, ~0.5 s, on its first frame), so that no
    level's first windows pay for a start-up."""
    most = max(plan.levels, default=1)
    for target in targets:
        async with ServiceChannel(target.address) as channel:
            await run_streams(channel, feed, most, 2 * plan.window_s + 1, plan.window_s, "HIGH")
        await asyncio.sleep(SETTLE_S)


async def live_section(
    targets: Sequence[Target], samples: Samples, plan: Plan, triton: Triton
) -> dict[str, Any]:
    feed = Feed(samples)
    out: dict[str, Any] = {"feed": await asyncio.to_thread(feed.describe)}
    await warm_up(targets, feed, plan)
    out["by_quality"] = {
        q: await stream_levels(targets, feed, plan, q, triton) for q in plan.qualities
    }
    return out


async def mesh_full(mesh: Any, samples: Samples, plan: Plan, groups: Mapping[str, int]) -> Any:
    """The `full` workload through the gateway, as the latency section runs it."""
    from veritas.client import AsyncClient

    first = samples.next_run()  # runs first.. are this section's; nothing else takes them
    for _ in range(plan.mesh_runs):
        samples.next_run()
    async with AsyncClient(mesh.address("gateway"), timeout_s=120) as client:
        return await latency.through_mesh(
            client, samples, "full", plan.mesh_runs, plan.mesh_warmup, groups, first
        )


def run(plan: Plan, run_dir: Path | None = None) -> dict[str, Any]:
    """Start the mesh (all services when `mesh_runs` > 0, else Triton and vision) and the
    dlib service, measure, stop everything; the results as a JSON-able dict."""
    from benchmarks.harness import mesh_environment, settle_models
    from tools.mesh import Mesh, Ports, free_port

    began = time.monotonic()
    own = run_dir is None
    run_dir = run_dir or Path(tempfile.mkdtemp(prefix="veritas-vision-live-"))
    services = ("vision", "audio", "text", "physiology", "fusion", "gateway")
    mesh = Mesh(run_dir, ports=Ports.free(), extra_env=mesh_environment(free_port()))
    samples = Samples()
    out: dict[str, Any] = {"plan": asdict(plan), "load_average_start": procs.load_average()}
    log.info("live streams: up to %.0f s, plus the mesh's start", plan.estimate_s())
    errors: dict[str, str] = {}
    try:
        mesh.start(services=services if plan.mesh_runs > 0 else ("vision",))
        dlib = DlibService(mesh).start()
        try:
            settle_models(run_dir / "logs" / "triton.log")
            triton = getattr(mesh.triton, "process", None)
            triton_pid = triton.pid if triton is not None else None
            served = Triton(triton_pid, mesh.ports.triton_metrics)
            neural = mesh.processes["vision"]
            targets = [
                Target("dlib", dlib.address, dlib.metrics_port, dlib.pid),
                Target("neural", mesh.address("vision"), mesh.ports.metrics["vision"], neural.pid),
            ]
            try:
                out["live"] = asyncio.run(live_section(targets, samples, plan, served))
                for quality, by_pipeline in out["live"]["by_quality"].items():
                    for name, measured in by_pipeline.items():
                        if "error" in measured:
                            errors[f"live {quality} {name}"] = measured["error"]
            except Exception as e:  # noqa: BLE001 - recorded; the mesh latency still runs
                log.exception("live streams failed")
                errors["live"] = f"{type(e).__name__}: {e}"
            if plan.mesh_runs > 0:
                groups = {name: p.pid for name, p in mesh.processes.items()}
                if triton_pid:
                    groups["triton"] = triton_pid
                try:
                    out["mesh_full"] = asyncio.run(mesh_full(mesh, samples, plan, groups))
                except Exception as e:  # noqa: BLE001 - recorded
                    log.exception("mesh latency failed")
                    errors["mesh_full"] = f"{type(e).__name__}: {e}"
        finally:
            dlib.stop()
    finally:
        mesh.stop()
    out["errors"] = errors
    out["load_average_end"] = procs.load_average()
    out["wall_s"] = time.monotonic() - began
    if own and not errors:
        shutil.rmtree(run_dir, ignore_errors=True)  # kept, with the logs, after a failure
    return clean_json(out)  # type: ignore[return-value]


# --- the report ---------------------------------------------------------------------------


def _f(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def _mix(quality: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in quality.items()) or "-"


def report_lines(result: Mapping[str, Any]) -> list[str]:
    """The live section's Markdown (and the mesh row, which vision_pipeline places in its
    full-analysis table: see `mesh_full_row`)."""
    plan = result.get("plan", {})
    lines = [
        "## Live 30-fps vision streams held, dlib against the neural pipeline "
        "(**CPU only, no GPU**)",
        "",
        f"N concurrent 30-fps streams of samples/face.mp4 frames (distinct JPEGs), "
        f"{_f(plan.get('seconds'))} s each, {plan.get('window_s')} s windows, straight to each "
        "pipeline's vision service (AnalyzeLive on loopback; no gateway or fusion hop, so not "
        "comparable with the streaming benchmark's figures through the gateway). dlib: the "
        "service's servicer and analyzer with the dlib tracker (a benchmark-only process); "
        "neural: `python -m services.vision`, its face models on Triton. Both score windows "
        "on the same Triton, on this machine's CPU. The pipelines alternate at every level; "
        "each stops at its first level not held. **Held**: every stream sent >= 95% of "
        "30 fps, every window answered, p95 update latency <= 150 ms after the frame that "
        "closed the window (benchmarks/live_metrics.py). Service and Triton CPU: cores over "
        "the level, from /proc; face-model requests: what Triton served to the face models "
        "during the level (none for dlib).",
        "",
    ]
    live = result.get("live")
    if not live:
        error = result.get("errors", {}).get("live", "not run")
        return lines + [f"Not measured: {error}.", ""]
    for quality, by_pipeline in live.get("by_quality", {}).items():
        held = ", ".join(
            f"{name} {p.get('max_streams_held', 0)}" for name, p in by_pipeline.items()
        )
        lines += [
            f"### Quality {quality}: most streams held (of the levels tried): {held}",
            "",
            "| streams | pipeline | held | streams held | sent fps min | windows answered "
            "| p95 update ms (worst stream) | analysed fps per stream (mean) | quality levels "
            "(windows) | service CPU cores | Triton CPU cores | face-model requests |",
            "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
        ]
        rows = [(lv["streams"], name, lv) for name, p in by_pipeline.items() for lv in p["levels"]]
        for n, name, lv in sorted(rows, key=lambda r: (r[0], PIPELINES.index(r[1]))):
            cpu = lv.get("cpu_cores", {})
            face = face_model_requests(lv)
            lines.append(
                f"| {n} | {name} | {'yes' if lv['held'] else '**no**'} | "
                f"{lv['streams_held']}/{lv['streams']} | {_f(lv['sent_fps_min'], 1)} | "
                f"{lv['windows_answered']}/{lv['windows_expected']} | "
                f"{_f(lv['update_latency_p95_ms_max'])} | {_f(lv['analysed_fps_mean'], 1)} | "
                f"{_mix(lv['quality'])} | {_f(cpu.get('service'), 2)} | "
                f"{_f(cpu.get('triton'), 2)} | {face:.0f} |"
            )
        for name, p in by_pipeline.items():
            if "error" in p:
                lines.append(f"\n{name}: stopped by an error: {p['error']}")
        lines.append("")
    return lines


def face_model_requests(level: Mapping[str, Any]) -> float:
    """Requests Triton served to the face models during a level (0 for dlib)."""
    from services.vision.neural_face import DETECTOR, LANDMARKS

    served = level.get("triton_requests", {})
    return float(served.get(DETECTOR, 0.0) + served.get(LANDMARKS, 0.0))


def mesh_full_row(result: Mapping[str, Any]) -> str | None:
    """The mesh's full-analysis row in vision_pipeline's table (vision path, runs, total p50,
    total min-max, vision p50, CPU p50): CPU is every mesh process's and Triton's, per run."""
    mesh = result.get("mesh_full")
    if not mesh:
        return None
    lat = mesh["latency"]
    cpu = mesh.get("cpu_s_per_request_total")
    return (
        f"| neural through the mesh (gateway, Triton; mean CPU of all processes) | {lat['n']} | "
        f"{_f(lat['p50_ms'])} | {_f(lat['min_ms'])}-{_f(lat['max_ms'])} | - | "
        f"{_f(cpu * 1000 if cpu is not None else None)} |"
    )


def write_json(result: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")


def plan_from(args: argparse.Namespace) -> Plan:
    return Plan(
        levels=tuple(int(x) for x in args.live_levels.split(",") if x.strip()),
        seconds=args.live_seconds,
        qualities=tuple(q.strip().upper() for q in args.live_qualities.split(",") if q.strip()),
        mesh_runs=args.mesh_runs,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    plan = Plan()
    parser.add_argument(
        "--live-levels",
        default=",".join(map(str, plan.levels)),
        help="concurrent 30-fps streams tried, in order (default %(default)s)",
    )
    parser.add_argument("--live-seconds", type=float, default=plan.seconds)
    parser.add_argument(
        "--live-qualities", default=",".join(plan.qualities), help="default %(default)s"
    )
    parser.add_argument(
        "--mesh-runs", type=int, default=plan.mesh_runs, help="full analyses via the gateway"
    )


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["serve-dlib"]:
        serve_dlib()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--out", type=Path, default=None, help="Markdown file")
    parser.add_argument("--machine", default=None)
    args = parser.parse_args(args_in)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    machine = procs.machine()
    label = args.machine or machine["hostname"]
    when = dt.date.today().isoformat()
    result = run(plan_from(args))
    out = args.out or RESULTS / f"{when}-{label}-vision-live.md"
    from benchmarks.vision_pipeline import header, write_results

    title = "Live vision streams held: dlib vs the neural face models"
    load = result["load_average_start"]
    lines = header(machine | {"label": label}, load, when, title, result["load_average_end"])
    lines += report_lines(result)
    row = mesh_full_row(result)
    if row:
        lines += ["## Full multimodal analysis through the mesh", "", *FULL_HEADER, row, ""]
    write_results("\n".join(lines) + "\n", out)
    write_json(result, out.with_suffix(".json"))
    return 0 if not result["errors"] else 1


FULL_HEADER = (
    "| vision path | runs | total p50 ms | total min-max ms | vision p50 ms | CPU p50 ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
)


if __name__ == "__main__":
    raise SystemExit(main())
