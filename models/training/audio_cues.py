"""Build the `audio_cues` model: an explicit, uncalibrated vocal-cue model.

    .venv/bin/python -m models.training.audio_cues [--out DIR]

There is no labelled deceptive/truthful speech in this project's data, so nothing here is
trained. The model states the published evidence as a linear log-odds model instead: each cue
is a change from the subject's own baseline recording (or, without one, from the recording's
own average), weighted by its meta-analytic effect size (audio_cues_weights.py); intercept 0
(even prior odds) and no calibration: the output is a cue score, not a verdict.

Writes the ONNX file and config.pbtxt (`build`), then the model card (audio_cues_card.py,
rendered by card.py), which measures the built model and runs the audio analyzer on the
bundled sample; needs no data. `--out` writes under DIR (`DIR/repository/...`,
`DIR/cards/...`) instead of models/.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import onnx

from models.training import audio_cues_card, card
from models.training.audio_cues_weights import CUES
from models.training.linear_onnx import linear_model, save
from models.training.triton_config import config_pbtxt
from veritas.modalities import BY_NAME

MODEL_NAME = BY_NAME["audio"].model
VERSION = "1"
REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO_ROOT / "models" / "repository" / MODEL_NAME
CARD_PATH = f"models/cards/{MODEL_NAME}.md"
SAMPLE = REPO_ROOT / "samples" / "speech.wav"
CAVEAT = (
    "explicit cue model: published meta-analytic effects (DePaulo et al. 2003), no labelled "
    "speech behind it, never validated; pitch change only"
)
VALIDATED_DOMAINS: tuple[str, ...] = ()  # no labelled speech: validated on no input domain
DOMAIN_NOTE = "none: no labelled speech; weights from published meta-analyses, never validated"


def build() -> tuple[onnx.ModelProto, str]:
    """The ONNX model and its config.pbtxt."""
    names = [c.name for c in CUES]
    model = linear_model(
        names,
        mean=[c.reference for c in CUES],
        scale=[c.scale for c in CUES],
        coef=[c.coef for c in CUES],
        intercept=0.0,
        calibration=(1.0, 0.0),
        doc="audio_cues: uncalibrated vocal-cue model (meta-analytic weights, no training data)",
    )
    config = config_pbtxt(
        MODEL_NAME,
        names,
        calibrated=False,
        card=CARD_PATH,
        caveat=CAVEAT,
        validated_domains=VALIDATED_DOMAINS,
        domain_note=DOMAIN_NOTE,
    )
    return model, config


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "models", help="folder for repository/, cards/"
    )
    out: Path = parser.parse_args(argv).out
    model_dir = out / "repository" / MODEL_NAME
    model, config = build()
    save(model, model_dir / VERSION / "model.onnx")
    (model_dir / "config.pbtxt").write_text(config)
    model_bytes = model.SerializeToString()
    facts = audio_cues_card.Facts(
        name=MODEL_NAME,
        version=VERSION,
        caveat=CAVEAT,
        domain=card.Domain(VALIDATED_DOMAINS, DOMAIN_NOTE),
        probe=audio_cues_card.probe(model_bytes),
        sample=audio_cues_card.sample_analysis(model_bytes, SAMPLE.read_bytes()),
    )
    written = card.write(audio_cues_card.card(facts), out / "cards" / Path(CARD_PATH).name)
    print(f"wrote {model_dir / VERSION / 'model.onnx'}, {model_dir / 'config.pbtxt'}, {written}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
