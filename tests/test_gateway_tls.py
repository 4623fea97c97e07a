"""TLS on the gateway's public ports, and mutual TLS between services (veritas.tls)."""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tests.gateway_fixtures import Credentials, Gateways, auth_env, bearer, issue, load_ca
from veritas import tls
from veritas.client import build_request
from veritas.v1 import veritas_pb2_grpc

pytest_plugins = ("tests.gateway_fixtures",)


def test_the_public_ports_speak_tls(
    gateways: Gateways, credentials: Credentials, tmp_path: Path
) -> None:
    cert, key = issue(tmp_path / "gateway", "localhost")
    gw = gateways.start(
        "tls",
        auth_env(credentials) | {"VERITAS_TLS_CERT": str(cert), "VERITAS_TLS_KEY": str(key)},
        tls=True,
    )
    trusted = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    with grpc.secure_channel(gw.address, trusted) as channel:
        result = veritas_pb2_grpc.VeritasStub(channel).Analyze(
            build_request(transcript="I was at home."),
            timeout=60,
            metadata=bearer(credentials.analyst),
        )
    assert result.final
    with grpc.insecure_channel(gw.address) as channel:
        with pytest.raises(grpc.RpcError) as info:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    trusting = ssl.create_default_context(cafile=str(cert))
    assert httpx.get(f"{gw.http}/healthz", verify=trusting).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{gw.http}/healthz")  # not trusted: the system CAs did not sign it


async def test_mutual_tls_admits_only_certified_peers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_cert, ca_key = issue(tmp_path / "ca", "veritas-ca", is_ca=True)
    ca = load_ca(ca_cert, ca_key)
    service_cert, service_key = issue(tmp_path / "service", "fusion", ca=ca)
    monkeypatch.setenv("VERITAS_MTLS_CA", str(ca_cert))
    monkeypatch.setenv("VERITAS_MTLS_CERT", str(service_cert))
    monkeypatch.setenv("VERITAS_MTLS_KEY", str(service_key))
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = tls.bind(server, "127.0.0.1:0")
    await server.start()
    try:
        async with tls.channel(f"127.0.0.1:{port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        # Trusts the server, but has no client certificate: refused.
        server_only = grpc.ssl_channel_credentials(root_certificates=ca_cert.read_bytes())
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", server_only) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=5
                )
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        # A certificate from another CA: refused.
        rogue_ca = load_ca(*issue(tmp_path / "rogue-ca", "rogue", is_ca=True))
        rogue_cert, rogue_key = issue(tmp_path / "rogue", "rogue", ca=rogue_ca)
        rogue = grpc.ssl_channel_credentials(
            ca_cert.read_bytes(), rogue_key.read_bytes(), rogue_cert.read_bytes()
        )
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", rogue) as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=5
                )
    finally:
        await server.stop(0)


def test_mutual_tls_needs_all_three_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERITAS_MTLS_CA", "/x/ca.crt")
    monkeypatch.delenv("VERITAS_MTLS_CERT", raising=False)
    monkeypatch.delenv("VERITAS_MTLS_KEY", raising=False)
    with pytest.raises(ValueError, match="VERITAS_MTLS_CERT"):
        tls.MutualTls.from_env()
