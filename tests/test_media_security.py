"""Media URIs through the public API (gRPC and HTTP) of a real gateway and fusion in front of
the session mesh's modality services: traversal and redirect attempts are refused naming the
field, and a media server that trickles bytes holds neither other calls nor its own call
past the deadline.

This module starts a fusion of its own (the session mesh's fusion allows no media folder)
with a temporary folder and a local HTTP media server allow-listed, and a gateway with API
keys for two tenants in front of it.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from tests.conftest import SAMPLES
from tests.gateway_fixtures import Credentials, GatewayProcess, Gateways, auth_env, bearer
from tools.mesh import ROOT, Mesh, free_port, wait_healthy
from veritas.tests.media_server import MediaServer
from veritas.v1 import common_pb2 as pb
from veritas.v1 import veritas_pb2_grpc

pytest_plugins = ("tests.gateway_fixtures",)
TEXT = "I was at home all evening and I did not take the money."


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media-root")
    media, private = root / "media", root / "private"
    media.mkdir()
    private.mkdir()
    shutil.copy(SAMPLES / "speech.wav", media / "speech.wav")
    shutil.copy(SAMPLES / "speech.wav", private / "secret.wav")
    (root / "media_private").mkdir()  # the case: a sibling sharing the name's prefix
    shutil.copy(SAMPLES / "speech.wav", root / "media_private" / "x.wav")
    (media / "link.wav").symlink_to(private / "secret.wav")
    return media


@pytest.fixture(scope="module")
def server() -> Iterator[MediaServer]:
    speech = (SAMPLES / "speech.wav").read_bytes()
    with MediaServer({"speech.wav": speech, "secret.wav": speech}, trickle_s=0.2) as s:
        yield s


@pytest.fixture(scope="module")
def fusion(
    mesh: Mesh, folder: Path, server: MediaServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("media-fusion") / "fusion.log"
    env = mesh.env("fusion") | {
        "VERITAS_PORT": str(port),
        "VERITAS_METRICS_PORT": str(free_port()),
        "VERITAS_MEDIA_URI_ALLOWLIST": f"file://{folder}/,{server.base}/media/",
        "VERITAS_MEDIA_FETCHES_PER_TENANT": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "fusion"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"127.0.0.1:{port}", 60)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(15)


@pytest.fixture(scope="module")
def gateway(
    gateways: Gateways, credentials: Credentials, fusion: str, folder: Path, server: MediaServer
) -> GatewayProcess:
    return gateways.start(
        "media",
        auth_env(credentials)
        | {
            "VERITAS_FUSION_ADDR": fusion,
            "VERITAS_MEDIA_URI_ALLOWLIST": f"file://{folder}/,{server.base}/media/",
            "VERITAS_RATE_LIMIT_RPS": "1000",
            "VERITAS_RATE_LIMIT_BURST": "1000",
        },
    )


@pytest.fixture
async def stub(gateway: GatewayProcess) -> AsyncIterator[veritas_pb2_grpc.VeritasStub]:
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        yield veritas_pb2_grpc.VeritasStub(channel)


def statuses(result: pb.AnalysisResult) -> dict[str, str]:
    return {
        pb.Modality.Name(m.modality): pb.ModalityStatus.Name(m.status) for m in result.modalities
    }


def reasons(result: pb.AnalysisResult) -> dict[str, str]:
    return {pb.Modality.Name(m.modality): m.reason for m in result.modalities}


# ---- what is allowed works (so the refusals below are not vacuous) ----------------------


async def test_allow_listed_media_are_fetched_and_analysed(
    stub, credentials: Credentials, folder: Path, server: MediaServer
):
    for uri in (f"file://{folder}/speech.wav", f"{server.base}/media/speech.wav"):
        request = pb.AnalysisRequest(audio=pb.Media(uri=uri), transcript=pb.Transcript(text=TEXT))
        result = await stub.Analyze(request, metadata=bearer(credentials.analyst), timeout=120)
        assert statuses(result)["AUDIO"] == "OK", reasons(result)


# ---- traversal and redirects ------------------------------------------------------------

ATTEMPTS = [
    ("video", "file://{m}/../private/secret.wav"),
    ("audio", "file://{m}/../media_private/x.wav"),
    ("audio", "file://{m}_private/x.wav"),
    ("video", "file://{m}/%2e%2e/private/secret.wav"),
    ("video", "file://{m}%2f..%2fprivate%2fsecret.wav"),
    ("audio", "file://{m}/link.wav"),  # a symlink out of the folder
    ("audio", "file://evil.example{m}/speech.wav"),
    ("audio", "file:///etc/passwd"),
    ("audio", "{base}/private/secret.wav"),
    ("audio", "{base}/media/../private/secret.wav"),
    ("audio", "{base}/media/%2e%2e/private/secret.wav"),
    ("audio", "{base}/media/redirect?to=/private/secret.wav"),
    ("audio", "{base}/media/redirect?to=http://localhost:{port}/media/speech.wav"),
    ("video", "{base}/mediafiles/speech.wav"),
    ("video", "http://127.0.0.1:{port}@evil.example/media/speech.wav"),
    ("baseline.audio", "file://{m}/../private/secret.wav"),
]


def attempt(field: str, template: str, folder: Path, server: MediaServer) -> pb.AnalysisRequest:
    uri = template.format(m=folder, base=server.base, port=server.port)
    request = pb.AnalysisRequest(transcript=pb.Transcript(text=TEXT))
    target = request.baseline.audio if field == "baseline.audio" else getattr(request, field)
    target.uri = uri
    if field == "baseline.audio":
        request.audio.uri = f"file://{folder}/speech.wav"
    return request


@pytest.mark.parametrize("field, template", ATTEMPTS)
async def test_traversal_over_grpc_is_invalid_argument_naming_the_field(
    stub, credentials: Credentials, folder: Path, server: MediaServer, field: str, template: str
):
    request = attempt(field, template, folder, server)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Analyze(request, metadata=bearer(credentials.analyst), timeout=60)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith(f"{field}.uri:"), info.value.details()
    assert str(folder.parent) not in info.value.details()  # no server paths in errors
    assert not any(r.startswith("/private/") for r in server.requests)


@pytest.mark.parametrize("field, template", ATTEMPTS[:6] + ATTEMPTS[11:12])
def test_traversal_over_http_is_400_naming_the_field(
    gateway: GatewayProcess,
    credentials: Credentials,
    folder: Path,
    server: MediaServer,
    field: str,
    template: str,
):
    from google.protobuf import json_format

    body = json_format.MessageToDict(attempt(field, template, folder, server))
    response = httpx.post(
        f"{gateway.http}/v1/analyze",
        json=body,
        headers={"Authorization": f"Bearer {credentials.analyst}"},
        timeout=60,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert error["message"].startswith(f"{field}.uri:"), error["message"]


@pytest.mark.parametrize(
    "path",
    ["{m}/../private/secret.wav", "file://{m}/%2e%2e/private/secret.wav", "{m}/link.wav"],
)
def test_traversal_over_the_old_http_api_is_400_naming_the_field(
    gateway: GatewayProcess, credentials: Credentials, folder: Path, path: str
):
    response = httpx.post(
        f"{gateway.http}/api/analyze",
        json={"audio_path": path.format(m=folder), "transcript": TEXT},
        headers={"Authorization": f"Bearer {credentials.analyst}"},
        timeout=60,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith("audio_path:")


# ---- a slow media server ----------------------------------------------------------------


def trickling(server: MediaServer) -> pb.AnalysisRequest:
    return pb.AnalysisRequest(
        audio=pb.Media(uri=f"{server.base}/media/trickle"), transcript=pb.Transcript(text=TEXT)
    )


async def test_stuck_fetches_block_neither_text_only_calls_nor_other_tenants(
    stub, credentials: Credentials, server: MediaServer
):
    """Tenant acme sends more calls whose media trickle a byte every 0.2 s than fusion has
    fetch slots for it (2) or than the old shared pool had threads (6). While they are
    stuck, tenant beta's text-only call and beta's media call answer, and acme never holds
    more than its 2 fetches."""
    before = server.trickle_started
    acme = bearer(credentials.analyst)
    calls = [stub.Analyze(trickling(server), metadata=acme, timeout=120) for _ in range(8)]
    stuck = [asyncio.ensure_future(call) for call in calls]
    try:
        assert await asyncio.to_thread(server.wait_for, lambda s: s.trickling == 2, 60)
        beta = bearer(credentials.other)
        text_only = pb.AnalysisRequest(transcript=pb.Transcript(text=TEXT))
        result = await stub.Analyze(text_only, metadata=beta, timeout=60)
        assert statuses(result)["TEXT"] == "OK"
        media = pb.AnalysisRequest(audio=pb.Media(uri=f"{server.base}/media/speech.wav"))
        result = await stub.Analyze(media, metadata=beta, timeout=60)
        assert statuses(result)["AUDIO"] == "OK"
        assert not any(task.done() for task in stuck)  # acme's calls are still stuck
        assert server.trickling == 2 and server.trickle_started - before == 2
    finally:
        for call in calls:
            call.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
    assert server.max_trickling <= 2
    # Cancelled callers: fusion hangs up on the media server (long before their 120 s).
    assert await asyncio.to_thread(server.wait_for, lambda s: s.trickling == 0, 20)


async def test_a_fetch_is_bounded_by_the_deadline_in_total(
    stub, credentials: Credentials, server: MediaServer
):
    """Every read is quick (a byte every 0.2 s), so only a total deadline ends the fetch:
    the call answers by its 4 s deadline, audio TIMED_OUT naming the URI, text analysed."""
    await asyncio.to_thread(server.wait_for, lambda s: s.trickling == 0, 20)
    started = time.monotonic()
    result = await stub.Analyze(trickling(server), metadata=bearer(credentials.analyst), timeout=4)
    assert time.monotonic() - started < 4
    assert statuses(result)["AUDIO"] == "TIMED_OUT"
    assert reasons(result)["AUDIO"].startswith("audio.uri: not fetched within")
    assert statuses(result)["TEXT"] == "OK"


async def test_a_caller_that_goes_away_cancels_its_fetch(
    stub, credentials: Credentials, server: MediaServer
):
    await asyncio.to_thread(server.wait_for, lambda s: s.trickling == 0, 20)
    closed = server.trickle_closed
    call = stub.Analyze(trickling(server), metadata=bearer(credentials.analyst), timeout=120)
    task = asyncio.ensure_future(call)
    assert await asyncio.to_thread(server.wait_for, lambda s: s.trickling == 1, 60)
    call.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await asyncio.to_thread(server.wait_for, lambda s: s.trickle_closed > closed, 20)
