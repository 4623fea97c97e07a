"""The committed vision_behaviour model matches its config and the service's feature names."""

from __future__ import annotations

import re

import numpy as np
import onnx
import onnxruntime as ort

from models.training import vision
from services.vision.behaviour import BEHAVIOUR_CODES

MODEL = vision.MODEL_DIR / vision.VERSION / "model.onnx"
CONFIG = vision.MODEL_DIR / "config.pbtxt"


def param(text: str, key: str) -> str:
    match = re.search(rf'key: "{key}"\s*value: {{ string_value: "([^"]*)" }}', text)
    assert match, key
    return match.group(1)


def test_config_follows_the_contract() -> None:
    text = CONFIG.read_text()
    names = tuple(param(text, "feature_names").split(","))
    assert names == vision.FEATURES
    assert param(text, "contribution_names") == param(text, "feature_names")
    # Calibrated on human codes, not on the automatic codes the service sends: served as
    # uncalibrated, with the caveat every result carries.
    assert param(text, "calibrated") == "false"
    assert param(text, "caveat") == vision.CAVEAT
    assert param(text, "card") == vision.CARD
    assert 0.5 < float(param(text, "validated_auc")) <= 1.0
    assert 'platform: "onnxruntime_onnx"' in text and "max_batch_size: 64" in text
    assert f"dims: [ {len(names)} ]" in text
    assert "sex" not in names
    assert set(names) <= set(BEHAVIOUR_CODES)  # the service measures every input


def test_onnx_explains_itself() -> None:
    model = onnx.load(str(MODEL))
    assert dict((p.key, p.value) for p in model.metadata_props)["feature_names"] == ",".join(
        vision.FEATURES
    )
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((8, len(vision.FEATURES)), dtype=np.float32)
    prob, contrib = session.run(["probability", "contributions"], {"features": x})
    assert prob.shape == (8, 1) and contrib.shape == x.shape
    assert np.all((prob > 0) & (prob < 1))
