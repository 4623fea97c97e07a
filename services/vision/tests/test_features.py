"""Face finding (the neural models, in-process) and per-frame geometry on a real face and on
synthetic landmarks."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from services.vision.features import (
    HEAD_MODEL_LANDMARKS,
    HEAD_MODEL_MM,
    angles_to_rotation,
    brow_height,
    eye_aspect_ratio,
    head_pose,
    level_eyes,
    lip_corner_elevation,
    lip_thickness,
    measure_frame,
)
from services.vision.neural_face import NeuralFaceTracker, OnnxFaceModels
from services.vision.observation import FrameStatus


@pytest.fixture(scope="module")
def models() -> OnnxFaceModels:
    return OnnxFaceModels()


@pytest.fixture(scope="module")
def astronaut_face(astronaut, models):
    observation = NeuralFaceTracker(models).observe(astronaut)
    return observation, measure_frame(observation, 0.0, 512, 512)


def test_astronaut_face_has_68_landmarks_on_the_face(astronaut_face) -> None:
    observation, m = astronaut_face
    assert observation.status is FrameStatus.ONE_FACE
    assert observation.landmarks is not None
    assert observation.landmarks.shape == (68, 2)
    # The face lies around x 170-290, y 80-200 in the 512 px photograph.
    centre = observation.landmarks.mean(axis=0)
    assert 180 < centre[0] < 270 and 90 < centre[1] < 190
    assert 0.25 < m.ear < 0.45  # eyes open
    assert m.lip_corner > 0.08  # she is smiling
    assert abs(m.yaw) < 15 and abs(m.roll) < 8  # roughly frontal, head level


def test_tracking_keeps_the_face_and_follows_it(astronaut, models) -> None:
    tracker = NeuralFaceTracker(models)
    shifted = [np.roll(astronaut, 3 * i, axis=1) for i in range(8)]
    seen = [tracker.observe(image) for image in shifted]
    assert all(o.status is FrameStatus.ONE_FACE for o in seen)
    xs = [o.landmarks[:, 0].mean() for o in seen if o.landmarks is not None]
    np.testing.assert_allclose(np.diff(xs), 3.0, atol=1.5)


def test_never_guesses(astronaut, models) -> None:
    tracker = NeuralFaceTracker(models)
    assert tracker.observe(np.full((240, 320, 3), 128, np.uint8)).status is FrameStatus.NO_FACE
    dark = (astronaut * 0.1).astype(np.uint8)
    assert tracker.observe(dark).status is FrameStatus.TOO_DARK
    face = astronaut[0:320, 60:380]
    pair = np.ascontiguousarray(np.hstack([face, face]))
    observed = tracker.observe(pair)
    assert observed.status is FrameStatus.SEVERAL_FACES and observed.faces == 2
    m = measure_frame(observed, 0.0, 640, 320)
    assert not m.measured and math.isnan(m.ear) and math.isnan(m.yaw)


def test_eye_aspect_ratio_of_a_known_eye() -> None:
    # Corners 30 px apart, lids 9 px apart at both vertical pairs: EAR = 9/30.
    eye = np.array([(0, 0), (10, -4.5), (20, -4.5), (30, 0), (20, 4.5), (10, 4.5)])
    assert eye_aspect_ratio(eye) == pytest.approx(0.3)
    closed = eye * np.array([1.0, 0.1])
    assert eye_aspect_ratio(closed) == pytest.approx(0.03)


def test_geometry_ignores_scale_and_in_plane_rotation(astronaut_face) -> None:
    points = astronaut_face[0].landmarks
    aligned, angle, _ = level_eyes(points)
    theta = math.radians(20)
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    moved = (points - 250) @ rotation.T * 1.7 + 300
    aligned2, angle2, _ = level_eyes(moved)
    assert angle2 - angle == pytest.approx(20.0, abs=1e-6)
    assert brow_height(aligned2) == pytest.approx(brow_height(aligned), abs=1e-9)
    assert lip_corner_elevation(aligned2) == pytest.approx(lip_corner_elevation(aligned), abs=1e-9)


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"), [(0, 0, 0), (20, 0, 0), (0, -15, 0), (0, 0, 12), (-25, 10, -6)]
)
def test_head_pose_recovers_known_rotations(yaw, pitch, roll) -> None:
    width = height = 640
    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1.0]])
    rvec, _ = cv2.Rodrigues(angles_to_rotation(yaw, pitch, roll))
    projected, _ = cv2.projectPoints(
        HEAD_MODEL_MM, rvec, np.array([0.0, 0.0, 600.0]), camera, np.zeros(4)
    )
    points = np.zeros((68, 2))
    points[list(HEAD_MODEL_LANDMARKS)] = projected.reshape(-1, 2)
    got = head_pose(points, width, height)
    np.testing.assert_allclose(got, (yaw, pitch, roll), atol=0.5)


def test_head_pose_signs_match_the_picture() -> None:
    """Yaw + turns the nose to the image's right; pitch + lifts it; roll + is clockwise."""
    camera = np.array([[640, 0, 320], [0, 640, 320], [0, 0, 1.0]])

    def project(yaw: float, pitch: float, roll: float) -> np.ndarray:
        rvec, _ = cv2.Rodrigues(angles_to_rotation(yaw, pitch, roll))
        out, _ = cv2.projectPoints(
            HEAD_MODEL_MM, rvec, np.array([0, 0, 600.0]), camera, np.zeros(4)
        )
        return out.reshape(-1, 2)

    def nose_from_eyes(p: np.ndarray) -> np.ndarray:
        return p[0] - (p[2] + p[3]) / 2

    front = nose_from_eyes(project(0, 0, 0))
    assert nose_from_eyes(project(20, 0, 0))[0] > front[0] + 5
    assert nose_from_eyes(project(0, 20, 0))[1] < front[1] - 5
    eyes = project(0, 0, 15)[[2, 3]]
    assert eyes[1, 1] > eyes[0, 1] + 5  # the image-right eye drops: clockwise


def test_threads_get_the_same_answer(astronaut, models) -> None:
    """The servicer runs analyses in worker threads, sharing the models (onnxruntime
    sessions, or Triton clients one per thread)."""
    from concurrent.futures import ThreadPoolExecutor

    def landmarks(_: int) -> np.ndarray:
        found = NeuralFaceTracker(models).observe(astronaut).landmarks
        assert found is not None
        return found

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(landmarks, range(4)))
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


def test_lip_thickness_of_known_lips() -> None:
    points = np.zeros((68, 2))
    points[50:53, 1] = -0.10  # upper lip: outer contour 0.10 above the inner one
    points[61:64, 1] = 0.0
    points[[56, 57, 58], 1] = 0.12  # lower lip: outer contour 0.12 below the inner one
    points[[65, 66, 67], 1] = 0.0
    assert lip_thickness(points) == pytest.approx(0.22)
    points[[56, 57, 58], 1] = 0.02  # rolled in: pressed
    assert lip_thickness(points) == pytest.approx(0.12)
