"""Signal-quality checks: which samples of a channel can be trusted, and why not.

Pure functions over one channel; `features.derive` applies them once per recording, leaves
flagged samples out of the measures, and reports them in notes and in each window's quality.

- EDA, after Kleckner et al. (2018, IEEE Transactions on Biomedical Engineering 65(7)):
  a level outside 0.05-60 uS is an electrode off (or not microsiemens), and a change faster
  than 10 uS/s is not skin physiology (movement, contact). The slope is taken over 0.25 s,
  not sample to sample, so that quantisation steps of a fast ADC do not count as artefacts.
  Added here: noise (the high-frequency residual the cleaning filter removes is larger than
  the smallest SCR we count, so SCRs in that second cannot be told from noise) and clipping.
- Clipping (EDA, respiration): samples pinned at the recording's own maximum or minimum for a
  run of at least 0.2 s: an amplifier or converter at the end of its range.
- ECG / PPG: neurokit2's template-matching quality index (`ecg_quality` "averageQRS",
  `ppg_quality` "templatematch"): per sample, 0..1, how closely the beat resembles the
  recording's average beat. Implausible RR intervals are checked in `features.plausible_rr`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from services.physiology.neurokit import nk

EDA_RANGE_US = (0.05, 60.0)  # Kleckner et al. (2018)
EDA_MAX_SLOPE_US_PER_S = 10.0  # Kleckner et al. (2018)
SLOPE_LAG_S = 0.25
NOISE_BLOCK_S = 1.0
CLIP_RUN_S = 0.2
CLIP_MIN_SAMPLES = 3
# Mean template-match quality below which a cardiac window's quality is scaled down. Measured
# on neurokit2's simulators (tests/test_quality.py): clean simulated ECG scores ~0.9 at
# 50-250 Hz, white noise 0.5-0.7.
CARDIAC_SQI_OK = 0.75
MIN_BEATS_FOR_SQI = 5


@dataclass(frozen=True)
class Flags:
    """Per-sample artefact flags of one channel, by reason (each a boolean mask)."""

    by_reason: dict[str, np.ndarray]
    n: int

    @property
    def any(self) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for mask in self.by_reason.values():
            out |= mask
        return out

    def notes(self, channel: str, rate_hz: float) -> list[str]:
        """One note per reason that flagged anything, with how much of the signal it took."""
        out = []
        for reason, mask in self.by_reason.items():
            k = int(mask.sum())
            if k:
                out.append(f"{channel}: {k / rate_hz:.1f} s ({k / self.n:.0%}) {reason}, left out")
        return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs in `mask`."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def clipped(samples: np.ndarray, rate_hz: float) -> np.ndarray:
    """Samples sitting at the signal's own extreme value in a run of at least 0.2 s."""
    x = np.asarray(samples, dtype=np.float64)
    out = np.zeros(x.size, dtype=bool)
    if x.size == 0 or np.ptp(x) == 0:
        return out  # a flat signal is reported as flat, not as clipped
    min_run = max(CLIP_MIN_SAMPLES, int(round(CLIP_RUN_S * rate_hz)))
    for extreme in (x.max(), x.min()):
        for start, end in _runs(x == extreme):
            if end - start >= min_run:
                out[start:end] = True
    return out


def too_steep(samples: np.ndarray, rate_hz: float, limit_per_s: float) -> np.ndarray:
    """Samples where the signal changes faster than `limit_per_s`, over a 0.25 s lag."""
    x = np.asarray(samples, dtype=np.float64)
    lag = max(1, int(round(SLOPE_LAG_S * rate_hz)))
    out = np.zeros(x.size, dtype=bool)
    if x.size <= lag:
        return out
    slope = np.abs(x[lag:] - x[:-lag]) * rate_hz / lag
    fast = slope > limit_per_s
    out[lag:] |= fast
    out[:-lag] |= fast
    return out


def noisy_blocks(residual: np.ndarray, rate_hz: float, limit: float) -> np.ndarray:
    """Samples in 1 s blocks whose residual (raw minus cleaned) varies more than `limit`."""
    r = np.asarray(residual, dtype=np.float64)
    block = max(2, int(round(NOISE_BLOCK_S * rate_hz)))
    out = np.zeros(r.size, dtype=bool)
    for start in range(0, r.size, block):
        part = r[start : start + block]
        if part.size >= 2 and float(np.std(part)) > limit:
            out[start : start + block] = True
    return out


def eda_flags(raw_us: np.ndarray, clean_us: np.ndarray, rate_hz: float, scr_min_us: float) -> Flags:
    """Artefacts in skin conductance (see the module docstring for each rule's source)."""
    raw = np.asarray(raw_us, dtype=np.float64)
    low, high = EDA_RANGE_US
    return Flags(
        {
            f"outside {low:g}-{high:g} uS": (raw < low) | (raw > high),
            f"changing faster than {EDA_MAX_SLOPE_US_PER_S:g} uS/s": too_steep(
                raw, rate_hz, EDA_MAX_SLOPE_US_PER_S
            ),
            f"noisier than the smallest SCR counted ({scr_min_us:g} uS)": noisy_blocks(
                raw - np.asarray(clean_us, dtype=np.float64), rate_hz, scr_min_us
            ),
            "clipped (pinned at its extreme value)": clipped(raw, rate_hz),
        },
        raw.size,
    )


def respiration_flags(raw: np.ndarray, rate_hz: float) -> Flags:
    x = np.asarray(raw, dtype=np.float64)
    return Flags({"clipped (pinned at its extreme value)": clipped(x, rate_hz)}, x.size)


def cardiac_sqi(
    source: str, clean: np.ndarray, peaks: np.ndarray, rate_hz: float, hold_edges: bool = False
) -> np.ndarray | None:
    """Per-sample template-match quality (0..1) of a cleaned ECG or PPG; None if not computable.

    The first and last beats have no full template around them and score 0 there; callers
    average over a span, so two edge beats in a long recording barely move the mean. A live
    window is processed up to its own end, where the last beat is cut off by the buffer and
    not by the signal: with `hold_edges`, the samples before the second beat and from the
    last beat on take their neighbouring beat's quality instead.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    if peaks.size < MIN_BEATS_FOR_SQI:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if source == "ecg":
                q = nk.ecg_quality(clean, rpeaks=peaks, sampling_rate=rate_hz)
            else:
                q = nk.ppg_quality(clean, peaks=peaks, sampling_rate=rate_hz)
        except (ValueError, ZeroDivisionError, IndexError):
            return None
    q = np.clip(np.nan_to_num(np.asarray(q, dtype=np.float64), nan=0.0), 0.0, 1.0)
    if q.size != len(clean):
        return None
    if hold_edges:  # samples from peak i to peak i+1 carry beat i's quality
        q[: peaks[1]] = q[peaks[1]]
        q[peaks[-1] :] = q[peaks[-2]]
    return q


def sqi_factor(mean_sqi: float) -> float:
    """How much a window's cardiac quality is scaled: 1 at or above CARDIAC_SQI_OK."""
    return 1.0 if mean_sqi >= CARDIAC_SQI_OK else max(0.0, mean_sqi / CARDIAC_SQI_OK)
