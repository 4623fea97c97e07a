"""Write samples/face.mp4: a real face doing known things at known times, for demos and tests.

The face is `skimage.data.astronaut()` (Eileen Collins, NASA, public domain), a real
photograph that ships with scikit-image, so the sample needs no download. A photograph cannot
move, so every movement is drawn onto it with samples/synthetic_face.py; the script of
what happens when (`script`) is the ground truth the vision service should find:

    0.9 s, 4.2 s, 5.7 s  blinks (200 ms each)
    1.87 s brow flash (360 ms: a micro-expression at the default 10 fps)
    2.6 s  head shake (2 cycles, +-14 deg yaw)
    4.6 s  two nods (22 deg down)       6.0 s  eyes to the side with a frown (800 ms)
    7.0 s  brows raised (800 ms)        8.0 s  head turned 30 deg and tilted 12 deg, held

Throughout, the head sways by a degree and a few pixels, as a seated person does.

    .venv/bin/python samples/make_face_video.py [output.mp4]
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from samples import synthetic_face  # noqa: E402

SIZE = 320  # output frames are SIZE x SIZE pixels
FPS = 30
SECONDS = 9.0
FACE_CENTRE = (222.0, 127.0)  # in the 512x512 photograph
CROP = 280  # source pixels around the face that fill the frame
BLINKS = ((0.9, 0.2), (4.2, 0.2), (5.7, 0.2))  # (start s, length s)


@dataclass(frozen=True)
class Pose:
    """What the face does at one instant."""

    yaw: float = 0.0
    pitch: float = 0.0
    brows: float = 0.0  # inter-ocular distances, + up
    irises: float = 0.0  # share of the eye width, + towards the image's right
    eyes_closed: bool = False


def _inside(t: float, start: float, length: float) -> bool:
    return start <= t < start + length


def _ramp(t: float, start: float, length: float, edge: float = 0.1) -> float:
    """0 outside [start, start + length), 1 inside, with linear edges of `edge` seconds."""
    rise = (t - start) / edge
    fall = (start + length - t) / edge
    return max(0.0, min(1.0, rise, fall))


def script(t: float) -> Pose:
    """The ground truth: what the face does at time t (seconds)."""
    yaw = pitch = brows = irises = 0.0
    if _inside(t, 2.6, 4 / 3):  # head shake: two cycles at 1.5 Hz
        yaw = 14.0 * math.sin(2 * math.pi * 1.5 * (t - 2.6))
    if _inside(t, 4.6, 1.0):  # two nods: down and back up, twice
        pitch = -22.0 * math.sin(2 * math.pi * (t - 4.6)) ** 2
    if t >= 8.0:  # head turned to the side and held
        yaw = 30.0 * min(1.0, (t - 8.0) / 0.15)
    brows += 0.12 * _ramp(t, 1.87, 0.36, edge=1 / 30)  # brow flash
    brows += 0.12 * _ramp(t, 7.0, 0.8)  # brows raised
    brows -= 0.09 * _ramp(t, 6.0, 0.8)  # frown
    irises = 0.25 * _ramp(t, 6.0, 0.8)  # eyes to the image's right
    closed = any(_inside(t, start, length) for start, length in BLINKS)
    return Pose(yaw, pitch, brows, irises, closed)


def render(face: synthetic_face.Face, pose: Pose, t: float) -> np.ndarray:
    """One frame: the edits of `pose`, the head turn, a slight sway, the crop."""
    image = face.image
    if pose.brows:
        image = synthetic_face.shift_brows(face, pose.brows, image)
    if pose.irises:
        image = synthetic_face.shift_irises(face, pose.irises, image)
    if pose.eyes_closed:
        image = synthetic_face.close_eyes(face, image)
    image = synthetic_face.turn_head(face, pose.yaw, pose.pitch, image)
    angle = 1.0 * math.sin(2 * math.pi * 0.3 * t)  # + is counter-clockwise in cv2
    if t >= 8.0:
        angle -= 12.0 * min(1.0, (t - 8.0) / 0.15)
    dx = 4.0 * math.sin(2 * math.pi * 0.2 * t + 1.0)
    dy = 2.0 * math.sin(2 * math.pi * 0.4 * t)
    matrix = np.asarray(cv2.getRotationMatrix2D(FACE_CENTRE, angle, 1.0), dtype=np.float64)
    matrix[:, 2] += (dx, dy)
    moved = cv2.warpAffine(image, matrix, image.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
    cx, cy = FACE_CENTRE
    x0 = int(cx - CROP / 2)
    y0 = max(0, int(cy + 13 - CROP / 2))
    crop = moved[y0 : y0 + CROP, x0 : x0 + CROP]
    return cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def write(path: Path) -> int:
    """Encode the clip with OpenCV's mp4v writer; returns the number of frames."""
    face = synthetic_face.Face.of(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (SIZE, SIZE))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    n = round(SECONDS * FPS)
    try:
        for i in range(n):
            t = i / FPS
            writer.write(render(face, script(t), t))
    finally:
        writer.release()
    return n


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("face.mp4")
    frames = write(out)
    print(f"wrote {out} ({frames} frames, {out.stat().st_size / 1024:.0f} KiB)")
