"""Train fusion's STACKER strategy from aligned multimodal data.

    python -m models.training.stacker --data F.csv [--out models/fusion]

F.csv has one row per analysed statement (the same statement seen by every modality), with
a header. Columns (docs/fusion.md has the full description):
  label                  1 / deceptive, or 0 / truthful (ground truth)
  group                  optional: subject or session id; folds never split a group
  <m>_score              P(deceptive) the modality's model gave (ModalityResult.score)
  <m>_confidence         0..1 (ModalityResult.confidence); empty: 1
  <m>_status             OK, FAILED, TIMED_OUT or SKIPPED; empty: OK when a score is given
for each modality m in vision, audio, text, physiology that the data has (at least one).

The model is fusion/stacker.py's: z = intercept + sum_m coefficient_m * confidence_m *
logit(score_m), with missing, failed and low-quality modalities at 0, exactly as fusion
computes it at run time. It is a class-balanced, L2-penalised logistic regression whose
coefficients are constrained to be >= 0 (a higher score from a modality can never lower P),
fitted with L-BFGS-B; its covariance is the inverse Hessian at the optimum (Laplace).
Evaluated out of fold (GroupKFold by `group` when given, else stratified folds), with a 95%
bootstrap interval for the AUC (resampling groups, or rows without groups).

Writes <out>/stacker.json (what fusion loads) and <out>/stacker.md (its card, every number
measured here). No stacker is shipped: there is no aligned multimodal data in this repository.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.stats import rankdata
from sklearn.metrics import balanced_accuracy_score, brier_score_loss
from sklearn.model_selection import GroupKFold, StratifiedKFold

from fusion.evidence import evidence
from fusion.stacker import DEFAULT_PATH, FORMAT, MODALITIES, Stacker, terms
from veritas.v1 import common_pb2

L2 = 1.0  # penalty on the coefficients (not the intercept), fixed in advance
FOLDS = 5
BOOTSTRAP = 1000
ECE_BINS = 10
MIN_ROWS = 20
MIN_PER_CLASS = 5
LABELS = {"1": 1, "deceptive": 1, "0": 0, "truthful": 0}
STATUSES = {
    "OK": common_pb2.OK,
    "FAILED": common_pb2.FAILED,
    "TIMED_OUT": common_pb2.TIMED_OUT,
    "SKIPPED": common_pb2.SKIPPED,
}
ENUM = {
    "vision": common_pb2.VISION,
    "audio": common_pb2.AUDIO,
    "text": common_pb2.TEXT,
    "physiology": common_pb2.PHYSIOLOGY,
}


@dataclass(frozen=True)
class Dataset:
    modalities: tuple[str, ...]
    x: np.ndarray  # rows x modalities: the stacker's terms
    y: np.ndarray
    groups: np.ndarray | None
    counted: dict[str, int]  # rows in which each modality counted as evidence
    source: str
    sha256: str


def _number(raw: str, where: str, low: float = 0.0, high: float = 1.0) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{where}: {raw!r} is not a number") from None
    if not (low <= value <= high):
        raise ValueError(f"{where}: {value} is outside [{low:g}, {high:g}]")
    return value


def parse_row(
    row: dict[str, str], modalities: Sequence[str], where: str
) -> list[common_pb2.ModalityResult]:
    """One CSV row as the ModalityResults fusion would have seen."""
    out = []
    for m in modalities:
        score = (row.get(f"{m}_score") or "").strip()
        status_raw = (row.get(f"{m}_status") or "").strip().upper()
        if status_raw and status_raw not in STATUSES:
            raise ValueError(
                f"{where}, column {m}_status: {status_raw!r} is not one of {sorted(STATUSES)}"
            )
        status = STATUSES.get(status_raw, common_pb2.OK if score else common_pb2.SKIPPED)
        result = common_pb2.ModalityResult(modality=ENUM[m], status=status)
        if status == common_pb2.OK:
            if not score:
                raise ValueError(f"{where}, column {m}_score: empty for an OK status")
            confidence = (row.get(f"{m}_confidence") or "").strip()
            result.score = _number(score, f"{where}, column {m}_score")
            result.confidence = (
                _number(confidence, f"{where}, column {m}_confidence") if confidence else 1.0
            )
            result.model.name = "csv"
        out.append(result)
    return out


def read(path: Path) -> Dataset:
    raw = path.read_bytes()
    reader = csv.DictReader(raw.decode("utf-8-sig").splitlines())
    header = reader.fieldnames or []
    if "label" not in header:
        raise ValueError(f"{path}: no `label` column")
    modalities = tuple(m for m in MODALITIES if f"{m}_score" in header)
    if not modalities:
        raise ValueError(f"{path}: no <modality>_score column (modalities: {MODALITIES})")
    has_groups = "group" in header
    xs, ys, groups = [], [], []
    counted = dict.fromkeys(modalities, 0)
    for i, row in enumerate(reader, start=2):
        where = f"{path.name} line {i}"
        label = (row.get("label") or "").strip().lower()
        if label not in LABELS:
            raise ValueError(f"{where}, column label: {label!r} is not 1/0/deceptive/truthful")
        ev = evidence(parse_row(row, modalities, where))
        t = terms(ev)
        for e in ev:
            counted[e.name] += 1
        xs.append([t.get(m, 0.0) for m in modalities])
        ys.append(LABELS[label])
        if has_groups:
            group = (row.get("group") or "").strip()
            if not group:
                raise ValueError(f"{where}, column group: empty")
            groups.append(group)
    y = np.array(ys, dtype=int)
    if len(y) < MIN_ROWS or min(int(y.sum()), int(len(y) - y.sum())) < MIN_PER_CLASS:
        raise ValueError(
            f"{path}: {len(y)} rows ({int(y.sum())} deceptive); need at least {MIN_ROWS} "
            f"rows and {MIN_PER_CLASS} of each class"
        )
    return Dataset(
        modalities=modalities,
        x=np.array(xs, dtype=float).reshape(len(y), len(modalities)),
        y=y,
        groups=np.array(groups) if has_groups else None,
        counted=counted,
        source=path.name,
        sha256=hashlib.sha256(raw).hexdigest(),
    )


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


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half); NaN with one class."""
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return math.nan
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def bootstrap_auc(data: Dataset, p: np.ndarray, n: int = BOOTSTRAP) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    units = data.groups if data.groups is not None else np.arange(len(data.y)).astype(str)
    names = np.unique(units)
    index = {g: np.flatnonzero(units == g) for g in names}
    aucs = []
    for _ in range(n):
        pick = np.concatenate([index[g] for g in rng.choice(names, size=len(names))])
        a = _auc(data.y[pick], p[pick])
        if not math.isnan(a):
            aucs.append(a)
    return float(np.percentile(aucs, 2.5)), float(np.percentile(aucs, 97.5))


def evaluate(data: Dataset) -> dict[str, float | int | str]:
    oof = out_of_fold(data)
    low, high = bootstrap_auc(data, oof)
    equal = _sigmoid(data.x.sum(axis=1))  # every modality's term with weight 1
    return {
        "folds": "GroupKFold by group" if data.groups is not None else "StratifiedKFold (rows)",
        "auc": _auc(data.y, oof),
        "auc_low": low,
        "auc_high": high,
        "balanced_accuracy": float(balanced_accuracy_score(data.y, oof >= 0.5)),
        "brier": float(brier_score_loss(data.y, oof)),
        "ece": ece(data.y, oof),
        "equal_weight_auc": _auc(data.y, equal),
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


def card(stacker: Stacker) -> str:
    data = stacker.info["data"]
    v = stacker.info["validation"]
    rows = data["rows"]
    lines = [
        "# Fusion stacker",
        "",
        f"Format `{FORMAT}`, trained {stacker.info['trained_at']} by "
        "`python -m models.training.stacker`. Every number below was measured by that run.",
        "",
        "## Data",
        f"- File `{data['file']}` (sha256 `{data['sha256']}`): {rows} rows, "
        f"{data['deceptive']} deceptive, {rows - data['deceptive']} truthful; "
        + (f"{data['groups']} groups." if data["groups"] else "no `group` column."),
        "- Rows in which each modality counted as evidence: "
        + ", ".join(f"{m} {n}/{rows}" for m, n in data["counted"].items())
        + ".",
        "",
        "## Model",
        "z = intercept + sum of coefficient x confidence x logit(score); coefficients >= 0.",
        "",
        "| term | value |",
        "|---|---|",
        f"| intercept | {stacker.intercept:+.4f} |",
        *[f"| {m} | {c:.4f} |" for m, c in stacker.coefficients.items()],
        "",
        f"Class-balanced logistic regression, L2 penalty {stacker.info['l2']} on the "
        "coefficients, L-BFGS-B with non-negativity bounds; covariance from the Hessian.",
        "",
        "## Out-of-fold validation",
        f"Folds: {v['folds']}.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| ROC AUC | {v['auc']:.3f} (95% bootstrap {v['auc_low']:.3f}-{v['auc_high']:.3f}) |",
        f"| balanced accuracy at 0.5 | {v['balanced_accuracy']:.3f} |",
        f"| Brier score | {v['brier']:.3f} |",
        f"| ECE ({ECE_BINS} bins) | {v['ece']:.3f} |",
        f"| ROC AUC of equal weights (baseline) | {v['equal_weight_auc']:.3f} |",
        "",
        "## Limits",
        "- Valid only for input like the training rows: the same models, versions and kinds",
        "  of recording. Retrain when a modality's model changes.",
        "- Without a `group` column, rows of one subject may sit in both training and test",
        "  folds, which overstates the validation figures.",
        "- Fusion still applies its rules: uncalibrated modalities cannot make a verdict on",
        "  their own, and disagreement or a wide interval gives INCONCLUSIVE.",
        "",
    ]
    return "\n".join(lines)


def write(stacker: Stacker, out: Path) -> tuple[Path, Path]:
    import json

    out.mkdir(parents=True, exist_ok=True)
    model, doc = out / "stacker.json", out / "stacker.md"
    model.write_text(json.dumps(stacker.to_json(), indent=2) + "\n", encoding="utf-8")
    doc.write_text(card(stacker), encoding="utf-8")
    return model, doc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="aligned multimodal CSV")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_PATH.parent, help="folder for stacker.json/.md"
    )
    args = parser.parse_args(argv)
    try:
        data = read(args.data)
        stacker = train(data)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    model, doc = write(stacker, args.out)
    v = stacker.info["validation"]
    print(
        f"wrote {model} and {doc}: out-of-fold AUC {v['auc']:.3f} "
        f"[{v['auc_low']:.3f}, {v['auc_high']:.3f}] ({v['folds']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
