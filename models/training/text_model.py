"""The served `text_deception` model: an n-gram model and a cue model, stacked and calibrated.

Why this shape: the n-gram model carries almost all of the signal, the cue model (linguistic
categories, rates per 100 words) is weaker but says *why* in words a reviewer knows. A
logistic regression over the two models' out-of-fold log-odds (two weights) learns how much to
trust each on texts whose hotel they never saw, with far fewer parameters than a stage that
re-weighs every cue, and Platt scaling on its own out-of-fold logits makes 0.5 mean even odds.
Because every stage is linear in log-odds, the served logit is still a sum of one term per
cue plus one n-gram term (`served_linear`), which is what the model returns as contributions.

All "out of fold" here means hotel-disjoint: GroupKFold by the groups the caller passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.model_selection import GroupKFold

from models.training.text_ngrams import NgramModel, fit_ngram

INNER_FOLDS = 5
CUE_C = 1.0
STACK_C = 1.0
NGRAM_TERM = "ngram_logit"


def group_folds(groups: np.ndarray, n_splits: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) indices, each group on one side only."""
    k = min(n_splits, len(np.unique(groups)))
    return list(GroupKFold(n_splits=k).split(np.zeros(len(groups)), groups=groups))


def out_of_fold(
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    folds: list[tuple[np.ndarray, np.ndarray]],
    n: int,
) -> np.ndarray:
    """Each row's prediction from a model fitted without its group."""
    out = np.zeros(n)
    for train, test in folds:
        out[test] = fit_predict(train, test)
    return out


@dataclass
class Standardised:
    """Logistic regression on standardised inputs; `terms` are its per-input log-odds."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def terms(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) * self.coef

    def logit(self, x: np.ndarray) -> np.ndarray:
        return self.terms(x).sum(axis=1) + self.intercept


def fit_standardised(x: np.ndarray, y: np.ndarray, c: float = CUE_C) -> Standardised:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, y)
    return Standardised(mean, scale, lr.coef_[0].copy(), float(lr.intercept_[0]))


def platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, offset) of an (almost) unpenalised 1-D logistic regression on the logits."""
    lr = LogisticRegression(C=1e6, max_iter=5000).fit(logits.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability threshold with the highest balanced accuracy on (y, p)."""
    fpr, tpr, thresholds = roc_curve(y, p)
    best = int(np.argmax(tpr - fpr))
    return float(min(thresholds[best], 1.0))


@dataclass
class CalibratedLinear:
    """A standardised logistic regression with Platt scaling on its out-of-fold logits: the
    baselines and the cues-only model."""

    model: Standardised
    slope: float
    offset: float

    def probability(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(self.slope * self.model.logit(x) + self.offset)


def fit_calibrated(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> CalibratedLinear:
    folds = group_folds(groups, INNER_FOLDS)
    oof = out_of_fold(lambda tr, te: fit_standardised(x[tr], y[tr]).logit(x[te]), folds, len(y))
    return CalibratedLinear(fit_standardised(x, y), *platt(oof, y))


@dataclass
class TextModel:
    """n-gram model + cue model, stacked (w_ngram, w_cue, bias) and Platt-calibrated."""

    ngram: NgramModel
    cues: Standardised
    w_ngram: float
    w_cue: float
    bias: float
    slope: float
    offset: float
    threshold: float  # best balanced accuracy on the training folds (reported, not served)
    ngram_platt: tuple[float, float]  # Platt scaling of the n-gram model alone (a baseline)

    def served_linear(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """(mean, scale, coef, intercept) over [cue rates..., ngram_logit]: the whole model
        as one linear log-odds, before calibration (slope, offset)."""
        mean = np.append(self.cues.mean, 0.0)
        scale = np.append(self.cues.scale, 1.0)
        coef = np.append(self.w_cue * self.cues.coef, self.w_ngram)
        return mean, scale, coef, self.w_cue * self.cues.intercept + self.bias

    def inputs(self, texts: list[str], cues: np.ndarray) -> np.ndarray:
        return np.column_stack([cues, self.ngram.logit(texts)])

    def contributions(self, texts: list[str], cues: np.ndarray) -> np.ndarray:
        mean, scale, coef, _ = self.served_linear()
        return ((self.inputs(texts, cues) - mean) / scale) * coef

    def probability(self, texts: list[str], cues: np.ndarray) -> np.ndarray:
        intercept = self.served_linear()[3]
        raw = self.contributions(texts, cues).sum(axis=1) + intercept
        return sigmoid(self.slope * raw + self.offset)

    def ngram_probability(self, texts: list[str]) -> np.ndarray:
        """The n-gram model alone, Platt-calibrated on its out-of-fold logits."""
        slope, offset = self.ngram_platt
        return sigmoid(slope * self.ngram.logit(texts) + offset)


def _stack(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    lr = LogisticRegression(C=STACK_C, max_iter=5000).fit(x, y)
    return float(lr.coef_[0, 0]), float(lr.coef_[0, 1]), float(lr.intercept_[0])


def fit_text_model(
    texts: list[str], y: np.ndarray, groups: np.ndarray, cues: np.ndarray
) -> TextModel:
    """Fit every stage; each stage downstream of another learns from out-of-fold inputs."""
    folds = group_folds(groups, INNER_FOLDS)
    n = len(y)

    def ngram_fold(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        model = fit_ngram([texts[i] for i in train], y[train])
        return model.logit([texts[i] for i in test])

    ngram_oof = out_of_fold(ngram_fold, folds, n)
    cue_oof = out_of_fold(
        lambda tr, te: fit_standardised(cues[tr], y[tr]).logit(cues[te]), folds, n
    )
    stacked_inputs = np.column_stack([ngram_oof, cue_oof])

    def stack_fold(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        a, b, c = _stack(stacked_inputs[train], y[train])
        return a * ngram_oof[test] + b * cue_oof[test] + c

    stack_oof = out_of_fold(stack_fold, folds, n)
    slope, offset = platt(stack_oof, y)
    w_ngram, w_cue, bias = _stack(stacked_inputs, y)
    return TextModel(
        ngram=fit_ngram(texts, y),
        cues=fit_standardised(cues, y),
        w_ngram=w_ngram,
        w_cue=w_cue,
        bias=bias,
        slope=slope,
        offset=offset,
        threshold=best_threshold(y, sigmoid(slope * stack_oof + offset)),
        ngram_platt=platt(ngram_oof, y),
    )
