"""Every strategy on constructed modality results: agreeing, disagreeing, missing,
uncalibrated only, timed out, low quality."""

from __future__ import annotations

import math

import pytest

from fusion import reasoning
from fusion.evidence import AUC_CEILING, evidence, reliability
from fusion.stacker import Stacker
from fusion.strategies import DECEPTIVE_AT, TRUTHFUL_AT
from fusion.tests.results import DOMAIN, fuse, result, unanswered
from veritas.v1 import common_pb2 as pb

ALL = (pb.VISION, pb.AUDIO, pb.TEXT, pb.PHYSIOLOGY)
STACKER = Stacker(
    modalities=("vision", "audio", "text", "physiology"),
    coefficients={"vision": 0.5, "audio": 0.5, "text": 0.5, "physiology": 0.5},
    intercept=0.0,
    covariance=tuple(tuple(0.01 if i == j else 0.0 for j in range(5)) for i in range(5)),
)
STRATEGIES = [pb.LOG_ODDS, pb.WEIGHTED_AVERAGE, pb.MAJORITY_VOTE, pb.STACKER]


def run(results, strategy):
    return fuse(results, strategy, STACKER if strategy == pb.STACKER else None)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_agreeing_calibrated_modalities_decide(strategy):
    up = run([result(m, 0.9) for m in ALL], strategy)
    assert up.decision == pb.DECEPTIVE, up.reason
    assert up.probability >= DECEPTIVE_AT
    assert 0.5 < up.low <= up.probability <= up.high
    assert "excludes 0.5" in up.reason
    down = run([result(m, 0.1) for m in ALL], strategy)
    assert down.decision == pb.TRUTHFUL, down.reason
    assert down.probability <= TRUTHFUL_AT
    assert up.uncertainty.disagreement == pytest.approx(0.0)
    assert up.uncertainty.missing == pytest.approx(0.0)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_disagreement_is_inconclusive_and_flagged_for_review(strategy):
    results = [
        result(pb.TEXT, 0.95),
        result(pb.VISION, 0.05),
        result(pb.AUDIO, 0.9),
        result(pb.PHYSIOLOGY, 0.1),
    ]
    fused = run(results, strategy)
    assert fused.decision == pb.INCONCLUSIVE
    assert fused.disagreement
    assert "disagree" in fused.reason and "text 0.95" in fused.reason
    agreeing = run([result(m, 0.9) for m in ALL], strategy)
    assert fused.uncertainty.disagreement > agreeing.uncertainty.disagreement
    flagged, why = reasoning.review(fused, results)
    assert flagged and "disagree" in why


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_failed_modality_is_missing_not_evidence(strategy):
    answered = [result(pb.TEXT, 0.95), result(pb.VISION, 0.9), result(pb.AUDIO, 0.92)]
    failed = unanswered(pb.PHYSIOLOGY, pb.FAILED, "UNAVAILABLE: connection refused")
    without = run(answered, strategy)
    fused = run([*answered, failed], strategy)
    assert fused.probability == pytest.approx(without.probability)
    assert [e.name for e in fused.evidence] == ["text", "vision", "audio"]
    assert fused.uncertainty.missing > without.uncertainty.missing == 0
    assert fused.high - fused.low > without.high - without.low
    steps = reasoning.trace([*answered, failed], fused)
    assert any("missing evidence" in s.text and "physiology (FAILED" in s.text for s in steps)
    assert reasoning.review(fused, [*answered, failed])[0]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_only_uncalibrated_evidence_is_never_a_verdict(strategy):
    results = [
        result(pb.AUDIO, 0.99, calibrated=False),
        result(pb.PHYSIOLOGY, 0.99, calibrated=False),
    ]
    fused = run(results, strategy)
    assert fused.decision == pb.INCONCLUSIVE
    assert "no modality counts as calibrated evidence" in fused.reason
    assert "audio: uncalibrated model; physiology: uncalibrated model" in fused.reason
    assert fused.confidence == 0.0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_timed_out_modalities_leave_too_little_evidence(strategy):
    results = [
        result(pb.TEXT, 0.95),
        unanswered(pb.VISION, pb.TIMED_OUT, "no final result within the deadline"),
        unanswered(pb.AUDIO, pb.TIMED_OUT, "no final result within the deadline"),
        unanswered(pb.PHYSIOLOGY, pb.TIMED_OUT, "no final result within the deadline"),
    ]
    fused = run(results, strategy)
    assert fused.decision == pb.INCONCLUSIVE
    assert "missing" in fused.reason and "vision" in fused.reason
    assert fused.uncertainty.missing > fused.uncertainty.disagreement
    flagged, why = reasoning.review(fused, results)
    assert flagged and "vision timed out" in why


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_uncalibrated_evidence_cannot_make_a_verdict(strategy):
    calibrated = [result(pb.TEXT, 0.6), result(pb.VISION, 0.6)]
    cues = [
        result(pb.AUDIO, 0.99, calibrated=False),
        result(pb.PHYSIOLOGY, 0.99, calibrated=False),
    ]
    alone = run(calibrated, strategy)
    with_cues = run(calibrated + cues, strategy)
    assert alone.decision == pb.INCONCLUSIVE
    assert with_cues.decision == pb.INCONCLUSIVE
    if with_cues.calibrated_only is not None:
        assert "not calibrated" in with_cues.reason


def test_low_quality_results_are_not_counted_and_count_as_missing():
    poor = result(pb.TEXT, 0.95, confidence=0.1)
    fused = fuse([poor, result(pb.VISION, 0.8)])
    assert [e.name for e in fused.evidence] == ["vision"]
    assert any(g.name == "text" and "low quality" in g.why for g in fused.gaps)
    assert "low-quality input (text)" in reasoning.review(fused, [poor])[1]


def test_partial_quality_weighs_less_and_leaves_the_rest_missing():
    good = fuse([result(pb.TEXT, 0.9, confidence=1.0)])
    partial = fuse([result(pb.TEXT, 0.9, confidence=0.5)])
    assert abs(partial.probability - 0.5) < abs(good.probability - 0.5)
    assert partial.uncertainty.missing > good.uncertainty.missing == 0


def test_weight_comes_from_validated_auc_with_a_ceiling():
    weak, strong, in_domain_claim = (
        result(pb.TEXT, 0.9, auc=0.6),
        result(pb.TEXT, 0.9, auc=0.7),
        result(pb.TEXT, 0.9, auc=0.95),
    )
    assert fuse([weak]).probability < fuse([strong]).probability
    assert reliability(in_domain_claim.model, DOMAIN) == pytest.approx(2 * (AUC_CEILING - 0.5))
    assert reliability(result(pb.TEXT, 0.9, auc=0.5).model, DOMAIN) == 0.0
    chance = fuse([result(pb.TEXT, 0.99, auc=0.5)])
    assert chance.probability == pytest.approx(0.5)
    assert chance.decision == pb.INCONCLUSIVE and "too little calibrated" in chance.reason


def test_majority_vote_needs_more_than_one_vote():
    one = fuse([result(pb.TEXT, 0.99)], pb.MAJORITY_VOTE)
    assert one.probability == pytest.approx(1.5 / 2)
    assert one.decision == pb.INCONCLUSIVE
    abstain = fuse([result(pb.TEXT, 0.55), result(pb.VISION, 0.9)], pb.MAJORITY_VOTE)
    assert abstain.weights[pb.TEXT] == 0.0 and abstain.weights[pb.VISION] > 0


def test_stacker_without_a_trained_model_is_inconclusive_with_the_reason():
    fused = fuse([result(m, 0.9) for m in ALL], pb.STACKER, None)
    assert fused.decision == pb.INCONCLUSIVE
    assert "no trained stacker" in fused.reason
    assert "models.training.stacker" in fused.reason


def test_stacker_ignores_modalities_it_was_not_trained_on():
    text_only = Stacker(("text",), {"text": 1.0}, 0.0, ((0.01, 0.0), (0.0, 0.01)))
    a = fuse([result(pb.TEXT, 0.9), result(pb.VISION, 0.1)], pb.STACKER, text_only)
    b = fuse([result(pb.TEXT, 0.9), result(pb.VISION, 0.9)], pb.STACKER, text_only)
    assert a.probability == pytest.approx(b.probability)
    assert a.weights[pb.VISION] == 0.0


def test_nothing_answered_is_inconclusive_at_even_odds():
    fused = fuse([unanswered(pb.TEXT, pb.FAILED, "INTERNAL: boom")])
    assert fused.decision == pb.INCONCLUSIVE
    assert fused.probability == 0.5
    assert "no modality" in fused.reason


def test_uncertainty_parts_add_up_in_quadrature():
    fused = fuse(
        [
            result(pb.TEXT, 0.9),
            result(pb.VISION, 0.2),
            result(pb.AUDIO, 0.6, calibrated=False),
            unanswered(pb.PHYSIOLOGY, pb.TIMED_OUT),
        ]
    )
    u = fused.uncertainty
    assert min(u.model, u.disagreement, u.missing) > 0
    assert u.total == pytest.approx(math.sqrt(u.model**2 + u.disagreement**2 + u.missing**2))


def test_contributions_say_how_far_each_modality_moved_the_answer():
    fused = fuse([result(pb.TEXT, 0.9), result(pb.VISION, 0.3)])
    assert fused.contributions[pb.TEXT] > 0 > fused.contributions[pb.VISION]
    weights = {e.modality: e.weight for e in evidence([result(pb.TEXT, 0.9)], DOMAIN)}
    assert fused.contributions[pb.TEXT] == pytest.approx(weights[pb.TEXT] * math.log(9))
