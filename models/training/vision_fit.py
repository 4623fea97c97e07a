"""Fitting `vision_behaviour`: standardised L2 logistic regression with a Platt map.

Everything is subject-separated (GroupKFold by `subject`): the regularisation strength is
chosen by out-of-fold log-loss (calibration matters, not only ranking) and the Platt map is
fitted on out-of-fold logits. `cross_validate` nests both inside each outer training fold, so
its probabilities are out of fold; `fit_final` fits the served model on all clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

OUTER_FOLDS = 5
INNER_FOLDS = 4
C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def make_model(c: float) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))


def oof_logits(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float, folds: int
) -> np.ndarray:
    """Out-of-fold raw log-odds, subject-separated."""
    out = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=folds).split(x, y, groups):
        out[test] = make_model(c).fit(x[train], y[train]).decision_function(x[test])
    return out


def choose_c(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """The C with the best subject-separated log-loss (calibration matters, not only ranking)."""

    def loss(c: float) -> float:
        p = 1 / (1 + np.exp(-oof_logits(x, y, groups, c, INNER_FOLDS)))
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    return min(C_GRID, key=loss)


def fit_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, offset) of p = sigmoid(slope * logit + offset), fitted by maximum likelihood."""
    platt = LogisticRegression(C=1e6, max_iter=5000).fit(logits.reshape(-1, 1), y)
    return float(platt.coef_[0, 0]), float(platt.intercept_[0])


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-z)))


@dataclass
class CrossValidated:
    raw: np.ndarray  # out-of-fold raw probability (before Platt)
    calibrated: np.ndarray  # out-of-fold calibrated probability
    chosen_c: list[float]


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> CrossValidated:
    """Nested subject-separated CV: C and the Platt map come from the training folds only."""
    raw, cal, cs = np.zeros(len(y)), np.zeros(len(y)), []
    for train, test in GroupKFold(n_splits=OUTER_FOLDS).split(x, y, groups):
        c = choose_c(x[train], y[train], groups[train])
        cs.append(c)
        inner = oof_logits(x[train], y[train], groups[train], c, INNER_FOLDS)
        slope, offset = fit_platt(inner, y[train])
        logit = make_model(c).fit(x[train], y[train]).decision_function(x[test])
        raw[test] = sigmoid(logit)
        cal[test] = sigmoid(slope * logit + offset)
    return CrossValidated(raw, cal, cs)


@dataclass
class Final:
    """The served model: fitted on all clips, its Platt map from out-of-fold logits."""

    c: float
    slope: float
    offset: float
    pipeline: Pipeline

    @property
    def scaler(self) -> StandardScaler:
        return self.pipeline[0]  # type: ignore[no-any-return]

    @property
    def lr(self) -> LogisticRegression:
        return self.pipeline[1]  # type: ignore[no-any-return]

    def probability(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(self.slope * self.pipeline.decision_function(x) + self.offset)


def fit_final(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> Final:
    """All clips; Platt map from subject-separated out-of-fold logits."""
    c = choose_c(x, y, groups)
    slope, offset = fit_platt(oof_logits(x, y, groups, c, OUTER_FOLDS), y)
    return Final(c, slope, offset, make_model(c).fit(x, y))
