"""Fixtures for the gateway tests: keys, signing keys and tokens, certificates, a real
redis-server, and gateway processes of their own in front of the session mesh's fusion.

Use from a test module with `pytest_plugins = ("tests.gateway_fixtures",)`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.tests.signing_keys import AUDIENCE, ISSUER, SigningKey, ec_key, rsa_key, write_jwks
from tools.mesh import ROOT, Mesh, free_port, wait_healthy
from veritas import keys

# ---- certificates -----------------------------------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(path: Path, key: Any, cert: x509.Certificate) -> tuple[Path, Path]:
    cert_path, key_path = path.with_suffix(".crt"), path.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def issue(
    path: Path, common: str, ca: tuple[Any, x509.Certificate] | None = None, is_ca: bool = False
) -> tuple[Path, Path]:
    """A certificate for localhost/127.0.0.1 (self-signed, or signed by `ca`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_key, issuer_name = (ca[0], ca[1].subject) if ca else (key, _name(common))
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if not is_ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
    cert = builder.sign(issuer_key, hashes.SHA256())
    return _write(path, key, cert)


def load_ca(cert_path: Path, key_path: Path) -> tuple[Any, x509.Certificate]:
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    return key, x509.load_pem_x509_certificate(cert_path.read_bytes())


# ---- redis ------------------------------------------------------------------------------


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port. Missing binary: skip locally, FAIL in
    CI (CI=true), where .ci/run installs it."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server not installed (apt-get install -y redis-server)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("redis-server did not answer PING within 10 s")
    yield RedisServer(port, process)
    process.terminate()
    process.wait(10)


# ---- gateway processes ------------------------------------------------------------------


@dataclass
class GatewayProcess:
    name: str
    port: int
    http_port: int
    metrics_port: int
    log: Path
    audit: Path
    process: subprocess.Popen[bytes]
    tls: bool = False

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.http_port}"

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        return urllib.request.urlopen(url, timeout=5).read().decode()

    def audit_records(self) -> list[dict[str, Any]]:
        if not self.audit.exists():
            return []
        return [json.loads(line) for line in self.audit.read_text().splitlines() if line]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Gateways:
    """Starts gateways of their own configuration in front of the mesh's fusion."""

    mesh: Mesh
    run_dir: Path
    started: list[GatewayProcess] = field(default_factory=list)

    def start(self, name: str, env: dict[str, str], tls: bool = False) -> GatewayProcess:
        port, http_port, metrics_port = free_port(), free_port(), free_port()
        log = self.run_dir / f"gateway-{name}.log"
        audit = self.run_dir / f"audit-{name}.jsonl"
        full = self.mesh.env("gateway") | {
            "VERITAS_PORT": str(port),
            "VERITAS_HTTP_PORT": str(http_port),
            "VERITAS_METRICS_PORT": str(metrics_port),
            "VERITAS_FUSION_ADDR": self.mesh.address("fusion"),
            "VERITAS_AUDIT_FILE": str(audit),
        }
        full |= env
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway"],
            cwd=ROOT,
            env=full,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        gw = GatewayProcess(name, port, http_port, metrics_port, log, audit, process, tls)
        self.started.append(gw)
        try:
            if tls:
                wait_for_port(port, 30)
            else:
                wait_healthy(gw.address, 30)
        except (TimeoutError, RuntimeError) as e:
            tail = log.read_text()[-3000:]
            raise RuntimeError(f"gateway {name} did not start: {e}\n{tail}") from e
        return gw

    def stop(self) -> None:
        for gw in self.started:
            gw.stop()


def wait_for_port(port: int, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


@pytest.fixture(scope="session")
def gateways(mesh: Mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    g = Gateways(mesh, tmp_path_factory.mktemp("gateways"))
    yield g
    g.stop()


@dataclass
class Credentials:
    key_file: Path
    jwks_file: Path
    analyst: str  # tenant acme
    admin: str  # tenant acme, admin only
    other: str  # tenant beta, analyst
    revoked: str
    rsa: SigningKey
    ec: SigningKey


@pytest.fixture(scope="session")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Credentials:
    folder = tmp_path_factory.mktemp("credentials")
    key_file, jwks_file = folder / "keys.json", folder / "jwks.json"
    _, analyst = keys.create_key(key_file, "acme", ["analyst"], "analyst")
    _, admin = keys.create_key(key_file, "acme", ["admin"], "admin")
    _, other = keys.create_key(key_file, "beta", ["analyst"], "beta analyst")
    record, revoked = keys.create_key(key_file, "acme", ["analyst"], "to revoke")
    keys.revoke_key(key_file, record.id)
    signing_rsa, signing_ec = rsa_key("rsa-1"), ec_key("ec-1")
    write_jwks(jwks_file, signing_rsa, signing_ec)
    return Credentials(key_file, jwks_file, analyst, admin, other, revoked, signing_rsa, signing_ec)


def auth_env(creds: Credentials) -> dict[str, str]:
    return {
        "VERITAS_AUTH": "keys,jwt",
        "VERITAS_API_KEYS_FILE": str(creds.key_file),
        "VERITAS_JWT_JWKS": str(creds.jwks_file),
        "VERITAS_JWT_ISSUER": ISSUER,
        "VERITAS_JWT_AUDIENCE": AUDIENCE,
        "VERITAS_JWT_LEEWAY_S": "5",
    }


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


@pytest.fixture(scope="session")
def secured(gateways: Gateways, credentials: Credentials) -> GatewayProcess:
    """A gateway as deployed: API keys and JWTs, generous limits, samples/ allow-listed."""
    return gateways.start(
        "secured",
        auth_env(credentials)
        | {
            "VERITAS_RATE_LIMIT_RPS": "1000",
            "VERITAS_RATE_LIMIT_BURST": "1000",
            "VERITAS_MEDIA_URI_ALLOWLIST": f"file://{ROOT / 'samples'}/",
        },
    )


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        body = line[len(name) + 1 : line.index("}")]
        pairs = dict(p.split("=", 1) for p in body.split(",") if p)
        if all(pairs.get(k) == f'"{v}"' for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
