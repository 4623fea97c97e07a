"""Running summaries: what the live whole-input result is computed from."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.audio.responses import ResponseTracker
from services.audio.summary import Histogram, Moments, PauseTracker


def test_histogram_percentiles_are_within_one_bin() -> None:
    values = np.random.default_rng(0).normal(90.0, 3.0, 5000)
    h = Histogram(60.0, 120.0, 0.01)
    for part in np.array_split(values, 7):
        h.add(part)
    for q in (5, 25, 50, 75, 95):
        assert h.percentile(q) == pytest.approx(np.percentile(values, q), abs=0.01)
    assert math.isnan(Histogram(0, 1, 0.1).percentile(50))


def test_moments_merged_in_batches_equal_the_whole() -> None:
    values = np.random.default_rng(1).normal(88.0, 2.0, 1000)
    m = Moments()
    for part in np.array_split(values, 9):
        m.add(np.append(part, np.nan))  # NaN (unvoiced) frames are skipped
    assert m.n == 1000
    assert m.mean == pytest.approx(values.mean()) and m.sd == pytest.approx(values.std())


def test_pauses_are_counted_across_batches_once_speech_resumes() -> None:
    """Frames: 2 silent (before speech: not a pause), 5 speech, 10 silent (0.3 s), 3 speech,
    4 silent (0.12 s: too short), 2 speech, 20 silent (after the last speech: not a pause)."""
    speech = np.array([0] * 2 + [1] * 5 + [0] * 10 + [1] * 3 + [0] * 4 + [1] * 2 + [0] * 20)
    t = PauseTracker()
    for part in np.array_split(speech.astype(bool), 6):  # window edges inside the runs
        t.add(part)
    assert t.first_speech == 2 and t.count == 1
    assert t.total_s == pytest.approx(0.3) and t.longest_s == pytest.approx(0.3)
    assert t.frames == len(speech)


def test_response_tracker_decides_from_the_speech_history() -> None:
    """A marker may arrive after its question ended: it is measured from the frames still
    held; one whose answer span starts before them is counted as not measured."""
    t = ResponseTracker()
    speech = np.zeros(400, bool)
    speech[100:150] = True  # speech 3.0-4.5 s (30 ms frames)
    t.add(1.0, 2.0, "question")
    assert t.update(0.0, speech[:60], first_frame=0) == []  # 1.8 s analysed: not yet decided
    (event,) = t.update(0.0, speech, first_frame=0)
    assert event.onset_s == 2.0 and event.magnitude == pytest.approx(1.0)
    t.add(0.0, 0.5, "question")  # marked late; the next question starts at 1.0: no answer
    assert t.update(0.0, speech, first_frame=0) == []
    t.add(5.0, 5.5, "question")  # its span begins at frame 184, before the history's start
    assert t.update(0.0, speech[200:], first_frame=200) == []
    assert (t.answered, t.unanswered, t.too_late) == (1, 1, 1)
    assert t.features() == {
        "response_count": 1.0,
        "response_latency_mean_s": pytest.approx(1.0),
        "response_latency_max_s": pytest.approx(1.0),
    }
    assert any("arrived too long after" in n for n in t.notes())
