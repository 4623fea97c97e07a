"""The committed face models: their ONNX contract, their two configs (CPU, GPU), their cards,
and what they find on a real face."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from skimage import data

from models.face import convert

ROOT = Path(__file__).resolve().parents[3]
MODELS = (convert.DETECTOR, convert.LANDMARKS)
CONTRACT = {
    convert.DETECTOR: ("image", [128, 128, 3], {"boxes": [896, 16], "scores": [896]}),
    convert.LANDMARKS: ("image", [192, 192, 3], {"landmarks": [468, 3], "presence": [1]}),
}


def dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


@pytest.mark.parametrize("name", MODELS)
def test_onnx_takes_uint8_pixels_with_a_batch_axis(name: str) -> None:
    model = onnx.load(str(convert.REPOSITORY / name / convert.VERSION / "model.onnx"))
    onnx.checker.check_model(model)
    (inp,) = model.graph.input
    image, shape, outputs = CONTRACT[name]
    assert inp.name == image and dims(inp) == ["N", *shape]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert {o.name: dims(o) for o in model.graph.output} == {
        k: ["N", *v] for k, v in outputs.items()
    }


@pytest.mark.parametrize("name", MODELS)
def test_configs_are_what_convert_writes(name: str) -> None:
    """config.pbtxt: CPU instances (CPU deployments, the local Triton); configs/gpu.pbtxt:
    the same model on GPU instances (the chart passes --model-config-name=gpu with GPUs)."""
    folder = convert.REPOSITORY / name
    cpu, gpu = (folder / "config.pbtxt").read_text(), (folder / "configs" / "gpu.pbtxt").read_text()
    assert cpu == convert.config_pbtxt(name, "KIND_CPU")
    assert gpu == convert.config_pbtxt(name, "KIND_GPU")
    for text in (cpu, gpu):
        assert 'platform: "onnxruntime_onnx"' in text and "dynamic_batching" in text
        assert "data_type: TYPE_UINT8" in text
    assert "kind: KIND_CPU" in cpu and "kind: KIND_GPU" in gpu
    assert cpu.replace("KIND_CPU", "KIND_GPU") == gpu  # nothing else differs
    card = re.search(r'key: "card"\s*value: \{ string_value: "([^"]+)" \}', cpu)
    assert card and (ROOT / card.group(1)).is_file()


@pytest.mark.parametrize("name", MODELS)
def test_cards_say_what_a_card_must(name: str) -> None:
    text = (ROOT / "models" / "cards" / f"{name}.md").read_text()
    for section in (
        "## Source",
        "## Licence",
        "## Input and output",
        "## Conversion",
        "## Known failure modes",
        "## Demographic",
        "## Measured here",
    ):
        assert section in text, section
    assert "Apache-2.0" in text and "mediapipe==0.10.21" in text


def test_the_anchor_grid() -> None:
    centres = convert.anchors()
    assert centres.shape == (896, 2)
    np.testing.assert_allclose(centres[0], (0.5 / 16, 0.5 / 16))
    np.testing.assert_allclose(centres[511], (15.5 / 16, 15.5 / 16))
    np.testing.assert_allclose(centres[512], (0.5 / 8, 0.5 / 8))


def test_a_real_face_is_found_and_meshed() -> None:
    """The astronaut photograph: one confident box over her face, and a present face in
    the crop around it, its eyes and mouth where they are in the picture."""
    rgb = data.astronaut()  # 512 x 512, RGB
    det = ort.InferenceSession(
        str(convert.REPOSITORY / convert.DETECTOR / "1" / "model.onnx"),
        providers=["CPUExecutionProvider"],
    )
    small = cv2.resize(rgb, (128, 128), interpolation=cv2.INTER_AREA)
    boxes, scores = det.run(None, {"image": small[None]})
    best = int(np.argmax(scores[0]))
    assert scores[0, best] > 0.9
    cx, cy, w, h = boxes[0, best, :4] * 512
    assert 190 < cx < 260 and 100 < cy < 180 and 80 < w < 160 and 80 < h < 160
    mesh = ort.InferenceSession(
        str(convert.REPOSITORY / convert.LANDMARKS / "1" / "model.onnx"),
        providers=["CPUExecutionProvider"],
    )
    side = int(max(w, h) * 1.5)
    x0, y0 = int(cx - side / 2), int(cy - side / 2)
    crop = cv2.resize(rgb[max(y0, 0) : y0 + side, max(x0, 0) : x0 + side], (192, 192))
    points, presence = mesh.run(None, {"image": crop[None]})
    assert presence[0, 0] > 0.9
    right_eye, left_eye, lip = points[0, 33], points[0, 263], points[0, 13]
    assert right_eye[0] < left_eye[0]  # the subject's right eye on the image's left
    assert lip[1] > max(right_eye[1], left_eye[1]) + 30  # the mouth well below the eyes
    empty, presence = mesh.run(None, {"image": np.full((1, 192, 192, 3), 128, np.uint8)})
    assert presence[0, 0] < 0.5  # no face: the model says so
