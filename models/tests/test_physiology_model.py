"""The committed cue model: ONNX equals numpy on the same weights; config matches the analyzer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from models.training import physiology_cues as build
from services.physiology.cues import CUE_NAMES

ROOT = Path(__file__).resolve().parents[2]
REPO = ROOT / "models" / "repository" / "physiology_cues"


def test_onnx_output_equals_numpy_on_the_same_weights() -> None:
    session = ort.InferenceSession(
        str(REPO / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(64, len(CUE_NAMES))) * build.SCALE * 2).astype(np.float32)
    prob, contrib = session.run(["probability", "contributions"], {"features": x})
    want_prob, want_contrib = build.reference_numpy(x.astype(np.float64))
    np.testing.assert_allclose(contrib, want_contrib, atol=1e-5)
    np.testing.assert_allclose(prob, want_prob, atol=1e-6)
    # No change from the reference: exactly no evidence.
    zero = session.run(["probability"], {"features": np.zeros((1, len(CUE_NAMES)), np.float32)})
    assert zero[0][0, 0] == np.float32(0.5)


def test_committed_model_matches_the_build_script() -> None:
    assert (REPO / "1" / "model.onnx").read_bytes() == build.build()
    assert (REPO / "config.pbtxt").read_text() == build.config_pbtxt()


def test_config_declares_the_analyzer_features_and_no_calibration() -> None:
    config = (REPO / "config.pbtxt").read_text()
    names = ",".join(CUE_NAMES)
    assert f'key: "feature_names"\n  value: {{ string_value: "{names}" }}' in config
    assert 'key: "calibrated"\n  value: { string_value: "false" }' in config
    assert 'key: "caveat"' in config and "not a verdict" in config
    assert 'platform: "onnxruntime_onnx"' in config and "max_batch_size: 64" in config
    card = (ROOT / "models" / "cards" / "physiology_cues.md").read_text()
    assert "Uncalibrated" in card and "Arousal is not deception" in card
    assert "| relevant | eda | eda -18, cardio +0, respiration +0 | -18 | DI |" in card
    assert "| comparison | eda | eda +18, cardio +0, respiration +0 | +18 | NDI |" in card


def test_weights_follow_the_literature_ordering() -> None:
    """Electrodermal > cardiovascular > respiratory, in total absolute weight."""
    w = {n: abs(build.WEIGHTS[n].coef) for n in CUE_NAMES}
    eda = sum(v for n, v in w.items() if n.startswith("eda_"))
    cardio = sum(v for n, v in w.items() if n.startswith(("hr_", "hrv_")))
    resp = sum(v for n, v in w.items() if n.startswith("resp_"))
    assert eda > cardio > resp > 0
