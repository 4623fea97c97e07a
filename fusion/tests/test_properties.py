"""Properties every strategy keeps, on generated evidence (hypothesis)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.evidence import has_score
from fusion.stacker import Stacker
from fusion.strategies import DECEPTIVE_AT, TRUTHFUL_AT
from fusion.tests.results import fuse, result, unanswered
from veritas import modalities
from veritas.v1 import common_pb2 as pb

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
    chosen = draw(st.lists(st.sampled_from(modalities.ENUMS), min_size=1, max_size=4, unique=True))
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
        for m in modalities.ENUMS
    ]


any_set = st.one_of(evidence_sets(), agreeing_sets())


@st.composite
def stackers(draw: st.DrawFn) -> Stacker:
    coef = {n: draw(st.floats(0.0, 3.0)) for n in modalities.NAMES}
    var = draw(st.floats(0.0, 1.0))
    return Stacker(
        modalities=modalities.NAMES,
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
@given(evidence_sets(), st.sampled_from(STRATEGIES), stackers(), st.sampled_from(modalities.ENUMS))
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


DOMAINS = (pb.INPUT_DOMAIN_UNSPECIFIED, pb.WRITTEN_REVIEW, pb.WRITTEN_STATEMENT, pb.INTERVIEW)


@st.composite
def extra_result(draw: st.DrawFn, modality: int) -> pb.ModalityResult:
    """A result that carries no calibrated information: an uncalibrated model's score, a
    calibrated model outside the request's domain, or any model with too low a confidence
    (0 included: "nothing to compare against")."""
    kind = draw(st.sampled_from(["uncalibrated", "out of domain", "no information"]))
    if kind == "uncalibrated":
        return result(modality, draw(strong), calibrated=False, confidence=draw(confident))
    if kind == "out of domain":
        return result(
            modality, draw(strong), auc=draw(st.floats(0.5, 1.0)), domains=(pb.INTERVIEW,)
        )
    return result(
        modality,
        draw(strong),
        calibrated=draw(st.booleans()),
        confidence=draw(st.sampled_from([0.0, 0.1, 0.2])),
    )


@st.composite
def with_a_free_modality(draw: st.DrawFn) -> tuple[list[pb.ModalityResult], int]:
    """Results from one to three modalities (often agreeing, so that verdicts occur) and a
    modality that has none yet."""
    chosen = draw(st.lists(st.sampled_from(modalities.ENUMS), min_size=1, max_size=3, unique=True))
    free = draw(st.sampled_from([m for m in modalities.ENUMS if m not in chosen]))
    if draw(st.booleans()):
        return [draw(one_result(m)) for m in chosen], free
    side = draw(st.sampled_from([st.floats(0.9, 1.0), st.floats(0.0, 0.1)]))
    agreeing = [
        result(
            m,
            draw(side),
            calibrated=draw(st.sampled_from([True, True, False])),
            auc=draw(st.floats(0.7, 1.0)),
            confidence=draw(st.floats(0.6, 1.0)),
        )
        for m in chosen
    ]
    return agreeing, free


@settings(max_examples=400, deadline=None)
@given(with_a_free_modality(), st.sampled_from(STRATEGIES), stackers(), st.data())
def test_evidence_without_calibrated_information_never_makes_the_answer_more_certain(
    base, strategy, stacker, data
):
    """Adding an uncalibrated, out-of-domain or confidence-0 result never narrows the
    interval (the new one contains the old) and never turns INCONCLUSIVE into a verdict or
    one verdict into the other. The requests here state WRITTEN_REVIEW, the domain of the
    calibrated test models; the extra result is never calibrated evidence for it."""
    results, modality = base
    extra = data.draw(extra_result(modality))
    before = fuse(results, strategy, stacker)
    after = fuse([*results, extra], strategy, stacker)
    assert not any(e.calibrated for e in after.evidence if e.modality == modality)
    assert after.low <= before.low + 1e-9
    assert after.high >= before.high - 1e-9
    assert after.uncertainty.total >= before.uncertainty.total - 1e-12
    if after.decision != before.decision:
        assert after.decision == pb.INCONCLUSIVE, (before.reason, after.reason)


@FAST
@given(any_set, st.sampled_from(STRATEGIES), stackers(), st.sampled_from(DOMAINS))
def test_only_evidence_validated_for_the_requests_domain_counts_as_calibrated(
    results, strategy, stacker, domain
):
    fused = fuse(results, strategy, stacker, domain)
    for e in fused.evidence:
        model = next(r.model for r in results if r.modality == e.modality)
        assert e.calibrated == (
            model.calibrated
            and domain != pb.INPUT_DOMAIN_UNSPECIFIED
            and domain in model.validated_domains
        )
    assert set(fused.calibration) == {r.modality for r in results}
    if domain != pb.WRITTEN_REVIEW:  # the test models are validated on written reviews only
        assert fused.decision == pb.INCONCLUSIVE
        assert fused.confidence == 0.0
