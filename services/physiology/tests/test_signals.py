"""Validation: every bad input raises InvalidInput naming its exact field."""

from __future__ import annotations

import math

import numpy as np
import pytest

from services.physiology import signals
from services.physiology.analyzer import PhysiologyAnalyzer
from veritas.analysis import InvalidInput
from veritas.v1 import common_pb2, modality_pb2


def _phys(*channels: tuple[str, float, list[float]]) -> common_pb2.Physiology:
    p = common_pb2.Physiology()
    for name, rate, samples in channels:
        p.channels.add(name=name, sampling_rate_hz=rate, samples=samples)
    return p


ECG = ("ecg", 100.0, list(np.sin(np.arange(600) / 10.0)))
EDA = ("eda", 4.0, [2.0] * 40)
HR = ("heart_rate", 1.0, [70.0, 71.0, 72.0, 71.0])


def _error(p: common_pb2.Physiology) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        signals.from_proto(p)
    return info.value


def test_valid_channels_become_arrays() -> None:
    rec = signals.from_proto(_phys(ECG, EDA))
    assert set(rec.channels) == {"ecg", "eda"}
    ecg = rec.channels["ecg"]
    assert ecg.samples.dtype == np.float64 and ecg.rate_hz == 100.0
    assert ecg.unit == "mV" and rec.channels["eda"].unit == "uS"
    assert math.isclose(ecg.end_s, 6.0) and rec.end_s == 10.0  # the longest channel


def test_legacy_heart_rate_list_is_a_1hz_channel() -> None:
    p = common_pb2.Physiology(heart_rate=[70, 72, 75, 74, 73])
    hr = signals.from_proto(p).channels["heart_rate"]
    assert hr.rate_hz == 1.0 and hr.unit == "bpm" and list(hr.samples) == [70, 72, 75, 74, 73]


@pytest.mark.parametrize(
    ("physiology", "field", "problem"),
    [
        (
            _phys(EDA, ("ecg", 0.0, ECG[2])),
            "physiology.channels[1].sampling_rate_hz",
            "must be > 0",
        ),
        (_phys(("ecg", -5.0, ECG[2])), "physiology.channels[0].sampling_rate_hz", "must be > 0"),
        (_phys(("ecg", math.nan, ECG[2])), "physiology.channels[0].sampling_rate_hz", "finite"),
        (_phys(("ecg", 20.0, ECG[2])), "physiology.channels[0].sampling_rate_hz", "50 Hz"),
        (_phys(("ecg", 1e6, ECG[2])), "physiology.channels[0].sampling_rate_hz", "<="),
        (_phys(("gsr", 4.0, EDA[2])), "physiology.channels[0].name", "unknown channel 'gsr'"),
        (_phys(("", 4.0, EDA[2])), "physiology.channels[0].name", "missing"),
        (
            _phys(("eda", 4.0, [2.0] * 10 + [math.inf] + [2.0] * 30)),
            "physiology.channels[0].samples[10]",
            "not a finite number",
        ),
        (
            _phys(EDA, ("ecg", 100.0, [math.nan] * 600)),
            "physiology.channels[1].samples[0]",
            "not a finite number",
        ),
        (_phys(("ecg", 100.0, [0.0] * 100)), "physiology.channels[0].samples", "too few samples"),
        (_phys(("heart_rate", 1.0, [70.0, 71.0])), "physiology.channels[0].samples", "too few"),
        (
            _phys(("heart_rate", 1.0, [70.0, 300.0, 72.0])),
            "physiology.channels[0].samples[1]",
            "outside 25-250 bpm",
        ),
        (
            _phys(("heart_rate", 1.0, [70.0, 71.0, 12.0])),
            "physiology.channels[0].samples[2]",
            "outside 25-250 bpm",
        ),
        (
            _phys(("eda", 4.0, [2.0] * 20 + [-0.5] * 20)),
            "physiology.channels[0].samples[20]",
            "cannot be negative",
        ),
        (_phys(EDA, ECG, ("eda", 8.0, [1.0] * 80)), "physiology.channels[2].name", "given twice"),
        (_phys(("EDA", 4.0, EDA[2]), EDA), "physiology.channels[1].name", "given twice"),
        (common_pb2.Physiology(), "physiology", "no channels"),
    ],
)
def test_bad_input_names_its_field(
    physiology: common_pb2.Physiology, field: str, problem: str
) -> None:
    err = _error(physiology)
    assert err.field == field
    assert problem in err.problem
    assert str(err).startswith(f"{field}: ")


def test_rate_zero_message_is_exact() -> None:
    err = _error(_phys(EDA, ("ecg", 0.0, ECG[2])))
    assert str(err) == "physiology.channels[1].sampling_rate_hz: must be > 0"


def test_legacy_heart_rate_errors() -> None:
    err = _error(common_pb2.Physiology(heart_rate=[70, 71, 400]))
    assert err.field == "physiology.heart_rate[2]" and "bpm" in err.problem
    err = _error(common_pb2.Physiology(heart_rate=[70, 71, math.nan]))
    assert err.field == "physiology.heart_rate[2]"
    both = _phys(HR)
    both.heart_rate.extend([70, 71, 72])
    err = _error(both)
    assert err.field == "physiology.heart_rate" and "given twice" in err.problem


def test_bad_units_and_start_and_markers() -> None:
    p = _phys(EDA)
    p.channels[0].unit = "kOhm"
    assert _error(p).field == "physiology.channels[0].unit"
    p = _phys(EDA)
    p.channels[0].unit = "µS"
    assert signals.from_proto(p).channels["eda"].unit == "µS"
    p = _phys(("eda", 4.0, [2.0] * 20 + [-0.001] * 20))  # amplifier offset: tolerated
    assert signals.from_proto(p).channels["eda"].samples.min() == -0.001
    p = _phys(EDA)
    p.channels[0].start_s = -1.0
    assert _error(p).field == "physiology.channels[0].start_s"
    p = _phys(EDA)
    p.markers.add(kind=common_pb2.QuestionMarker.RELEVANT, start_s=5.0, end_s=2.0)
    assert _error(p).field == "physiology.markers[0].end_s"


def test_baseline_and_options_errors_name_their_fields() -> None:
    analyzer = PhysiologyAnalyzer()
    req = modality_pb2.ModalityRequest()
    req.input.physiology.heart_rate.extend([70, 71, 72, 73])
    req.baseline.physiology.CopyFrom(_phys(("eda", 0.0, [1.0] * 40)))
    with pytest.raises(InvalidInput) as info:
        analyzer.prepare(req)
    assert info.value.field == "baseline.physiology.channels[0].sampling_rate_hz"
    req.ClearField("baseline")
    req.options.window_s = -3
    with pytest.raises(InvalidInput) as info:
        analyzer.prepare(req)
    assert info.value.field == "options.window_s"
