"""The learned stacker: a logistic model over the modalities' evidence, trained by the user.

    z = intercept + sum over modalities m of coefficient_m * confidence_m * logit(score_m)

A modality that is missing, failed or low quality contributes 0 (exactly as in training,
where the same `term` is computed from each row). Coefficients are constrained to be >= 0 at
training time, so a higher score from any modality can never lower the fused probability.
The file also carries the fit's covariance (Laplace approximation), which gives the standard
error of z for any input.

Train one with `python -m models.training.stacker --data F.csv` (docs/fusion.md describes the
file). None is shipped: there is no aligned multimodal data here to train it on honestly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusion.evidence import Evidence
from veritas.config import env
from veritas.modalities import NAMES

FORMAT = "veritas-stacker/1"
MODALITIES = NAMES  # what a stacker may weigh, by name (its file and CSV columns)
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = REPO_ROOT / "models" / "fusion" / "stacker.json"
TRAIN_HINT = "train one with: python -m models.training.stacker --data F.csv"


class StackerError(ValueError):
    """The stacker file is missing or unusable."""


def term(e: Evidence) -> float:
    """What one modality's evidence feeds the stacker."""
    return e.confidence * e.logit


@dataclass(frozen=True)
class Stacker:
    modalities: tuple[str, ...]
    coefficients: dict[str, float]
    intercept: float
    covariance: tuple[tuple[float, ...], ...]  # order: intercept, then `modalities`
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def _vector(self, terms: Mapping[str, float]) -> list[float]:
        return [1.0] + [terms.get(m, 0.0) for m in self.modalities]

    def logit(self, terms: Mapping[str, float]) -> float:
        return self.intercept + sum(
            self.coefficients[m] * terms.get(m, 0.0) for m in self.modalities
        )

    def standard_error(self, terms: Mapping[str, float]) -> float:
        x = self._vector(terms)
        var = sum(x[i] * self.covariance[i][j] * x[j] for i in range(len(x)) for j in range(len(x)))
        return math.sqrt(max(var, 0.0))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "modalities": list(self.modalities),
            "coefficients": dict(self.coefficients),
            "intercept": self.intercept,
            "covariance": [list(row) for row in self.covariance],
            **self.info,
        }


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StackerError(f"{what} must be a finite number")
    return float(value)


def parse(data: Mapping[str, Any], source: str = "") -> Stacker:
    """A Stacker from its JSON form; StackerError naming the first problem."""
    if data.get("format") != FORMAT:
        raise StackerError(f"format must be {FORMAT!r}, got {data.get('format')!r}")
    modalities = data.get("modalities")
    if (
        not isinstance(modalities, list)
        or not modalities
        or any(m not in MODALITIES for m in modalities)
        or len(set(modalities)) != len(modalities)
    ):
        raise StackerError(f"modalities must be distinct names from {MODALITIES}")
    raw = data.get("coefficients")
    if not isinstance(raw, dict) or set(raw) != set(modalities):
        raise StackerError("coefficients must give one number per modality")
    coefficients = {m: _number(raw[m], f"coefficients.{m}") for m in modalities}
    if any(c < 0 for c in coefficients.values()):
        raise StackerError("coefficients must be >= 0 (a higher score never lowers P)")
    size = len(modalities) + 1
    cov = data.get("covariance")
    if (
        not isinstance(cov, list)
        or len(cov) != size
        or any(not isinstance(row, list) or len(row) != size for row in cov)
    ):
        raise StackerError(f"covariance must be a {size}x{size} matrix")
    covariance = tuple(
        tuple(_number(v, f"covariance[{i}][{j}]") for j, v in enumerate(row))
        for i, row in enumerate(cov)
    )
    known = {"format", "modalities", "coefficients", "intercept", "covariance"}
    return Stacker(
        modalities=tuple(modalities),
        coefficients=coefficients,
        intercept=_number(data.get("intercept"), "intercept"),
        covariance=covariance,
        source=source,
        info={k: v for k, v in data.items() if k not in known},
    )


def load(path: Path) -> Stacker:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise StackerError(f"no trained stacker at {path}; {TRAIN_HINT}") from e
    except (OSError, json.JSONDecodeError) as e:
        raise StackerError(f"cannot read the stacker at {path}: {e}") from e
    if not isinstance(data, dict):
        raise StackerError(f"{path}: not a JSON object")
    try:
        return parse(data, str(path))
    except StackerError as e:
        raise StackerError(f"{path}: {e}") from e


def stacker_path() -> Path:
    """VERITAS_FUSION_STACKER if set (relative paths from the repository root), else the
    default models/fusion/stacker.json."""
    raw = env("VERITAS_FUSION_STACKER", "")
    if not raw:
        return DEFAULT_PATH
    path = Path(raw)
    return path if path.is_absolute() else REPO_ROOT / path


class StackerStore:
    """The installed stacker, re-read when its file changes (train, copy, no restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._stacker: Stacker | None = None

    def get(self) -> Stacker:
        """The current stacker; StackerError saying why there is none."""
        try:
            stat = self.path.stat()
        except OSError as e:
            self._stamp, self._stacker = None, None
            raise StackerError(f"no trained stacker at {self.path}; {TRAIN_HINT}") from e
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp or self._stacker is None:
            self._stacker = load(self.path)
            self._stamp = stamp
        return self._stacker


def terms(ev: Sequence[Evidence]) -> dict[str, float]:
    return {e.name: term(e) for e in ev}
