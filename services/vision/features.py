"""Per-frame facial geometry from the 68 iBUG landmarks (pure functions, no model state).

Every distance is divided by the inter-ocular distance (between the two eye centres) so it
does not depend on how far the face is from the camera, and measured after rotating the
landmarks so the eyes are level, so a tilted head does not read as a raised brow.

Landmark indices (iBUG 68): jaw 0-16, brows 17-21 / 22-26 (image left / right), nose 27-35,
eyes 36-41 / 42-47, outer lips 48-59 (corners 48 and 54), inner lips 60-67 (62 top, 66 bottom).
"Left" and "right" below are image sides (the subject's right eye is on the image's left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from services.vision.gaze import eyes_yaw
from services.vision.observation import FaceObservation, FrameStatus, grey

# A generic head in millimetres, in camera-style axes (x right, y down, z away from the
# camera) so a face looking straight into the camera has the identity rotation. Points:
# nose tip, chin, outer eye corners, mouth corners (the usual six-point solvePnP model).
HEAD_MODEL_MM = np.array(
    [
        (0.0, 0.0, 0.0),  # 30 nose tip
        (0.0, 63.6, 12.5),  # 8 chin
        (-43.3, -32.7, 26.0),  # 36 outer corner of the image-left eye
        (43.3, -32.7, 26.0),  # 45 outer corner of the image-right eye
        (-28.9, 28.9, 24.1),  # 48 image-left mouth corner
        (28.9, 28.9, 24.1),  # 54 image-right mouth corner
    ],
    dtype=np.float64,
)
HEAD_MODEL_LANDMARKS = (30, 8, 36, 45, 48, 54)


@dataclass(frozen=True)
class FrameMeasures:
    """Geometry of the one face in a frame; NaN when the frame was not measurable.

    Angles are in degrees on the image's axes; `gaze_yaw` is the head's yaw plus the eyes'
    own turn (NaN when no pupil was found), `gaze_pitch` is the head's pitch (see gaze.py).
    """

    timestamp_s: float
    status: FrameStatus
    faces: int
    brightness: float
    ear: float = math.nan  # eye aspect ratio, mean of both eyes (~0.3 open, <0.2 closed)
    ear_left: float = math.nan
    ear_right: float = math.nan
    mouth_open: float = math.nan  # inner-lip gap / mouth width (0 closed, ~0.3+ wide open)
    mouth_width: float = math.nan  # corner-to-corner / inter-ocular distance
    brow_height: float = math.nan  # brows above the eye-corner line / inter-ocular distance
    lip_corner: float = math.nan  # corners above the lip midline / inter-ocular (+ up, - down)
    yaw: float = math.nan  # degrees, + when the face turns towards the image's right
    pitch: float = math.nan  # degrees, + when the face turns up
    roll: float = math.nan  # degrees, + when the head leans clockwise in the image
    iod_px: float = math.nan  # inter-ocular distance in pixels (face scale: leaning in/out)
    lip_thickness: float = math.nan  # red of both lips / inter-ocular (thins when pressed)
    pupil_left: float = math.nan  # pupil's place in the image-left eye, share of its width
    pupil_right: float = math.nan
    eye_yaw: float = math.nan  # the eyes' turn in the head (+ towards the image's right)
    gaze_yaw: float = math.nan  # yaw + eye_yaw
    gaze_pitch: float = math.nan  # the head's pitch (dlib gives no vertical pupil place)
    landmarks: np.ndarray | None = field(default=None, compare=False, repr=False)  # 68x2 px

    @property
    def measured(self) -> bool:
        return self.status is FrameStatus.ONE_FACE


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Soukupová & Čech (2016): eyelid opening over eye width; drops towards 0 in a blink."""
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = np.linalg.norm(eye[0] - eye[3])
    return float(vertical / (2.0 * horizontal)) if horizontal > 0 else math.nan


def level_eyes(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Landmarks rotated so the eye centres are level and scaled to inter-ocular units.

    Returns (aligned points, in-plane angle of the eye line in degrees, inter-ocular px).
    """
    left, right = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    dx, dy = right - left
    iod = math.hypot(dx, dy)
    angle = math.atan2(dy, dx)
    c, s = math.cos(-angle), math.sin(-angle)
    rotation = np.array([[c, -s], [s, c]])
    aligned = (points - (left + right) / 2) @ rotation.T / iod
    return aligned, math.degrees(angle), iod


def mouth_opening(aligned: np.ndarray) -> float:
    """Mean gap between the inner lips over the mouth width (a mouth aspect ratio)."""
    gap = np.mean([aligned[67 - i, 1] - aligned[61 + i, 1] for i in range(3)])
    width = np.linalg.norm(aligned[54] - aligned[48])
    return float(max(gap, 0.0) / width) if width > 0 else math.nan


def lip_thickness(aligned: np.ndarray) -> float:
    """Height of the red of the upper plus the lower lip (outer to inner contour).

    Pressing the lips together rolls them in and thins this (behaviour.py also asks for a
    shut mouth before it calls thin lips a press).
    """
    upper = aligned[61:64, 1] - aligned[50:53, 1]
    lower = aligned[[58, 57, 56], 1] - aligned[[67, 66, 65], 1]
    return float(upper.mean() + lower.mean())


def brow_height(aligned: np.ndarray) -> float:
    """Brows above the line through the eye corners (corners do not move when blinking)."""
    eye_line = aligned[[36, 39, 42, 45], 1].mean()
    return float(eye_line - aligned[17:27, 1].mean())


def lip_corner_elevation(aligned: np.ndarray) -> float:
    """Mouth corners above the midline between the inner lips: + smiling, - turned down."""
    midline = (aligned[62, 1] + aligned[66, 1]) / 2
    return float(midline - aligned[[48, 54], 1].mean())


def head_pose(points: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from six landmarks and a generic head (cv2.solvePnP).

    The camera is assumed to have a focal length of one image width and no distortion:
    good to a few degrees, which is what turning, nodding and tilting need.
    """
    focal = float(width)
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    image_points = points[list(HEAD_MODEL_LANDMARKS)].astype(np.float64)
    ok, rvec, _ = cv2.solvePnP(
        HEAD_MODEL_MM, image_points, camera, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return math.nan, math.nan, math.nan
    rotation, _ = cv2.Rodrigues(rvec)
    return rotation_to_angles(rotation)


def rotation_to_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """Head rotation (model -> camera, R = Rz(roll) Ry(-yaw) Rx(-pitch)) as (yaw, pitch, roll)."""
    yaw = -math.degrees(math.asin(max(-1.0, min(1.0, -rotation[2, 0]))))
    pitch = -math.degrees(math.atan2(rotation[2, 1], rotation[2, 2]))
    roll = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    return yaw, pitch, roll


def angles_to_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The inverse of `rotation_to_angles` (used to synthesise known poses in tests)."""
    a, b, c = math.radians(-pitch), math.radians(-yaw), math.radians(roll)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def measure_frame(
    observation: FaceObservation,
    timestamp_s: float,
    width: int,
    height: int,
    image: np.ndarray | None = None,
) -> FrameMeasures:
    """All per-frame measures for one observation (NaN unless exactly one face was found).

    `image` (the frame's pixels) is needed for the pupils only; without it they are NaN.
    """
    if observation.status is not FrameStatus.ONE_FACE or observation.landmarks is None:
        return FrameMeasures(
            timestamp_s, observation.status, observation.faces, observation.brightness
        )
    points = observation.landmarks
    aligned, _, iod = level_eyes(points)
    ear_left = eye_aspect_ratio(points[36:42])
    ear_right = eye_aspect_ratio(points[42:48])
    yaw, pitch, roll = head_pose(points, width, height)
    pupil_left = pupil_right = eye_yaw = math.nan
    if image is not None:
        pupil_left, pupil_right, eye_yaw = eyes_yaw(grey(image), points, ear_left, ear_right, yaw)
    return FrameMeasures(
        timestamp_s=timestamp_s,
        status=observation.status,
        faces=observation.faces,
        brightness=observation.brightness,
        ear=(ear_left + ear_right) / 2,
        ear_left=ear_left,
        ear_right=ear_right,
        mouth_open=mouth_opening(aligned),
        mouth_width=float(np.linalg.norm(aligned[54] - aligned[48])),
        brow_height=brow_height(aligned),
        lip_corner=lip_corner_elevation(aligned),
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        iod_px=iod,
        lip_thickness=lip_thickness(aligned),
        pupil_left=pupil_left,
        pupil_right=pupil_right,
        eye_yaw=eye_yaw,
        gaze_yaw=yaw + eye_yaw,
        gaze_pitch=pitch,
        landmarks=points,
    )
