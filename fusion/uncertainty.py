"""Where the uncertainty of a fused answer comes from, in log-odds standard errors.

Every strategy describes its answer as a fused log-odds z and the weight w_i with which each
modality's log-odds l_i entered it. Three independent sources widen the interval around z:

  model         1 / sqrt(1 / PRIOR_SD^2 + sum w_i)
                Evidence accumulates like precision in a normal model: with no evidence the
                answer is as uncertain as the prior (PRIOR_SD, a 95% interval of about
                0.02-0.98); each modality adds information in proportion to its weight
                (reliability x confidence), so weak or few models leave it wide.
                (The stacker uses its own fit's standard error instead.)
  disagreement  min(sum of w_i * l_i over l_i > 0, sum of w_i * |l_i| over l_i < 0)
                The weighted log-odds pulling against the fused answer: 0 when every
                modality points the same way, as large as either side when they cancel.
                When modalities point different ways at least one of them is wrong here,
                and the answer could move by as much as the side that is outvoted.
  missing       MISSING_SD * sqrt(sum g_j^2), g_j = the weight each missing share would have
                had (evidence.gaps): a modality that failed, timed out or measured only part
                of its input could have moved z by about MISSING_SD per unit of weight.
  total         sqrt(model^2 + disagreement^2 + missing^2)

The probability interval is sigmoid(z -/+ 1.96 * total). PRIOR_SD and MISSING_SD are design
choices, not measurements (there is no aligned multimodal data here to measure them on).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fusion.evidence import Gap, sigmoid

PRIOR_SD = 2.0
MISSING_SD = 1.0
Z95 = 1.959964


@dataclass(frozen=True)
class Uncertainty:
    model: float
    disagreement: float
    missing: float

    @property
    def total(self) -> float:
        return math.sqrt(self.model**2 + self.disagreement**2 + self.missing**2)


def model_se(weights: Sequence[float]) -> float:
    return 1.0 / math.sqrt(1.0 / PRIOR_SD**2 + sum(max(w, 0.0) for w in weights))


def disagreement_se(logits: Sequence[float], weights: Sequence[float]) -> float:
    pairs = list(zip(logits, weights, strict=True))
    towards_deceptive = sum(w * v for v, w in pairs if v > 0 and w > 0)
    towards_truthful = sum(-w * v for v, w in pairs if v < 0 and w > 0)
    return min(towards_deceptive, towards_truthful)


def missing_se(gaps: Sequence[Gap]) -> float:
    return MISSING_SD * math.sqrt(sum(g.weight**2 for g in gaps))


def log_odds(p: float) -> float:
    """Exact log-odds of a probability strictly inside (0, 1)."""
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def interval(p: float, se: float) -> tuple[float, float]:
    z = log_odds(p)
    return min(sigmoid(z - Z95 * se), p), max(sigmoid(z + Z95 * se), p)
