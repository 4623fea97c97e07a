from benchmarks.loadgen import DEGRADED, OK, level_from_calls, outcome
from veritas.v1 import common_pb2


def _result(**status: common_pb2.ModalityStatus) -> common_pb2.AnalysisResult:
    names = {"audio": common_pb2.AUDIO, "text": common_pb2.TEXT}
    return common_pb2.AnalysisResult(
        modalities=[
            common_pb2.ModalityResult(modality=names[m], status=s) for m, s in status.items()
        ]
    )


def test_ok_only_when_every_sent_modality_finished() -> None:
    assert outcome(_result(audio=common_pb2.OK, text=common_pb2.OK), ("audio", "text")) == OK
    timed_out = _result(audio=common_pb2.TIMED_OUT, text=common_pb2.OK)
    assert outcome(timed_out, ("audio", "text")) == DEGRADED
    assert outcome(_result(text=common_pb2.OK), ("audio", "text")) == DEGRADED


def test_only_calls_that_end_inside_the_window_count() -> None:
    calls = [
        (0.0, 0.5, OK),  # warm-up: ended before the window
        (0.9, 1.1, OK),
        (1.2, 1.4, DEGRADED),
        (1.5, 1.6, "UNAVAILABLE"),
        (1.7, 2.0, OK),
        (2.8, 3.2, OK),  # ended after the window
    ]
    level = level_from_calls(calls, concurrency=2, window=(1.0, 3.0))
    assert level.ok == 2 and level.degraded == 1
    assert level.errors == {"UNAVAILABLE": 1} and level.error_count == 1
    assert level.requests_per_s == 3 / 2.0
    assert level.latency["n"] == 3
    assert abs(level.latency["max_ms"] - 300.0) < 1e-6
