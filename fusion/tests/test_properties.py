"""Properties every strategy keeps, on generated evidence (hypothesis)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.evidence import has_score
from fusion.stacker import Stacker
from fusion.strategies import DECEPTIVE_AT, TRUTHFUL_AT, fuse
from fusion.tests.results import result, unanswered
from veritas.v1 import common_pb2 as pb

MODALITIES = (pb.VISION, pb.AUDIO, pb.TEXT, pb.PHYSIOLOGY)
NAMES = ("vision", "audio", "text", "physiology")
STRATEGIES = (pb.LOG_ODDS, pb.WEIGHTED_AVERAGE, pb.MAJORITY_VOTE, pb.STACKER)
FAST = settings(max_examples=150, deadline=None)

probability = st.floats(0.0, 1.0, allow_nan=False)
# Biased towards strong, confident, calibrated evidence so that verdicts occur often enough
# for the rules about verdicts to be exercised, not only the INCONCLUSIVE path.
strong = st.one_of(probability, st.floats(0.85, 1.0), st.floats(0.0, 0.15))
confident = st.one_of(probability, st.floats(0.8, 1.0))


@st.composite
def one_result(draw: st.DrawFn, modality: int) -> pb.ModalityResult:
    status = draw(st.sampled_from([pb.OK] * 5 + [pb.FAILED, pb.TIMED_OUT, pb.SKIPPED]))
    if status != pb.OK:
        return unanswered(modality, status, "generated")
    return result(
        modality,
        draw(strong),
        calibrated=draw(st.sampled_from([True, True, False])),
        auc=draw(st.floats(0.5, 1.0)),
        confidence=draw(confident),
    )


@st.composite
def evidence_sets(draw: st.DrawFn) -> list[pb.ModalityResult]:
    chosen = draw(st.lists(st.sampled_from(MODALITIES), min_size=1, max_size=4, unique=True))
    return [draw(one_result(m)) for m in chosen]


@st.composite
def agreeing_sets(draw: st.DrawFn) -> list[pb.ModalityResult]:
    """Every modality answers, leaning the same way: verdicts are likely."""
    deceptive = draw(st.booleans())
    side = st.floats(0.8, 1.0) if deceptive else st.floats(0.0, 0.2)
    return [
        result(
            m,
            draw(side),
            calibrated=draw(st.sampled_from([True, True, False])),
            auc=draw(st.floats(0.7, 1.0)),
            confidence=draw(st.floats(0.6, 1.0)),
        )
        for m in MODALITIES
    ]


any_set = st.one_of(evidence_sets(), agreeing_sets())


@st.composite
def stackers(draw: st.DrawFn) -> Stacker:
    coef = {n: draw(st.floats(0.0, 3.0)) for n in NAMES}
    var = draw(st.floats(0.0, 1.0))
    return Stacker(
        modalities=NAMES,
        coefficients=coef,
        intercept=draw(st.floats(-1.0, 1.0)),
        covariance=tuple(tuple(var if i == j else 0.0 for j in range(5)) for i in range(5)),
    )


def scored(results: list[pb.ModalityResult]) -> list[int]:
    return [i for i, r in enumerate(results) if has_score(r)]


def with_change(results, i, **fields):
    out = [type(r).FromString(r.SerializeToString()) for r in results]
    for key, value in fields.items():
        setattr(out[i], key, value)
    return out


@FAST
@given(any_set, st.sampled_from(STRATEGIES), stackers(), st.data())
def test_fused_probability_rises_with_each_modalitys_score(results, strategy, stacker, data):
    indices = scored(results)
    if not indices:
        return
    i = data.draw(st.sampled_from(indices))
    higher = data.draw(st.floats(results[i].score, 1.0))
    before = fuse(results, strategy, stacker).probability
    after = fuse(with_change(results, i, score=higher), strategy, stacker).probability
    assert after >= before - 1e-9


@FAST
@given(any_set, st.sampled_from(STRATEGIES), stackers(), st.data())
def test_more_confidence_moves_the_answer_towards_that_modality(results, strategy, stacker, data):
    indices = scored(results)
    if not indices:
        return
    i = data.draw(st.sampled_from(indices))
    score = results[i].score
    more = data.draw(st.floats(results[i].confidence, 1.0))
    before = fuse(results, strategy, stacker).probability
    after = fuse(with_change(results, i, confidence=more), strategy, stacker).probability
    target = score if strategy == pb.WEIGHTED_AVERAGE else (1.0 if score > 0.5 else 0.0)
    if score == 0.5 and strategy != pb.WEIGHTED_AVERAGE:
        return
    assert abs(after - target) <= abs(before - target) + 1e-9


@FAST
@given(any_set, st.sampled_from(STRATEGIES), stackers())
def test_every_answer_respects_the_rules(results, strategy, stacker):
    fused = fuse(results, strategy, stacker)
    u = fused.uncertainty
    assert 0.0 <= fused.low <= fused.probability <= fused.high <= 1.0
    assert min(u.model, u.disagreement, u.missing) >= 0.0
    assert math.isclose(u.total, math.sqrt(u.model**2 + u.disagreement**2 + u.missing**2))
    assert 0.0 <= fused.confidence <= 1.0
    if fused.decision == pb.DECEPTIVE:
        assert fused.probability >= DECEPTIVE_AT and fused.low > 0.5
    if fused.decision == pb.TRUTHFUL:
        assert fused.probability <= TRUTHFUL_AT and fused.high < 0.5
    if fused.disagreement or not any(e.calibrated for e in fused.evidence):
        assert fused.decision == pb.INCONCLUSIVE
    if fused.decision != pb.INCONCLUSIVE:
        # Uncalibrated evidence never makes a verdict: the calibrated results alone agree.
        calibrated = [r for r in results if not has_score(r) or r.model.calibrated]
        assert fuse(calibrated, strategy, stacker).decision == fused.decision


@FAST
@given(evidence_sets(), st.sampled_from(STRATEGIES), stackers(), st.sampled_from(MODALITIES))
def test_a_missing_modality_widens_the_interval_but_never_moves_the_answer(
    results, strategy, stacker, modality
):
    if any(r.modality == modality for r in results):
        return
    before = fuse(results, strategy, stacker)
    lost = [*results, unanswered(modality, pb.TIMED_OUT, "deadline")]
    after = fuse(lost, strategy, stacker)
    assert after.probability == before.probability
    assert after.uncertainty.missing > before.uncertainty.missing
    assert after.high - after.low >= before.high - before.low - 1e-12
    if after.decision != before.decision:
        assert after.decision == pb.INCONCLUSIVE


@FAST
@given(evidence_sets())
def test_weighted_average_stays_between_the_modalities(results):
    fused = fuse(results, pb.WEIGHTED_AVERAGE)
    weighted = [e.score for e in fused.evidence if e.weight > 0]
    if weighted:
        assert min(weighted) - 1e-9 <= fused.probability <= max(weighted) + 1e-9
