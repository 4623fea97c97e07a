"""What the face stage reports per frame, shared by every face finder (no model code here).

`FaceObservation` is the contract features.py reads: a status, and for ONE_FACE the 68
landmarks in dlib's iBUG order (pixels of the frame that was observed). The neural finder
(neural_face.py, Triton) and the dlib reference (face.py, tests only) both give it.
"""

from __future__ import annotations

import enum
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
