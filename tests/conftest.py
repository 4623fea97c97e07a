"""The real mesh for integration tests: Triton and the six services on free loopback ports;
and the helpers several test files share."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.slow_modality import SlowPath
from tools.cli import sample_request
from tools.mesh import Mesh, free_port
from tools.triton_server import TritonServer
from veritas.client import Client, build_request
from veritas.v1 import common_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
# These tests repeat identical requests and expect each one to be analysed: the gateway's
# result cache stays off in every mesh and gateway they start, unless a test turns it on
# (tests/test_result_cache.py).
os.environ.setdefault("VERITAS_CACHE_MAX_MB", "0")
# Far beyond any deadline the tests set: vision can only ever time out on the slow path.
SLOW_VISION_DELAY_S = 120.0
T = TypeVar("T")


def system_binary(name: str, package: str) -> str:
    """The path of a tool from a Debian package (`make sysdeps` installs them): missing, the
    test skips locally and FAILS in CI (CI=true), where it must be there."""
    binary = shutil.which(name)
    if binary is None:
        message = f"{name} not installed: `make sysdeps` (apt-get install -y {package})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return binary


def wait_until(what: str, check: Callable[[], T], timeout_s: float) -> T:
    """`check()`'s first truthy value; AssertionError naming `what` after `timeout_s` (a
    bound, not a wait: it returns as soon as the check holds)."""
    end = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(0.2)
    return value


def start_triton_on_free_ports(
    server: TritonServer, repository: Path, log_path: Path, **options: Any
) -> TritonServer:
    """Start `server` on free loopback ports; another process can take a free port before
    Triton binds it, so a start that finds one in use is tried again (three tries)."""
    for attempt in range(3):
        try:
            server.start(
                repository,
                grpc_port=free_port(),
                http_port=free_port(),
                metrics_port=free_port(),
                log_path=log_path,
                **options,
            )
            return server
        except RuntimeError as exc:
            if "already in use" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """The spans this process ends during the test, in memory (the global tracer provider)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    memory = InMemorySpanExporter()
    processor = SimpleSpanProcessor(memory)
    provider.add_span_processor(processor)
    yield memory
    processor.shutdown()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "mesh" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    run_dir = tmp_path_factory.mktemp("mesh")
    trace_file = run_dir / "spans.jsonl"
    # Auth is off for this loopback mesh; the gateway tests start their own gateways with it on.
    env = {"VERITAS_TRACE_FILE": str(trace_file), "VERITAS_AUTH": "none"}
    with Mesh(run_dir, extra_env=env).start() as m:
        yield m


@pytest.fixture(scope="module")
def triton_traced(mesh: Mesh) -> Iterator[Mesh]:
    """The session mesh with Triton restarted with its own tracing on, for the tests that
    read Triton's spans; restarted without it after the module. Off otherwise, as in `make
    run`: Triton 2.51 crashes after thousands of traced requests (triton_server.TRACING_CRASH)."""
    mesh.start_triton(tracing=True)
    _until_every_modality_scores(mesh)
    yield mesh
    mesh.start_triton(tracing=False)
    _until_every_modality_scores(mesh)


def _until_every_modality_scores(mesh: Mesh, timeout_s: float = 60) -> None:
    """After a Triton restart: until all four modality services score again (each one
    reconnects on its own, its channel backing off meanwhile)."""
    end = time.monotonic() + timeout_s  # a bound, not a wait: returns once they score
    with Client(mesh.address("gateway"), timeout_s=60) as c:
        while True:
            failing = {
                pb.Modality.Name(m.modality): m.reason
                for m in c.analyze(sample_request()).modalities  # type: ignore[arg-type]
                if m.status != pb.OK
            }
            if not failing or time.monotonic() > end:
                break
            time.sleep(0.25)
    assert not failing, failing


@pytest.fixture(scope="session")
def client(mesh: Mesh) -> Iterator[Client]:
    with Client(mesh.address("gateway"), timeout_s=120) as c:
        yield c


@pytest.fixture(scope="session")
def slow_vision(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlowPath]:
    """A gateway and fusion whose vision service waits SLOW_VISION_DELAY_S before analysing
    (tests/slow_modality.py); audio, text and physiology are the mesh's own. Timing in the
    deadline tests comes from this deliberate delay, never from how fast the machine is.

    One analysis without video first, with the default deadline, so the first calls' costs
    (connections, lazy imports) are paid before a test measures anything."""
    run_dir = tmp_path_factory.mktemp("slow-vision")
    with SlowPath(mesh, run_dir, "vision", SLOW_VISION_DELAY_S).start() as path:
        warm = build_request(
            audio=SAMPLES / "speech.wav",
            transcript=(SAMPLES / "transcript.txt").read_text(encoding="utf-8"),
            physiology=SAMPLES / "physiology.csv",
        )
        with Client(path.address("gateway"), timeout_s=120) as c:
            result = c.analyze(warm)
        statuses = {
            pb.Modality.Name(m.modality): pb.ModalityStatus.Name(m.status)
            for m in result.modalities
        }
        assert statuses == {"VISION": "SKIPPED", "AUDIO": "OK", "TEXT": "OK", "PHYSIOLOGY": "OK"}
        yield path
