"""Measuring in worker processes gives the same whole-input result as measuring in the
service's own process, in another process, for the caller's cache scope; bad input still
names its field; only analyzers that ask for workers get them, as many as the cores and the
CPU limit allow; the workers run below the service's priority, and their cache metrics
reach the service's own.

The analyzer here is a small one defined for the test (the pool is what is under test; a
real one, audio's, runs in the pool in services/audio/tests/test_analysis_pool.py). It must
be importable by name: the workers are spawned and build their own."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from veritas.analysis import Analyzer, InvalidInput, LiveSession, Window
from veritas.analysis_pool import (
    WORKER_NICE,
    AnalysisPool,
    ForwardedMetrics,
    cgroup_cpu_limit,
    measure_whole,
    processes_for,
    usable_cores,
)
from veritas.cache import CACHE_BYTES, CACHE_REQUESTS, CACHE_SCOPE, BoundedCache
from veritas.v1 import common_pb2, modality_pb2


class CountingAnalyzer(Analyzer[str]):
    """Measures a transcript's words; says which process measured it, for whom."""

    modality = common_pb2.TEXT
    model_name = "counting"
    measure_in_processes = True

    def prepare(self, request: modality_pb2.ModalityRequest) -> str:
        text = request.input.transcript.text
        if not text.strip():
            raise InvalidInput("transcript.text", "empty")
        if text == "crash the worker":
            os._exit(3)  # as a native crash or the kernel's OOM killer would end it
        return text

    def windows(self, prepared: str, options: common_pb2.Options) -> Iterator[Window]:
        for i, word in enumerate(prepared.split()):
            yield Window(float(i), float(i + 1), {"letters": float(len(word))})

    def summarize(self, prepared: str, windows: Sequence[Window]) -> Window:
        letters = sum(w.features["letters"] for w in windows)
        CACHE_REQUESTS.labels("pool-test", "miss").inc()  # as a feature cache would count
        return Window(
            0.0,
            float(len(windows)),
            {"words": float(len(windows)), "letters": letters, "pid": float(os.getpid())},
            notes=[f"scope={CACHE_SCOPE.get()}"],
        )

    def open_live(self, config: common_pb2.StreamConfig) -> LiveSession:
        raise NotImplementedError


class InlineAnalyzer(CountingAnalyzer):
    measure_in_processes = False


@pytest.fixture(scope="module")
def pool() -> Iterator[AnalysisPool]:
    workers = AnalysisPool(CountingAnalyzer, 1, "pool-test")
    workers.start()
    yield workers
    workers.close()


def transcript(text: str) -> modality_pb2.ModalityRequest:
    request = modality_pb2.ModalityRequest()
    request.input.transcript.text = text
    return request


async def test_a_worker_measures_what_the_service_would(pool: AnalysisPool) -> None:
    request = transcript("I was at home all evening")
    here = measure_whole(CountingAnalyzer(), request)
    token = CACHE_SCOPE.set("tenant:acme")
    try:
        there = await pool.whole(request)
    finally:
        CACHE_SCOPE.reset(token)
    assert there.features.pop("pid") != here.features.pop("pid") == os.getpid()
    assert there.features == here.features == {"words": 6.0, "letters": 20.0}
    assert (there.start_s, there.end_s) == (here.start_s, here.end_s)
    assert there.notes == ["scope=tenant:acme"] and here.notes == ["scope="]


async def test_bad_input_comes_back_naming_its_field(pool: AnalysisPool) -> None:
    with pytest.raises(InvalidInput) as caught:
        await pool.whole(transcript("   "))
    assert (caught.value.field, caught.value.problem) == ("transcript.text", "empty")


def test_only_analyzers_that_ask_for_processes_get_them() -> None:
    assert processes_for(InlineAnalyzer(), "4") == 0
    assert processes_for(CountingAnalyzer(), "0") == 0
    assert processes_for(CountingAnalyzer(), "3") == 3
    assert 0 <= processes_for(CountingAnalyzer(), "auto") <= 2


def test_auto_runs_two_workers_where_two_cores_are_usable_and_none_on_one() -> None:
    assert processes_for(CountingAnalyzer(), "auto", cores=1) == 0
    assert processes_for(CountingAnalyzer(), "auto", cores=2) == 2
    assert processes_for(CountingAnalyzer(), "auto", cores=16) == 2
    assert processes_for(InlineAnalyzer(), "auto", cores=16) == 0


def test_a_cpu_limit_caps_the_usable_cores(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")  # a Kubernetes limit of 1500m
    assert cgroup_cpu_limit(v2) == 1.5 and usable_cores(v2) == 1
    (v2 / "cpu.max").write_text("max 100000\n")  # no limit: the affinity decides
    assert cgroup_cpu_limit(v2) is None
    assert usable_cores(v2) == len(os.sched_getaffinity(0))
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert cgroup_cpu_limit(v1) == 1.0 and usable_cores(v1) == 1
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1")  # cgroup v1's "no limit"
    assert cgroup_cpu_limit(v1) is None
    assert cgroup_cpu_limit(tmp_path / "nothing") is None


def test_a_pool_starts_no_worker_until_asked() -> None:
    before = {p.pid for p in multiprocessing.active_children()}
    idle = AnalysisPool(CountingAnalyzer, 2, "pool-test")
    assert not idle.ready
    assert {p.pid for p in multiprocessing.active_children()} == before
    idle.close()


async def test_workers_start_below_the_services_priority(pool: AnalysisPool) -> None:
    assert pool.wait_ready(120) and pool.ready
    there = await pool.whole(transcript("who measured this"))
    worker = int(there.features["pid"])
    expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICE)
    assert os.getpriority(os.PRIO_PROCESS, worker) == expected


async def test_a_workers_cache_counts_reach_the_services_metrics(pool: AnalysisPool) -> None:
    misses = CACHE_REQUESTS.labels("pool-test", "miss")
    before = misses._value.get()
    await pool.whole(transcript("counted over there"))
    await pool.whole(transcript("and counted again"))
    assert misses._value.get() == before + 2  # counted in the worker, seen here


async def test_a_worker_that_dies_fails_its_request_and_the_pool_starts_anew() -> None:
    workers = AnalysisPool(CountingAnalyzer, 1, "pool-test")
    workers.start()
    try:
        assert workers.wait_ready(120)
        with pytest.raises(BrokenProcessPool):
            await workers.whole(transcript("crash the worker"))
        assert not workers.ready  # a new worker is starting: callers measure in threads
        after = await workers.whole(transcript("still measured"))
        assert after.features["words"] == 2.0
        assert workers.wait_ready(120)
    finally:
        workers.close()


def test_forwarded_counters_grow_by_each_workers_growth_and_gauges_sum() -> None:
    forwarded = ForwardedMetrics()
    hits = CACHE_REQUESTS.labels("forward-test", "hit")
    held = CACHE_BYTES.labels("forward-test")
    before = hits._value.get()
    hit, size = (
        ("veritas_cache_requests_total", ("forward-test", "hit")),
        (
            "veritas_cache_bytes",
            ("forward-test",),
        ),
    )
    forwarded.add(101, {hit: 3.0, size: 1000.0})
    forwarded.add(102, {hit: 2.0, size: 500.0})
    forwarded.add(101, {hit: 4.0, size: 1200.0})  # worker 101 counted one more since
    assert hits._value.get() == before + 6
    assert held._value.get() == 1700.0


def test_what_workers_caches_hold_shows_beside_this_processes_own() -> None:
    own: BoundedCache[str, bytes] = BoundedCache("forward-own", 1 << 20, 100, 60.0)
    own.put("a", b"x", 300)
    forwarded = ForwardedMetrics()
    size, entries = (
        ("veritas_cache_bytes", ("forward-own",)),
        (
            "veritas_cache_entries",
            ("forward-own",),
        ),
    )

    def shown(metric: str) -> float | None:
        return REGISTRY.get_sample_value(metric, {"service": "forward-own"})

    forwarded.add(201, {size: 1000.0, entries: 4.0})
    forwarded.add(202, {size: 500.0, entries: 2.0})
    assert shown("veritas_cache_bytes") == 300 + 1500
    assert shown("veritas_cache_entries") == 1 + 6
    forwarded.forget()  # the workers died: a new pool starts with empty caches
    assert shown("veritas_cache_bytes") == 300 and shown("veritas_cache_entries") == 1
