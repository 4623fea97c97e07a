"""Build the physiology arousal CUE model (physiology_cues): explicit weights, no training.

    .venv/bin/python -m models.training.physiology_cues [--out DIR]

No labelled physiological deception data is available to this project, so nothing is
fitted. The model is a linear log-odds index of physiological arousal whose *directions*
and *relative weights* follow the comparison question test (CQT) literature; every
magnitude is a prior chosen by hand (physiology_cues_weights.py). The output is an
uncalibrated arousal index: arousal is not deception, and the card says so.

Writes the ONNX file and config.pbtxt, then measures the built model
(physiology_cues_checks.py: ONNX vs numpy, a direction check on simulated signals, the
service's CQT scoring of simulated examinations) and writes the card
(physiology_cues_card.py, rendered by card.py). `--out` writes under DIR
(`DIR/repository/...`, `DIR/cards/...`) instead of models/.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import onnxruntime as ort

from models.training import card, physiology_cues_card, physiology_cues_checks, triton_config
from models.training.linear_onnx import linear_model
from models.training.physiology_cues_weights import (
    COEF,
    FEATURES,
    INTERCEPT,
    MEAN,
    SCALE,
    WEIGHTS,
    reference_numpy,
)
from veritas.modalities import BY_NAME

ROOT = Path(__file__).resolve().parents[2]
MODEL_NAME = BY_NAME["physiology"].model
VERSION = "1"
MODEL_DIR = ROOT / "models" / "repository" / MODEL_NAME
CARD = Path("models") / "cards" / f"{MODEL_NAME}.md"
CAVEAT = (
    "physiology: an uncalibrated arousal index with hand-set weights, not a verdict; arousal "
    "is not deception (models/cards/physiology_cues.md)"
)
VALIDATED_DOMAINS: tuple[str, ...] = ()  # no labelled data: validated on no input domain
DOMAIN_NOTE = "none: no labelled physiological data; hand-set weights, never validated"

__all__ = ["FEATURES", "SCALE", "WEIGHTS", "build", "config_pbtxt", "reference_numpy"]


def build() -> bytes:
    """The serialized ONNX model."""
    model = linear_model(
        FEATURES,
        MEAN.tolist(),
        SCALE.tolist(),
        COEF.tolist(),
        INTERCEPT,
        doc="Uncalibrated physiological arousal cue index (prior weights; not a verdict).",
    )
    return model.SerializeToString()


def config_pbtxt() -> str:
    return triton_config.config_pbtxt(
        MODEL_NAME,
        FEATURES,
        calibrated=False,
        card=CARD.as_posix(),
        caveat=CAVEAT,
        validated_domains=VALIDATED_DOMAINS,
        domain_note=DOMAIN_NOTE,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "models", help="folder for repository/, cards/"
    )
    out: Path = parser.parse_args(argv).out
    model_dir = out / "repository" / MODEL_NAME
    model_bytes = build()
    onnx_path = model_dir / VERSION / "model.onnx"
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    onnx_path.write_bytes(model_bytes)
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])

    facts = physiology_cues_card.Facts(
        name=MODEL_NAME,
        version=VERSION,
        caveat=CAVEAT,
        domain=card.Domain(VALIDATED_DOMAINS, DOMAIN_NOTE),
        max_abs_diff=physiology_cues_checks.onnx_vs_numpy(session),
        directions=physiology_cues_checks.direction_check(session),
        cqt=physiology_cues_checks.cqt_check(),
    )
    (model_dir / "config.pbtxt").write_text(config_pbtxt())
    written = card.write(physiology_cues_card.card(facts), out / "cards" / CARD.name)
    print(f"wrote {onnx_path}, {model_dir / 'config.pbtxt'}, {written}")
    for n, p, lo, hi in facts.directions:
        print(f"  {n}: P={p:.3f} windows {lo:.3f}-{hi:.3f}")
    for r in facts.cqt:
        print(
            f"  CQT, responses after {r.responding} ({r.channels}): {r.grand_total:+d} {r.decision}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
