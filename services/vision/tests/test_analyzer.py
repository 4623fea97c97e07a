"""VisionAnalyzer end to end on real decoding, a real face and the model's feature names."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from services.vision.analyzer import VisionAnalyzer
from services.vision.behaviour import BEHAVIOUR_CODES
from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2, modality_pb2

CONFIG = Path(__file__).resolve().parents[3] / "models/repository/vision_behaviour/config.pbtxt"


def model_feature_names() -> list[str]:
    text = CONFIG.read_text()
    match = re.search(r'key: "feature_names"\s*value: \{ string_value: "([^"]+)" \}', text)
    assert match, "config.pbtxt lists no feature_names"
    return match.group(1).split(",")


def request(video: bytes, mime: str = "", baseline: bytes | None = None, **options):
    req = modality_pb2.ModalityRequest(
        input=common_pb2.ModalityInput(media=common_pb2.Media(data=video, mime_type=mime)),
        options=common_pb2.Options(**options),
    )
    if baseline is not None:
        req.baseline.media.data = baseline
    return req


@pytest.fixture(scope="module")
def analyzer() -> VisionAnalyzer:
    return VisionAnalyzer()


@pytest.fixture(scope="module")
def sample_windows(analyzer, sample_bytes):
    started = time.perf_counter()
    prepared = analyzer.prepare(request(sample_bytes, "video/mp4"))
    windows = list(analyzer.windows(prepared, common_pb2.Options()))
    summary = analyzer.summarize(prepared, windows)
    elapsed = time.perf_counter() - started
    print(f"\nsamples/face.mp4 analysed in {elapsed * 1000:.0f} ms")
    return prepared, windows, summary


def test_sample_video_feeds_the_model(sample_windows) -> None:
    _, windows, summary = sample_windows
    names = model_feature_names()
    assert set(names) <= set(BEHAVIOUR_CODES)
    spans = [x for w in windows for x in (w.start_s, w.end_s)]
    assert spans == pytest.approx([0, 2, 2, 4, 4, 6, 6, 8, 8, 9])
    for w in [*windows, summary]:
        assert w.usable and w.quality == 1.0 and not w.notes
        assert all(name in w.features for name in names)
        assert all(0.0 <= w.features[name] <= 1.0 for name in names)
        assert w.units["Smile"] == "fraction of face frames"
    assert summary.features["face_frames_ratio"] == 1.0
    assert summary.features["Smile"] > 0.5  # the astronaut smiles throughout
    assert summary.features["pupil_found_ratio"] > 0.9
    assert (summary.start_s, summary.end_s) == pytest.approx((0.0, 9.0))
    assert summary.events == [e for w in windows for e in w.events]


# What samples/make_face_video.py draws, and when: (event, detail contains, from s, to s).
SAMPLE_SCRIPT = [
    ("blink", "ms", 0.9, 1.1),
    ("micro_expression", "brow raise", 1.87, 2.3),
    ("head_shake", "repeated", 2.5, 4.0),
    ("blink", "ms", 4.2, 4.4),
    ("head_nod", "repeated", 4.6, 6.0),
    ("blink", "ms", 5.7, 5.9),
    ("brow_lower", "s", 6.0, 6.9),
    ("gaze_aversion", "eyes +", 6.0, 6.9),
    ("brow_raise", "s", 7.0, 7.9),
    ("gaze_aversion", "head only", 8.0, 9.0),
    ("head_tilt", "held", 8.0, 9.0),
    ("head_turn", "held", 8.0, 9.0),
]


def test_sample_events_are_the_ones_drawn(sample_windows) -> None:
    summary = sample_windows[2]
    found = [(e.name, e.onset_s, e.offset_s, e.detail) for e in summary.events]
    assert len(found) == len(SAMPLE_SCRIPT), found
    # Each drawn event matches one found event (events drawn at the same time, like the
    # held turn and tilt at 8 s, may be found in either order).
    unmatched = list(found)
    for want, words, start, end in SAMPLE_SCRIPT:
        match = [
            f
            for f in unmatched
            if f[0] == want and words in f[3] and start - 0.05 <= f[1] < f[2] <= end + 0.05
        ]
        assert match, (want, start, end, found)
        unmatched.remove(match[0])
    assert summary.features["blink_count"] == 3
    assert summary.features["blink_rate_per_min"] == pytest.approx(20.0)
    assert summary.features["micro_expression_count"] == 1


def test_window_length_follows_options(analyzer, sample_windows) -> None:
    prepared = sample_windows[0]
    windows = list(analyzer.windows(prepared, common_pb2.Options(window_s=1.0)))
    assert len(windows) == 9 and all(w.usable for w in windows)
    assert len(list(analyzer.windows(prepared, common_pb2.Options(window_s=3600)))) == 1
    with pytest.raises(InvalidInput) as err:
        list(analyzer.windows(prepared, common_pb2.Options(window_s=-1)))
    assert err.value.field == "options.window_s"


def test_dark_video_is_never_scored(analyzer, make_video) -> None:
    dark = [np.full((120, 160, 3), 8, np.uint8) for _ in range(20)]
    clip = make_video(dark, "MJPG", ".avi", fps=10.0)
    prepared = analyzer.prepare(request(clip, "video/x-msvideo"))
    windows = list(analyzer.windows(prepared, common_pb2.Options()))
    summary = analyzer.summarize(prepared, windows)
    for w in [*windows, summary]:
        assert not w.usable and w.quality == 0.0
        assert not set(BEHAVIOUR_CODES) & set(w.features)
        assert any("too dark" in n for n in w.notes)
        assert any("no score" in n for n in w.notes) and not w.events


def test_blank_video_reports_no_face(analyzer, make_video) -> None:
    blank = [np.full((120, 160, 3), 128, np.uint8) for _ in range(10)]
    prepared = analyzer.prepare(request(make_video(blank, "mp4v", ".mp4", fps=10.0)))
    (window,) = analyzer.windows(prepared, common_pb2.Options())
    assert not window.usable
    assert window.features == {"face_frames_ratio": 0.0}
    assert "no face in 10 of 10 frames" in window.notes


def test_bad_bytes_name_the_field(analyzer, still_clip) -> None:
    with pytest.raises(InvalidInput) as err:
        analyzer.prepare(request(b"\x00\x01 not a video at all", ""))
    assert err.value.field == "video.data"
    with pytest.raises(InvalidInput) as err:
        analyzer.prepare(request(b"", "video/mp4"))
    assert err.value.field == "video.data"
    with pytest.raises(InvalidInput) as err:
        analyzer.prepare(modality_pb2.ModalityRequest())
    assert err.value.field == "video"
    with pytest.raises(InvalidInput) as err:
        analyzer.prepare(request(still_clip, "video/x-msvideo", baseline=b"garbage bytes"))
    assert err.value.field == "baseline.video.data"
    with pytest.raises(InvalidInput) as err:
        analyzer.prepare(request(b"x", "video/mp4", target_fps=-3))
    assert err.value.field == "options.target_fps"


def test_baseline_means_are_reported(analyzer, sample_bytes, still_clip) -> None:
    prepared = analyzer.prepare(request(still_clip, baseline=sample_bytes, target_fps=5))
    again = analyzer.prepare(request(still_clip, baseline=sample_bytes, target_fps=5))
    assert again.baseline is prepared.baseline  # measured once, then cached
    windows = list(analyzer.windows(prepared, common_pb2.Options()))
    for w in windows:
        assert "Smile" in w.baseline and "yaw_mean" in w.baseline
        assert "blink_count" not in w.baseline  # a count over another length
        assert "micro_expression_count" not in w.baseline
        assert "blink_rate_per_min" in w.baseline
        assert w.baseline["face_frames_ratio"] == 1.0
