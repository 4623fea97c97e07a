"""Measuring in worker processes gives the same whole-input result as measuring in the
service's own process, in another process, for the caller's cache scope; bad input still
names its field; only analyzers that ask for workers get them.

The analyzer here is a small one defined for the test (the pool is what is under test; a
real one, audio's, runs in the pool in services/audio/tests/test_analysis_pool.py). It must
be importable by name: the workers are spawned and build their own."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import pytest

from veritas.analysis import Analyzer, InvalidInput, LiveSession, Window
from veritas.analysis_pool import AnalysisPool, measure_whole, processes_for
from veritas.cache import CACHE_SCOPE
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
        return text

    def windows(self, prepared: str, options: common_pb2.Options) -> Iterator[Window]:
        for i, word in enumerate(prepared.split()):
            yield Window(float(i), float(i + 1), {"letters": float(len(word))})

    def summarize(self, prepared: str, windows: Sequence[Window]) -> Window:
        letters = sum(w.features["letters"] for w in windows)
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
