"""The `veritas` command and the asyncio SDK against the running mesh."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SAMPLES
from tools.cli import main
from tools.mesh import SERVICES, Mesh
from veritas.client import AsyncClient, build_request
from veritas.v1 import common_pb2 as pb


def test_analyze_prints_a_readable_result(mesh: Mesh, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--target",
            mesh.address("gateway"),
            "analyze",
            "--audio",
            str(SAMPLES / "speech.wav"),
            "--transcript",
            f"@{SAMPLES / 'transcript.txt'}",
            "--physio",
            str(SAMPLES / "physiology.csv"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("Decision:")
    for expected in (
        "P(deceptive):",
        "modality",
        "audio",
        "text",
        "physiology",
        "SKIPPED",
        "Reasoning:",
        "[act] decide",
    ):
        assert expected in out


def test_analyze_json(mesh: Mesh, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--target",
            mesh.address("gateway"),
            "analyze",
            "--transcript",
            "I went to the shop, then I drove home.",
            "--json",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["decision"] in ("TRUTHFUL", "DECEPTIVE", "INCONCLUSIVE")
    assert {m["modality"] for m in result["modalities"]} == {
        "VISION",
        "AUDIO",
        "TEXT",
        "PHYSIOLOGY",
    }


def test_analyze_reports_bad_input(
    mesh: Mesh, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    code = main(["--target", mesh.address("gateway"), "analyze", "--audio", str(junk)])
    assert code == 1
    assert "INVALID_ARGUMENT: audio" in capsys.readouterr().err


def test_health_shows_every_service_and_triton(
    mesh: Mesh, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for service in SERVICES:
        monkeypatch.setenv(f"VERITAS_{service.upper()}_ADDR", mesh.address(service))
    monkeypatch.setenv("VERITAS_TRITON_URL", mesh.triton_url)
    code = main(["--target", mesh.address("gateway"), "health"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == [
        "gateway",
        "fusion",
        "vision",
        "audio",
        "text",
        "physiology",
        "triton",
    ]
    assert all("SERVING" in line for line in lines)
    assert "text_deception" in lines[-1]


def test_health_fails_when_a_service_is_down(
    mesh: Mesh, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERITAS_FUSION_ADDR", "127.0.0.1:1")
    assert main(["--target", mesh.address("gateway"), "health"]) == 1
    assert "DOWN" in capsys.readouterr().out


async def test_async_client(mesh: Mesh) -> None:
    async with AsyncClient(mesh.address("gateway"), timeout_s=60) as client:
        result = await client.analyze(build_request(physiology=[72.0] * 40 + [80.0] * 20))
    statuses = {pb.Modality.Name(m.modality): m.status for m in result.modalities}
    assert statuses["PHYSIOLOGY"] == pb.OK
    assert result.final
