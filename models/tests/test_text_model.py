"""The text_deception ONNX graph computes what the sklearn pipeline computes.

A small model is fitted here (4 hotels) so the export path is tested end to end; the
committed model is checked for its contract and for contributions that add up.
"""

from __future__ import annotations

import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from models.training import text as training
from services.text import features as tf

MODEL = training.MODEL_DIR / training.VERSION / "model.onnx"
CONFIG = training.MODEL_DIR / "config.pbtxt"
TEXTS = [
    "I think I was at home that evening, maybe around eight, but I am not sure.",
    "We never went to the warehouse. I was with my sister the whole night.",
    "The hotel was luxurious and my stay in Chicago was the best experience ever!",
    "Small room on the 7th floor, great location, helpful staff, booked on Priceline.",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9: \u00fcber-clean rooms, 10/10.",
    "",
]


def cue_rows(texts: list[str]) -> np.ndarray:
    return training.cue_matrix(texts)


@pytest.fixture(scope="module")
def small_model() -> training.TextModel:
    path = training.data_path()
    if not path.exists():
        pytest.skip(f"no data at {path}")
    return training.fit(training.load_corpus(path, hotels=4))


def test_exported_graph_matches_sklearn(small_model: training.TextModel) -> None:
    onx = training.export_onnx(small_model)
    cues = cue_rows(TEXTS)
    p, c = training.run_onnx(onx, TEXTS, cues)
    np.testing.assert_allclose(p, small_model.probability(TEXTS, cues), atol=1e-5)
    np.testing.assert_allclose(c, small_model.contributions(TEXTS, cues), atol=1e-4)
    # one text at a time (batch 1, as the service sends it) gives the same answers
    for i, text in enumerate(TEXTS):
        p1, c1 = training.run_onnx(onx, [text], cues[i : i + 1])
        np.testing.assert_allclose(p1, p[i : i + 1], atol=1e-6)
        np.testing.assert_allclose(c1, c[i : i + 1], atol=1e-6)


def _param(name: str) -> str:
    match = re.search(rf'key: "{name}"\s*value: {{ string_value: "([^"]*)" }}', CONFIG.read_text())
    assert match, name
    return match.group(1)


def test_committed_config_matches_the_features() -> None:
    assert _param("feature_names").split(",") == list(tf.CATEGORIES)
    assert _param("contribution_names").split(",") == [*tf.CATEGORIES, training.NGRAM_TERM]
    assert _param("calibrated") == "true"
    assert _param("card") == training.CARD_PATH
    assert _param("caveat") == training.CAVEAT and "out of domain" in training.CAVEAT
    assert 0.5 < float(_param("validated_auc")) <= 1.0
    assert 'platform: "onnxruntime_onnx"' in CONFIG.read_text()
    assert f"dims: [ {len(tf.CATEGORIES)} ]" in CONFIG.read_text()


def test_committed_config_is_the_shared_writer_output() -> None:
    auc = float(_param("validated_auc"))
    assert CONFIG.read_text() == training.config(auc)


def test_committed_model_explains_itself() -> None:
    """probability = sigmoid(slope * (sum(contributions) + intercept) + offset)."""
    model = onnx.load(str(MODEL))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["text", "features"]
    assert [o.name for o in session.get_outputs()] == ["probability", "contributions"]
    cues = cue_rows(TEXTS).astype(np.float32)
    p, c = session.run(
        None, {"text": np.array(TEXTS, dtype=object).reshape(-1, 1), "features": cues}
    )
    assert p.shape == (len(TEXTS), 1) and c.shape == (len(TEXTS), len(tf.CATEGORIES) + 1)
    logit = (
        inits["linear_slope"] * (c.sum(axis=1) + inits["linear_intercept"]) + inits["linear_offset"]
    )
    np.testing.assert_allclose(p[:, 0], 1 / (1 + np.exp(-logit)), atol=1e-6)
    assert np.all((p > 0) & (p < 1))
