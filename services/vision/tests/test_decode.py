"""Decoding: containers made on the fly, sampling to the target rate, and clear refusals."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from services.vision.decode import (
    check_target_fps,
    decode_image,
    decode_video,
    iter_video,
    sniff_container,
)
from veritas.analysis import InvalidInput


def ramp(n: int, size: tuple[int, int] = (96, 128)) -> list[np.ndarray]:
    """Frames whose brightness encodes their index, so sampling can be checked."""
    return [np.full((*size, 3), 20 + 8 * i, dtype=np.uint8) for i in range(n)]


@pytest.mark.parametrize(
    ("fourcc", "suffix", "mime"),
    [("mp4v", ".mp4", "video/mp4"), ("MJPG", ".avi", "video/x-msvideo")],
)
def test_decodes_and_samples_to_target_fps(make_video, fourcc, suffix, mime) -> None:
    clip = make_video(ramp(25), fourcc, suffix, fps=25.0)  # 1 s at 25 fps
    assert sniff_container(clip) == mime
    for given in (mime, ""):  # explicit type and sniffed
        frames = decode_video(clip, given, target_fps=10.0)
        assert len(frames) == 10
        times = [f.timestamp_s for f in frames]
        assert times[0] == 0.0
        np.testing.assert_allclose(np.diff(times), 0.1, atol=0.021)
        levels = [float(f.image.mean()) for f in frames]
        assert levels == sorted(levels)  # in time order
        assert frames[0].image.shape == (96, 128, 3)


def test_keeps_every_frame_when_source_is_slower(make_video) -> None:
    clip = make_video(ramp(8), "MJPG", ".avi", fps=5.0)
    assert len(decode_video(clip, target_fps=10.0)) == 8


def test_large_frames_are_shrunk(make_video) -> None:
    clip = make_video(ramp(3, (720, 1280)), "MJPG", ".avi", fps=10.0)
    assert decode_video(clip, max_side=640)[0].image.shape == (360, 640, 3)


def test_webm_when_the_encoder_exists(make_video) -> None:
    clip = make_video(ramp(10), "VP80", ".webm", fps=10.0)
    assert sniff_container(clip) == "video/webm"
    assert len(decode_video(clip, "video/webm")) == 10


@pytest.mark.parametrize(
    ("data", "mime", "field", "words"),
    [
        (b"", "", "video.data", "empty"),
        (b"definitely not a video" * 10, "", "video.data", "not a recognised"),
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500, "video/mp4", "video.data", "decoded"),
        (b"RIFF\x00\x00\x00\x00AVI " + b"\x00" * 64, "", "video.data", "decoded"),
        (b"whatever", "image/gif", "video.mime_type", "unsupported"),
    ],
)
def test_bad_input_names_the_field(data, mime, field, words) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_video(data, mime)
    assert err.value.field == field
    assert words in err.value.problem
    assert str(err.value).startswith(f"{field}: ")


def test_baseline_errors_name_the_baseline_field() -> None:
    with pytest.raises(InvalidInput) as err:
        decode_video(b"", field="baseline.video")
    assert err.value.field == "baseline.video.data"


def test_too_long_is_refused(make_video) -> None:
    clip = make_video(ramp(30), "MJPG", ".avi", fps=10.0)  # 3 s
    with pytest.raises(InvalidInput, match="limit"):
        decode_video(clip, max_duration_s=2.0)
    with pytest.raises(InvalidInput, match="bytes"):
        decode_video(clip, max_bytes=100)


def test_decoding_is_lazy_and_cleans_up(make_video, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    clip = make_video(ramp(5), "MJPG", ".avi", fps=10.0)
    frames = iter_video(clip)  # a generator
    assert next(frames).timestamp_s == 0.0
    assert len(list(tmp_path.iterdir())) == 1
    frames.close()
    assert list(tmp_path.iterdir()) == []


def test_target_fps_is_checked() -> None:
    assert check_target_fps(0) == 10.0
    assert check_target_fps(5) == 5.0
    for bad in (-1.0, float("nan"), 1000.0):
        with pytest.raises(InvalidInput) as err:
            check_target_fps(bad)
        assert err.value.field == "options.target_fps"


def test_live_images(astronaut) -> None:
    for ext in (".jpg", ".png"):
        ok, buf = cv2.imencode(ext, astronaut)
        assert ok
        assert decode_image(buf.tobytes()).shape == astronaut.shape
    for bad, field in ((b"", "video_frame.image"), (b"\xff\xd8garbage", "video_frame.image")):
        with pytest.raises(InvalidInput) as err:
            decode_image(bad)
        assert err.value.field == field
    with pytest.raises(InvalidInput) as err:
        decode_image(b"x", "image/gif")
    assert err.value.field == "video_frame.mime_type"
