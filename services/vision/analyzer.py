"""The vision modality: video -> per-window MUMIN behaviour-code rates for `vision_behaviour`,
descriptive measures, and timestamped events (blinks, micro-expressions, nods, gaze...).

All the expensive work (decoding, face finding, landmarks, head pose, pupils) happens once
in `prepare` / `prepare_live`, which the shared servicer runs in a worker thread, and so do
the codes and events of the whole video; `windows` and `summarize` only aggregate the
per-frame measures and pick the events whose onset falls in their span, so any window
length costs the same. The per-frame measures (`FrameMeasures`, with the 68 landmarks)
stay in `PreparedVideo.video.frames`.

Faces and landmarks come from neural models (neural_face.py): on Triton in the service
(`python -m services.vision` passes `TritonFaceModels`), the same ONNX files in-process
(`OnnxFaceModels`, the default) for tests, tools and the in-process benchmark. Frames go to
the models FRAMES_PER_REQUEST at a time.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from services.vision import behaviour, events
from services.vision.decode import (
    DEFAULT_MAX_SIDE,
    Frame,
    check_target_fps,
    iter_video,
)
from services.vision.features import FrameMeasures, measure_frame
from services.vision.live import VisionLiveSession
from services.vision.neural_face import (
    DETECTOR,
    LANDMARKS,
    FaceModels,
    NeuralFaceTracker,
    OnnxFaceModels,
    TritonFaceModels,
)
from services.vision.observation import FaceObservation, status_notes
from veritas.analysis import Analyzer, Event, InvalidInput, Window
from veritas.config import env
from veritas.modalities import BY_NAME
from veritas.v1 import common_pb2, modality_pb2

DEFAULT_WINDOW_S = 2.0
MIN_WINDOW_S = 0.5
BASELINE_CACHE_SIZE = 8
FRAMES_PER_REQUEST = 16  # frames of a video measured together (one request per model step)


@dataclass
class Measured:
    """Per-frame measures of one video and what the behaviour codes need from them."""

    frames: list[FrameMeasures]
    duration_s: float
    reference: behaviour.Neutral | None
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)  # in onset order
    frame_s: float = 0.1  # the sampling interval

    def window(self, start_s: float, end_s: float) -> tuple[dict[str, float], int, int]:
        return behaviour.window_features(
            self.frames, self.codes, self.events, start_s, end_s, self.frame_s
        )

    def events_in(self, start_s: float, end_s: float) -> list[Event]:
        """The events whose onset lies in [start_s, end_s)."""
        return [e for e in self.events if start_s <= e.onset_s < end_s]


@dataclass
class PreparedVideo:
    """What `prepare` hands to `windows`: the input and, when given, the subject's baseline."""

    video: Measured
    baseline: Measured | None = None
    notes: list[str] = field(default_factory=list)


class FaceTracking(Protocol):
    """A per-video face finder: NeuralFaceTracker (served), or face.FaceTracker (dlib, the
    reference the tests and benchmarks compare with)."""

    def observe_many(self, images: Sequence[np.ndarray]) -> list[FaceObservation]: ...


def measure(
    frames: Iterable[Frame], tracker: FaceTracking, per_request: int = FRAMES_PER_REQUEST
) -> list[FrameMeasures]:
    """Face, landmarks, pose, pupils and geometry per frame, in time order; the face models
    see `per_request` frames at a time."""
    out: list[FrameMeasures] = []
    batch: list[Frame] = []

    def flush() -> None:
        observations = tracker.observe_many([f.image for f in batch])
        for frame, observation in zip(batch, observations, strict=True):
            h, w = frame.image.shape[:2]
            out.append(measure_frame(observation, frame.timestamp_s, w, h, frame.image))
        batch.clear()

    for frame in frames:
        batch.append(frame)
        if len(batch) >= per_request:
            flush()
    if batch:
        flush()
    return out


def summarise_measures(
    frames: list[FrameMeasures], reference: behaviour.Neutral | None
) -> Measured:
    """Attach the per-frame behaviour codes and the events, read against `reference` (the
    neutral face)."""
    times = [f.timestamp_s for f in frames]
    step = behaviour.sampling_interval(times)
    duration = 0.0
    if times:  # the last frame lasts one source frame: the usual spacing, not the mean
        duration = times[-1] + (float(np.median(np.diff(times))) if len(times) > 1 else step)
    result = Measured(frames=frames, duration_s=duration, reference=reference, frame_s=step)
    if reference is not None:
        result.codes = behaviour.frame_codes(frames, reference)
        result.events = events.find_events(frames, reference, result.codes, step)
    return result


def frame_notes(frames: Sequence[FrameMeasures]) -> list[str]:
    """What a human should know about the frames that could not be measured."""
    return status_notes(Counter(f.status for f in frames), len(frames))


class VisionAnalyzer(Analyzer[PreparedVideo]):
    """Implements veritas.analysis.Analyzer for video.

    Limits default to VERITAS_VISION_MAX_DURATION_S and VERITAS_VISION_MAX_BYTES.
    """

    modality = common_pb2.VISION
    model_name = BY_NAME["vision"].model

    def __init__(
        self,
        max_duration_s: float | None = None,
        max_bytes: int | None = None,
        max_side: int = DEFAULT_MAX_SIDE,
        face_models: FaceModels | None = None,
        make_tracker: Callable[[], FaceTracking] | None = None,
    ) -> None:
        self.face_models = face_models if face_models is not None else OnnxFaceModels()
        # Triton models this analyzer calls itself (besides `model_name`, which the servicer
        # calls): the service is ready only while they are loaded too.
        self.triton_models: tuple[str, ...] = (
            (DETECTOR, LANDMARKS) if isinstance(self.face_models, TritonFaceModels) else ()
        )
        # One tracker per video; another finder (the dlib reference) only for comparisons.
        self.make_tracker = make_tracker or (lambda: NeuralFaceTracker(self.face_models))
        self.max_duration_s = max_duration_s or float(env("VERITAS_VISION_MAX_DURATION_S"))
        self.max_bytes = max_bytes or int(float(env("VERITAS_VISION_MAX_BYTES")))
        self.max_side = max_side
        self._baseline_cache: dict[tuple[bytes, str, float], Measured] = {}
        self._cache_lock = threading.Lock()

    # --- decoding -------------------------------------------------------------------------

    def _measure_media(self, media: common_pb2.Media, field: str, fps: float) -> Measured:
        if media.WhichOneof("source") == "uri":
            raise InvalidInput(
                f"{field}.uri", "the vision service reads video bytes only; send `data`"
            )
        frames = iter_video(
            media.data,
            media.mime_type,
            field=field,
            target_fps=fps,
            max_duration_s=self.max_duration_s,
            max_bytes=self.max_bytes,
            max_side=self.max_side,
        )
        measures = measure(frames, self.make_tracker())
        return summarise_measures(measures, behaviour.neutral(measures))

    def prepare(self, request: modality_pb2.ModalityRequest) -> PreparedVideo:
        fps = check_target_fps(request.options.target_fps)
        if not request.input.HasField("media"):
            raise InvalidInput("video", "no video given")
        video = self._measure_media(request.input.media, "video", fps)
        baseline = None
        if request.baseline.HasField("media") and request.baseline.media.WhichOneof("source"):
            baseline = self._baseline(request.baseline.media, fps)
        return self._prepared(video, baseline)

    def open_live(self, config: common_pb2.StreamConfig) -> VisionLiveSession:
        """A live stream's state (services/vision/live.py); the baseline is measured now."""
        fps = check_target_fps(config.options.target_fps)
        window_s = self._window_s(config.options)
        baseline = None
        if config.baseline.HasField("video") and config.baseline.video.WhichOneof("source"):
            baseline = self._baseline(config.baseline.video, fps)
        notes = []
        if baseline is not None and baseline.reference is None:
            notes.append("baseline video has no measurable face; input read against itself")
        reference = baseline.reference if baseline is not None else None
        means = self._baseline_means(baseline, window_s)
        for count in behaviour.COUNTS:  # a count over another length; the rate compares
            means.pop(count, None)
        whole: dict[str, float] = {}
        if baseline is not None and reference is not None:
            whole = baseline.window(0.0, baseline.duration_s + 1e-6)[0]
        return VisionLiveSession(
            config,
            window_s,
            reference,
            means,
            whole,
            notes,
            face_models=self.face_models,
            make_tracker=self.make_tracker,
        )

    def _baseline(self, media: common_pb2.Media, fps: float) -> Measured:
        """The baseline's measures, cached: a live stream sends the same baseline with every
        window, and measuring a 30 s baseline takes seconds."""
        key = (hashlib.blake2b(media.data, digest_size=16).digest(), media.mime_type, fps)
        with self._cache_lock:
            cached = self._baseline_cache.get(key)
        if cached is None:
            cached = self._measure_media(media, "baseline.video", fps)
            with self._cache_lock:
                self._baseline_cache[key] = cached
                while len(self._baseline_cache) > BASELINE_CACHE_SIZE:
                    self._baseline_cache.pop(next(iter(self._baseline_cache)))
        return cached

    def _prepared(self, video: Measured, baseline: Measured | None) -> PreparedVideo:
        """Read the input against the baseline's neutral face when there is one."""
        notes = []
        reference = baseline.reference if baseline and baseline.reference else None
        if baseline is not None and baseline.reference is None:
            notes.append("baseline video has no measurable face; input read against itself")
        if reference is None:
            reference = behaviour.neutral(video.frames)
        if reference is not video.reference:
            video = summarise_measures(video.frames, reference)
        return PreparedVideo(video=video, baseline=baseline, notes=notes)

    # --- windows --------------------------------------------------------------------------

    @staticmethod
    def _window_s(options: common_pb2.Options) -> float:
        window_s = options.window_s
        if not math.isfinite(window_s) or window_s < 0 or window_s > 3600:
            raise InvalidInput(
                "options.window_s", "must be 0 (default) or a positive length up to 3600 s"
            )
        return max(window_s, MIN_WINDOW_S) if window_s else DEFAULT_WINDOW_S

    @staticmethod
    def _spans(video: Measured, window_s: float) -> list[tuple[float, float]]:
        if not video.frames:
            return []
        start = video.frames[0].timestamp_s  # 0 for files; where a live batch begins
        end = max(video.duration_s, video.frames[-1].timestamp_s + 1e-6)
        spans = []
        while start < end:
            spans.append((start, min(start + window_s, end)))
            start += window_s
        return spans

    def _baseline_means(self, baseline: Measured | None, window_s: float) -> dict[str, float]:
        """Mean of each feature over the baseline's windows (same window length)."""
        if baseline is None or baseline.reference is None:
            return {}
        rows = [baseline.window(a, b)[0] for a, b in self._spans(baseline, window_s)]
        names = {name for row in rows for name in row}
        means = {}
        for name in names:
            values = [row[name] for row in rows if name in row and math.isfinite(row[name])]
            if values:
                means[name] = float(np.mean(values))
        return means

    def _window(
        self, video: Measured, start: float, end: float, baseline: dict[str, float]
    ) -> Window:
        features, total, measured = video.window(start, end)
        in_span = [f for f in video.frames if start <= f.timestamp_s < end]
        notes = frame_notes(in_span)
        if total == 0:
            notes.append("no video frames in this window")
        elif measured == 0:
            notes.append("no single face measurable in this window: no score")
        return Window(
            start_s=start,
            end_s=end,
            features=features,
            units={k: v for k, v in behaviour.UNITS.items() if k in features},
            baseline={k: v for k, v in baseline.items() if k in features},
            quality=measured / total if total else 0.0,
            notes=notes,
            usable=measured > 0,
            events=video.events_in(start, end),
        )

    def windows(self, prepared: PreparedVideo, options: common_pb2.Options) -> Iterator[Window]:
        window_s = self._window_s(options)
        baseline = self._baseline_means(prepared.baseline, window_s)
        for count in behaviour.COUNTS:  # a count over another length; the rate compares
            baseline.pop(count, None)
        for start, end in self._spans(prepared.video, window_s):
            yield self._window(prepared.video, start, end, baseline)

    def summarize(self, prepared: PreparedVideo, windows: Sequence[Window]) -> Window:
        video = prepared.video
        start = video.frames[0].timestamp_s if video.frames else 0.0
        end = max(video.duration_s, start)
        whole = self._window(video, start, end + 1e-6, {})
        whole.end_s = end
        if prepared.baseline is not None and prepared.baseline.reference is not None:
            span = prepared.baseline.duration_s + 1e-6
            whole.baseline = {
                k: v
                for k, v in prepared.baseline.window(0.0, span)[0].items()
                if k in whole.features and k not in behaviour.COUNTS
            }
        whole.notes = prepared.notes + whole.notes
        if whole.usable and whole.quality < 0.5:
            whole.notes.append(
                f"a single face was measurable in only {whole.quality:.0%} of frames"
            )
        return whole
