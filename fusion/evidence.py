"""What each modality result is worth as evidence: its weight, and what is missing.

A modality counts by how well its model discriminated on held-out groups and by how much of
its input it could measure:

  reliability r = 2 * (min(validated AUC, AUC_CEILING) - 0.5)   (0 at chance)
  weight      w = r * confidence

Why the ceiling: a validated AUC describes one validation set, and fusion cannot tell from a
number how well it carries over to the next input even inside the same domain. So no
validated AUC buys more than AUC_CEILING: the figure bounds, and never sets alone, a
modality's influence.

Uncalibrated cue models, and calibrated models asked about an input outside their validated
domain, get the small fixed reliability UNCALIBRATED_RELIABILITY: they move the answer a
little, add no precision to it (uncertainty.py) and never make a verdict (strategies.py).
A result whose confidence is below MIN_CONFIDENCE is low quality: it is not counted at all,
and the part of the input a result could not measure counts as missing data.

Validated domain: a model counts as calibrated evidence only when its model says
`calibrated` AND the request's Options.domain is one of the model's `validated_domains`
(the text model: written reviews). Outside its domain, and when the caller does not say what
the input is (the default), it weighs as an uncalibrated cue. `calibration` says, for every
result, whether it was counted as calibrated and why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from veritas.modalities import name_of
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


def has_score(result: common_pb2.ModalityResult) -> bool:
    """A model scored this result (a window or a final); failures and placeholders did not."""
    return result.status in SCORED and bool(result.model.name)


def low_quality(result: common_pb2.ModalityResult) -> bool:
    return has_score(result) and result.confidence < MIN_CONFIDENCE


# How each domain reads in a reason ("this request's domain is ...").
DOMAIN_WORDS: dict[int, str] = {
    common_pb2.INPUT_DOMAIN_UNSPECIFIED: "unknown (set options.domain)",
    common_pb2.WRITTEN_REVIEW: "written reviews",
    common_pb2.WRITTEN_STATEMENT: "written statements",
    common_pb2.INTERVIEW: "interviews",
}


def domain_words(domain: int) -> str:
    return DOMAIN_WORDS.get(domain, f"unknown ({domain})")


def counts_calibrated(model: common_pb2.ModelInfo, domain: int) -> bool:
    """A calibrated model, asked about an input of a domain its validation covers. An
    unknown domain (the default) is inside no model's validation."""
    return (
        model.calibrated
        and domain != common_pb2.INPUT_DOMAIN_UNSPECIFIED
        and domain in model.validated_domains
    )


@dataclass(frozen=True)
class Calibration:
    """Whether a result counted as calibrated evidence for this request, and why."""

    counted: bool
    detail: str  # the why, without "counted" / "not counted"

    @property
    def reason(self) -> str:
        return f"{'counted' if self.counted else 'not counted'}: {self.detail}"


def calibration(result: common_pb2.ModalityResult, domain: int) -> Calibration:
    """The counted_calibrated / calibration_reason of one result for a request in `domain`
    (what the validation data was, in words: ModelInfo.domain_note and the model card)."""
    if not has_score(result):
        status = common_pb2.ModalityStatus.Name(result.status)
        return Calibration(False, f"no score ({status})")
    if low_quality(result):
        c = result.confidence
        return Calibration(False, f"low quality (confidence {c:.2f} < {MIN_CONFIDENCE})")
    m = result.model
    if not m.calibrated:
        return Calibration(False, "uncalibrated model")
    if not m.validated_domains:
        return Calibration(False, "calibrated, but validated on no stated input domain")
    validated = " or ".join(domain_words(d) for d in m.validated_domains)
    asked = domain_words(domain)
    why = f"validated on {validated}, this request's domain is {asked}"
    return Calibration(counts_calibrated(m, domain), why)


def reliability(
    model: common_pb2.ModelInfo, domain: int = common_pb2.INPUT_DOMAIN_UNSPECIFIED
) -> float:
    """How far the model's validated discrimination is from chance, 0..1 (capped); the
    fixed cue reliability when the model does not count as calibrated for `domain`."""
    if not counts_calibrated(model, domain):
        return UNCALIBRATED_RELIABILITY
    auc = min(model.validated_auc, AUC_CEILING)
    return max(0.0, 2 * (auc - 0.5))


@dataclass(frozen=True)
class Evidence:
    """One modality's counted evidence."""

    modality: common_pb2.Modality
    score: float
    confidence: float
    calibrated: bool  # counted as calibrated evidence for this request's domain
    reliability: float
    why: str = ""  # the calibration reason

    @property
    def name(self) -> str:
        return name_of(self.modality)

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
        return name_of(self.modality)


def evidence(
    results: Sequence[common_pb2.ModalityResult],
    domain: int = common_pb2.INPUT_DOMAIN_UNSPECIFIED,
) -> list[Evidence]:
    """The results that count: scored by a model, with enough of the input measured; each
    calibrated only where its model's validation covers the request's `domain`."""
    out = []
    for r in results:
        if not has_score(r) or low_quality(r):
            continue
        c = calibration(r, domain)
        out.append(
            Evidence(
                modality=r.modality,
                score=min(max(r.score, 0.0), 1.0),
                confidence=min(max(r.confidence, 0.0), 1.0),
                calibrated=c.counted,
                reliability=reliability(r.model, domain),
                why=c.detail,
            )
        )
    return out


def gaps(
    results: Sequence[common_pb2.ModalityResult],
    domain: int = common_pb2.INPUT_DOMAIN_UNSPECIFIED,
) -> list[Gap]:
    """Missing data: modalities that were asked for and gave no (or only partial) evidence.

    A modality that failed, timed out or has not answered yet is missing whole; one whose
    result is low quality too; one that measured a share c of its input misses 1 - c.
    Skipped modalities (no input, not requested) are not missing: nobody asked for them.
    A failure before the model was known could have weighed as much as any modality.
    """
    out = []
    for r in results:
        known = bool(r.model.name)
        r_max = reliability(r.model, domain) if known else 2 * (AUC_CEILING - 0.5)
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
