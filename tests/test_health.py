"""Health tells the truth: with Triton dead, every modality service stays alive but not
ready and says its model server is the dependency that is down; fusion and the gateway
follow; all recover when Triton is back. Its own mesh, since it stops Triton."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tools.mesh import Mesh

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
MODALITY = "veritas.v1.ModalityAnalyzer"
READINESS = {
    "vision": MODALITY,
    "audio": MODALITY,
    "text": MODALITY,
    "physiology": MODALITY,
    "fusion": "veritas.v1.Fusion",
    "gateway": "veritas.v1.Veritas",
}


def status(mesh: Mesh, service: str, name: str) -> int:
    with grpc.insecure_channel(mesh.address(service)) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=name), timeout=5
        )
    return int(reply.status)


def wait_for(mesh: Mesh, expected: dict[tuple[str, str], int], timeout_s: float = 30) -> None:
    end = time.monotonic() + timeout_s
    seen: dict[tuple[str, str], int] = {}
    while time.monotonic() < end:
        seen = {key: status(mesh, *key) for key in expected}
        if seen == expected:
            return
        time.sleep(0.25)
    raise AssertionError(f"health after {timeout_s} s: {seen}, expected {expected}")


@pytest.fixture(scope="module")
def own_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    run_dir: Path = tmp_path_factory.mktemp("health-mesh")
    with Mesh(run_dir, extra_env={"VERITAS_AUTH": "none"}).start() as mesh:
        yield mesh


@pytest.mark.integration
def test_readiness_follows_triton_and_liveness_does_not(own_mesh: Mesh) -> None:
    mesh = own_mesh
    ready = {(s, READINESS[s]): SERVING for s in READINESS}
    ready |= {(m, "dependency/triton"): SERVING for m in ("vision", "audio", "text", "physiology")}
    wait_for(mesh, ready)

    assert mesh.stop_triton() is not None  # deliberate: its supervisor restarts nothing
    down = {(s, READINESS[s]): NOT_SERVING for s in READINESS}
    down |= {(m, "dependency/triton"): NOT_SERVING for m in ("vision", "audio", "text")}
    down |= {
        ("fusion", "dependency/vision"): NOT_SERVING,
        ("gateway", "dependency/fusion"): NOT_SERVING,
    }
    down |= {(s, ""): SERVING for s in READINESS}  # alive: restarting them would not help
    wait_for(mesh, down)

    mesh.start_triton()
    wait_for(mesh, ready, timeout_s=60)
