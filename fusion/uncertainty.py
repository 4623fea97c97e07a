"""Where the uncertainty of a fused answer comes from, in log-odds standard errors.

Every strategy describes its answer as a fused log-odds z and the weight w_i with which each
modality's log-odds l_i entered it. Three independent sources widen the interval around z;
only evidence counted as calibrated for the request (evidence.py) adds precision:

  model         1 / sqrt(1 / PRIOR_SD^2 + sum of w_i over calibrated evidence)
                Evidence accumulates like precision in a normal model: with no calibrated
                evidence the answer is as uncertain as the prior (PRIOR_SD); each calibrated
                modality adds information in proportion to its weight (reliability x
                confidence), so weak or few models leave it wide. An uncalibrated score, or
                one with no information (low quality, confidence 0), adds none.
                (The stacker uses its own fit's standard error instead.)
  disagreement  min(sum of w_i * l_i over l_i > 0, sum of w_i * |l_i| over l_i < 0), over
                the calibrated evidence: the weighted log-odds pulling against the fused
                answer, 0 when every modality points the same way.
  missing       MISSING_SD * sqrt(sum g_j^2), g_j = the weight each missing share would have
                had (evidence.gaps): a modality that failed, timed out, measured only part of
                its input or reported too low a confidence could have moved z by about
                MISSING_SD per unit of weight.
  total         sqrt(model^2 + disagreement^2 + missing^2)

The interval is sigmoid(lowest - INTERVAL_Z * total) to sigmoid(highest + INTERVAL_Z * total),
where lowest and highest are the log-odds of the answer from the calibrated evidence with
each subset of the uncalibrated evidence (equal to z when all evidence is calibrated): where
uncalibrated evidence pulls the answer widens the interval, it never narrows it.

It is called the *uncertainty interval*, not a 95% interval: INTERVAL_Z is the normal 95%
quantile, but PRIOR_SD, MISSING_SD and the weights are design choices, and its measured
coverage of the probability it describes is not 95% (models/interval_coverage.py;
docs/fusion.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fusion.evidence import Gap, sigmoid

PRIOR_SD = 2.0
MISSING_SD = 1.0
INTERVAL_Z = 1.959964  # standard errors either side (the normal 95% quantile; see above)
INTERVAL_NAME = "uncertainty interval"  # what every message calls [low, high]


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


def interval(p: float, se: float, spread: tuple[float, float] | None = None) -> tuple[float, float]:
    """[low, high] around p: INTERVAL_Z standard errors beyond the log-odds `spread` (the
    answer with and without uncalibrated evidence; p's own log-odds when None)."""
    z = log_odds(p)
    lowest, highest = spread if spread is not None else (z, z)
    lowest, highest = min(lowest, z), max(highest, z)
    low = sigmoid(lowest - INTERVAL_Z * se)
    high = sigmoid(highest + INTERVAL_Z * se)
    return min(low, p), max(high, p)
