"""Write samples/face.mp4: a real face with slight head motion, for demos and vision tests.

The face is `skimage.data.astronaut()` (Eileen Collins, NASA, public domain), a real
photograph that ships with scikit-image, so the sample needs no download. The head sways
with small in-plane rotations and translations (a still photograph cannot turn or blink).

    .venv/bin/python samples/make_face_video.py [output.mp4]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data

SIZE = 320  # output frames are SIZE x SIZE pixels
FPS = 12
SECONDS = 4.0
FACE_CENTRE = (222.0, 127.0)  # in the 512x512 photograph
CROP = 280  # source pixels around the face that fill the frame


def frame(photo: np.ndarray, t: float) -> np.ndarray:
    """The photograph at time t: rotated by up to 4 degrees, shifted by up to ~6 pixels."""
    angle = 4.0 * math.sin(2 * math.pi * 0.5 * t)
    dx = 6.0 * math.sin(2 * math.pi * 0.35 * t + 1.0)
    dy = 3.0 * math.sin(2 * math.pi * 0.6 * t)
    matrix = np.asarray(cv2.getRotationMatrix2D(FACE_CENTRE, angle, 1.0), dtype=np.float64)
    matrix[:, 2] += (dx, dy)
    moved = cv2.warpAffine(photo, matrix, photo.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
    cx, cy = FACE_CENTRE
    x0 = int(cx - CROP / 2)
    y0 = max(0, int(cy + 13 - CROP / 2))
    crop = moved[y0 : y0 + CROP, x0 : x0 + CROP]
    return cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def write(path: Path) -> int:
    """Encode the clip with OpenCV's mp4v writer; returns the number of frames."""
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (SIZE, SIZE))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    n = round(SECONDS * FPS)
    try:
        for i in range(n):
            writer.write(frame(photo, i / FPS))
    finally:
        writer.release()
    return n


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("face.mp4")
    frames = write(out)
    print(f"wrote {out} ({frames} frames, {out.stat().st_size / 1024:.0f} KiB)")
