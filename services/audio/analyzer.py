"""The audio modality: decoded speech -> windows of vocal features for the `audio_cues` model.

Per window and for the whole input: pauses and speech rate, Praat pitch and voice quality,
loudness (features.py), the 88 eGeMAPS functionals and spectral tilt (egemaps.py), and the
onset latency in the window that starts the recording. The model reads `pitch_change_st`
(see models/cards/audio_cues.md); every other feature is reported for a human reviewer with
contribution 0. Changes are measured against the subject's baseline recording when one is
given, otherwise against the recording's own average, which the windows' notes state.
"""

from __future__ import annotations

import dataclasses
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
from veritas.analysis import Event, InvalidInput, Window
from veritas.v1 import common_pb2, modality_pb2

DEFAULT_WINDOW_S = 5.0
MIN_WINDOW_S = 1.0
NO_BASELINE_NOTE = (
    "no baseline recording given: changes are measured against this recording's own average, "
    "so the whole-input result carries no pitch-change evidence"
)
_BASELINE_CACHE_SIZE = 32
_EGEMAPS_CACHE_SIZE = 256  # live streams re-analyse every window at each window edge


def unit(name: str) -> str:
    """The unit of any feature the audio service reports."""
    if name in features.UNITS:
        return features.UNITS[name]
    if name in egemaps.TILT_UNITS:
        return egemaps.TILT_UNITS[name]
    return egemaps.unit(name)


@dataclass(frozen=True, eq=False)
class PreparedAudio:
    """A decoded, analysed recording and what its changes are measured against."""

    audio: Audio
    tracks: Tracks | None  # None: too short to analyse (live buffers only)
    reference: dict[str, float]  # the baseline's features, or the recording's own
    has_baseline: bool
    offset_s: float = 0.0  # where the recording starts on the stream's timeline
    notes: tuple[str, ...] = ()
    whole: dict[str, float] | None = None  # the whole recording's features, when measured
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


class AudioAnalyzer:
    """Implements veritas.analysis.Analyzer for speech audio."""

    modality = common_pb2.AUDIO
    model_name = "audio_cues"

    def __init__(self, max_duration_s: float | None = None) -> None:
        self.max_duration_s = decode.max_duration_s() if max_duration_s is None else max_duration_s
        self._baselines: OrderedDict[bytes, dict[str, float]] = OrderedDict()
        self._egemaps: OrderedDict[bytes, dict[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        egemaps.functionals(np.zeros(decode.TARGET_RATE, np.float32))  # load openSMILE now

    # ------------------------------------------------------------------ measuring

    def _functionals(self, samples: np.ndarray) -> dict[str, float]:
        """eGeMAPS of a span, cached by its samples (a live stream's finished windows recur)."""
        key = hashlib.sha256(np.ascontiguousarray(samples).tobytes()).digest()
        with self._lock:
            if key in self._egemaps:
                self._egemaps.move_to_end(key)
                return self._egemaps[key]
        values = egemaps.functionals(samples)
        with self._lock:
            self._egemaps[key] = values
            while len(self._egemaps) > _EGEMAPS_CACHE_SIZE:
                self._egemaps.popitem(last=False)
        return values

    def _measure(
        self, samples: np.ndarray, tracks: Tracks, start_s: float, end_s: float
    ) -> dict[str, float]:
        """Every feature of one span except the changes; onset latency when it starts at 0."""
        rate = decode.TARGET_RATE
        measured = features.measure(tracks, start_s, end_s)
        if start_s == 0.0:
            measured["onset_latency_s"] = features.onset_latency_s(tracks)
        functionals = self._functionals(
            samples[int(round(start_s * rate)) : int(round(end_s * rate))]
        )
        return measured | egemaps.spectral_tilt(functionals) | functionals

    # ------------------------------------------------------------------ baseline

    def _baseline(self, media: common_pb2.Media) -> dict[str, float] | None:
        """Whole-recording features of the baseline (cached: live streams reuse it per window)."""
        if not media.data and media.WhichOneof("source") != "uri":
            return None
        key = hashlib.sha256(media.mime_type.encode() + b"\0" + media.data).digest()
        with self._lock:
            if key in self._baselines:
                self._baselines.move_to_end(key)
                return self._baselines[key]
        audio = decode.decode_media(media, "baseline.audio", self.max_duration_s)
        tracks = features.analyse(audio.samples)
        measured = self._measure(audio.samples, tracks, 0.0, tracks.duration_s)
        if not measured["pitch_mean_hz"] > 0:
            raise InvalidInput(
                "baseline.audio.data",
                f"only {measured['voiced_s']:.2f} s of voiced speech; a baseline needs at least "
                f"{features.MIN_VOICED_S} s to measure pitch",
            )
        with self._lock:
            self._baselines[key] = measured
            while len(self._baselines) > _BASELINE_CACHE_SIZE:
                self._baselines.popitem(last=False)
        return measured

    def _prepare(
        self, audio: Audio, baseline: dict[str, float] | None, offset_s: float = 0.0
    ) -> PreparedAudio:
        notes: list[str] = []
        if audio.duration_s < decode.MIN_DURATION_S:
            notes.append(f"only {audio.duration_s:.2f} s of audio: too short to analyse")
            return PreparedAudio(
                audio, None, baseline or {}, baseline is not None, offset_s, tuple(notes)
            )
        tracks = features.analyse(audio.samples)
        whole = None
        if baseline is None:
            notes.append(NO_BASELINE_NOTE)
            whole = self._measure(audio.samples, tracks, 0.0, tracks.duration_s)
            reference = whole
        else:
            reference = baseline
        return PreparedAudio(
            audio, tracks, reference, baseline is not None, offset_s, tuple(notes), whole
        )

    # ------------------------------------------------------------------ Analyzer

    def prepare(self, request: modality_pb2.ModalityRequest) -> PreparedAudio:
        audio = decode.decode_media(request.input.media, "audio", self.max_duration_s)
        baseline = self._baseline(request.baseline.media)
        prepared = self._prepare(audio, baseline)
        questions = tuple((q.start_s, q.end_s) for q in request.questions)
        return dataclasses.replace(prepared, questions=questions)

    def prepare_live(
        self, config: common_pb2.StreamConfig, chunks: Sequence[common_pb2.LiveChunk]
    ) -> PreparedAudio:
        pieces = [c.audio_chunk for c in chunks if c.WhichOneof("payload") == "audio_chunk"]
        if not pieces:
            raise InvalidInput("audio_chunk", "no audio chunks in the stream")
        audio = decode.decode_chunks(pieces, self.max_duration_s)
        baseline = self._baseline(config.baseline.audio)
        return self._prepare(audio, baseline, offset_s=pieces[0].timestamp_s)

    def _window(self, prepared: PreparedAudio, start_s: float, end_s: float) -> Window:
        t0, t1 = prepared.offset_s + start_s, prepared.offset_s + end_s
        notes = list(prepared.notes)
        if prepared.tracks is None:
            return Window(t0, t1, {}, quality=0.0, notes=notes, usable=False)
        if prepared.whole is not None and (start_s, end_s) == (0.0, prepared.audio.duration_s):
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
            start_s=t0,
            end_s=t1,
            features=measured,
            units={k: unit(k) for k in measured},
            baseline=baseline,
            quality=measured["speech_ratio"],
            notes=notes,
            usable=usable,
        )

    def _add_response_latencies(self, summary: Window, prepared: PreparedAudio) -> None:
        """Per question: time from its end to the first speech after it (events + stats)."""
        assert prepared.tracks is not None
        found = features.response_latencies(prepared.tracks, prepared.questions, prepared.offset_s)
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
        if prepared.questions and prepared.tracks is not None:
            self._add_response_latencies(summary, prepared)
        unusable = sum(1 for w in windows if not w.usable)
        if unusable and len(windows) > 1:
            summary.notes.append(
                f"{unusable} of {len(windows)} windows had too little voiced speech"
            )
        return summary
