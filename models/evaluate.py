"""`make evaluate`: retrain and re-evaluate every model, then check that every card is complete.

Each model's training script measures what its card reports and writes the card itself
(data, split, metrics with bootstrap confidence intervals, calibration error and a
reliability plot, baselines, confounds, uses it must not be put to). This script reruns them
all, then reads every card back and checks that those sections are there, so a card cannot
silently lose one. What "there" means depends on the model, read from its config.pbtxt:

- a trained model (`calibrated: "true"` or a `validated_auc`) must report bootstrap
  intervals, an ECE and a reliability plot that exists on disk;
- a cue model (no labelled data) must say it is uncalibrated and state that the metrics,
  calibration error and reliability plot do not exist, rather than leave them out;
- every model's config states `validated_domains` (possibly none) and its card has a
  "Validated domain" section that lists the same domains (fusion counts a model as calibrated
  only for requests in those domains).

    .venv/bin/python -m models.evaluate                 # retrain all, check all
    .venv/bin/python -m models.evaluate --check-only    # only check the committed cards
    .venv/bin/python -m models.evaluate --only text_deception

Exit status 0 only when every training run succeeded and every card passed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from veritas.modalities import BY_NAME, NAMES

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = ROOT / "models" / "repository"

# Modality -> the module that trains (or builds) its model and writes the model's card.
TRAINER: dict[str, str] = {
    "text": "models.training.text",
    "vision": "models.training.vision",
    "audio": "models.training.audio_cues",
    "physiology": "models.training.physiology_cues",
}
assert sorted(TRAINER) == sorted(NAMES), "every modality's model has a training module"
# Model name (the modality table's) -> its training module.
TRAINING: dict[str, str] = {BY_NAME[m].model: module for m, module in TRAINER.items()}

_I = re.IGNORECASE | re.MULTILINE
# Section -> patterns that must all match somewhere in the card (case-insensitive).
COMMON: dict[str, tuple[str, ...]] = {
    "data": (r"^#{2,}[^\n]*\bdata\b",),
    "split": (r"\bsplit\b|separated|held[- ]out|leave-[\w-]+-out|GroupKFold",),
    "baselines": (r"\bbaselines?\b",),
    "confounds": (r"\bconfound",),
    "uses it must not be put to": (r"must not|must never|not be used|do not use",),
    "validated domain": (r"^#{2,}\s*validated domain",),
}
TRAINED: dict[str, tuple[str, ...]] = {
    "metrics with bootstrap CIs": (r"bootstrap", r"95\s?%|\bCI\b|confidence interval"),
    "calibration error (ECE)": (r"\bECE\b|expected calibration error",),
    "reliability plot": (r"reliability",),
}
CUE: dict[str, tuple[str, ...]] = {
    "says it is uncalibrated": (r"uncalibrated|calibrated:\s*\"?false",),
    "metrics: states there are none": (r"\bmetrics?\b", r"\bnone\b|not measur|no labelled"),
    "calibration error (ECE): states unknown": (r"\bECE\b|calibration error",),
    "reliability plot: states there is none": (r"reliability",),
}
_PLOT = re.compile(r"[\w./-]+\.png")
_CARD_DOMAINS = re.compile(r"^- `validated_domains` \(config\.pbtxt\): (?P<value>.*)$", re.M)


@dataclass
class CardCheck:
    """What one model's config declares and what its card is missing."""

    model: str
    kind: str  # "trained" or "cue"
    version: str
    calibrated: bool
    validated_auc: str
    card: Path | None
    missing: list[str] = field(default_factory=list)
    domains: str = ""  # config.pbtxt `validated_domains`

    @property
    def ok(self) -> bool:
        return not self.missing


def read_parameters(config_text: str) -> dict[str, str]:
    """The string `parameters` of a config.pbtxt."""
    pattern = r'key:\s*"([^"]+)"\s*value:\s*\{\s*string_value:\s*"([^"]*)"\s*\}'
    return dict(re.findall(pattern, config_text))


def latest_version(model_dir: Path) -> str:
    versions = [int(p.name) for p in model_dir.glob("*") if p.name.isdigit() and p.is_dir()]
    return str(max(versions)) if versions else ""


def missing_sections(card_text: str, kind: str, root: Path = ROOT) -> list[str]:
    """Names of the required sections the card lacks (see the module docstring)."""
    required = {**COMMON, **(TRAINED if kind == "trained" else CUE)}
    missing = [
        name
        for name, patterns in required.items()
        if not all(re.search(p, card_text, _I) for p in patterns)
    ]
    if kind == "trained" and "reliability plot" not in missing:
        plots = [m for m in _PLOT.findall(card_text) if "reliab" in m.lower()]
        if not plots:
            missing.append("reliability plot: no *reliability*.png referenced")
        else:
            absent = [p for p in plots if not _resolve(p, root).is_file()]
            if absent:
                missing.append(f"reliability plot: {', '.join(absent)} not found")
    return missing


def _resolve(path: str, root: Path) -> Path:
    """A path written in a card: relative to the repository root or to models/cards."""
    candidate = root / path
    return candidate if candidate.exists() else root / "models" / "cards" / Path(path).name


def check_model(model: str, repository: Path = REPOSITORY, root: Path = ROOT) -> CardCheck:
    config_path = repository / model / "config.pbtxt"
    if not config_path.is_file():
        return CardCheck(model, "?", "", False, "", None, [f"{config_path} not found"])
    params = read_parameters(config_path.read_text())
    calibrated = params.get("calibrated", "false").lower() == "true"
    auc = params.get("validated_auc", "")
    kind = "trained" if calibrated or auc else "cue"
    card = root / params["card"] if params.get("card") else None
    domains = params.get("validated_domains")
    version = latest_version(repository / model)
    result = CardCheck(model, kind, version, calibrated, auc, card, domains=domains or "")
    if card is None:
        result.missing.append("config.pbtxt names no card")
    elif not card.is_file():
        result.missing.append(f"card {params['card']} not found")
    else:
        text = card.read_text(encoding="utf-8")
        result.missing = missing_sections(text, kind, root)
        if domains is None:
            result.missing.append("config.pbtxt states no validated_domains")
        elif "validated domain" not in result.missing:
            result.missing += domain_mismatch(text, domains)
    return result


def domain_mismatch(card_text: str, config_domains: str) -> list[str]:
    """The card's "Validated domain" section must list the config's validated_domains."""
    m = _CARD_DOMAINS.search(card_text)
    if m is None:
        return ["validated domain: the card does not list `validated_domains`"]
    in_card = sorted(re.findall(r"`([A-Z_]+)`", m["value"]))
    in_config = sorted(d for d in config_domains.split(",") if d)
    if in_card != in_config:
        return [
            f"validated domain: the card lists {', '.join(in_card) or 'none'}, config.pbtxt "
            f"{', '.join(in_config) or 'none'}"
        ]
    return []


def run_training(module: str) -> tuple[int, float]:
    """Run one training script as `python -m module` from the repository root."""
    began = time.monotonic()
    code = subprocess.call([sys.executable, "-m", module], cwd=ROOT)
    return code, time.monotonic() - began


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check-only", action="store_true", help="do not retrain; check cards")
    parser.add_argument("--only", action="append", choices=sorted(TRAINING), help="one model")
    args = parser.parse_args(argv)
    models = args.only or list(TRAINING)
    runs: dict[str, tuple[int, float]] = {}
    if not args.check_only:
        for model in models:
            print(f"== {model}: python -m {TRAINING[model]}", flush=True)
            runs[model] = run_training(TRAINING[model])
    header = ["model", "kind", "version", "calibrated", "validated AUC", "domains", "run", "card"]
    rows = [header]
    failed = False
    for model in models:
        check = check_model(model)
        code, seconds = runs.get(model, (0, 0.0))
        run = (
            "skipped"
            if model not in runs
            else f"ok {seconds:.0f} s"
            if code == 0
            else f"FAILED ({code})"
        )
        card = "ok" if check.ok else "MISSING: " + "; ".join(check.missing)
        rows.append(
            [
                model,
                check.kind,
                check.version or "-",
                "yes" if check.calibrated else "no",
                check.validated_auc or "-",
                check.domains or "none",
                run,
                card,
            ]
        )
        failed |= code != 0 or not check.ok
    print()
    print(table(rows))
    for model in models:
        version = latest_version(REPOSITORY / model)
        if version and version != "1":
            print(
                f"note: {model} has version {version} (published by `veritas train`); Triton "
                "serves the highest version, not the rebuilt version 1"
            )
    print("\nCards: models/cards/ (docs/models.md explains each model and its limits).")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
