"""The live measurements on hand-made records: every number is known in advance."""

import math

import pytest

from benchmarks.live_metrics import (
    LiveRecord,
    Seen,
    Sent,
    close_time,
    cpu_per_quarter,
    expected_windows,
    flat_cost,
    lanes,
    level_summary,
    memory_growth,
    modality_metrics,
    most_held,
    quarter_of,
    segment_rows,
    stream_metrics,
    window_rows,
)

T0 = 100.0  # client clock at the stream's time 0


def vision_record(
    latency_s: float | list[float] = 0.05,
    fps: float = 10.0,
    seconds: float = 8.0,
    window_s: float = 1.0,
    skip: tuple[int, ...] = (),
    quality: str = "HIGH",
    lateness_s: float = 0.0,
) -> LiveRecord:
    """A vision stream sent exactly on time (or `lateness_s` late per second) whose update
    about window k arrives latency[k] after the frame that closed it (the end of input for
    the last window); windows in `skip` get no update."""
    record = LiveRecord(modalities=("vision",), seconds=seconds, window_s=window_s, target_ms=150.0)
    record.target_fps = fps
    record.began = T0
    n = round(fps * seconds)
    for i in range(n):
        t = i / fps
        record.sent.append(Sent("vision", "vision", t, t, T0 + t * (1 + lateness_s)))
    record.end_of_input = record.sent[-1].sent_at + 0.001
    windows = math.ceil(seconds / window_s)
    delays = latency_s if isinstance(latency_s, list) else [latency_s] * windows
    for k in range(windows):
        if k in skip:
            continue
        end = (k + 1) * window_s
        closer = next((s.sent_at for s in record.sent if s.end_s >= end - 1e-9), None)
        at = (closer if closer is not None else record.end_of_input) + delays[k]
        frames = round(window_s * fps)
        seen = Seen(at, "PENDING", quality, frames, frames, 0)
        record.observe_window(("vision", k * window_s, end), 1000.0 + k, seen)
    record.final_at = record.end_of_input + 0.2
    record.finals["vision"] = Seen(record.final_at, "OK", quality, n, n, 0)
    return record


def test_latency_runs_from_the_frame_that_closed_the_window() -> None:
    rows, off_grid = window_rows(vision_record(0.05), "vision")
    assert off_grid == []
    assert [r.end_s for r in rows] == [float(k) for k in range(1, 9)]
    # Window [0, 1) closes when the frame at t = 1.0 is sent (T0 + 1.0).
    assert rows[0].closed_at == pytest.approx(T0 + 1.0)
    assert rows[0].closed_by == "chunk"
    assert rows[0].latency_s == pytest.approx(0.05)
    # No frame at or after 8.0: the last window closes at the end of input.
    assert rows[-1].closed_by == "end"
    assert rows[-1].latency_s == pytest.approx(0.05)


def test_a_stream_on_time_within_target_holds() -> None:
    m = stream_metrics(vision_record(0.05))
    v = m["modalities"]["vision"]
    assert m["held"] is True and v["held"] is True
    assert v["windows_expected"] == v["windows_answered"] == 8
    assert v["update_latency"]["p95_ms"] == pytest.approx(50.0)
    assert m["sent_fps"] == pytest.approx(10.0)
    assert v["realtime_ratio_min"] == pytest.approx(1.0)


def test_a_missing_window_is_counted_and_breaks_held() -> None:
    v = modality_metrics(vision_record(0.05, skip=(3,)), "vision")
    assert v["windows_missing"] == 1 and v["missing_first_s"] == [3.0]
    assert v["held"] is False


def test_p95_over_the_target_does_not_hold() -> None:
    v = modality_metrics(vision_record(0.2), "vision")
    assert v["update_latency"]["p95_ms"] == pytest.approx(200.0)
    assert v["held"] is False


def test_sending_below_95_percent_of_real_time_does_not_hold() -> None:
    v = modality_metrics(vision_record(0.05, lateness_s=0.1), "vision")
    assert v["realtime_ratio_min"] == pytest.approx(1 / 1.1)
    assert v["held"] is False


def test_an_error_or_no_final_result_does_not_hold() -> None:
    record = vision_record(0.05)
    record.error = "UNAVAILABLE: gone"
    assert stream_metrics(record)["held"] is False
    record = vision_record(0.05)
    record.final_at = None
    assert stream_metrics(record)["held"] is False


def test_quarter_p95s_and_their_ratio() -> None:
    # 8 windows of 1 s over 8 s: quarters hold windows ending at 1-2, 3-4, 5-6, 7-8; the
    # last window (ending at 8) closes at the end of input and is left out.
    latency = [0.10, 0.10, 0.11, 0.11, 0.12, 0.12, 0.30, 9.0]
    flat = flat_cost(vision_record(latency))
    q = flat["quarters"]
    assert [x["windows"] for x in q] == [2, 2, 2, 2]
    assert [x["in_stream_windows"] for x in q] == [2, 2, 2, 1]
    assert q[0]["update_latency"]["p95_ms"] == pytest.approx(100.0)
    assert q[3]["update_latency"]["p95_ms"] == pytest.approx(300.0)
    assert flat["p95_ratio_last_first"] == pytest.approx(3.0)
    assert q[0]["analysed_per_s"] == pytest.approx(10.0)
    assert q[0]["quality"] == {"HIGH": 2}
    assert flat["series"]["closed_by"][-1] == "end"
    assert flat["series"]["latency_ms"][0] == pytest.approx(100.0)


def test_quarter_of_puts_a_window_by_its_end() -> None:
    assert [quarter_of(e, 8.0) for e in (1, 2, 2.5, 4, 6, 8)] == [0, 0, 1, 1, 2, 3]


def test_coverage_sums_over_windows_and_the_final() -> None:
    v = modality_metrics(vision_record(0.05), "vision")
    assert v["chunks_sent"] == 80
    assert v["coverage"]["received"] == 80 and v["coverage"]["analysed"] == 80
    assert v["coverage"]["final"] == {"received": 80, "analysed": 80, "skipped": 0}
    assert v["analysed_per_s"] == pytest.approx(10.0)


def test_repeated_updates_of_one_window_are_counted_once_as_the_first() -> None:
    record = vision_record(0.05)
    first = record.windows[("vision", 0.0, 1.0)][1000.0]
    # The same update seen again later (fused with another modality's): ignored.
    record.observe_window(
        ("vision", 0.0, 1.0), 1000.0, Seen(first.at + 5, "PENDING", "HIGH", 10, 10, 0)
    )
    # A second, distinct update about the same window: counted as a repeat.
    record.observe_window(
        ("vision", 0.0, 1.0), 2000.0, Seen(first.at + 1, "PENDING", "HIGH", 10, 10, 0)
    )
    rows, _ = window_rows(record, "vision")
    assert rows[0].updates == 2 and rows[0].latency_s == pytest.approx(0.05)
    assert modality_metrics(record, "vision")["windows_with_repeats"] == 1


def test_a_final_seen_in_progressive_results_is_not_a_window() -> None:
    record = vision_record(0.05)
    final = Seen(record.end_of_input + 0.1, "OK", "HIGH", 80, 80, 0)
    record.observe_window(("vision", 0.0, 8.0), 77.0, final)  # fused as a progressive moment
    assert window_rows(record, "vision")[1] == [("vision", 0.0, 8.0)]  # off the grid so far
    record.observe_final(("vision", 0.0, 8.0), 77.0, final)
    assert window_rows(record, "vision")[1] == []
    assert record.finals["vision"] is final


def test_the_grid_follows_the_window_length_the_service_answered_in() -> None:
    record = vision_record(0.05, window_s=2.0)
    record.window_s = 1.0  # asked for 1 s; the service raised it to 2 s
    rows, off_grid = window_rows(record, "vision")
    assert [r.end_s for r in rows] == [2.0, 4.0, 6.0, 8.0] and off_grid == []
    assert modality_metrics(record, "vision")["windows_missing"] == 0


def test_a_chunk_that_reaches_the_end_closes_the_window() -> None:
    # Audio in 0.1 s chunks, each sent at its end: the chunk [0.9, 1.0) closes [0, 1).
    sent = [Sent("audio", "audio", k / 10, (k + 1) / 10, T0 + (k + 1) / 10) for k in range(20)]
    assert close_time(lanes(sent, "audio"), 1.0) == pytest.approx(T0 + 1.0)
    # Physiology: the last channel to reach the end closes it.
    sent = [
        Sent("physiology", "physiology:ecg", 0.0, 1.0, T0 + 1.0),
        Sent("physiology", "physiology:eda", 0.0, 1.0, T0 + 1.3),
    ]
    assert close_time(lanes(sent, "physiology"), 1.0) == pytest.approx(T0 + 1.3)
    assert close_time(lanes(sent, "physiology"), 2.0) is None


def test_level_summary_and_most_held() -> None:
    good, bad = stream_metrics(vision_record(0.05)), stream_metrics(vision_record(0.3))
    level = level_summary([good, bad])
    assert level["held"] is False and level["streams_held"] == 1
    assert level["update_latency_p95_ms_max"] == pytest.approx(300.0)
    assert level["quality"] == {"HIGH": 16}
    levels = [
        {"streams": 1, "held": True},
        {"streams": 2, "held": True},
        {"streams": 4, "held": False},
        {"streams": 8, "held": True},  # never reached in a run; not counted anyway
    ]
    assert most_held(levels) == 2
    assert most_held([{"streams": 1, "held": False}]) == 0


def test_memory_growth_compares_the_first_and_last_minute() -> None:
    samples = [(float(t), 100 + (10 if t >= 540 else 0)) for t in range(600)]
    g = memory_growth(samples, 600.0)
    assert g["span_s"] == 60.0
    assert g["first_mean_bytes"] == 100 and g["last_mean_bytes"] == 110
    assert g["growth_pct"] == pytest.approx(10.0)
    # A short run compares its halves.
    assert memory_growth([(0.0, 100), (3.0, 100)], 6.0)["span_s"] == 3.0
    assert math.isnan(memory_growth([], 6.0)["growth_pct"])


def test_cpu_per_quarter_is_cores_used_in_each_quarter() -> None:
    # Half a core for the first half of 8 s, a full core for the second.
    samples = [(t / 2, (t / 2) * 0.5 if t <= 8 else 2.0 + (t / 2 - 4)) for t in range(17)]
    assert cpu_per_quarter(samples, 8.0) == pytest.approx([0.5, 0.5, 1.0, 1.0])


def test_expected_windows_for_instants_and_for_spans() -> None:
    frames = {"vision": [Sent("vision", "vision", t / 10, t / 10, 0.0) for t in range(30)]}
    assert expected_windows(frames, 1.0) == [0, 1, 2]  # the last frame at 2.9 s
    frames["vision"].append(Sent("vision", "vision", 3.0, 3.0, 0.0))
    assert expected_windows(frames, 1.0) == [0, 1, 2, 3]  # a frame at 3.0 opens window 3
    audio = {"audio": [Sent("audio", "audio", k / 10, (k + 1) / 10, 0.0) for k in range(30)]}
    assert expected_windows(audio, 1.0) == [0, 1, 2]  # data up to 3.0 s: not window 3
    assert expected_windows(audio, 3.0) == [0]
    assert expected_windows(audio, 2.0) == [0, 1]
    late = {"text": [Sent("text", "text", 2.6, 4.2, 0.0)]}
    assert expected_windows(late, 1.0) == [2, 3, 4]
    assert expected_windows({}, 1.0) == []


def test_a_modality_with_nothing_sent_is_not_part_of_the_stream() -> None:
    record = vision_record(0.05)
    record.modalities = ("vision", "text")  # asked for, but no segment ended in time
    m = stream_metrics(record)
    assert set(m["modalities"]) == {"vision"} and m["held"] is True


def test_a_lane_of_one_chunk_has_no_rate_to_keep() -> None:
    record = vision_record(0.05)
    record.modalities = ("vision", "text")
    record.sent.append(Sent("text", "text", 0.4, 2.8, T0 + 2.8))
    end = Seen(record.end_of_input + 0.05, "PENDING", "HIGH", 1, 1, 0)
    record.observe_window(("text", 0.4, 2.8), 5.0, end)
    text = modality_metrics(record, "text")
    assert math.isnan(text["realtime_ratio_min"])
    # Its only window closes at the end of input: nothing was sent after it.
    assert text["windows_closed_by_end"] == 1
    assert text["update_latency"]["max_ms"] == pytest.approx(50.0)
    assert text["windows_answered"] == 1 and text["held"] is True


def text_record(groups: list[list[int]], latency_s: float = 0.05) -> LiveRecord:
    """Six 2 s segments sent at their ends; each group of segment indices answered as one
    window, `latency_s` after the first segment after it was sent."""
    record = LiveRecord(modalities=("text",), seconds=12.0, window_s=1.0, target_ms=150.0)
    record.began = T0
    record.sent = [Sent("text", "text", 2.0 * i, 2.0 * i + 2, T0 + 2.0 * i + 2) for i in range(6)]
    record.end_of_input = T0 + 12.5
    for k, group in enumerate(groups):
        closer = group[-1] + 1
        closed = record.sent[closer].sent_at if closer < 6 else record.end_of_input
        seen = Seen(closed + latency_s, "PENDING", "HIGH", len(group), len(group), 0)
        record.observe_window(("text", 2.0 * group[0], 2.0 * group[-1] + 2), 10.0 + k, seen)
    record.final_at = record.end_of_input + 0.1
    record.finals["text"] = Seen(record.final_at, "OK", "HIGH", 6, 6, 0)
    return record


def test_text_windows_follow_its_segments_not_the_grid() -> None:
    rows, off_grid = segment_rows(text_record([[0], [1, 2], [3], [4], [5]]), "text")
    assert [(r.start_s, r.end_s) for r in rows] == [(0, 2), (2, 6), (6, 8), (8, 10), (10, 12)]
    assert off_grid == []
    # [2, 6) holds segments 1 and 2: it closed when segment 3 was sent (at its end, 8 s).
    assert rows[1].closed_at == pytest.approx(T0 + 8.0) and rows[1].closed_by == "chunk"
    assert rows[-1].closed_by == "end"
    assert [r.latency_s for r in rows] == pytest.approx([0.05] * 5)
    assert modality_metrics(text_record([[0], [1, 2], [3], [4], [5]]), "text")["held"] is True


def test_a_text_segment_no_window_holds_is_missing() -> None:
    text = modality_metrics(text_record([[0], [1], [3], [4], [5]]), "text")
    assert text["windows_missing"] == 1 and text["missing_first_s"] == [4.0]
    assert text["held"] is False


def test_late_text_windows_do_not_hold() -> None:
    assert modality_metrics(text_record([[i] for i in range(6)], 0.3), "text")["held"] is False


def test_audio_windows_close_with_the_chunk_that_reaches_their_end() -> None:
    """0.1 s chunks sent at their ends: window [0, 1) closes with the chunk [0.9, 1.0),
    sent at 1.0 s, and its update 150 ms later is 150 ms late."""
    record = LiveRecord(modalities=("audio",), seconds=3.0, window_s=1.0, target_ms=150.0)
    record.began = T0
    record.sent = [
        Sent("audio", "audio", k / 10, (k + 1) / 10, T0 + (k + 1) / 10) for k in range(30)
    ]
    record.end_of_input = T0 + 3.01
    for k in range(3):
        at = T0 + k + 1.0 + 0.15 if k < 2 else record.end_of_input + 0.05
        record.observe_window(
            ("audio", k, k + 1.0), 20.0 + k, Seen(at, "PENDING", "HIGH", 10, 10, 0)
        )
    record.final_at = record.end_of_input + 0.1
    record.finals["audio"] = Seen(record.final_at, "OK", "HIGH", 30, 30, 0)
    audio = modality_metrics(record, "audio")
    assert audio["update_latency"]["max_ms"] == pytest.approx(150.0)
