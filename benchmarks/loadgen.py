"""A closed-loop grpc.aio load generator for the gateway's Analyze.

`concurrency` workers each send the next request as soon as the last one answered. After a
warm-up, calls that *finish* inside the measured window count: requests/s = finished calls /
window length; latency percentiles over the same calls; errors by gRPC status. An answer
whose requested modalities are not all OK (e.g. one timed out) counts as `degraded`, not OK.

    python -m benchmarks.loadgen --target 127.0.0.1:50051 --workload text \
        --concurrency 1,4,16 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import grpc

from benchmarks.procs import self_cpu_s
from benchmarks.stats import clean_json, summarize_ms
from benchmarks.workloads import MODALITY_INPUTS, WORKLOADS, Samples
from veritas.client import MODALITY_NAMES, AsyncClient
from veritas.v1 import common_pb2

OK, DEGRADED = "OK", "DEGRADED"


def outcome(result: common_pb2.AnalysisResult, modalities: Sequence[str]) -> str:
    """OK when every modality the workload sent finished OK, else DEGRADED."""
    status = {m.modality: m.status for m in result.modalities}
    wanted = [MODALITY_NAMES[m] for m in modalities]
    return OK if all(status.get(m) == common_pb2.OK for m in wanted) else DEGRADED


async def timed(call: Callable[[], Awaitable[str]]) -> tuple[float, float, str]:
    """(start, end, outcome) of one call; an RPC error's outcome is its status name."""
    start = time.perf_counter()
    try:
        result = await call()
    except grpc.aio.AioRpcError as e:
        result = e.code().name
    return start, time.perf_counter(), result


@dataclass
class Level:
    concurrency: int
    duration_s: float
    requests_per_s: float
    ok: int
    degraded: int
    errors: dict[str, int] = field(default_factory=dict)
    latency: dict[str, float | int] = field(default_factory=dict)
    client_cpu_cores: float = 0.0  # CPU the load generator itself used, in cores
    calls_total: int = 0  # every call that finished, warm-up and tail included
    # CPU seconds each service's process group spent per finished call (all of them):
    # filled in by a caller that watches the mesh's processes (benchmarks.harness).
    cpu_s_per_request: dict[str, float] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def level_from_calls(
    calls: Sequence[tuple[float, float, str]],
    concurrency: int,
    window: tuple[float, float],
) -> Level:
    """Summarise the calls that ended inside `window` (pure: testable without a server)."""
    start, end = window
    inside = [c for c in calls if start <= c[1] <= end]
    counts = Counter(c[2] for c in inside)
    answered = [c for c in inside if c[2] in (OK, DEGRADED)]
    duration = end - start
    return Level(
        concurrency=concurrency,
        duration_s=duration,
        requests_per_s=len(answered) / duration if duration > 0 else 0.0,
        ok=counts[OK],
        degraded=counts[DEGRADED],
        errors={k: v for k, v in sorted(counts.items()) if k not in (OK, DEGRADED)},
        latency=summarize_ms([c[1] - c[0] for c in answered]),
    )


async def closed_loop(
    call: Callable[[], Awaitable[str]],
    concurrency: int,
    duration_s: float,
    warmup_s: float = 0.5,
) -> Level:
    calls: list[tuple[float, float, str]] = []
    began, cpu_began = time.perf_counter(), self_cpu_s()
    stop_at = began + warmup_s + duration_s

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            calls.append(await timed(call))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    level = level_from_calls(calls, concurrency, (began + warmup_s, stop_at))
    level.client_cpu_cores = (self_cpu_s() - cpu_began) / (time.perf_counter() - began)
    level.calls_total = len(calls)
    return level


def analyze_call(
    client: AsyncClient, samples: Samples, workload: str
) -> Callable[[], Awaitable[str]]:
    modalities = MODALITY_INPUTS[workload]

    async def call() -> str:
        return outcome(await client.analyze(samples.request(workload)), modalities)

    return call


async def sweep(
    target: str,
    workload: str,
    levels: Sequence[int],
    duration_s: float,
    warmup_s: float = 0.5,
    api_key: str | None = None,
    samples: Samples | None = None,
) -> list[Level]:
    """One closed-loop run per concurrency level, in order, on one channel."""
    samples = samples or Samples()
    out = []
    async with AsyncClient(target, timeout_s=60, api_key=api_key) as client:
        call = analyze_call(client, samples, workload)
        for concurrency in levels:
            out.append(await closed_loop(call, concurrency, duration_s, warmup_s))
    return out


def level_json(level: Level) -> dict[str, Any]:
    return asdict(level) | {"error_count": level.error_count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="127.0.0.1:50051", help="gateway gRPC address")
    parser.add_argument("--workload", choices=WORKLOADS, default="text")
    parser.add_argument("--concurrency", default="1,2,4,8,16", help="comma-separated levels")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per level")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds before measuring")
    parser.add_argument("--api-key", default=None, help="sent as authorization: Bearer")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    results = asyncio.run(
        sweep(args.target, args.workload, levels, args.duration, args.warmup, args.api_key)
    )
    print(json.dumps(clean_json([level_json(r) for r in results]), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
