"""How modality scores become one probability, and the probability a decision.

Pure functions over ModalityResult messages, so every rule here is unit-testable.

Weights. A modality counts by how well its model discriminated on held-out groups
(reliability = 2 * (validated AUC - 0.5), 0 for chance, 1 for perfect) times the result's
own confidence (the share of its input that could be measured). Uncalibrated cue models
(no labelled data) have no validated AUC: they get a small fixed weight, and on their own
they can never move the decision out of INCONCLUSIVE.

Decision bands (probability of deception p):
  p >= 0.65 -> DECEPTIVE;  p <= 0.35 -> TRUTHFUL;  otherwise INCONCLUSIVE,
and INCONCLUSIVE whatever p is when: no modality answered, the calibrated evidence weighs
less than MIN_CALIBRATED_WEIGHT, two calibrated modalities point confidently in opposite
directions, or the calibrated modalities alone would fall in another band than all of them
together (uncalibrated evidence may neither make nor unmake a verdict).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from veritas.v1 import common_pb2

DECEPTIVE_AT = 0.65
TRUTHFUL_AT = 0.35
UNCALIBRATED_WEIGHT = 0.1
MIN_CALIBRATED_WEIGHT = 0.1
CONFIDENT_MARGIN = 0.15  # |p - 0.5| above which a modality "points" one way
LIVE = (common_pb2.OK, common_pb2.PENDING)


@dataclass(frozen=True)
class Evidence:
    """One modality's contribution to the fused answer."""

    modality: str
    score: float
    weight: float
    calibrated: bool
    reliability: float


@dataclass
class Fused:
    probability: float
    low: float
    high: float
    confidence: float
    decision: common_pb2.Decision.ValueType
    reason: str
    evidence: list[Evidence] = field(default_factory=list)
    disagreement: bool = False


def _logit(p: float) -> float:
    p = min(max(p, 0.01), 0.99)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def reliability(model: common_pb2.ModelInfo) -> float:
    if not model.calibrated:
        return 0.0
    return max(0.0, min(1.0, 2 * (model.validated_auc - 0.5)))


def evidence(results: Sequence[common_pb2.ModalityResult]) -> list[Evidence]:
    """Weighted evidence from the modalities that produced a score."""
    out = []
    for r in results:
        if r.status not in LIVE or not r.model.name:
            continue
        rel = reliability(r.model)
        base = rel if r.model.calibrated else UNCALIBRATED_WEIGHT
        out.append(
            Evidence(
                modality=common_pb2.Modality.Name(r.modality).lower(),
                score=r.score,
                weight=base * max(0.0, min(1.0, r.confidence)),
                calibrated=r.model.calibrated,
                reliability=rel,
            )
        )
    return out


def log_odds(ev: Sequence[Evidence]) -> tuple[float, float]:
    """Reliability-weighted log-odds: each modality's logit shrunk by its weight, summed.

    Returns (probability, logit standard error): the error grows with the weight that
    is missing (unreliable models) and with disagreement between modalities.
    """
    if not ev:
        return 0.5, 2.0
    z = sum(e.weight * _logit(e.score) for e in ev)
    spread = _spread([_logit(e.score) for e in ev], [e.weight for e in ev])
    model_var = sum(e.weight * (1 - e.reliability) for e in ev) + 1.0 / (1 + len(ev))
    return _sigmoid(z), math.sqrt(model_var + spread**2)


def weighted_average(ev: Sequence[Evidence]) -> tuple[float, float]:
    """Confidence-weighted mean of the probabilities."""
    total = sum(e.weight for e in ev)
    if total <= 0:
        return 0.5, 2.0
    p = sum(e.weight * e.score for e in ev) / total
    spread = _spread([_logit(e.score) for e in ev], [e.weight for e in ev])
    return p, math.sqrt(1.0 / (1 + len(ev)) + spread**2)


def majority_vote(ev: Sequence[Evidence]) -> tuple[float, float]:
    """One vote per modality that points confidently; the share of deceptive votes."""
    votes = [e.score > 0.5 for e in ev if abs(e.score - 0.5) >= CONFIDENT_MARGIN and e.weight > 0]
    if not votes:
        return 0.5, 2.0
    p = sum(votes) / len(votes)
    return 0.5 + (p - 0.5) * 0.6, math.sqrt(1.0 / len(votes))  # votes carry no magnitude


STRATEGIES = {
    common_pb2.LOG_ODDS: log_odds,
    common_pb2.WEIGHTED_AVERAGE: weighted_average,
    common_pb2.MAJORITY_VOTE: majority_vote,
}


def _spread(values: Sequence[float], weights: Sequence[float]) -> float:
    total = sum(weights)
    if total <= 0 or len(values) < 2:
        return 0.0
    mean = sum(w * v for v, w in zip(values, weights)) / total
    return math.sqrt(sum(w * (v - mean) ** 2 for v, w in zip(values, weights)) / total)


def disagree(ev: Sequence[Evidence]) -> bool:
    """Two calibrated modalities pointing confidently in opposite directions."""
    sides = {e.score > 0.5 for e in ev if e.calibrated and abs(e.score - 0.5) >= CONFIDENT_MARGIN}
    return len(sides) == 2


def fuse(
    results: Sequence[common_pb2.ModalityResult],
    strategy: common_pb2.FusionStrategy.ValueType = common_pb2.LOG_ODDS,
) -> Fused:
    ev = evidence(results)
    combine = STRATEGIES.get(strategy, log_odds)
    p, se = combine(ev)
    z = _logit(p) if 0 < p < 1 else 0.0
    low, high = _sigmoid(z - 1.96 * se), _sigmoid(z + 1.96 * se)
    calibrated_weight = sum(e.weight for e in ev if e.calibrated)
    conflict = disagree(ev)
    confidence = min(1.0, calibrated_weight) * abs(2 * p - 1) * (0.5 if conflict else 1.0)
    decision, reason = decide(p, ev, calibrated_weight, conflict)
    if decision != common_pb2.INCONCLUSIVE and any(not e.calibrated for e in ev):
        # Uncalibrated evidence may neither make nor unmake a verdict on its own.
        p_cal, _ = combine([e for e in ev if e.calibrated])
        if band(p_cal) != decision:
            decision, reason = (
                common_pb2.INCONCLUSIVE,
                (
                    f"the verdict depends on uncalibrated cue models (calibrated evidence alone "
                    f"gives {p_cal:.2f})"
                ),
            )
    return Fused(p, low, high, confidence, decision, reason, ev, conflict)


def band(p: float) -> common_pb2.Decision.ValueType:
    if p >= DECEPTIVE_AT:
        return common_pb2.DECEPTIVE
    if p <= TRUTHFUL_AT:
        return common_pb2.TRUTHFUL
    return common_pb2.INCONCLUSIVE


def decide(
    p: float, ev: Sequence[Evidence], calibrated_weight: float, conflict: bool
) -> tuple[common_pb2.Decision.ValueType, str]:
    if not ev:
        return common_pb2.INCONCLUSIVE, "no modality produced a score"
    if calibrated_weight < MIN_CALIBRATED_WEIGHT:
        if not any(e.calibrated for e in ev):
            return common_pb2.INCONCLUSIVE, (
                "only uncalibrated cue models answered; their scores are never a verdict"
            )
        return common_pb2.INCONCLUSIVE, (
            f"too little calibrated evidence (weight {calibrated_weight:.2f} "
            f"< {MIN_CALIBRATED_WEIGHT})"
        )
    if conflict:
        return common_pb2.INCONCLUSIVE, "calibrated modalities point in opposite directions"
    if band(p) == common_pb2.DECEPTIVE:
        return common_pb2.DECEPTIVE, f"probability {p:.2f} >= {DECEPTIVE_AT}"
    if band(p) == common_pb2.TRUTHFUL:
        return common_pb2.TRUTHFUL, f"probability {p:.2f} <= {TRUTHFUL_AT}"
    return common_pb2.INCONCLUSIVE, (
        f"probability {p:.2f} inside the inconclusive band ({TRUTHFUL_AT}, {DECEPTIVE_AT})"
    )
