"""Live vision: each frame is measured once, with the frames that arrived with it; a window
is read from its own frames plus a short overlap; the whole-input result is a running summary.

A frame is decoded, checked and resized when it arrives (`add`: bad input fails there), then
queued; the queue is measured in one go (one request per face-model step for all its frames,
neural_face.py) before anything reads the measures: when windows close, at the end, on a
quality change, when reading `buffer`, or every MAX_QUEUED frames. The servicer hands a
session every frame that arrived since its last turn and then asks for closed windows, so a
live batch's frames reach Triton together.

Per stream this keeps (all bounded, none growing with the stream's length):
- `buffer`: the measured frames of the open window and OVERLAP_S before it. Sequence
  measures (blinks, micro-expressions, nods, held turns) need a little context on both
  sides of a window edge; an event is sent with the window in which it ended, at least
  EVENT_SETTLE_S before the newest frame, so one still going on at a window's close is
  sent with the next window (its onset time is its own).
- `reservoir`: a uniform random sample (at most RESERVOIR_SIZE) of the measured frames so
  far, whose medians are the subject's neutral face when no baseline video was given. The
  offline path takes the medians over every frame; the sample's medians converge to them.
- `Totals`: sums and counts from which the whole-input features are computed exactly as
  `behaviour.window_features` computes them over all frames (rates are sums over measured
  frames, means are sums over finite values, counts are counts).

Quality levels (`LEVELS`): the analysed frame rate, the analysis size of a frame and the
landmark detail (LOW skips the pupil search, so gaze is the head's yaw alone). Frames are
thinned by the servicer (`veritas.live.Pacer`) to `max_rate_hz`; landmarks and the face
scale are mapped back to the frame's own pixel size so a quality change does not read as
the subject moving.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from services.vision import behaviour, events
from services.vision.decode import DEFAULT_MAX_SIDE, check_target_fps, decode_image, shrink
from services.vision.features import FrameMeasures, measure_frame
from services.vision.neural_face import FaceModels, NeuralFaceTracker, OnnxFaceModels
from services.vision.observation import FrameStatus, status_notes
from veritas.analysis import Coverage, Event, InvalidInput, Window
from veritas.v1 import common_pb2

if TYPE_CHECKING:
    from services.vision.analyzer import FaceTracking

OVERLAP_S = 3.0  # context kept before a window: the longest sequence measure's reach
RESERVOIR_SIZE = 600  # frames sampled for the neutral face (60 s at 10 fps: all of a short clip)
MAX_EVENTS_PER_WINDOW = 200  # a guard; far above what a face does in a window
EVENT_SETTLE_S = 0.5  # an event must have ended this long before the newest frame to be sent
MAX_QUEUED = 32  # frames decoded but not yet measured (bounds memory between window closes)


@dataclass(frozen=True)
class _Queued:
    """A decoded frame waiting to be measured, at the quality level it arrived under."""

    t: float
    small: np.ndarray  # BGR pixels at the analysis size
    scale: float  # frame pixels per analysis pixel
    pupils: bool


@dataclass(frozen=True)
class Level:
    rate_hz: float  # analysed frames per second of stream time (capped by target_fps)
    max_side: int  # analysis size: the longer side in pixels
    pupils: bool  # search the pupils (gaze from the eyes, not only the head)


LEVELS: dict[int, Level] = {
    common_pb2.QUALITY_LOW: Level(3.0, 320, False),
    common_pb2.QUALITY_MEDIUM: Level(6.0, 480, True),
    common_pb2.QUALITY_HIGH: Level(math.inf, DEFAULT_MAX_SIDE, True),
}


@dataclass
class Totals:
    """Running sums over every analysed frame of the stream: the whole-input features."""

    frames: int = 0
    measured: int = 0
    measured_s: float = 0.0  # measured frames x the time each stands for
    codes: dict[str, float] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)
    finite: dict[str, int] = field(default_factory=dict)
    pupils: int = 0
    statuses: dict[FrameStatus, int] = field(default_factory=dict)
    event_counts: dict[str, int] = field(default_factory=dict)
    blink_s: float = 0.0
    coverage: Coverage = field(default_factory=Coverage)

    def add_frames(
        self,
        frames: list[FrameMeasures],
        codes: dict[str, np.ndarray],
        mask: np.ndarray,
        step: float,
    ) -> None:
        """Add one window's frames (`mask` selects them among the measured frames of `codes`)."""
        self.frames += len(frames)
        for f in frames:
            self.statuses[f.status] = self.statuses.get(f.status, 0) + 1
        measured = [f for f in frames if f.measured]
        self.measured += len(measured)
        self.measured_s += len(measured) * step
        for code in behaviour.BEHAVIOUR_CODES + behaviour.EXTRA_RATES:
            self.codes[code] = self.codes.get(code, 0.0) + float(codes[code][mask].sum())
        for name, attr in behaviour.MEANS:
            values = np.array([getattr(f, attr) for f in measured], dtype=np.float64)
            ok = np.isfinite(values)
            self.sums[name] = self.sums.get(name, 0.0) + float(values[ok].sum())
            self.finite[name] = self.finite.get(name, 0) + int(ok.sum())
        self.pupils += sum(1 for f in measured if math.isfinite(f.eye_yaw))

    def add_events(self, found: Iterable[Event]) -> None:
        for e in found:
            self.event_counts[e.name] = self.event_counts.get(e.name, 0) + 1
            if e.name == "blink":
                self.blink_s += e.offset_s - e.onset_s

    def features(self) -> dict[str, float]:
        """The same features `behaviour.window_features` gives over the whole input."""
        out: dict[str, float] = {
            "face_frames_ratio": self.measured / self.frames if self.frames else 0.0
        }
        if not self.measured:
            return out
        for code in behaviour.BEHAVIOUR_CODES + behaviour.EXTRA_RATES:
            out[code] = self.codes[code] / self.measured
        blinks = self.event_counts.get("blink", 0)
        out["blink_count"] = float(blinks)
        out["blink_rate_per_min"] = blinks * 60.0 / self.measured_s if self.measured_s else 0.0
        out["blink_duration_mean_s"] = self.blink_s / blinks if blinks else math.nan
        out["micro_expression_count"] = float(self.event_counts.get("micro_expression", 0))
        out["head_nod_count"] = float(self.event_counts.get("head_nod", 0))
        out["head_shake_count"] = float(self.event_counts.get("head_shake", 0))
        for name, _ in behaviour.MEANS:
            n = self.finite[name]
            out[name] = self.sums[name] / n if n else math.nan
        out["pupil_found_ratio"] = self.pupils / self.measured
        return out


class VisionLiveSession:
    """Implements veritas.analysis.LiveSession for video frames (see the module docstring)."""

    thinnable = True

    def __init__(
        self,
        config: common_pb2.StreamConfig,
        window_s: float,
        baseline_reference: behaviour.Neutral | None,
        baseline_means: dict[str, float],
        baseline_whole: dict[str, float],
        notes: list[str],
        seed: int = 0,
        face_models: FaceModels | None = None,
        make_tracker: Callable[[], FaceTracking] | None = None,
    ) -> None:
        self.target_fps = check_target_fps(config.options.target_fps)
        self.window_s = window_s
        self.fixed_reference = baseline_reference
        self.baseline_means = baseline_means
        self.baseline_whole = baseline_whole
        self.notes = notes
        self.level = LEVELS[common_pb2.QUALITY_HIGH]
        self.quality = int(common_pb2.QUALITY_HIGH)
        self.levels: dict[int, int] = {}  # open windows: the lowest level a frame was analysed at
        self.face_models = face_models if face_models is not None else OnnxFaceModels()
        # One tracker per stream (a new one on a size change); another finder (the dlib
        # reference) only for comparisons (benchmarks/vision_live.py).
        self.make_tracker = make_tracker or (lambda: NeuralFaceTracker(self.face_models))
        self.tracker: FaceTracking = self.make_tracker()
        self._buffer: deque[FrameMeasures] = deque()
        self._queued: list[_Queued] = []
        self.reservoir: list[FrameMeasures] = []
        self.seen_measured = 0
        self.random = random.Random(seed)
        self.coverage: dict[int, Coverage] = {}  # open windows only
        self.next_index: int | None = None  # the next window to close
        self.last_t = -math.inf
        self.frames_in = 0
        self.first_t = 0.0
        self.event_cut = -math.inf  # events that ended up to here were sent
        self.totals = Totals()

    # --- LiveSession ----------------------------------------------------------------------

    def max_rate_hz(self, quality: int) -> float:
        return min(LEVELS[quality].rate_hz, self.target_fps)

    def set_quality(self, quality: int) -> None:
        level = LEVELS[quality]
        if level.max_side != self.level.max_side:
            self._measure_queued()  # they were resized for the old level
            # its crop is in the old analysis size's pixels
            self.tracker = self.make_tracker()
        self.level = level
        self.quality = quality

    def add(self, chunk: common_pb2.LiveChunk) -> None:
        frame = chunk.video_frame
        t = self._time(frame)
        image = decode_image(frame.image, frame.mime_type, field="video_frame")
        w0 = image.shape[1]
        small = shrink(image, min(self.level.max_side, DEFAULT_MAX_SIDE))
        self._queued.append(_Queued(t, small, w0 / small.shape[1], self.level.pupils))
        self._count(t).analysed += 1
        index = max(math.floor(t / self.window_s), self.next_index or 0)
        self.levels[index] = min(self.levels.get(index, self.quality), self.quality)
        if len(self._queued) >= MAX_QUEUED:
            self._measure_queued()

    @property
    def buffer(self) -> deque[FrameMeasures]:
        """The measured frames of the open window and OVERLAP_S before it (queued frames
        are measured first)."""
        self._measure_queued()
        return self._buffer

    def _measure_queued(self) -> None:
        """Measure every queued frame, all in one batch through the face models."""
        if not self._queued:
            return
        queued, self._queued = self._queued, []
        observed = self.tracker.observe_many([q.small for q in queued])
        for q, observation in zip(queued, observed, strict=True):
            h, w = q.small.shape[:2]
            measures = measure_frame(observation, q.t, w, h, q.small if q.pupils else None)
            measures = _to_frame_pixels(measures, q.scale)
            self._buffer.append(measures)
            if measures.measured:
                self._sample(measures)

    def skip(self, chunk: common_pb2.LiveChunk) -> None:
        cov = self._count(self._time(chunk.video_frame))
        cov.skipped += 1

    def add_question(self, question: common_pb2.QuestionMarker) -> None:
        """Questions do not change what the face measures: nothing to do."""

    def close_until(self, t_s: float) -> list[Window]:
        self._measure_queued()
        out = []
        while self.next_index is not None and (self.next_index + 1) * self.window_s <= t_s:
            out.append(self._close(self.next_index, final=False))
            self.next_index += 1
        return out

    def finish(self) -> tuple[list[Window], Window]:
        self._measure_queued()
        rest = []
        if self.next_index is not None:
            last = math.floor(self.last_t / self.window_s)
            while self.next_index <= last:
                rest.append(self._close(self.next_index, final=True, last=self.next_index == last))
                self.next_index += 1
        return rest, self._whole()

    # --- per frame ------------------------------------------------------------------------

    def _time(self, frame: common_pb2.VideoFrame) -> float:
        """The frame's place on the timeline (frames without one are 1/target_fps apart)."""
        t = frame.timestamp_s
        if not math.isfinite(t) or t < 0:
            raise InvalidInput("video_frame.timestamp_s", "must be a finite time >= 0")
        if not t and self.frames_in:
            t = self.frames_in / self.target_fps
        if t < self.last_t:
            raise InvalidInput("video_frame.timestamp_s", "frames must arrive in time order")
        if not self.frames_in:
            self.first_t = t
        self.frames_in += 1
        self.last_t = t
        if self.next_index is None:
            self.next_index = math.floor(t / self.window_s)
        return t

    def _count(self, t: float) -> Coverage:
        index = max(math.floor(t / self.window_s), self.next_index or 0)
        cov = self.coverage.setdefault(index, Coverage())
        cov.received += 1
        return cov

    def _sample(self, measures: FrameMeasures) -> None:
        """Reservoir sampling (Algorithm R): every measured frame so far is equally likely
        to be in the sample, whatever the stream's length."""
        self.seen_measured += 1
        if len(self.reservoir) < RESERVOIR_SIZE:
            self.reservoir.append(_without_landmarks(measures))
            return
        j = self.random.randrange(self.seen_measured)
        if j < RESERVOIR_SIZE:
            self.reservoir[j] = _without_landmarks(measures)

    # --- per window -----------------------------------------------------------------------

    def _reference(self) -> behaviour.Neutral | None:
        return self.fixed_reference or behaviour.neutral(self.reservoir)

    def _close(self, index: int, final: bool, last: bool = False) -> Window:
        start, end = index * self.window_s, (index + 1) * self.window_s
        frames = list(self._buffer)
        in_window = [f for f in frames if start <= f.timestamp_s < end]
        coverage = self.coverage.pop(index, Coverage())
        level = self.levels.pop(index, self.quality)
        self.totals.coverage.add(coverage)
        reference = self._reference()
        step = behaviour.sampling_interval([f.timestamp_s for f in frames])
        notes = list(self.notes)
        found: list[Event] = []
        if reference is None or not any(f.measured for f in in_window):
            features = {"face_frames_ratio": 0.0}
            measured = 0
            self.totals.add_frames(in_window, _empty_codes(), np.zeros(0, bool), step)
        else:
            codes = behaviour.frame_codes(frames, reference)
            cut = math.inf if last else min(end, frames[-1].timestamp_s - EVENT_SETTLE_S)
            found = self._ended_in(
                events.find_events(frames, reference, codes, step), self.event_cut, cut
            )
            self.event_cut = max(self.event_cut, cut)
            mask = np.array([start <= f.timestamp_s < end for f in frames if f.measured])
            features, _, measured = behaviour.window_features(
                frames, codes, found, start, end, step, events_in_span=False
            )
            self.totals.add_frames(in_window, codes, mask, step)
            self.totals.add_events(found)
        notes += status_notes(Counter(f.status for f in in_window), len(in_window))
        if coverage.received == 0:
            notes.append("no video frames in this window")
        elif not in_window:
            notes.append("every frame of this window was skipped to keep up")
        elif measured == 0:
            notes.append("no single face measurable in this window: no score")
        # Keep OVERLAP_S of context before the next window.
        while self._buffer and self._buffer[0].timestamp_s < end - OVERLAP_S:
            self._buffer.popleft()
        baseline = {k: v for k, v in self.baseline_means.items() if k in features}
        return Window(
            start_s=start,
            end_s=min(end, self.last_t + step) if final else end,
            features=features,
            units={k: v for k, v in behaviour.UNITS.items() if k in features},
            baseline=baseline,
            quality=measured / len(in_window) if in_window else 0.0,
            notes=notes,
            usable=measured > 0,
            events=found,
            coverage=coverage,
            level=level,
        )

    @staticmethod
    def _ended_in(found: list[Event], after: float, until: float) -> list[Event]:
        """The events whose run ended in (after, until]. `until` stays EVENT_SETTLE_S behind
        the newest frame, so a run that may still go on (or whose shape the next frames
        decide, like a repeated nod) waits for the next window; each event is sent once."""
        return [e for e in found if after < e.offset_s <= until][:MAX_EVENTS_PER_WINDOW]

    def _whole(self) -> Window:
        """The whole-input result from the running totals (no frame is read again)."""
        t = self.totals
        features = t.features()
        notes = list(self.notes)
        notes += status_notes(t.statuses, t.frames)
        quality = t.measured / t.frames if t.frames else 0.0
        if t.measured and quality < 0.5:
            notes.append(f"a single face was measurable in only {quality:.0%} of frames")
        notes.append("events were reported with their windows")
        return Window(
            start_s=self.first_t,
            end_s=max(self.last_t, self.first_t),
            features=features,
            units={k: v for k, v in behaviour.UNITS.items() if k in features},
            baseline={
                k: v
                for k, v in self.baseline_whole.items()
                if k in features and k not in behaviour.COUNTS
            },
            quality=quality,
            notes=notes,
            usable=t.measured > 0,
            coverage=t.coverage,
        )


def _to_frame_pixels(m: FrameMeasures, scale: float) -> FrameMeasures:
    """Landmarks and face size in the frame's own pixels, whatever size was analysed."""
    if scale == 1.0 or not m.measured:
        return m
    return dataclasses.replace(
        m,
        iod_px=m.iod_px * scale,
        landmarks=None if m.landmarks is None else m.landmarks * scale,
    )


def _without_landmarks(m: FrameMeasures) -> FrameMeasures:
    """A frame's measures without its landmark array (the neutral face needs scalars)."""
    return dataclasses.replace(m, landmarks=None)


def _empty_codes() -> dict[str, np.ndarray]:
    return {code: np.zeros(0) for code in behaviour.BEHAVIOUR_CODES + behaviour.EXTRA_RATES}
