"""Metrics more than one training module reports, computed one way.

`ece` is the expected calibration error of the cards (equal-width bins, np.digitize edges);
`auc` the ROC AUC as the Mann-Whitney statistic, which unlike scikit-learn's returns NaN
instead of raising when a bootstrap draw holds one class only.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata

ECE_BINS = 10


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Bin-weighted |mean probability - observed deceptive rate|, equal-width bins."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half); NaN with one class."""
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return math.nan
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))
