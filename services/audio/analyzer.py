"""The audio modality: decoded speech -> windows of vocal features for the `audio_cues` model.

Per window and for the whole input: pauses and speech rate, Praat pitch and voice quality,
loudness (features.py), the 88 eGeMAPS functionals and spectral tilt (egemaps.py), and the
onset latency in the window that starts the recording. The model reads `pitch_change_st`
(see models/cards/audio_cues.md); every other feature is reported for a human reviewer with
contribution 0. Changes are measured against the subject's baseline recording when one is
given, otherwise against the recording's own average, which the windows' notes state. The
whole-input result without a baseline is the recording compared with itself: its pitch
change is 0 by construction, so it carries no evidence and says so (confidence 0).

Live streams (`open_live`) are analysed incrementally by `live.AudioLiveSession`.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from services.audio import decode, egemaps, features
from services.audio.decode import Audio
from services.audio.features import Tracks
from services.audio.live import AudioLiveSession
from services.audio.report import NO_BASELINE_NOTE, NO_REFERENCE_NOTE, unit
from veritas.analysis import Analyzer, Event, InvalidInput, Window
from veritas.cache import HIT, MISS, BoundedCache, feature_cache, media_key
from veritas.modalities import BY_NAME
from veritas.v1 import common_pb2, modality_pb2

DEFAULT_WINDOW_S = 5.0
MIN_WINDOW_S = 1.0
MAX_LIVE_WINDOW_S = 60.0  # a live stream's buffers are sized by its window
_BASELINE_CACHE_SIZE = 32


@dataclass(frozen=True, eq=False)
class Measured:
    """A recording decoded and measured whole: what the feature cache keeps (read-only)."""

    audio: Audio
    tracks: Tracks
    whole: dict[str, float]


@dataclass(frozen=True, eq=False)
class PreparedAudio:
    """A decoded, analysed recording and what its changes are measured against."""

    audio: Audio
    tracks: Tracks
    reference: dict[str, float]  # the baseline's features, or the recording's own
    has_baseline: bool
    whole: dict[str, float]  # the whole recording's features
    notes: tuple[str, ...] = ()
    questions: tuple[tuple[float, float], ...] = ()  # (start_s, end_s) on the shared timeline


def _spans(duration_s: float, window_s: float) -> list[tuple[float, float]]:
    """Consecutive windows; a last piece shorter than half a window joins the one before."""
    edges = [0.0]
    while edges[-1] + window_s < duration_s:
        edges.append(edges[-1] + window_s)
    if len(edges) > 1 and duration_s - edges[-1] < window_s / 2:
        edges.pop()
    edges.append(duration_s)
    return list(zip(edges[:-1], edges[1:]))


def _window_length(options: common_pb2.Options) -> float:
    w = options.window_s
    if not math.isfinite(w) or w <= 0:
        return DEFAULT_WINDOW_S
    return max(w, MIN_WINDOW_S)


def _live_window_length(options: common_pb2.Options) -> float:
    w = options.window_s
    if not math.isfinite(w) or w < 0:
        raise InvalidInput("config.options.window_s", f"must be 0 (default) or > 0, got {w}")
    if w > MAX_LIVE_WINDOW_S:
        raise InvalidInput(
            "config.options.window_s", f"{w:g} s; at most {MAX_LIVE_WINDOW_S:g} s live"
        )
    return _window_length(options)


class AudioAnalyzer(Analyzer[PreparedAudio]):
    """Implements veritas.analysis.Analyzer for speech audio."""

    modality = common_pb2.AUDIO
    model_name = BY_NAME["audio"].model
    # Praat (parselmouth) keeps the interpreter lock while it measures, and measuring needs
    # nothing of the service's process: unary requests are measured in worker processes
    # (veritas/analysis_pool.py), so concurrent ones use every core.
    measure_in_processes = True

    def __init__(
        self, max_duration_s: float | None = None, feature_cache_bytes: int | None = None
    ) -> None:
        self.max_duration_s = decode.max_duration_s() if max_duration_s is None else max_duration_s
        self._baselines: OrderedDict[bytes, dict[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        # A recording seen again (same bytes, same caller) is not decoded and measured again.
        self._measured: BoundedCache[tuple[str, bytes], Measured] = feature_cache(
            "audio", feature_cache_bytes
        )
        egemaps.functionals(np.zeros(decode.TARGET_RATE, np.float32))  # load openSMILE now

    # ------------------------------------------------------------------ measuring

    def _measure(
        self, samples: np.ndarray, tracks: Tracks, start_s: float, end_s: float
    ) -> dict[str, float]:
        """Every feature of one span except the changes; onset latency when it starts at 0."""
        rate = decode.TARGET_RATE
        measured = features.measure(tracks, start_s, end_s)
        if start_s == 0.0:
            measured["onset_latency_s"] = features.onset_latency_s(tracks)
        functionals = egemaps.functionals(
            samples[int(round(start_s * rate)) : int(round(end_s * rate))]
        )
        return measured | egemaps.spectral_tilt(functionals) | functionals

    # ------------------------------------------------------------------ baseline

    def _baseline(self, media: common_pb2.Media, field: str) -> dict[str, float] | None:
        """Whole-recording features of the baseline (cached: callers often reuse one)."""
        if not media.data and media.WhichOneof("source") != "uri":
            return None
        key = hashlib.sha256(media.mime_type.encode() + b"\0" + media.data).digest()
        with self._lock:
            if key in self._baselines:
                self._baselines.move_to_end(key)
                return self._baselines[key]
        audio = decode.decode_media(media, field, self.max_duration_s)
        tracks = features.analyse(audio.samples)
        measured = self._measure(audio.samples, tracks, 0.0, tracks.duration_s)
        if not measured["pitch_mean_hz"] > 0:
            raise InvalidInput(
                f"{field}.data",
                f"only {measured['voiced_s']:.2f} s of voiced speech; a baseline needs at least "
                f"{features.MIN_VOICED_S} s to measure pitch",
            )
        with self._lock:
            self._baselines[key] = measured
            while len(self._baselines) > _BASELINE_CACHE_SIZE:
                self._baselines.popitem(last=False)
        return measured

    # ------------------------------------------------------------------ Analyzer

    def _measure_recording(self, media: common_pb2.Media) -> Measured:
        """Decode the recording and measure it whole (openSMILE, Praat): cached per caller
        and content, since it is the expensive step."""
        key = media_key(media)
        entry = self._measured.get(key) if key is not None else None
        if entry is not None:
            self._measured.count(HIT)
            return entry.value
        audio = decode.decode_media(media, "audio", self.max_duration_s)
        tracks = features.analyse(audio.samples)
        whole = self._measure(audio.samples, tracks, 0.0, tracks.duration_s)
        measured = Measured(audio, tracks, whole)
        if key is not None:
            self._measured.count(MISS)
            self._measured.put(key, measured, 2 * audio.samples.nbytes + 65536)
        return measured

    def prepare(self, request: modality_pb2.ModalityRequest) -> PreparedAudio:
        measured = self._measure_recording(request.input.media)
        baseline = self._baseline(request.baseline.media, "baseline.audio")
        return PreparedAudio(
            audio=measured.audio,
            tracks=measured.tracks,
            reference=measured.whole if baseline is None else baseline,
            has_baseline=baseline is not None,
            whole=measured.whole,
            notes=() if baseline is not None else (NO_BASELINE_NOTE,),
            questions=tuple((q.start_s, q.end_s) for q in request.questions),
        )

    def open_live(self, config: common_pb2.StreamConfig) -> AudioLiveSession:
        """A live session: the window length checked, the baseline measured once, the
        questions known in advance handed over (see live.py)."""
        window_s = _live_window_length(config.options)
        baseline = self._baseline(config.baseline.audio, "config.baseline.audio")
        session = AudioLiveSession(window_s, baseline)
        for i, q in enumerate(config.questions):
            session.responses.add(q.start_s, q.end_s, f"config.questions[{i}]")
        return session

    def _window(self, prepared: PreparedAudio, start_s: float, end_s: float) -> Window:
        notes = list(prepared.notes)
        if (start_s, end_s) == (0.0, prepared.audio.duration_s):
            measured = dict(prepared.whole)
        else:
            measured = self._measure(prepared.audio.samples, prepared.tracks, start_s, end_s)
        measured |= features.changes(measured, prepared.reference)
        usable = measured["voiced_s"] >= features.MIN_VOICED_S
        if not usable:
            notes.append(
                f"only {measured['voiced_s']:.2f} s of voiced speech in this window; at least "
                f"{features.MIN_VOICED_S} s is needed to measure pitch"
            )
        baseline = (
            {
                k: v
                for k, v in prepared.reference.items()
                if k in measured and k not in features.CHANGES and math.isfinite(v)
            }
            if prepared.has_baseline
            else {}
        )
        return Window(
            start_s=start_s,
            end_s=end_s,
            features=measured,
            units={k: unit(k) for k in measured},
            baseline=baseline,
            quality=measured["speech_ratio"],
            notes=notes,
            usable=usable,
        )

    def _add_response_latencies(self, summary: Window, prepared: PreparedAudio) -> None:
        """Per question: time from its end to the first speech after it (events + stats)."""
        found = features.response_latencies(prepared.tracks, prepared.questions)
        answered = [latency for _, latency in found if math.isfinite(latency)]
        summary.features["response_count"] = float(len(answered))
        summary.units["response_count"] = ""
        if answered:
            for name, value in (
                ("response_latency_mean_s", float(np.mean(answered))),
                ("response_latency_max_s", float(np.max(answered))),
            ):
                summary.features[name] = value
                summary.units[name] = "s"
        unanswered = len(found) - len(answered)
        if unanswered:
            summary.notes.append(f"no speech after {unanswered} of {len(found)} questions")
        if len(found) < len(prepared.questions):
            summary.notes.append(
                f"{len(prepared.questions) - len(found)} question(s) end outside this recording"
            )
        summary.events.extend(
            Event("response", end, end + latency, end + latency, latency, "response latency")
            for end, latency in found
            if math.isfinite(latency)
        )

    def windows(self, prepared: PreparedAudio, options: common_pb2.Options) -> Iterator[Window]:
        for start, end in _spans(prepared.audio.duration_s, _window_length(options)):
            yield self._window(prepared, start, end)

    def summarize(self, prepared: PreparedAudio, windows: Sequence[Window]) -> Window:
        summary = self._window(prepared, 0.0, prepared.audio.duration_s)
        if not prepared.has_baseline:
            # Compared with itself: every change is 0 by construction, the score exactly
            # 0.5, and that is no evidence either way.
            summary.notes = [
                NO_REFERENCE_NOTE if note == NO_BASELINE_NOTE else note for note in summary.notes
            ]
            summary.quality = 0.0
        if prepared.questions:
            self._add_response_latencies(summary, prepared)
        unusable = sum(1 for w in windows if not w.usable)
        if unusable and len(windows) > 1:
            summary.notes.append(
                f"{unusable} of {len(windows)} windows had too little voiced speech"
            )
        return summary
