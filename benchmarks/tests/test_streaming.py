"""The streaming section's helpers that need no mesh: the services' live metrics as read
from /metrics, and what an experiment result looks like to the targets and the report."""

from typing import Any

import numpy as np

from benchmarks.live_metrics import flat_cost, level_summary, memory_growth, stream_metrics
from benchmarks.streaming import Feed, counter_delta, live_counters, parse_prometheus
from benchmarks.tests.test_live_metrics import vision_record
from benchmarks.workloads import Samples

METRICS = """# HELP veritas_live_windows_total Live windows answered
# TYPE veritas_live_windows_total counter
veritas_live_windows_total{outcome="on_time",quality="high",service="vision"} 57.0
veritas_live_windows_total{outcome="late",quality="medium",service="vision"} 3.0
veritas_live_windows_created{outcome="late",quality="medium",service="vision"} 1.7e+09
veritas_live_input_skipped_total{service="vision"} 120.0
veritas_live_streams_open{service="vision"} 0.0
veritas_live_update_latency_seconds_count{service="vision"} 60.0
veritas_live_update_latency_seconds_sum{service="vision"} 4.5
veritas_memory_usage_bytes{service="vision"} 2.1e+08
"""


def test_prometheus_text_is_parsed_with_labels() -> None:
    samples = parse_prometheus(METRICS)
    assert ("veritas_live_input_skipped_total", {"service": "vision"}, 120.0) in samples
    assert len(samples) == 8


def test_live_counters_and_their_change() -> None:
    after = live_counters(METRICS)
    assert after["windows.high.on_time"] == 57 and after["windows.medium.late"] == 3
    assert after["input_skipped"] == 120 and after["streams_open"] == 0
    before = {"windows.high.on_time": 7.0, "input_skipped": 120.0, "streams_open": 2.0}
    delta = counter_delta(before, after)
    assert delta["windows.high.on_time"] == 50 and "input_skipped" not in delta
    assert delta["streams_open_after"] == 0  # the value after, not a change
    assert live_counters(None) == {}


def test_the_sample_speech_is_16k_mono_int16() -> None:
    audio = Feed(Samples()).audio
    assert audio.dtype == np.int16 and audio.ndim == 1
    assert len(audio) == 4 * 16000  # samples/speech.wav is 4.0 s at 16 kHz


def streaming_section(held: bool = True) -> dict[str, Any]:
    """A streaming section as streaming.run_all writes it, from hand-made records."""
    latency = 0.05 if held else 0.4
    flat_record = vision_record(latency, fps=30.0, seconds=8.0)
    flat = stream_metrics(flat_record) | flat_cost(flat_record)
    flat["memory"] = memory_growth([(float(t), 200 * 2**20) for t in range(8)], 8.0)
    flat["memory"] |= {"pid": 1, "series": [[0.0, 200 * 2**20], [7.0, 200 * 2**20]]}
    flat["vision_cpu_cores_per_quarter"] = [0.5, 0.5, 0.5, 0.5]
    flat["client"] = {"cores": 0.1}
    flat["service_metrics"] = {"vision": {"windows.high.on_time": 8.0, "streams_open_after": 0}}
    one = stream_metrics(vision_record(latency, fps=30.0, seconds=4.0))

    def levels(quality: str) -> dict[str, Any]:
        lvs = [level_summary([one] * n) | {"client": {"cores": 0.2}} for n in (1, 2)]
        return {
            "quality": quality,
            "target_fps": 30.0,
            "seconds_per_stream": 4.0,
            "levels_planned": [1, 2, 4],
            "max_streams_held": 2 if held else 0,
            "levels": lvs if held else lvs[:1],
        }

    return {
        "latency_target_ms": 150.0,
        "window_s": 1.0,
        "feed": {"frame_pool": 900, "jpeg_quality": 90},
        "flat_cost": flat,
        "fps": [one | {"client": {"cores": 0.1}}],
        "many_auto": levels("AUTO"),
        "many_high": levels("HIGH"),
        "one_high": one | {"from": "the first level of many_high"},
        "multimodal": {
            "streams": 4,
            "seconds": 4.0,
            "streams_held": 4 if held else 0,
            "held": held,
            "per_stream": [one] * 4,
            "client": {"cores": 0.3},
            "service_metrics": {},
        },
        "part_errors": {},
    }
