"""Audio, the analyzer that asks for worker processes (Praat holds the interpreter lock):
measured in a worker it gives the same whole-input result as in the service's own
process, and its bad input still names its field (veritas/analysis_pool.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.audio.analyzer import AudioAnalyzer
from veritas.analysis import InvalidInput
from veritas.analysis_pool import AnalysisPool, measure_whole, processes_for
from veritas.v1 import modality_pb2

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "speech.wav"


@pytest.fixture(scope="module")
def pool() -> Iterator[AnalysisPool]:
    workers = AnalysisPool(AudioAnalyzer, 1, "audio-test")
    workers.start()
    yield workers
    workers.close()


def speech() -> modality_pb2.ModalityRequest:
    request = modality_pb2.ModalityRequest()
    request.input.media.data = SAMPLE.read_bytes()
    request.input.media.mime_type = "audio/wav"
    return request


async def test_a_worker_measures_what_the_service_would(pool: AnalysisPool) -> None:
    here = measure_whole(AudioAnalyzer(), speech())
    there = await pool.whole(speech())
    assert there.features == pytest.approx(here.features, nan_ok=True)
    assert (there.start_s, there.end_s, there.notes) == (here.start_s, here.end_s, here.notes)


async def test_bad_input_comes_back_naming_its_field(pool: AnalysisPool) -> None:
    bad = modality_pb2.ModalityRequest()
    bad.input.media.data = b"not audio at all"
    bad.input.media.mime_type = "audio/wav"
    with pytest.raises(InvalidInput) as caught:
        await pool.whole(bad)
    assert caught.value.field.startswith("audio")


def test_audio_asks_for_worker_processes() -> None:
    assert processes_for(AudioAnalyzer(), "0") == 0
    assert processes_for(AudioAnalyzer(), "3") == 3
