"""Frequency-domain heart-rate variability: LF and HF power of the RR-interval series.

Task Force of the European Society of Cardiology and the North American Society of Pacing
and Electrophysiology (1996), Circulation 93(5): HF is 0.15-0.4 Hz (respiratory sinus
arrhythmia, vagal), LF 0.04-0.15 Hz; a recording should last at least ten cycles of a band's
lowest frequency, so about 1 min for HF and 2 min for LF. Shorter spans get no value.

Method: the plausible RR intervals (ms), each placed at the time of the beat that ends it,
are interpolated with a cubic spline onto an even 4 Hz grid (linear interpolation
between beats ~0.8 s apart would damp 0.25 Hz power by a quarter), detrended, and their Welch power
spectral density (Hann window) is integrated over the band, in ms^2. Intervals flagged as
implausible are bridged by the interpolation instead of entering the spectrum.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import trapezoid
from scipy.interpolate import CubicSpline
from scipy.signal import welch

RESAMPLE_HZ = 4.0
HF_BAND_HZ = (0.15, 0.4)
LF_BAND_HZ = (0.04, 0.15)
HF_MIN_S = 60.0
LF_MIN_S = 120.0
MIN_COVERAGE = 0.9  # share of the span the plausible beats must cover
SEGMENT_S = 120.0  # Welch segment: longer spans are averaged over half-overlapping segments


def rr_series(
    beat_times_s: np.ndarray, valid: np.ndarray, start_s: float, end_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """(times, RR in ms) of the plausible intervals that end inside [start_s, end_s)."""
    times = np.asarray(beat_times_s, dtype=np.float64)
    ends = times[1:]
    sel = np.asarray(valid, dtype=bool) & (ends >= start_s) & (ends < end_s)
    return ends[sel], np.diff(times)[sel] * 1000.0


def band_power(
    times_s: np.ndarray, rr_ms: np.ndarray, band_hz: tuple[float, float], span_s: float
) -> float:
    """Power (ms^2) of the RR series in `band_hz`; NaN if the beats cover too little of it."""
    times_s = np.asarray(times_s, dtype=np.float64)
    rr_ms = np.asarray(rr_ms, dtype=np.float64)
    if times_s.size < 4:
        return math.nan
    covered = float(times_s[-1] - times_s[0]) + float(rr_ms[0]) / 1000.0
    if covered < MIN_COVERAGE * span_s:
        return math.nan
    grid = np.arange(times_s[0], times_s[-1], 1.0 / RESAMPLE_HZ)
    if grid.size < 8:
        return math.nan
    x = CubicSpline(times_s, rr_ms)(grid)
    nperseg = min(grid.size, int(SEGMENT_S * RESAMPLE_HZ))
    freqs, psd = welch(x, fs=RESAMPLE_HZ, window="hann", nperseg=nperseg, detrend="linear")
    low, high = band_hz
    sel = (freqs >= low) & (freqs < high)
    if sel.sum() < 2:
        return math.nan
    return float(trapezoid(psd[sel], freqs[sel]))


def frequency_domain(
    beat_times_s: np.ndarray, valid: np.ndarray, start_s: float, end_s: float
) -> dict[str, float]:
    """HF (and LF) power of the span, for the bands whose minimum length the span meets."""
    span = end_s - start_s
    out: dict[str, float] = {}
    if span < HF_MIN_S:
        return out
    t, rr = rr_series(beat_times_s, valid, start_s, end_s)
    hf = band_power(t, rr, HF_BAND_HZ, span)
    if math.isfinite(hf):
        out["hrv_hf_ms2"] = hf
    if span >= LF_MIN_S:
        lf = band_power(t, rr, LF_BAND_HZ, span)
        if math.isfinite(lf):
            out["hrv_lf_ms2"] = lf
    return out
