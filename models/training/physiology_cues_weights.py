"""The prior weights of `physiology_cues`, and the model's arithmetic in numpy.

No labelled physiological deception data is available to this project, so nothing is fitted.
The *ordering* of the channels follows the comparison question test (CQT) literature
(National Research Council, 2003, The Polygraph and Lie Detection; Kircher & Raskin, 1988,
Journal of Applied Psychology 73(2)): electrodermal, then cardiovascular, then respiratory
suppression. Every magnitude below (scales and weights) is a PRIOR chosen by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.physiology.cues import CUES


@dataclass(frozen=True)
class Weight:
    """One cue's prior: `scale` is a change worth noticing, `coef` its log-odds per scale."""

    scale: float
    coef: float
    why: str


# Keyed by the cue names the analyzer emits (services/physiology/cues.py), in that order.
# Channel totals: electrodermal 1.5, cardiovascular 0.7, respiratory 0.35 (the ordering is
# from the literature above; the numbers are priors).
WEIGHTS: dict[str, Weight] = {
    "eda_scr_amplitude_log_ratio": Weight(
        0.5, 0.8, "larger skin conductance responses: the most diagnostic CQT channel"
    ),
    "eda_scr_rate_delta_per_min": Weight(3.0, 0.4, "more frequent SCRs (electrodermal)"),
    "eda_tonic_delta_us": Weight(0.5, 0.3, "higher skin conductance level (electrodermal)"),
    "hr_mean_delta_bpm": Weight(5.0, 0.5, "faster heart rate (cardiovascular activation)"),
    "hrv_rmssd_delta_ms": Weight(
        10.0, -0.2, "lower RMSSD (vagal withdrawal under stress; direction is a prior)"
    ),
    "resp_amplitude_log_ratio": Weight(
        0.25, -0.35, "smaller breaths: respiratory suppression, the weakest CQT channel"
    ),
}
FEATURES = tuple(c.name for c in CUES)
assert tuple(WEIGHTS) == FEATURES, "WEIGHTS must follow services.physiology.cues.CUES"
SCALE = np.array([WEIGHTS[f].scale for f in FEATURES], dtype=np.float64)
COEF = np.array([WEIGHTS[f].coef for f in FEATURES], dtype=np.float64)
MEAN = np.zeros(len(FEATURES))  # every cue is a change from the reference: 0 means none
INTERCEPT = 0.0  # no change from the reference: probability 0.5, i.e. no evidence


def reference_numpy(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's arithmetic in numpy: (probability [n, 1], contributions [n, K])."""
    contributions = (x - MEAN) / SCALE * COEF
    logit = contributions.sum(axis=1, keepdims=True) + INTERCEPT
    return 1.0 / (1.0 + np.exp(-logit)), contributions
