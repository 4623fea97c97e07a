"""Mutual TLS between every service: with VERITAS_MTLS_* set, the whole mesh talks TLS with
client certificates, an analysis still works end to end, and a plaintext peer is refused."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.gateway_fixtures import issue, load_ca
from tools.mesh import Mesh
from veritas import tls
from veritas.v1 import common_pb2 as pb
from veritas.v1 import veritas_pb2_grpc

pytestmark = pytest.mark.integration


def test_the_whole_mesh_runs_on_mutual_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca_cert, ca_key = issue(tmp_path / "ca", "veritas-ca", is_ca=True)
    cert, key = issue(tmp_path / "service", "veritas", ca=load_ca(ca_cert, ca_key))
    for name, path in (("CA", ca_cert), ("CERT", cert), ("KEY", key)):
        monkeypatch.setenv(f"VERITAS_MTLS_{name}", str(path))  # this process and the mesh
    with Mesh(tmp_path / "mesh", extra_env={"VERITAS_AUTH": "none"}).start(
        services=("text", "fusion", "gateway")
    ) as mesh:
        with tls.sync_channel(mesh.address("gateway")) as channel:
            result = veritas_pb2_grpc.VeritasStub(channel).Analyze(
                pb.AnalysisRequest(transcript=pb.Transcript(text="I was at home all evening.")),
                timeout=60,
            )
        text = next(m for m in result.modalities if m.modality == pb.TEXT)
        assert text.status == pb.OK, text.reason
        for service in ("fusion", "text"):
            with grpc.insecure_channel(mesh.address(service)) as plaintext:
                with pytest.raises(grpc.RpcError) as info:
                    health_pb2_grpc.HealthStub(plaintext).Check(
                        health_pb2.HealthCheckRequest(), timeout=5
                    )
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
