"""Running summaries give what features.py computes over the whole series, in one pass."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.physiology import features, hrv, running
from services.physiology.rings import SampleRing, SeriesRing


def _rr_series(duration_s: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Beat times with RSA at 0.25 Hz, a slow 0.1 Hz wave and noise, plus a few spurious
    beats (implausible intervals), and their plausibility flags."""
    rng = np.random.default_rng(seed)
    t = [0.0]
    while t[-1] < duration_s:
        x = t[-1]
        rr = 833 + 40 * math.sin(2 * math.pi * 0.25 * x) + 25 * math.sin(2 * math.pi * 0.1 * x)
        t.append(x + (rr + rng.normal(0, 8)) / 1e3)
    times = np.sort(np.concatenate([np.array(t), rng.uniform(5, duration_s - 5, 6)]))
    return times, features.plausible_rr(np.diff(times))


@pytest.mark.parametrize("duration_s", [70.0, 100.0, 400.0, 1000.0])
def test_beat_summary_equals_the_whole_series_measures(duration_s: float) -> None:
    """HR, HRV time domain, trend and Welch HF/LF band powers (one segment under 120 s,
    overlapping 120 s segments beyond) from one pass over the intervals."""
    times, valid = _rr_series(duration_s)
    summary = running.BeatSummary("ecg")
    for end, rr, ok in zip(times[1:], np.diff(times), valid, strict=True):
        summary.add(float(end), float(rr), bool(ok))
    start, end = 0.0, float(times[-1]) + 0.5
    result, _, _ = summary.result(end - start, end - start)
    values = {k: v for k, v in result.items() if math.isfinite(v)}
    beats = features.Beats(times, valid, "ecg")
    d = features.Derived(beats, None, None, None, {"cardiac": (start, end)}, ())
    want = features.measure(d, start, end).values
    assert set(want) == set(values)
    for name, value in want.items():
        assert values[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name
    assert ("hrv_lf_ms2" in values) == (end - start >= hrv.LF_MIN_S)
    if duration_s > 300:  # several Welch segments were summed as the series went by
        assert summary.bands.segments > 2 and len(summary.bands.points) < 250


def test_trend_and_welford_match_numpy() -> None:
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.uniform(0.5, 1.5, 200)) + 1000.0
    y = 70 + 0.01 * (t - t[0]) + rng.normal(0, 2, t.size)
    trend = running.Trend()
    for a, b in zip(np.array_split(t, 7), np.array_split(y, 7), strict=True):
        trend.add(a, b)
    assert trend.change() == pytest.approx(features.trend(t, y), rel=1e-9)
    w = running.Welford()
    for x in y:
        w.add(float(x))
    assert w.std() == pytest.approx(float(np.std(y, ddof=1)), rel=1e-12)


def test_rings_hold_what_they_are_told_to() -> None:
    ring = SampleRing()
    for k in range(100):
        ring.append(np.full(10, float(k)))
        ring.discard_before(ring.end - 25)
        assert len(ring) <= 25 + 10
    assert ring.view(ring.end - 3, ring.end).tolist() == [99.0] * 3
    assert ring.view(0, 5).size == 0  # long gone
    series = SeriesRing("v")
    for k in range(50):
        series.append(np.arange(k, k + 1, 0.25), v=np.full(4, k))
        series.trim(k - 5.0)
    t, v = series.between(45.0, 47.0)
    assert t.tolist() == [45.0, 45.25, 45.5, 45.75, 46.0, 46.25, 46.5, 46.75]
    assert v["v"].tolist() == [45] * 4 + [46] * 4
    assert series.between(40.0, 42.0)[0].size == 0  # trimmed
    assert len(series) == 6 * 4 and series.between(0.0, 100.0)[0][-1] == 49.75
