"""Where the eyes point: the pupil's place in the eye opening, and gaze = head + eye.

dlib's 68 landmarks outline the eyelids but have no iris or pupil points (iris landmarks
come with MediaPipe's 478-point mesh, which cannot be installed next to this project's
protobuf). So the pupil is estimated from the pixels: inside the eye opening (the lid
polygon, shrunk so the lash line stays out) the iris and pupil are the darkest large region;
its intensity-weighted centre, projected on the line between the eye corners, gives the
pupil's horizontal place as a share of the eye's width (0 = midway between the corners).

The pupil sits a few millimetres in front of the line between the eye corners, so a head
turn alone moves it across the opening too (by about PUPIL_AHEAD_MM / EYE_WIDTH_MM times the
tangent of the head's yaw); that part is taken off before the eyes' own turn is reported.

Only the horizontal place is used. Vertically the lids cover the iris and follow it, so the
vertical gaze is left to the head's pitch. Turning the share into an angle uses a textbook
eye: an opening ~30 mm wide, an eyeball of ~12 mm radius; that is good to within tens of
percent for one person, which is why behaviour.py reads gaze against the subject's own
neutral, never as an absolute angle. Eyes narrower than MIN_EYE_WIDTH_PX, shut, or without
a clearly darker region give NaN: not measured, never guessed.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

WORK_WIDTH_PX = 48  # eye crops are resampled so the corners are this far apart
MIN_EYE_WIDTH_PX = 10.0  # narrower eyes (small faces) have too few pixels for a pupil
MIN_EYE_ASPECT = 0.15  # lids closer than this (a blink) hide the iris
DARK_PERCENTILE = 20  # the darkest fifth of the opening: iris and pupil, not the white
MIN_CONTRAST = 0.12  # the dark region must be this much darker (share of the median grey)
EYE_WIDTH_MM = 30.0  # corner to corner, adult average
EYEBALL_RADIUS_MM = 12.0
PUPIL_AHEAD_MM = 5.0  # the pupil in front of the corner-to-corner line (textbook, rough)


def pupil_offset(gray: np.ndarray, eye: np.ndarray, eye_aspect: float) -> float:
    """The pupil's horizontal place in the eye, as a share of the eye's width (+ image right).

    `eye` holds the six iBUG landmarks of one eye (corners at 0 and 3) in `gray`'s pixels;
    `eye_aspect` is that eye's aspect ratio. NaN when the pupil cannot be seen.
    """
    width = float(np.linalg.norm(eye[3] - eye[0]))
    if not math.isfinite(eye_aspect) or eye_aspect < MIN_EYE_ASPECT or width < MIN_EYE_WIDTH_PX:
        return math.nan
    h, w = gray.shape[:2]
    x0, y0 = np.maximum(np.floor(eye.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(eye.max(axis=0)).astype(int) + 3, (w, h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return math.nan
    scale = WORK_WIDTH_PX / width
    crop = cv2.resize(
        gray[y0:y1, x0:x1].astype(np.float32),
        None,
        fx=scale,
        fy=scale,
        interpolation=cv2.INTER_CUBIC,
    )
    points = (eye - (x0, y0)) * scale
    mask: np.ndarray = np.zeros(crop.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], (255,))
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=2)  # keep the lashes out
    inside = mask > 0
    if inside.sum() < 20:
        return math.nan
    blur = cv2.GaussianBlur(crop, (0, 0), WORK_WIDTH_PX * 0.06)
    values = blur[inside]
    threshold = float(np.percentile(values, DARK_PERCENTILE))
    median = float(np.median(values))
    dark = inside & (blur <= threshold)
    if median <= 0 or (median - float(blur[dark].mean())) / median < MIN_CONTRAST:
        return math.nan
    ys, xs = np.nonzero(dark)
    weight = threshold - blur[ys, xs] + 1e-3  # darker counts more: the pupil over the iris
    centre = np.array([np.average(xs, weights=weight), np.average(ys, weights=weight)])
    axis = points[3] - points[0]
    share = float((centre - points[0]) @ axis / (axis @ axis))
    return share - 0.5


def eye_yaw_deg(offset: float, head_yaw: float = 0.0) -> float:
    """Eye-in-head rotation (degrees, + towards the image's right) for a pupil offset seen
    on a head turned by `head_yaw` degrees."""
    if not math.isfinite(offset):
        return math.nan
    if math.isfinite(head_yaw) and abs(head_yaw) < 80:
        offset -= PUPIL_AHEAD_MM / EYE_WIDTH_MM * math.tan(math.radians(head_yaw))
    sine = max(-1.0, min(1.0, offset * EYE_WIDTH_MM / EYEBALL_RADIUS_MM))
    return math.degrees(math.asin(sine))


def eyes_yaw(
    gray: np.ndarray, points: np.ndarray, ear_left: float, ear_right: float, head_yaw: float
) -> tuple[float, float, float]:
    """(offset of the image-left pupil, of the image-right pupil, mean eye-in-head yaw)."""
    left = pupil_offset(gray, points[36:42], ear_left)
    right = pupil_offset(gray, points[42:48], ear_right)
    angles = [eye_yaw_deg(o, head_yaw) for o in (left, right) if math.isfinite(o)]
    return left, right, float(np.mean(angles)) if angles else math.nan
