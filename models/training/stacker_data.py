"""The aligned multimodal CSV the fusion stacker is trained from, read as fusion sees it.

One row per analysed statement (the same statement seen by every modality). Columns:
  label                  1 / deceptive, or 0 / truthful (ground truth)
  group                  optional: subject or session id; folds never split a group
  <m>_score              P(deceptive) the modality's model gave (ModalityResult.score)
  <m>_confidence         0..1 (ModalityResult.confidence); empty: 1
  <m>_status             OK, FAILED, TIMED_OUT or SKIPPED; empty: OK when a score is given
for each modality m in vision, audio, text, physiology that the data has (at least one).
Each row becomes the ModalityResults fusion would have seen, and then the stacker's terms
exactly as fusion computes them at run time (missing, failed and low-quality modalities at 0).
A bad cell is refused naming its line and column.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusion.evidence import evidence
from fusion.stacker import MODALITIES, terms
from veritas.modalities import BY_NAME
from veritas.v1 import common_pb2

MIN_ROWS = 20
MIN_PER_CLASS = 5
LABELS = {"1": 1, "deceptive": 1, "0": 0, "truthful": 0}
STATUSES = {
    "OK": common_pb2.OK,
    "FAILED": common_pb2.FAILED,
    "TIMED_OUT": common_pb2.TIMED_OUT,
    "SKIPPED": common_pb2.SKIPPED,
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
        result = common_pb2.ModalityResult(modality=BY_NAME[m].enum, status=status)
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
