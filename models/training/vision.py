"""Train `vision_behaviour`: logistic regression on the video-measurable MUMIN codes.

    .venv/bin/python -m models.training.vision [--out DIR]

Writes the ONNX file, config.pbtxt, the model card and its reliability plot (~1 minute on 2
cores); `--out` writes them under DIR (`DIR/repository/...`, `DIR/cards/...`) instead of
models/, to compare a rerun with the committed files. One module per job:

- data: vision_data.py (the Real-life Trial clips' human MUMIN codes; only codes the vision
  service measures from video, never `sex`, hands or catch-all codes);
- fitting: vision_fit.py (subject-separated, nested: C and the Platt map are chosen inside
  each training fold, so every reported number is out of fold);
- evaluation: vision_eval.py (bootstrap intervals over subjects, next to the "female => lie"
  rule and the majority class; reliability);
- export: vision_export.py (linear_onnx, so Triton returns per-code contributions);
- card: vision_card.py, rendered by card.py.

The served config says `calibrated: false`: the probabilities are calibrated on human-coded
clips, not on the automatic per-window codes the service sends (see the card).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.training import card, vision_card, vision_eval, vision_export, vision_fit
from models.training.triton_config import config_pbtxt
from models.training.vision_data import FEATURES, REPO_ROOT, load
from veritas.modalities import BY_NAME

MODEL_NAME = BY_NAME["vision"].model
VERSION = "1"
MODEL_DIR = REPO_ROOT / "models" / "repository" / MODEL_NAME
CARD = f"models/cards/{MODEL_NAME}.md"
PLOT = f"models/cards/{MODEL_NAME}_reliability.png"
# Every result of this model carries this line (config.pbtxt `caveat`).
CAVEAT = (
    "trained on human-coded behaviour codes; scores automatic per-window codes, "
    "not validated on them"
)
# Validated on human codes only; the service sends automatic codes: no served input domain.
VALIDATED_DOMAINS: tuple[str, ...] = ()
DOMAIN_NOTE = (
    "trained and validated on human-coded courtroom behaviour codes (Real-life Trial clips); "
    "the service sends it automatic per-window codes, on which it was never validated"
)


def config(validated_auc: float) -> str:
    # calibrated=False: the Platt map was fitted on human clip-level codes, not on the
    # automatic per-window rates the service sends, so fusion never lets it decide alone.
    return config_pbtxt(
        MODEL_NAME,
        FEATURES,
        calibrated=False,
        card=CARD,
        validated_auc=validated_auc,
        caveat=CAVEAT,
        validated_domains=VALIDATED_DOMAINS,
        domain_note=DOMAIN_NOTE,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "models", help="folder for repository/, cards/"
    )
    out: Path = parser.parse_args(argv).out
    clips = load()
    x = clips[list(FEATURES)].to_numpy(dtype=np.float64)
    y = clips["y"].to_numpy()
    groups = clips["subject"].to_numpy()
    female = (clips["sex"] == "F").to_numpy()

    cv = vision_fit.cross_validate(x, y, groups)
    evaluation = vision_eval.evaluate(y, groups, female, cv)
    plot = out / "cards" / Path(PLOT).name
    vision_eval.plot_reliability(y, cv.raw, cv.calibrated, plot)

    final = vision_fit.fit_final(x, y, groups)
    model_dir = out / "repository" / MODEL_NAME
    session, gap = vision_export.export(final, x, model_dir / VERSION / "model.onnx")
    (model_dir / "config.pbtxt").write_text(config(evaluation.auc))
    facts = vision_card.Facts(
        name=MODEL_NAME,
        version=VERSION,
        caveat=CAVEAT,
        domain=card.Domain(VALIDATED_DOMAINS, DOMAIN_NOTE),
        plot=PLOT,
        clips=clips,
        cv=cv,
        evaluation=evaluation,
        final=final,
        onnx_gap=gap,
        illustration=vision_card.sample_illustration(session),
    )
    written = card.write(vision_card.card(facts), out / "cards" / Path(CARD).name)
    print(written.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
