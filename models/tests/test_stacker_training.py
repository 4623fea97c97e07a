"""Training fusion's stacker from a constructed aligned CSV, and fusion using what it wrote."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from fusion.stacker import load
from fusion.tests.results import fuse, result, unanswered
from models.training import stacker as trainer
from veritas.v1 import common_pb2 as pb

MODALITIES = ("vision", "audio", "text", "physiology")  # the column order rows are built in


def constructed(path: Path, rows_per_group: int = 6, groups: int = 30) -> Path:
    """Aligned data where text and vision carry signal, audio is noise, physiology often
    fails: the stacker must learn which is which."""
    rng = np.random.default_rng(7)

    def score(strength: float, sign: int) -> str:
        z = strength * sign + rng.normal(0, 1)
        return f"{1 / (1 + math.exp(-z)):.4f}"

    header = ["label", "group"] + [
        f"{m}_{c}" for m in MODALITIES for c in ("score", "confidence", "status")
    ]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for g in range(groups):
            for _ in range(rows_per_group):
                y = int(rng.integers(0, 2))
                sign = 1 if y else -1

                row = [y, f"s{g}"]
                row += [score(1.0, sign), f"{rng.uniform(0.5, 1):.2f}", "OK"]  # vision
                row += [score(0.0, sign), "1", ""]  # audio: no signal
                row += [score(2.0, sign), "", "OK"]  # text
                row += ["", "", "FAILED"] if rng.random() < 0.3 else [score(0.5, sign), "0.9", "OK"]
                w.writerow(row)
    return path


def test_training_learns_which_modality_carries_the_signal(tmp_path: Path):
    data = trainer.read(constructed(tmp_path / "aligned.csv"))
    assert data.groups is not None and len(set(data.groups.tolist())) == 30
    assert data.counted["text"] == len(data.y) > data.counted["physiology"]
    model = trainer.train(data)
    c = model.coefficients
    assert c["text"] > c["vision"] > c["audio"] >= 0
    v = model.info["validation"]
    assert v["folds"] == "GroupKFold by group"
    assert 0.7 < v["auc_low"] <= v["auc"] <= v["auc_high"]
    assert 0 <= v["ece"] <= 1


def test_the_cli_writes_a_stacker_fusion_can_use(tmp_path: Path, capsys):
    out = tmp_path / "installed"
    assert trainer.main(["--data", str(constructed(tmp_path / "a.csv")), "--out", str(out)]) == 0
    assert "out-of-fold AUC" in capsys.readouterr().out
    installed = load(out / "stacker.json")
    card = (out / "stacker.md").read_text()
    assert f"| ROC AUC | {installed.info['validation']['auc']:.3f}" in card
    assert "a.csv" in card and installed.info["data"]["sha256"] in card
    low = fuse([result(pb.TEXT, 0.3), result(pb.VISION, 0.6)], pb.STACKER, installed)
    high = fuse([result(pb.TEXT, 0.9), result(pb.VISION, 0.6)], pb.STACKER, installed)
    assert high.probability > low.probability
    failed = [result(pb.TEXT, 0.9), unanswered(pb.VISION, pb.FAILED, "UNAVAILABLE")]
    assert fuse(failed, pb.STACKER, installed).uncertainty.missing > 0


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda rows: rows[1].__setitem__(0, "maybe"), "line 2, column label"),
        (lambda rows: rows[3].__setitem__(8, "1.7"), "line 4, column text_score"),
        (lambda rows: rows[2].__setitem__(4, "LOST"), "line 3, column vision_status"),
        (lambda rows: rows[5].__setitem__(1, ""), "line 6, column group"),
    ],
)
def test_bad_training_data_is_refused_naming_the_line_and_column(
    tmp_path: Path, capsys, edit, message
):
    path = constructed(tmp_path / "bad.csv", rows_per_group=2, groups=12)
    rows = list(csv.reader(path.open()))
    edit(rows)
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    assert trainer.main(["--data", str(path), "--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_too_little_data_is_refused(tmp_path: Path):
    path = constructed(tmp_path / "small.csv", rows_per_group=1, groups=10)
    with pytest.raises(ValueError, match="need at least 20 rows"):
        trainer.read(path)
