"""Features on signals whose answers are known."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from services.audio import features
from services.audio.tests.signals import RATE, harmonic, syllables, with_gaps

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "speech.wav"


def whole(x: np.ndarray) -> dict[str, float]:
    tracks = features.analyse(x)
    return features.measure(tracks, 0.0, tracks.duration_s)


@pytest.mark.parametrize("f0", [100.0, 150.0, 220.0])
def test_harmonic_tone_pitch_is_its_fundamental(f0: float) -> None:
    m = whole(harmonic(f0, 1.0))
    assert m["pitch_mean_hz"] == pytest.approx(f0, abs=0.5)
    assert m["pitch_sd_st"] < 0.05
    assert m["pitch_range_st"] < 0.1


def test_perfectly_periodic_tone_has_no_jitter_and_high_hnr() -> None:
    m = whole(harmonic(150.0, 1.0))
    assert m["jitter_local_pct"] < 0.05  # Praat: healthy sustained vowels are < ~1 %
    assert m["shimmer_local_pct"] < 0.1
    assert m["hnr_db"] > 30


def test_known_silent_gaps_are_the_pauses() -> None:
    gaps = [0.6, 1.0, 0.4]
    tracks = features.analyse(with_gaps(gaps))
    lengths = tracks.pauses[:, 1] - tracks.pauses[:, 0]
    assert len(lengths) == len(gaps)
    # 30 ms VAD frames: each edge can be off by up to one frame.
    np.testing.assert_allclose(lengths, gaps, atol=0.065)
    m = features.measure(tracks, 0.0, tracks.duration_s)
    assert m["pause_count"] == 3
    assert m["pause_longest_s"] == pytest.approx(1.0, abs=0.065)
    assert m["pause_mean_s"] == pytest.approx(np.mean(gaps), abs=0.065)
    assert m["speech_ratio"] == pytest.approx(6.0 / 8.0, abs=0.03)


def test_gaps_shorter_than_the_pause_threshold_and_margins_are_not_pauses() -> None:
    x = np.concatenate([np.zeros(RATE, np.float32), with_gaps([0.15]), np.zeros(RATE, np.float32)])
    m = whole(x)
    assert m["pause_count"] == 0


def test_window_counts_only_its_own_pauses() -> None:
    tracks = features.analyse(with_gaps([0.6, 1.0]))  # pauses at 1.5-2.1 s and 3.6-4.6 s
    assert features.measure(tracks, 0.0, 3.0)["pause_count"] == 1
    assert features.measure(tracks, 3.0, 6.1)["pause_longest_s"] == pytest.approx(1.0, abs=0.065)


def test_syllable_nuclei_follow_the_modulation_rate() -> None:
    for rate in (3.0, 5.0):
        m = whole(syllables(4.0, rate_hz=rate))
        assert m["articulation_rate_syl_s"] == pytest.approx(rate, rel=0.1)


def test_speech_rate_counts_pauses_articulation_rate_does_not() -> None:
    m = whole(with_gaps([1.0, 1.0]))  # 4.5 s of 4 syl/s bursts in 6.5 s
    assert m["articulation_rate_syl_s"] == pytest.approx(4.0, rel=0.1)
    assert m["speech_rate_syl_s"] == pytest.approx(4.0 * 4.5 / 6.5, rel=0.1)


@pytest.mark.parametrize("silence_s", [0.0, 0.5, 1.2])
def test_onset_latency_is_the_leading_silence(silence_s: float) -> None:
    lead = np.random.default_rng(1).normal(0, 1e-4, int(silence_s * RATE)).astype(np.float32)
    tracks = features.analyse(np.concatenate([lead, with_gaps([0.6])]))
    assert features.onset_latency_s(tracks) == pytest.approx(silence_s, abs=0.065)
    assert math.isnan(features.onset_latency_s(features.analyse(np.zeros(RATE, np.float32))))


def test_changes_against_a_reference() -> None:
    low = whole(harmonic(100.0, 1.0))
    high = whole(harmonic(150.0, 1.0, level=0.15))
    c = features.changes(high, low)
    assert c["pitch_change_st"] == pytest.approx(12 * math.log2(1.5), abs=0.02)
    assert c["loudness_change_db"] == pytest.approx(-6.0, abs=0.5)
    assert set(c) == set(features.CHANGES)
    assert c["speech_ratio_change"] == pytest.approx(0.0, abs=0.05)


def test_change_arithmetic_per_kind() -> None:
    ref = {"articulation_rate_syl_s": 4.0, "hnr_db": 12.0, "pause_mean_s": 0.5}
    now = {"articulation_rate_syl_s": 5.0, "hnr_db": 9.0, "pause_mean_s": 0.8}
    c = features.changes(now, ref)
    assert c["articulation_rate_change_pct"] == pytest.approx(25.0)
    assert c["hnr_change_db"] == pytest.approx(-3.0)
    assert c["pause_mean_change_s"] == pytest.approx(0.3)
    assert math.isnan(c["pitch_change_st"]) and math.isnan(c["alpha_ratio_change_db"])


def test_silence_has_no_pitch() -> None:
    m = whole(np.zeros(RATE, np.float32))
    assert m["voiced_s"] == 0 and math.isnan(m["pitch_mean_hz"])
    assert m["speech_ratio"] == 0 and m["pause_count"] == 0


def test_real_speech_sample_is_in_human_ranges() -> None:
    x, rate = sf.read(SAMPLE, dtype="float32")
    assert rate == RATE
    m = whole(x)
    assert 75 < m["pitch_mean_hz"] < 250
    assert 2.0 < m["articulation_rate_syl_s"] < 8.0
    assert 0.3 < m["speech_ratio"] <= 1.0
    assert set(m) <= set(features.UNITS)


def test_response_latency_after_each_question() -> None:
    """Speech segments start 0.4 s and 0.9 s after two questions end; a third question gets
    no answer; the recording starts 2 s into the interview."""
    rng = np.random.default_rng(3)

    def quiet(s: float) -> np.ndarray:
        return rng.normal(0, 1e-4, int(s * RATE)).astype(np.float32)

    # Recording time: question 1 ends at 1.0 -> speech 1.4-2.9; question 2 ends at 4.0 ->
    # speech 4.9-6.4; question 3 ends at 7.0 -> silence to the end (9.0).
    signal = np.concatenate(
        [quiet(1.4), harmonic(140.0, 1.5), quiet(2.0), harmonic(140.0, 1.5), quiet(2.6)]
    )
    tracks = features.analyse(signal)
    questions = [(2.0, 3.0), (5.0, 6.0), (8.0, 9.0), (20.0, 21.0)]  # shared timeline
    found = features.response_latencies(tracks, questions, offset_s=2.0)
    assert [end for end, _ in found] == [3.0, 6.0, 9.0]  # the 4th ends after the recording
    assert found[0][1] == pytest.approx(0.4, abs=0.065)
    assert found[1][1] == pytest.approx(0.9, abs=0.065)
    assert math.isnan(found[2][1])
