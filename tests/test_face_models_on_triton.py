"""The face models on the local Triton (python-backend mirror, tools/triton_server.py) give
the same answers as the ONNX files run in-process, and concurrent streams' frames meet in
Triton's batches. It starts Triton; the in-process face finder's unit tests are in
services/vision/tests/test_neural_face.py."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from skimage import data

from services.vision import neural_face as nf
from services.vision.observation import FrameStatus
from tests.conftest import start_triton_on_free_ports
from tools.triton_server import TritonServer, prepare_local_repository


@pytest.fixture(scope="module")
def models() -> nf.OnnxFaceModels:
    return nf.OnnxFaceModels()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """A real face photograph (BGR) that ships with scikit-image."""
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def triton_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local Triton (python-backend mirror, tools/triton_server.py) serving only the
    committed face models."""
    tmp = tmp_path_factory.mktemp("face_triton")
    for name in (nf.DETECTOR, nf.LANDMARKS):
        shutil.copytree(nf.REPOSITORY / name, tmp / "source" / name)
    assert prepare_local_repository(tmp / "source", tmp / "local") == [nf.DETECTOR, nf.LANDMARKS]
    server = start_triton_on_free_ports(
        TritonServer(backend_root=tmp / "backends"),
        tmp / "local",
        tmp / "triton.log",
        ready_timeout_s=90,
    )
    try:
        yield server.grpc_url
    finally:
        server.stop()


@pytest.mark.integration
def test_triton_serves_the_face_models_as_onnxruntime_runs_them(
    triton_url, models, astronaut
) -> None:
    served = nf.TritonFaceModels(triton_url, timeout_s=30, max_batch=4)
    assert served.problem() is None
    assert nf.TritonFaceModels("127.0.0.1:1", timeout_s=1).problem() is not None
    frames = [np.roll(astronaut, 4 * i, axis=1) for i in range(7)]
    remote = nf.NeuralFaceTracker(served).observe_many(frames)  # 7 crops: split 4 + 3
    local = nf.NeuralFaceTracker(models).observe_many(frames)
    for a, b in zip(remote, local, strict=True):
        assert a.status is b.status is FrameStatus.ONE_FACE
        assert a.landmarks is not None and b.landmarks is not None
        np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-3)


@pytest.mark.integration
def test_streams_meet_in_tritons_batches(triton_url, astronaut) -> None:
    """Eight streams' frames sent at once from worker threads (each its own client): every
    answer is right, and Triton ran fewer executions than requests (dynamic batching)."""
    import tritonclient.grpc as grpcclient

    served = nf.TritonFaceModels(triton_url, timeout_s=30)
    with grpcclient.InferenceServerClient(triton_url) as client:
        before = client.get_inference_statistics(nf.LANDMARKS, as_json=True)["model_stats"][0]
    crops = np.stack([nf.cut(astronaut[..., ::-1].copy(), nf.Roi(225, 140, 190, 0.0))[0]] * 3)

    def stream(_: int) -> list[float]:
        return [float(served.mesh(crops)[1].min()) for _ in range(6)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        presence = [p for ps in pool.map(stream, range(8)) for p in ps]
    assert min(presence) > 0.9
    with grpcclient.InferenceServerClient(triton_url) as client:
        deadline = time.monotonic() + 10  # the python backend reports its counts a bit late
        while True:
            after = client.get_inference_statistics(nf.LANDMARKS, as_json=True)["model_stats"][0]
            done = int(after.get("inference_count", 0)) - int(before.get("inference_count", 0))
            if done >= 48 * 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    # (counters still at 0 are absent from the JSON)
    rows = int(after.get("inference_count", 0)) - int(before.get("inference_count", 0))
    executions = int(after.get("execution_count", 0)) - int(before.get("execution_count", 0))
    print(f"\nface_landmarks: 48 requests of 3 crops ({rows} rows) in {executions} executions")
    assert rows == 48 * 3 and executions < 48
