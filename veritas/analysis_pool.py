"""Measuring in worker processes, for analyzers whose work holds the interpreter lock.

The audio service measures with Praat (parselmouth), which keeps Python's interpreter lock
while it computes: worker threads take turns on one core, so concurrent requests (an
AnalyzeBatch, many callers) queue behind each other whatever the machine has. An analyzer
that declares `measure_in_processes = True` (its measuring needs nothing of the service's
own process: no Triton client, no shared state but its caches) is measured, for a caller
that reads only the whole-input result (veritas.hints), in a pool of worker processes.

Each worker builds its own analyzer once (its feature cache is its own), logs and traces
like the service (its spans join the request's trace through the W3C context passed in),
and sends back the whole-input Window. Bad input comes back as InvalidInput. A worker that
dies fails the requests it held and the pool is started anew.

VERITAS_ANALYSIS_PROCESSES: `0` (default) measures in threads, as for every other analyzer;
N runs N workers; `auto` runs min(2, usable cores), none on a one-core machine. Off by
default: each worker is a whole interpreter with the audio stack loaded (memory, a slower
start), on a 2-core machine the rest of the mesh already keeps the cores busy, and no
benchmark here measures what the workers buy. With cores to spare (audio's measuring holds
the lock for most of its CPU time: docs/performance.md), turn it on, or run more audio
replicas.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from veritas.analysis import Analyzer, InvalidInput, Prepared, Window
from veritas.cache import CACHE_SCOPE
from veritas.telemetry import traceparent_headers
from veritas.v1 import modality_pb2

log = logging.getLogger("veritas.analysis_pool")
tracer = trace.get_tracer("veritas.modality")
AUTO_MAX = 2

_analyzer: Analyzer[Any] | None = None  # in a worker: the analyzer it built at start


def measure_whole(analyzer: Analyzer[Prepared], request: modality_pb2.ModalityRequest) -> Window:
    """prepare, the windows the summary needs (none when `summary_needs_windows` is False,
    e.g. text), then the whole-input summary, each step a span."""
    with tracer.start_as_current_span("decode"):
        prepared = analyzer.prepare(request)
    windows: list[Window] = []
    if getattr(analyzer, "summary_needs_windows", True):
        with tracer.start_as_current_span("features.windows"):
            windows = list(analyzer.windows(prepared, request.options))
    with tracer.start_as_current_span("features.summary"):
        return analyzer.summarize(prepared, windows)


def processes_for(analyzer: Analyzer[Any], setting: str) -> int:
    """How many workers to run for `analyzer` (0: none)."""
    if not getattr(analyzer, "measure_in_processes", False):
        return 0
    if setting.strip().lower() == "auto":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        return min(AUTO_MAX, cores) if cores > 1 else 0
    return max(0, int(setting))


def _start(factory: Callable[[], Analyzer[Any]], service: str, telemetry: dict[str, str]) -> None:
    """A worker's initializer: logs, traces and the analyzer, once."""
    from veritas.telemetry import setup_logging, setup_tracing

    global _analyzer
    setup_logging(service, telemetry.get("log_level", "INFO"))
    setup_tracing(service, telemetry.get("otlp_endpoint", ""), telemetry.get("trace_file", ""))
    _analyzer = factory()


def _ready() -> int:
    return os.getpid()


def _measure(data: bytes, scope: str, carrier: dict[str, str]) -> tuple[str, Any]:
    """In a worker: the whole-input Window of one request, or ("invalid", (field, problem))
    (InvalidInput does not survive pickling with its two arguments)."""
    assert _analyzer is not None
    request = modality_pb2.ModalityRequest.FromString(data)
    scope_token = CACHE_SCOPE.set(scope)
    context_token = otel_context.attach(propagate.extract(carrier))
    try:
        return "ok", measure_whole(_analyzer, request)
    except InvalidInput as e:
        return "invalid", (e.field, e.problem)
    finally:
        otel_context.detach(context_token)
        CACHE_SCOPE.reset(scope_token)


class AnalysisPool:
    """The worker processes of one modality service (spawned: nothing of the parent's
    gRPC state is inherited)."""

    def __init__(
        self,
        factory: Callable[[], Analyzer[Any]],
        processes: int,
        service: str,
        telemetry: dict[str, str] | None = None,
    ) -> None:
        self.processes = processes
        self._args = (factory, service, dict(telemetry or {}))
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        pool = cf.ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=self._args,
        )
        for _ in range(self.processes):  # start every worker now, not on the first request
            pool.submit(_ready)
        return pool

    async def whole(self, request: modality_pb2.ModalityRequest) -> Window:
        """The whole-input Window, measured in a worker; InvalidInput for bad input."""
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            data, scope, carrier = (
                request.SerializeToString(),
                CACHE_SCOPE.get(),
                traceparent_headers(),
            )
            status, value = await loop.run_in_executor(pool, _measure, data, scope, carrier)
        except BrokenProcessPool:
            if pool is self._pool:  # the first to see it starts a new pool
                log.error("a measuring worker died; starting the pool anew")
                self._pool = self._new_pool()
            raise
        if status == "invalid":
            raise InvalidInput(*value)
        window: Window = value
        return window

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
