"""Batch analysis: one AnalyzeBatch call of N requests of a workload (N distinct runs), per
size.

items/s = answered items / the calls' total latency (a batch travels as one message per hop:
gateway -> one FuseBatch -> one AnalyzeBatch per modality service); each size is called
`repeats` times, and more when that would be fewer than `min_items` items (batch 1 then is
many calls, not one); each item that came back with an error code, or degraded, is counted.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import grpc

from benchmarks.loadgen import OK, outcome
from benchmarks.stats import summarize_ms
from benchmarks.workloads import MODALITY_INPUTS, Samples
from veritas.client import AsyncClient


async def batch_sizes(
    client: AsyncClient,
    samples: Samples,
    workload: str,
    sizes: Sequence[int],
    repeats: int,
    min_items: int = 0,
) -> list[dict[str, Any]]:
    modalities = MODALITY_INPUTS[workload]
    out = []
    for size in sizes:
        durations: list[float] = []
        items: Counter[str] = Counter()
        calls = max(repeats, math.ceil(min_items / size))
        for _ in range(calls):
            requests = [samples.request(workload) for _ in range(size)]
            started = time.perf_counter()
            try:
                response = await client.analyze_batch(requests)
            except grpc.aio.AioRpcError as e:
                items[f"call {e.code().name}"] += size
                continue
            durations.append(time.perf_counter() - started)
            for item in response.items:
                if item.error_code:
                    items[status_name(item.error_code)] += 1
                else:
                    items[outcome(item.result, modalities)] += 1
        latency = summarize_ms(durations)
        total_s = sum(durations)
        answered = sum(n for k, n in items.items() if k in (OK, "DEGRADED"))
        out.append(
            {
                "batch_size": size,
                "repeats": calls,
                "latency": latency,
                "items_per_s": answered / total_s if total_s > 0 else 0.0,
                "items": dict(items),
                "item_errors": sum(n for k, n in items.items() if k not in (OK, "DEGRADED")),
            }
        )
    return out


def status_name(value: int) -> str:
    """The gRPC status name of an integer code (as a BatchItem carries it)."""
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code.name
    return f"CODE_{value}"
