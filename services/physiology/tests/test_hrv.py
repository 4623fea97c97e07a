"""Frequency-domain HRV on known signals: a sinusoidal RR modulation has power A^2 / 2."""

from __future__ import annotations

import math

import neurokit2 as nk
import numpy as np
import pytest

from services.physiology import features, hrv
from services.physiology.signals import Channel, Recording


def _beats(freq_hz: float, amplitude_ms: float, duration_s: float, mean_ms: float = 833.0):
    """Beat times whose RR interval follows mean + A sin(2 pi f t): a known RSA."""
    t = [0.0]
    while t[-1] < duration_s:
        t.append(t[-1] + (mean_ms + amplitude_ms * math.sin(2 * math.pi * freq_hz * t[-1])) / 1e3)
    times = np.array(t)
    return times, np.ones(times.size - 1, dtype=bool)


def test_rsa_at_breathing_frequency_is_hf_power() -> None:
    times, valid = _beats(0.25, 40.0, 120.0)  # 15 breaths/min, RR +/- 40 ms
    out = hrv.frequency_domain(times, valid, 0.0, 120.0)
    assert out["hrv_hf_ms2"] == pytest.approx(40.0**2 / 2, rel=0.05)
    assert out["hrv_lf_ms2"] < 1.0


def test_slow_modulation_is_lf_not_hf() -> None:
    times, valid = _beats(0.1, 40.0, 120.0)  # 6 cycles/min: below the HF band
    out = hrv.frequency_domain(times, valid, 0.0, 120.0)
    assert out["hrv_hf_ms2"] < 1.0
    assert out["hrv_lf_ms2"] == pytest.approx(800.0, rel=0.05)


def test_bands_need_their_minimum_length() -> None:
    times, valid = _beats(0.25, 40.0, 130.0)
    assert hrv.frequency_domain(times, valid, 0.0, 59.0) == {}
    assert set(hrv.frequency_domain(times, valid, 0.0, 60.0)) == {"hrv_hf_ms2"}
    assert set(hrv.frequency_domain(times, valid, 0.0, 120.0)) == {"hrv_hf_ms2", "hrv_lf_ms2"}
    gappy = valid.copy()
    gappy[: len(gappy) // 3] = False  # a third of the span without clean beats
    assert hrv.frequency_domain(times, gappy, 0.0, 60.0) == {}


def test_implausible_beats_are_bridged_not_counted() -> None:
    times, valid = _beats(0.25, 40.0, 120.0)
    clean = hrv.frequency_domain(times, valid, 0.0, 120.0)["hrv_hf_ms2"]
    extra = np.sort(np.concatenate([times, [50.3]]))  # a spurious beat: two short intervals
    flags = features.plausible_rr(np.diff(extra))
    assert (~flags).sum() >= 2
    bridged = hrv.frequency_domain(extra, flags, 0.0, 120.0)["hrv_hf_ms2"]
    assert bridged == pytest.approx(clean, rel=0.1)


def _ecgsyn(lfhfratio: float) -> Channel:
    """ECGSYN (neurokit2) puts its RR modulation at 0.1 Hz (Mayer waves) and 0.25 Hz
    (respiratory sinus arrhythmia at 15 breaths/min) in the ratio `lfhfratio`."""
    x = nk.ecg_simulate(
        duration=120,
        sampling_rate=250,
        heart_rate=72,
        heart_rate_std=3,
        lfhfratio=lfhfratio,
        random_state=4,
    )
    return Channel("ecg", np.asarray(x), 250.0)


def test_long_simulated_ecg_with_rsa_has_hf_power() -> None:
    rsa = features.derive(Recording({"ecg": _ecgsyn(0.01)}))  # almost all variance at 0.25 Hz
    mayer = features.derive(Recording({"ecg": _ecgsyn(100.0)}))  # almost all at 0.1 Hz
    m_rsa = features.measure(rsa, 0.0, 120.0)
    m_mayer = features.measure(mayer, 0.0, 120.0)
    assert rsa.beats is not None
    rr_ms = np.diff(rsa.beats.times_s)[rsa.beats.valid] * 1000
    # HF carries the RR variance of the RSA recording (a single 2-min periodogram of a
    # narrow-band random process: within a factor of 2) ...
    assert 0.5 * rr_ms.var() < m_rsa.values["hrv_hf_ms2"] < 2.0 * rr_ms.var()
    assert m_rsa.values["hrv_hf_ms2"] > 5 * m_rsa.values["hrv_lf_ms2"]
    # ... and little of the Mayer-wave one's, which is LF.
    assert m_mayer.values["hrv_lf_ms2"] > 5 * m_mayer.values["hrv_hf_ms2"]
    assert m_rsa.values["hrv_hf_ms2"] > 5 * m_mayer.values["hrv_hf_ms2"]
    # 10 s windows are too short for any band.
    assert "hrv_hf_ms2" not in features.measure(rsa, 0.0, 10.0).values
