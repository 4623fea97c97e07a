"""eGeMAPS via openSMILE on the speech sample and on tones whose answers are known."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from services.audio import egemaps
from services.audio.tests.signals import RATE, harmonic

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "speech.wav"


def test_sample_gives_88_finite_functionals() -> None:
    x, rate = sf.read(SAMPLE, dtype="float32")
    values = egemaps.functionals(x, rate)
    assert len(values) == 88 and list(values) == egemaps.feature_names()
    assert all(name.startswith("egemaps.") for name in values)
    assert all(math.isfinite(v) for v in values.values())
    assert all(egemaps.unit(name) for name in values)


def test_tone_f0_in_semitones_from_27_5_hz() -> None:
    values = egemaps.functionals(harmonic(150.0, 2.0))
    want = 12 * math.log2(150.0 / 27.5)
    assert values["egemaps.F0semitoneFrom27.5Hz_sma3nz_amean"] == pytest.approx(want, abs=0.2)


def test_steeper_spectrum_has_more_tilt() -> None:
    """Harmonics at 1/k^2 instead of 1/k: less energy above 1 kHz, so a lower alpha ratio
    and a higher Hammarberg index (Eyben et al. 2016 define both on those bands)."""
    t = np.arange(2 * RATE) / RATE

    def tone(power: float) -> np.ndarray:
        x = sum(np.sin(2 * np.pi * 150 * k * t) / k**power for k in range(1, 33))
        return (0.3 * x / np.max(np.abs(x))).astype(np.float32)

    flat, steep = (egemaps.spectral_tilt(egemaps.functionals(tone(p))) for p in (1.0, 2.0))
    assert steep["alpha_ratio_db"] < flat["alpha_ratio_db"] - 6
    assert steep["hammarberg_index_db"] > flat["hammarberg_index_db"] + 6
    assert steep["spectral_slope_500_1500_db_hz"] < flat["spectral_slope_500_1500_db_hz"]


def test_too_short_span_is_nan_not_an_error() -> None:
    values = egemaps.functionals(harmonic(150.0, 0.05))
    assert len(values) == 88 and all(math.isnan(v) for v in values.values())


def test_full_scale_samples_do_not_wrap() -> None:
    x = np.sign(harmonic(150.0, 1.0)).astype(np.float32)  # +-1.0: int16 overflow if unscaled
    louder = egemaps.functionals(x)["egemaps.loudness_sma3_amean"]
    quieter = egemaps.functionals(0.5 * x)["egemaps.loudness_sma3_amean"]
    assert louder > quieter
