"""Physiological measures: pure functions from validated signals to numbers.

Two stages, so that filters see the whole recording (no edge effects at every window
boundary) and windows stay cheap:

1. `derive(recording)` runs the signal processing once per recording: heart beats from ECG
   or PPG (neurokit2 `ecg_clean` + `ecg_peaks`, `ppg_clean` + `ppg_peaks`; the full
   `ecg_process` is ~30x slower and computes much we do not use) with their template-match
   quality, the EDA tonic/phasic split and skin conductance responses (`eda_clean` +
   `eda_phasic` + the peaks `eda_peaks` finds, vectorised in `scr_peaks`: the parts of
   `eda_process`), and breaths (`rsp_clean` + `rsp_peaks`); artefacts are flagged once
   (quality.py) and left out of everything below.
2. `measure(derived, start_s, end_s)` summarises one span: heart rate mean/max/change, HRV
   (RMSSD, SDNN; HF and LF power when the span is long enough, hrv.py), EDA tonic level and
   SCRs, respiration rate and amplitude, plus a quality score (the share of the span that
   could be measured, scaled down for a poor cardiac signal) and notes for a human.

HRV uses the Task Force (1996, Circulation 93) time-domain definitions (RMSSD: root mean
square of successive RR differences; SDNN: standard deviation of RR intervals), the same
formulas as neurokit2's `hrv_time`, computed here on artifact-screened intervals only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import find_peaks

from services.physiology import hrv, quality
from services.physiology.neurokit import nk
from services.physiology.signals import Channel, Recording

RR_RANGE_S = (0.3, 2.0)  # 200-30 bpm: intervals outside are missed or spurious beats
RR_MAX_JUMP = 0.25  # > 25% off the local median of 5 intervals: ectopic or missed beat
MIN_RR_DIFFS = 4  # successive differences needed before RMSSD/SDNN mean anything
RR_ARTIFACT_NOTE = 0.05  # share of implausible intervals worth a note
# Minimum SCR amplitude: the upper end of the 0.01-0.05 uS criteria in common use
# (Boucsein et al., 2012, Psychophysiology 49); rejects filter ripple at low rates.
SCR_MIN_AMPLITUDE_US = 0.05
EDA_PLAUSIBLE_US = quality.EDA_RANGE_US  # a median level outside it: electrode off, or unit
BREATH_RANGE_S = (1.0, 20.0)  # 60-3 breaths/min
HR_SERIES_HZ = 4.0  # instantaneous heart rate, resampled for the question responses

UNITS: dict[str, str] = {
    "hr_mean_bpm": "bpm",
    "hr_max_bpm": "bpm",
    "hr_change_bpm": "bpm",
    "hrv_rmssd_ms": "ms",
    "hrv_sdnn_ms": "ms",
    "hrv_hf_ms2": "ms^2",
    "hrv_lf_ms2": "ms^2",
    "rr_artifact_fraction": "fraction",
    "cardiac_signal_quality": "0-1",
    "eda_tonic_us": "uS",
    "eda_scr_count": "count",
    "eda_scr_rate_per_min": "1/min",
    "eda_scr_amplitude_us": "uS",
    "eda_artifact_fraction": "fraction",
    "resp_rate_per_min": "breaths/min",
    "resp_amplitude": "signal units",
    "resp_artifact_fraction": "fraction",
}


@contextmanager
def _quiet() -> Iterator[None]:
    """neurokit2 warns about short or low-rate signals; our notes say it better."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


@dataclass(frozen=True)
class Series:
    """A sampled signal on the shared timeline."""

    times_s: np.ndarray
    values: np.ndarray

    def between(self, start_s: float, end_s: float) -> np.ndarray:
        sel = (self.times_s >= start_s) & (self.times_s < end_s)
        return np.asarray(self.values[sel])


@dataclass(frozen=True)
class Beats:
    """Heart beats: times on the shared timeline and, per RR interval, whether it is plausible."""

    times_s: np.ndarray
    valid: np.ndarray  # len(times_s) - 1 booleans, one per interval
    source: str  # "ecg" or "ppg"
    sqi: Series | None = None  # template-match quality of the source signal, per sample

    @property
    def rr_s(self) -> np.ndarray:
        return np.diff(self.times_s)


@dataclass(frozen=True)
class Electrodermal:
    """EDA split into a slow tonic level and fast skin conductance responses (SCRs)."""

    times_s: np.ndarray
    tonic_us: np.ndarray
    scr_times_s: np.ndarray  # SCR peak times
    scr_amplitudes_us: np.ndarray  # peak minus onset
    scr_onsets_s: np.ndarray | None = None  # where each SCR starts to rise
    clean_us: np.ndarray | None = None  # the cleaned (low-passed) signal
    ok: np.ndarray | None = None  # per sample: not flagged as an artefact


@dataclass(frozen=True)
class Breathing:
    """Breaths: inhalation peak times, amplitude (peak minus preceding trough), interval."""

    peak_times_s: np.ndarray
    amplitudes: np.ndarray
    intervals_s: np.ndarray  # from the previous peak; NaN for the first
    signal: Series | None = None  # the cleaned respiration signal
    ok: np.ndarray | None = None  # per sample of `signal`: not flagged as an artefact


@dataclass(frozen=True)
class Derived:
    """The whole recording, processed once; `spans` says which time each signal covers."""

    beats: Beats | None
    heart_rate: Channel | None  # the bpm series, used when no beats could be detected
    eda: Electrodermal | None
    breathing: Breathing | None
    spans: dict[str, tuple[float, float]]  # "cardiac", "eda", "respiration"
    notes: tuple[str, ...]
    # Per-sample artefact flags by reason ("eda", "respiration"), for live running counts.
    flags: Mapping[str, quality.Flags] = field(default_factory=dict)


@dataclass(frozen=True)
class Measures:
    """The measured values of one span (only those that could be measured)."""

    values: dict[str, float]
    quality: float
    notes: tuple[str, ...]


def refine_peaks(signal: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Sub-sample peak positions by parabolic interpolation over each peak's neighbours.

    Sample timing quantises RR intervals (20 ms steps at 50 Hz) and inflates RMSSD; the
    vertex of the parabola through the three samples around a peak removes most of that.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    out = peaks.astype(np.float64)
    inner = (peaks > 0) & (peaks < len(signal) - 1)
    p = peaks[inner]
    a, b, c = signal[p - 1], signal[p], signal[p + 1]
    denom = a - 2 * b + c
    with np.errstate(all="ignore"):
        offset = np.where(denom < 0, 0.5 * (a - c) / np.where(denom == 0, 1.0, denom), 0.0)
    out[inner] = p + np.clip(offset, -0.5, 0.5)
    return out


def plausible_rr(rr_s: np.ndarray) -> np.ndarray:
    """Per interval: inside 0.3-2.0 s and within 25% of the median of its 5 neighbours."""
    rr_s = np.asarray(rr_s, dtype=np.float64)
    if rr_s.size == 0:
        return np.zeros(0, dtype=bool)
    low, high = RR_RANGE_S
    local = median_filter(rr_s, size=5, mode="nearest")
    return (rr_s >= low) & (rr_s <= high) & (np.abs(rr_s - local) <= RR_MAX_JUMP * local)


def detect_beats(channel: Channel, sqi: bool = True, hold_sqi_edges: bool = False) -> Beats:
    """R-peaks (ECG) or systolic peaks (PPG), refined to sub-sample times, with their quality
    (unless `sqi` is False; `hold_sqi_edges`: see quality.cardiac_sqi)."""
    fs = channel.rate_hz
    with _quiet():
        if channel.name == "ecg":
            clean = np.asarray(nk.ecg_clean(channel.samples, sampling_rate=fs), dtype=float)
            find, key = nk.ecg_peaks, "ECG_R_Peaks"
        elif channel.name == "ppg":
            clean = np.asarray(nk.ppg_clean(channel.samples, sampling_rate=fs), dtype=float)
            find, key = nk.ppg_peaks, "PPG_Peaks"
        else:
            raise ValueError(f"no beats in a {channel.name} channel")
        try:
            _, info = find(clean, sampling_rate=fs)
            peaks = np.asarray(info[key], dtype=np.int64)
        except (IndexError, ValueError):  # no pulse wave at all: "no regular heart beats"
            peaks = np.zeros(0, dtype=np.int64)
    times = channel.start_s + refine_peaks(clean, peaks) / fs
    q = quality.cardiac_sqi(channel.name, clean, peaks, fs, hold_sqi_edges) if sqi else None
    return Beats(
        times,
        plausible_rr(np.diff(times)),
        channel.name,
        None if q is None else Series(channel.times(), q),
    )


def hrv_time_domain(rr_ms: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """(RMSSD, SDNN) in ms over plausible intervals; NaN when too few to mean anything.

    Successive differences are taken only between two adjacent plausible intervals, so one
    missed beat does not masquerade as a burst of variability.
    """
    rr_ms = np.asarray(rr_ms, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    pairs = valid[:-1] & valid[1:]
    diffs = np.diff(rr_ms)[pairs]
    rmssd = float(np.sqrt(np.mean(diffs**2))) if diffs.size >= MIN_RR_DIFFS else math.nan
    good = rr_ms[valid]
    sdnn = float(np.std(good, ddof=1)) if good.size > MIN_RR_DIFFS else math.nan
    return rmssd, sdnn


def trend(times_s: np.ndarray, values: np.ndarray) -> float:
    """Change over the span from a least-squares line (robust to one noisy end point)."""
    if len(values) < 2:
        return math.nan
    span = float(times_s[-1] - times_s[0])
    if span <= 0:
        return math.nan
    slope = np.polyfit(times_s - times_s[0], values, 1)[0]
    return float(slope * span)


def decompose_eda(channel: Channel) -> tuple[Electrodermal, quality.Flags]:
    """Tonic level (0.05 Hz low-pass) and SCRs (peaks of the high-passed phasic part).

    SCRs whose onset or peak falls on a flagged sample are dropped: an artefact's edge
    looks like a response.
    """
    fs = channel.rate_hz
    with _quiet():
        clean = np.asarray(nk.eda_clean(channel.samples, sampling_rate=fs), dtype=float)
        parts = nk.eda_phasic(clean, sampling_rate=fs, method="highpass")
        phasic = parts["EDA_Phasic"].to_numpy(dtype=float)
        tonic = parts["EDA_Tonic"].to_numpy(dtype=float)
    # Every peak, then an absolute criterion below (neurokit's default threshold is relative
    # to the largest peak in the recording).
    peaks, onsets, amps = scr_peaks(phasic)
    flags = quality.eda_flags(channel.samples, clean, fs, SCR_MIN_AMPLITUDE_US)
    ok = ~flags.any
    keep = np.isfinite(peaks) & np.isfinite(amps) & (amps >= SCR_MIN_AMPLITUDE_US)
    onsets = np.where(np.isfinite(onsets), onsets, peaks)
    for i in np.flatnonzero(keep):
        lo, hi = int(onsets[i]), int(peaks[i])
        if not ok[max(0, min(lo, hi)) : max(lo, hi) + 1].all():
            keep[i] = False
    return (
        Electrodermal(
            times_s=channel.times(),
            tonic_us=tonic,
            scr_times_s=channel.start_s + peaks[keep] / fs,
            scr_amplitudes_us=amps[keep],
            scr_onsets_s=channel.start_s + onsets[keep] / fs,
            clean_us=clean,
            ok=ok,
        ),
        flags,
    )


def scr_peaks(phasic: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each SCR candidate's peak and onset (sample indices, float; onset NaN when no trough
    precedes it) and amplitude, exactly as `nk.eda_peaks(method="neurokit",
    amplitude_min=None)` finds them: every local maximum of the phasic signal, its onset the
    last local minimum strictly before it, its amplitude the rise from onset to peak.

    Vectorised, because neurokit2 finds each peak's onset (and its unused recovery point)
    through pandas one peak at a time: ~50 ms of a live window's ~60 ms for the hundred
    ripples of a 25 s span. tests/test_features.py checks both give the same answer."""
    peaks = find_peaks(phasic)[0]
    troughs = find_peaks(-phasic)[0]
    before = np.searchsorted(troughs, peaks, side="left") - 1
    has = before >= 0
    onsets = np.full(len(peaks), math.nan)
    onsets[has] = troughs[before[has]]
    amps = np.full(len(peaks), math.nan)
    amps[has] = phasic[peaks[has]] - phasic[troughs[before[has]]]
    return peaks.astype(float), onsets, amps


def detect_breaths(channel: Channel) -> tuple[Breathing, quality.Flags]:
    """Inhalation peaks of the cleaned respiration signal, with each breath's amplitude.

    Breaths peaking on a clipped sample are dropped: their amplitude is cut off.
    """
    fs = channel.rate_hz
    with _quiet():
        clean = np.asarray(nk.rsp_clean(channel.samples, sampling_rate=fs), dtype=float)
        try:
            _, info = nk.rsp_peaks(clean, sampling_rate=fs)
        except (IndexError, ValueError):  # fewer than two extrema (e.g. pure noise at Nyquist)
            info = {"RSP_Peaks": [], "RSP_Troughs": []}  # "no breaths detected"
    flags = quality.respiration_flags(channel.samples, fs)
    ok = ~flags.any
    peaks = np.asarray(info["RSP_Peaks"], dtype=np.int64)
    troughs = np.asarray(info["RSP_Troughs"], dtype=np.int64)
    before = np.searchsorted(troughs, peaks) - 1  # the trough preceding each peak
    has = before >= 0
    peaks, before = peaks[has], before[has]
    amps = clean[peaks] - clean[troughs[before]]
    keep = (amps > 0) & ok[peaks]
    peaks, amps = peaks[keep], amps[keep]
    times = channel.start_s + peaks / fs
    intervals = np.concatenate([[math.nan], np.diff(times)]) if times.size else times
    return Breathing(times, amps, intervals, Series(channel.times(), clean), ok), flags


def heart_rate_series(derived: Derived, origin_s: float | None = None) -> Series | None:
    """Instantaneous heart rate (bpm) on a 4 Hz grid from plausible beats, or the bpm series.

    The grid starts at the first plausible beat, or lies on the grid that starts at
    `origin_s` (a live stream's first plausible beat, so that a part of the stream gets the
    same grid points as the whole recording would).
    """
    if derived.beats is not None:
        b = derived.beats
        t, rr = b.times_s[1:][b.valid], b.rr_s[b.valid]
        if t.size < 2:
            return None
        step = 1.0 / HR_SERIES_HZ
        first = t[0]
        if origin_s is not None:
            first = origin_s + math.ceil((t[0] - origin_s) / step - 1e-9) * step
        grid = np.arange(first, t[-1], step)
        return Series(grid, np.interp(grid, t, 60.0 / rr))
    if derived.heart_rate is not None:
        return Series(derived.heart_rate.times(), derived.heart_rate.samples)
    return None


def derive(recording: Recording, sqi: bool = True, hold_sqi_edges: bool = False) -> Derived:
    """Process every channel of a recording once (see the module docstring).

    A live stream processes each window's span with its overlap: `sqi` False leaves out the
    cardiac template-match quality (its costliest step), `hold_sqi_edges` see
    quality.cardiac_sqi.
    """
    ch = recording.channels
    notes: list[str] = list(recording.notes)
    spans: dict[str, tuple[float, float]] = {}
    beats: Beats | None = None
    cardiac = [n for n in ("ecg", "ppg", "heart_rate") if n in ch]
    for name in cardiac:  # ECG R-peaks time beats more precisely than the pulse wave
        if name == "heart_rate" or beats is not None:
            continue
        if np.ptp(ch[name].samples) == 0:
            notes.append(f"{name}: flat signal (sensor off?), not analysed")
            continue
        found = detect_beats(ch[name], sqi, hold_sqi_edges)
        if found.valid.sum() >= 2:
            beats = found
        else:
            notes.append(f"{name}: no regular heart beats found (sensor or signal problem)")
    heart_rate = ch.get("heart_rate") if beats is None else None
    used = beats.source if beats is not None else "heart_rate" if heart_rate else None
    if used is not None:
        spans["cardiac"] = (ch[used].start_s, ch[used].end_s)
        if len(cardiac) > 1:
            notes.append(f"heart rate measured from {used} (of {', '.join(cardiac)})")
    elif cardiac:
        spans["cardiac"] = (ch[cardiac[0]].start_s, ch[cardiac[0]].end_s)
    if heart_rate is not None:
        notes.append("heart rate from the bpm series: no HRV (needs beat-to-beat intervals)")
    if beats is not None:
        notes.extend(_beat_notes(beats))

    flags: dict[str, quality.Flags] = {}
    eda = None
    if "eda" in ch:
        c = ch["eda"]
        spans["eda"] = (c.start_s, c.end_s)
        if np.ptp(c.samples) == 0:
            notes.append("eda: flat signal (electrode off?), not analysed")
        else:
            eda, flags["eda"] = decompose_eda(c)
            notes.extend(flags["eda"].notes("eda", c.rate_hz))
            level = float(np.median(c.samples))
            low, high = EDA_PLAUSIBLE_US
            if not low <= level <= high:
                notes.append(
                    f"eda: level {level:.3g} uS outside the usual {low:g}-{high:g} uS "
                    "(electrode contact or unit?)"
                )

    breathing = None
    if "respiration" in ch:
        c = ch["respiration"]
        spans["respiration"] = (c.start_s, c.end_s)
        if np.ptp(c.samples) == 0:
            notes.append("respiration: flat signal, not analysed")
        else:
            breathing, flags["respiration"] = detect_breaths(c)
            notes.extend(flags["respiration"].notes("respiration", c.rate_hz))
            if breathing.peak_times_s.size == 0:
                notes.append("respiration: no breaths detected")
    return Derived(beats, heart_rate, eda, breathing, spans, tuple(notes), flags)


def _beat_notes(beats: Beats) -> list[str]:
    notes = []
    bad = 1.0 - float(beats.valid.mean()) if beats.valid.size else 0.0
    if bad > RR_ARTIFACT_NOTE:
        notes.append(f"{beats.source}: {bad:.0%} of RR intervals implausible, excluded")
    if beats.sqi is None:
        notes.append(f"{beats.source}: too few beats to assess signal quality")
    else:
        sqi = float(beats.sqi.values.mean())
        if sqi < quality.CARDIAC_SQI_OK:
            notes.append(
                f"{beats.source}: poor signal quality (template match {sqi:.2f} < "
                f"{quality.CARDIAC_SQI_OK:g}): heart measures are unreliable"
            )
    return notes


def _overlap(span: tuple[float, float], start: float, end: float) -> float:
    return max(0.0, min(span[1], end) - max(span[0], start))


def _cardiac(d: Derived, start: float, end: float) -> tuple[dict[str, float], float, list[str]]:
    values: dict[str, float] = {}
    notes: list[str] = []
    covered = _overlap(d.spans["cardiac"], start, end)
    if d.beats is not None:
        b = d.beats
        ends = b.times_s[1:]
        sel = (ends >= start) & (ends < end)
        rr, valid = b.rr_s[sel], b.valid[sel]
        if rr.size:
            values["rr_artifact_fraction"] = float(1.0 - valid.mean())
        if valid.sum() >= 2:
            hr = 60.0 / rr[valid]
            values["hr_mean_bpm"] = float(60.0 / rr[valid].mean())
            values["hr_max_bpm"] = float(hr.max())
            values["hr_change_bpm"] = trend(ends[sel][valid], hr)
            rmssd, sdnn = hrv_time_domain(rr * 1000.0, valid)
            values["hrv_rmssd_ms"], values["hrv_sdnn_ms"] = rmssd, sdnn
            values.update(hrv.frequency_domain(b.times_s, b.valid, start, end))
        else:
            notes.append(f"{b.source}: too few clean beats in this span")
        q = min(1.0, float(rr[valid].sum()) / covered) if covered > 0 else 0.0
        sqi = b.sqi.between(start, end) if b.sqi is not None else np.zeros(0)
        if sqi.size:
            values["cardiac_signal_quality"] = float(sqi.mean())
            q *= quality.sqi_factor(float(sqi.mean()))
        return values, q, notes
    if d.heart_rate is not None:
        hr_ch = d.heart_rate
        t = hr_ch.times()
        sel = (t >= start) & (t < end)
        x = hr_ch.samples[sel]
        if x.size:
            values["hr_mean_bpm"] = float(x.mean())
            values["hr_max_bpm"] = float(x.max())
            values["hr_change_bpm"] = trend(t[sel], x)
        q = min(1.0, x.size / (hr_ch.rate_hz * covered)) if covered > 0 else 0.0
        return values, q, notes
    return values, 0.0, notes


def _eda(d: Derived, start: float, end: float) -> tuple[dict[str, float], float, list[str]]:
    e = d.eda
    covered = _overlap(d.spans["eda"], start, end)
    if e is None or covered <= 0:
        return {}, 0.0, []
    sel = (e.times_s >= start) & (e.times_s < end)
    ok = e.ok[sel] if e.ok is not None else np.ones(int(sel.sum()), dtype=bool)
    values: dict[str, float] = {}
    if ok.size:
        values["eda_artifact_fraction"] = float(1.0 - ok.mean())
    if not ok.any():
        return values, 0.0, ["eda: every sample in this span is an artefact"]
    in_span = (e.scr_times_s >= start) & (e.scr_times_s < end)
    amps = e.scr_amplitudes_us[in_span]
    usable_s = covered * float(ok.mean())
    values.update(
        {
            "eda_tonic_us": float(e.tonic_us[sel][ok].mean()),
            "eda_scr_count": float(amps.size),
            "eda_scr_rate_per_min": float(amps.size * 60.0 / usable_s),
        }
    )
    # How large responses are when they occur; their absence is measured by the rate.
    if amps.size:
        values["eda_scr_amplitude_us"] = float(amps.mean())
    return values, min(1.0, usable_s / (end - start)), []


def _respiration(d: Derived, start: float, end: float) -> tuple[dict[str, float], float, list[str]]:
    br = d.breathing
    if br is None or _overlap(d.spans["respiration"], start, end) <= 0:
        return {}, 0.0, []
    values: dict[str, float] = {}
    share_ok = 1.0
    if br.signal is not None and br.ok is not None:
        in_span = (br.signal.times_s >= start) & (br.signal.times_s < end)
        if in_span.any():
            share_ok = float(br.ok[in_span].mean())
            values["resp_artifact_fraction"] = 1.0 - share_ok
    sel = (br.peak_times_s >= start) & (br.peak_times_s < end)
    if not sel.any():
        return values, 0.0, ["respiration: no usable breath in this span"]
    values["resp_amplitude"] = float(br.amplitudes[sel].mean())
    low, high = BREATH_RANGE_S
    iv = br.intervals_s[sel]
    iv = iv[np.isfinite(iv) & (iv >= low) & (iv <= high)]
    if iv.size:
        values["resp_rate_per_min"] = float(60.0 / iv.mean())
    covered = _overlap(d.spans["respiration"], start, end)
    return values, min(1.0, covered / (end - start)) * share_ok, []


def measure(derived: Derived, start_s: float, end_s: float) -> Measures:
    """Measures of the span [start_s, end_s); quality is the mean over the signals present."""
    if end_s <= start_s:
        raise ValueError("empty span")
    values: dict[str, float] = {}
    qualities: list[float] = []
    notes: list[str] = []
    parts = (("cardiac", _cardiac), ("eda", _eda), ("respiration", _respiration))
    for group, fn in parts:
        if group not in derived.spans:
            continue
        v, q, n = fn(derived, start_s, end_s)
        values.update({k: x for k, x in v.items() if math.isfinite(x)})
        qualities.append(q)
        notes.extend(n)
    quality_ = float(np.mean(qualities)) if qualities else 0.0
    return Measures(values, quality_, tuple(notes))
