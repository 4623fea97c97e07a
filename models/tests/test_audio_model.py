"""The audio_cues ONNX model computes exactly its stated weights, and the repo copy is current."""

from __future__ import annotations

import re

import numpy as np
import onnxruntime as ort
import pytest

from models.training import audio_cues
from models.training.audio_cues_weights import CUES, UNWEIGHTED, unweighted
from services.audio import features
from services.audio.analyzer import AudioAnalyzer
from services.audio.tests.signals import encode, with_gaps
from veritas.v1 import common_pb2, modality_pb2

MODEL = audio_cues.MODEL_DIR / audio_cues.VERSION / "model.onnx"
CONFIG = audio_cues.MODEL_DIR / "config.pbtxt"


def numpy_model(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The card's formula, written independently of the ONNX graph."""
    reference = np.array([c.reference for c in CUES])
    scale = np.array([c.scale for c in CUES])
    coef = np.array([c.coef for c in CUES])
    contributions = (x - reference) / scale * coef
    return 1 / (1 + np.exp(-contributions.sum(axis=1, keepdims=True))), contributions


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    return ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])


def test_onnx_output_equals_numpy(session: ort.InferenceSession) -> None:
    k = len(CUES)
    x = np.random.default_rng(0).normal(0, 4, size=(64, k)).astype(np.float32)
    prob, contrib = session.run(["probability", "contributions"], {"features": x})
    want_prob, want_contrib = numpy_model(x.astype(np.float64))
    np.testing.assert_allclose(contrib, want_contrib, atol=1e-6)
    np.testing.assert_allclose(prob, want_prob, atol=1e-6)


def test_committed_artifacts_match_the_build_script() -> None:
    model, config = audio_cues.build()
    assert MODEL.read_bytes() == model.SerializeToString()
    assert CONFIG.read_text() == config


def test_config_declares_an_uncalibrated_model_and_its_card() -> None:
    text = CONFIG.read_text()
    params = dict(re.findall(r'key: "(\w+)"\s*value: \{ string_value: "([^"]*)" \}', text))
    assert params["calibrated"] == "false"
    assert params["card"] == audio_cues.CARD_PATH
    assert params["feature_names"] == params["contribution_names"]
    assert 'platform: "onnxruntime_onnx"' in text and "max_batch_size: 64" in text
    card = (audio_cues.REPO_ROOT / audio_cues.CARD_PATH).read_text()
    assert "Uncalibrated" in card and "never a verdict" in card


def test_model_inputs_are_features_the_analyzer_emits() -> None:
    for cue in CUES:
        assert cue.name in features.UNITS


def test_card_accounts_for_every_emitted_feature() -> None:
    """Each feature the analyzer reports is a model cue or listed, with a reason, as unweighted;
    and the card lists nothing the analyzer no longer emits."""
    x = with_gaps([0.6])
    r = modality_pb2.ModalityRequest()
    r.input.media.CopyFrom(common_pb2.Media(data=encode(x, 16_000, "WAV")))
    r.questions.add(kind=common_pb2.QuestionMarker.RELEVANT, start_s=0.0, end_s=0.1)
    analyzer = AudioAnalyzer()
    prepared = analyzer.prepare(r)
    emitted = set(
        analyzer.summarize(prepared, list(analyzer.windows(prepared, r.options))).features
    )
    cues = {c.name for c in CUES}
    assert not {n for n in emitted - cues if not unweighted(n)}
    listed = {n for names, _ in UNWEIGHTED for n in names if not n.endswith("*")}
    assert listed <= emitted
    assert not listed & cues
