"""Signal-quality checks on known signals: flat, noisy, clipped, too steep, out of range."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np

from services.physiology import features, quality
from services.physiology.signals import Channel, Recording


def _rec(*channels: Channel) -> Recording:
    return Recording({c.name: c for c in channels})


def test_clean_simulated_ecg_scores_above_the_quality_threshold() -> None:
    for fs in (50, 250):
        x = nk.ecg_simulate(duration=30, sampling_rate=fs, heart_rate=72, random_state=1)
        d = features.derive(_rec(Channel("ecg", x, float(fs))))
        m = features.measure(d, 0.0, 30.0)
        assert m.values["cardiac_signal_quality"] > quality.CARDIAC_SQI_OK
        assert not any("poor signal quality" in n for n in d.notes)
        assert m.quality > 0.9


def test_noise_instead_of_ecg_is_flagged_and_counts_little() -> None:
    noise = np.random.default_rng(0).normal(0, 1, 250 * 30)
    d = features.derive(_rec(Channel("ecg", noise, 250.0)))
    m = features.measure(d, 0.0, 30.0)
    flagged = [n for n in d.notes if "implausible" in n or "poor signal quality" in n]
    assert flagged, d.notes
    assert m.quality < 0.5


def test_flat_ecg_and_eda_are_reported_not_analysed() -> None:
    d = features.derive(
        _rec(Channel("ecg", np.zeros(1000), 100.0), Channel("eda", np.full(100, 2.0), 10.0))
    )
    assert any("ecg: flat" in n for n in d.notes) and any("eda: flat" in n for n in d.notes)
    assert d.beats is None and d.eda is None
    assert features.measure(d, 0.0, 10.0).quality == 0.0


def test_noisy_eda_is_flagged_and_its_scrs_dropped() -> None:
    fs = 50
    clean = 2.0 + nk.eda_simulate(duration=60, sampling_rate=fs, scr_number=4, random_state=5)
    noisy = clean.copy()
    noisy[: 30 * fs] += np.random.default_rng(1).normal(0, 0.3, 30 * fs)  # first half only
    d = features.derive(_rec(Channel("eda", noisy, float(fs))))
    assert any("noisier than the smallest SCR" in n for n in d.notes)
    first = features.measure(d, 0.0, 30.0)
    second = features.measure(d, 30.0, 60.0)
    assert first.values["eda_artifact_fraction"] > 0.9 and first.quality < 0.1
    assert second.values["eda_artifact_fraction"] == 0.0 and second.quality == 1.0
    assert d.eda is not None and (d.eda.scr_times_s >= 30.0).all()


def test_clipped_eda_and_respiration_are_flagged() -> None:
    fs = 20
    eda = 2.0 + nk.eda_simulate(duration=60, sampling_rate=fs, scr_number=5, random_state=2)
    top = np.quantile(eda, 0.9)
    rsp = nk.rsp_simulate(duration=60, sampling_rate=fs, respiratory_rate=15, random_state=2)
    d = features.derive(
        _rec(
            Channel("eda", np.minimum(eda, top), float(fs)),
            Channel("respiration", np.clip(rsp, None, 0.5 * rsp.max()), float(fs)),
        )
    )
    assert any(n.startswith("eda:") and "clipped" in n for n in d.notes)
    assert any(n.startswith("respiration:") and "clipped" in n for n in d.notes)
    m = features.measure(d, 0.0, 60.0)
    assert 0.05 < m.values["eda_artifact_fraction"] < 0.2
    assert m.values["resp_artifact_fraction"] > 0.05


def test_clipped_marks_only_runs_at_the_extremes() -> None:
    x = np.array([0.0, 1, 2, 5, 5, 5, 5, 2, 1, 0, 3, 5, 2], dtype=float)
    assert list(np.flatnonzero(quality.clipped(x, 10.0))) == [3, 4, 5, 6]  # not the lone 5
    assert not quality.clipped(np.full(10, 1.0), 10.0).any()  # flat is not clipped


def test_steep_changes_are_flagged_but_quantisation_steps_are_not() -> None:
    fs = 1000.0
    steps = 2.0 + 0.01 * np.floor(np.arange(5000) / 400)  # 0.01 uS steps: 0.025 uS/s
    assert not quality.too_steep(steps, fs, quality.EDA_MAX_SLOPE_US_PER_S).any()
    jump = np.full(400, 2.0)
    jump[200:] = 8.0  # 6 uS in one sample at 100 Hz
    flagged = quality.too_steep(jump, 100.0, quality.EDA_MAX_SLOPE_US_PER_S)
    assert flagged[195:205].all() and not flagged[:150].any() and not flagged[260:].any()


def test_eda_out_of_range_is_flagged() -> None:
    x = 500.0 + nk.eda_simulate(duration=20, sampling_rate=10, scr_number=1, random_state=1)
    d = features.derive(_rec(Channel("eda", x, 10.0)))
    assert any("outside 0.05-60 uS" in n for n in d.notes)
    assert features.measure(d, 0.0, 20.0).quality == 0.0
