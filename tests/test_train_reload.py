"""`veritas train` publishes a refitted model that a real Triton loads without a restart:
from the production repository through the local mirror, and from a python-backend
repository directly. (The publishing itself, without Triton: tools/tests/test_train.py.)"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import start_triton_on_free_ports
from tools import train
from tools.tests.test_train import MODEL, _repository, _rows, _session
from tools.triton_server import TritonServer, prepare_local_repository


def _wait_served(client: Any, version: str, model_path: Path, timeout_s: float = 60) -> None:
    """Wait until Triton serves `version` and answers like onnxruntime on `model_path`."""
    import tritonclient.grpc as grpcclient

    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(2, 6)
    expected = _session(model_path).run(["probability"], {"features": x})[0]
    deadline = time.monotonic() + timeout_s
    got = None
    while time.monotonic() < deadline:
        try:
            if client.is_model_ready(MODEL, version):
                tensor = grpcclient.InferInput("features", list(x.shape), "FP32")
                tensor.set_data_from_numpy(x)
                result = client.infer(MODEL, [tensor], model_version=version)
                got = result.as_numpy("probability")
                if np.allclose(got, expected, atol=1e-6):
                    return
        except Exception:  # noqa: BLE001 - the model may be mid-reload
            pass
        time.sleep(0.25)
    raise AssertionError(f"version {version} not served as expected: got {got}, want {expected}")


@pytest.mark.integration
def test_triton_loads_the_new_versions_without_a_restart(tmp_path: Path) -> None:
    import tritonclient.grpc as grpcclient

    source = _repository(tmp_path / "source")
    local = tmp_path / "local"
    prepare_local_repository(source, local)
    server = TritonServer(backend_root=tmp_path / "backends")
    start_triton_on_free_ports(server, local, tmp_path / "triton.log", poll_secs=1)
    try:
        assert server.process is not None
        pid = server.process.pid
        with grpcclient.InferenceServerClient(server.grpc_url) as client:
            assert client.is_model_ready(MODEL, "1")
            # 1. The production repository; the mirror step the mesh's watcher runs every 5 s.
            out = train.train("physiology", _rows(tmp_path / "a.csv"), source)
            prepare_local_repository(source, local)
            _wait_served(client, "2", source / MODEL / "2" / "model.onnx")
            config = client.get_model_config(MODEL, as_json=True)["config"]
            assert config["parameters"]["card"]["string_value"].endswith("retrained_v2.md")
            assert out.version == 2
            # 2. The python-backend repository Triton reads, directly.
            out = train.train("physiology", _rows(tmp_path / "b.csv", seed=7), local)
            assert out.version == 3
            _wait_served(client, "3", local / MODEL / "3" / "model.onnx")
        assert server.process is not None and server.process.pid == pid  # never restarted
    finally:
        server.stop()
