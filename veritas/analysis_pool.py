"""Measuring in worker processes, for analyzers whose work holds the interpreter lock.

The audio service measures with Praat (parselmouth), which keeps Python's interpreter lock
while it computes: worker threads take turns on one core, so concurrent requests (an
AnalyzeBatch, many callers) queue behind each other whatever the machine has. An analyzer
that declares `measure_in_processes = True` (its measuring needs nothing of the service's
own process: no Triton client, no shared state but its caches) is measured, for a caller
that reads only the whole-input result (veritas.hints), in a pool of worker processes.

Each worker builds its own analyzer once (its feature cache is its own), logs and traces
like the service (its spans join the request's trace through the W3C context passed in),
and sends back the whole-input Window with its cache counters, which the service adds to
its own `veritas_cache_*` metrics. Bad input comes back as InvalidInput. A worker that dies
fails the requests it held and the pool is started anew.

The service measures one final-only request at a time in its own threads (a worker would
only add its hop); a second one at once goes to a worker (veritas.modality_service). The
workers start the first time that happens (`start`), so a service that never measures two
at once, and every start, costs nothing; until they have started, requests are measured in
threads as without a pool (`ready`). They run at a lower CPU priority (nice 10): within a
pod, the service's own event loop and live streams come first.

VERITAS_ANALYSIS_PROCESSES: `auto` (default) runs min(2, usable cores) workers, none on one
core, where usable cores are the CPU affinity capped by a cgroup CPU quota (a Kubernetes CPU
limit of 1500m counts 1); N runs N workers; `0` measures in threads, as for every other
analyzer. Each worker holds a whole audio stack and its own feature cache: the audio process
group peaked at 1,194 MB with two workers in the 2026-12-06-vm-workers record, 471 MB in
threads in the 2026-12-06-vm-hops one (benchmarks/results/; the chart's audio memory limit
is 1536Mi). What they buy: docs/performance.md, "Batching".
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import importlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from veritas.analysis import Analyzer, InvalidInput, Prepared, Window
from veritas.cache import (
    CACHE_BYTES,
    CACHE_ENTRIES,
    CACHE_EVICTIONS,
    CACHE_REQUESTS,
    CACHE_SCOPE,
    held_elsewhere,
)
from veritas.telemetry import traceparent_headers
from veritas.v1 import modality_pb2

log = logging.getLogger("veritas.analysis_pool")
tracer = trace.get_tracer("veritas.modality")
AUTO_MAX = 2
WORKER_NICE = 10  # below the service's own priority: a worker is never on a critical path
CGROUP = Path("/sys/fs/cgroup")
Totals = dict[tuple[str, tuple[str, ...]], float]  # (metric, label values) -> value

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


def cgroup_cpu_limit(root: Path = CGROUP) -> float | None:
    """This container's CPU quota in cores (cgroup v2 `cpu.max`, or v1's CFS quota and
    period), None when there is none or it cannot be read."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def usable_cores(root: Path = CGROUP) -> int:
    """Whole cores this process may keep busy: its CPU affinity, capped by a CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        cores = min(cores or 1, int(limit))
    return max(1, cores or 1)


def processes_for(analyzer: Analyzer[Any], setting: str, cores: int | None = None) -> int:
    """How many workers to run for `analyzer` (0: none); `cores`: usable_cores()."""
    if not getattr(analyzer, "measure_in_processes", False):
        return 0
    if setting.strip().lower() == "auto":
        cores = usable_cores() if cores is None else cores
        return min(AUTO_MAX, cores) if cores > 1 else 0
    return max(0, int(setting))


def cache_totals() -> Totals:
    """This process's `veritas_cache_*` counters and gauges, as a worker reports them."""
    totals: Totals = {}
    for metric in (CACHE_REQUESTS, CACHE_EVICTIONS, CACHE_BYTES, CACHE_ENTRIES):
        for family in metric.collect():
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    totals[(sample.name, tuple(sample.labels.values()))] = sample.value
    return totals


class ForwardedMetrics:
    """Adds the workers' cache metrics to this process's: each counter by what it grew
    since that worker's last report; what their caches hold, summed over the workers, beside
    this process's own (veritas.cache.held_elsewhere)."""

    def __init__(self) -> None:
        self._last: dict[int, Totals] = {}
        self._services: set[str] = set()  # those reported: a service gone reports zero
        self._lock = threading.Lock()

    def add(self, worker: int, totals: Mapping[tuple[str, tuple[str, ...]], float]) -> None:
        with self._lock:
            last = self._last.get(worker, {})
            self._last[worker] = dict(totals)
            for (name, labels), value in totals.items():
                grown = value - last.get((name, labels), 0.0)
                if name == "veritas_cache_requests_total" and grown > 0:
                    CACHE_REQUESTS.labels(*labels).inc(grown)
                elif name == "veritas_cache_evictions_total" and grown > 0:
                    CACHE_EVICTIONS.labels(*labels).inc(grown)
            self._report_held()

    def forget(self) -> None:
        """The workers are gone (a new pool starts): their caches hold nothing any more."""
        with self._lock:
            self._last.clear()
            self._report_held()

    def _report_held(self) -> None:
        held: dict[str, list[float]] = {}
        for report in self._last.values():
            for (name, labels), value in report.items():
                if name in ("veritas_cache_bytes", "veritas_cache_entries"):
                    sums = held.setdefault(labels[0], [0.0, 0.0])
                    sums[name == "veritas_cache_entries"] += value
        for service in self._services:
            held.setdefault(service, [0.0, 0.0])
        self._services = set(held)
        for service, (size, entries) in held.items():
            held_elsewhere(service, size, entries)


def _start(factory: str, service: str, telemetry: dict[str, str]) -> None:
    """A worker's initializer: logs, traces and the analyzer (`module:Class`), once."""
    from veritas.telemetry import setup_logging, setup_tracing

    global _analyzer
    setup_logging(service, telemetry.get("log_level", "INFO"))
    setup_tracing(service, telemetry.get("otlp_endpoint", ""), telemetry.get("trace_file", ""))
    module, _, name = factory.partition(":")
    _analyzer = getattr(importlib.import_module(module), name)()


def _ready() -> int:
    return os.getpid()


def _measure(data: bytes, scope: str, carrier: dict[str, str]) -> tuple[str, Any, int, Totals]:
    """In a worker: the whole-input Window of one request, or ("invalid", (field, problem))
    (InvalidInput does not survive pickling with its two arguments); then this worker's pid
    and cache metrics."""
    assert _analyzer is not None
    request = modality_pb2.ModalityRequest.FromString(data)
    scope_token = CACHE_SCOPE.set(scope)
    context_token = otel_context.attach(propagate.extract(carrier))
    try:
        outcome: tuple[str, Any] = ("ok", measure_whole(_analyzer, request))
    except InvalidInput as e:
        outcome = ("invalid", (e.field, e.problem))
    finally:
        otel_context.detach(context_token)
        CACHE_SCOPE.reset(scope_token)
    return (*outcome, os.getpid(), cache_totals())


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
        path = f"{factory.__module__}:{factory.__qualname__}"  # imported by the worker
        self._args = (path, service, dict(telemetry or {}))
        self._ready = threading.Event()
        self.metrics = ForwardedMetrics()
        self._pool: cf.ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the workers, unless they are started or starting already."""
        if self._pool is None:
            self._pool = self._spawn()

    @property
    def ready(self) -> bool:
        """Whether every worker has started (until then, callers measure in threads)."""
        return self._ready.is_set()

    def wait_ready(self, timeout_s: float) -> bool:
        return self._ready.wait(timeout_s)

    def _spawn(self) -> cf.ProcessPoolExecutor:
        """A new pool, its workers starting; `ready` once each has started."""
        self._ready.clear()
        before = {p.pid for p in multiprocessing.active_children()}
        pool = cf.ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=self._args,
        )
        # Start every worker now (one each: a worker starts per task waiting for one), each
        # at a lower priority from its first instruction on (its imports take seconds).
        started = [pool.submit(_ready) for _ in range(self.processes)]
        for child in multiprocessing.active_children():
            if child.pid is not None and child.pid not in before:
                try:
                    os.setpriority(os.PRIO_PROCESS, child.pid, WORKER_NICE)
                except OSError:  # gone already, or not ours to change: it runs as it is
                    pass
        remaining = [len(started)]
        lock = threading.Lock()

        def one_started(future: cf.Future[int]) -> None:
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0 and future.exception() is None:
                    self._ready.set()  # (a pool replaced meanwhile has no live workers)

        for future in started:
            future.add_done_callback(one_started)
        return pool

    async def whole(self, request: modality_pb2.ModalityRequest) -> Window:
        """The whole-input Window, measured in a worker; InvalidInput for bad input."""
        loop = asyncio.get_running_loop()
        self.start()
        pool = self._pool
        try:
            data, scope, carrier = (
                request.SerializeToString(),
                CACHE_SCOPE.get(),
                traceparent_headers(),
            )
            status, value, worker, totals = await loop.run_in_executor(
                pool, _measure, data, scope, carrier
            )
        except BrokenProcessPool:
            if pool is self._pool:  # the first to see it starts a new pool
                log.error("a measuring worker died; starting the pool anew")
                self.metrics.forget()
                self._pool = self._spawn()
            raise
        self.metrics.add(worker, totals)
        if status == "invalid":
            raise InvalidInput(*value)
        window: Window = value
        return window

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
