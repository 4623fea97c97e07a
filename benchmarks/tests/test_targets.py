from typing import Any

from benchmarks.targets import GB, best_clean_rate, evaluate


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
    met = {t["target"]: t["met"] for t in evaluate(results)}
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
    assert len(targets) == 6
    assert all(t["met"] is None and t["measured"] is None for t in targets)
