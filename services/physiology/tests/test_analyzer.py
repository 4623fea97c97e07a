"""The Analyzer contract: windows, baseline deltas, the reference window, legacy input
(live input: test_live.py)."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

from services.physiology.analyzer import PhysiologyAnalyzer, window_spans
from services.physiology.cues import CUE_NAMES, cue_values
from veritas.analysis import Window
from veritas.v1 import common_pb2, modality_pb2


def _signals(hr: float, n_scr: int, resp_scale: float, seed: int) -> common_pb2.Physiology:
    p = common_pb2.Physiology()
    ecg = nk.ecg_simulate(duration=40, sampling_rate=100, heart_rate=hr, random_state=seed)
    eda = 2 + nk.eda_simulate(duration=40, sampling_rate=20, scr_number=n_scr, random_state=seed)
    rsp = nk.rsp_simulate(duration=40, sampling_rate=20, respiratory_rate=15, random_state=seed)
    p.channels.add(name="ecg", sampling_rate_hz=100, samples=ecg)
    p.channels.add(name="eda", sampling_rate_hz=20, samples=eda)
    p.channels.add(name="respiration", sampling_rate_hz=20, samples=resp_scale * rsp)
    return p


def _run(req: modality_pb2.ModalityRequest) -> tuple[list[Window], Window]:
    analyzer = PhysiologyAnalyzer()
    prepared = analyzer.prepare(req)
    windows = list(analyzer.windows(prepared, req.options))
    return windows, analyzer.summarize(prepared, windows)


def test_identity() -> None:
    a = PhysiologyAnalyzer()
    assert a.modality == common_pb2.PHYSIOLOGY and a.model_name == "physiology_cues"


def test_window_spans() -> None:
    assert window_spans(0, 30, 10) == [(0, 10), (10, 20), (20, 30)]
    assert window_spans(0, 34, 10)[-1] == (20, 34)  # a short remainder joins the last
    assert window_spans(0, 36, 10)[-1] == (30, 36)
    assert window_spans(0, 4, 10) == [(0, 4)]


def test_legacy_heart_rate_list_end_to_end() -> None:
    req = modality_pb2.ModalityRequest()
    req.input.physiology.heart_rate.extend([70.0] * 10 + [80.0] * 10 + [90.0] * 10)
    windows, summary = _run(req)
    assert [(w.start_s, w.end_s) for w in windows] == [(0, 10), (10, 20), (20, 30)]
    first, second, third = windows
    assert first.quality == 0.0 and first.usable  # the reference: scored 0.5, counts nothing
    assert any("no baseline" in n for n in first.notes)
    assert second.features["hr_mean_delta_bpm"] == pytest.approx(10.0)
    assert third.features["hr_mean_delta_bpm"] == pytest.approx(20.0)
    assert third.usable and third.quality == pytest.approx(1.0)
    assert summary.features["hr_mean_bpm"] == pytest.approx(80.0)
    assert summary.features["hr_mean_delta_bpm"] == pytest.approx(10.0)
    for w in [*windows, summary]:
        assert set(CUE_NAMES) <= set(w.features)  # every model input, always
        assert w.units["hr_mean_bpm"] == "bpm"
    # EDA, HRV and respiration were not given: their cues say "no change"
    assert third.features["eda_scr_rate_delta_per_min"] == 0.0
    assert any("set to no change" in n for n in third.notes)


def test_baseline_makes_cues_changes_from_the_subject() -> None:
    req = modality_pb2.ModalityRequest()
    req.input.physiology.CopyFrom(_signals(hr=84, n_scr=6, resp_scale=0.5, seed=1))
    req.baseline.physiology.CopyFrom(_signals(hr=70, n_scr=1, resp_scale=1.0, seed=2))
    windows, summary = _run(req)
    assert len(windows) == 4 and all(w.usable and w.quality > 0.8 for w in windows)
    f = summary.features
    assert f["hr_mean_delta_bpm"] == pytest.approx(14, abs=2.5)
    assert f["eda_scr_rate_delta_per_min"] > 3
    assert f["resp_amplitude_log_ratio"] == pytest.approx(np.log(0.5), abs=0.2)
    assert summary.baseline["hr_mean_bpm"] == pytest.approx(70, abs=2)
    assert any("subject's baseline" in n for n in summary.notes)


def test_window_s_option_and_markers() -> None:
    req = modality_pb2.ModalityRequest()
    req.input.physiology.heart_rate.extend([70.0] * 40)
    req.input.physiology.markers.add(
        kind=common_pb2.QuestionMarker.RELEVANT, start_s=21, end_s=24, label="R1"
    )
    req.options.window_s = 20
    windows, _ = _run(req)
    assert [(w.start_s, w.end_s) for w in windows] == [(0, 20), (20, 40)]
    assert any("relevant question 'R1'" in n for n in windows[1].notes)
    req.options.window_s = 1  # too short for physiology: raised to the minimum
    windows, _ = _run(req)
    assert windows[0].end_s == 5


def test_cue_values_neutralise_what_is_missing() -> None:
    values, missing = cue_values({"hr_mean_bpm": 80, "resp_amplitude": 2.0}, {"hr_mean_bpm": 70})
    assert values["hr_mean_delta_bpm"] == 10
    assert values["resp_amplitude_log_ratio"] == 0.0 and "resp_amplitude_log_ratio" in missing
    values, _ = cue_values({"resp_amplitude": 2.0}, {"resp_amplitude": 1.0})
    assert values["resp_amplitude_log_ratio"] == pytest.approx(np.log(2))
