"""Running summaries: the whole-input measures of a live stream without keeping the stream.

Each summary is fed once with the *settled* part of every window's processing (beats,
samples and responses far enough from the processed span's edge that more data will not
change them; live.py) and reproduces `features.measure` over the whole recording from
counts, sums and extremes:

- heart beats: RR counts, the mean RR (-> hr_mean_bpm), Welford's mean/variance of the
  plausible RR intervals (-> SDNN, ddof 1 as in features.hrv_time_domain), the sum of squared
  successive differences between adjacent plausible intervals (-> RMSSD), the largest
  instantaneous rate, least-squares sums for the heart-rate trend, template-match quality
  sums; HF/LF power by Welch's method computed segment by segment as the stream passes
  (`BandPowers`), as hrv.frequency_domain does over the whole series;
- the bpm series: count, sum, maximum, trend sums;
- EDA: samples and artefact-free samples (per reason), the tonic level's sum, SCR count and
  amplitude sum, the raw level's sum (the plausibility note);
- respiration: samples, artefact-free samples, breaths and their amplitude sum, plausible
  breath intervals and their sum.

The values are the same formulas as features.py over the same settled beats and samples, so
they differ from an offline analysis only where the settled input itself differs (live.py
says where).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import trapezoid
from scipy.interpolate import CubicSpline
from scipy.signal import welch

from services.physiology import hrv, quality
from services.physiology.features import (
    BREATH_RANGE_S,
    EDA_PLAUSIBLE_US,
    MIN_RR_DIFFS,
    RR_ARTIFACT_NOTE,
)


@dataclass
class Trend:
    """Least-squares line through (t, y) pairs, from sums: features.trend without the data."""

    n: int = 0
    origin: float = math.nan  # the first t, for numerical stability
    last: float = math.nan
    st: float = 0.0
    sy: float = 0.0
    stt: float = 0.0
    sty: float = 0.0

    def add(self, t: np.ndarray, y: np.ndarray) -> None:
        if t.size == 0:
            return
        if self.n == 0:
            self.origin = float(t[0])
        u = t - self.origin
        self.n += t.size
        self.st += float(u.sum())
        self.sy += float(y.sum())
        self.stt += float((u * u).sum())
        self.sty += float((u * y).sum())
        self.last = float(t[-1])

    def change(self) -> float:
        """Slope times the span from the first to the last point (NaN as features.trend)."""
        span = self.last - self.origin
        if self.n < 2 or not span > 0:
            return math.nan
        den = self.n * self.stt - self.st**2
        if den <= 0:
            return math.nan
        return (self.n * self.sty - self.st * self.sy) / den * span


@dataclass
class Welford:
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)

    def std(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else math.nan


SPLINE_MARGIN_S = 15.0  # beats either side of a Welch segment: the spline there is settled


class BandPowers:
    """HF and LF power of the whole RR series, as hrv.band_power computes it, in one pass.

    hrv.band_power interpolates the plausible RR intervals onto a 4 Hz grid starting at the
    first one and averages Hann-windowed periodograms of 120 s segments overlapping by half
    (scipy's Welch). A segment's periodogram needs only the intervals around it, so each is
    computed once the stream has passed its end by `SPLINE_MARGIN_S` (a cubic spline through
    the intervals within that margin equals the whole-series spline there to well under 1e-6)
    and added to a running sum; only the intervals of the last ~150 s are held. A stream
    whose series is shorter than one segment is one segment of its whole length, as offline.
    """

    def __init__(self) -> None:
        self.points: deque[tuple[float, float]] = deque()  # (time, RR ms) of plausible RRs
        self.first: tuple[float, float] | None = None
        self.last_t = math.nan
        self.count = 0
        self.next_segment = 0
        self.psd_sum: np.ndarray | None = None
        self.freqs: np.ndarray | None = None
        self.segments = 0

    @property
    def nperseg(self) -> int:
        return int(hrv.SEGMENT_S * hrv.RESAMPLE_HZ)

    def _grid_time(self, i: int) -> float:
        assert self.first is not None
        return self.first[0] + i / hrv.RESAMPLE_HZ

    def add(self, t: float, rr_ms: float) -> None:
        if self.first is None:
            self.first = (t, rr_ms)
        self.points.append((t, rr_ms))
        self.last_t = t
        self.count += 1
        self._advance(final=False)

    def _segment_bounds(self, j: int) -> tuple[int, int]:
        step = self.nperseg // 2
        return j * step, j * step + self.nperseg

    def _advance(self, final: bool) -> None:
        while True:
            lo, hi = self._segment_bounds(self.next_segment)
            end_t = self._grid_time(hi - 1)
            n_grid = self._grid_size()
            if hi > n_grid or (not final and self.last_t < end_t + SPLINE_MARGIN_S):
                break
            self._add_segment(lo, hi)
            self.next_segment += 1
        # Keep the intervals the next segment's spline needs (and all of them until the
        # first segment is done: a short series is one segment of its whole length).
        if self.next_segment > 0:
            keep_from = self._grid_time(self._segment_bounds(self.next_segment)[0])
            while len(self.points) > 4 and self.points[0][0] < keep_from - SPLINE_MARGIN_S:
                self.points.popleft()

    def _grid_size(self) -> int:
        if self.first is None or not self.last_t > self.first[0]:
            return 0
        # len(np.arange(first, last, step)), as hrv.band_power's grid, without building it
        return math.ceil((self.last_t - self.first[0]) * hrv.RESAMPLE_HZ)

    def _spline_at(self, lo: int, hi: int) -> np.ndarray:
        pts = np.asarray(self.points, dtype=np.float64)
        grid = self._grid_time(0) + np.arange(lo, hi) / hrv.RESAMPLE_HZ
        return np.asarray(CubicSpline(pts[:, 0], pts[:, 1])(grid))

    def _add_segment(self, lo: int, hi: int) -> None:
        x = self._spline_at(lo, hi)
        freqs, psd = welch(x, fs=hrv.RESAMPLE_HZ, window="hann", nperseg=x.size, detrend="linear")
        self.freqs = freqs
        self.psd_sum = psd if self.psd_sum is None else self.psd_sum + psd
        self.segments += 1

    def powers(self, span_s: float) -> dict[str, float]:
        """hrv.frequency_domain of the whole stream (span_s: its length)."""
        out: dict[str, float] = {}
        if span_s < hrv.HF_MIN_S or self.first is None or self.count < 4:
            return out
        covered = self.last_t - self.first[0] + self.first[1] / 1000.0
        if covered < hrv.MIN_COVERAGE * span_s:
            return out
        n_grid = self._grid_size()
        if n_grid < 8:
            return out
        if n_grid < self.nperseg:  # shorter than one segment: the whole series at once
            if self.segments == 0:
                x = self._spline_at(0, n_grid)
                freqs, psd = welch(
                    x, fs=hrv.RESAMPLE_HZ, window="hann", nperseg=x.size, detrend="linear"
                )
                self.freqs, self.psd_sum, self.segments = freqs, psd, 1
        else:
            self._advance(final=True)
        if self.psd_sum is None or self.freqs is None:
            return out
        psd = self.psd_sum / self.segments
        bands = [("hrv_hf_ms2", hrv.HF_BAND_HZ)]
        if span_s >= hrv.LF_MIN_S:
            bands.append(("hrv_lf_ms2", hrv.LF_BAND_HZ))
        for name, (low, high) in bands:
            sel = (self.freqs >= low) & (self.freqs < high)
            if sel.sum() >= 2:
                out[name] = float(trapezoid(psd[sel], self.freqs[sel]))
        return out


Result = tuple[dict[str, float], float, list[str]]  # values, quality, notes (features._cardiac)


@dataclass
class BeatSummary:
    """Every settled RR interval of one cardiac source (ecg or ppg)."""

    source: str
    n_rr: int = 0
    valid: Welford = field(default_factory=Welford)  # plausible RR, ms
    ssd: float = 0.0  # squared successive differences of adjacent plausible RR, ms^2
    n_ssd: int = 0
    prev_rr_ms: float | None = None  # the last interval, when plausible
    hr_max: float = -math.inf
    trend: Trend = field(default_factory=Trend)
    sqi_sum: float = 0.0
    sqi_n: int = 0
    bands: BandPowers = field(default_factory=BandPowers)

    def add(self, end_s: float, rr_s: float, valid: bool) -> None:
        self.n_rr += 1
        if not valid:
            self.prev_rr_ms = None
            return
        rr_ms = rr_s * 1000.0
        self.valid.add(rr_ms)
        if self.prev_rr_ms is not None:
            self.ssd += (rr_ms - self.prev_rr_ms) ** 2
            self.n_ssd += 1
        self.prev_rr_ms = rr_ms
        hr = 60.0 / rr_s
        self.hr_max = max(self.hr_max, hr)
        self.trend.add(np.array([end_s]), np.array([hr]))
        self.bands.add(end_s, rr_ms)

    def break_sequence(self) -> None:
        """The next interval does not follow the last one (a gap in the beats)."""
        self.prev_rr_ms = None

    def add_sqi(self, values: np.ndarray) -> None:
        self.sqi_sum += float(values.sum())
        self.sqi_n += values.size

    def result(self, span_s: float, covered: float) -> Result:
        values: dict[str, float] = {}
        notes: list[str] = []
        if self.n_rr:
            values["rr_artifact_fraction"] = 1.0 - self.valid.n / self.n_rr
        if self.valid.n >= 2:
            mean_rr_s = self.valid.mean / 1000.0
            values["hr_mean_bpm"] = 60.0 / mean_rr_s
            values["hr_max_bpm"] = self.hr_max
            values["hr_change_bpm"] = self.trend.change()
            if self.n_ssd >= MIN_RR_DIFFS:
                values["hrv_rmssd_ms"] = math.sqrt(self.ssd / self.n_ssd)
            if self.valid.n > MIN_RR_DIFFS:
                values["hrv_sdnn_ms"] = self.valid.std()
            values.update(self.bands.powers(span_s))
        else:
            notes.append(f"{self.source}: too few clean beats in this span")
        valid_s = self.valid.mean * self.valid.n / 1000.0
        q = min(1.0, valid_s / covered) if covered > 0 else 0.0
        if self.sqi_n:
            sqi = self.sqi_sum / self.sqi_n
            values["cardiac_signal_quality"] = sqi
            q *= quality.sqi_factor(sqi)
        return values, q, notes

    def notes(self) -> list[str]:
        """features._beat_notes over the whole stream."""
        out = []
        bad = 1.0 - self.valid.n / self.n_rr if self.n_rr else 0.0
        if bad > RR_ARTIFACT_NOTE:
            out.append(f"{self.source}: {bad:.0%} of RR intervals implausible, excluded")
        if self.sqi_n == 0:
            out.append(f"{self.source}: too few beats to assess signal quality")
        elif (sqi := self.sqi_sum / self.sqi_n) < quality.CARDIAC_SQI_OK:
            out.append(
                f"{self.source}: poor signal quality (template match {sqi:.2f} < "
                f"{quality.CARDIAC_SQI_OK:g}): heart measures are unreliable"
            )
        return out


@dataclass
class RateSummary:
    """The bpm series (heart_rate channel) over the whole stream."""

    rate_hz: float
    n: int = 0
    total: float = 0.0
    peak: float = -math.inf
    trend: Trend = field(default_factory=Trend)

    def add(self, times: np.ndarray, bpm: np.ndarray) -> None:
        if bpm.size == 0:
            return
        self.n += bpm.size
        self.total += float(bpm.sum())
        self.peak = max(self.peak, float(bpm.max()))
        self.trend.add(times, bpm)

    def result(self, covered: float) -> Result:
        values: dict[str, float] = {}
        if self.n:
            values["hr_mean_bpm"] = self.total / self.n
            values["hr_max_bpm"] = self.peak
            values["hr_change_bpm"] = self.trend.change()
        q = min(1.0, self.n / (self.rate_hz * covered)) if covered > 0 else 0.0
        return values, q, []


@dataclass
class EdaSummary:
    """Settled EDA samples and skin conductance responses."""

    rate_hz: float
    n: int = 0
    n_ok: int = 0
    tonic_ok_sum: float = 0.0
    level_sum: float = 0.0
    flagged: dict[str, int] = field(default_factory=dict)
    scr_n: int = 0
    scr_amp_sum: float = 0.0

    def add_samples(
        self, raw: np.ndarray, tonic: np.ndarray, ok: np.ndarray, flags: dict[str, np.ndarray]
    ) -> None:
        self.n += ok.size
        self.n_ok += int(ok.sum())
        self.tonic_ok_sum += float(tonic[ok].sum())
        self.level_sum += float(raw.sum())
        for reason, mask in flags.items():
            self.flagged[reason] = self.flagged.get(reason, 0) + int(mask.sum())

    def add_scrs(self, amplitudes: np.ndarray) -> None:
        self.scr_n += amplitudes.size
        self.scr_amp_sum += float(amplitudes.sum())

    def result(self, span_s: float, covered: float) -> Result:
        if self.n == 0 or covered <= 0:
            return {}, 0.0, []
        values = {"eda_artifact_fraction": 1.0 - self.n_ok / self.n}
        if self.n_ok == 0:
            return values, 0.0, ["eda: every sample in this span is an artefact"]
        usable_s = covered * self.n_ok / self.n
        values["eda_tonic_us"] = self.tonic_ok_sum / self.n_ok
        values["eda_scr_count"] = float(self.scr_n)
        values["eda_scr_rate_per_min"] = self.scr_n * 60.0 / usable_s
        if self.scr_n:
            values["eda_scr_amplitude_us"] = self.scr_amp_sum / self.scr_n
        return values, min(1.0, usable_s / span_s), []

    def notes(self) -> list[str]:
        """quality.Flags.notes and the level check of features.derive, over the whole stream
        (the level is the mean of the samples; offline it is their median)."""
        out = [
            f"eda: {k / self.rate_hz:.1f} s ({k / self.n:.0%}) {reason}, left out"
            for reason, k in self.flagged.items()
            if k
        ]
        if self.n:
            level = self.level_sum / self.n
            low, high = EDA_PLAUSIBLE_US
            if not low <= level <= high:
                out.append(
                    f"eda: level {level:.3g} uS outside the usual {low:g}-{high:g} uS "
                    "(electrode contact or unit?)"
                )
        return out


@dataclass
class RespirationSummary:
    """Settled respiration samples and breaths."""

    rate_hz: float
    n: int = 0
    n_ok: int = 0
    flagged: dict[str, int] = field(default_factory=dict)
    breaths: int = 0
    amp_sum: float = 0.0
    intervals: int = 0
    interval_sum: float = 0.0

    def add_samples(self, ok: np.ndarray, flags: dict[str, np.ndarray]) -> None:
        self.n += ok.size
        self.n_ok += int(ok.sum())
        for reason, mask in flags.items():
            self.flagged[reason] = self.flagged.get(reason, 0) + int(mask.sum())

    def add_breaths(self, amplitudes: np.ndarray, intervals_s: np.ndarray) -> None:
        self.breaths += amplitudes.size
        self.amp_sum += float(amplitudes.sum())
        low, high = BREATH_RANGE_S
        iv = intervals_s[np.isfinite(intervals_s) & (intervals_s >= low) & (intervals_s <= high)]
        self.intervals += iv.size
        self.interval_sum += float(iv.sum())

    def result(self, span_s: float, covered: float) -> Result:
        if self.n == 0 or covered <= 0:
            return {}, 0.0, []
        share_ok = self.n_ok / self.n
        values = {"resp_artifact_fraction": 1.0 - share_ok}
        if self.breaths == 0:
            return values, 0.0, ["respiration: no usable breath in this span"]
        values["resp_amplitude"] = self.amp_sum / self.breaths
        if self.intervals:
            values["resp_rate_per_min"] = 60.0 / (self.interval_sum / self.intervals)
        return values, min(1.0, covered / span_s) * share_ok, []

    def notes(self) -> list[str]:
        out = [
            f"respiration: {k / self.rate_hz:.1f} s ({k / self.n:.0%}) {reason}, left out"
            for reason, k in self.flagged.items()
            if k
        ]
        if self.n and self.breaths == 0:
            out.append("respiration: no breaths detected")
        return out
