"""What the face stage reports per frame, shared by every face finder (no model code here),
and the notes that tell a human about the frames it could not measure.

`FaceObservation` is the contract features.py reads: a status, and for ONE_FACE the 68
landmarks in dlib's iBUG order (pixels of the frame that was observed). The neural finder
(neural_face.py, Triton) and the dlib reference (face.py, outside the service) both give it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

DARK_MEAN_LEVEL = 40.0  # mean grey level (0-255) under which faces and landmarks are unreliable


class FrameStatus(enum.Enum):
    ONE_FACE = "one_face"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    TOO_DARK = "too_dark"


@dataclass(frozen=True)
class FaceObservation:
    """What the face stage saw in one frame; `landmarks` (68x2, pixels) only for ONE_FACE.

    `presence` is the landmark model's face-presence score (neural finder only; 1.0 from
    dlib, which has none)."""

    status: FrameStatus
    landmarks: np.ndarray | None = None
    faces: int = 0
    brightness: float = 0.0
    presence: float = 1.0


def grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def status_notes(counts: Mapping[FrameStatus, int], n: int) -> list[str]:
    """What a human should know about the frames (`counts` by status, of `n`) that could
    not be measured."""
    notes = []
    if counts.get(FrameStatus.NO_FACE):
        notes.append(f"no face in {counts[FrameStatus.NO_FACE]} of {n} frames")
    if counts.get(FrameStatus.SEVERAL_FACES):
        notes.append(
            f"several faces in {counts[FrameStatus.SEVERAL_FACES]} of {n} frames "
            "(not measured: whose face it is would be a guess)"
        )
    if counts.get(FrameStatus.TOO_DARK):
        notes.append(f"too dark to measure in {counts[FrameStatus.TOO_DARK]} of {n} frames")
    return notes
