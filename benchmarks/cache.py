"""The gateway's result cache, measured on purpose: the only section that repeats requests.

Per run: a new distinct request (a miss: analysed, then stored), the identical request again
`hits` times with new request ids (hits, each checked to say it was cached), and once more
with `x-veritas-cache: off` (analysed anew, the result cache neither read nor written; the
audio service's feature cache still answers the recording it measured for the miss). Hit, miss
and opt-out latencies are reported separately, all through the gateway's gRPC API.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import grpc

from benchmarks.stats import summarize_ms
from benchmarks.workloads import Samples
from veritas.client import AsyncClient
from veritas.v1 import common_pb2


def says_cached(result: common_pb2.AnalysisResult) -> bool:
    """Whether an answer says it came from the result cache (gateway/result_cache.py)."""
    return any(step.text.startswith("cached:") for step in result.reasoning)


def again(request: common_pb2.AnalysisRequest) -> common_pb2.AnalysisRequest:
    copy = common_pb2.AnalysisRequest()
    copy.CopyFrom(request)
    copy.request_id = uuid.uuid4().hex
    return copy


async def hits_and_misses(
    client: AsyncClient, samples: Samples, workload: str, runs: int, hits: int
) -> dict[str, Any]:
    timings: dict[str, list[float]] = {"miss": [], "hit": [], "off": []}
    marked: Counter[str] = Counter()
    errors: Counter[str] = Counter()

    async def timed(kind: str, request: common_pb2.AnalysisRequest, cache: bool = True) -> None:
        started = time.perf_counter()
        try:
            result = await client.analyze(request, cache=cache)
        except grpc.aio.AioRpcError as e:
            errors[f"{kind} {e.code().name}"] += 1
            return
        timings[kind].append(time.perf_counter() - started)
        marked[f"{kind} said cached" if says_cached(result) else f"{kind} analysed"] += 1

    for _ in range(runs):
        request = samples.request(workload)
        await timed("miss", request)
        for _ in range(hits):
            await timed("hit", again(request))
        await timed("off", again(request), cache=False)
    return {
        "workload": workload,
        "runs": runs,
        "hits_per_run": hits,
        "miss": summarize_ms(timings["miss"]),
        "hit": summarize_ms(timings["hit"]),
        "off": summarize_ms(timings["off"]),
        "answers": dict(sorted(marked.items())),
        "errors": dict(errors),
    }
