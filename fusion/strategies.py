"""How modality results become one probability, and the probability a decision.

Pure functions over ModalityResult messages, so every rule here is unit-testable. What a
result weighs (reliability x confidence, low quality, missing data) is in evidence.py; where
the interval comes from is in uncertainty.py.

Strategies (Options.strategy):
  LOG_ODDS (default)  z = sum w_i * logit(p_i): reliability-weighted log-odds, a tempered
                      Bayesian update from even prior odds (w_i < 1 discounts models that
                      discriminate imperfectly, and modalities that are not independent).
  WEIGHTED_AVERAGE    p = sum w_i * p_i / sum w_i.
  MAJORITY_VOTE       every modality with weight > 0 whose score is at least CONFIDENT_MARGIN
                      from 0.5 casts one vote; p = (deceptive votes + 1/2) / (votes + 1),
                      the vote share under a Jeffreys prior, so one vote is never unanimity.
  STACKER             a logistic model the user trained on aligned multimodal data
                      (stacker.py); without one installed the answer is INCONCLUSIVE.
In every strategy a missing, failed, timed-out or low-quality modality contributes nothing
(even odds, no vote, or a stacker term of 0, as in its training) and is counted as missing
data in the uncertainty.

Decision bands and rules (p = fused P(deceptive), [low, high] its 95% interval), in order:
  no modality counted                                  -> INCONCLUSIVE
  no calibrated modality counted                       -> INCONCLUSIVE (cue models only)
  calibrated weight < MIN_CALIBRATED_WEIGHT            -> INCONCLUSIVE (too little evidence)
  counted weight < MIN_COVERAGE of the weight asked for -> INCONCLUSIVE (too much missing)
  two calibrated modalities confidently opposite       -> INCONCLUSIVE (disagreement)
  TRUTHFUL_AT < p < DECEPTIVE_AT                       -> INCONCLUSIVE (the band)
  the interval contains 0.5                            -> INCONCLUSIVE (too little evidence)
  p >= DECEPTIVE_AT -> DECEPTIVE;  p <= TRUTHFUL_AT -> TRUTHFUL
and then: a verdict stands only if the calibrated modalities alone reach the same verdict,
so uncalibrated evidence can make an answer more cautious but never make a verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from fusion.evidence import Evidence, Gap, evidence, gaps, sigmoid
from fusion.stacker import Stacker, terms
from fusion.uncertainty import (
    PRIOR_SD,
    Uncertainty,
    disagreement_se,
    interval,
    log_odds,
    missing_se,
    model_se,
)
from veritas.v1 import common_pb2

DECEPTIVE_AT = 0.65
TRUTHFUL_AT = 0.35
MIN_CALIBRATED_WEIGHT = 0.1
MIN_COVERAGE = 0.5  # share of the asked-for evidence weight that must have arrived
CONFIDENT_MARGIN = 0.15  # |p - 0.5| above which a modality "points" one way
STACKER_LOGIT_LIMIT = 30.0

Decision: TypeAlias = common_pb2.Decision
Strategy: TypeAlias = common_pb2.FusionStrategy


@dataclass(frozen=True)
class Combination:
    """A strategy's answer: the probability, the weight with which each modality's log-odds
    entered it, and (for the stacker) its own model standard error."""

    probability: float
    weights: dict[common_pb2.Modality, float]
    model_se: float | None = None


Combiner = Callable[[Sequence[Evidence]], Combination]


def combine_log_odds(ev: Sequence[Evidence]) -> Combination:
    z = sum(e.weight * e.logit for e in ev)
    return Combination(sigmoid(z), {e.modality: e.weight for e in ev})


def combine_weighted_average(ev: Sequence[Evidence]) -> Combination:
    total = sum(e.weight for e in ev)
    weights = {e.modality: e.weight for e in ev}
    if total <= 0:
        return Combination(0.5, weights)
    return Combination(sum(e.weight * e.score for e in ev) / total, weights)


def votes(ev: Sequence[Evidence]) -> list[Evidence]:
    return [e for e in ev if e.weight > 0 and abs(e.score - 0.5) >= CONFIDENT_MARGIN]


def combine_majority_vote(ev: Sequence[Evidence]) -> Combination:
    voters = votes(ev)
    deceptive = sum(1 for e in voters if e.score > 0.5)
    weights = {e.modality: 0.0 for e in ev} | {e.modality: e.weight for e in voters}
    return Combination((deceptive + 0.5) / (len(voters) + 1), weights)


def stacker_combiner(stacker: Stacker) -> Combiner:
    def combine(ev: Sequence[Evidence]) -> Combination:
        used = [e for e in ev if e.name in stacker.modalities]
        t = terms(used)
        z = max(-STACKER_LOGIT_LIMIT, min(STACKER_LOGIT_LIMIT, stacker.logit(t)))
        weights = {e.modality: 0.0 for e in ev} | {
            e.modality: stacker.coefficients[e.name] * e.confidence for e in used
        }
        return Combination(sigmoid(z), weights, stacker.standard_error(t))

    return combine


COMBINERS: dict[common_pb2.FusionStrategy, Combiner] = {
    common_pb2.LOG_ODDS: combine_log_odds,
    common_pb2.WEIGHTED_AVERAGE: combine_weighted_average,
    common_pb2.MAJORITY_VOTE: combine_majority_vote,
}


def combiner(strategy: Strategy, stacker: Stacker | None = None) -> Combiner | None:
    """The strategy's combiner; None for STACKER without a trained stacker."""
    if strategy == common_pb2.STACKER:
        return stacker_combiner(stacker) if stacker else None
    return COMBINERS.get(strategy, combine_log_odds)


@dataclass(frozen=True)
class Estimate:
    probability: float
    low: float
    high: float
    uncertainty: Uncertainty
    weights: dict[common_pb2.Modality, float]


def estimate(ev: Sequence[Evidence], missing: Sequence[Gap], combine: Combiner) -> Estimate:
    c = combine(ev)
    w = [c.weights.get(e.modality, 0.0) for e in ev]
    u = Uncertainty(
        model=c.model_se if c.model_se is not None else model_se(w),
        disagreement=disagreement_se([e.logit for e in ev], w),
        missing=missing_se(missing),
    )
    low, high = interval(c.probability, u.total)
    return Estimate(c.probability, low, high, u, c.weights)


def band(p: float) -> Decision:
    if p >= DECEPTIVE_AT:
        return common_pb2.DECEPTIVE
    if p <= TRUTHFUL_AT:
        return common_pb2.TRUTHFUL
    return common_pb2.INCONCLUSIVE


def opposed(ev: Sequence[Evidence]) -> tuple[list[Evidence], list[Evidence]]:
    """Calibrated modalities pointing confidently deceptive, and truthful."""
    pointing = [
        e for e in ev if e.calibrated and e.weight > 0 and abs(e.score - 0.5) >= CONFIDENT_MARGIN
    ]
    return [e for e in pointing if e.score > 0.5], [e for e in pointing if e.score < 0.5]


def _scores(ev: Sequence[Evidence]) -> str:
    return ", ".join(f"{e.name} {e.score:.2f}" for e in ev)


def _missing(missing: Sequence[Gap]) -> str:
    return ", ".join(g.name + ("" if g.share >= 1 else f" ({g.share:.0%})") for g in missing)


def coverage(ev: Sequence[Evidence], missing: Sequence[Gap]) -> float:
    """The share of the evidence weight asked for that arrived (1 when nothing is missing)."""
    counted = sum(e.weight for e in ev)
    lost = sum(g.weight for g in missing)
    return counted / (counted + lost) if counted + lost > 0 else 0.0


def decide(
    est: Estimate, ev: Sequence[Evidence], missing: Sequence[Gap] = ()
) -> tuple[Decision, str]:
    p, low, high = est.probability, est.low, est.high
    if not ev:
        return common_pb2.INCONCLUSIVE, "no modality produced a usable score"
    calibrated = [e for e in ev if e.calibrated]
    if not calibrated:
        return common_pb2.INCONCLUSIVE, (
            f"only uncalibrated models answered ({', '.join(e.name for e in ev)}); "
            "their scores are never a verdict"
        )
    weight = sum(e.weight for e in calibrated)
    if weight < MIN_CALIBRATED_WEIGHT:
        return common_pb2.INCONCLUSIVE, (
            f"too little calibrated evidence: weight {weight:.2f} < {MIN_CALIBRATED_WEIGHT} "
            f"({_scores(calibrated)})"
        )
    share = coverage(ev, missing)
    if share < MIN_COVERAGE:
        return common_pb2.INCONCLUSIVE, (
            f"too much evidence is missing: {share:.0%} of the evidence weight asked for "
            f"arrived (< {MIN_COVERAGE:.0%}); missing {_missing(missing)}"
        )
    deceptive, truthful = opposed(ev)
    if deceptive and truthful:
        return common_pb2.INCONCLUSIVE, (
            f"calibrated modalities disagree: {_scores(deceptive)} point deceptive, "
            f"{_scores(truthful)} truthful"
        )
    verdict = band(p)
    if verdict == common_pb2.INCONCLUSIVE:
        return verdict, (
            f"P(deceptive) {p:.2f} is inside the inconclusive band ({TRUTHFUL_AT}, {DECEPTIVE_AT})"
        )
    word = common_pb2.Decision.Name(verdict).lower()
    if low <= 0.5 <= high:
        return common_pb2.INCONCLUSIVE, (
            f"P(deceptive) {p:.2f} is in the {word} band, but its 95% interval "
            f"[{low:.2f}, {high:.2f}] includes 0.5: too little evidence to tell which way"
        )
    edge = f">= {DECEPTIVE_AT}" if verdict == common_pb2.DECEPTIVE else f"<= {TRUTHFUL_AT}"
    return verdict, (
        f"P(deceptive) {p:.2f} {edge} and its 95% interval [{low:.2f}, {high:.2f}] excludes 0.5"
    )


@dataclass
class Fused:
    strategy: Strategy
    probability: float
    low: float
    high: float
    uncertainty: Uncertainty
    confidence: float
    decision: Decision
    reason: str
    evidence: list[Evidence] = field(default_factory=list)
    weights: dict[common_pb2.Modality, float] = field(default_factory=dict)
    # How far each modality moved the fused log-odds: z(all) - z(all but this one).
    contributions: dict[common_pb2.Modality, float] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    disagreement: bool = False
    calibrated_only: float | None = None  # P from calibrated modalities alone, when checked


def _contributions(
    ev: Sequence[Evidence], combine: Combiner, p: float
) -> dict[common_pb2.Modality, float]:
    out: dict[common_pb2.Modality, float] = {}
    for e in ev:
        rest = [x for x in ev if x is not e]
        p_without = combine(rest).probability
        out[e.modality] = log_odds(p) - log_odds(p_without)
    return out


def _confidence(ev: Sequence[Evidence], u: Uncertainty) -> float:
    """How much of the prior uncertainty the evidence removed, counting only the share of
    the weight that is calibrated (cue models alone give 0)."""
    total = sum(e.weight for e in ev)
    if total <= 0:
        return 0.0
    calibrated = sum(e.weight for e in ev if e.calibrated) / total
    return max(0.0, 1.0 - u.total / PRIOR_SD) * calibrated


def fuse(
    results: Sequence[common_pb2.ModalityResult],
    strategy: Strategy = common_pb2.LOG_ODDS,
    stacker: Stacker | None = None,
) -> Fused:
    ev = evidence(results)
    missing = gaps(results)
    combine = combiner(strategy, stacker)
    if combine is None:
        u = Uncertainty(PRIOR_SD, 0.0, missing_se(missing))
        low, high = interval(0.5, u.total)
        return Fused(
            strategy=strategy,
            probability=0.5,
            low=low,
            high=high,
            uncertainty=u,
            confidence=0.0,
            decision=common_pb2.INCONCLUSIVE,
            reason="STACKER was asked for but no trained stacker is installed "
            "(python -m models.training.stacker --data F.csv)",
            evidence=ev,
            gaps=missing,
        )
    est = estimate(ev, missing, combine)
    decision, reason = decide(est, ev, missing)
    calibrated_only = None
    if decision != common_pb2.INCONCLUSIVE and any(not e.calibrated for e in ev):
        calibrated = [e for e in ev if e.calibrated]
        alone = estimate(calibrated, missing, combine)
        calibrated_only = alone.probability
        if decide(alone, calibrated, missing)[0] != decision:
            decision, reason = (
                common_pb2.INCONCLUSIVE,
                (
                    f"the verdict would rest on uncalibrated models "
                    f"({', '.join(e.name for e in ev if not e.calibrated)}): the calibrated "
                    f"modalities alone give P(deceptive) {alone.probability:.2f} "
                    f"[{alone.low:.2f}, {alone.high:.2f}]"
                ),
            )
    deceptive, truthful = opposed(ev)
    return Fused(
        strategy=strategy,
        probability=est.probability,
        low=est.low,
        high=est.high,
        uncertainty=est.uncertainty,
        confidence=_confidence(ev, est.uncertainty),
        decision=decision,
        reason=reason,
        evidence=list(ev),
        weights=est.weights,
        contributions=_contributions(ev, combine, est.probability),
        gaps=missing,
        disagreement=bool(deceptive and truthful),
        calibrated_only=calibrated_only,
    )


def strategy_name(strategy: Strategy) -> str:
    return common_pb2.FusionStrategy.Name(strategy)
