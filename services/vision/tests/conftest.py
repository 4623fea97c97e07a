"""Shared fixtures for the vision tests: small videos made on the fly with cv2.VideoWriter."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "face.mp4"


def encode(frames: Sequence[np.ndarray], fourcc: str, suffix: str, fps: float) -> bytes:
    """Encode BGR frames with OpenCV's writer and return the container's bytes."""
    h, w = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / f"clip{suffix}")
        writer = cv2.VideoWriter(path, cv2.VideoWriter.fourcc(*fourcc), fps, (w, h))
        if not writer.isOpened():
            pytest.skip(f"OpenCV cannot write {fourcc} here")
        for frame in frames:
            writer.write(frame)
        writer.release()
        return Path(path).read_bytes()


@pytest.fixture(scope="session")
def make_video() -> Callable[..., bytes]:
    return encode


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real face photograph (BGR) that ships with scikit-image."""
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    return SAMPLE.read_bytes()


@pytest.fixture(scope="session")
def still_clip(astronaut) -> bytes:
    """One second (10 frames) of the photograph, still: a cheap clip with a real face."""
    return encode([astronaut[0:320, 60:380]] * 10, "MJPG", ".avi", 10.0)
