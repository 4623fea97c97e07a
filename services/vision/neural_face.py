"""Find the face and its landmarks with neural models served by Triton (or run in-process).

Two models from MediaPipe 0.10.21, converted to ONNX by models/face/convert.py (cards:
models/cards/face_detector.md, face_landmarks.md):

- `face_detector`: BlazeFace short range. Input: the frame letterboxed to 128x128 RGB.
  Output: 896 anchor boxes with six keypoints and a face probability each.
- `face_landmarks`: the 468-point face mesh. Input: a 192x192 RGB crop of the face, rotated
  so the eyes are level. Output: 468 points in the crop and a face-presence probability.

Per stream (`NeuralFaceTracker`), frames in time order, as MediaPipe's face-mesh graph does
it: the detector runs on keyframes (every `KEYFRAME_EVERY` analysed frames, and whenever
there is no face being tracked); between them each frame's crop comes from the previous
landmarks (tracking). When the mesh model's presence score drops below MIN_PRESENCE the track
is lost and that frame is detected again. A crop that no longer fits the face it found (the
face moved since the crop was chosen) is re-cut from those landmarks and measured once more,
so every reported mesh comes from a crop centred on that frame's own face.

Batching: `observe_many` takes several frames (a live batch, or a stretch of a video) and
makes one request per step for all of them (detect keyframes; mesh every frame; re-detect
lost frames; re-measure moved ones): a handful of requests per batch instead of two per
frame. Frames of several streams meet in Triton's dynamic batcher. Frames are resized on
this side (only 128x128 and 192x192 uint8 pixels cross the wire).

Frames too dark, with no face or with several faces (counted on keyframes) are reported as
such and never measured, as before: the service does not guess whose face it is.

The 68 landmarks in dlib's iBUG order that features.py reads are picked from the mesh by
`MESH_TO_IBUG68` (each entry says which mesh vertex stands for which iBUG point).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from services.vision.observation import DARK_MEAN_LEVEL, FaceObservation, FrameStatus, grey

REPOSITORY = Path(__file__).resolve().parents[2] / "models" / "repository"
DETECTOR = "face_detector"
LANDMARKS = "face_landmarks"
DETECT_SIZE = 128  # the detector's input side
MESH_SIZE = 192  # the mesh model's input side
KEYFRAME_EVERY = 5  # analysed frames between detections while a face is tracked
MIN_DETECTION_SCORE = 0.5  # MediaPipe's default for this detector
NMS_IOU = 0.3  # boxes overlapping more are one face (MediaPipe's weighted NMS threshold)
MIN_PRESENCE = 0.5  # MediaPipe's face-presence threshold: below it the track is lost
ROI_SCALE = 1.5  # crop side / face size, as MediaPipe cuts the mesh model's input
# A crop is re-cut when the face it found sits this far from where the crop expected it
# (share of the crop's side, or relative size change, or degrees of roll).
REFIT_SHIFT = 0.06
REFIT_SCALE = 0.08
REFIT_ANGLE_DEG = 4.0

# fmt: off
# iBUG 68 (dlib's order) <- MediaPipe face-mesh vertex. "Right"/"left" are the subject's:
# the subject's right eye is on the image's left (dlib 36-41, mesh 33/133). Each entry is the
# mesh vertex on the same anatomical contour (the canonical mesh's topology: face oval, brow,
# nose, lid and lip contours) that lies nearest dlib's point on a real frontal face (the
# astronaut photograph; distances in test_dlib_reference.py, which checks them on the
# bundled sample too). Fitted on one face: good for the contours features.py reads (eyes,
# lips, brows, nose tip, chin), not a general-purpose 68-point model.
MESH_TO_IBUG68 = np.array([
    # jaw 0-16 (face oval), from the subject's right ear-level round the chin (8: 152,
    # menton) to the left; 1-7 and 9-15 are mirror pairs on the oval
    127, 234, 132, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 361, 454, 356,
    # right brow 17-21 (outer to inner), left brow 22-26 (inner to outer): the brows'
    # lower contour, which dlib's brow points sit on
    46, 53, 52, 65, 55,
    285, 295, 282, 283, 276,
    # nose bridge 27-30: 168 between the eyes, down the ridge to 4 at the tip (dlib's
    # tip point sits on 4, just above the most protruding vertex 1); lower nose 31-35:
    # right ala, right nostril rim, 2 subnasale, left nostril rim, left ala
    168, 197, 5, 4,
    75, 97, 2, 326, 305,
    # right eye 36-41: outer corner, upper lid (outer, inner), inner corner, lower lid
    # (inner, outer): the six points of the eye aspect ratio
    33, 160, 158, 133, 153, 144,
    # left eye 42-47: inner corner, upper lid (inner, outer), outer corner, lower lid
    # (outer, inner)
    362, 385, 387, 263, 373, 380,
    # outer lips 48-59: right corner 61, upper outer contour over 0 (the top of the upper
    # lip) to the left corner 291, lower outer contour back over 17 (its bottom)
    61, 39, 37, 0, 267, 269, 291, 321, 314, 17, 84, 91,
    # inner lips 60-67: right inner corner 78, upper inner contour over 13, left inner
    # corner 308, lower inner contour back over 14
    78, 82, 13, 312, 308, 317, 14, 87,
], dtype=np.int64)
# fmt: on
assert MESH_TO_IBUG68.shape == (68,)
EYE_LINE = (33, 263)  # mesh: outer eye corners, for the crop's roll


class FaceModels(Protocol):
    """The two models, batched: Triton (`TritonFaceModels`) or in-process (`OnnxFaceModels`)."""

    def detect(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[N, 128, 128, 3] uint8 RGB -> boxes [N, 896, 16], scores [N, 896]."""
        ...

    def mesh(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[N, 192, 192, 3] uint8 RGB -> landmarks [N, 468, 3], presence [N, 1]."""
        ...


class OnnxFaceModels:
    """The same model.onnx files run with onnxruntime in this process: for tests, the
    in-process benchmark and tools; the service uses Triton."""

    def __init__(
        self,
        repository: Path = REPOSITORY,
        threads: int = 1,
        providers: Sequence[str] = ("CPUExecutionProvider",),
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1

        def load(name: str) -> ort.InferenceSession:
            versions = sorted(
                (p for p in (repository / name).iterdir() if p.name.isdigit()),
                key=lambda p: int(p.name),
            )
            return ort.InferenceSession(
                str(versions[-1] / "model.onnx"), options, providers=list(providers)
            )

        self._detector = load(DETECTOR)
        self._mesh = load(LANDMARKS)

    def detect(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, scores = self._detector.run(["boxes", "scores"], {"image": images})
        return boxes, scores

    def mesh(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        points, presence = self._mesh.run(["landmarks", "presence"], {"image": crops})
        return points, presence


RECONNECT_WAIT_S = 0.3  # longer than the channels' reconnect backoff (veritas.config)


class TritonFaceModels:
    """The models on Triton through the synchronous gRPC client.

    Why synchronous: the analyzer is synchronous code that the servicer runs in worker
    threads (asyncio.to_thread); a blocking call there holds only that thread, keeps the
    Analyzer contract free of asyncio and costs no hop back to the event loop per request.
    Each thread gets its own client (tritonclient's clients are not documented as safe to
    share between threads); concurrent streams are concurrent requests, which Triton's
    dynamic batcher merges. Requests larger than the model's max batch are split.
    """

    def __init__(self, url: str, timeout_s: float, max_batch: int = 32) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.max_batch = max_batch
        self._local = threading.local()

    @classmethod
    def from_env(cls) -> TritonFaceModels:
        from veritas.config import env

        return cls(env("VERITAS_TRITON_URL"), float(env("VERITAS_TRITON_TIMEOUT_S")))

    def _client(self):  # type: ignore[no-untyped-def]
        client = getattr(self._local, "client", None)
        if client is None:
            import tritonclient.grpc as grpcclient

            from veritas.config import channel_options

            client = self._local.client = grpcclient.InferenceServerClient(
                self.url, channel_args=channel_options()
            )
        return client

    def _infer(
        self, model: str, pixels: np.ndarray, outputs: tuple[str, str]
    ) -> tuple[np.ndarray, np.ndarray]:
        import tritonclient.grpc as grpcclient
        from tritonclient.utils import InferenceServerException

        from veritas.telemetry import traceparent_headers
        from veritas.triton_client import TritonModelError, TritonUnavailable

        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for start in range(0, len(pixels), self.max_batch):
            chunk = np.ascontiguousarray(pixels[start : start + self.max_batch])
            tensor = grpcclient.InferInput("image", list(chunk.shape), "UINT8")
            tensor.set_data_from_numpy(chunk)
            wanted = [grpcclient.InferRequestedOutput(name) for name in outputs]
            for attempt in range(2):
                try:
                    result = self._client().infer(
                        model,
                        [tensor],
                        outputs=wanted,
                        client_timeout=self.timeout_s,
                        headers=traceparent_headers(),
                    )
                    break
                except InferenceServerException as e:
                    status = str(e.status() or "")
                    if "UNAVAILABLE" in status and attempt == 0:
                        # Each worker thread has its own channel: after Triton restarts, a
                        # channel's first call fails fast while it reconnects. One retry
                        # on a fresh channel, after the reconnect backoff, rides that out.
                        self._local.client = None
                        time.sleep(RECONNECT_WAIT_S)
                        continue
                    if any(s in status for s in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED")):
                        raise TritonUnavailable(f"Triton at {self.url}: {e.message()}") from e
                    raise TritonModelError(f"model {model}: {e.message()}") from e
            parts.append((result.as_numpy(outputs[0]), result.as_numpy(outputs[1])))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def detect(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._infer(DETECTOR, images, ("boxes", "scores"))

    def mesh(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._infer(LANDMARKS, crops, ("landmarks", "presence"))

    def problem(self, timeout_s: float = 1.0) -> str | None:
        """None while both face models are loaded, else what is wrong (for readiness)."""
        from tritonclient.utils import InferenceServerException

        try:
            for model in (DETECTOR, LANDMARKS):
                if not self._client().is_model_ready(model, client_timeout=timeout_s):
                    return f"model {model} not loaded"
        except InferenceServerException:
            return "model server unreachable"
        return None


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class Roi:
    """A square crop of the frame: centre and side in pixels, roll in radians (the crop is
    rotated by it so the eyes come out level)."""

    cx: float
    cy: float
    size: float
    angle: float

    def to_crop(self) -> np.ndarray:
        """2x3 affine: frame pixels -> crop pixels (MESH_SIZE square)."""
        s = MESH_SIZE / self.size
        c, si = math.cos(self.angle), math.sin(self.angle)
        # rotate by -angle about the centre, scale, move the centre to the crop's centre
        a = np.array([[c * s, si * s], [-si * s, c * s]])
        t = np.array([MESH_SIZE / 2, MESH_SIZE / 2]) - a @ np.array([self.cx, self.cy])
        return np.hstack([a, t[:, None]])

    def fits(self, other: Roi) -> bool:
        """True when `other` is close enough to this crop that re-cutting gains nothing."""
        shift = math.hypot(other.cx - self.cx, other.cy - self.cy) / self.size
        scale = abs(math.log(other.size / self.size))
        turn = abs(math.degrees(math.remainder(other.angle - self.angle, 2 * math.pi)))
        return shift < REFIT_SHIFT and scale < REFIT_SCALE and turn < REFIT_ANGLE_DEG


@dataclass(frozen=True)
class Detection:
    """One face the detector found, in frame pixels: box and the two eye keypoints."""

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    right_eye: tuple[float, float]  # the subject's right eye (image left)
    left_eye: tuple[float, float]
    score: float

    def roi(self) -> Roi:
        """The mesh model's crop: the box's centre, the longer side x ROI_SCALE, rolled
        so the eyes are level (MediaPipe's detection-to-ROI rule)."""
        x0, y0, x1, y1 = self.box
        angle = math.atan2(
            self.left_eye[1] - self.right_eye[1], self.left_eye[0] - self.right_eye[0]
        )
        return Roi((x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * ROI_SCALE, angle)


def letterbox(rgb: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """The frame fitted into DETECT_SIZE square, centred on black: (pixels, scale, pad x,
    pad y), so that frame = (input - pad) / scale."""
    h, w = rgb.shape[:2]
    scale = DETECT_SIZE / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.zeros((DETECT_SIZE, DETECT_SIZE, 3), np.uint8)
    px, py = (DETECT_SIZE - nw) // 2, (DETECT_SIZE - nh) // 2
    out[py : py + nh, px : px + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    return out, scale, float(px), float(py)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box `a` (x0, y0, x1, y1) with each row of `b`."""
    x0, y0 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x1, y1 = np.minimum(a[2], b[:, 2]), np.minimum(a[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where(area > 0, inter / np.maximum(area, 1e-12), 0.0)


def decode_faces(
    boxes: np.ndarray,
    scores: np.ndarray,
    transform: tuple[float, float, float],
    min_score: float = MIN_DETECTION_SCORE,
) -> list[Detection]:
    """The faces in one detector output, in frame pixels: anchors over `min_score`, merged
    by weighted non-maximum suppression (overlapping anchors average, weighted by score)."""
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    order = keep[np.argsort(-scores[keep])]
    cand = boxes[order]
    corners = np.column_stack(
        [
            cand[:, 0] - cand[:, 2] / 2,
            cand[:, 1] - cand[:, 3] / 2,
            cand[:, 0] + cand[:, 2] / 2,
            cand[:, 1] + cand[:, 3] / 2,
        ]
    )
    s = scores[order]
    used = np.zeros(len(order), bool)
    scale, px, py = transform
    faces = []
    for i in range(len(order)):
        if used[i]:
            continue
        group = (~used) & (_iou(corners[i], corners) > NMS_IOU)
        group[i] = True
        used |= group
        w = s[group] / s[group].sum()
        box = (corners[group] * w[:, None]).sum(axis=0) * DETECT_SIZE
        kps = (cand[group, 4:8] * w[:, None]).sum(axis=0) * DETECT_SIZE

        def frame(x: float, y: float) -> tuple[float, float]:
            return (x - px) / scale, (y - py) / scale

        x0, y0 = frame(box[0], box[1])
        x1, y1 = frame(box[2], box[3])
        faces.append(
            Detection((x0, y0, x1, y1), frame(kps[0], kps[1]), frame(kps[2], kps[3]), float(s[i]))
        )
    return faces


def mesh_roi(points: np.ndarray) -> Roi:
    """The crop for the next frame from this frame's mesh (frame pixels): rolled by the eye
    line, centred on the mesh's extent in that rolled frame, side = its longer extent x
    ROI_SCALE (MediaPipe's landmarks-to-ROI rule)."""
    (ax, ay), (bx, by) = points[EYE_LINE[0], :2], points[EYE_LINE[1], :2]
    angle = math.atan2(by - ay, bx - ax)
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, s], [-s, c]])  # frame -> rolled
    rolled = points[:, :2] @ rot.T
    lo, hi = rolled.min(axis=0), rolled.max(axis=0)
    centre = rot.T @ ((lo + hi) / 2)
    return Roi(float(centre[0]), float(centre[1]), float((hi - lo).max()) * ROI_SCALE, angle)


def cut(rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, np.ndarray]:
    """The mesh model's input for `roi`, and the 2x3 affine back to frame pixels."""
    forward = roi.to_crop()
    crop = cv2.warpAffine(
        rgb, forward, (MESH_SIZE, MESH_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return crop, cv2.invertAffineTransform(forward)


def to_frame(points: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Mesh points (crop pixels, with z) -> frame pixels (x, y); z is dropped."""
    return points[:, :2] @ back[:, :2].T + back[:, 2]


def ibug68(mesh: np.ndarray) -> np.ndarray:
    """The 68 iBUG landmarks (x, y) picked from a 468-point mesh (see MESH_TO_IBUG68)."""
    return np.asarray(mesh[MESH_TO_IBUG68, :2], dtype=np.float64)


# --------------------------------------------------------------------------- tracking


@dataclass
class _Frame:
    """One frame's way through `observe_many`."""

    index: int  # its place among the frames this tracker has seen
    rgb: np.ndarray
    brightness: float
    status: FrameStatus | None = None  # set once decided (too dark, no face, several)
    faces: int = 0
    from_detection: bool = False  # its crop came from a detection in this very frame
    roi: Roi | None = None  # the crop its mesh was (or is to be) measured in
    mesh: np.ndarray | None = None  # frame pixels, 468 x 2
    presence: float = 0.0

    @property
    def keyframe(self) -> bool:
        return self.index % KEYFRAME_EVERY == 0


class NeuralFaceTracker:
    """Per-stream face finder on the neural models: frames in time order, several at once.

    One instance per video or live stream. Every KEYFRAME_EVERY-th frame is a keyframe: the
    detector counts the faces in it and its crop comes from the detection. The frames up to
    the next keyframe start from the crop the keyframe's landmarks give (tracking); a frame
    whose mesh reports the face gone (presence under MIN_PRESENCE), or whose keyframe had no
    single face, is detected itself. Every mesh is then checked against its crop and
    measured again in a crop re-cut around it when the face has moved (`Roi.fits`).

    So a frame's result depends only on its own pixels and its keyframe's, never on how
    frames are grouped into calls: a file measured 16 frames at a time and the same frames
    streamed live one by one give identical landmarks (test_live relies on it). The price:
    a face that moves far between keyframes is found again by detection, not followed.
    """

    def __init__(self, models: FaceModels, dark_level: float = DARK_MEAN_LEVEL) -> None:
        self.models = models
        self.dark_level = dark_level
        self._seen = 0  # frames observed so far
        self._key_roi: Roi | None = None  # the current keyframe's crop for the frames after it

    def observe(self, image: np.ndarray) -> FaceObservation:
        return self.observe_many([image])[0]

    def observe_many(self, images: Sequence[np.ndarray]) -> list[FaceObservation]:
        """The observation of each frame (BGR pixels, in time order); one model request per
        step below for the whole batch."""
        frames = []
        for image in images:
            gray = grey(image)
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB if image.ndim == 3 else cv2.COLOR_GRAY2RGB)
            frames.append(_Frame(self._seen, rgb, float(gray.mean())))
            self._seen += 1
        for f in frames:
            if f.brightness < self.dark_level:
                f.status = FrameStatus.TOO_DARK
        live = [f for f in frames if f.status is None]

        # 1. Keyframes: detect, then mesh in the detected crop.
        keys = [f for f in live if f.keyframe]
        self._detect(keys)
        self._mesh([f for f in keys if f.roi is not None])
        # 2. The other frames start from their keyframe's crop (none: detect them). Their
        #    first mesh goes with the keyframes' re-cuts, in one request.
        key_roi = self._key_roi
        first: list[_Frame] = []
        for f in frames:
            if f.keyframe:
                key_roi = mesh_roi(f.mesh) if f.mesh is not None else None
            elif f.status is None and key_roi is not None:
                f.roi = key_roi
                first.append(f)
        if frames:
            self._key_roi = key_roi
        self._detect([f for f in live if not f.keyframe and f.roi is None])
        first += [f for f in live if not f.keyframe and f.from_detection and f.roi is not None]
        moved_keys = self._moved([f for f in keys if f.mesh is not None])
        self._mesh(moved_keys + first, refit=set(map(id, moved_keys)))
        # 3. Tracked frames whose face is gone: detect them and measure again.
        lost = [f for f in first if f.mesh is None and not f.from_detection]
        self._detect(lost)
        self._mesh([f for f in lost if f.roi is not None])
        # 4. Re-cut the crops that no longer fit their face, measure once more.
        moved = self._moved([f for f in live if not f.keyframe and f.mesh is not None])
        self._mesh(moved, refit=set(map(id, moved)))

        out = []
        for f in frames:
            if f.status is None and f.mesh is not None:
                landmarks = ibug68(f.mesh)
                out.append(
                    FaceObservation(FrameStatus.ONE_FACE, landmarks, 1, f.brightness, f.presence)
                )
            else:
                status = f.status if f.status is not None else FrameStatus.NO_FACE
                faces = f.faces if f.status is not None else 0  # found, then gone in the mesh
                out.append(FaceObservation(status, faces=faces, brightness=f.brightness))
        return out

    @staticmethod
    def _moved(frames: list[_Frame]) -> list[_Frame]:
        """The frames whose mesh left its crop; their crop is re-cut around the mesh."""
        moved = []
        for f in frames:
            assert f.mesh is not None and f.roi is not None
            fitted = mesh_roi(f.mesh)
            if not f.roi.fits(fitted):
                f.roi = fitted
                moved.append(f)
        return moved

    def _detect(self, frames: list[_Frame]) -> None:
        """Run the detector on `frames`; set each one's crop, or its status and face count."""
        if not frames:
            return
        inputs = [letterbox(f.rgb) for f in frames]
        boxes, scores = self.models.detect(np.stack([i[0] for i in inputs]))
        for f, (_, scale, px, py), b, s in zip(frames, inputs, boxes, scores, strict=True):
            faces = decode_faces(b, s, (scale, px, py))
            f.faces, f.from_detection = len(faces), True
            f.roi = faces[0].roi() if len(faces) == 1 else None
            if len(faces) != 1:
                f.status = FrameStatus.NO_FACE if not faces else FrameStatus.SEVERAL_FACES

    def _mesh(self, frames: list[_Frame], refit: set[int] | None = None) -> None:
        """Run the mesh model on each frame's crop. A present face replaces the frame's
        mesh; an absent one clears it, except on a re-cut (`refit`), which keeps the mesh
        it had."""
        if not frames:
            return
        cuts = [cut(f.rgb, f.roi) for f in frames]  # type: ignore[arg-type]
        points, presence = self.models.mesh(np.stack([c[0] for c in cuts]))
        for f, (_, back), p, q in zip(frames, cuts, points, presence, strict=True):
            score = float(q.reshape(-1)[0])
            if score >= MIN_PRESENCE:
                f.mesh, f.presence, f.faces = to_frame(p, back), score, 1
            elif not refit or id(f) not in refit:
                f.mesh, f.presence = None, score
