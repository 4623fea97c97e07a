"""The real mesh for integration tests: Triton and the six services on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from veritas.client import Client
from veritas.mesh import Mesh

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


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


@pytest.fixture(scope="session")
def client(mesh: Mesh) -> Iterator[Client]:
    with Client(mesh.address("gateway"), timeout_s=120) as c:
        yield c
