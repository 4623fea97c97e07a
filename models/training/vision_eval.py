"""Evaluating `vision_behaviour` out of fold, against the sex-only rule and the majority class.

Every number comes from the subject-separated out-of-fold probabilities of
vision_fit.cross_validate. Intervals: 95% percentile bootstrap over subjects; the model minus
the "female => lie" rule is paired over the same resamples. Reliability: equal-width bins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from models.training.vision_fit import CrossValidated

SEED = 0
BOOTSTRAP = 2000
CAL_BINS = 5  # 121 clips: 10 bins would leave most of them nearly empty

Metric = Callable[[np.ndarray, np.ndarray], float]
Interval = tuple[float, float, float]  # (point, low, high)


def bootstrap_ci(
    y: np.ndarray, score: np.ndarray, groups: np.ndarray, metric: Metric, rng: np.random.Generator
) -> Interval:
    """(point, low, high): 95% percentile interval, resampling subjects with replacement."""
    point = float(metric(y, score))
    subjects = np.unique(groups)
    rows = {s: np.flatnonzero(groups == s) for s in subjects}
    stats = []
    for _ in range(BOOTSTRAP):
        idx = np.concatenate([rows[s] for s in rng.choice(subjects, len(subjects))])
        if len(np.unique(y[idx])) == 2:
            stats.append(metric(y[idx], score[idx]))
    low, high = np.percentile(stats, [2.5, 97.5])
    return point, float(low), float(high)


def paired_difference(
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    groups: np.ndarray,
    metric: Metric,
    rng: np.random.Generator,
) -> Interval:
    """metric(a) - metric(b) with a 95% interval from the same subject resamples."""
    both = np.column_stack([a, b])
    return bootstrap_ci(
        y, both, groups, lambda yy, s: metric(yy, s[:, 0]) - metric(yy, s[:, 1]), rng
    )


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((p >= 0.5) == y))


def auc_or_half(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC; a constant score ranks nothing (0.5)."""
    return 0.5 if np.all(p == p[0]) else float(roc_auc_score(y, p))


def bal_acc(y: np.ndarray, p: np.ndarray) -> float:
    return float(balanced_accuracy_score(y, p >= 0.5))


def reliability(y: np.ndarray, p: np.ndarray, bins: int = CAL_BINS) -> tuple[pd.DataFrame, float]:
    """Equal-width reliability table and expected calibration error."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    ece = 0.0
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        mean_p = float(p[sel].mean()) if n else float("nan")
        rate = float(y[sel].mean()) if n else float("nan")
        if n:
            ece += n / len(y) * abs(mean_p - rate)
        rows.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "clips": n,
                "mean_p": mean_p,
                "lie_rate": rate,
            }
        )
    return pd.DataFrame(rows), float(ece)


MODEL = "model (calibrated)"
RULE = '"female => lie" rule (uses sex)'
MAJORITY = "majority class (constant)"


@dataclass
class Evaluation:
    """What the card reports about the out-of-fold predictions."""

    metrics: dict[str, tuple[Interval, Interval, Interval]]  # accuracy, bal. acc., ROC AUC
    versus_rule: tuple[Interval, Interval]  # model minus rule: bal. acc., ROC AUC
    within_sex: dict[str, tuple[float, float, int]]  # sex -> bal. acc., ROC AUC, clips
    sex_auc: float  # ROC AUC of the model's score for telling women's clips from men's
    raw: tuple[pd.DataFrame, float]  # reliability table and ECE before Platt
    calibrated: tuple[pd.DataFrame, float]  # and after

    @property
    def auc(self) -> float:
        return self.metrics[MODEL][2][0]


def evaluate(
    y: np.ndarray, groups: np.ndarray, female: np.ndarray, cv: CrossValidated
) -> Evaluation:
    rng = np.random.default_rng(SEED)
    rule = female.astype(float)
    majority = np.full(len(y), float(y.mean() >= 0.5))  # one constant class for every clip
    scores = {MODEL: cv.calibrated, RULE: rule, MAJORITY: majority}
    metrics = {
        name: (
            bootstrap_ci(y, score, groups, accuracy, rng),
            bootstrap_ci(y, score, groups, bal_acc, rng),
            bootstrap_ci(y, score, groups, auc_or_half, rng),
        )
        for name, score in scores.items()
    }
    versus_rule = (
        paired_difference(y, cv.calibrated, rule, groups, bal_acc, rng),
        paired_difference(y, cv.calibrated, rule, groups, auc_or_half, rng),
    )
    within_sex = {
        sex: (
            bal_acc(y[mask], cv.calibrated[mask]),
            float(roc_auc_score(y[mask], cv.calibrated[mask])),
            int(mask.sum()),
        )
        for sex, mask in (("F", female), ("M", ~female))
    }
    return Evaluation(
        metrics,
        versus_rule,
        within_sex,
        float(roc_auc_score(female, cv.calibrated)),
        reliability(y, cv.raw),
        reliability(y, cv.calibrated),
    )


def plot_reliability(y: np.ndarray, raw: np.ndarray, cal: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    for p, label, marker in ((raw, "before Platt", "s"), (cal, "after Platt", "o")):
        table, ece = reliability(y, p)
        ok = table["clips"] > 0
        ax.plot(
            table["mean_p"][ok],
            table["lie_rate"][ok],
            marker=marker,
            label=f"{label} (ECE {ece:.3f})",
        )
    ax.set_xlabel("predicted P(deceptive), out of fold")
    ax.set_ylabel("observed share deceptive")
    ax.set_title("vision_behaviour: subject-separated reliability", fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
