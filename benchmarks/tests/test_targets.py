from typing import Any

import pytest

from benchmarks.targets import GB, best_clean_rate, evaluate, live
from benchmarks.tests.test_streaming import streaming_section

LIVE = {
    "live flat cost: p95 update latency, last / first quarter",
    "live memory growth, vision service",
    "live windows answered, long stream",
    "live concurrent 30-fps streams held, AUTO quality",
    "live one stream at HIGH: p95 update latency",
    "live multimodal streams held",
}


def _level(concurrency: int, rps: float, errors: int = 0, degraded: int = 0) -> dict[str, Any]:
    return {
        "concurrency": concurrency,
        "requests_per_s": rps,
        "error_count": errors,
        "degraded": degraded,
    }


def test_best_rate_ignores_levels_with_errors_or_degraded_answers() -> None:
    levels = [_level(1, 30), _level(4, 80), _level(8, 120, errors=3), _level(16, 130, degraded=1)]
    assert best_clean_rate(levels) == (80.0, 4)
    assert best_clean_rate([_level(1, 5, errors=1)]) == (None, None)


def test_each_target_against_its_limit() -> None:
    results = {
        "latency": {"audio_text": {"mesh": {"latency": {"p95_ms": 250.0}}}},
        "throughput": {"text": [_level(8, 150.0)], "audio_text": [_level(8, 20.0)]},
        "resources": {
            "processes": {"audio": {"peak_rss_bytes": 0.3 * GB}, "triton": {"peak_rss_bytes": GB}},
            "cold_start_s": 18.0,
            "model_load_s": {"a": 4.0, "b": 11.0},
        },
    }
    met = {t["target"]: t["met"] for t in evaluate(results) if t["target"] not in LIVE}
    assert met == {
        "p95 latency, audio + text, on CPU": False,
        "sustained requests/s, text only": True,
        "sustained requests/s, audio + text": False,
        "memory per instance": True,
        "mesh cold start": True,
        "model load": False,
    }
    memory = next(t for t in evaluate(results) if t["target"] == "memory per instance")
    assert memory["measured"] == 1.0 and "triton" in memory["basis"]


def test_what_was_not_measured_is_never_met() -> None:
    targets = evaluate({"latency": {"error": "boom"}, "resources": {"error": "boom"}})
    assert len(targets) == 12
    assert all(t["met"] is None and t["measured"] is None for t in targets)
    assert {t["target"] for t in evaluate({"streaming": {"error": "boom"}})} >= LIVE
    parts = {k: {"error": "boom"} for k in ("flat_cost", "many_auto", "one_high", "multimodal")}
    assert all(t["met"] is None for t in live(parts))


def test_live_targets_from_a_streaming_section() -> None:
    good = {t["target"]: t for t in live(streaming_section(held=True))}
    assert set(good) == LIVE
    # The hand-made flat stream: same latency throughout, flat memory, every window.
    assert good["live flat cost: p95 update latency, last / first quarter"]["measured"] == 1.0
    assert good["live memory growth, vision service"]["measured"] == 0.0
    assert good["live windows answered, long stream"]["measured"] == 0.0
    assert good["live one stream at HIGH: p95 update latency"]["measured"] == pytest.approx(50.0)
    # 2 streams held is not the 8 asked for; 4 multimodal streams held is.
    assert good["live concurrent 30-fps streams held, AUTO quality"]["met"] is False
    assert good["live multimodal streams held"]["met"] is True
    assert [
        good[t]["met"] for t in sorted(LIVE - {"live concurrent 30-fps streams held, AUTO quality"})
    ] == [True] * 5
    bad = {t["target"]: t["met"] for t in live(streaming_section(held=False))}
    assert bad["live one stream at HIGH: p95 update latency"] is False
    assert bad["live multimodal streams held"] is False


def test_a_stream_cut_short_counts_its_unsent_windows_as_missing() -> None:
    section = streaming_section()
    vision = section["flat_cost"]["modalities"]["vision"]
    vision["windows_answered"] = vision["windows_expected"] = 3  # the stream died at 3 s of 8
    vision["windows_missing"] = 0
    answered = next(t for t in live(section) if t["target"] == "live windows answered, long stream")
    assert answered["measured"] == 5.0 and answered["met"] is False
