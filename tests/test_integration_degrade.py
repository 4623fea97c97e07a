"""Failures inside the mesh degrade the answer; they do not fail it.

Runs after test_integration.py (it stops parts of the shared mesh and restores them).
"""

from __future__ import annotations

import time

from tests.test_integration import TRANSCRIPT, by_name
from tools.cli import sample_request
from tools.mesh import Mesh
from veritas.client import Client, build_request
from veritas.v1 import common_pb2 as pb


def test_a_stopped_modality_service_degrades_the_answer(mesh: Mesh, client: Client) -> None:
    assert mesh.stop_service("audio") == 0  # graceful SIGTERM exits 0
    try:
        result = client.analyze(sample_request())
        modalities = by_name(result)
        assert modalities["audio"].status == pb.FAILED
        assert "UNAVAILABLE" in modalities["audio"].reason
        for name in ("vision", "text", "physiology"):
            assert modalities[name].status == pb.OK, modalities[name].reason
        assert any("missing evidence" in s.text and "audio" in s.text for s in result.reasoning)
    finally:
        mesh.restart_service("audio")


def test_triton_down_fails_modalities_promptly(mesh: Mesh, client: Client) -> None:
    mesh.triton.stop()  # type: ignore[union-attr]
    try:
        started = time.perf_counter()
        result = client.analyze(build_request(transcript=TRANSCRIPT))
        elapsed = time.perf_counter() - started
        text = by_name(result)["text"]
        assert text.status == pb.FAILED
        assert "UNAVAILABLE" in text.reason
        assert result.decision == pb.INCONCLUSIVE
        assert elapsed < 10  # promptly: not the 30 s default deadline
    finally:
        mesh.start_triton()
