"""Temporal alignment: a progressive update fuses evidence about one moment."""

from __future__ import annotations

import pytest

from fusion import timeline
from fusion.aggregate import Aggregate
from fusion.tests.results import result
from veritas.v1 import common_pb2 as pb
from veritas.v1 import modality_pb2


def window(modality, score, start, end, final=False, **kw):
    return modality_pb2.ModalityUpdate(
        result=result(modality, score, window=(start, end), **kw), final=final
    )


def test_intersection_over_union():
    assert timeline.iou((0, 2), (0, 2)) == 1.0
    assert timeline.iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert timeline.iou((0, 2), (2, 4)) == 0.0


def test_untimed_results_only_match_an_untimed_moment():
    untimed = result(pb.TEXT, 0.9)
    timed = result(pb.TEXT, 0.9, window=(0, 5))
    assert timeline.best_match((0.0, 5.0), [untimed]) is None
    assert timeline.best_match(None, [timed, untimed]) is untimed
    assert timeline.best_match((0.0, 5.0), [timed, untimed]) is timed


def test_the_best_overlap_wins_and_the_newest_breaks_a_tie():
    a = result(pb.VISION, 0.2, window=(0, 2))
    b = result(pb.VISION, 0.8, window=(2, 4))
    c = result(pb.VISION, 0.6, window=(2, 4))
    assert timeline.best_match((2.5, 4.0), [a, b]) is b
    assert timeline.best_match((2.0, 4.0), [a, b, c]) is c
    assert timeline.best_match((9.0, 10.0), [a, b]) is None


def stream() -> Aggregate:
    agg = Aggregate("r1", pb.Options(explain=True))
    for m in (pb.VISION, pb.TEXT, pb.PHYSIOLOGY):
        agg.open(m)
    agg.skip(pb.AUDIO, "no input")
    agg.update(pb.PHYSIOLOGY, window(pb.PHYSIOLOGY, 0.3, 0, 10, calibrated=False))
    agg.update(pb.PHYSIOLOGY, window(pb.PHYSIOLOGY, 0.9, 10, 20, calibrated=False))
    agg.update(pb.TEXT, window(pb.TEXT, 0.7, 0, 0))  # an untimed transcript
    agg.update(pb.VISION, window(pb.VISION, 0.2, 0, 2))
    agg.update(pb.VISION, window(pb.VISION, 0.8, 2, 4))
    return agg


def by_modality(r: pb.AnalysisResult) -> dict[int, pb.ModalityResult]:
    return {m.modality: m for m in r.modalities}


def test_a_progressive_update_combines_evidence_about_the_same_moment():
    agg = stream()
    progressive = agg.result(final=False)
    assert not progressive.final
    assert (progressive.window_start_s, progressive.window_end_s) == (2.0, 4.0)
    got = by_modality(progressive)
    assert (got[pb.VISION].window_start_s, got[pb.VISION].score) == (2.0, 0.8)
    # physiology 0-10 s overlaps the moment; 10-20 s (the newer window) does not.
    assert (got[pb.PHYSIOLOGY].window_start_s, got[pb.PHYSIOLOGY].score) == (0.0, 0.3)
    # The untimed transcript cannot be placed at 2-4 s: no evidence from it here.
    assert got[pb.TEXT].status == pb.PENDING and not got[pb.TEXT].model.name
    assert got[pb.TEXT].reason == "no result about 2.0-4.0 s (its results carry no timestamps)"
    assert got[pb.AUDIO].status == pb.SKIPPED
    assert any(
        "aligned on 2.0-4.0 s: vision 2.0-4.0 s, physiology 0.0-10.0 s" in s.text
        for s in progressive.reasoning
    )
    assert progressive.uncertainty.missing > 0  # the transcript's evidence is not here
    assert progressive.decision_reason and "about 2.0-4.0 s" in progressive.summary


def test_the_moment_follows_the_triggering_window():
    agg = stream()
    agg.update(pb.PHYSIOLOGY, window(pb.PHYSIOLOGY, 0.5, 20, 30, calibrated=False))
    later = agg.result(final=False)
    assert (later.window_start_s, later.window_end_s) == (20.0, 30.0)
    got = by_modality(later)
    assert got[pb.VISION].status == pb.PENDING and not got[pb.VISION].model.name
    agg.update(pb.TEXT, window(pb.TEXT, 0.6, 0, 0))
    untimed = agg.result(final=False)
    assert (untimed.window_start_s, untimed.window_end_s) == (0.0, 0.0)
    assert by_modality(untimed)[pb.TEXT].score == pytest.approx(0.6)


def test_the_final_answer_fuses_whole_input_results_and_marks_what_is_missing():
    agg = stream()
    agg.update(pb.VISION, window(pb.VISION, 0.7, 0, 4, final=True))
    agg.update(pb.TEXT, window(pb.TEXT, 0.65, 0, 0, final=True))
    agg.fail(pb.PHYSIOLOGY, pb.TIMED_OUT, "no final result within the deadline")
    final = agg.result(final=True)
    assert final.final
    got = by_modality(final)
    assert got[pb.VISION].score == pytest.approx(0.7)
    assert got[pb.PHYSIOLOGY].status == pb.TIMED_OUT
    assert got[pb.PHYSIOLOGY].model.name  # the model it would have used is kept
    assert (final.window_start_s, final.window_end_s) == (0.0, 4.0)
    u = final.uncertainty
    assert u.missing > 0 and u.total >= max(u.model, u.disagreement, u.missing)
    assert final.human_review and "physiology timed out" in final.review_reason
    assert final.probability_low <= final.deception_probability <= final.probability_high


def test_without_explain_features_are_trimmed_but_the_trace_stays():
    agg = Aggregate("r2", pb.Options(explain=False))
    agg.open(pb.TEXT)
    many = {f"f{i}": float(i) for i in range(1, 9)}
    agg.update(pb.TEXT, window(pb.TEXT, 0.7, 0, 5, final=True, features=many))
    final = agg.result(final=True)
    assert len(final.modalities[0].features) == 5
    assert any("f8=8 (+8.00)" in s.text for s in final.reasoning)
