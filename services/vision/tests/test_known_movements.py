"""Known movements drawn onto a real face, encoded as video, measured by the whole service.

Each clip is the astronaut photograph with one movement of known timing and size
(samples/synthetic_face.py); the checks first confirm that the face models (neural_face.py,
the landmarks the service measures with) really see the movement on those frames, then that
the service reports it where it was put. Tolerances: blink onset and length to the frame,
head yaw within 5 degrees of the turn drawn, brow raise above the event threshold.
test_dlib_reference.py puts the same clips through the old dlib landmarks for comparison.
"""

from __future__ import annotations

import numpy as np
import pytest

from samples import synthetic_face
from services.vision.analyzer import VisionAnalyzer
from services.vision.behaviour import BROW_RAISE, EYES_CLOSED_FRACTION
from services.vision.features import measure_frame
from services.vision.neural_face import NeuralFaceTracker
from services.vision.tests.test_analyzer import request
from veritas.v1 import common_pb2

FPS = 30.0


@pytest.fixture(scope="module")
def face(astronaut) -> synthetic_face.Face:
    # A 320 px crop around the face, the size of the bundled sample's frames.
    return synthetic_face.Face.of(np.ascontiguousarray(astronaut[0:320, 60:380]))


@pytest.fixture(scope="module")
def analyzer() -> VisionAnalyzer:
    return VisionAnalyzer()


def analyse(analyzer, clip: bytes, fps: float = FPS):
    prepared = analyzer.prepare(request(clip, target_fps=fps))
    windows = list(analyzer.windows(prepared, common_pb2.Options(window_s=1.0)))
    return prepared, windows, analyzer.summarize(prepared, windows)


@pytest.mark.parametrize("closed", [3, 7])
def test_eyes_closed_for_n_frames_is_one_blink_that_long(face, make_video, analyzer, closed):
    start = 33
    shut = synthetic_face.close_eyes(face)
    frames = [shut if start <= i < start + closed else face.image for i in range(45)]
    prepared, windows, summary = analyse(analyzer, make_video(frames, "MJPG", ".avi", FPS))
    ears = np.array([f.ear for f in prepared.video.frames])
    assert len(ears) == 45
    open_ear = np.median(ears)
    # The face mesh really sees shut eyes (its lids close less than dlib's: the threshold
    # is a share of the open-eye value), and open eyes stay clear of the threshold.
    assert ears[start : start + closed].max() < EYES_CLOSED_FRACTION * open_ear
    assert np.delete(ears, range(start, start + closed)).min() > 0.9 * open_ear
    (blink,) = [e for e in summary.events if e.name in ("blink", "eye_closure")]
    assert blink.name == "blink"
    assert blink.onset_s == pytest.approx(start / FPS, abs=1e-3)
    assert blink.offset_s - blink.onset_s == pytest.approx(closed / FPS, abs=1e-3)
    assert start / FPS <= blink.apex_s < (start + closed) / FPS
    assert summary.features["blink_count"] == 1
    assert summary.features["blink_duration_mean_s"] == pytest.approx(closed / FPS, abs=1e-3)
    assert summary.features["blink_rate_per_min"] == pytest.approx(60 / (45 / FPS), rel=0.05)
    assert [len(w.events) for w in windows] == [0, 1]  # reported in the window of its onset


@pytest.mark.parametrize("yaw", [-15.0, 15.0])
def test_a_head_turned_by_a_known_yaw_measures_about_that(face, analyzer, yaw):
    def measured(image: np.ndarray):
        observed = NeuralFaceTracker(analyzer.face_models).observe(image)
        return measure_frame(observed, 0.0, 320, 320, image)

    ahead = measured(face.image)
    turned = measured(synthetic_face.turn_head(face, yaw))
    assert turned.measured
    assert turned.yaw - ahead.yaw == pytest.approx(yaw, abs=5.0)
    assert abs(turned.pitch - ahead.pitch) < 5.0


def test_a_three_frame_brow_raise_is_a_micro_expression(face, make_video, analyzer):
    raised = synthetic_face.shift_brows(face, 0.10)
    frames = [raised if 30 <= i < 33 else face.image for i in range(48)]
    clip = make_video(frames, "MJPG", ".avi", FPS)
    prepared, _, summary = analyse(analyzer, clip)
    brows = np.array([f.brow_height for f in prepared.video.frames])
    rest = np.median(brows)
    assert (brows[30:33] - rest).min() > BROW_RAISE  # the mesh sees the raise there
    (micro,) = [e for e in summary.events if e.name == "micro_expression"]
    assert micro.detail.startswith("brow raise")
    assert micro.onset_s == pytest.approx(1.0, abs=1e-3)
    assert 1.0 <= micro.apex_s < 1.1
    assert micro.offset_s == pytest.approx(1.1, abs=1e-3)
    assert summary.features["micro_expression_count"] == 1
    assert {e.name for e in summary.events} == {"micro_expression"}
    # At the default 10 fps at most one frame of it is sampled: too little to tell it from a
    # landmark glitch, so nothing is claimed.
    _, _, coarse = analyse(analyzer, clip, fps=0)
    assert not [e for e in coarse.events if e.name == "micro_expression"]


def test_two_faces_are_reported_not_measured(face, make_video, analyzer):
    pair = np.hstack([face.image, face.image])
    _, windows, summary = analyse(analyzer, make_video([pair] * 6, "MJPG", ".avi", FPS))
    for w in [*windows, summary]:
        assert not w.usable and w.quality == 0.0 and not w.events
        assert w.features == {"face_frames_ratio": 0.0}
        assert any(n.startswith("several faces in 6 of 6 frames") for n in w.notes)
