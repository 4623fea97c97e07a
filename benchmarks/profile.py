"""Where each process of the mesh spends its CPU under load: py-spy on every service while
the closed-loop load generator drives the gateway (`make profile`).

    python -m benchmarks.profile --workload text --concurrency 8 --seconds 20

Starts a fresh mesh exactly as the benchmark does (benchmarks.harness.mesh_environment),
warms it up, then samples each service process (and Triton's python-backend model
processes) with `py-spy record --nonblocking` while `--concurrency` workers send distinct
requests of the workload (benchmarks.workloads). Writes, under `--out`
(default benchmarks/results/profile-<date>-<machine>-<workload>/):

    <service>.txt      collapsed stacks (py-spy raw: `frame;frame;... count`), for flame graphs
    summary.md         per service: CPU seconds per request, then the functions with the most
                       samples on top of the stack (self) and anywhere on it (total)
    summary.json       the same numbers

The numbers are relative: sampling costs the processes a little CPU, and a loaded machine
shifts the shares. Use it to find hot spots, `make bench` to measure.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from benchmarks import loadgen, procs
from benchmarks.harness import RESULTS, machine_label, mesh_environment, settle_models
from benchmarks.workloads import MODALITY_INPUTS, WORKLOADS, Samples
from tools.mesh import Mesh, Ports, free_port
from veritas.client import AsyncClient

log = logging.getLogger("benchmarks.profile")
_LINE = re.compile(r"\s*\(([^():]+):\d+\)$")  # " (file.py:123)" at the end of a frame


def py_spy() -> str:
    """The py-spy executable beside this interpreter (requirements-dev.txt pins it)."""
    here = Path(sys.executable).parent / "py-spy"
    found = str(here) if here.exists() else shutil.which("py-spy")
    if not found:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install -r requirements-dev.txt")
    return found


def frame_name(frame: str) -> str:
    """'handler (gateway/core.py:123)' -> 'handler (gateway/core.py)': lines merged."""
    match = _LINE.search(frame)
    if not match:
        return frame.strip()
    path = match.group(1)
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = path.rsplit("/main/", 1)[-1]
    return f"{frame[: match.start()].strip()} ({path})"


def summarize_stacks(lines: Iterable[str], top: int = 15) -> dict[str, Any]:
    """Self and total sample counts per function from collapsed stacks."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_name(f) for f in stack.split(";")]
        # py-spy puts the thread name first ("process 123:..." / "thread (0x..)"): skip it.
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += n
        self_counts[frames[-1]] += n
        for name in set(frames):
            total_counts[name] += n

    def share(counts: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "samples": n, "share": n / samples if samples else 0.0}
            for name, n in counts.most_common(top)
        ]

    return {"samples": samples, "self": share(self_counts), "total": share(total_counts)}


def triton_model_pids(triton_pid: int) -> dict[str, int]:
    """The python-backend stub processes in Triton's group, by model name."""
    out: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            pgrp = procs.parse_stat((entry / "stat").read_text())[0]
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if pgrp != triton_pid or int(entry.name) == triton_pid:
            continue
        text = [c.decode(errors="replace") for c in cmdline]
        if text and text[0].endswith("triton_python_backend_stub") and len(text) > 1:
            model = Path(text[1]).parent.parent.name  # <repo>/<model>/<version>/model.py
            out[f"triton.{model}"] = int(entry.name)
    return out


def record(
    targets: Mapping[str, int], out: Path, seconds: float, rate: int, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Start py-spy on every target; returns the running processes by name."""
    spy = py_spy()
    running = {}
    for name, pid in targets.items():
        cmd = [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--duration",
            str(max(1, round(seconds))),
            "--format",
            "raw",
            # --native pauses the process to unwind C frames; otherwise never pause it.
            *(() if "--native" in extra else ("--nonblocking",)),
            "--output",
            str(out / f"{name}.txt"),
            *extra,
        ]
        running[name] = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
    return running


async def drive(address: str, samples: Samples, workload: str, concurrency: int, s: float) -> Any:
    async with AsyncClient(address, timeout_s=60) as client:
        for _ in range(3):  # warm-up, distinct runs
            await client.analyze(samples.request(workload))
        call = loadgen.analyze_call(client, samples, workload)
        return await loadgen.closed_loop(call, concurrency, s, warmup_s=0.0)


def render(result: Mapping[str, Any]) -> str:
    lines = [
        f"# Profile: {result['workload']}, {result['concurrency']} in flight, "
        f"{result['seconds']:g} s",
        "",
        f"- {result['date']} on {result['machine']['cpu_model']} "
        f"({result['machine']['cores']} cores), load average at start "
        f"{result['load_average_start']}, at end {result['load_average_end']}",
        f"- {result['requests']} requests answered ({result['requests_per_s']:.1f}/s, p50 "
        f"{result['latency'].get('p50_ms', 0):.1f} ms); py-spy at {result['rate']} Hz "
        f"({' '.join(result['py_spy_options']) or '--nonblocking'}): relative shares, not a "
        "benchmark",
        "",
        "CPU per request (ms), by process group, over the sampled window:",
        "",
        "| process | CPU ms/request |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v * 1000:.2f} |" for k, v in result["cpu_s_per_request"].items()]
    lines.append("")
    for name, stacks in result["profiles"].items():
        if "error" in stacks:
            lines += [f"## {name}", "", f"not sampled: {stacks['error']}", ""]
            continue
        lines += [f"## {name} ({stacks['samples']} samples)", ""]
        lines += ["| self % | function |", "|---|---|"]
        lines += [f"| {100 * r['share']:.1f} | `{r['function']}` |" for r in stacks["self"]]
        lines += ["", "| total % | function |", "|---|---|"]
        lines += [f"| {100 * r['share']:.1f} | `{r['function']}` |" for r in stacks["total"]]
        lines.append("")
    return "\n".join(lines)


def run(
    workload: str,
    concurrency: int,
    seconds: float,
    rate: int,
    out: Path | None,
    extra: tuple[str, ...] = (),
) -> Path:
    when = dt.datetime.now(dt.UTC)
    host = procs.machine()
    out = out or RESULTS / (
        f"profile-{when:%Y-%m-%d}-{machine_label(str(host['hostname']))}-{workload}"
    )
    out.mkdir(parents=True, exist_ok=True)
    samples = Samples()
    run_dir = Path(tempfile.mkdtemp(prefix="veritas-profile-"))
    mesh = Mesh(run_dir, ports=Ports.free(), extra_env=mesh_environment(free_port()))
    mesh.start()
    try:
        settle_models(run_dir / "logs" / "triton.log")
        wanted = ("gateway", "fusion", *MODALITY_INPUTS[workload])
        targets = {name: mesh.processes[name].pid for name in wanted}
        groups = dict(targets)
        triton = getattr(mesh.triton, "process", None)
        if triton is not None:
            groups["triton"] = triton.pid
            models = triton_model_pids(triton.pid)
            targets |= {k: v for k, v in models.items() if "text" in k or workload != "text"}
        load_start = procs.load_average()
        before = procs.group_usage(groups)
        spies = record(targets, out, seconds, rate, extra)
        level = asyncio.run(drive(mesh.address("gateway"), samples, workload, concurrency, seconds))
        after = procs.group_usage(groups)
        profiles: dict[str, Any] = {}
        for name, spy in spies.items():
            try:
                _, err = spy.communicate(timeout=seconds + 60)
            except subprocess.TimeoutExpired:
                spy.kill()
                err = b"py-spy did not finish"
            path = out / f"{name}.txt"
            if path.exists() and path.stat().st_size:
                profiles[name] = summarize_stacks(path.read_text().splitlines())
            else:
                profiles[name] = {"error": err.decode(errors="replace").strip()[-300:]}
        answered = level.ok + level.degraded
        cpu = procs.cpu_delta(before, after)
        result = {
            "date": when.isoformat(timespec="seconds"),
            "machine": host,
            "workload": workload,
            "concurrency": concurrency,
            "seconds": seconds,
            "rate": rate,
            "py_spy_options": list(extra),
            "load_average_start": load_start,
            "load_average_end": procs.load_average(),
            "requests": answered,
            "requests_per_s": level.requests_per_s,
            "latency": level.latency,
            "errors": level.errors,
            "cpu_s_per_request": {k: v / answered for k, v in cpu.items()} if answered else {},
            "profiles": profiles,
        }
    finally:
        mesh.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "summary.md").write_text(render(result) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=WORKLOADS, default="text")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--gil", action="store_true", help="only samples holding the GIL (Python's own CPU)"
    )
    parser.add_argument("--native", action="store_true", help="C/Cython frames too (slower)")
    args = parser.parse_args(argv)
    extra = (("--gil",) if args.gil else ()) + (("--native",) if args.native else ())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    started = time.monotonic()
    out = run(args.workload, args.concurrency, args.seconds, args.rate, args.out, extra)
    print(f"{out}/summary.md ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
