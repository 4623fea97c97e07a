"""The previous `text_deception` (served until the 2011 style categories and character n-grams
were added), refitted here only as a baseline: the new model must beat it on the same folds.

It was: tf-idf of word 1-2-grams (raw term frequency) with an L2 logistic regression (C = 10),
its out-of-fold log-odds stacked with the first 17 cue rates in one standardised logistic
regression, Platt-calibrated out of fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from models.training.text_model import (
    INNER_FOLDS,
    CalibratedLinear,
    fit_calibrated,
    group_folds,
    out_of_fold,
)
from models.training.text_ngrams import WORD_PATTERN

CUES = 17  # the first 17 categories of services/text/features.py were its inputs
DESCRIPTION = "previous model (word 1-2-grams + 17 cues)"


@dataclass
class PreviousModel:
    vectorizer: TfidfVectorizer
    lr: LogisticRegression
    final: CalibratedLinear

    def probability(self, texts: list[str], cues: np.ndarray) -> np.ndarray:
        logit = self.lr.decision_function(self.vectorizer.transform(texts))
        return self.final.probability(np.column_stack([cues[:, :CUES], logit]))


def _fit_words(texts: list[str], y: np.ndarray) -> tuple[TfidfVectorizer, LogisticRegression]:
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, token_pattern=WORD_PATTERN, lowercase=True
    )
    lr = LogisticRegression(C=10.0, max_iter=5000).fit(vectorizer.fit_transform(texts), y)
    return vectorizer, lr


def fit_previous(
    texts: list[str], y: np.ndarray, groups: np.ndarray, cues: np.ndarray
) -> PreviousModel:
    def fold(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        v, lr = _fit_words([texts[i] for i in train], y[train])
        return np.asarray(lr.decision_function(v.transform([texts[i] for i in test])))

    oof = out_of_fold(fold, group_folds(groups, INNER_FOLDS), len(y))
    final = fit_calibrated(np.column_stack([cues[:, :CUES], oof]), y, groups)
    return PreviousModel(*_fit_words(texts, y), final)
