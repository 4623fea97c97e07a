"""Pupil place from a drawn eye with a known pupil, and from the real eyes of a photograph."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from samples import synthetic_face
from services.vision.features import eye_aspect_ratio, measure_frame
from services.vision.gaze import eye_yaw_deg, pupil_offset
from services.vision.neural_face import NeuralFaceTracker, OnnxFaceModels

# A 60 px wide eye: corners at x 20 and 80, lids 10 px above and below the corner line.
EYE = np.array([(20, 50), (40, 40), (60, 40), (80, 50), (60, 60), (40, 60)], dtype=float)


def drawn_eye(pupil_x: float) -> np.ndarray:
    """Skin, the white of the eye inside the lids, an iris and pupil centred at `pupil_x`."""
    image = np.full((100, 100), 170, np.uint8)
    cv2.fillPoly(image, [EYE.astype(np.int32)], (235,))
    white = np.zeros_like(image)
    cv2.fillPoly(white, [EYE.astype(np.int32)], (1,))
    iris = np.zeros_like(image)
    cv2.circle(iris, (round(pupil_x), 50), 11, (1,), -1)
    image[(iris > 0) & (white > 0)] = 70
    cv2.circle(image, (round(pupil_x), 50), 4, (20,), -1)
    return image


@pytest.mark.parametrize("pupil_x", [38, 50, 62])
def test_the_pupil_is_where_it_was_drawn(pupil_x: float) -> None:
    offset = pupil_offset(drawn_eye(pupil_x), EYE, eye_aspect_ratio(EYE))
    assert offset == pytest.approx((pupil_x - 50) / 60, abs=0.03)


def test_no_pupil_is_guessed() -> None:
    assert math.isnan(pupil_offset(drawn_eye(50), EYE, 0.05))  # lids shut
    assert math.isnan(pupil_offset(drawn_eye(50), EYE / 8, 0.33))  # eye 7 px wide
    blank = np.full((100, 100), 200, np.uint8)  # nothing darker inside the lids
    assert math.isnan(pupil_offset(blank, EYE, 0.33))


def test_eye_turn_from_the_textbook_eye() -> None:
    # 30 mm wide opening, 12 mm eyeball radius: a pupil a fifth of the width off centre
    # (6 mm) is a 30 degree turn.
    assert eye_yaw_deg(0.2) == pytest.approx(30.0)
    assert eye_yaw_deg(-0.2) == pytest.approx(-30.0)
    # Turning the head moves the pupil across the opening by itself; that is taken off.
    assert eye_yaw_deg(5 / 30 * math.tan(math.radians(20)), head_yaw=20) == pytest.approx(0.0)
    assert math.isnan(eye_yaw_deg(math.nan))


def test_real_eyes_looking_aside(astronaut) -> None:
    face = synthetic_face.Face.of(astronaut)  # dlib's landmarks place the drawn irises
    models = OnnxFaceModels()  # the service's landmarks measure them
    turns = []
    for shift in (-0.2, 0.0, 0.2):
        image = synthetic_face.shift_irises(face, shift)
        m = measure_frame(NeuralFaceTracker(models).observe(image), 0.0, 512, 512, image)
        turns.append(m.eye_yaw)
        assert math.isfinite(m.pupil_left) and math.isfinite(m.pupil_right)
        assert m.gaze_yaw == pytest.approx(m.yaw + m.eye_yaw)
    left, ahead, right = turns
    assert left < ahead - 10 and right > ahead + 10  # irises moved a fifth of the eye
    assert abs(ahead) < 10
