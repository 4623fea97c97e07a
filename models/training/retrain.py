"""Refit a feature model on a user's own labelled rows, with group-separated cross-validation.

The model is the one every Veritas feature model has (linear_onnx): standardised features,
logistic regression (L2, C fixed in advance, not tuned on the folds), Platt calibration of
its logit on out-of-fold scores. Evaluation refits all of that inside each outer fold,
including the inner out-of-fold calibration, so no test row ever informs its own score.
With a `group` column (a person, a session) folds never split a group: the metrics then
describe new people, which is what the model will meet. Without one, rows of the same person
can land on both sides and the metrics are optimistic; the report says so.

Metrics on the pooled out-of-fold probabilities: ROC AUC, balanced accuracy at 0.5, Brier
score and expected calibration error (10 equal-width bins), each with a 95% percentile
bootstrap interval that resamples whole groups (or rows, without groups).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold

LABEL = "label"  # 1 = deceptive, 0 = truthful
GROUP = "group"
C = 1.0
MAX_FOLDS = 5
MIN_ROWS_PER_CLASS = 5
MIN_GROUPS = 4
ECE_BINS = 10
N_BOOT = 1000


class DataError(ValueError):
    """The user's CSV cannot be trained on; the message names the line, column and problem."""


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray  # [n, k] float64, columns in `feature_names` order
    y: np.ndarray  # [n] 0/1
    groups: np.ndarray | None  # [n] group ids, or None
    feature_names: tuple[str, ...]
    ignored_columns: tuple[str, ...] = ()

    @property
    def n_groups(self) -> int:
        return len(np.unique(self.groups)) if self.groups is not None else 0


def load_csv(path: Path, feature_names: Sequence[str]) -> Dataset:
    """Read `path`: one column per feature name, `label` (0/1) and an optional `group`."""
    path = Path(path)
    where = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{where}: cannot read ({e})") from None
    kept = [
        (i + 1, line)
        for i, line in enumerate(text.splitlines())
        if line.strip() and not line.startswith("#")
    ]
    lines = [n for n, _ in kept]
    rows = [next(csv.reader([line])) for _, line in kept]
    if not rows:
        raise DataError(f"{where}: empty file")
    header = [h.strip() for h in rows[0]]
    missing = [f for f in feature_names if f not in header]
    if LABEL not in header:
        missing.append(LABEL)
    if missing:
        raise DataError(
            f"{where}: missing column(s) {', '.join(missing)} (the model's feature_names, "
            f"from its config.pbtxt, plus '{LABEL}')"
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"{where}: column(s) given twice: {', '.join(dupes)}")
    col = {h: i for i, h in enumerate(header)}
    x = np.empty((len(rows) - 1, len(feature_names)))
    y = np.empty(len(rows) - 1, dtype=np.int64)
    groups: list[str] = []
    for r, row in enumerate(rows[1:]):
        line = lines[r + 1]
        if len(row) != len(header):
            raise DataError(f"{where} line {line}: {len(row)} cells, header has {len(header)}")
        for j, name in enumerate(feature_names):
            x[r, j] = _number(row[col[name]], where, line, name)
        label = row[col[LABEL]].strip()
        if label not in ("0", "1"):
            raise DataError(
                f"{where} line {line}, column {LABEL}: '{label}' is not 0 or 1 (1 = deceptive)"
            )
        y[r] = int(label)
        if GROUP in col:
            g = row[col[GROUP]].strip()
            if not g:
                raise DataError(f"{where} line {line}, column {GROUP}: empty")
            groups.append(g)
    counts = {k: int((y == k).sum()) for k in (0, 1)}
    if min(counts.values()) < MIN_ROWS_PER_CLASS:
        raise DataError(
            f"{where}: {counts[1]} deceptive and {counts[0]} truthful rows; need at least "
            f"{MIN_ROWS_PER_CLASS} of each"
        )
    g_arr = np.asarray(groups) if GROUP in col else None
    if g_arr is not None and len(np.unique(g_arr)) < MIN_GROUPS:
        raise DataError(
            f"{where}: {len(np.unique(g_arr))} groups; group-separated evaluation needs at "
            f"least {MIN_GROUPS}"
        )
    ignored = tuple(h for h in header if h not in (*feature_names, LABEL, GROUP))
    return Dataset(x, y, g_arr, tuple(feature_names), ignored)


def _number(cell: str, where: str, line: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise DataError(f"{where} line {line}, column {column}: '{cell}' is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{where} line {line}, column {column}: '{cell}' is not finite")
    return value


@dataclass(frozen=True)
class LinearFit:
    """z = (x - mean) / scale; logit = slope * (z . coef + intercept) + offset."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    slope: float = 1.0
    offset: float = 0.0

    def raw_logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.slope * self.raw_logit(x) + self.offset)))


def folds(y: np.ndarray, groups: np.ndarray | None, k: int, seed: int) -> list[np.ndarray]:
    """Test-row indices of each fold: whole groups (GroupKFold), else stratified rows."""
    idx = np.arange(len(y))
    if groups is not None:
        n = min(k, len(np.unique(groups)))
        return [test for _, test in GroupKFold(n_splits=n).split(idx, y, groups)]
    n = min(k, int(np.bincount(y).min()))
    splitter = StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(idx, y)]


def _fit_linear(x: np.ndarray, y: np.ndarray) -> LinearFit:
    if len(np.unique(y)) < 2:
        raise DataError("a training fold holds one label only: groups are too unbalanced")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)  # a constant feature: z = 0, no weight
    lr = LogisticRegression(C=C, max_iter=2000)
    lr.fit((x - mean) / scale, y)
    return LinearFit(mean, scale, lr.coef_[0].astype(np.float64), float(lr.intercept_[0]))


def platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, offset) of a logistic regression of the labels on out-of-fold logits."""
    lr = LogisticRegression(C=1e6, max_iter=2000)
    lr.fit(logits.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None, seed: int = 0) -> LinearFit:
    """The model on all given rows, Platt-calibrated on its own out-of-fold logits."""
    oof = np.empty(len(y))
    for test in folds(y, groups, MAX_FOLDS, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        oof[test] = _fit_linear(x[train], y[train]).raw_logit(x[test])
    slope, offset = platt(oof, y)
    base = _fit_linear(x, y)
    return LinearFit(base.mean, base.scale, base.coef, base.intercept, slope, offset)


def cross_validate(ds: Dataset, seed: int = 0) -> np.ndarray:
    """Out-of-fold calibrated probabilities, the whole `fit` refitted inside every fold."""
    p = np.empty(len(ds.y))
    for test in folds(ds.y, ds.groups, MAX_FOLDS, seed):
        train = np.setdiff1d(np.arange(len(ds.y)), test)
        g = ds.groups[train] if ds.groups is not None else None
        p[test] = fit(ds.x[train], ds.y[train], g, seed).probability(ds.x[test])
    return p


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: bin-weighted |observed rate - mean probability|."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            total += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(total)


def reliability(
    y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS
) -> list[tuple[float, float, int]]:
    """Per non-empty bin: (mean probability, observed deceptive rate, rows)."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        m = which == b
        if m.any():
            out.append((float(p[m].mean()), float(y[m].mean()), int(m.sum())))
    return out


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half); NaN with one class."""
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    ranks = rankdata(p)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Point metrics in plain numpy (thousands of bootstrap calls; sklearn's input checks
    would dominate the run time). tests/test_retrain.py checks them against sklearn."""
    pred = p >= 0.5
    recalls = [float((pred[y == k] == bool(k)).mean()) for k in (0, 1) if (y == k).any()]
    return {
        "roc_auc": roc_auc(y, p),
        "balanced_accuracy": float(np.mean(recalls)),
        "brier": float(np.mean((p - y) ** 2)),
        "ece": ece(y, p),
    }


@dataclass
class Metric:
    value: float
    low: float = math.nan
    high: float = math.nan


@dataclass
class Evaluation:
    metrics: dict[str, Metric] = field(default_factory=dict)
    scheme: str = ""
    group_separated: bool = False
    n_folds: int = 0


def evaluate(ds: Dataset, p: np.ndarray, seed: int = 0, n_boot: int = N_BOOT) -> Evaluation:
    """Scores of out-of-fold probabilities `p`, with bootstrap intervals over groups (or rows)."""
    point = scores(ds.y, p)
    units = ds.groups if ds.groups is not None else np.arange(len(ds.y)).astype(str)
    names = np.unique(units)
    members = {u: np.flatnonzero(units == u) for u in names}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(n_boot):
        idx = np.concatenate([members[u] for u in rng.choice(names, size=len(names))])
        if len(np.unique(ds.y[idx])) < 2:
            continue
        for k, v in scores(ds.y[idx], p[idx]).items():
            draws[k].append(v)
    out = Evaluation(group_separated=ds.groups is not None)
    for k, v in point.items():
        lo, hi = np.percentile(draws[k], [2.5, 97.5]) if draws[k] else (math.nan, math.nan)
        out.metrics[k] = Metric(v, float(lo), float(hi))
    out.n_folds = len(folds(ds.y, ds.groups, MAX_FOLDS, seed))
    out.scheme = (
        f"{out.n_folds}-fold GroupKFold on `{GROUP}` (no group on both sides of a split)"
        if ds.groups is not None
        else f"{out.n_folds}-fold stratified rows (NOT group-separated: optimistic if a "
        f"person has several rows; add a `{GROUP}` column)"
    )
    return out
