"""Run every benchmark section against a freshly started mesh and write the results.

    python -m benchmarks --profile quick        # make bench-quick
    python -m benchmarks --profile full         # make bench
    python -m benchmarks --profile tiny --sections streaming --out /tmp/smoke   # plumbing

Order: start the mesh (its cold start is measured), single-analysis latency (mesh, then
in-process), batch, streaming, throughput (grpc.aio load generator), HTTP load (locust),
resources; then stop the mesh and write <date>-<machine>[-<profile>].json, .md and PNGs to
benchmarks/results/. A section that fails is recorded with its error and the run exits 1
after writing what it has.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import logging
import re
import shutil
import subprocess
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from benchmarks import (
    batch,
    floor,
    latency,
    loadgen,
    locust_run,
    plots,
    procs,
    report,
    scaling,
    streaming,
    transport,
)
from benchmarks import cache as cache_bench
from benchmarks.inprocess import InProcess
from benchmarks.profiles import PROFILES, Profile
from benchmarks.stats import clean_json
from benchmarks.targets import evaluate
from benchmarks.triton_log import load_counts, loads_in_flight, model_load_times
from benchmarks.workloads import SAMPLES, WORKLOADS, Samples, modality_requests
from tools.mesh import Mesh, Ports, free_port
from veritas.client import AsyncClient
from veritas.config import VARIABLES

log = logging.getLogger("benchmarks")
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
UNLIMITED = "1000000"


def mesh_environment(http_port: int, samples: Path = SAMPLES) -> dict[str, str]:
    """What the benchmark mesh runs with beyond the defaults, and why: no credentials to
    manage (loopback only), and limits high enough that the numbers measure the mesh, not
    the per-tenant rate limiter (every benchmark call comes from one tenant)."""
    return {
        "VERITAS_AUTH": "none",
        "VERITAS_HTTP_PORT": str(http_port),
        "VERITAS_RATE_LIMIT_RPS": UNLIMITED,
        "VERITAS_RATE_LIMIT_BURST": UNLIMITED,
        "VERITAS_MAX_STREAMS_PER_TENANT": "1024",
        "VERITAS_MEDIA_URI_ALLOWLIST": f"file://{samples.resolve()}/",
        # The result cache at its documented size, whatever this process's environment says
        # (the integration tests turn it off for their own meshes).
        "VERITAS_CACHE_MAX_MB": VARIABLES["VERITAS_CACHE_MAX_MB"][0],
    }


def machine_label(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "machine"


def output_stem(when: dt.datetime, machine: str, profile: str) -> str:
    suffix = "" if profile == "full" else f"-{profile}"
    return f"{when:%Y-%m-%d}-{machine_label(machine)}{suffix}"


def git_revision() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def http_api_up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def settle_models(log_path: Path, quiet_s: float = 1.0, timeout_s: float = 60.0) -> int:
    """Wait until Triton has no model load in flight and its log has been quiet for
    `quiet_s` (right after start it may reload models), so that measurements do not overlap
    a load; returns the log's length then: what follows it happened during the run."""
    end = time.monotonic() + timeout_s
    last_size, quiet_since = -1, time.monotonic()
    while time.monotonic() < end:
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        if len(text) != last_size:
            last_size, quiet_since = len(text), time.monotonic()
        elif loads_in_flight(text) == 0 and time.monotonic() - quiet_since >= quiet_s:
            return len(text)
        time.sleep(0.2)
    return max(last_size, 0)


def scrape_memory_metric(port: int) -> float | None:
    """veritas_memory_usage_bytes from a service's /metrics, for comparison with /proc."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    match = re.search(r"^veritas_memory_usage_bytes\{[^}]*\}\s+(\S+)", text, re.MULTILINE)
    return float(match.group(1)) if match else None


class Run:
    """One benchmark run: the mesh, the results so far, and which sections failed."""

    def __init__(self, profile: Profile, samples: Samples) -> None:
        self.profile = profile
        self.samples = samples
        self.results: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.section_s: dict[str, float] = {}

    def section(self, name: str, work: Callable[[], Any]) -> Any:
        log.info("section %s", name)
        began = time.monotonic()
        try:
            value = work()
        except Exception as e:  # noqa: BLE001 - recorded; the run goes on and exits 1
            log.error("section %s failed: %s", name, e)
            self.errors[name] = "".join(traceback.format_exception_only(e)).strip()
            value = {"error": self.errors[name]}
            log.debug("%s", traceback.format_exc())
        parts = value.get("part_errors") if isinstance(value, dict) else None
        if parts:  # some experiments of the section failed, the others were measured
            self.errors[name] = "; ".join(f"{k}: {v}" for k, v in parts.items())
        self.section_s[name] = time.monotonic() - began
        self.results[name] = value
        return value

    def skip(self, name: str, why: str) -> None:
        self.results[name] = {"skipped": why}


async def _latency(
    mesh: Mesh, profile: Profile, samples: Samples, groups: Mapping[str, int]
) -> dict[str, Any]:
    baseline = InProcess.for_workloads(tuple(profile.latency_runs))
    out: dict[str, Any] = {}
    async with AsyncClient(mesh.address("gateway"), timeout_s=120) as client:
        for workload, runs in profile.latency_runs.items():
            warm = profile.latency_warmup
            scores = await latency.agreement(client, baseline, samples, workload)
            # Runs first.. are sent both ways; nothing else takes them (next_run is past).
            first = samples.next_run()
            for _ in range(runs):
                samples.next_run()
            through = await latency.through_mesh(
                client, samples, workload, runs, warm, groups, first
            )
            local = latency.in_process(baseline, samples, workload, runs, warm, first)
            out[workload] = {"mesh": through, "in_process": local, "scores": scores}
            out[workload] |= latency.compare(through, local)
            if workload == "text":  # the same reviews through the same hops, doing nothing
                out[workload]["floor"] = await _floor(mesh, profile, samples, first, runs, warm)
                # and one hop alone, unary and on an open stream (15 messages a run)
                out[workload]["transport"] = await transport.measure_hop(max(100, 15 * runs))
    return out


async def _floor(
    mesh: Mesh, profile: Profile, samples: Samples, first: int, runs: int, warm: int
) -> dict[str, Any]:
    """benchmarks.floor on the text-only runs first, first + 1, ... (the latency section's),
    warmed up and loaded with reviews of runs no one else takes."""

    def text_request(i: int | None = None) -> bytes:
        request = samples.request("text", i)
        return modality_requests(request, ("text",))["text"].SerializeToString()

    return await floor.measure(
        mesh.triton_url,
        [text_request(first + k) for k in range(runs)],
        [text_request() for _ in range(max(1, warm))],  # one at least: the readiness probe
        mesh.model_source,
        request=text_request,
        levels=profile.throughput_levels.get("text", ()),
        level_seconds=min(5.0, profile.throughput_seconds),
    )


async def _batch(mesh: Mesh, profile: Profile, samples: Samples) -> dict[str, Any]:
    """Every batch workload; `workload`/`sizes` repeat the first one (the plot's)."""
    by_workload: dict[str, Any] = {}
    async with AsyncClient(mesh.address("gateway"), timeout_s=300) as client:
        for workload in profile.batch_workloads:
            await client.analyze(samples.request(workload))  # warm-up
            by_workload[workload] = await batch.batch_sizes(
                client,
                samples,
                workload,
                profile.batch_sizes,
                profile.batch_repeats,
                profile.batch_min_items,
            )
    first = profile.batch_workloads[0]
    return {"workload": first, "sizes": by_workload[first], "by_workload": by_workload}


async def _streaming(mesh: Mesh, profile: Profile, samples: Samples) -> dict[str, Any]:
    vision = mesh.processes.get("vision")
    return await streaming.run_all(
        mesh.address("gateway"),
        samples,
        profile.live_plan(),
        vision.pid if vision is not None else None,
        mesh.ports.metrics,
    )


async def _throughput(
    mesh: Mesh, profile: Profile, samples: Samples, groups: Mapping[str, int]
) -> dict[str, Any]:
    """One closed-loop run per level; each level also reports the CPU every service's
    process group spent per request (all calls of the level, warm-up included)."""
    out = {}
    async with AsyncClient(mesh.address("gateway"), timeout_s=60) as client:
        for workload, levels in profile.throughput_levels.items():
            call = loadgen.analyze_call(client, samples, workload)
            runs = []
            for concurrency in levels:
                before = procs.group_usage(groups)
                level = await loadgen.closed_loop(
                    call, concurrency, profile.throughput_seconds, profile.throughput_warmup_s
                )
                cpu = procs.cpu_delta(before, procs.group_usage(groups))
                if level.calls_total:
                    level.cpu_s_per_request = {
                        name: seconds / level.calls_total for name, seconds in cpu.items()
                    }
                runs.append(loadgen.level_json(level))
            out[workload] = runs
    return out


async def _cache(mesh: Mesh, profile: Profile, samples: Samples) -> dict[str, Any]:
    async with AsyncClient(mesh.address("gateway"), timeout_s=120) as client:
        return {
            workload: await cache_bench.hits_and_misses(
                client, samples, workload, runs, profile.cache_hits_per_run
            )
            for workload, runs in profile.cache_runs.items()
        }


def _http_load(profile: Profile, http_port: int) -> dict[str, Any]:
    if profile.locust_seconds <= 0:
        return {"skipped": "disabled in this profile"}
    if importlib.util.find_spec("locust") is None:
        return {"skipped": "locust is not installed (pip install locust==2.47.0)"}
    if not http_api_up(http_port):
        return {"skipped": f"no HTTP API answered on port {http_port} (GET /healthz)"}
    return locust_run.run_locust(
        f"http://127.0.0.1:{http_port}", profile.locust_users, profile.locust_seconds
    )


def _resources(
    mesh: Mesh,
    groups: Mapping[str, int],
    started: Mapping[str, procs.Usage],
    cold_start_s: float,
    log_offset: int,
) -> dict[str, Any]:
    now = procs.group_usage(groups)
    processes: dict[str, dict[str, float | int | None]] = {}
    for name, usage in now.items():
        processes[name] = {
            "processes": usage.processes,
            "rss_bytes_after_start": started[name].rss_bytes,
            "cpu_s_after_start": started[name].cpu_s,  # its start, and the models' settling
            "rss_bytes_end": usage.rss_bytes,
            "peak_rss_bytes": usage.peak_rss_bytes,
            "cpu_s_total": usage.cpu_s,
        }
        if name in mesh.ports.metrics:
            processes[name]["metric_memory_usage_bytes"] = scrape_memory_metric(
                mesh.ports.metrics[name]
            )
    log_path = mesh.run_dir / "logs" / "triton.log"
    triton_log = log_path.read_text(errors="replace") if log_path.exists() else ""
    return {
        "cold_start_s": cold_start_s,
        "triton_ready_s": getattr(mesh.triton, "started_in_s", None),
        "model_load_s": model_load_times(triton_log),
        "model_loads_at_start": load_counts(triton_log[:log_offset]),
        "models_reloaded_during_run": sorted(load_counts(triton_log[log_offset:])),
        "processes": processes,
        "total_rss_bytes_end": sum(u.rss_bytes for u in now.values()),
        "total_peak_rss_bytes": sum(u.peak_rss_bytes for u in now.values()),
    }


SECTIONS = ("latency", "batch", "cache", "streaming", "throughput", "http_load", "resources")


def run(
    profile: Profile,
    out_dir: Path = RESULTS,
    machine: str | None = None,
    run_dir: Path | None = None,
    sections: tuple[str, ...] = SECTIONS,
) -> tuple[dict[str, Any], dict[str, Path], bool]:
    """Run the suite (or only `sections`); returns (results, written files, all sections
    that ran succeeded)."""
    began = time.monotonic()
    when = dt.datetime.now(dt.UTC)
    host = procs.machine()
    label = machine or str(host["hostname"])
    stem = output_stem(when, label, profile.name)
    samples = Samples()
    bench = Run(profile, samples)
    # Outside the repository: `make clean` elsewhere must not delete a running mesh's files.
    own_run_dir = run_dir is None
    run_dir = run_dir or Path(tempfile.mkdtemp(prefix=f"veritas-bench-{stem}-"))
    http_port = free_port()
    env = mesh_environment(http_port)
    meta: dict[str, Any] = {
        "date": when.isoformat(timespec="seconds"),
        "machine_label": machine_label(label),
        "machine": host,
        "load_average_start": procs.load_average(),
        "git": git_revision(),
        "profile": profile.as_json(),
        "workloads": bench.section("workloads", samples.describe),
        "mesh_environment": env,
        "run_dir": str(run_dir),  # the mesh's logs; removed after a run without errors
    }
    mesh = Mesh(run_dir, ports=Ports.free(), extra_env=env)
    mesh_began = time.monotonic()
    try:
        mesh.start()
    except Exception:
        mesh.stop()
        raise
    cold_start_s = time.monotonic() - mesh_began
    try:
        log_offset = settle_models(mesh.run_dir / "logs" / "triton.log")
        groups = {name: p.pid for name, p in mesh.processes.items()}
        if mesh.triton is not None and getattr(mesh.triton, "process", None) is not None:
            groups["triton"] = mesh.triton.process.pid  # type: ignore[attr-defined]
        started = procs.group_usage(groups)
        work: dict[str, Callable[[], Any]] = {
            "latency": lambda: asyncio.run(_latency(mesh, profile, samples, groups)),
            "batch": lambda: asyncio.run(_batch(mesh, profile, samples)),
            "cache": lambda: asyncio.run(_cache(mesh, profile, samples)),
            "streaming": lambda: asyncio.run(_streaming(mesh, profile, samples)),
            "throughput": lambda: asyncio.run(_throughput(mesh, profile, samples, groups)),
            "http_load": lambda: _http_load(profile, http_port),
            "resources": lambda: _resources(mesh, groups, started, cold_start_s, log_offset),
        }
        for name, section in work.items():
            if name in sections:
                bench.section(name, section)
            else:
                bench.skip(name, "not run (--sections)")
    finally:
        mesh.stop()
    results = meta | {k: v for k, v in bench.results.items() if k != "workloads"}
    try:
        results["scaling"] = scaling.scaling(results, profile.scaling_rate)
    except Exception as e:  # noqa: BLE001 - derived numbers: recorded, never fatal
        results["scaling"] = {"error": "".join(traceback.format_exception_only(e)).strip()}
    results["targets"] = evaluate(results)
    results["load_average_end"] = procs.load_average()
    results["section_s"] = bench.section_s
    results["errors"] = bench.errors
    results["wall_s"] = time.monotonic() - began
    results = clean_json(results)  # type: ignore[assignment]
    files = write(results, out_dir, stem)
    if own_run_dir and not bench.errors:
        shutil.rmtree(run_dir, ignore_errors=True)  # kept, with the logs, when a section failed
    return results, files, not bench.errors


def write(results: dict[str, Any], out_dir: Path, stem: str) -> dict[str, Path]:
    """The JSON, the plots and the Markdown summary, side by side in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / f"{stem}.json"}
    files["json"].write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    files |= plots.write_all(results, out_dir, stem)
    files["markdown"] = out_dir / f"{stem}.md"
    files["markdown"].write_text(report.render(results, {k: v.name for k, v in files.items()}))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the Veritas mesh on this machine.")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("--machine", default=None, help="label in the file names (hostname)")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})",
    )
    parser.add_argument(
        "--render", type=Path, default=None, help="only rewrite plots and summary of this JSON"
    )
    args = parser.parse_args(argv)
    chosen = tuple(s.strip() for s in args.sections.split(",") if s.strip())
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"--sections: unknown section(s) {', '.join(unknown)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.render:
        written = write(json.loads(args.render.read_text()), args.render.parent, args.render.stem)
        print("\n".join(str(p) for p in written.values()))
        return 0
    results, files, ok = run(PROFILES[args.profile], args.out, args.machine, sections=chosen)
    for path in files.values():
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    print(f"wall time {results['wall_s']:.0f} s; workloads: {', '.join(WORKLOADS)}")
    if not ok:
        print("failed sections: " + ", ".join(results["errors"]))
    return 0 if ok else 1
