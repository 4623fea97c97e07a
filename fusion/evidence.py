"""What each modality result is worth as evidence: its weight, and what is missing.

A modality counts by how well its model discriminated on held-out groups and by how much of
its input it could measure:

  reliability r = 2 * (min(validated AUC, AUC_CEILING) - 0.5)   (0 at chance)
  weight      w = r * confidence

Why the ceiling: a validated AUC describes the model's validation domain. The models served
here are validated on other kinds of input than they receive (written hotel reviews for the
text model, human-coded behaviour for the vision model; each says so in a `caveat` note), and
fusion cannot tell from a number how well it transfers. So no validated AUC buys more than
AUC_CEILING: the in-domain figure bounds, and never sets alone, a modality's influence.

Uncalibrated cue models have no validated AUC: they get the small fixed reliability
UNCALIBRATED_RELIABILITY (see strategies.py for the rule that they never make a verdict).
A result whose confidence is below MIN_CONFIDENCE is low quality: it is not counted at all,
and the part of the input a result could not measure counts as missing data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from veritas.v1 import common_pb2

AUC_CEILING = 0.75
UNCALIBRATED_RELIABILITY = 0.1
MIN_CONFIDENCE = 0.25
LOGIT_CLAMP = 0.01  # scores are clamped to [0.01, 0.99]: no modality is ever certain
SCORED = (common_pb2.OK, common_pb2.PENDING)
UNANSWERED = (common_pb2.FAILED, common_pb2.TIMED_OUT, common_pb2.PENDING)


def logit(p: float) -> float:
    p = min(max(p, LOGIT_CLAMP), 1 - LOGIT_CLAMP)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    if x < -700:
        return 0.0
    return 1 / (1 + math.exp(-x))


def name(modality: int) -> str:
    return common_pb2.Modality.Name(modality).lower()


def has_score(result: common_pb2.ModalityResult) -> bool:
    """A model scored this result (a window or a final); failures and placeholders did not."""
    return result.status in SCORED and bool(result.model.name)


def low_quality(result: common_pb2.ModalityResult) -> bool:
    return has_score(result) and result.confidence < MIN_CONFIDENCE


def reliability(model: common_pb2.ModelInfo) -> float:
    """How far the model's validated discrimination is from chance, 0..1 (capped)."""
    if not model.calibrated:
        return UNCALIBRATED_RELIABILITY
    auc = min(model.validated_auc, AUC_CEILING)
    return max(0.0, 2 * (auc - 0.5))


@dataclass(frozen=True)
class Evidence:
    """One modality's counted evidence."""

    modality: common_pb2.Modality
    score: float
    confidence: float
    calibrated: bool
    reliability: float

    @property
    def name(self) -> str:
        return name(self.modality)

    @property
    def weight(self) -> float:
        return self.reliability * self.confidence

    @property
    def logit(self) -> float:
        return logit(self.score)


@dataclass(frozen=True)
class Gap:
    """Evidence that could have been there and is not: `share` of the modality is missing;
    `weight` is what that share would have weighed."""

    modality: common_pb2.Modality
    share: float
    weight: float
    why: str

    @property
    def name(self) -> str:
        return name(self.modality)


def evidence(results: Sequence[common_pb2.ModalityResult]) -> list[Evidence]:
    """The results that count: scored by a model, with enough of the input measured."""
    return [
        Evidence(
            modality=r.modality,
            score=min(max(r.score, 0.0), 1.0),
            confidence=min(max(r.confidence, 0.0), 1.0),
            calibrated=r.model.calibrated,
            reliability=reliability(r.model),
        )
        for r in results
        if has_score(r) and not low_quality(r)
    ]


def gaps(results: Sequence[common_pb2.ModalityResult]) -> list[Gap]:
    """Missing data: modalities that were asked for and gave no (or only partial) evidence.

    A modality that failed, timed out or has not answered yet is missing whole; one whose
    result is low quality too; one that measured a share c of its input misses 1 - c.
    Skipped modalities (no input, not requested) are not missing: nobody asked for them.
    A failure before the model was known could have weighed as much as any modality.
    """
    out = []
    for r in results:
        known = bool(r.model.name)
        r_max = reliability(r.model) if known else 2 * (AUC_CEILING - 0.5)
        if has_score(r):
            c = min(max(r.confidence, 0.0), 1.0)
            share = 1.0 if c < MIN_CONFIDENCE else 1.0 - c
            why = (
                f"low quality (confidence {c:.2f} < {MIN_CONFIDENCE})"
                if c < MIN_CONFIDENCE
                else f"{1 - c:.0%} of its input could not be measured"
            )
        elif r.status in UNANSWERED:
            share = 1.0
            status = common_pb2.ModalityStatus.Name(r.status)
            why = f"{status}: {r.reason}" if r.reason else status
        else:
            continue
        if share > 0:
            out.append(Gap(r.modality, share, r_max * share, why))
    return out
