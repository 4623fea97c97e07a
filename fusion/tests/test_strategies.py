"""Fusion rules on constructed modality results."""

import pytest

from fusion import reasoning
from fusion.strategies import DECEPTIVE_AT, fuse
from veritas.v1 import common_pb2 as pb


def result(modality, score, *, calibrated=True, auc=0.8, confidence=1.0, status=pb.OK):
    return pb.ModalityResult(
        modality=modality,
        status=status,
        score=score,
        confidence=confidence,
        model=pb.ModelInfo(
            name=f"m{modality}",
            version="1",
            calibrated=calibrated,
            validated_auc=auc if calibrated else 0.0,
        ),
    )


def test_agreeing_calibrated_modalities_decide():
    fused = fuse([result(pb.TEXT, 0.95), result(pb.VISION, 0.9)])
    assert fused.decision == pb.DECEPTIVE
    assert fused.probability >= DECEPTIVE_AT
    assert fused.low < fused.probability < fused.high

    fused = fuse([result(pb.TEXT, 0.05), result(pb.VISION, 0.1)])
    assert fused.decision == pb.TRUTHFUL


def test_disagreement_is_inconclusive_and_flagged_for_review():
    fused = fuse([result(pb.TEXT, 0.95), result(pb.VISION, 0.05)])
    assert fused.decision == pb.INCONCLUSIVE
    assert fused.disagreement
    assert reasoning.review(fused) == (True, "the modalities disagree")


def test_uncalibrated_alone_is_never_a_verdict():
    fused = fuse(
        [result(pb.AUDIO, 0.99, calibrated=False), result(pb.PHYSIOLOGY, 0.99, calibrated=False)]
    )
    assert fused.decision == pb.INCONCLUSIVE
    assert "uncalibrated" in fused.reason


def test_uncalibrated_cannot_push_a_verdict_over_the_band():
    calibrated_only = fuse([result(pb.TEXT, 0.8, auc=0.7)])
    assert calibrated_only.decision == pb.INCONCLUSIVE
    with_cues = fuse(
        [
            result(pb.TEXT, 0.8, auc=0.7),
            result(pb.AUDIO, 0.99, calibrated=False),
            result(pb.PHYSIOLOGY, 0.99, calibrated=False),
        ]
    )
    assert with_cues.decision == pb.INCONCLUSIVE


def test_missing_failed_and_timed_out_modalities_do_not_count():
    results = [
        result(pb.TEXT, 0.95),
        pb.ModalityResult(modality=pb.VISION, status=pb.FAILED, reason="UNAVAILABLE"),
        pb.ModalityResult(modality=pb.AUDIO, status=pb.TIMED_OUT),
        pb.ModalityResult(modality=pb.PHYSIOLOGY, status=pb.SKIPPED, reason="no input"),
    ]
    fused = fuse(results)
    assert [e.modality for e in fused.evidence] == ["text"]
    steps = reasoning.trace(results, fused, pb.LOG_ODDS)
    assert any("missing evidence" in s.text and "vision (FAILED)" in s.text for s in steps)


def test_nothing_answered_is_inconclusive():
    fused = fuse([pb.ModalityResult(modality=pb.TEXT, status=pb.FAILED)])
    assert fused.decision == pb.INCONCLUSIVE
    assert fused.probability == 0.5


def test_low_quality_input_weighs_less():
    good = fuse([result(pb.TEXT, 0.9, confidence=1.0)])
    poor = fuse([result(pb.TEXT, 0.9, confidence=0.2)])
    assert abs(poor.probability - 0.5) < abs(good.probability - 0.5)


@pytest.mark.parametrize("strategy", [pb.LOG_ODDS, pb.WEIGHTED_AVERAGE, pb.MAJORITY_VOTE])
def test_every_strategy_follows_the_evidence(strategy):
    up = fuse([result(pb.TEXT, 0.95), result(pb.VISION, 0.9)], strategy)
    down = fuse([result(pb.TEXT, 0.05), result(pb.VISION, 0.1)], strategy)
    assert up.probability > 0.5 > down.probability


def test_reasoning_trace_changes_with_the_evidence():
    a = fuse([result(pb.TEXT, 0.9)])
    b = fuse([result(pb.TEXT, 0.1)])
    ta = [s.text for s in reasoning.trace([result(pb.TEXT, 0.9)], a, pb.LOG_ODDS)]
    tb = [s.text for s in reasoning.trace([result(pb.TEXT, 0.1)], b, pb.LOG_ODDS)]
    assert ta != tb
    assert "P(deceptive)=0.90" in ta[0]
