"""Fitting and validating the fusion stacker.

The model is fusion/stacker.py's: z = intercept + sum_m coefficient_m * confidence_m *
logit(score_m). It is a class-balanced, L2-penalised logistic regression whose coefficients
are constrained to be >= 0 (a higher score from a modality can never lower P), fitted with
L-BFGS-B; its covariance is the inverse Hessian at the optimum (Laplace). Evaluated out of
fold (GroupKFold by `group` when given, else stratified folds), with a 95% bootstrap interval
for the AUC (resampling groups, or rows without groups).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
from scipy.optimize import minimize
from sklearn.metrics import balanced_accuracy_score, brier_score_loss
from sklearn.model_selection import GroupKFold, StratifiedKFold

from fusion.stacker import Stacker
from models.training.metrics import auc, ece
from models.training.stacker_data import Dataset

L2 = 1.0  # penalty on the coefficients (not the intercept), fixed in advance
FOLDS = 5
BOOTSTRAP = 1000


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(z, -30, 30)))


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Each class weighs half: the stacker assumes even prior odds, like every strategy."""
    n, pos = len(y), int(y.sum())
    return np.where(y == 1, n / (2 * pos), n / (2 * (n - pos)))


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, np.ndarray]:
    """theta = [intercept, coefficients >= 0] and its Laplace covariance."""
    w = balanced_weights(y)
    design = np.column_stack([np.ones(len(y)), x])

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = design @ theta
        # -log-likelihood, stable: log(1 + e^z) - y z
        nll = float(np.sum(w * (np.logaddexp(0, z) - y * z)))
        penalty = 0.5 * l2 * float(theta[1:] @ theta[1:])
        grad = design.T @ (w * (_sigmoid(z) - y))
        grad[1:] += l2 * theta[1:]
        return nll + penalty, grad

    start = np.zeros(design.shape[1])
    bounds = [(None, None)] + [(0.0, None)] * x.shape[1]
    opt = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    theta = opt.x
    p = _sigmoid(design @ theta)
    hessian = (design * (w * p * (1 - p))[:, None]).T @ design
    hessian[1:, 1:] += l2 * np.eye(x.shape[1])
    return theta, np.linalg.pinv(hessian)


def predict(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    return _sigmoid(theta[0] + x @ theta[1:])


def folds(data: Dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    if data.groups is not None:
        n = min(FOLDS, len(set(data.groups.tolist())))
        if n < 2:
            raise ValueError("need at least 2 groups for group-separated folds")
        return list(GroupKFold(n_splits=n).split(data.x, data.y, data.groups))
    n = min(FOLDS, int(min(data.y.sum(), len(data.y) - data.y.sum())))
    return list(StratifiedKFold(n_splits=n, shuffle=True, random_state=0).split(data.x, data.y))


def out_of_fold(data: Dataset) -> np.ndarray:
    oof = np.zeros(len(data.y))
    for train, test in folds(data):
        theta, _ = fit(data.x[train], data.y[train])
        oof[test] = predict(theta, data.x[test])
    return oof


def bootstrap_auc(data: Dataset, p: np.ndarray, n: int = BOOTSTRAP) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    units = data.groups if data.groups is not None else np.arange(len(data.y)).astype(str)
    names = np.unique(units)
    index = {g: np.flatnonzero(units == g) for g in names}
    aucs = []
    for _ in range(n):
        pick = np.concatenate([index[g] for g in rng.choice(names, size=len(names))])
        a = auc(data.y[pick], p[pick])
        if not math.isnan(a):
            aucs.append(a)
    return float(np.percentile(aucs, 2.5)), float(np.percentile(aucs, 97.5))


def evaluate(data: Dataset) -> dict[str, float | int | str]:
    oof = out_of_fold(data)
    low, high = bootstrap_auc(data, oof)
    equal = _sigmoid(data.x.sum(axis=1))  # every modality's term with weight 1
    return {
        "folds": "GroupKFold by group" if data.groups is not None else "StratifiedKFold (rows)",
        "auc": auc(data.y, oof),
        "auc_low": low,
        "auc_high": high,
        "balanced_accuracy": float(balanced_accuracy_score(data.y, oof >= 0.5)),
        "brier": float(brier_score_loss(data.y, oof)),
        "ece": ece(data.y, oof),
        "equal_weight_auc": auc(data.y, equal),
    }


def train(data: Dataset) -> Stacker:
    theta, covariance = fit(data.x, data.y)
    validation = evaluate(data)
    return Stacker(
        modalities=data.modalities,
        coefficients={m: float(c) for m, c in zip(data.modalities, theta[1:], strict=True)},
        intercept=float(theta[0]),
        covariance=tuple(tuple(float(v) for v in row) for row in covariance),
        info={
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": {
                "file": data.source,
                "sha256": data.sha256,
                "rows": int(len(data.y)),
                "deceptive": int(data.y.sum()),
                "groups": int(len(set(data.groups.tolist()))) if data.groups is not None else 0,
                "counted": data.counted,
            },
            "l2": L2,
            "validation": validation,
        },
    )
