"""Decode caller video into time-stamped BGR frames at a target sampling rate.

`cv2.VideoCapture` (OpenCV's bundled FFmpeg) is the fastest decoder to numpy arrays on these
machines, but it only reads files, so the bytes go through a temporary file. Frames are
sampled at `target_fps` (behaviour changes over hundreds of milliseconds; 10 fps is plenty
and keeps the face pipeline cheap) and shrunk to `max_side` pixels so a 4K upload costs the
same as 640p. Every failure names the request field it came from.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from veritas.analysis import InvalidInput
from veritas.options import MAX_TARGET_FPS

DEFAULT_TARGET_FPS = 10.0
DEFAULT_MAX_DURATION_S = 600.0
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_SIDE = 640

# Container -> file suffix FFmpeg probes well with. Keys are the mime types we accept.
VIDEO_MIME_TYPES: dict[str, str] = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "video/avi": ".avi",
    "video/x-msvideo": ".avi",
    "video/msvideo": ".avi",
}
IMAGE_MIME_TYPES = {"image/jpeg", "image/jpg", "image/png"}


@dataclass(frozen=True)
class Frame:
    """One sampled frame: BGR uint8 pixels and its time from the start of the input."""

    timestamp_s: float
    image: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about itself (frame rate and length may be estimates)."""

    width: int
    height: int
    source_fps: float
    duration_s: float


def sniff_container(data: bytes) -> str | None:
    """The mime type implied by the first bytes, or None when it is no container we read."""
    head = data[:16]
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM / Matroska
        return "video/webm"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    return None


def _suffix(data: bytes, mime_type: str, field: str) -> str:
    mime = mime_type.split(";")[0].strip().lower()
    if mime:
        if mime not in VIDEO_MIME_TYPES:
            accepted = ", ".join(sorted(VIDEO_MIME_TYPES))
            raise InvalidInput(
                f"{field}.mime_type", f"unsupported video type {mime!r} (accepted: {accepted})"
            )
        return VIDEO_MIME_TYPES[mime]
    sniffed = sniff_container(data)
    if sniffed is None:
        raise InvalidInput(
            f"{field}.data", "not a recognised video container (expected mp4, mov, webm or avi)"
        )
    return VIDEO_MIME_TYPES[sniffed]


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale so the longer side is at most `max_side` (never upscale)."""
    h, w = image.shape[:2]
    side = max(h, w)
    if side <= max_side:
        return image
    scale = max_side / side
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def check_target_fps(target_fps: float) -> float:
    """The sampling rate to use: 0 means the default; negative or absurd rates are refused."""
    if not math.isfinite(target_fps) or target_fps < 0 or target_fps > MAX_TARGET_FPS:
        raise InvalidInput(
            "options.target_fps", f"must be between 0 (default) and {MAX_TARGET_FPS:g}"
        )
    return target_fps or DEFAULT_TARGET_FPS


def _open(path: str, field: str) -> tuple[cv2.VideoCapture, VideoInfo]:
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise InvalidInput(f"{field}.data", "could not be decoded as video")
    fps = capture.get(cv2.CAP_PROP_FPS)
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    fps = fps if math.isfinite(fps) and 0 < fps <= 1000 else 0.0
    duration = count / fps if fps and math.isfinite(count) and count > 0 else 0.0
    info = VideoInfo(
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        source_fps=fps,
        duration_s=duration,
    )
    return capture, info


def iter_video(
    data: bytes,
    mime_type: str = "",
    *,
    field: str = "video",
    target_fps: float = DEFAULT_TARGET_FPS,
    max_duration_s: float = DEFAULT_MAX_DURATION_S,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_side: int = DEFAULT_MAX_SIDE,
) -> Generator[Frame, None, None]:
    """Yield frames sampled at `target_fps`, decoding lazily so memory stays one frame deep.

    `field` is the request path of the Media message (e.g. `video`, `baseline.video`).
    Raises InvalidInput for empty, oversized, undecodable, frameless or too long input.
    """
    if not data:
        raise InvalidInput(f"{field}.data", "is empty")
    if len(data) > max_bytes:
        raise InvalidInput(f"{field}.data", f"is {len(data)} bytes; the limit is {max_bytes}")
    suffix = _suffix(data, mime_type, field)
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="veritas-vision-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        capture, info = _open(path, field)
        try:
            if info.duration_s > max_duration_s:
                raise InvalidInput(
                    f"{field}.data",
                    f"is {info.duration_s:.1f} s long; the limit is {max_duration_s:g} s",
                )
            yield from _sample(capture, info, field, target_fps, max_duration_s, max_side)
        finally:
            capture.release()
    finally:
        os.unlink(path)


def next_sample_time(t: float, due: float, step: float) -> float:
    """After keeping a frame at `t` that was due at `due`: the next slot on the same grid.

    A fixed grid keeps the average rate at 1/step even when the source's frame times do not
    divide it (12 fps sampled to 10 fps keeps 10 frames a second, not 6).
    """
    return due + step * max(1, math.floor((t - due) / step) + 1)


def _sample(
    capture: cv2.VideoCapture,
    info: VideoInfo,
    field: str,
    target_fps: float,
    max_duration_s: float,
    max_side: int,
) -> Iterator[Frame]:
    step = 1.0 / target_fps
    next_t = 0.0
    index = 0
    kept = 0
    while capture.grab():  # grab() skips the colour conversion for frames we drop
        if info.source_fps:
            t = index / info.source_fps
        else:  # containers without a frame rate: trust the demuxer's clock
            t = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        index += 1
        if t > max_duration_s:
            raise InvalidInput(f"{field}.data", f"is longer than the limit of {max_duration_s:g} s")
        if t + 1e-6 < next_t:
            continue
        ok, image = capture.retrieve()
        if not ok or image is None or image.size == 0:
            continue
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        next_t = next_sample_time(t, next_t, step)
        kept += 1
        yield Frame(timestamp_s=t, image=shrink(image, max_side))
    if kept == 0:
        raise InvalidInput(f"{field}.data", "contains no decodable video frames")


def decode_video(data: bytes, mime_type: str = "", **kwargs: object) -> list[Frame]:
    """All sampled frames at once (tests and small inputs); see `iter_video`."""
    return list(iter_video(data, mime_type, **kwargs))  # type: ignore[arg-type]


def decode_image(data: bytes, mime_type: str = "", *, field: str = "video_frame") -> np.ndarray:
    """Decode one live still (JPEG or PNG) to BGR pixels."""
    if not data:
        raise InvalidInput(f"{field}.image", "is empty")
    mime = mime_type.split(";")[0].strip().lower()
    if mime and mime not in IMAGE_MIME_TYPES:
        raise InvalidInput(
            f"{field}.mime_type",
            f"unsupported image type {mime!r} (accepted: image/jpeg, image/png)",
        )
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise InvalidInput(f"{field}.image", "could not be decoded as a JPEG or PNG image")
    return image
