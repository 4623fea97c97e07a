"""The eGeMAPS v02 functionals via openSMILE: the field's standard acoustic parameter set.

eGeMAPS (Eyben et al. 2016, IEEE Transactions on Affective Computing 7(2), 190-202) is the
minimal set of 88 voice parameters that affective and paralinguistic speech research agreed
on, so results can be compared across studies. It is reported for every window and for the
whole input under `egemaps.<openSMILE name>`. The audio_cues model does not read it (its
contribution is 0); Praat (features.py) stays the reference for pitch, jitter, shimmer and
HNR, and eGeMAPS's own estimates of those are reported beside Praat's, not instead.

Spectral tilt, a correlate of vocal effort and tension, is taken from eGeMAPS (voiced frames)
and also reported under plain names (`SPECTRAL_TILT`), so it can be compared with a baseline.
"""

from __future__ import annotations

import math
import threading
import warnings

import numpy as np

RATE = 16_000
PREFIX = "egemaps."
# openSMILE converts floats to int16 by multiplying by 32768: full scale (1.0) would wrap.
_INT16_SAFE = 32767 / 32768

# Plain name -> the eGeMAPS functional it copies (means over voiced frames).
SPECTRAL_TILT: dict[str, str] = {
    "alpha_ratio_db": "alphaRatioV_sma3nz_amean",
    "hammarberg_index_db": "hammarbergIndexV_sma3nz_amean",
    "spectral_slope_0_500_db_hz": "slopeV0-500_sma3nz_amean",
    "spectral_slope_500_1500_db_hz": "slopeV500-1500_sma3nz_amean",
}
TILT_UNITS: dict[str, str] = {
    "alpha_ratio_db": "dB",
    "hammarberg_index_db": "dB",
    "spectral_slope_0_500_db_hz": "dB/Hz",
    "spectral_slope_500_1500_db_hz": "dB/Hz",
}

_lock = threading.Lock()
_smile = None


def _extractor():  # noqa: ANN202 - opensmile.Smile; imported lazily (~0.5 s)
    """One configured extractor per process; each call builds its own openSMILE instance,
    so concurrent calls from worker threads do not share native state."""
    global _smile
    with _lock:
        if _smile is None:
            import opensmile

            _smile = opensmile.Smile(
                feature_set=opensmile.FeatureSet.eGeMAPSv02,
                feature_level=opensmile.FeatureLevel.Functionals,
            )
        return _smile


def feature_names() -> list[str]:
    """The 88 eGeMAPS v02 functional names, prefixed, in openSMILE's order."""
    return [PREFIX + n for n in _extractor().feature_names]


def functionals(samples: np.ndarray, rate: int = RATE) -> dict[str, float]:
    """The 88 functionals of one span; NaN for all of them when openSMILE finds the span too
    short to analyse (under about 0.1 s)."""
    smile = _extractor()
    x = np.clip(samples.astype(np.float32), -1.0, 1.0) * _INT16_SAFE
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Segment too short")
        frame = smile.process_signal(x, rate)
    values = frame.iloc[0].to_numpy(dtype=np.float64)
    return {PREFIX + n: float(v) for n, v in zip(smile.feature_names, values)}


def spectral_tilt(egemaps: dict[str, float]) -> dict[str, float]:
    """The tilt measures under their plain names (NaN when eGeMAPS has none)."""
    return {name: egemaps.get(PREFIX + src, math.nan) for name, src in SPECTRAL_TILT.items()}


def unit(name: str) -> str:
    """The unit of an eGeMAPS functional, from its name (Eyben et al. 2016, table 1)."""
    base = name.removeprefix(PREFIX)
    if base.endswith("_stddevNorm"):
        return "ratio"  # coefficient of variation
    if base.startswith("F0semitone"):
        return "st/s" if "Slope" in base else "st re 27.5 Hz"
    if base.startswith("loudness_"):
        return "loudness/s" if "Slope" in base else "loudness (auditory, a.u.)"
    if base.startswith("jitterLocal"):
        return "ratio of period"
    if base.startswith(("shimmerLocaldB", "HNRdB", "logRelF0", "alphaRatio", "hammarberg")):
        return "dB"
    if base[:1] == "F" and ("frequency" in base or "bandwidth" in base):
        return "Hz"
    if "amplitudeLogRelF0" in base:
        return "dB re F0 amplitude"
    if base.startswith("slope"):
        return "dB/Hz"
    if base.endswith("PerSec"):
        return "1/s"
    if "SegmentLength" in base:
        return "s"
    if base.startswith("equivalentSoundLevel"):
        return "dB"
    return "a.u."  # spectral flux, MFCCs
