"""The local Triton serves every model of models/repository exactly as onnxruntime runs it.

Starts the real tritonserver from the nvidia-pytriton wheel on free loopback ports (python
backend mirror of the production repository) and compares its answers with onnxruntime run
directly on the same model.onnx. Two synthetic models exercise the generic model.py itself:
dynamic batching of concurrent requests, and a bad request failing alone inside a batch.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from models.training.linear_onnx import linear_model, save
from tests.conftest import start_triton_on_free_ports
from tools.triton_server import (
    TritonServer,
    fast_load_args,
    local_config,
    otlp_traces_url,
    prepare_local_repository,
)

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "models" / "repository"
MODELS = sorted(
    p.name
    for p in SOURCE.glob("*")
    if (p / "config.pbtxt").is_file() and any(p.glob("*/model.onnx"))
)
SAMPLE_TEXTS = [
    "I think I was at home that evening, maybe around eight, but I am not sure.",
    "We never went to the warehouse. I was with my sister the whole night.",
    "Honestly, the room was clean and the staff were wonderful!",
    "",
]

LINEAR_CONFIG = """name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: 64
input [ {{ name: "features" data_type: TYPE_FP32 dims: [ {dims} ] }} ]
output [
  {{ name: "probability" data_type: TYPE_FP32 dims: [ 1 ] }},
  {{ name: "contributions" data_type: TYPE_FP32 dims: [ {dims} ] }}
]
dynamic_batching {{ max_queue_delay_microseconds: 2000 }}
parameters {{ key: "feature_names" value: {{ string_value: "a,b,c" }} }}
"""


def _synthetic_models(root: Path) -> None:
    """`t_linear` (dims [3]) and `t_anyshape` (same graph, config dims [-1]: Triton lets a
    wrong width through, so onnxruntime must reject it inside the batch)."""
    model = linear_model(["a", "b", "c"], [0.1, 0.2, 0.3], [1.0, 2.0, 0.5], [0.5, -1.0, 2.0], 0.1)
    for name, dims in (("t_linear", "3"), ("t_anyshape", "-1")):
        save(model, root / name / "1" / "model.onnx")
        (root / name / "config.pbtxt").write_text(LINEAR_CONFIG.format(name=name, dims=dims))


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    tmp = tmp_path_factory.mktemp("triton")
    source = tmp / "source"
    for name in MODELS:
        shutil.copytree(SOURCE / name, source / name)
    _synthetic_models(source)
    prepare_local_repository(source, tmp / "local")
    server = start_triton_on_free_ports(
        TritonServer(backend_root=tmp / "backends"),
        tmp / "local",
        tmp / "triton.log",
        ready_timeout_s=90,
        poll_secs=1,
    )
    try:
        yield server
    finally:
        began = time.monotonic()
        server.stop()
        print(f"\ntriton stopped in {time.monotonic() - began:.2f} s")


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _batch(config: dict, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A small batch for every input the model's config declares."""
    batch: dict[str, np.ndarray] = {}
    for spec in config["input"]:
        dims = [int(d) for d in spec["dims"]]
        if spec["data_type"] == "TYPE_STRING":
            texts = [SAMPLE_TEXTS[i % len(SAMPLE_TEXTS)] for i in range(n)]
            batch[spec["name"]] = np.array(texts, dtype=object).reshape([n, *dims])
        elif spec["data_type"] == "TYPE_UINT8":  # image models (face_detector, face_landmarks)
            batch[spec["name"]] = rng.integers(0, 256, size=[n, *dims], dtype=np.uint8)
        else:
            batch[spec["name"]] = rng.normal(0, 2, size=[n, *dims]).astype(np.float32)
    return batch


def _infer(client, model: str, batch: dict[str, np.ndarray], outputs: list[str]):  # noqa: ANN001
    import tritonclient.grpc as grpcclient

    inputs = []
    for name, array in batch.items():
        if array.dtype == object:
            tensor = grpcclient.InferInput(name, list(array.shape), "BYTES")
            tensor.set_data_from_numpy(np.vectorize(lambda s: s.encode(), otypes=[object])(array))
        else:
            kind = "UINT8" if array.dtype == np.uint8 else "FP32"
            tensor = grpcclient.InferInput(name, list(array.shape), kind)
            tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    requested = [grpcclient.InferRequestedOutput(o) for o in outputs]
    result = client.infer(model, inputs, outputs=requested)
    return {o: result.as_numpy(o) for o in outputs}


@pytest.fixture(scope="module")
def client(triton: TritonServer):  # noqa: ANN201
    import tritonclient.grpc as grpcclient

    with grpcclient.InferenceServerClient(triton.grpc_url) as c:
        yield c


@pytest.mark.integration
def test_ready_and_start_time(triton: TritonServer, client) -> None:  # noqa: ANN001
    assert triton.is_ready()
    assert client.is_server_ready()
    print(f"\ntriton ready in {triton.started_in_s:.2f} s")
    assert triton.started_in_s is not None and triton.started_in_s < 90


@pytest.mark.integration
def test_every_model_loads_once(triton: TritonServer) -> None:
    """No model is loaded twice at start: not by the poller (tests/test_triton_batching.py),
    and each load is one stub (no auto-complete stub first: `fast_load_args`)."""
    assert triton.log_path is not None
    time.sleep(2.5)  # deliberately: two polls of the repository (poll_secs=1) pass first
    log = Path(triton.log_path).read_text(errors="replace")
    served = [*MODELS, "t_linear", "t_anyshape"]
    assert {m: log.count(f'"loading: {m}:') for m in served} == dict.fromkeys(served, 1)


def test_every_model_loads_at_once_without_auto_complete(tmp_path: Path) -> None:
    """One load thread per model (Triton's default is 4: six models loaded four, then two)
    and no auto-complete, whose python-backend stub doubled every model's load."""
    for name in ("a", "b", "c", "d", "e", "f"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.pbtxt").write_text(f'name: "{name}"')
    (tmp_path / "not_a_model").mkdir()
    assert fast_load_args(tmp_path) == [
        "--disable-auto-complete-config",
        "--model-load-thread-count=6",
    ]
    assert fast_load_args(tmp_path / "missing")[-1] == "--model-load-thread-count=4"


@pytest.mark.integration
@pytest.mark.parametrize("model", [*MODELS, "t_linear"])
def test_matches_onnxruntime(triton: TritonServer, client, model: str) -> None:  # noqa: ANN001
    assert client.is_model_ready(model)
    config = client.get_model_config(model, as_json=True)["config"]
    outputs = [o["name"] for o in config["output"]]
    batch = _batch(config, 4, np.random.default_rng(0))
    served = _infer(client, model, batch, outputs)
    path = SOURCE / model if model in MODELS else None
    if path is None:  # the synthetic one
        path = Path(triton.log_path).parent / "source" / model
    version = max((p for p in path.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    direct = _session(version / "model.onnx").run(outputs, batch)
    for name, expected in zip(outputs, direct, strict=True):
        np.testing.assert_allclose(served[name], expected, rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.integration
def test_concurrent_requests_are_batched_and_split_back(triton: TritonServer, client) -> None:  # noqa: ANN001
    rng = np.random.default_rng(1)
    batches = [rng.normal(size=(int(rng.integers(1, 5)), 3)).astype(np.float32) for _ in range(40)]
    session = _session(Path(triton.log_path).parent / "source" / "t_linear" / "1" / "model.onnx")
    with ThreadPoolExecutor(max_workers=16) as pool:
        served = list(
            pool.map(
                lambda x: _infer(
                    client, "t_linear", {"features": x}, ["probability", "contributions"]
                ),
                batches,
            )
        )
    for x, got in zip(batches, served, strict=True):
        p, c = session.run(["probability", "contributions"], {"features": x})
        np.testing.assert_allclose(got["probability"], p, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got["contributions"], c, rtol=1e-6, atol=1e-6)
    stats = client.get_inference_statistics("t_linear", as_json=True)["model_stats"][0]
    print(f"\nt_linear: {stats['inference_count']} rows in {stats['execution_count']} executions")


@pytest.mark.integration
def test_bad_request_fails_alone(triton: TritonServer, client) -> None:  # noqa: ANN001
    from tritonclient.utils import InferenceServerException

    good = np.ones((2, 3), np.float32)
    bad = np.ones((2, 4), np.float32)

    def call(x: np.ndarray):  # noqa: ANN202
        try:
            return _infer(client, "t_anyshape", {"features": x}, ["probability"])
        except InferenceServerException as exc:
            return exc

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(call, [good, bad] * 4))
    for x, r in zip([good, bad] * 4, results, strict=True):
        if x.shape[1] == 3:
            assert isinstance(r, dict) and r["probability"].shape == (2, 1)
        else:
            assert isinstance(r, InferenceServerException)
    assert triton.is_ready()


def test_prepare_rewrites_only_the_platform_line(tmp_path: Path) -> None:
    _synthetic_models(tmp_path / "src")
    (tmp_path / "src" / "t_linear" / "2").mkdir()  # an empty version is not a model version
    (tmp_path / "dst" / "gone" / "1").mkdir(parents=True)
    (tmp_path / "dst" / "gone" / "config.pbtxt").write_text("stale")
    names = prepare_local_repository(tmp_path / "src", tmp_path / "dst")
    assert names == ["t_anyshape", "t_linear"]
    assert not (tmp_path / "dst" / "gone").exists()
    original = (tmp_path / "src" / "t_linear" / "config.pbtxt").read_text().splitlines()
    local = (tmp_path / "dst" / "t_linear" / "config.pbtxt").read_text().splitlines()
    changed = [(a, b) for a, b in zip(original, local, strict=True) if a != b]
    assert changed == [('platform: "onnxruntime_onnx"', 'backend: "python"')]
    version = tmp_path / "dst" / "t_linear" / "1"
    # model.py's bytecode ships with it: the stub's import writes nothing there (no reload).
    assert sorted(p.name for p in version.iterdir()) == ["__pycache__", "model.onnx", "model.py"]
    assert (version / "model.onnx").read_bytes() == (
        tmp_path / "src" / "t_linear" / "1" / "model.onnx"
    ).read_bytes()
    assert not (tmp_path / "dst" / "t_linear" / "2").exists()
    mtime = (version / "model.onnx").stat().st_mtime_ns
    prepare_local_repository(tmp_path / "src", tmp_path / "dst")  # idempotent: no reload
    assert (version / "model.onnx").stat().st_mtime_ns == mtime
    # The source repository is only read, on the first pass and on every later one.
    assert sorted(p.name for p in (tmp_path / "src" / "t_linear" / "1").iterdir()) == ["model.onnx"]


def test_local_config_requires_the_onnx_platform() -> None:
    assert local_config('  platform: "onnxruntime_onnx"\n') == '  backend: "python"\n'
    with pytest.raises(ValueError):
        local_config('backend: "python"\n')


def test_otlp_url_from_environment() -> None:
    assert otlp_traces_url(env={}) is None
    assert otlp_traces_url(
        env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}
    ) == ("http://c:4318/v1/traces")
    assert otlp_traces_url(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"}) == (
        "http://c:4318/v1/traces"
    )
    assert otlp_traces_url("http://x:1/v1/traces", env={}) == "http://x:1/v1/traces"


@pytest.mark.integration
def test_new_version_loads_without_restart(triton: TritonServer, client) -> None:  # noqa: ANN001
    """Written to the source repository, mirrored by watch(), loaded by Triton's poller."""
    tmp = Path(triton.log_path).parent
    source = tmp / "source" / "t_linear"
    doubled = linear_model(["a", "b", "c"], [0.1, 0.2, 0.3], [1.0, 2.0, 0.5], [1.0, -2.0, 4.0], 0.2)
    save(doubled, source / "2" / "model.onnx")
    triton.watch(tmp / "source", tmp / "local", every_s=0.5)
    deadline = time.monotonic() + 30
    while not client.is_model_ready("t_linear", "2") and time.monotonic() < deadline:
        time.sleep(0.25)
    assert client.is_model_ready("t_linear", "2")
    x = np.ones((1, 3), np.float32)
    expected = _session(source / "2" / "model.onnx").run(["contributions"], {"features": x})[0]
    deadline = time.monotonic() + 30  # version 1 unloads just after version 2 is ready
    while time.monotonic() < deadline:
        try:
            got = _infer(client, "t_linear", {"features": x}, ["contributions"])["contributions"]
            if np.allclose(got, expected, atol=1e-6):
                break
        except Exception:  # noqa: BLE001 - a request may land during the swap
            pass
        time.sleep(0.25)
    np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.integration
def test_exports_opentelemetry_traces(tmp_path: Path) -> None:
    """--trace-config mode=opentelemetry posts OTLP/HTTP to the configured collector."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    posts: list[str] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            posts.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    _synthetic_models(tmp_path / "source")
    prepare_local_repository(tmp_path / "source", tmp_path / "local")
    url = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"
    try:
        with TritonServer(backend_root=tmp_path / "backends") as server:
            start_triton_on_free_ports(
                server, tmp_path / "local", tmp_path / "triton.log", otlp_endpoint=url
            )
            import tritonclient.grpc as grpcclient

            with grpcclient.InferenceServerClient(server.grpc_url) as c:
                for _ in range(3):
                    _infer(
                        c, "t_linear", {"features": np.ones((1, 3), np.float32)}, ["probability"]
                    )
            deadline = time.monotonic() + 15
            while not posts and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        collector.shutdown()
    assert posts and posts[0] == "/v1/traces"
