"""The neural face finder: detector decoding, crops, the 68-point table, tracking, batching.
(The same answers from Triton as from the ONNX files run in-process, a test that starts
Triton: tests/test_face_models_on_triton.py.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.vision import neural_face as nf
from services.vision.observation import FrameStatus


@pytest.fixture(scope="module")
def models() -> nf.OnnxFaceModels:
    return nf.OnnxFaceModels()


class CountingModels:
    """Wraps the in-process models and records every request's batch size."""

    def __init__(self, inner: nf.FaceModels) -> None:
        self.inner = inner
        self.calls: list[tuple[str, int]] = []

    def detect(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls.append(("detect", len(images)))
        return self.inner.detect(images)

    def mesh(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls.append(("mesh", len(crops)))
        return self.inner.mesh(crops)


def test_the_68_point_table_is_a_valid_pick_of_the_mesh() -> None:
    table = nf.MESH_TO_IBUG68
    assert table.shape == (68,) and len(set(table.tolist())) == 68
    assert table.min() >= 0 and table.max() < 468
    # The eye aspect ratio's six points per eye and the head-pose points, by name.
    assert table[36:42].tolist() == [33, 160, 158, 133, 153, 144]
    assert table[42:48].tolist() == [362, 385, 387, 263, 373, 380]
    assert (table[8], table[30], table[48], table[54]) == (152, 4, 61, 291)


def test_letterbox_and_decoding_return_frame_pixels() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    pixels, scale, px, py = nf.letterbox(frame)
    assert pixels.shape == (128, 128, 3) and scale == pytest.approx(0.4)
    assert (px, py) == (0.0, 16.0)
    # One anchor with a box at the input's centre, 32 px wide, eyes 8 px either side.
    boxes = np.zeros((nf.DETECT_SIZE * 7, 16), np.float32)[:896]
    boxes[0, :4] = (0.5, 0.5, 0.25, 0.25)
    boxes[0, 4:8] = (0.5 - 8 / 128, 0.45, 0.5 + 8 / 128, 0.45)
    scores = np.zeros(896, np.float32)
    scores[0] = 0.9
    (face,) = nf.decode_faces(boxes, scores, (scale, px, py))
    assert face.box == pytest.approx((120.0, 80.0, 200.0, 160.0))  # (48-0)/0.4 .. (80-16)/0.4
    assert face.right_eye[0] < face.left_eye[0]
    roi = face.roi()
    assert (roi.cx, roi.cy, roi.size, roi.angle) == pytest.approx((160, 120, 120, 0))


def test_overlapping_anchors_are_one_face_and_apart_are_two() -> None:
    boxes = np.zeros((896, 16), np.float32)
    boxes[:3, :4] = [(0.3, 0.5, 0.2, 0.2), (0.31, 0.5, 0.2, 0.2), (0.8, 0.5, 0.2, 0.2)]
    scores = np.zeros(896, np.float32)
    scores[:3] = (0.9, 0.8, 0.7)
    faces = nf.decode_faces(boxes, scores, (1.0, 0.0, 0.0))
    assert len(faces) == 2
    scores[2] = 0.4  # under MIN_DETECTION_SCORE
    assert len(nf.decode_faces(boxes, scores, (1.0, 0.0, 0.0))) == 1


def test_crop_round_trip() -> None:
    """A point of the frame lands in the crop where the crop's affine says, and back."""
    roi = nf.Roi(200.0, 150.0, 120.0, math.radians(10))
    forward = roi.to_crop()
    point = np.array([230.0, 140.0])
    in_crop = forward[:, :2] @ point + forward[:, 2]
    _, back = nf.cut(np.zeros((300, 400, 3), np.uint8), roi)
    np.testing.assert_allclose(nf.to_frame(np.array([[*in_crop, 0.0]]), back)[0], point)
    np.testing.assert_allclose(forward[:, :2] @ [200, 150] + forward[:, 2], [96, 96])
    assert roi.fits(nf.Roi(202.0, 151.0, 121.0, math.radians(11)))
    assert not roi.fits(nf.Roi(215.0, 150.0, 120.0, math.radians(10)))


def test_astronaut_found_with_68_landmarks(astronaut, models) -> None:
    observed = nf.NeuralFaceTracker(models).observe(astronaut)
    assert observed.status is FrameStatus.ONE_FACE and observed.faces == 1
    assert observed.landmarks is not None and observed.landmarks.shape == (68, 2)
    assert observed.presence > 0.9
    centre = observed.landmarks.mean(axis=0)
    assert 180 < centre[0] < 270 and 90 < centre[1] < 190  # the face, not the suit


def test_never_guesses(astronaut, models) -> None:
    tracker = nf.NeuralFaceTracker(models)
    blank = np.full((240, 320, 3), 128, np.uint8)
    dark = (astronaut * 0.1).astype(np.uint8)
    face = astronaut[0:320, 60:380]  # two faces of a size the short-range detector sees
    pair = np.ascontiguousarray(np.hstack([face, face]))
    seen = tracker.observe_many([blank, dark, pair])
    assert [o.status for o in seen] == [
        FrameStatus.NO_FACE,
        FrameStatus.TOO_DARK,
        FrameStatus.SEVERAL_FACES,
    ]
    assert seen[2].faces == 2 and seen[2].landmarks is None


def test_a_batch_costs_a_few_requests_not_two_per_frame(astronaut, models) -> None:
    """Ten frames of a face moving 3 px a frame: two keyframe detections in one request,
    every mesh of the batch in one or two more, none per frame; and the landmarks follow."""
    counting = CountingModels(models)
    tracker = nf.NeuralFaceTracker(counting)
    frames = [np.roll(astronaut, 3 * i, axis=1) for i in range(10)]
    seen = tracker.observe_many(frames)
    assert all(o.status is FrameStatus.ONE_FACE for o in seen)
    assert counting.calls[0] == ("detect", 2)  # frames 0 and 5 are keyframes
    assert len(counting.calls) <= 4 and sum(n for _, n in counting.calls) <= 2 + 2 * 10
    xs = [o.landmarks[:, 0].mean() for o in seen if o.landmarks is not None]
    np.testing.assert_allclose(np.diff(xs), 3.0, atol=1.0)


def test_grouping_of_frames_does_not_change_the_answer(astronaut, models) -> None:
    """A frame's landmarks depend on its pixels and its keyframe's only: the same frames
    measured one call each, in one call, or in uneven calls give identical results."""
    frames = [np.roll(astronaut, (2 * i, i), axis=(1, 0)) for i in range(12)]
    frames[7] = np.full_like(astronaut, 128)  # the face leaves for a frame

    def run(groups: list[int]) -> list[np.ndarray | None]:
        tracker = nf.NeuralFaceTracker(models)
        out, start = [], 0
        for n in groups:
            out += [o.landmarks for o in tracker.observe_many(frames[start : start + n])]
            start += n
        return out

    whole = run([12])
    assert whole[7] is None and all(x is not None for i, x in enumerate(whole) if i != 7)
    for groups in ([1] * 12, [3, 1, 5, 3], [7, 5]):
        for a, b in zip(run(groups), whole, strict=True):
            assert (a is None and b is None) or (
                a is not None and b is not None and np.array_equal(a, b)
            ), groups


def test_a_lost_track_is_detected_again(astronaut, models) -> None:
    """Between keyframes the crop comes from the keyframe; when the face jumps away the mesh
    reports it gone and the frame is detected again, not measured in the old crop."""
    counting = CountingModels(models)
    tracker = nf.NeuralFaceTracker(counting)
    moved = np.roll(astronaut, 200, axis=1)
    seen = tracker.observe_many([astronaut, moved])
    assert [o.status for o in seen] == [FrameStatus.ONE_FACE] * 2
    assert seen[0].landmarks is not None and seen[1].landmarks is not None
    assert seen[1].landmarks[:, 0].mean() - seen[0].landmarks[:, 0].mean() == pytest.approx(
        200, abs=3
    )
    assert ("detect", 1) in counting.calls[1:]  # the second frame's own detection
