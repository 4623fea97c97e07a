import json
import math

from benchmarks.stats import clean_json, percentile, ratio, summarize_ms


def test_percentiles_interpolate_like_numpy() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    assert math.isnan(percentile([], 50))


def test_summary_is_in_milliseconds() -> None:
    s = summarize_ms([0.010, 0.020, 0.030])
    assert s["n"] == 3
    assert s["p50_ms"] == 20.0
    assert s["min_ms"] == 10.0 and s["max_ms"] == 30.0
    assert abs(s["mean_ms"] - 20.0) < 1e-9


def test_empty_summary_has_no_numbers() -> None:
    s = summarize_ms([])
    assert s["n"] == 0 and math.isnan(s["p95_ms"])


def test_ratio_refuses_missing_or_zero_denominators() -> None:
    assert ratio(6.0, 2.0) == 3.0
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(math.nan, 2.0))


def test_clean_json_makes_strict_json() -> None:
    cleaned = clean_json({"a": math.nan, "b": [1.0, math.inf, {"c": 2}], "d": (3, 4)})
    assert cleaned == {"a": None, "b": [1.0, None, {"c": 2}], "d": [3, 4]}
    json.dumps(cleaned, allow_nan=False)
