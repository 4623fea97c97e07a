"""Running summaries of a live audio stream: the whole-input features without its past.

A live session adds each analysed window's measures here once, and reads back the features
`features.measure` gives over all the audio so far, from sums, counts and fixed-size
histograms only, so memory does not grow with the stream's length:

- exact (the same frames give the same values): speech and voiced seconds, speech ratio,
  pauses (tracked across window edges, so a pause is counted once, when speech resumes),
  onset latency, mean pitch, pitch SD, HNR, loudness mean and SD, syllable count and rates;
- to within one histogram bin (0.01 st): the pitch range (5th-95th percentile);
- weighted means of the windows' values: jitter and shimmer (Praat measures them over a
  span's glottal pulses; the mean weighted by voiced frames is that over the whole input up
  to the pulses at window edges) and the eGeMAPS functionals (each weighted by the frames it
  is computed over: voiced, unvoiced or all). For means (`_amean`) this is the whole-input
  value; for spreads and percentiles of the frames it is an approximation.

Measures taken only at some quality levels are summarised over the windows that had them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from services.audio import egemaps
from services.audio.features import (
    FRAME_S,
    MIN_PAUSE_S,
    MIN_VOICED_S,
    TIME_STEP,
    runs,
    syllable_rates,
)


class Histogram:
    """Counts in fixed bins over [lo, hi): percentiles to within one bin, in constant memory.
    Values outside the range count in the first or last bin."""

    def __init__(self, lo: float, hi: float, step: float) -> None:
        self.lo, self.step = lo, step
        self.counts = np.zeros(int(math.ceil((hi - lo) / step)), np.int64)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def add(self, values: np.ndarray) -> None:
        values = values[np.isfinite(values)]
        if len(values):
            bins = np.clip(
                ((values - self.lo) / self.step).astype(np.int64), 0, len(self.counts) - 1
            )
            np.add.at(self.counts, bins, 1)

    def percentile(self, q: float) -> float:
        """As np.percentile (linear between the two nearest ranks), each rank's value placed
        evenly within its bin."""
        n = self.total
        if n == 0:
            return math.nan
        cum = np.cumsum(self.counts)

        def at(rank: int) -> float:
            b = int(np.searchsorted(cum, rank, side="right"))
            before = cum[b] - self.counts[b]
            return self.lo + (b + (rank - before + 0.5) / self.counts[b]) * self.step

        r = q / 100 * (n - 1)
        low = int(math.floor(r))
        frac = r - low
        return at(low) * (1 - frac) + at(min(low + 1, n - 1)) * frac


@dataclass
class Moments:
    """Count, mean and sum of squared deviations, merged batch by batch (Chan et al.)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray) -> None:
        values = values[np.isfinite(values)]
        if not len(values):
            return
        k, mean = len(values), float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        delta = mean - self.mean
        total = self.n + k
        self.mean += delta * k / total
        self.m2 += m2 + delta * delta * self.n * k / total
        self.n = total

    @property
    def sd(self) -> float:
        return math.sqrt(self.m2 / self.n) if self.n else math.nan


@dataclass
class WeightedMean:
    total: float = 0.0
    weight: float = 0.0

    def add(self, value: float, weight: float) -> None:
        if math.isfinite(value) and weight > 0:
            self.total += value * weight
            self.weight += weight

    @property
    def value(self) -> float:
        return self.total / self.weight if self.weight > 0 else math.nan


@dataclass
class WindowMeasures:
    """What one analysed window adds to the running summary."""

    duration_s: float
    speech: np.ndarray  # final speech decision of each VAD frame of the window, in order
    f0_hz: np.ndarray  # the window's voiced F0 values (Hz, one per TIME_STEP)
    usable: bool
    voice: dict[str, float] | None = None  # jitter, shimmer (MEDIUM and HIGH)
    hnr_db: np.ndarray | None = None  # finite HNR frames (MEDIUM and HIGH)
    loudness_dbfs: np.ndarray | None = None  # intensity over speech (MEDIUM and HIGH)
    syllables: int | None = None  # syllable nuclei (MEDIUM and HIGH)
    egemaps: dict[str, float] | None = None  # eGeMAPS functionals (HIGH)


@dataclass
class PauseTracker:
    """Silent pauses across window edges: a non-speech run between two speech runs."""

    frames: int = 0
    first_speech: int = -1  # frame index of the first speech, -1 before any
    silence: int = 0  # non-speech frames since the last speech
    count: int = 0
    total_s: float = 0.0
    longest_s: float = 0.0

    def add(self, speech: np.ndarray) -> None:
        cursor = 0
        for start, end in runs(speech):
            self.silence += start - cursor
            if self.first_speech >= 0:
                length = self.silence * FRAME_S
                if length >= MIN_PAUSE_S - 1e-9:
                    self.count += 1
                    self.total_s += length
                    self.longest_s = max(self.longest_s, length)
            else:
                self.first_speech = self.frames + start
            self.silence = 0
            cursor = end
        self.silence += len(speech) - cursor
        self.frames += len(speech)


@dataclass
class RunningSummary:
    """Everything the whole-input features need, accumulated window by window."""

    duration_s: float = 0.0
    windows: int = 0
    unusable: int = 0
    pauses: PauseTracker = field(default_factory=PauseTracker)
    speech_frames: int = 0
    pitch_hz: WeightedMean = field(default_factory=WeightedMean)
    pitch_st: Moments = field(default_factory=Moments)
    pitch_st_histogram: Histogram = field(
        default_factory=lambda: Histogram(12 * math.log2(30.0), 12 * math.log2(1200.0), 0.01)
    )
    # Measured at MEDIUM and HIGH only: over the windows that had them.
    voice_windows: int = 0
    voice_duration_s: float = 0.0
    voice_speech_s: float = 0.0
    jitter: WeightedMean = field(default_factory=WeightedMean)
    shimmer: WeightedMean = field(default_factory=WeightedMean)
    hnr: WeightedMean = field(default_factory=WeightedMean)
    loudness: Moments = field(default_factory=Moments)
    syllables: int = 0
    # HIGH only.
    egemaps_windows: int = 0
    functionals: dict[str, WeightedMean] = field(default_factory=dict)

    def add(self, m: WindowMeasures) -> None:
        self.windows += 1
        self.unusable += 0 if m.usable else 1
        self.duration_s += m.duration_s
        self.pauses.add(m.speech)
        speech_s = float(m.speech.sum()) * FRAME_S
        self.speech_frames += int(m.speech.sum())
        voiced = m.f0_hz[np.isfinite(m.f0_hz)]
        self.pitch_hz.add(float(voiced.mean()) if len(voiced) else math.nan, len(voiced))
        st = 12 * np.log2(voiced)
        self.pitch_st.add(st)
        self.pitch_st_histogram.add(st)
        if m.voice is not None:
            self.voice_windows += 1
            self.voice_duration_s += m.duration_s
            self.voice_speech_s += speech_s
            self.jitter.add(m.voice["jitter_local_pct"], len(voiced))
            self.shimmer.add(m.voice["shimmer_local_pct"], len(voiced))
        if m.hnr_db is not None and len(m.hnr_db):
            self.hnr.add(float(m.hnr_db.mean()), len(m.hnr_db))
        if m.loudness_dbfs is not None:
            self.loudness.add(m.loudness_dbfs)
        if m.syllables is not None:
            self.syllables += m.syllables
        if m.egemaps is not None:
            self.egemaps_windows += 1
            voiced_s = len(voiced) * TIME_STEP
            for name, value in m.egemaps.items():
                if "UV_sma3nz" in name:
                    weight = max(m.duration_s - voiced_s, 0.0)
                elif "_sma3nz" in name:
                    weight = voiced_s
                else:
                    weight = m.duration_s
                self.functionals.setdefault(name, WeightedMean()).add(value, weight)

    def features(self) -> dict[str, float]:
        """The whole input's features so far, under the names `features.measure` uses."""
        d = self.duration_s
        speech_s = self.speech_frames * FRAME_S
        minutes = d / 60
        p = self.pauses
        voiced_s = self.pitch_st.n * TIME_STEP
        enough = voiced_s >= MIN_VOICED_S
        out: dict[str, float] = {
            "speech_ratio": min(1.0, speech_s / d) if d > 0 else math.nan,
            "speech_s": speech_s,
            "pause_count": float(p.count),
            "pause_rate_per_min": p.count / minutes if minutes > 0 else math.nan,
            "pause_mean_s": p.total_s / p.count if p.count else 0.0,
            "pause_longest_s": p.longest_s,
            "voiced_s": voiced_s,
            "pitch_mean_hz": self.pitch_hz.value if enough else math.nan,
            "pitch_sd_st": self.pitch_st.sd if enough else math.nan,
            "pitch_range_st": (
                self.pitch_st_histogram.percentile(95) - self.pitch_st_histogram.percentile(5)
                if enough
                else math.nan
            ),
            "onset_latency_s": p.first_speech * FRAME_S if p.first_speech >= 0 else math.nan,
        }
        if self.voice_windows:
            out |= {
                "jitter_local_pct": self.jitter.value,
                "shimmer_local_pct": self.shimmer.value,
                "hnr_db": self.hnr.value,
                "loudness_mean_dbfs": self.loudness.mean if self.loudness.n else math.nan,
                "loudness_sd_db": self.loudness.sd,
                **syllable_rates(self.syllables, self.voice_duration_s, self.voice_speech_s),
            }
        if self.egemaps_windows:
            functionals = {name: mean.value for name, mean in self.functionals.items()}
            out |= egemaps.spectral_tilt(functionals) | functionals
        return out
