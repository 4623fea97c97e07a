"""The explanation follows the evidence: trace, top features, review flag, summary."""

from __future__ import annotations

import pytest

from fusion import reasoning
from fusion.tests.results import fuse, result, unanswered
from veritas.v1 import common_pb2 as pb

Step = pb.ReasoningStep
CAVEAT = "validated on written hotel reviews, served interview transcripts"


def explain(results, strategy=pb.LOG_ODDS):
    fused = fuse(results, strategy)
    flagged, why = reasoning.review(fused, results)
    return fused, reasoning.trace(results, fused, review_reason=why), why


def texts(steps):
    return [s.text for s in steps]


BASE = [
    result(pb.TEXT, 0.9, features={"ngram_logit": 1.2, "hedges": 0.6, "first_person": -0.4}),
    result(pb.VISION, 0.8, auc=0.7, features={"Smile": -0.5, "lipsDown": 0.8}),
]


@pytest.mark.parametrize(
    "changed",
    [
        [result(pb.TEXT, 0.2, features={"hedges": 0.6}), BASE[1]],  # a score
        [BASE[0], result(pb.VISION, 0.8, auc=0.7, confidence=0.5)],  # a confidence
        [BASE[0], unanswered(pb.VISION, pb.TIMED_OUT, "no final result within the deadline")],
        [BASE[0], result(pb.VISION, 0.8, auc=0.7, features={"Frown": 0.9})],  # the features
        [*BASE, result(pb.AUDIO, 0.7, calibrated=False)],  # one more modality
    ],
)
def test_the_trace_changes_with_the_evidence(changed):
    _, base, _ = explain(BASE)
    _, other, _ = explain(changed)
    assert texts(base) != texts(other)
    assert [s.kind for s in other][-1] == Step.ACT


def test_the_trace_changes_with_the_strategy():
    _, log_odds, _ = explain(BASE, pb.LOG_ODDS)
    _, vote, _ = explain(BASE, pb.MAJORITY_VOTE)
    assert texts(log_odds) != texts(vote)
    assert any("votes deceptive" in t for t in texts(vote))


def test_observe_think_act_from_the_actual_evidence():
    fused, steps, _ = explain(BASE)
    observed = [s for s in steps if s.kind == Step.OBSERVE]
    assert [s.modality for s in observed] == [pb.TEXT, pb.VISION]
    assert "P(deceptive)=0.90" in observed[0].text and "validated AUC 0.750" in observed[0].text
    # Top features per modality, strongest first, with their signed contribution.
    assert "ngram_logit=1.2 (+1.20), hedges=0.6 (+0.60), first_person=-0.4 (-0.40)" in (
        observed[0].text
    )
    weighed = [s for s in steps if s.kind == Step.THINK and s.modality == pb.TEXT]
    share = fused.contributions[pb.TEXT] / fused.evidence[0].logit
    assert f"ngram_logit=1.2 ({1.2 * share:+.2f})" in weighed[0].text
    assert f"{fused.contributions[pb.TEXT]:+.2f}" in weighed[0].text
    act = steps[-1]
    assert act.kind == Step.ACT
    assert pb.Decision.Name(fused.decision) in act.text and fused.reason in act.text


def test_failures_caveats_and_low_quality_are_said():
    results = [
        result(pb.TEXT, 0.9, notes=("3 hedges", CAVEAT)),
        result(pb.VISION, 0.7, confidence=0.1),
        unanswered(pb.AUDIO, pb.FAILED, "UNAVAILABLE: connection refused"),
    ]
    _, steps, why = explain(results)
    all_text = "\n".join(texts(steps))
    assert CAVEAT in all_text
    assert "vision" in all_text and "LOW QUALITY" in all_text
    assert "audio: FAILED (UNAVAILABLE: connection refused)" in all_text
    assert "missing evidence" in all_text and "audio (FAILED" in all_text
    assert "audio failed" in why and "low-quality input (vision)" in why


def test_review_says_why_and_only_when_needed():
    agreeing = [result(m, 0.95) for m in (pb.VISION, pb.AUDIO, pb.TEXT, pb.PHYSIOLOGY)]
    fused = fuse(agreeing)
    assert fused.decision == pb.DECEPTIVE
    assert reasoning.review(fused, agreeing) == (
        True,
        "a deceptive finding is weak evidence on its own",
    )
    weak = [result(pb.TEXT, 0.55), result(pb.VISION, 0.5)]
    fused = fuse(weak)
    assert fused.decision == pb.INCONCLUSIVE
    assert reasoning.review(fused, weak) == (False, "")


def test_summary_is_plain_language_built_from_the_input():
    fused = fuse(BASE)
    text = reasoning.summary(BASE, fused)
    assert text.startswith(pb.Decision.Name(fused.decision).capitalize())
    assert "text leans deceptive (0.90)" in text and "vision leans deceptive (0.80)" in text
    assert fused.reason in text
    lost = [BASE[0], unanswered(pb.VISION, pb.TIMED_OUT, "deadline")]
    other = reasoning.summary(lost, fuse(lost), "2.0-4.0 s")
    assert "about 2.0-4.0 s" in other and "No evidence from vision (timed_out)" in other
    assert other != text
