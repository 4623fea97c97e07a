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

"Calibrated" below means counted as calibrated evidence for this request: a calibrated model
whose validated domains include the request's Options.domain (evidence.py).

Decision bands and rules (p = fused P(deceptive), [low, high] its uncertainty interval), in
order:
  no modality counted                                  -> INCONCLUSIVE
  no calibrated modality counted                       -> INCONCLUSIVE (with each one's why)
  calibrated weight < MIN_CALIBRATED_WEIGHT            -> INCONCLUSIVE (too little evidence)
  calibrated weight < MIN_COVERAGE of the weight asked for (calibrated + missing)
                                                       -> INCONCLUSIVE (too much missing)
  two calibrated modalities confidently opposite       -> INCONCLUSIVE (disagreement)
  TRUTHFUL_AT < p < DECEPTIVE_AT                       -> INCONCLUSIVE (the band)
  p with any subset of the uncalibrated evidence leaves the verdict's band
                                                       -> INCONCLUSIVE (rests on cues)
  the interval contains 0.5                            -> INCONCLUSIVE (too little evidence)
  p >= DECEPTIVE_AT -> DECEPTIVE;  p <= TRUTHFUL_AT -> TRUTHFUL

Uncalibrated evidence may make the answer more cautious, never more certain: it adds no
precision, its pull widens the interval (the interval spans the answer with every subset of
it, uncertainty.interval), it cannot raise the calibrated share of the evidence, and a
verdict must hold with and without it. So adding an uncalibrated or low-quality result never
narrows the interval and never turns INCONCLUSIVE into a verdict (fusion/tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TypeAlias

from fusion.evidence import Calibration, Evidence, Gap, calibration, evidence, gaps, sigmoid
from fusion.stacker import Stacker, terms
from fusion.uncertainty import (
    INTERVAL_NAME,
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
    # Log-odds of the answer from the calibrated evidence with each subset of the
    # uncalibrated evidence: (lowest, highest). Equal when all evidence is calibrated.
    spread: tuple[float, float] = (0.0, 0.0)
    calibrated_probability: float = 0.5  # from the calibrated evidence alone


def with_cue_subsets(ev: Sequence[Evidence]) -> list[list[Evidence]]:
    """The calibrated evidence with every subset of the uncalibrated evidence (in order; the
    first is the calibrated evidence alone, the last all of it)."""
    cues = [i for i, e in enumerate(ev) if not e.calibrated]
    out = []
    for k in range(len(cues) + 1):
        for chosen in combinations(cues, k):
            out.append([e for i, e in enumerate(ev) if e.calibrated or i in chosen])
    return out


def estimate(ev: Sequence[Evidence], missing: Sequence[Gap], combine: Combiner) -> Estimate:
    """The answer and its interval. Only calibrated evidence adds precision (the model and
    disagreement parts); uncalibrated evidence moves the answer a little, and the interval
    spans where every subset of it would put the answer, so it can only widen."""
    full = combine(ev)
    calibrated = [e for e in ev if e.calibrated]
    points: list[float] = []
    stacker_se: list[float] = []
    for subset in with_cue_subsets(ev):
        c = full if len(subset) == len(ev) else combine(subset)
        points.append(log_odds(c.probability))
        if c.model_se is not None:
            stacker_se.append(c.model_se)
    w = [full.weights.get(e.modality, 0.0) for e in calibrated]
    u = Uncertainty(
        model=max(stacker_se) if stacker_se else model_se(w),
        disagreement=disagreement_se([e.logit for e in calibrated], w),
        missing=missing_se(missing),
    )
    spread = (min(points), max(points))
    low, high = interval(full.probability, u.total, spread)
    return Estimate(full.probability, low, high, u, full.weights, spread, sigmoid(points[0]))


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
    """The share of the evidence weight asked for that arrived as calibrated evidence (1 when
    nothing is missing): uncalibrated weight never makes up for missing evidence."""
    counted = sum(e.weight for e in ev if e.calibrated)
    lost = sum(g.weight for g in missing)
    return counted / (counted + lost) if counted + lost > 0 else 0.0


def cautious_point(spread: tuple[float, float]) -> float:
    """The log-odds in `spread` nearest to even odds (0 when it straddles them)."""
    low, high = spread
    if low <= 0.0 <= high:
        return 0.0
    return low if low > 0 else high


def decide(
    est: Estimate, ev: Sequence[Evidence], missing: Sequence[Gap] = ()
) -> tuple[Decision, str]:
    p, low, high = est.probability, est.low, est.high
    if not ev:
        return common_pb2.INCONCLUSIVE, "no modality produced a usable score"
    calibrated = [e for e in ev if e.calibrated]
    if not calibrated:
        return common_pb2.INCONCLUSIVE, (
            "no modality counts as calibrated evidence for this request ("
            + "; ".join(f"{e.name}: {e.why}" for e in ev)
            + "): a score that is not calibrated evidence is never a verdict"
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
            f"arrived as calibrated evidence (< {MIN_COVERAGE:.0%}); missing {_missing(missing)}"
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
    if band(sigmoid(cautious_point(est.spread))) != verdict:
        cues = ", ".join(e.name for e in ev if not e.calibrated)
        lo, hi = sigmoid(est.spread[0]), sigmoid(est.spread[1])
        return common_pb2.INCONCLUSIVE, (
            f"the {word} verdict would rest on evidence that is not calibrated ({cues}): "
            f"with and without it P(deceptive) ranges over [{lo:.2f}, {hi:.2f}], which reaches "
            f"the inconclusive band (calibrated evidence alone: {est.calibrated_probability:.2f})"
        )
    if low <= 0.5 <= high:
        return common_pb2.INCONCLUSIVE, (
            f"P(deceptive) {p:.2f} is in the {word} band, but its {INTERVAL_NAME} "
            f"[{low:.2f}, {high:.2f}] includes 0.5: too little evidence to tell which way"
        )
    edge = f">= {DECEPTIVE_AT}" if verdict == common_pb2.DECEPTIVE else f"<= {TRUTHFUL_AT}"
    return verdict, (
        f"P(deceptive) {p:.2f} {edge} and its {INTERVAL_NAME} [{low:.2f}, {high:.2f}] excludes 0.5"
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
    calibrated_only: float | None = None  # P from calibrated evidence alone, when cues spoke
    domain: int = common_pb2.INPUT_DOMAIN_UNSPECIFIED
    # Every result's counted_calibrated / calibration_reason, by modality.
    calibration: dict[common_pb2.Modality, Calibration] = field(default_factory=dict)
    spread: tuple[float, float] = (0.0, 0.0)  # see Estimate.spread


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
    domain: int = common_pb2.INPUT_DOMAIN_UNSPECIFIED,
) -> Fused:
    """Fuse one set of modality results for a request whose input is of `domain` (the
    caller's Options.domain; unknown by default, where no model counts as calibrated)."""
    ev = evidence(results, domain)
    missing = gaps(results, domain)
    calibrations = {r.modality: calibration(r, domain) for r in results}
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
            domain=domain,
            calibration=calibrations,
        )
    est = estimate(ev, missing, combine)
    decision, reason = decide(est, ev, missing)
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
        calibrated_only=(est.calibrated_probability if any(not e.calibrated for e in ev) else None),
        domain=domain,
        calibration=calibrations,
        spread=est.spread,
    )


def strategy_name(strategy: Strategy) -> str:
    return common_pb2.FusionStrategy.Name(strategy)
