"""Refitting on user rows: CSV validation, group-separated folds, honest metrics."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from models.training import retrain

NAMES = ("a", "b", "c")


def write_rows(
    path: Path,
    names: tuple[str, ...] = NAMES,
    *,
    groups: int = 20,
    per_group: int = 8,
    signal: float = 2.0,
    with_group: bool = True,
    seed: int = 0,
) -> Path:
    """Labelled rows where feature 0 carries `signal` standard deviations of evidence and
    each group (person) has its own offset on every feature."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*names, "label"] + (["group"] if with_group else []))
        for g in range(groups):
            offset = rng.normal(0, 0.5, len(names))
            for _ in range(per_group):
                y = int(rng.random() < 0.5)
                x = rng.normal(0, 1, len(names)) + offset
                x[0] += signal * y
                w.writerow([*np.round(x, 5), y] + ([f"person{g}"] if with_group else []))
    return path


def test_load_csv_reads_features_in_model_order(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(
        "# a comment\nc,label,a,b,extra,group\n"
        + "".join(f"{i},{i % 2},{10 + i},{20 + i},x,g{i % 4}\n" for i in range(12))
        + "\n"
    )
    ds = retrain.load_csv(path, NAMES)
    assert ds.x.shape == (12, 3) and list(ds.x[1]) == [11.0, 21.0, 1.0]
    assert list(ds.y[:3]) == [0, 1, 0] and ds.n_groups == 4
    assert ds.ignored_columns == ("extra",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a,b,label\n1,2,0\n", "missing column(s) c"),
        ("a,b,c\n1,2,3\n", "missing column(s) label"),
        ("a,b,c,label\n1,2,x,0\n", "rows.csv line 3, column c: 'x' is not a number"),
        ("a,b,c,label\n1,2,nan,0\n", "line 3, column c: 'nan' is not finite"),
        ("a,b,c,label\n1,2,3,2\n", "line 3, column label: '2' is not 0 or 1"),
        ("a,b,c,label\n1,2,3\n", "line 3: 3 cells, header has 4"),
        ("a,b,c,label\n" + "1,2,3,1\n" * 10 + "1,2,3,0\n" * 4, "need at least 5 of each"),
        ("a,b,c,label,group\n" + "1,2,3,1,g\n" * 6 + "1,2,3,0,h\n" * 6, "2 groups"),
        ("a,a,b,c,label\n1,1,2,3,0\n", "given twice: a"),
    ],
)
def test_bad_csv_names_line_column_and_problem(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("# comment\n" + body)
    with pytest.raises(retrain.DataError) as info:
        retrain.load_csv(path, NAMES)
    assert message in str(info.value)


def test_folds_never_split_a_group(tmp_path: Path) -> None:
    ds = retrain.load_csv(write_rows(tmp_path / "r.csv", groups=13), NAMES)
    assert ds.groups is not None
    tests = retrain.folds(ds.y, ds.groups, retrain.MAX_FOLDS, 0)
    assert len(tests) == 5 and sorted(np.concatenate(tests)) == list(range(len(ds.y)))
    owners = [set(ds.groups[t]) for t in tests]
    for i in range(len(owners)):
        for j in range(i + 1, len(owners)):
            assert not owners[i] & owners[j]


def test_evidence_is_found_and_calibrated(tmp_path: Path) -> None:
    ds = retrain.load_csv(write_rows(tmp_path / "r.csv"), NAMES)
    p = retrain.cross_validate(ds)
    ev = retrain.evaluate(ds, p, n_boot=200)
    auc = ev.metrics["roc_auc"]
    assert auc.value > 0.8 and auc.low < auc.value < auc.high
    assert ev.metrics["ece"].value < 0.15 and ev.group_separated
    fit = retrain.fit(ds.x, ds.y, ds.groups)
    assert fit.coef[0] > 0 and abs(fit.coef[0]) > 3 * np.abs(fit.coef[1:]).max()


def test_no_evidence_is_not_found(tmp_path: Path) -> None:
    """Out-of-fold AUC on labels unrelated to the features stays at or below chance (the
    well-known slight pessimism of cross-validating a model on pure noise)."""
    for seed in (3, 4):
        ds = retrain.load_csv(write_rows(tmp_path / "r.csv", signal=0.0, seed=seed), NAMES)
        auc = retrain.evaluate(ds, retrain.cross_validate(ds), n_boot=200).metrics["roc_auc"]
        assert auc.value < 0.6 and auc.low < 0.5


def test_without_groups_the_scheme_says_so(tmp_path: Path) -> None:
    ds = retrain.load_csv(write_rows(tmp_path / "r.csv", with_group=False), NAMES)
    ev = retrain.evaluate(ds, retrain.cross_validate(ds), n_boot=50)
    assert not ev.group_separated and "NOT group-separated" in ev.scheme


def test_ece_and_reliability_on_known_values() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.05, 0.05, 0.95, 0.95])
    assert retrain.ece(y, p) == pytest.approx(0.05)
    assert retrain.reliability(y, p) == [(0.05, 0.0, 2), (0.95, 1.0, 2)]


def test_numpy_scores_match_sklearn() -> None:
    from sklearn.metrics import balanced_accuracy_score, brier_score_loss, roc_auc_score

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1), 2)  # rounded: ties
    s = retrain.scores(y, p)
    assert s["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p >= 0.5))
    assert s["brier"] == pytest.approx(brier_score_loss(y, p))
