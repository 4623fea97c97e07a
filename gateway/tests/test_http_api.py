"""The HTTP layer's refusals, in process (no backend is reached by any of these calls)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

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
from veritas import keys

LIMIT = 2048


@pytest.fixture
async def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple]:
    monkeypatch.setenv("VERITAS_AUTH", "keys")
    monkeypatch.setenv("VERITAS_API_KEYS_FILE", str(tmp_path / "keys.json"))
    monkeypatch.setenv("VERITAS_MEDIA_URI_ALLOWLIST", f"file://{tmp_path}/media/")
    settings = dataclasses.replace(Settings.from_env(), rate=0.01, burst=2, max_request_bytes=LIMIT)
    _, key = keys.create_key(tmp_path / "keys.json", "acme", ["analyst"])
    channel = grpc.aio.insecure_channel("127.0.0.1:1")  # the backend: never reached here
    gateway = Gateway(
        channel,
        Authenticator(KeyStore(settings.api_keys_file), None, anonymous=False),
        MemoryLimiter(settings.rate, settings.burst, settings.max_streams),
        MemoryUsage(),
        AuditLog(str(tmp_path / "audit.jsonl")),
        settings,
    )
    transport = httpx.ASGITransport(app=HttpApi(gateway).app())
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client, {"Authorization": f"Bearer {key}"}
    await channel.close()


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
