from benchmarks.streaming import StreamRecord, Update, stream_metrics, update_latencies


def _record(latency_s: float, fps: float = 10.0, seconds: float = 2.0) -> StreamRecord:
    """A stream sent exactly on time whose updates each come `latency_s` after the frame
    that closed their window (1 s windows)."""
    n = int(fps * seconds)
    record = StreamRecord(target_fps=fps, window_s=1.0)
    record.frame_times_s = [i / fps for i in range(n)]
    record.sent_at = [100.0 + t for t in record.frame_times_s]
    record.end_of_input = 100.0 + seconds
    record.updates = [
        Update(0.0, 1.0, 101.0 + latency_s, False),  # closed by the frame at t = 1.0
        Update(1.0, 2.0, record.end_of_input + latency_s, False),  # closed by end of input
        Update(0.0, 2.0, record.end_of_input + latency_s, True),
    ]
    return record


def test_latency_counts_from_the_frame_that_closed_the_window() -> None:
    latencies = update_latencies(_record(0.25))
    assert [round(x, 6) for x in latencies] == [0.25, 0.25]


def test_a_stream_that_keeps_up_holds() -> None:
    m = stream_metrics(_record(0.25))
    assert m["held"] is True
    assert m["frames_sent"] == 20 and abs(m["sent_fps"] - 10.0) < 1e-9
    assert abs(m["analysed_fps"] - 20 / 2.25) < 1e-9
    assert abs(m["final_after_end_ms"] - 250.0) < 1e-6


def test_a_stream_that_falls_a_window_behind_does_not_hold() -> None:
    m = stream_metrics(_record(1.5))
    assert m["held"] is False


def test_a_stream_that_failed_does_not_hold() -> None:
    record = _record(0.1)
    record.error = "UNAVAILABLE: fusion down"
    record.updates = [u for u in record.updates if not u.final]
    m = stream_metrics(record)
    assert m["held"] is False and m["analysed_fps"] == 0.0
