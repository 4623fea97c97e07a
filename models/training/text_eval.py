"""Hotel-disjoint evaluation of `text_deception`, its baselines and the previous model.

Nested: the outer GroupKFold holds out whole hotels; inside each outer training fold the whole
pipeline is refitted (inner out-of-fold n-gram and cue log-odds, the stacker, Platt scaling,
and the threshold reported as "chosen on the training folds"), so nothing of a test hotel
reaches any fitted number. Intervals: percentile bootstrap over hotels of the fixed
out-of-fold predictions. A lockbox of hotels that were never looked at while the design was
chosen gives one more, cleaner estimate (`lockbox`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score, brier_score_loss, roc_auc_score

from models.training import text_previous
from models.training.metrics import ece
from models.training.text_data import CUE_NAMES, Corpus
from models.training.text_model import fit_calibrated, fit_text_model, group_folds
from models.training.text_previous import fit_previous

OUTER_FOLDS = 8  # 2 of the 16 hotels held out per fold
N_BOOT = 2000
SEED = 20110619  # ACL 2011
LOCKBOX_HOTELS = 4  # drawn with SEED before the design was chosen; see lockbox_hotels
LOCKBOX_MIN_HOTELS = 12  # fewer hotels: no lockbox (too few left to train and evaluate on)
SERVED_THRESHOLD = 0.5

PREVIOUS = text_previous.DESCRIPTION
LENGTH, SENTIMENT = "length only (word count)", "sentiment only (VADER compound)"
BASELINES = {LENGTH: 0, SENTIMENT: 1}  # column of Corpus.surface
CUES_ONLY = f"cues only ({len(CUE_NAMES)} categories)"
NGRAMS_ONLY = "n-grams only (words + characters)"
SERVED = "served: n-grams + cues, stacked"
MODELS = (LENGTH, SENTIMENT, PREVIOUS, CUES_ONLY, NGRAMS_ONLY, SERVED)
PLOTTED = (PREVIOUS, CUES_ONLY, NGRAMS_ONLY, SERVED)


@dataclass
class Evaluation:
    """Out-of-fold probabilities of every model on every text, and what each fold chose."""

    probs: dict[str, np.ndarray]
    train_threshold: np.ndarray  # per text: the served model's threshold from its training folds
    folds: list[tuple[np.ndarray, np.ndarray]]
    stack_weights: list[tuple[float, float]] = field(default_factory=list)  # (w_ngram, w_cue)


def evaluate(
    corpus: Corpus, n_folds: int = OUTER_FOLDS, log: Callable[[str], None] = print
) -> Evaluation:
    n = len(corpus.y)
    probs = {name: np.zeros(n) for name in MODELS}
    train_threshold = np.zeros(n)
    folds = group_folds(corpus.hotels, n_folds)
    weights = []
    for k, (train, test) in enumerate(folds):
        tr, te = corpus.subset(train), corpus.subset(test)
        for name, column in BASELINES.items():
            one = fit_calibrated(tr.surface[:, [column]], tr.y, tr.hotels)
            probs[name][test] = one.probability(te.surface[:, [column]])
        probs[CUES_ONLY][test] = fit_calibrated(tr.cues, tr.y, tr.hotels).probability(te.cues)
        previous = fit_previous(tr.texts, tr.y, tr.hotels, tr.cues)
        probs[PREVIOUS][test] = previous.probability(te.texts, te.cues)
        model = fit_text_model(tr.texts, tr.y, tr.hotels, tr.cues)
        probs[NGRAMS_ONLY][test] = model.ngram_probability(te.texts)
        probs[SERVED][test] = model.probability(te.texts, te.cues)
        train_threshold[test] = model.threshold
        weights.append((model.w_ngram, model.w_cue))
        log(f"outer fold {k + 1}/{len(folds)} ({', '.join(sorted(set(te.hotels)))}) done")
    return Evaluation(probs, train_threshold, folds, weights)


# --------------------------------------------------------------------------- metrics


def metrics(
    y: np.ndarray, p: np.ndarray, threshold: float | np.ndarray = SERVED_THRESHOLD
) -> dict[str, float]:
    """Balanced accuracy at `threshold` (per text or one value), ROC AUC, Brier score, ECE."""
    return {
        "balanced_accuracy": float(balanced_accuracy_score(y, p >= threshold)),
        "roc_auc": float(roc_auc_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "ece": ece(y, p),
    }


Statistic = Callable[[np.ndarray], dict[str, float]]


def bootstrap(
    statistic: Statistic, units: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of `statistic(rows)`, resampling whole units (hotels, or
    single texts) with replacement; draws with one class only are skipped."""
    names = np.unique(units)
    rows = {u: np.flatnonzero(units == u) for u in names}
    draws: dict[str, list[float]] = {}
    for _ in range(N_BOOT):
        idx = np.concatenate([rows[u] for u in rng.choice(names, size=len(names))])
        if len(np.unique(y[idx])) < 2:
            continue
        for key, value in statistic(idx).items():
            draws.setdefault(key, []).append(value)
    return {
        k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in draws.items()
    }


def model_statistic(y: np.ndarray, p: np.ndarray, threshold: float | np.ndarray = 0.5) -> Statistic:
    t = np.broadcast_to(np.asarray(threshold, dtype=np.float64), p.shape)
    return lambda idx: metrics(y[idx], p[idx], t[idx])


def difference_statistic(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> Statistic:
    """a minus b in ROC AUC and in balanced accuracy at 0.5, on the same texts."""

    def stat(idx: np.ndarray) -> dict[str, float]:
        ma, mb = metrics(y[idx], a[idx]), metrics(y[idx], b[idx])
        return {k: ma[k] - mb[k] for k in ("roc_auc", "balanced_accuracy")}

    return stat


@dataclass
class Scored:
    """Point estimates and 95% intervals of one set of predictions."""

    point: dict[str, float]
    ci: dict[str, tuple[float, float]]


def score(
    y: np.ndarray,
    p: np.ndarray,
    units: np.ndarray,
    rng: np.random.Generator,
    threshold: float | np.ndarray = SERVED_THRESHOLD,
) -> Scored:
    statistic = model_statistic(y, p, threshold)
    return Scored(statistic(np.arange(len(y))), bootstrap(statistic, units, y, rng))


def difference(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, units: np.ndarray, rng: np.random.Generator
) -> Scored:
    statistic = difference_statistic(y, a, b)
    return Scored(statistic(np.arange(len(y))), bootstrap(statistic, units, y, rng))


def fold_rows(corpus: Corpus, evaluation: Evaluation, models: tuple[str, ...]) -> list[dict]:
    """Per outer fold: its hotels, size, and each model's ROC AUC and balanced accuracy."""
    out = []
    for _, test in evaluation.folds:
        y = corpus.y[test]
        row: dict = {"hotels": sorted(set(corpus.hotels[test])), "n": len(test)}
        for name in models:
            row[name] = metrics(y, evaluation.probs[name][test])
        out.append(row)
    return out


# --------------------------------------------------------------------------- lockbox


def lockbox_hotels(hotels: np.ndarray) -> list[str]:
    """LOCKBOX_HOTELS hotels drawn with SEED (none when fewer than LOCKBOX_MIN_HOTELS). These were
    drawn, and left out of every comparison, before the model's design was chosen."""
    names = sorted(np.unique(hotels))
    if len(names) < LOCKBOX_MIN_HOTELS:
        return []
    rng = np.random.default_rng(SEED)
    return sorted(str(h) for h in rng.choice(names, LOCKBOX_HOTELS, replace=False))


@dataclass
class Lockbox:
    hotels: list[str]
    n_train: int
    n_test: int
    served: Scored
    previous: Scored
    difference: Scored


def lockbox(corpus: Corpus, rng: np.random.Generator) -> Lockbox | None:
    """Fit on the other hotels, score the lockbox hotels once (intervals: bootstrap over texts,
    as 4 hotels are too few to resample)."""
    held = lockbox_hotels(corpus.hotels)
    if not held:
        return None
    test = np.flatnonzero(np.isin(corpus.hotels, held))
    train = np.flatnonzero(~np.isin(corpus.hotels, held))
    tr, te = corpus.subset(train), corpus.subset(test)
    served = fit_text_model(tr.texts, tr.y, tr.hotels, tr.cues).probability(te.texts, te.cues)
    previous = fit_previous(tr.texts, tr.y, tr.hotels, tr.cues).probability(te.texts, te.cues)
    units = np.arange(len(te.y))
    return Lockbox(
        hotels=held,
        n_train=len(train),
        n_test=len(test),
        served=score(te.y, served, units, rng),
        previous=score(te.y, previous, units, rng),
        difference=difference(te.y, served, previous, units, rng),
    )


# --------------------------------------------------------------------------- plot


def reliability_plot(y: np.ndarray, probs: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = np.linspace(0, 1, 11)
    fig, ax = plt.subplots(figsize=(5.5, 5.5), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for name, p in probs.items():
        idx = np.clip(np.digitize(p, edges[1:-1]), 0, 9)
        xs, ys = [], []
        for b in range(10):
            if (idx == b).sum() >= 5:
                xs.append(p[idx == b].mean())
                ys.append(y[idx == b].mean())
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {ece(y, p):.3f})")
    ax.set_xlabel("predicted P(deceptive), out of fold")
    ax.set_ylabel("observed share deceptive")
    ax.set_title("text_deception: reliability, hotel-disjoint CV")
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
