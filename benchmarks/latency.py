"""Single-analysis latency: one request at a time through the gateway, and the same analysis
in-process, so the cost of the mesh (gRPC hops, Triton, fusion) is the ratio between them.

The mesh runs are also where CPU seconds per request are measured: with one request in
flight and nothing else sent, each process group's CPU time over the runs, divided by the
number of runs, is what one analysis costs that service.

Both sides send the same runs (`Samples.request(workload, i)` for the same i), every run a
distinct input, so neither side's caches answer; the warm-up runs are distinct runs too.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import grpc

from benchmarks.inprocess import InProcess
from benchmarks.loadgen import outcome
from benchmarks.procs import cpu_delta, group_usage, self_cpu_s
from benchmarks.stats import ratio, summarize_ms
from benchmarks.workloads import MODALITY_INPUTS, Samples
from veritas.client import MODALITY_NAMES, AsyncClient
from veritas.v1 import common_pb2


async def through_mesh(
    client: AsyncClient,
    samples: Samples,
    workload: str,
    runs: int,
    warmup: int,
    groups: Mapping[str, int],
    first: int = 0,
) -> dict[str, Any]:
    """`warmup` then `runs` analyses, runs first, first + 1, ... of the workload."""
    modalities = MODALITY_INPUTS[workload]
    for _ in range(warmup):
        await client.analyze(samples.request(workload))
    outcomes: Counter[str] = Counter()
    durations = []
    before, client_before = group_usage(groups), self_cpu_s()
    for k in range(runs):
        request = samples.request(workload, first + k)
        started = time.perf_counter()
        try:
            result = await client.analyze(request)
        except grpc.aio.AioRpcError as e:
            outcomes[e.code().name] += 1
            continue
        durations.append(time.perf_counter() - started)
        outcomes[outcome(result, modalities)] += 1
    cpu = cpu_delta(before, group_usage(groups))
    per_request = {name: seconds / runs for name, seconds in cpu.items()} if runs else {}
    return {
        "runs": runs,
        "warmup_runs": warmup,
        "latency": summarize_ms(durations),
        "outcomes": dict(outcomes),
        "cpu_s_per_request": per_request,
        "cpu_s_per_request_total": sum(per_request.values()),
        "client_cpu_s_per_request": (self_cpu_s() - client_before) / runs if runs else 0.0,
    }


def in_process(
    baseline: InProcess, samples: Samples, workload: str, runs: int, warmup: int, first: int = 0
) -> dict[str, Any]:
    """The same runs as `through_mesh` (first, first + 1, ...), in this process."""
    for _ in range(warmup):
        baseline.analyze(samples.request(workload), workload)
    totals: list[float] = []
    per_modality: dict[str, list[float]] = {m: [] for m in MODALITY_INPUTS[workload]}
    cpu_before = self_cpu_s()
    for k in range(runs):
        request = samples.request(workload, first + k)
        started = time.perf_counter()
        parts = baseline.analyze(request, workload)
        totals.append(time.perf_counter() - started)
        for name, part in parts.items():
            per_modality[name].append(part.seconds)
    return {
        "runs": runs,
        "warmup_runs": warmup,
        "latency": summarize_ms(totals),
        "per_modality": {m: summarize_ms(v) for m, v in per_modality.items()},
        "cpu_s_per_request": (self_cpu_s() - cpu_before) / runs if runs else 0.0,
    }


async def agreement(
    client: AsyncClient, baseline: InProcess, samples: Samples, workload: str
) -> dict[str, dict[str, float | None]]:
    """One request both ways: each modality's final score from the mesh and in-process. They
    must match (same features, same model) for the ratio to compare like with like."""
    request = samples.request(workload)
    result = await client.analyze(request)
    mesh_scores = {m.modality: m.score for m in result.modalities if m.status == common_pb2.OK}
    local = baseline.analyze(request, workload)
    out: dict[str, dict[str, float | None]] = {}
    for name, part in local.items():
        remote = mesh_scores.get(MODALITY_NAMES[name])
        diff = None
        if remote is not None and part.final_score is not None:
            diff = abs(remote - part.final_score)
        out[name] = {"mesh": remote, "in_process": part.final_score, "abs_diff": diff}
    return out


def compare(mesh: Mapping[str, Any], local: Mapping[str, Any]) -> dict[str, float]:
    """mesh / in-process, per percentile."""
    return {
        f"{q}_ratio": ratio(mesh["latency"][f"{q}_ms"], local["latency"][f"{q}_ms"])
        for q in ("p50", "p95", "p99")
    }
