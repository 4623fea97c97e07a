"""Live audio: each chunk is decoded and voice-activity-detected once, as it arrives; each
window is measured once, as it closes; the whole-input result is a running summary.

The stream's timeline starts at its first chunk's timestamp and runs by samples received
(as `decode.decode_chunks` joins chunks: timestamps after the first are not used to place
samples). Windows are fixed, [t0 + k*w, t0 + (k+1)*w). A window closes as soon as the audio
reaches its end: with contiguous chunks, the chunk that reaches the window's end. A 30 ms VAD
frame belongs to the window it ends in (a frame straddling an edge goes to the later
window), so every frame of a window is complete when its audio is. The speech decisions at
the window's edge are provisional: a speech run still going on at the end is kept even when
it is shorter than a syllable (more of it may follow; `features.drop_short_runs` with
`open_end`), and the next window reads those decisions as its context, so a run that goes on
across the edge is one run. What may differ from the offline path (which sees the click end):
a click of under MIN_SPEECH_S (0.1 s) right at a window's end counts as speech, and the
window's last ~20 ms carry no Praat pitch frame (its analysis window would need audio past
the end); the live-vs-offline agreement test (tests/test_live.py) bounds what that moves.
At `finish`, the last, partial window [t0 + k*w, end of audio) is measured and returned as
it is, with its own (shorter) end and a note. (The offline path instead joins a last piece
shorter than half a window to the window before it; live, that window has already been
sent.)

Per stream this keeps, all bounded by the window length (see `AudioLiveSession.bounds`):
- `samples`: the open window, CONTEXT_S before it and any audio received past its end.
  Praat measures a closing window over that span (the context gives its pitch tracker and
  intensity contour their run-in), and frames outside the window are discarded.
- `vad`, `levels`: webrtcvad's decision and the RMS level of each 30 ms frame since the open
  window's start, computed once per chunk with one webrtcvad instance for the whole stream.
- `speech`: the final speech decision per frame for the last HISTORY_S (pauses across
  window edges, response latencies of question markers that arrive a little late).
- fixed-size histograms for what the offline path takes over the whole recording: the VAD
  energy gate (95th percentile of speech-frame levels), the pitch tracker's speaker range
  (quartiles of its first pass) and the syllable-nucleus threshold (99th percentile of
  intensity) are read from the stream so far.
- `summary.RunningSummary` for the whole-input features, `responses.ResponseTracker` for
  the questions.

Changes are measured against the baseline recording when one is given, else against the
running summary of the earlier windows (their mean). The first window, or any window before
which no voiced speech came, has nothing to compare its pitch with: its pitch change is 0
with confidence 0 and a note. The whole-input result without a baseline is the stream
compared with itself: confidence 0 and a note, as offline.

Quality levels change what a window measures (the model's input, pitch change, is measured
at every level): LOW = voice activity (speech, pauses, onset) and Praat pitch (one pass with
the speaker range found so far, once 10 s of voiced speech has set it); MEDIUM = +
Praat voice quality (jitter, shimmer, HNR) and intensity (loudness, syllable rate); HIGH =
+ the 88 eGeMAPS functionals and spectral tilt. A window is measured at the level set when
it closes; the whole-input result summarises each measure over the windows that had it.
"""

from __future__ import annotations

import math

import numpy as np
import parselmouth
import webrtcvad
from parselmouth.praat import call

from services.audio import decode, egemaps, features
from services.audio.features import FRAME_S, RATE, TIME_STEP
from services.audio.report import NO_REFERENCE_NOTE, unit
from services.audio.responses import ResponseTracker
from services.audio.ring import Ring
from services.audio.summary import Histogram, RunningSummary, WindowMeasures
from veritas.analysis import Coverage, InvalidInput, Window
from veritas.v1 import common_pb2

LOW, MEDIUM, HIGH = common_pb2.QUALITY_LOW, common_pb2.QUALITY_MEDIUM, common_pb2.QUALITY_HIGH
LEVEL_DETAIL: dict[int, str] = {
    LOW: "LOW quality: voice activity and pitch only",
    MEDIUM: "MEDIUM quality: voice activity, pitch, voice quality, loudness and syllable rate; "
    "no eGeMAPS",
    HIGH: "",
}
CONTEXT_S = 0.5  # audio before a window that Praat reads for its run-in
HISTORY_S = features.MAX_RESPONSE_S + 1.0  # final speech decisions kept
PIECE_S = 1.0  # a long chunk is fed in pieces, so the buffers stay within their capacity
MIN_PRAAT_S = 0.1  # shorter audio is not given to Praat (too short for a pitch frame)
RANGE_SETTLED_S = 10.0  # voiced speech after which LOW stops refining the speaker's range
_FRAME = int(RATE * FRAME_S)
_MIN_SPEECH_FRAMES = math.ceil(features.MIN_SPEECH_S / FRAME_S - 1e-9)

LIVE_NO_BASELINE_NOTE = (
    "no baseline recording given: changes are measured against the mean of the earlier "
    "windows of this stream"
)
FIRST_WINDOW_NOTE = (
    "no reference: nothing earlier in this stream to compare with (no baseline recording, "
    "no voiced speech before this window), so this window carries no pitch-change evidence"
)


def _frames_before(t_s: float) -> int:
    """How many VAD frames end at or before t_s (stream seconds): a window's frames are
    [_frames_before(start), _frames_before(end)), each frame in the window it ends in."""
    return max(0, math.floor(t_s / FRAME_S + 1e-9))


class AudioLiveSession:
    """veritas.analysis.LiveSession for speech audio (see the module docstring)."""

    thinnable = False

    def __init__(
        self,
        window_s: float,
        baseline: dict[str, float] | None = None,
    ) -> None:
        self.window_s = window_s
        self.baseline = baseline
        self.level: int = HIGH
        self.decoder = decode.ChunkDecoder()
        self.offset_s: float | None = None  # the first chunk's timestamp
        self.received = 0  # samples at 16 kHz
        self.samples = Ring(self.bounds()["samples"], np.float32)
        self.vad = Ring(self.bounds()["frames"], np.bool_)
        self.levels = Ring(self.bounds()["frames"], np.float64)
        self.speech = Ring(self.bounds()["speech"], np.bool_)
        self._vad = webrtcvad.Vad(features.VAD_MODE)
        self._rest = np.zeros(0, np.float32)  # samples of the VAD frame not yet complete
        self.gate = Histogram(-130.0, 10.0, 0.05)  # dBFS of VAD speech frames
        self.intensity = Histogram(-130.0, 10.0, 0.05)  # Praat intensity (dBFS)
        self.first_pass = Histogram(12 * math.log2(30.0), 12 * math.log2(1200.0), 0.02)
        self.summary = RunningSummary()
        self.responses = ResponseTracker()
        self.next_window = 0
        self.coverage: dict[int, Coverage] = {}  # per window not yet closed
        self.total = Coverage()
        self.ready: list[Window] = []
        self.finished = False

    def bounds(self) -> dict[str, int]:
        """The capacity of each buffer, fixed by the window length."""
        span_s = CONTEXT_S + self.window_s + 2 * FRAME_S + PIECE_S
        return {
            "samples": math.ceil(span_s * RATE) + _FRAME,
            "frames": math.ceil(span_s / FRAME_S) + 2,
            "speech": math.ceil((HISTORY_S + self.window_s) / FRAME_S) + 2,
            "coverage": 3,
            "ready": math.ceil(PIECE_S / self.window_s) + 2,  # between two close_until calls
        }

    # ------------------------------------------------------------------ LiveSession

    def max_rate_hz(self, quality: int) -> float:
        return math.inf  # not thinnable: every chunk is analysed

    def set_quality(self, quality: int) -> None:
        self.level = quality if quality in (LOW, MEDIUM, HIGH) else HIGH

    def add(self, chunk: common_pb2.LiveChunk) -> None:
        samples = self._decode(chunk)
        self._count(Coverage(1, 1, 0))
        self._feed(samples)

    def skip(self, chunk: common_pb2.LiveChunk) -> None:
        """Counted, and silence of its length keeps the timeline (audio is never thinned by
        the servicer; this is here for the protocol)."""
        samples = self._decode(chunk)
        self._count(Coverage(1, 0, 1))
        self._feed(np.zeros_like(samples))

    def add_question(self, question: common_pb2.QuestionMarker) -> None:
        self.responses.add(question.start_s, question.end_s, "question")

    def close_until(self, t_s: float) -> list[Window]:
        """Every window measured so far: they close as soon as the audio reaches their end,
        which for contiguous chunks is no later than `t_s` says."""
        out, self.ready = self.ready, []
        return out

    def finish(self) -> tuple[list[Window], Window]:
        if not self.finished:
            self.finished = True
            self._feed(self.decoder.flush(), final=True)
        rest, self.ready = self.ready, []
        return rest, self._whole()

    # ------------------------------------------------------------------ input

    def _decode(self, chunk: common_pb2.LiveChunk) -> np.ndarray:
        kind = chunk.WhichOneof("payload")
        if kind != "audio_chunk":
            raise InvalidInput(kind or "payload", "the audio service analyses audio_chunk only")
        if self.finished:
            raise InvalidInput("audio_chunk", "arrived after the end of the stream")
        audio = chunk.audio_chunk
        if not math.isfinite(audio.timestamp_s):
            raise InvalidInput(
                "audio_chunk.timestamp_s", f"must be finite, got {audio.timestamp_s}"
            )
        samples = self.decoder.decode(audio)
        if self.offset_s is None:
            self.offset_s = audio.timestamp_s
        return samples

    def _count(self, c: Coverage) -> None:
        """A chunk counts in the window where its first sample lands on the timeline."""
        k = max(self.next_window, int(self.received / RATE / self.window_s + 1e-9))
        self.coverage.setdefault(k, Coverage()).add(c)
        self.total.add(c)

    def _feed(self, samples: np.ndarray, final: bool = False) -> None:
        step = int(PIECE_S * RATE)
        for i in range(0, len(samples), step):
            piece = samples[i : i + step]
            self.samples.append(piece)
            self.received += len(piece)
            self._detect(piece)
            self._close_ready(False)
        if final:
            self._close_ready(True)

    def _detect(self, piece: np.ndarray) -> None:
        """webrtcvad and RMS level of each VAD frame completed by this piece (the stream's
        one webrtcvad instance carries on across pieces)."""
        x = np.concatenate([self._rest, piece])
        n = len(x) // _FRAME
        self._rest = x[n * _FRAME :]
        if not n:
            return
        frames = x[: n * _FRAME]
        vad = features.voice_activity(frames, vad=self._vad)
        levels = features.frame_levels_db(frames)
        self.vad.append(vad)
        self.levels.append(levels)
        self.gate.add(levels[vad])

    # ------------------------------------------------------------------ windows

    def _close_ready(self, final: bool) -> None:
        while True:
            k = self.next_window
            start, end = k * self.window_s, (k + 1) * self.window_s
            reach = self.received / RATE
            if final:
                if reach <= start + 1e-9:
                    return
                end = min(end, reach)
            elif reach < end - 1e-9:
                return
            self.ready.append(self._window(k, start, end, final))
            self.next_window += 1
            next_frame = _frames_before(end)
            self.samples.drop_before(int(round((end - CONTEXT_S) * RATE)))
            self.vad.drop_before(next_frame)
            self.levels.drop_before(next_frame)
            self.speech.drop_before(next_frame - math.ceil(HISTORY_S / FRAME_S))

    def _speech(self, fa: int, fb: int, final: bool) -> tuple[np.ndarray, np.ndarray]:
        """Final speech decisions of frames [fa, fb), and provisional ones after fb: the VAD
        gated by the stream's loud level so far, short runs removed (features.speech_frames)."""
        vad = self.vad.get(fa, self.vad.end)
        levels = self.levels.get(fa, self.vad.end)
        loud = self.gate.percentile(95)
        gated = vad & (levels > loud - features.SPEECH_GATE_DB) if math.isfinite(loud) else vad
        context = self.speech.get(fa - _MIN_SPEECH_FRAMES, fa)
        speech = features.drop_short_runs(np.concatenate([context, gated]), open_end=not final)
        speech = speech[len(context) :]
        return speech[: fb - fa], speech[fb - fa :]

    def _pauses(
        self, speech: np.ndarray, ahead: np.ndarray, span_s: float, final: bool
    ) -> dict[str, float]:
        """features.pause_stats for one window: silences between speech, clipped to it. A
        silence still going on when the window closes counts if speech follows in the audio
        already received, or provisionally if none has come yet (not at the stream's end)."""
        spoken_before = self.summary.pauses.first_speech >= 0
        lengths = []
        for s, e in features.runs(~speech):
            preceded = s > 0 or spoken_before
            followed = e < len(speech) or bool(ahead.any()) or not final
            if preceded and followed and (e - s) * FRAME_S >= features.MIN_PAUSE_S - 1e-9:
                lengths.append((e - s) * FRAME_S)
        return features.pause_features(np.asarray(lengths, dtype=np.float64), span_s)

    def _pitch(
        self, sound: parselmouth.Sound, t0: float, start: float, end: float, level: int
    ) -> tuple[parselmouth.Pitch, np.ndarray, np.ndarray]:
        """features.pitch_track on the window's audio, its speaker range from the first-pass
        quartiles of the whole stream so far; returns the pitch, F0 (NaN unvoiced) and times.
        At LOW, once RANGE_SETTLED_S of voiced speech has set the range, the first pass is
        skipped (one Praat pass instead of two) and the range kept as it is."""
        settled = self.first_pass.total * TIME_STEP >= RANGE_SETTLED_S
        pitch = None
        if not (level == LOW and settled):
            pitch = features.first_pitch_pass(sound)
            f1 = pitch.selected_array["frequency"]
            times = np.asarray(pitch.xs()) + t0
            mine = (times >= start) & (times < end) & (f1 > 0)
            self.first_pass.add(12 * np.log2(f1[mine]))
        if self.first_pass.total * TIME_STEP >= features.MIN_VOICED_S:
            q1, q3 = (2 ** (self.first_pass.percentile(q) / 12) for q in (25, 75))
            floor, ceiling = features.pitch_range(q1, q3)
            pitch = sound.to_pitch_ac(time_step=TIME_STEP, pitch_floor=floor, pitch_ceiling=ceiling)
        assert pitch is not None
        f0 = pitch.selected_array["frequency"].astype(np.float64)
        f0[f0 <= 0] = np.nan
        return pitch, f0, np.asarray(pitch.xs(), dtype=np.float64) + t0

    def _window(self, k: int, start: float, end: float, final: bool) -> Window:
        """Measure window k, [start, end) in stream seconds, at the current level."""
        level = self.level
        fa, fb = _frames_before(start), min(_frames_before(end), self.vad.end)
        speech, ahead = self._speech(fa, fb, final)
        span_s = end - start
        speech_s = float(speech.sum()) * FRAME_S
        measured: dict[str, float] = {
            "speech_ratio": min(1.0, speech_s / span_s) if span_s > 0 else 0.0,
            "speech_s": speech_s,
            **self._pauses(speech, ahead, span_s, final),
        }
        first_sample = max(self.samples.start, int(round((start - CONTEXT_S) * RATE)))
        audio = self.samples.get(first_sample, self.samples.end)
        t0 = first_sample / RATE
        f0_window = np.zeros(0)
        m = WindowMeasures(span_s, speech, f0_window, usable=False)
        if len(audio) / RATE >= MIN_PRAAT_S:
            sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=RATE)
            pitch, f0, f0_times = self._pitch(sound, t0, start, end, level)
            f0_window = f0[(f0_times >= start) & (f0_times < end)]
            m.f0_hz = f0_window
            measured |= features.pitch_stats(f0_window)
            if level in (MEDIUM, HIGH):
                before = self.speech.get(fa - 1, fa)
                decided = np.concatenate([before, speech, ahead])
                measured |= self._voice(
                    m, sound, pitch, f0, f0_times, t0, start, end, decided, fa - len(before)
                )
        else:
            measured |= features.pitch_stats(f0_window)
        if k == 0:
            spoken = np.flatnonzero(speech)
            measured["onset_latency_s"] = (fa + spoken[0]) * FRAME_S if spoken.size else math.nan
        if level == HIGH:
            span = self.samples.get(int(round(start * RATE)), int(round(end * RATE)))
            functionals = egemaps.functionals(span)
            m.egemaps = functionals
            measured |= egemaps.spectral_tilt(functionals) | functionals
        notes = [] if self.baseline is not None else [LIVE_NO_BASELINE_NOTE]
        reference = self.baseline if self.baseline is not None else self.summary.features()
        measured |= features.changes(measured, reference)
        quality = measured["speech_ratio"]
        if not reference.get("pitch_mean_hz", math.nan) > 0:
            notes.append(FIRST_WINDOW_NOTE)
            quality = 0.0
            if measured["pitch_mean_hz"] > 0:
                measured["pitch_change_st"] = 0.0
        m.usable = measured["voiced_s"] >= features.MIN_VOICED_S
        if not m.usable:
            notes.append(
                f"only {measured['voiced_s']:.2f} s of voiced speech in this window; at least "
                f"{features.MIN_VOICED_S} s is needed to measure pitch"
            )
        if end < start + self.window_s - 1e-9:
            notes.append(
                f"the stream's last, partial window: {span_s:.3g} s of {self.window_s:g} s"
            )
        if LEVEL_DETAIL[level]:
            notes.append(LEVEL_DETAIL[level])
        coverage = self.coverage.pop(k, Coverage())
        if not coverage.received:
            notes.append("no chunk started in this window (its audio came in an earlier chunk)")
        self.summary.add(m)
        self.speech.append(speech)
        assert self.offset_s is not None
        events = self.responses.update(self.offset_s, self.speech.get(0, 2**62), self.speech.start)
        offset = self.offset_s
        return Window(
            start_s=offset + start,
            end_s=offset + end,
            features=measured,
            units={name: unit(name) for name in measured},
            baseline=self._baseline_values(measured),
            quality=quality,
            notes=notes,
            usable=m.usable,
            events=events,
            coverage=coverage,
        )

    def _voice(
        self,
        m: WindowMeasures,
        sound: parselmouth.Sound,
        pitch: parselmouth.Pitch,
        f0: np.ndarray,
        f0_times: np.ndarray,
        t0: float,
        start: float,
        end: float,
        decided: np.ndarray,
        decided_from: int,
    ) -> dict[str, float]:
        """MEDIUM and HIGH: Praat jitter, shimmer, HNR, loudness and syllable nuclei over the
        window, as features.measure takes them from the whole recording's tracks."""
        points = call([sound, pitch], "To PointProcess (cc)")
        voice = features.jitter_shimmer(sound, points, start - t0, end - t0)
        hnr_times, hnr = features.harmonicity_db(sound)
        hnr_times += t0
        hnr = hnr[(hnr_times >= start) & (hnr_times < end) & np.isfinite(hnr)]
        voice["hnr_db"] = float(hnr.mean()) if len(hnr) else math.nan
        it, level = features.intensity_dbfs(sound)
        it += t0
        inside = (it >= start) & (it < end)
        self.intensity.add(level[inside])
        frame_of = np.clip((it / FRAME_S).astype(int) - decided_from, 0, max(len(decided) - 1, 0))
        spoken = decided[frame_of] if len(decided) else np.zeros(len(it), bool)
        loudness = level[inside & spoken]
        nuclei = features.syllable_nuclei(
            it, level, f0_times, f0, top_db=self.intensity.percentile(99)
        )
        count = int(((nuclei >= start) & (nuclei < end)).sum())
        speech_s = float(m.speech.sum()) * FRAME_S
        m.voice, m.hnr_db, m.loudness_dbfs, m.syllables = voice, hnr, loudness, count
        return voice | {
            "loudness_mean_dbfs": float(loudness.mean()) if len(loudness) else math.nan,
            "loudness_sd_db": float(loudness.std()) if len(loudness) else math.nan,
            **features.syllable_rates(count, end - start, speech_s),
        }

    def _baseline_values(self, measured: dict[str, float]) -> dict[str, float]:
        if self.baseline is None:
            return {}
        return {
            k: v
            for k, v in self.baseline.items()
            if k in measured and k not in features.CHANGES and math.isfinite(v)
        }

    # ------------------------------------------------------------------ the whole input

    def _whole(self) -> Window:
        """The whole-input result from the running summaries (see summary.py)."""
        if self.offset_s is None:
            return Window(
                0.0,
                0.0,
                {},
                quality=0.0,
                notes=["no audio received"],
                usable=False,
                coverage=Coverage(self.total.received, self.total.analysed, self.total.skipped),
            )
        duration = self.received / RATE
        assert self.offset_s is not None
        self.responses.update(
            self.offset_s, self.speech.get(0, 2**62), self.speech.start, duration_s=duration
        )
        measured = self.summary.features()
        notes: list[str] = []
        if self.baseline is None:
            measured |= features.changes(measured, measured)
            notes.append(NO_REFERENCE_NOTE)
            quality = 0.0
        else:
            measured |= features.changes(measured, self.baseline)
            quality = measured["speech_ratio"]
        if self.responses.asked:
            measured |= self.responses.features()
            notes += self.responses.notes()
        s = self.summary
        if s.unusable and s.windows > 1:
            notes.append(f"{s.unusable} of {s.windows} windows had too little voiced speech")
        if s.voice_windows < s.windows:
            notes.append(
                f"voice quality, loudness and syllable rate are from {s.voice_windows} of "
                f"{s.windows} windows (the others were analysed at LOW quality)"
            )
        if s.egemaps_windows < s.windows:
            notes.append(
                f"eGeMAPS is from {s.egemaps_windows} of {s.windows} windows (the others were "
                "analysed below HIGH quality)"
            )
        usable = measured["voiced_s"] >= features.MIN_VOICED_S
        if not usable:
            notes.append(
                f"only {measured['voiced_s']:.2f} s of voiced speech; at least "
                f"{features.MIN_VOICED_S} s is needed to measure pitch"
            )
        return Window(
            start_s=self.offset_s,
            end_s=self.offset_s + duration,
            features=measured,
            units={name: unit(name) for name in measured},
            baseline=self._baseline_values(measured),
            quality=quality,
            notes=notes,
            usable=usable,
            events=list(self.responses.events),
            coverage=Coverage(self.total.received, self.total.analysed, self.total.skipped),
        )
