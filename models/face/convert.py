"""`make face-models`: MediaPipe's face detector and 468-point face mesh as Triton ONNX models.

Reproducible from public artefacts only:

1. A throwaway venv (`.run/face-convert-venv`) gets the pinned converters
   (models/face/requirements-convert.txt: tflite2onnx 0.4.1, the `tflite` flatbuffer
   bindings, onnx, and Google's LiteRT interpreter as the reference). It is kept apart from
   .venv: those pins need numpy 2 and protobuf 7.
2. `pip download --no-deps mediapipe==0.10.21` fetches the wheel (checked against its
   SHA-256); it is unpacked, never installed. Its LICENSE (Apache-2.0) is checked.
3. `face_detection_short_range.tflite` (BlazeFace, 128x128) goes through tflite2onnx;
   `face_landmark.tflite` (468 points, 192x192), on which tflite2onnx fails, goes through
   models/face/tflite_onnx.py. Both graphs are then wrapped so Triton can batch them and the
   service sends bytes, not floats: input `image` UINT8 [N, H, W, 3] (RGB), normalised in the
   graph exactly as MediaPipe feeds them ([-1, 1] for the detector, [0, 1] for the mesh);
   outputs decoded in the graph (anchors, sigmoid), see `OUTPUTS` below.
4. Every wrapped graph is compared with the LiteRT interpreter running the original .tflite
   on the same pixels (batches of 1 and 3); the conversion fails above `TOLERANCE`.
5. Writes models/repository/face_{detector,landmarks}/{config.pbtxt, configs/gpu.pbtxt,
   1/model.onnx}. config.pbtxt (KIND_CPU) is what the CPU deployment and the local Triton
   serve; configs/gpu.pbtxt (KIND_GPU) is picked by `tritonserver --model-config-name=gpu`,
   which the Helm chart passes when `triton.gpu.enabled` (values-gpu.yaml).

    make face-models                 # = .venv/bin/python -m models.face.convert
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from models.training.triton_config import model_config, tensor

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = ROOT / "models" / "repository"
CONVERT_VENV = ROOT / ".run" / "face-convert-venv"
REQUIREMENTS = Path(__file__).resolve().parent / "requirements-convert.txt"

MEDIAPIPE = "mediapipe==0.10.21"
WHEEL = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
DETECTOR_TFLITE = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
LANDMARK_TFLITE = "mediapipe/modules/face_landmark/face_landmark.tflite"
LICENSE = "mediapipe-0.10.21.dist-info/LICENSE"
VERSION = "1"
TOLERANCE = 2e-3  # max |ONNX - LiteRT| on any output element (float32 reorderings only)

DETECTOR = "face_detector"
LANDMARKS = "face_landmarks"
DETECTOR_SIZE = 128
LANDMARK_SIZE = 192
NUM_LANDMARKS = 468
NUM_ANCHORS = 896
MAX_BATCH = {DETECTOR: 32, LANDMARKS: 32}
QUEUE_DELAY_US = 1000  # frames of several streams meet in one batch within this

# BlazeFace short-range anchors (MediaPipe's SsdAnchorsCalculator options for this model:
# 4 layers, strides 8,16,16,16, one aspect ratio plus the interpolated one, anchor offset
# 0.5, fixed anchor size): 16x16 cells x 2 + 8x8 cells x 6 = 896 unit anchors.
ANCHOR_GRIDS = ((16, 2), (8, 6))


def anchors() -> np.ndarray:
    """The 896 anchor centres (x, y), normalised to the 128 px input."""
    out = []
    for cells, per_cell in ANCHOR_GRIDS:
        for y in range(cells):
            for x in range(cells):
                out += [((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell
    centres = np.array(out, np.float32)
    assert centres.shape == (NUM_ANCHORS, 2)
    return centres


# --------------------------------------------------------------------------- conversion


def _wrap(
    graph_nodes: list[Any],
    graph_inits: list[Any],
    inner_input: str,
    size: int,
    scale: float,
    offset: float,
    outputs: list[tuple[str, list[Any], list[int | str]]],
    suffix_nodes: list[Any],
    suffix_inits: list[Any],
    name: str,
    opset: int,
) -> Any:
    """`image` UINT8 [N, size, size, 3] -> float * scale + offset -> NCHW -> the graph."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    prefix_inits = [
        numpy_helper.from_array(np.array(scale, np.float32), "pre_scale"),
        numpy_helper.from_array(np.array(offset, np.float32), "pre_offset"),
    ]
    prefix = [
        helper.make_node("Cast", ["image"], ["pre_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["pre_float", "pre_scale"], ["pre_scaled"]),
        helper.make_node("Add", ["pre_scaled", "pre_offset"], ["pre_shifted"]),
        helper.make_node("Transpose", ["pre_shifted"], [inner_input], perm=[0, 3, 1, 2]),
    ]
    graph = helper.make_graph(
        prefix + graph_nodes + suffix_nodes,
        name,
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", size, size, 3])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n, _, shape in outputs],
        # sorted: tflite2onnx lists initializers in no fixed order; the file must not churn
        initializer=sorted(prefix_inits + graph_inits + suffix_inits, key=lambda t: t.name),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    model.producer_name = "veritas models/face/convert.py"
    onnx.checker.check_model(model, full_check=True)
    return model


def convert_detector(tflite_path: Path, work: Path) -> Any:
    """BlazeFace via tflite2onnx, with a batch axis, uint8 input and decoded outputs:
    `boxes` [N, 896, 16]: centre x, centre y, width, height, then six keypoints (x, y) (right
    eye, left eye, nose tip, mouth, right ear tragion, left ear tragion), all normalised to
    the 128 px input; `scores` [N, 896]: face probability per anchor."""
    import onnx
    import tflite2onnx
    from onnx import helper, numpy_helper

    raw_path = work / "face_detector_tflite2onnx.onnx"
    tflite2onnx.convert(str(tflite_path), str(raw_path))
    raw = onnx.load(str(raw_path))
    (inp,) = [
        i.name for i in raw.graph.input if i.name not in {t.name for t in raw.graph.initializer}
    ]
    inits = {t.name: numpy_helper.to_array(t) for t in raw.graph.initializer}
    for node in raw.graph.node:  # batch 1 was baked into the reshapes: copy the input's
        if node.op_type == "Reshape":
            shape = inits[node.input[1]].copy()
            if shape[0] == 1:
                shape[0] = 0
                inits[node.input[1]] = shape
    graph_inits = [numpy_helper.from_array(v, k) for k, v in inits.items()]
    offsets = np.zeros((NUM_ANCHORS, 16), np.float32)
    offsets[:, 0::2] = anchors()[:, :1]  # x-like columns: centre x and every keypoint x
    offsets[:, 1::2] = anchors()[:, 1:]
    offsets[:, 2:4] = 0.0  # width and height are not offset
    suffix_inits = [
        numpy_helper.from_array(np.array(1.0 / DETECTOR_SIZE, np.float32), "post_scale"),
        numpy_helper.from_array(offsets, "post_anchor_offsets"),
        numpy_helper.from_array(np.array(-100.0, np.float32), "post_clip_lo"),
        numpy_helper.from_array(np.array(100.0, np.float32), "post_clip_hi"),
        numpy_helper.from_array(np.array([0, NUM_ANCHORS], np.int64), "post_scores_shape"),
    ]
    suffix = [
        helper.make_node("Mul", ["regressors", "post_scale"], ["post_boxes_scaled"]),
        helper.make_node("Add", ["post_boxes_scaled", "post_anchor_offsets"], ["boxes"]),
        helper.make_node("Clip", ["classificators", "post_clip_lo", "post_clip_hi"], ["post_clip"]),
        helper.make_node("Sigmoid", ["post_clip"], ["post_sigmoid"]),
        helper.make_node("Reshape", ["post_sigmoid", "post_scores_shape"], ["scores"]),
    ]
    return _wrap(
        list(raw.graph.node),
        graph_inits,
        inp,
        DETECTOR_SIZE,
        2.0 / 255.0,
        -1.0,
        [("boxes", [], ["N", NUM_ANCHORS, 16]), ("scores", [], ["N", NUM_ANCHORS])],
        suffix,
        suffix_inits,
        DETECTOR,
        opset=11,
    )


def convert_landmarks(tflite_path: Path) -> Any:
    """The 468-point mesh via models/face/tflite_onnx.py: `landmarks` [N, 468, 3] (x, y in
    pixels of the 192 px crop, z in the same scale, relative), `presence` [N, 1] (the
    model's face-presence probability: sigmoid of its face flag)."""
    from onnx import helper, numpy_helper

    from models.face import tflite_onnx

    converter = tflite_onnx.Converter(tflite_path.read_bytes())
    graph, (mesh, flag) = converter.convert("input_nchw")
    suffix_inits = [
        numpy_helper.from_array(np.array([-1, NUM_LANDMARKS, 3], np.int64), "post_mesh_shape"),
        numpy_helper.from_array(np.array([-1, 1], np.int64), "post_flag_shape"),
    ]
    suffix = [
        helper.make_node("Reshape", [mesh, "post_mesh_shape"], ["landmarks"]),
        helper.make_node("Sigmoid", [flag], ["post_flag_sigmoid"]),
        helper.make_node("Reshape", ["post_flag_sigmoid", "post_flag_shape"], ["presence"]),
    ]
    return _wrap(
        graph.nodes,
        tflite_onnx.initializers(graph),
        "input_nchw",
        LANDMARK_SIZE,
        1.0 / 255.0,
        0.0,
        [("landmarks", [], ["N", NUM_LANDMARKS, 3]), ("presence", [], ["N", 1])],
        suffix,
        suffix_inits,
        LANDMARKS,
        opset=13,
    )


# --------------------------------------------------------------------------- checking


def _test_images(size: int, n: int) -> np.ndarray:
    """Deterministic RGB pixels with structure at several scales (not only noise)."""
    rng = np.random.default_rng(size)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for i in range(n):
        base = 127 + 100 * np.sin(6.28 * (xx * (i + 1) + yy * (2 - i % 2)))
        noise = rng.normal(0, 25, (size, size, 3))
        out.append(np.clip(base[..., None] + noise, 0, 255))
    return np.array(out, np.uint8)


def _litert(tflite_path: Path, images: np.ndarray, scale: float, offset: float) -> list[np.ndarray]:
    """The original model in Google's interpreter, one image at a time (its batch is 1)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite_path))
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    outs = interpreter.get_output_details()
    results: list[list[np.ndarray]] = [[] for _ in outs]
    for image in images:
        x = image[None].astype(np.float32) * np.float32(scale) + np.float32(offset)
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        for k, o in enumerate(outs):
            results[k].append(interpreter.get_tensor(o["index"])[0].copy())
    return [np.array(r) for r in results]


def check(model: Any, tflite_path: Path, name: str) -> float:
    """Largest |ONNX - LiteRT| over every output, for batches of 1 and 3; raises above
    TOLERANCE."""
    import onnxruntime as ort

    size = DETECTOR_SIZE if name == DETECTOR else LANDMARK_SIZE
    scale, offset = (2.0 / 255.0, -1.0) if name == DETECTOR else (1.0 / 255.0, 0.0)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    worst = 0.0
    for n in (1, 3):
        images = _test_images(size, n)
        got = session.run(None, {"image": images})
        reference = _litert(tflite_path, images, scale, offset)
        if name == DETECTOR:
            regressors, classificators = reference
            offsets = np.zeros((NUM_ANCHORS, 16), np.float32)
            offsets[:, 0::2], offsets[:, 1::2] = anchors()[:, :1], anchors()[:, 1:]
            offsets[:, 2:4] = 0.0
            want = [
                regressors / DETECTOR_SIZE + offsets,
                1 / (1 + np.exp(-np.clip(classificators[..., 0], -100, 100))),
            ]
            # The raw regressors are in pixels (up to ~100): compare them before scaling.
            worst = max(
                worst, float(np.abs(got[0] * DETECTOR_SIZE - want[0] * DETECTOR_SIZE).max())
            )
            worst = max(worst, float(np.abs(got[1] - want[1]).max()))
        else:
            mesh, flag = reference
            want = [mesh.reshape(n, NUM_LANDMARKS, 3), 1 / (1 + np.exp(-flag.reshape(n, 1)))]
            for g, w in zip(got, want, strict=True):
                worst = max(worst, float(np.abs(g - w).max()))
    if worst > TOLERANCE:
        raise SystemExit(f"{name}: ONNX differs from LiteRT by {worst:.2e} (> {TOLERANCE})")
    return worst


# --------------------------------------------------------------------------- configs


def config_pbtxt(name: str, kind: str) -> str:
    """The production config: native ONNX Runtime, dynamic batching, instances of `kind`
    (KIND_CPU in config.pbtxt, KIND_GPU in configs/gpu.pbtxt)."""
    if name == DETECTOR:
        inputs = [tensor("image", "TYPE_UINT8", [DETECTOR_SIZE, DETECTOR_SIZE, 3])]
        outputs = [
            tensor("boxes", "TYPE_FP32", [NUM_ANCHORS, 16]),
            tensor("scores", "TYPE_FP32", [NUM_ANCHORS]),
        ]
        source = f"{MEDIAPIPE} {DETECTOR_TFLITE} (BlazeFace short range), via tflite2onnx 0.4.1"
    else:
        inputs = [tensor("image", "TYPE_UINT8", [LANDMARK_SIZE, LANDMARK_SIZE, 3])]
        outputs = [
            tensor("landmarks", "TYPE_FP32", [NUM_LANDMARKS, 3]),
            tensor("presence", "TYPE_FP32", [1]),
        ]
        source = f"{MEDIAPIPE} {LANDMARK_TFLITE} (Face Mesh), via models/face/tflite_onnx.py"
    return model_config(
        name,
        max_batch_size=MAX_BATCH[name],
        inputs=inputs,
        outputs=outputs,
        queue_delay_us=QUEUE_DELAY_US,
        parameters={
            "card": f"models/cards/{name}.md",
            "source": source,
            "licence": "Apache-2.0",
        },
        instance_kind=kind,
    )


def write_model(name: str, model: Any, repository: Path) -> Path:
    import onnx

    out = repository / name
    (out / VERSION).mkdir(parents=True, exist_ok=True)
    (out / "configs").mkdir(exist_ok=True)
    path = out / VERSION / "model.onnx"
    onnx.save(model, str(path))
    (out / "config.pbtxt").write_text(config_pbtxt(name, "KIND_CPU"))
    (out / "configs" / "gpu.pbtxt").write_text(config_pbtxt(name, "KIND_GPU"))
    return path


# --------------------------------------------------------------------------- stages


def _unpack(wheel: Path, work: Path) -> tuple[Path, Path]:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel.name}: SHA-256 {digest}, expected {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as z:
        for member in (DETECTOR_TFLITE, LANDMARK_TFLITE, LICENSE):
            z.extract(member, work)
    licence = (work / LICENSE).read_text()
    if "Apache License" not in licence or "Version 2.0" not in licence:
        raise SystemExit(f"{LICENSE}: not the Apache License 2.0")
    return work / DETECTOR_TFLITE, work / LANDMARK_TFLITE


def build(wheel: Path, repository: Path) -> None:
    """Stage 2, inside the conversion venv: unpack, convert, check, write."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        detector_tflite, landmark_tflite = _unpack(wheel, work)
        for name, model, tfl in (
            (DETECTOR, convert_detector(detector_tflite, work), detector_tflite),
            (LANDMARKS, convert_landmarks(landmark_tflite), landmark_tflite),
        ):
            worst = check(model, tfl, name)
            path = write_model(name, model, repository)
            print(
                f"{name}: {path} ({path.stat().st_size / 1024:.0f} KiB), "
                f"max |ONNX - LiteRT| {worst:.1e}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", nargs="?", default="all", choices=("all", "build"))
    parser.add_argument("--wheel", type=Path, help="build: the downloaded mediapipe wheel")
    parser.add_argument("--repository", type=Path, default=REPOSITORY)
    parser.add_argument("--venv", type=Path, default=CONVERT_VENV)
    args = parser.parse_args(argv)
    if args.stage == "build":
        build(args.wheel, args.repository)
        return 0
    python = args.venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(args.venv)], check=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-r", str(REQUIREMENTS)], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([*pip, "download", "--no-deps", MEDIAPIPE, "-d", tmp], check=True)
        wheel = Path(tmp) / WHEEL
        subprocess.run(
            [
                str(python),
                "-m",
                "models.face.convert",
                "build",
                "--wheel",
                str(wheel),
                "--repository",
                str(args.repository),
            ],
            check=True,
            cwd=ROOT,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
