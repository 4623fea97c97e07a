"""The soak's trend and the chaos report, without a mesh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.chaos import report
from tests.chaos.soak import MB, slope, trend


def test_slope_is_least_squares() -> None:
    assert slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert slope([0], [5]) == 0.0
    assert slope([1, 1], [2, 9]) == 0.0


def samples(per_minute_mb: float, base_mb: float = 200, noise_mb: float = 0) -> list:
    out = []
    for i in range(31):  # 5 minutes, every 10 s
        t = i * 10.0
        wobble = noise_mb * (1 if i % 2 else -1)
        out.append((t, {"svc": int((base_mb + per_minute_mb * t / 60 + wobble) * MB)}))
    return out


def test_a_flat_or_noisy_process_is_not_growing() -> None:
    assert not trend(samples(0.0, noise_mb=15), warmup_s=60)["svc"].growing


def test_a_steady_climb_is_growing() -> None:
    t = trend(samples(5.0), warmup_s=60)["svc"]
    assert t.growing and t.slope_mb_per_min == pytest.approx(5.0, rel=0.01)


def test_a_big_process_drifting_a_little_is_not_growing() -> None:
    # 3 MB/min on 2 GB is 0.6% over four minutes: not a leak by the growth criterion
    assert not trend(samples(3.0, base_mb=2000), warmup_s=60)["svc"].growing


def test_the_warmup_is_left_out() -> None:
    climbing_then_flat = [
        (float(t), {"svc": int((100 + min(t, 60)) * MB)}) for t in range(0, 301, 10)
    ]
    assert not trend(climbing_then_flat, warmup_s=60)["svc"].growing
    assert trend(climbing_then_flat, warmup_s=0)["svc"].slope_mb_per_min > 0


def test_the_report_merges_sections_and_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VERITAS_CHAOS_REPORT", raising=False)
    assert report.record("faults", {"scenarios": []}, folder=tmp_path) is None  # not asked
    monkeypatch.setenv("VERITAS_CHAOS_REPORT", "1")
    faults = {
        "workers": 3,
        "load_average": 1.0,
        "scenarios": [
            {
                "target": "audio",
                "calls": 10,
                "failed": 0,
                "degraded": 4,
                "detected_s": 0.4,
                "slowest_failed_s": None,
                "restart_s": 3.0,
                "recovered_s": 5.2,
                "others_restarted": [],
            }
        ],
        "rss_start": {"audio": 100 * MB},
        "rss_end": {"audio": 101 * MB},
    }
    path = report.record("faults", faults, folder=tmp_path)
    soak = {
        "duration_s": 300.0,
        "interval_s": 10.0,
        "warmup_s": 60.0,
        "workers": 3,
        "calls": 100,
        "failed": 0,
        "degraded": 0,
        "limit_mb_per_min": 2.0,
        "limit_growth": 0.05,
        "trend": {
            "audio": {"start_bytes": MB, "end_bytes": MB, "slope_mb_per_min": 0.0, "growing": False}
        },
        "verdict": "passed: no process grows",
    }
    assert report.record("soak", soak, folder=tmp_path) == path
    doc = json.loads(path.read_text())  # type: ignore[union-attr]
    assert set(doc) >= {"machine", "faults", "soak"}
    text = path.with_suffix(".md").read_text()  # type: ignore[union-attr]
    assert "| audio | 10 | 0 | 4 |" in text and "passed: no process grows" in text
