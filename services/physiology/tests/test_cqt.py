"""Comparison-question scoring on simulated examinations with known responses.

samples/simulate_physiology.py: 3 charts of I1 C1 R1 C2 R2 C3 R3; skin conductance
responses, heart-rate rises or suppressed breathing after the relevant or after the
comparison questions. The ESS must score the first towards DI and the second towards NDI.
"""

from __future__ import annotations

import numpy as np
import pytest

from samples import simulate_physiology
from services.physiology import cqt, examination
from services.physiology.analyzer import PhysiologyAnalyzer
from services.physiology.responses import Response, largest_rise
from services.physiology.signals import Marker
from veritas.analysis import InvalidInput, Window
from veritas.v1 import common_pb2, modality_pb2

K = common_pb2.QuestionMarker
LATENCY_S = simulate_physiology.SCR_LATENCY_S


def exam(
    responding: str, *, charts: int = 3, channels: tuple[str, ...] = ("eda",)
) -> modality_pb2.ModalityRequest:
    req = modality_pb2.ModalityRequest()
    req.input.physiology.CopyFrom(
        simulate_physiology.examination(responding, charts=charts, channels=channels)
    )
    return req


def _summary(req: modality_pb2.ModalityRequest) -> tuple[list[Window], Window]:
    analyzer = PhysiologyAnalyzer()
    prepared = analyzer.prepare(req)
    windows = list(analyzer.windows(prepared, req.options))
    return windows, analyzer.summarize(prepared, windows)


def test_eda_responses_to_relevant_questions_score_towards_deception() -> None:
    _, s = _summary(exam("relevant"))
    f = s.features
    for q in ("R1", "R2", "R3"):
        assert f[f"cqt_{q}_eda"] == -2 * 3  # 3 charts, EDA weighted 2
        assert f[f"cqt_{q}_subtotal"] == -6
    assert f["cqt_eda_total"] == f["cqt_grand_total"] == -18
    assert f["cqt_decision"] == -1.0
    assert any("grand total -18 <= -4" in n and "DI" in n for n in s.notes)
    assert any("National Research Council" in n for n in s.notes)
    assert f["q3_R1_eda_response_us"] == pytest.approx(0.4, abs=0.05)
    assert f["q3_R1_eda_latency_s"] == pytest.approx(LATENCY_S, abs=0.3)
    assert f["q2_C1_eda_response_us"] < 0.05 and "q2_C1_eda_latency_s" not in f


def test_eda_responses_to_comparison_questions_score_towards_truthfulness() -> None:
    _, s = _summary(exam("comparison"))
    f = s.features
    assert f["cqt_eda_total"] == f["cqt_grand_total"] == 18
    assert f["cqt_decision"] == 1.0
    assert any("grand total +18 >= +2" in n and "NDI" in n for n in s.notes)


def test_no_difference_is_inconclusive_and_one_chart_is_flagged() -> None:
    _, s = _summary(exam("none"))
    assert s.features["cqt_grand_total"] == 0 and s.features["cqt_decision"] == 0.0
    _, s = _summary(exam("relevant", charts=1))
    assert s.features["cqt_grand_total"] == -6 and s.features["cqt_decision"] == -1.0
    assert any("normed for 3-5 presentations" in n for n in s.notes)


def test_heart_rate_rises_and_breathing_suppression_score_per_channel() -> None:
    _, s = _summary(exam("relevant", channels=("heart_rate", "respiration")))
    f = s.features
    assert f["cqt_cardio_total"] == -9 and f["cqt_respiration_total"] == -9
    assert f["cqt_grand_total"] == -18 and f["cqt_decision"] == -1.0
    assert f["q3_R1_hr_rise_bpm"] == pytest.approx(8.0, abs=1.0)
    assert f["q3_R1_resp_line_length"] < 0.6 * f["q2_C1_resp_line_length"]
    assert any("proxy for blood pressure" in n for n in s.notes)
    _, s = _summary(exam("comparison", channels=("heart_rate", "respiration")))
    assert s.features["cqt_grand_total"] == 18 and s.features["cqt_decision"] == 1.0


def test_scr_events_name_the_question_they_follow() -> None:
    windows, _ = _summary(exam("relevant", charts=1))
    events = [e for w in windows for e in w.events]
    assert len(events) == 3
    first = events[0]
    assert first.name == "skin_conductance_response"
    assert first.onset_s == pytest.approx(45.0 + LATENCY_S, abs=0.3)
    assert first.onset_s < first.apex_s and first.magnitude == pytest.approx(0.4, abs=0.05)
    assert "after relevant question 'R1'" in first.detail


def test_without_markers_arousal_only_and_no_verdict() -> None:
    req = exam("relevant", charts=1)
    req.input.physiology.ClearField("markers")
    _, s = _summary(req)
    assert examination.NO_MARKERS in s.notes
    assert not any(k.startswith(("cqt_", "q1_")) for k in s.features)
    req = exam("relevant", charts=1)
    kept = [m for m in req.input.physiology.markers if m.kind == K.RELEVANT]
    req.input.physiology.ClearField("markers")
    req.input.physiology.markers.extend(kept)
    _, s = _summary(req)
    assert any("no CQT scoring" in n and "no verdict" in n for n in s.notes)
    assert "cqt_grand_total" not in s.features and "q1_R1_eda_response_us" in s.features


def test_marker_errors_name_the_field() -> None:
    req = exam("relevant", charts=1)
    req.input.physiology.markers[2].kind = K.KIND_UNSPECIFIED
    with pytest.raises(InvalidInput) as info:
        PhysiologyAnalyzer().prepare(req)
    assert info.value.field == "physiology.markers[2].kind"
    req = exam("relevant", charts=1)
    req.input.physiology.markers[0].start_s = 1e4
    req.input.physiology.markers[0].end_s = 1e4 + 3
    with pytest.raises(InvalidInput) as info:
        PhysiologyAnalyzer().prepare(req)
    assert info.value.field == "physiology.markers[0].start_s"
    assert "recording's end" in info.value.problem


# --- the rules themselves ---------------------------------------------------------------


def test_compare_per_channel() -> None:
    assert cqt.compare(0.4, 0.1, "eda") == -1 and cqt.compare(0.1, 0.4, "eda") == 1
    assert cqt.compare(0.40, 0.38, "eda") == 0  # within 10%: no difference
    assert cqt.compare(0.03, 0.01, "eda") == 0  # neither is a response
    assert cqt.compare(6.0, 1.0, "cardio") == -1 and cqt.compare(1.0, 1.5, "cardio") == 0
    assert cqt.compare(0.5, -0.5, "cardio") == 0  # no rise to either
    # respiration strengths are negated line lengths: the shorter line is the response
    assert cqt.compare(-1.0, -2.0, "respiration") == -1
    assert cqt.compare(-2.0, -1.0, "respiration") == 1
    assert cqt.compare(-1.0, -1.05, "respiration") == 0
    assert cqt.compare(float("nan"), 0.4, "eda") == 0


@pytest.mark.parametrize(
    ("total", "subtotals", "decision"),
    [
        (2, {"R1": 1}, "NDI"),
        (1, {"R1": 1}, "INC"),
        (-3, {"R1": -3}, "INC"),
        (-4, {"R1": -4}, "DI"),
        (-3, {"R1": -7, "R2": 4}, "DI"),  # second stage: one subtotal at the cutscore
        (-2, {"R1": -6, "R2": 4}, "INC"),
    ],
)
def test_two_stage_decision_rules(total: int, subtotals: dict[str, int], decision: str) -> None:
    assert cqt.decide(total, subtotals)[0] == decision


def _response(number: int, kind: str, label: str = "", eda: float = 0.0) -> Response:
    """A presentation with a given EDA response and nothing else measured."""
    return Response(Marker(kind, 10.0 * number, 10.0 * number + 3, label), number, 0.0, eda)


def test_stronger_neighbouring_comparison_is_used_and_labels_group_questions() -> None:
    responses = [
        _response(1, "comparison", eda=0.2),
        _response(2, "relevant", "Did you take it?", eda=0.3),
        _response(3, "comparison", eda=0.5),  # the stronger neighbour: R scores +2
        _response(4, "relevant", "Did you take it?", eda=0.9),  # vs C3 0.5: -2
        _response(5, "relevant", eda=0.0),  # no CQ after it; C3 (0.5) before: +2
    ]
    ids = cqt.question_ids(responses)
    assert ids == {2: "Did_you_take_it", 4: "Did_you_take_it", 5: "R2"}
    exam_ = cqt.score(responses)
    assert exam_ is not None
    eda = [s for s in exam_.scores if s.channel == "eda"]
    assert [(s.relevant, s.comparison, s.score) for s in eda] == [(2, 3, 2), (4, 3, -2), (5, 3, 2)]
    assert exam_.subtotals == {"Did_you_take_it": 0, "R2": 2}


def test_largest_rise_and_its_start() -> None:
    t = np.arange(0, 15, 0.1)
    x = 2.0 - 0.01 * t + simulate_physiology.scr(t, 3.0, 0.5)
    amp, start = largest_rise(t, x, 0.5, 8.0, 15.0)
    assert amp == pytest.approx(0.5, abs=0.05) and start == pytest.approx(3.0, abs=0.2)
    amp, start = largest_rise(t, 2.0 - 0.01 * t, 0.5, 8.0, 15.0)
    assert amp == 0.0 and np.isnan(start)
