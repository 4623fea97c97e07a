"""The audio service's feature cache (veritas.cache): a recording seen again from the same
caller is not decoded and measured again; another caller's is."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.audio.analyzer import AudioAnalyzer
from veritas.cache import CACHE_REQUESTS, CACHE_SCOPE
from veritas.v1 import modality_pb2

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "speech.wav"


def test_audio_measures_a_recording_once_per_caller() -> None:
    analyzer = AudioAnalyzer(feature_cache_bytes=64 * 1024 * 1024)
    request = modality_pb2.ModalityRequest()
    request.input.media.data = SAMPLE.read_bytes()
    request.input.media.mime_type = "audio/wav"

    def hits() -> float:
        return float(CACHE_REQUESTS.labels("audio", "hit")._value.get())

    first = analyzer.prepare(request)
    before = hits()
    second = analyzer.prepare(request)
    assert hits() == before + 1
    assert second.whole == first.whole and second.tracks is first.tracks  # not measured again
    token = CACHE_SCOPE.set("tenant:other")
    try:
        third = analyzer.prepare(request)  # another caller: measured anew
    finally:
        CACHE_SCOPE.reset(token)
    assert hits() == before + 1 and third.tracks is not first.tracks
    assert third.whole == pytest.approx(first.whole, nan_ok=True)
