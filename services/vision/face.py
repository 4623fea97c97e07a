"""The dlib reference: the face and its 68 landmarks (HOG detector + shape predictor).

Not in the serving path any more: the vision service finds faces with neural models served
by Triton (neural_face.py). This stays as the reference the tests compare the neural
landmarks with (services/vision/tests/test_dlib_reference.py, benchmarks/vision_pipeline.py)
and as the landmark source of the synthetic clips (synthetic.py: tests and
samples/make_face_video.py), which edit a photograph where dlib puts its landmarks.

Detection is the expensive step (measured here: ~8 ms on a 320 px frame, ~25 ms at 480 px),
landmarks are cheap (1-3 ms). So the tracker searches the whole frame every `redetect_every`
frames and, in between, only a small region around where the face was a frame ago (~5 ms):
every landmark fit still rests on a detection in that very frame, never on a stale box, and
the full searches recount the faces. Frames that are too dark, have no face, or several
faces are reported as such and never measured: the service does not guess whose face it is
looking at.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from functools import lru_cache

import cv2
import dlib
import numpy as np

from services.vision.observation import DARK_MEAN_LEVEL, FaceObservation, FrameStatus, grey

DETECT_SIDE = 480  # full searches run on a copy whose shorter side is at most this
REDETECT_EVERY = 5  # frames between full detections (0.5 s at 10 fps)
# Detector score a box needs in a full-frame search. dlib's default (0) lets through the odd
# false positive on clothing (the astronaut's suit scores 0.01-0.19, her face 1.0-1.6).
MIN_FACE_SCORE = 0.3


_local = threading.local()


@lru_cache(maxsize=1)
def _predictor() -> dlib.shape_predictor:
    """The 68-point model (~100 MB): one per process; dlib allows concurrent use of it."""
    with warnings.catch_warnings():  # face_recognition_models imports pkg_resources
        warnings.simplefilter("ignore")
        import face_recognition_models

        path = face_recognition_models.pose_predictor_model_location()
    return dlib.shape_predictor(path)


def _models() -> tuple[dlib.fhog_object_detector, dlib.shape_predictor]:
    """The HOG detector is not safe to share between threads (its image pyramid is scratch
    state), so each worker thread builds its own once (~0.5 s)."""
    detector = getattr(_local, "detector", None)
    if detector is None:
        detector = _local.detector = dlib.get_frontal_face_detector()
    return detector, _predictor()


def detect_faces(
    gray: np.ndarray, detect_side: int = DETECT_SIDE, min_score: float = MIN_FACE_SCORE
) -> list[dlib.rectangle]:
    """Face boxes in `gray` pixel coordinates.

    HOG finds faces of 80 px and up. Large frames are searched on a copy whose shorter side
    is `detect_side`; small frames at their own size first, and enlarged to `detect_side`
    only when that finds nothing (enlarging costs ~3x).
    """
    short = min(gray.shape[:2])
    boxes = _detect_scaled(gray, min(1.0, detect_side / short), min_score)
    if not boxes and short < detect_side:
        boxes = _detect_scaled(gray, detect_side / short, min_score)
    return boxes


def _detect_scaled(gray: np.ndarray, scale: float, min_score: float) -> list[dlib.rectangle]:
    detector, _ = _models()
    h, w = gray.shape[:2]
    small = gray
    if scale != 1.0:
        small = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    boxes, _, _ = detector.run(small, 0, min_score)
    return [
        dlib.rectangle(
            round(b.left() / scale),
            round(b.top() / scale),
            round(b.right() / scale),
            round(b.bottom() / scale),
        )
        for b in boxes
    ]


def fit_landmarks(gray: np.ndarray, box: dlib.rectangle) -> np.ndarray:
    """The 68 iBUG landmarks (x, y in pixels) of the face in `box`."""
    predictor = _predictor()
    shape = predictor(gray, box)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def _detect_near(gray: np.ndarray, box: dlib.rectangle, face_px: int = 90) -> list[dlib.rectangle]:
    """Re-detect inside a margin around last frame's box, scaled so the face is ~`face_px`."""
    detector, _ = _models()
    h, w = gray.shape[:2]
    size = max(box.width(), box.height())
    margin = int(size * 0.6)
    x0, y0 = max(0, box.left() - margin), max(0, box.top() - margin)
    x1, y1 = min(w, box.right() + margin), min(h, box.bottom() + margin)
    if x1 - x0 < 16 or y1 - y0 < 16:
        return []
    scale = face_px / size
    roi = gray[y0:y1, x0:x1]
    roi = cv2.resize(roi, (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))))
    return [
        dlib.rectangle(
            round(b.left() / scale) + x0,
            round(b.top() / scale) + y0,
            round(b.right() / scale) + x0,
            round(b.bottom() / scale) + y0,
        )
        for b in detector(roi, 0)
    ]


class FaceTracker:
    """Stateful per-stream face finder: one instance per video, frames in time order.

    Every frame is checked by the detector, but between full-frame detections only in a small
    region around the last face (a few ms). Every `redetect_every` frames, or when the face
    is lost there, the whole frame is searched again so a second face is noticed.
    """

    def __init__(
        self,
        redetect_every: int = REDETECT_EVERY,
        detect_side: int = DETECT_SIDE,
        dark_level: float = DARK_MEAN_LEVEL,
    ) -> None:
        self.redetect_every = max(1, redetect_every)
        self.detect_side = detect_side
        self.dark_level = dark_level
        self._box: dlib.rectangle | None = None
        self._since_full = 0

    def observe_many(self, images: Sequence[np.ndarray]) -> list[FaceObservation]:
        """Frame by frame (dlib has no batched path)."""
        return [self.observe(image) for image in images]

    def observe(self, image: np.ndarray) -> FaceObservation:
        gray = grey(image)
        brightness = float(gray.mean())
        if brightness < self.dark_level:
            self._box = None
            return FaceObservation(FrameStatus.TOO_DARK, brightness=brightness)
        if self._box is not None and self._since_full < self.redetect_every:
            near = _detect_near(gray, self._box)
            if len(near) == 1:
                self._since_full += 1
                self._box = near[0]
                return FaceObservation(
                    FrameStatus.ONE_FACE, fit_landmarks(gray, near[0]), 1, brightness
                )
        boxes = detect_faces(gray, self.detect_side)
        self._since_full = 1
        if len(boxes) != 1:
            self._box = None
            status = FrameStatus.NO_FACE if not boxes else FrameStatus.SEVERAL_FACES
            return FaceObservation(status, faces=len(boxes), brightness=brightness)
        self._box = boxes[0]
        return FaceObservation(FrameStatus.ONE_FACE, fit_landmarks(gray, boxes[0]), 1, brightness)
