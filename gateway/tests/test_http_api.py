"""The HTTP layer's refusals, in process (no backend is reached by any of these calls)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from gateway.audit import AuditLog
from gateway.auth import Authenticator
from gateway.core import Gateway
from gateway.http_api import HttpApi
from gateway.keystore import KeyStore
from gateway.openapi import document
from gateway.ratelimit import MemoryLimiter
from gateway.settings import Settings
from gateway.usage import MemoryUsage
from veritas import keys, media_uri

LIMIT = 2048


@contextlib.asynccontextmanager
async def http_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any
) -> AsyncIterator[tuple]:
    """An in-process HTTP API whose backend is never reached; `settings` override Settings."""
    monkeypatch.setenv("VERITAS_AUTH", "keys")
    monkeypatch.setenv("VERITAS_API_KEYS_FILE", str(tmp_path / "keys.json"))
    monkeypatch.setenv("VERITAS_MEDIA_URI_ALLOWLIST", f"file://{tmp_path}/media/")
    values = {"rate": 0.01, "burst": 2, "max_request_bytes": LIMIT} | settings
    config = dataclasses.replace(Settings.from_env(), **values)
    _, key = keys.create_key(tmp_path / "keys.json", "acme", ["analyst"])
    channel = grpc.aio.insecure_channel("127.0.0.1:1")  # the backend: never reached here
    gateway = Gateway(
        channel,
        Authenticator(KeyStore(config.api_keys_file), None, anonymous=False),
        MemoryLimiter(config.rate, config.burst, config.max_streams),
        MemoryUsage(),
        AuditLog(str(tmp_path / "audit.jsonl")),
        config,
    )
    transport = httpx.ASGITransport(app=HttpApi(gateway).app())
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client, {"Authorization": f"Bearer {key}"}
    await channel.close()


@pytest.fixture
async def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple]:
    async with http_api(tmp_path, monkeypatch) as client_and_auth:
        yield client_and_auth


async def test_no_credentials_is_401(api):
    client, _ = api
    response = await client.post("/v1/analyze", json={"transcript": {"text": "x"}})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_a_declared_oversize_body_is_413(api):
    client, auth = api
    response = await client.post(
        "/v1/analyze", content=b"{}", headers=auth | {"Content-Length": str(LIMIT + 1)}
    )
    assert response.status_code == 413


async def test_an_undeclared_oversize_body_is_413(api):
    client, auth = api

    async def body() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b" " * 1024

    response = await client.post("/v1/analyze", content=body(), headers=auth)
    assert response.status_code == 413


async def test_bad_json_and_bad_fields_are_400(api):
    client, auth = api
    response = await client.post("/v1/analyze", content=b"{oops", headers=auth)
    assert response.status_code == 400 and response.json()["error"]["message"].startswith("body")
    response = await client.post("/api/analyze", json={"video_path": "/etc/passwd"}, headers=auth)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("video_path:")
    response = await client.post(
        "/v1/analyze", json={"transcript": {"text": "x"}}, headers=auth | {"X-Deadline-Ms": "soon"}
    )
    assert response.status_code == 400


async def test_over_the_rate_is_429_with_retry_after(api):
    client, auth = api
    for _ in range(2):  # spend the burst on requests that fail validation after admission
        response = await client.post("/v1/analyze", json={}, headers=auth)
        assert response.status_code == 400
    response = await client.post("/v1/analyze", json={}, headers=auth)
    assert response.status_code == 429
    assert 90 < int(response.headers["Retry-After"]) <= 100
    assert response.json()["error"]["retry_after_s"] > 90


async def test_openapi_and_health_need_no_credentials(api):
    client, _ = api
    assert (await client.get("/openapi.json")).json() == document()
    assert (await client.get("/healthz")).status_code == 200


async def test_the_old_api_charges_before_it_reads_any_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A file the old API would refuse once read (too big): while tokens last that is a 400
    after the charge; once the burst is spent it is a 429, so nothing was read first."""
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "big.wav").write_bytes(b"x" * 4096)
    reads: list[tuple[Any, ...]] = []
    real_read = media_uri.read_file

    def counted(*args: Any) -> bytes:
        reads.append(args)
        return real_read(*args)

    monkeypatch.setattr(media_uri, "read_file", counted)
    body = {"audio_path": str(tmp_path / "media" / "big.wav")}
    async with http_api(tmp_path, monkeypatch, burst=2, max_legacy_request_bytes=1024) as (
        client,
        auth,
    ):
        for _ in range(2):
            response = await client.post("/api/analyze", json=body, headers=auth)
            assert response.status_code == 400
            assert response.json()["error"]["message"] == "audio_path: larger than 1024 bytes"
        assert len(reads) == 2
        response = await client.post("/api/analyze", json=body, headers=auth)
        assert response.status_code == 429
        assert len(reads) == 2  # refused before touching the file


async def test_the_old_api_reads_media_within_its_own_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Not the general request limit (1 MiB here): the old API's own (2 KiB)."""
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.wav").write_bytes(b"x" * 4096)
    settings = {"max_request_bytes": 1 << 20, "max_legacy_request_bytes": 2048}
    async with http_api(tmp_path, monkeypatch, **settings) as (client, auth):
        body = {"audio_path": str(tmp_path / "media" / "a.wav")}
        response = await client.post("/api/analyze", json=body, headers=auth)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "audio_path: larger than 2048 bytes"


@pytest.mark.parametrize(
    "path",
    ["{t}/media/../secret.txt", "file://{t}/media/%2e%2e/secret.txt", "file://other{t}/media/a"],
)
async def test_the_old_api_refuses_traversal_before_charging(api, tmp_path: Path, path: str):
    client, auth = api
    (tmp_path / "secret.txt").write_text("secret")
    for _ in range(3):  # more than the burst of 2: refused without being charged
        body = {"video_path": path.format(t=tmp_path)}
        response = await client.post("/api/analyze", json=body, headers=auth)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"].startswith("video_path:")
