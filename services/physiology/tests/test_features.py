"""The science on known (simulated) signals: rates, HRV, SCRs, breaths, quality checks."""

from __future__ import annotations

import math

import neurokit2 as nk
import numpy as np
import pytest

from services.physiology import features
from services.physiology.signals import Channel, Recording


def _rec(*channels: Channel) -> Recording:
    return Recording({c.name: c for c in channels})


@pytest.fixture(scope="module")
def ecg72() -> Channel:
    x = nk.ecg_simulate(duration=60, sampling_rate=250, heart_rate=72, random_state=11)
    return Channel("ecg", np.asarray(x), 250.0)


def _ecg(seed: int, fs: int = 250) -> np.ndarray:
    return np.asarray(
        nk.ecg_simulate(duration=60, sampling_rate=fs, heart_rate=72, random_state=seed)
    )


# ecg_simulate varies each beat around 72 bpm with a standard deviation of 1 bpm
# (heart_rate_std); a 10 s window holds 12 beats, so its mean lies well within 2 bpm of 72.
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 11])
def test_ecg_at_72_bpm_measures_72(seed: int) -> None:
    d = features.derive(_rec(Channel("ecg", _ecg(seed), 250.0)))
    m = features.measure(d, 0.0, 60.0)
    assert m.values["hr_mean_bpm"] == pytest.approx(72, abs=2)
    # A clean simulation: at most a stray beat or two of ~71 may be missed or doubled.
    assert m.values["rr_artifact_fraction"] < 0.05
    assert m.quality > 0.9
    for start in (0.0, 10.0, 20.0, 30.0, 40.0, 50.0):  # every 10 s window too
        w = features.measure(d, start, start + 10.0)
        assert w.values["hr_mean_bpm"] == pytest.approx(72, abs=2)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_missed_beat_is_caught_and_left_out(seed: int) -> None:
    """One beat removed on purpose (its cycle replaced by a straight line between the
    neighbouring mid-points): the two-beat interval it leaves is flagged and excluded."""
    fs = 250
    x = _ecg(seed, fs)
    _, info = nk.ecg_peaks(nk.ecg_clean(x, sampling_rate=fs), sampling_rate=fs)
    peaks = np.asarray(info["ECG_R_Peaks"])
    k = peaks.size // 2
    a, b = (peaks[k - 1] + peaks[k]) // 2, (peaks[k] + peaks[k + 1]) // 2
    x[a:b] = np.linspace(x[a], x[b], b - a)
    d = features.derive(_rec(Channel("ecg", x, float(fs))))
    assert d.beats is not None and d.beats.times_s.size == peaks.size - 1
    rr = np.diff(d.beats.times_s)
    flagged = np.flatnonzero(~d.beats.valid)
    assert flagged.size == 1
    gap = (peaks[k + 1] - peaks[k - 1]) / fs
    assert rr[flagged[0]] == pytest.approx(gap, abs=0.02)
    m = features.measure(d, 0.0, 60.0)
    assert m.values["rr_artifact_fraction"] == pytest.approx(1 / rr.size)
    assert m.values["hr_mean_bpm"] == pytest.approx(60.0 / rr[d.beats.valid].mean())


def test_low_rate_ecg_and_ppg_still_measure_heart_rate() -> None:
    ecg = nk.ecg_simulate(duration=30, sampling_rate=50, heart_rate=72, random_state=3)
    m = features.measure(features.derive(_rec(Channel("ecg", ecg, 50.0))), 0.0, 30.0)
    assert m.values["hr_mean_bpm"] == pytest.approx(72, abs=2)
    ppg = nk.ppg_simulate(duration=30, sampling_rate=50, heart_rate=65, random_state=3)
    m = features.measure(features.derive(_rec(Channel("ppg", ppg, 50.0))), 0.0, 30.0)
    assert m.values["hr_mean_bpm"] == pytest.approx(65, abs=2)


def test_hrv_matches_neurokit_hrv_time(ecg72: Channel) -> None:
    clean = nk.ecg_clean(ecg72.samples, sampling_rate=250)
    _, info = nk.ecg_peaks(clean, sampling_rate=250)
    peaks = info["ECG_R_Peaks"]
    want = nk.hrv_time(peaks, sampling_rate=250)
    rr_ms = np.diff(peaks) / 250 * 1000
    rmssd, sdnn = features.hrv_time_domain(rr_ms, np.ones(rr_ms.size, dtype=bool))
    assert rmssd == pytest.approx(float(want["HRV_RMSSD"].iloc[0]), rel=1e-6)
    assert sdnn == pytest.approx(float(want["HRV_SDNN"].iloc[0]), rel=1e-6)


def test_hrv_skips_differences_across_bad_intervals() -> None:
    rr = np.array([800.0, 810, 1600, 805, 800, 810, 800])
    valid = features.plausible_rr(rr / 1000)
    assert list(valid) == [True, True, False, True, True, True, True]
    rmssd, _ = features.hrv_time_domain(rr, valid)
    assert rmssd == pytest.approx(np.sqrt(np.mean(np.square([10, 5, 10, 10]))))
    assert math.isnan(features.hrv_time_domain(rr[:3], valid[:3])[0])  # too few


def test_implausible_rr_intervals_are_flagged() -> None:
    rr = np.array([0.8, 0.82, 0.2, 0.81, 0.8, 2.5, 0.79])
    assert list(features.plausible_rr(rr)) == [True, True, False, True, True, False, True]


def test_refine_peaks_finds_the_sub_sample_vertex() -> None:
    t = np.arange(20, dtype=float)
    y = -((t - 7.3) ** 2)
    assert features.refine_peaks(y, np.array([7]))[0] == pytest.approx(7.3)
    assert features.refine_peaks(y, np.array([0]))[0] == 0.0  # edge: left as is


@pytest.mark.parametrize(("n_scr", "rate"), [(3, 50.0), (6, 50.0), (5, 4.0)])
def test_eda_counts_simulated_scrs(n_scr: int, rate: float) -> None:
    x = 2.0 + nk.eda_simulate(
        duration=60, sampling_rate=int(rate), scr_number=n_scr, drift=-0.01, random_state=5
    )
    m = features.measure(features.derive(_rec(Channel("eda", x, rate))), 0.0, 60.0)
    assert m.values["eda_scr_count"] == pytest.approx(n_scr, abs=1)
    assert m.values["eda_scr_rate_per_min"] == pytest.approx(m.values["eda_scr_count"])
    assert m.values["eda_scr_amplitude_us"] > features.SCR_MIN_AMPLITUDE_US
    assert 1.5 < m.values["eda_tonic_us"] < 4.5


@pytest.mark.parametrize("noise", [0.0, 0.01, 0.05])
def test_scr_peaks_are_neurokits_eda_peaks(noise: float) -> None:
    """The vectorised SCR search answers what nk.eda_peaks (method "neurokit", every peak
    kept) answers: the same peaks and onsets, the same amplitudes; also with the ripples that
    noise brings (48 candidate peaks in the noisiest case)."""
    x = nk.eda_simulate(duration=30, sampling_rate=100, scr_number=4, noise=noise, random_state=3)
    phasic = nk.eda_phasic(nk.eda_clean(x, sampling_rate=100), 100, method="highpass")
    phasic = phasic["EDA_Phasic"].to_numpy(dtype=float)
    _, want = nk.eda_peaks(phasic, sampling_rate=100, method="neurokit", amplitude_min=None)
    peaks, onsets, amps = features.scr_peaks(phasic)
    np.testing.assert_array_equal(peaks, np.asarray(want["SCR_Peaks"], dtype=float))
    np.testing.assert_array_equal(onsets, np.asarray(want["SCR_Onsets"], dtype=float))
    np.testing.assert_allclose(amps, np.asarray(want["SCR_Amplitude"], dtype=float), rtol=1e-12)
    assert len(peaks) >= 4


def test_eda_without_responses_has_rate_zero_and_no_amplitude() -> None:
    x = 3.0 + 0.001 * np.sin(np.arange(600) / 50.0)  # 60 s of a steady level at 10 Hz
    m = features.measure(features.derive(_rec(Channel("eda", x, 10.0))), 0.0, 60.0)
    assert m.values["eda_scr_count"] == 0.0 and "eda_scr_amplitude_us" not in m.values
    assert m.values["eda_tonic_us"] == pytest.approx(3.0, abs=0.05)


def test_respiration_rate_and_amplitude() -> None:
    x = nk.rsp_simulate(duration=60, sampling_rate=50, respiratory_rate=15, random_state=2)
    full = features.measure(features.derive(_rec(Channel("respiration", x, 50.0))), 0, 60)
    half = features.measure(features.derive(_rec(Channel("respiration", x / 2, 50.0))), 0, 60)
    assert full.values["resp_rate_per_min"] == pytest.approx(15, abs=1.5)
    assert half.values["resp_amplitude"] / full.values["resp_amplitude"] == pytest.approx(0.5)


def test_heart_rate_series_is_used_directly() -> None:
    hr = Channel("heart_rate", np.linspace(60.0, 80.0, 21), 1.0, unit="bpm")
    d = features.derive(_rec(hr))
    m = features.measure(d, 0.0, 21.0)
    assert m.values["hr_mean_bpm"] == pytest.approx(70.0)
    assert m.values["hr_max_bpm"] == pytest.approx(80.0)
    assert m.values["hr_change_bpm"] == pytest.approx(20.0)
    assert "hrv_rmssd_ms" not in m.values and m.quality == pytest.approx(1.0)
    assert any("no HRV" in n for n in d.notes)


def test_quality_notes_flag_flat_and_implausible_signals() -> None:
    flat = Channel("eda", np.full(100, 2.0), 10.0)
    tiny = Channel("respiration", np.zeros(200), 20.0)
    d = features.derive(_rec(flat, tiny))
    assert any("eda: flat" in n for n in d.notes)
    assert any("respiration: flat" in n for n in d.notes)
    assert features.measure(d, 0.0, 10.0).quality == 0.0
    odd = 500.0 + nk.eda_simulate(duration=20, sampling_rate=10, scr_number=1, random_state=1)
    d = features.derive(_rec(Channel("eda", odd, 10.0)))
    assert any("outside the usual" in n for n in d.notes)


def test_trend() -> None:
    t = np.arange(10.0)
    assert features.trend(t, 2.0 * t + 5) == pytest.approx(18.0)
    assert math.isnan(features.trend(t[:1], t[:1]))
