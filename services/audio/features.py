"""Vocal features of speech, measured with the field's reference tools.

- Voice activity: webrtcvad on 30 ms frames, gated by energy, gives speech/pause timing.
- Pitch, jitter, shimmer, harmonics-to-noise ratio: Praat (via parselmouth), the reference
  implementation in phonetics, with Praat's standard voice-report settings.
- Loudness: Praat intensity, expressed in dB relative to digital full scale (dBFS). Absolute
  levels depend on microphone gain and distance, so only changes against a reference mean
  anything about the speaker.
- Speech rate and articulation rate: syllable nuclei counted as voiced intensity peaks that
  stand out of their surroundings, after de Jong & Wempe (2009), Behavior Research Methods
  41(2), divided by the span's duration (speech rate) or by speaking time (articulation rate).
- Onset latency: time from the start of the recording to its first speech. The audio service
  does not see when the question ended, so this is the response latency only when the
  recording starts at the end of the question (see `onset_latency_s`).
- Changes against a reference (the subject's baseline, or the recording itself): `changes`.

The signal is analysed once (`analyse`), then any span is measured from the tracks
(`measure`), so windows and the whole-input summary share one pass over the audio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import parselmouth
import webrtcvad
from parselmouth.praat import call

RATE = 16_000
FRAME_S = 0.03  # webrtcvad frame length (10, 20 or 30 ms are allowed)
VAD_MODE = 2  # 0..3; 2 showed no end-of-speech hangover on test signals
SPEECH_GATE_DB = 35.0  # a VAD speech frame must be within this of the loud (95th pct) frames
MIN_SPEECH_S = 0.1  # shorter speech runs are clicks or VAD start-up, not speech
MIN_PAUSE_S = 0.25  # the usual silent-pause threshold in pause research (250 ms)
TIME_STEP = 0.01
PITCH_FLOOR_HZ = 75.0
PITCH_CEILING_HZ = 500.0
# Praat's voice-report defaults for jitter and shimmer.
PERIOD_FLOOR_S, PERIOD_CEILING_S, MAX_PERIOD_FACTOR, MAX_AMPLITUDE_FACTOR = 1e-4, 0.02, 1.3, 1.6
INTENSITY_MIN_PITCH_HZ = 50.0  # de Jong & Wempe's setting: a smooth intensity contour
PRAAT_DB_TO_DBFS = 20 * math.log10(2e-5)  # Praat's dB are re 2e-5 "Pa"; samples are re 1.0
NUCLEUS_SILENCE_DB = -25.0  # de Jong & Wempe: peaks within 25 dB of the 99th percentile
NUCLEUS_MIN_DIP_DB = 2.0  # de Jong & Wempe: a peak must rise 2 dB above the next dip
_JITTER_ARGS = (PERIOD_FLOOR_S, PERIOD_CEILING_S, MAX_PERIOD_FACTOR)
_SHIMMER_ARGS = (*_JITTER_ARGS, MAX_AMPLITUDE_FACTOR)
MIN_VOICED_S = 0.25  # less voiced speech than this: pitch statistics are not meaningful
MIN_SPEECH_FOR_RATE_S = 0.5

UNITS: dict[str, str] = {
    "speech_ratio": "ratio",
    "speech_s": "s",
    "onset_latency_s": "s",
    "pause_count": "count",
    "pause_rate_per_min": "1/min",
    "pause_mean_s": "s",
    "pause_longest_s": "s",
    "pitch_mean_hz": "Hz",
    "pitch_sd_st": "st",
    "pitch_range_st": "st",
    "voiced_s": "s",
    "jitter_local_pct": "%",
    "shimmer_local_pct": "%",
    "hnr_db": "dB",
    "loudness_mean_dbfs": "dBFS",
    "loudness_sd_db": "dB",
    "syllable_count": "count",
    "speech_rate_syl_s": "syl/s",
    "articulation_rate_syl_s": "syl/s",
}
# Changes against the reference (`changes`): name -> (unit, the measure it compares).
CHANGES: dict[str, tuple[str, str]] = {
    "pitch_change_st": ("st", "pitch_mean_hz"),
    "pitch_sd_change_st": ("st", "pitch_sd_st"),
    "loudness_change_db": ("dB", "loudness_mean_dbfs"),
    "articulation_rate_change_pct": ("%", "articulation_rate_syl_s"),
    "speech_rate_change_pct": ("%", "speech_rate_syl_s"),
    "speech_ratio_change": ("ratio", "speech_ratio"),
    "pause_rate_change_per_min": ("1/min", "pause_rate_per_min"),
    "pause_mean_change_s": ("s", "pause_mean_s"),
    "jitter_local_change_pp": ("percentage points", "jitter_local_pct"),
    "shimmer_local_change_pp": ("percentage points", "shimmer_local_pct"),
    "hnr_change_db": ("dB", "hnr_db"),
    "alpha_ratio_change_db": ("dB", "alpha_ratio_db"),
    "hammarberg_index_change_db": ("dB", "hammarberg_index_db"),
}
UNITS |= {name: unit for name, (unit, _) in CHANGES.items()}


@dataclass(frozen=True, eq=False)
class Tracks:
    """Time series measured once over a whole signal; `measure` reads spans of them."""

    duration_s: float
    speech: np.ndarray  # bool per FRAME_S frame: speech after gating and smoothing
    pauses: np.ndarray  # [n, 2] start/end (s) of silent pauses between speech runs
    f0_times: np.ndarray
    f0_hz: np.ndarray  # NaN where unvoiced
    intensity_times: np.ndarray
    intensity_dbfs: np.ndarray
    hnr_times: np.ndarray
    hnr_db: np.ndarray  # NaN where Praat found no periodicity
    nuclei: np.ndarray  # times (s) of syllable nuclei
    sound: parselmouth.Sound
    points: parselmouth.Data  # Praat PointProcess of glottal pulses (jitter, shimmer)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs in a boolean array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def voice_activity(
    samples: np.ndarray, mode: int = VAD_MODE, vad: webrtcvad.Vad | None = None
) -> np.ndarray:
    """webrtcvad speech decision per 30 ms frame (trailing partial frame dropped). A live
    stream passes its own `vad`, whose adaptation carries on from one piece to the next."""
    vad = webrtcvad.Vad(mode) if vad is None else vad
    n = int(RATE * FRAME_S)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    frames = len(pcm) // n
    data = pcm[: frames * n].tobytes()
    step = 2 * n
    return np.array(
        [vad.is_speech(data[i * step : (i + 1) * step], RATE) for i in range(frames)], dtype=bool
    )


def frame_levels_db(samples: np.ndarray) -> np.ndarray:
    """RMS level (dBFS) of each VAD frame."""
    n = int(RATE * FRAME_S)
    frames = len(samples) // n
    x = samples[: frames * n].astype(np.float64).reshape(frames, n)
    return 10 * np.log10(np.mean(x * x, axis=1) + 1e-12)


def speech_frames(
    vad: np.ndarray,
    levels_db: np.ndarray,
    gate_db: float = SPEECH_GATE_DB,
    min_speech_s: float = MIN_SPEECH_S,
) -> np.ndarray:
    """VAD decisions with quiet frames and too-short speech runs removed.

    The energy gate drops frames the VAD keeps out of inertia (its own hangover and start-up
    adaptation) although they are far quieter than the speech around them.
    """
    if not vad.any():
        return vad.copy()
    loud = float(np.percentile(levels_db[vad], 95))
    return drop_short_runs(vad & (levels_db > loud - gate_db), min_speech_s)


def drop_short_runs(
    speech: np.ndarray, min_speech_s: float = MIN_SPEECH_S, open_end: bool = False
) -> np.ndarray:
    """Speech runs shorter than min_speech_s removed (a copy). With `open_end`, a run that
    reaches the end is kept: more of it may follow (live input not yet received)."""
    speech = speech.copy()
    min_frames = math.ceil(min_speech_s / FRAME_S - 1e-9)
    for start, end in runs(speech):
        if end - start < min_frames and not (open_end and end == len(speech)):
            speech[start:end] = False
    return speech


def silent_pauses(speech: np.ndarray, min_pause_s: float = MIN_PAUSE_S) -> np.ndarray:
    """[start, end] seconds of each non-speech run between two speech runs, >= min_pause_s.

    Silence before the first and after the last speech is not a pause (it is the recording's
    margin, or the response latency: see `onset_latency_s`).
    """
    silences = runs(~speech)
    first = np.argmax(speech) if speech.any() else len(speech)
    last = len(speech) - np.argmax(speech[::-1]) if speech.any() else 0
    out = [
        (s * FRAME_S, e * FRAME_S)
        for s, e in silences
        if s >= first and e <= last and (e - s) * FRAME_S >= min_pause_s - 1e-9
    ]
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def pitch_track(sound: parselmouth.Sound) -> parselmouth.Pitch:
    """Praat pitch in two passes: a wide first pass sets a speaker-fitted range.

    The second pass uses floor 0.75 x Q1 and ceiling 1.5 x Q3 of the first pass, the usual
    prosody-research heuristic against octave jumps (a fixed 75-500 Hz range lets a male
    voice jump an octave up), kept within 60-600 Hz.
    """
    first = first_pitch_pass(sound)
    f0 = first.selected_array["frequency"]
    f0 = f0[f0 > 0]
    if len(f0) * TIME_STEP < MIN_VOICED_S:
        return first
    q1, q3 = np.percentile(f0, [25, 75])
    floor, ceiling = pitch_range(float(q1), float(q3))
    return sound.to_pitch_ac(time_step=TIME_STEP, pitch_floor=floor, pitch_ceiling=ceiling)


def first_pitch_pass(sound: parselmouth.Sound) -> parselmouth.Pitch:
    """The wide first pass of `pitch_track` (75-500 Hz)."""
    return sound.to_pitch_ac(
        time_step=TIME_STEP, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ
    )


def pitch_range(q1_hz: float, q3_hz: float) -> tuple[float, float]:
    """The second pass's floor and ceiling from the first pass's quartiles (see pitch_track)."""
    floor = max(PITCH_FLOOR_HZ * 0.8, 0.75 * q1_hz)
    ceiling = min(PITCH_CEILING_HZ * 1.2, max(1.5 * q3_hz, floor * 2))
    return floor, ceiling


def syllable_nuclei(
    intensity_times: np.ndarray,
    intensity_db: np.ndarray,
    f0_times: np.ndarray,
    f0_hz: np.ndarray,
    silence_db: float = NUCLEUS_SILENCE_DB,
    min_dip_db: float = NUCLEUS_MIN_DIP_DB,
    top_db: float | None = None,
) -> np.ndarray:
    """Times of syllable nuclei: voiced intensity peaks (de Jong & Wempe 2009).

    A peak counts when it is above (99th percentile + silence_db), the contour dips at
    least min_dip_db below it before the next peak, and Praat finds pitch at that instant.
    `top_db` replaces the contour's own 99th percentile (live: that of the stream so far).
    """
    if len(intensity_db) < 3:
        return np.zeros(0)
    top = float(np.percentile(intensity_db, 99)) if top_db is None else top_db
    threshold = max(top + silence_db, float(intensity_db.min()))
    x = intensity_db
    is_peak = (x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:]) & (x[1:-1] > threshold)
    peaks = np.flatnonzero(is_peak) + 1
    nuclei = []
    for i, p in enumerate(peaks):
        nxt = peaks[i + 1] if i + 1 < len(peaks) else len(x)
        dip = float(x[p:nxt].min())
        if x[p] - dip <= min_dip_db:
            continue
        j = int(np.argmin(np.abs(f0_times - intensity_times[p]))) if len(f0_times) else -1
        if j >= 0 and np.isfinite(f0_hz[j]):
            nuclei.append(intensity_times[p])
    return np.asarray(nuclei, dtype=np.float64)


def harmonicity_db(sound: parselmouth.Sound) -> tuple[np.ndarray, np.ndarray]:
    """Praat's harmonics-to-noise ratio (cc) per TIME_STEP: (times, dB), NaN where Praat
    found no periodicity."""
    harmonicity = sound.to_harmonicity_cc(
        time_step=TIME_STEP,
        minimum_pitch=PITCH_FLOOR_HZ,
        silence_threshold=0.1,
        periods_per_window=1.0,
    )
    hnr = harmonicity.values[0].astype(np.float64)
    hnr[hnr <= -199] = np.nan  # Praat's "undefined" marker
    return np.asarray(harmonicity.xs(), dtype=np.float64), hnr


def intensity_dbfs(sound: parselmouth.Sound) -> tuple[np.ndarray, np.ndarray]:
    """Praat's intensity contour per TIME_STEP in dBFS (floored at -120): (times, levels)."""
    intensity = sound.to_intensity(
        minimum_pitch=INTENSITY_MIN_PITCH_HZ, time_step=TIME_STEP, subtract_mean=False
    )
    level = np.maximum(intensity.values[0].astype(np.float64) + PRAAT_DB_TO_DBFS, -120.0)
    return np.asarray(intensity.xs(), dtype=np.float64), level


def analyse(samples: np.ndarray) -> Tracks:
    """One pass over a 16 kHz mono signal: VAD, Praat pitch, pulses, HNR, intensity."""
    sound = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=RATE)
    speech = speech_frames(voice_activity(samples), frame_levels_db(samples))
    pitch = pitch_track(sound)
    f0 = pitch.selected_array["frequency"].astype(np.float64)
    f0[f0 <= 0] = np.nan
    points = call([sound, pitch], "To PointProcess (cc)")
    hnr_times, hnr = harmonicity_db(sound)
    intensity_times, level = intensity_dbfs(sound)
    f0_times = np.asarray(pitch.xs(), dtype=np.float64)
    return Tracks(
        duration_s=len(samples) / RATE,
        speech=speech,
        pauses=silent_pauses(speech),
        f0_times=f0_times,
        f0_hz=f0,
        intensity_times=intensity_times,
        intensity_dbfs=level,
        hnr_times=hnr_times,
        hnr_db=hnr,
        nuclei=syllable_nuclei(intensity_times, level, f0_times, f0),
        sound=sound,
        points=points,
    )


def onset_latency_s(tracks: Tracks) -> float:
    """Seconds from the start of the recording to its first speech frame (NaN: no speech).

    This is the response latency when the recording starts as the question ends, which the
    caller controls; when it starts earlier (during the question, or with a margin), it is
    the latency plus that offset. Resolution: one VAD frame (30 ms).
    """
    if not tracks.speech.any():
        return math.nan
    return float(np.argmax(tracks.speech)) * FRAME_S


MAX_RESPONSE_S = 10.0  # speech later than this after a question is not its answer


def response_latencies(
    tracks: Tracks, questions: Sequence[tuple[float, float]], offset_s: float = 0.0
) -> list[tuple[float, float]]:
    """(question end, seconds to the first speech after it) for each question whose answer
    window lies in the recording; NaN when no speech came before the next question (or
    within MAX_RESPONSE_S). `questions` are (start_s, end_s) on the shared timeline; the
    recording starts at `offset_s` on it. Resolution: one VAD frame (30 ms)."""
    out = []
    ordered = sorted(questions)
    for i, (_, end) in enumerate(ordered):
        until = min(ordered[i + 1][0] if i + 1 < len(ordered) else math.inf, end + MAX_RESPONSE_S)
        first, last = end - offset_s, until - offset_s
        if first < 0 or first >= tracks.duration_s:
            continue  # the answer window is not in this recording
        lo = int(math.ceil(first / FRAME_S))
        hi = min(len(tracks.speech), int(math.floor(last / FRAME_S)))
        spoken = np.flatnonzero(tracks.speech[lo:hi])
        out.append((end, float((lo + spoken[0]) * FRAME_S - first) if spoken.size else math.nan))
    return out


def pause_stats(pauses: np.ndarray, start_s: float, end_s: float) -> dict[str, float]:
    """Pauses clipped to [start_s, end_s); a clipped pause still counts if >= MIN_PAUSE_S."""
    clipped = np.clip(pauses, start_s, end_s) if len(pauses) else pauses
    lengths = clipped[:, 1] - clipped[:, 0] if len(clipped) else np.zeros(0)
    return pause_features(lengths[lengths >= MIN_PAUSE_S - 1e-9], end_s - start_s)


def pause_features(lengths: np.ndarray, span_s: float) -> dict[str, float]:
    """Count, rate, mean and longest of the pauses (`lengths`, s) found in a span."""
    minutes = span_s / 60
    return {
        "pause_count": float(len(lengths)),
        "pause_rate_per_min": len(lengths) / minutes if minutes > 0 else math.nan,
        "pause_mean_s": float(lengths.mean()) if len(lengths) else 0.0,
        "pause_longest_s": float(lengths.max()) if len(lengths) else 0.0,
    }


def pitch_stats(f0_hz: np.ndarray) -> dict[str, float]:
    """Mean F0 (Hz), its SD and 5-95 percentile range in semitones, over voiced frames."""
    voiced = f0_hz[np.isfinite(f0_hz)]
    out = {"voiced_s": len(voiced) * TIME_STEP}
    if len(voiced) * TIME_STEP < MIN_VOICED_S:
        return out | {
            "pitch_mean_hz": math.nan,
            "pitch_sd_st": math.nan,
            "pitch_range_st": math.nan,
        }
    st = 12 * np.log2(voiced)
    p5, p95 = np.percentile(st, [5, 95])
    return out | {
        "pitch_mean_hz": float(voiced.mean()),
        "pitch_sd_st": float(st.std()),
        "pitch_range_st": float(p95 - p5),
    }


def _praat_or_nan(value: float) -> float:
    return float(value) if value is not None and math.isfinite(value) else math.nan


def jitter_shimmer(
    sound: parselmouth.Sound, points: parselmouth.Data, start_s: float, end_s: float
) -> dict[str, float]:
    """Praat jitter (local) and shimmer (local), in percent, over [start_s, end_s) of the
    sound's own time axis, with Praat's voice-report settings."""
    jitter = call(points, "Get jitter (local)", start_s, end_s, *_JITTER_ARGS)
    shimmer = call([sound, points], "Get shimmer (local)", start_s, end_s, *_SHIMMER_ARGS)
    return {
        "jitter_local_pct": 100 * _praat_or_nan(jitter),
        "shimmer_local_pct": 100 * _praat_or_nan(shimmer),
    }


def voice_quality(tracks: Tracks, start_s: float, end_s: float) -> dict[str, float]:
    """Praat jitter (local), shimmer (local) and mean HNR over a span."""
    span = (tracks.hnr_times >= start_s) & (tracks.hnr_times < end_s)
    hnr = tracks.hnr_db[span]
    hnr = hnr[np.isfinite(hnr)]
    return jitter_shimmer(tracks.sound, tracks.points, start_s, end_s) | {
        "hnr_db": float(hnr.mean()) if len(hnr) else math.nan,
    }


def syllable_rates(count: int, span_s: float, speech_s: float) -> dict[str, float]:
    """Syllable count, and per second of the span (speech rate) and of speaking time
    (articulation rate) once there is MIN_SPEECH_FOR_RATE_S of speech."""
    rated = speech_s >= MIN_SPEECH_FOR_RATE_S
    return {
        "syllable_count": float(count),
        "speech_rate_syl_s": count / span_s if rated else math.nan,
        "articulation_rate_syl_s": count / speech_s if rated else math.nan,
    }


def measure(tracks: Tracks, start_s: float, end_s: float) -> dict[str, float]:
    """Every feature over [start_s, end_s) of an analysed signal."""
    f0_span = (tracks.f0_times >= start_s) & (tracks.f0_times < end_s)
    frame_times = (np.arange(len(tracks.speech)) + 0.5) * FRAME_S
    frame_span = (frame_times >= start_s) & (frame_times < end_s)
    speech_s = float(tracks.speech[frame_span].sum()) * FRAME_S
    span_s = max(end_s - start_s, 1e-9)
    # Loudness over speech only, so pauses do not drag it down.
    level = np.zeros(0)
    if len(tracks.speech):
        it = tracks.intensity_times
        frame_of = np.clip((it / FRAME_S).astype(int), 0, len(tracks.speech) - 1)
        level = tracks.intensity_dbfs[(it >= start_s) & (it < end_s) & tracks.speech[frame_of]]
    nuclei = int(((tracks.nuclei >= start_s) & (tracks.nuclei < end_s)).sum())
    features = {
        "speech_ratio": min(1.0, speech_s / span_s),
        "speech_s": speech_s,
        **pause_stats(tracks.pauses, start_s, end_s),
        **pitch_stats(tracks.f0_hz[f0_span]),
        **voice_quality(tracks, start_s, end_s),
        "loudness_mean_dbfs": float(level.mean()) if len(level) else math.nan,
        "loudness_sd_db": float(level.std()) if len(level) else math.nan,
        **syllable_rates(nuclei, span_s, speech_s),
    }
    return features


def _ratio_pct(value: float, reference: float) -> float:
    return 100 * (value / reference - 1) if reference > 0 else math.nan


def changes(features: dict[str, float], reference: dict[str, float]) -> dict[str, float]:
    """Each measure in `CHANGES` against a reference (the subject's baseline, or the recording).

    Pitch change is in semitones (12 * log2 of the ratio of mean F0), the scale on which pitch
    differences are perceived and compared across voices of different height; rates change
    in percent; levels, spreads, ratios and durations as differences in their own unit.
    """
    out: dict[str, float] = {}
    for name, (_, source) in CHANGES.items():
        value, ref = features.get(source, math.nan), reference.get(source, math.nan)
        if name == "pitch_change_st":
            out[name] = 12 * math.log2(value / ref) if value > 0 and ref > 0 else math.nan
        elif name.endswith("_pct"):
            out[name] = _ratio_pct(value, ref)
        else:
            out[name] = value - ref
    return out
