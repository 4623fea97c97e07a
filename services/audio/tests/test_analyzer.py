"""AudioAnalyzer end to end on the bundled speech sample and on known signals."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from services.audio import features
from services.audio.analyzer import AudioAnalyzer
from services.audio.report import NO_BASELINE_NOTE, NO_REFERENCE_NOTE
from services.audio.tests.signals import encode, harmonic, syllables
from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2, modality_pb2

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "speech.wav"


def request(
    data: bytes, baseline: bytes = b"", window_s: float = 0.0
) -> modality_pb2.ModalityRequest:
    r = modality_pb2.ModalityRequest(options=common_pb2.Options(window_s=window_s))
    r.input.media.CopyFrom(common_pb2.Media(data=data, mime_type="audio/wav"))
    if baseline:
        r.baseline.media.CopyFrom(common_pb2.Media(data=baseline))
    return r


@pytest.fixture(scope="module")
def analyzer() -> AudioAnalyzer:
    return AudioAnalyzer()


def test_identity() -> None:
    assert AudioAnalyzer.modality == common_pb2.AUDIO
    assert AudioAnalyzer.model_name == "audio_cues"


def test_sample_without_baseline(analyzer: AudioAnalyzer) -> None:
    r = request(SAMPLE.read_bytes(), window_s=2.0)
    prepared = analyzer.prepare(r)
    windows = list(analyzer.windows(prepared, r.options))
    assert [(w.start_s, w.end_s) for w in windows] == [(0.0, 2.0), (2.0, 4.0)]
    assert all(w.usable and 0 < w.quality <= 1 for w in windows)
    assert all(NO_BASELINE_NOTE in w.notes and not w.baseline for w in windows)
    summary = analyzer.summarize(prepared, windows)
    assert (summary.start_s, summary.end_s) == (0.0, 4.0)
    for name in features.CHANGES:  # against itself: no change (NaN where unmeasurable)
        value = summary.features[name]
        assert math.isnan(value) or value == pytest.approx(0.0, abs=1e-9), name
    # ... so it is no evidence: confidence 0 and a note saying why (not a confident 0.5).
    assert summary.quality == 0.0
    assert NO_REFERENCE_NOTE in summary.notes and NO_BASELINE_NOTE not in summary.notes
    assert set(summary.units) == set(summary.features)
    assert all(summary.units.values())
    for window in [*windows, summary]:
        egemaps = [k for k in window.features if k.startswith("egemaps.")]
        assert len(egemaps) == 88
        assert {"alpha_ratio_db", "hammarberg_index_db", "speech_rate_syl_s"} <= set(
            window.features
        )
    # the recording's start is in the first window and the summary only
    assert "onset_latency_s" in windows[0].features and "onset_latency_s" in summary.features
    assert "onset_latency_s" not in windows[1].features
    assert 0.0 <= summary.features["onset_latency_s"] < 1.0


def test_onset_latency_of_a_known_leading_silence(analyzer: AudioAnalyzer) -> None:
    x = np.concatenate([np.zeros(int(1.5 * 16_000), np.float32), syllables(3.0)])
    x += np.random.default_rng(0).normal(0, 1e-4, len(x)).astype(np.float32)
    r = request(encode(x, 16_000, "WAV"), window_s=2.0)
    prepared = analyzer.prepare(r)
    windows = list(analyzer.windows(prepared, r.options))
    summary = analyzer.summarize(prepared, windows)
    assert summary.features["onset_latency_s"] == pytest.approx(1.5, abs=0.065)
    assert windows[0].features["onset_latency_s"] == summary.features["onset_latency_s"]
    assert summary.units["onset_latency_s"] == "s"


def test_baseline_changes_are_against_the_baseline(analyzer: AudioAnalyzer) -> None:
    def wav(f0: float) -> bytes:
        return encode(harmonic(f0, 2.0), 16_000, "WAV")

    r = request(wav(150.0), baseline=wav(100.0))
    prepared = analyzer.prepare(r)
    summary = analyzer.summarize(prepared, list(analyzer.windows(prepared, r.options)))
    assert summary.features["pitch_change_st"] == pytest.approx(12 * math.log2(1.5), abs=0.02)
    assert summary.baseline["pitch_mean_hz"] == pytest.approx(100.0, abs=0.5)
    assert NO_BASELINE_NOTE not in summary.notes and NO_REFERENCE_NOTE not in summary.notes
    assert summary.quality == pytest.approx(summary.features["speech_ratio"])
    assert summary.quality > 0.9
    # baseline values are reported under the measured names, never for the changes
    assert "egemaps.loudness_sma3_amean" in summary.baseline
    assert not set(summary.baseline) & set(features.CHANGES)
    assert summary.features["alpha_ratio_change_db"] == pytest.approx(
        summary.features["alpha_ratio_db"] - summary.baseline["alpha_ratio_db"]
    )


def test_default_window_and_short_tail_merge(analyzer: AudioAnalyzer) -> None:
    r = request(encode(harmonic(150.0, 11.0), 16_000, "WAV"))
    spans = [(w.start_s, w.end_s) for w in analyzer.windows(analyzer.prepare(r), r.options)]
    assert spans == [(0.0, 5.0), (5.0, 11.0)]


def test_window_without_voice_is_unusable(analyzer: AudioAnalyzer) -> None:
    x = np.concatenate([harmonic(150.0, 2.0), np.zeros(32_000, np.float32)])
    r = request(encode(x, 16_000, "WAV"), window_s=2.0)
    windows = list(analyzer.windows(analyzer.prepare(r), r.options))
    assert [w.usable for w in windows] == [True, False]
    assert "voiced speech" in windows[1].notes[-1]


def test_bad_input_and_bad_baseline(analyzer: AudioAnalyzer) -> None:
    with pytest.raises(InvalidInput) as caught:
        analyzer.prepare(request(b"\x00garbage" * 50))
    assert caught.value.field == "audio.data"
    noise = np.random.default_rng(0).normal(0, 0.05, 16_000).astype(np.float32)
    with pytest.raises(InvalidInput) as caught:
        analyzer.prepare(request(SAMPLE.read_bytes(), baseline=encode(noise, 16_000, "WAV")))
    assert caught.value.field == "baseline.audio.data"


def test_question_timestamps_give_response_latencies() -> None:
    """Speech starts 1.0 s into the recording; the question ended at 0.5 s."""
    silence = np.random.default_rng(2).normal(0, 1e-4, 16_000).astype(np.float32)
    wav = encode(np.concatenate([silence, syllables(2.0)]), 16_000, "WAV")
    r = request(wav)
    r.questions.add(kind=common_pb2.QuestionMarker.RELEVANT, start_s=0.0, end_s=0.5)
    analyzer = AudioAnalyzer()
    prepared = analyzer.prepare(r)
    summary = analyzer.summarize(prepared, list(analyzer.windows(prepared, r.options)))
    assert summary.features["response_count"] == 1
    assert summary.features["response_latency_mean_s"] == pytest.approx(0.5, abs=0.065)
    (event,) = [e for e in summary.events if e.name == "response"]
    assert event.onset_s == 0.5 and event.magnitude == pytest.approx(0.5, abs=0.065)
