"""AnalyzeBatch on the real mesh: a batch travels as one message per hop (gateway ->
FuseBatch -> one AnalyzeBatch per modality), and each item is answered as the same request
alone: the same decision and scores, its own error, a cache hit that says so.

Its own mesh, with the gateway's result cache on (tests/conftest.py turns it off elsewhere).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import grpc
import pytest

from tests.conftest import SAMPLES
from tests.test_integration import TRANSCRIPT, by_name
from tools.mesh import Mesh
from veritas.client import Client, build_request
from veritas.v1 import common_pb2 as pb
from veritas.v1 import veritas_pb2, veritas_pb2_grpc

pytestmark = pytest.mark.integration

REVIEW = (
    "We stayed three nights at the hotel for a conference. The room was clean and quiet, "
    "the staff at the front desk were friendly, and the location near the river was great."
)
INVALID = grpc.StatusCode.INVALID_ARGUMENT.value[0]
REF = re.compile(r" \(ref [0-9a-f]{8}\)")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    run_dir = tmp_path_factory.mktemp("batch-mesh")
    env = {"VERITAS_AUTH": "none", "VERITAS_CACHE_MAX_MB": "64"}
    with Mesh(run_dir, extra_env=env).start() as m:
        yield m


@pytest.fixture(scope="module")
def client(mesh: Mesh) -> Iterator[Client]:
    with Client(mesh.address("gateway"), timeout_s=120) as c:
        yield c


def review(i: int) -> pb.AnalysisRequest:
    request = build_request(transcript=f"{REVIEW} We would come back, visit {i}.")
    request.options.domain = pb.WRITTEN_REVIEW
    return request


def audio_text(note: str = "") -> pb.AnalysisRequest:
    return build_request(audio=SAMPLES / "speech.wav", transcript=TRANSCRIPT + note)


def cached(result: pb.AnalysisResult) -> bool:
    return any(step.text.startswith("cached:") for step in result.reasoning)


def scores(result: pb.AnalysisResult) -> dict[str, tuple[str, float]]:
    return {
        name: (pb.ModalityStatus.Name(m.status), round(m.score, 6))
        for name, m in by_name(result).items()
    }


def test_items_match_single_calls_and_fail_on_their_own(client: Client) -> None:
    requests = [review(1), audio_text(), build_request(audio=b"junk"), review(2)]
    requests[2].request_id = "bad-one"
    response = client.analyze_batch(requests)
    assert len(response.items) == 4
    bad = response.items[2]
    assert bad.error_code == INVALID and bad.error_message.startswith("requests[2].audio")
    for j in (0, 1, 3):
        item = response.items[j]
        assert not item.error_code, item.error_message
        got = item.result
        assert got.final and not cached(got)
        alone = client.analyze(requests[j], cache=False)
        assert got.decision == alone.decision
        assert scores(got) == scores(alone)
        assert got.deception_probability == pytest.approx(alone.deception_probability, abs=1e-6)
    statuses = scores(response.items[1].result)
    assert statuses["audio"][0] == statuses["text"][0] == "OK"
    assert response.items[0].result.decision != pb.DECISION_UNSPECIFIED


def test_a_cache_hit_inside_a_batch_says_cached(mesh: Mesh, client: Client) -> None:
    seen = review(10)
    first = client.analyze_batch([seen])
    assert not first.items[0].error_code and not cached(first.items[0].result)
    again = pb.AnalysisRequest()
    again.CopyFrom(seen)
    again.request_id = "asked-again"
    response = client.analyze_batch([again, review(11), build_request(transcript="   ")])
    hit, miss, bad = response.items
    assert cached(hit.result) and hit.result.request_id == "asked-again"
    assert hit.result.decision == first.items[0].result.decision
    assert not miss.error_code and not cached(miss.result)
    assert bad.error_code == INVALID and bad.error_message.startswith("requests[2]")
    # x-veritas-cache: off analyses anew, item by item as for Analyze.
    with grpc.insecure_channel(mesh.address("gateway")) as channel:
        off = veritas_pb2_grpc.VeritasStub(channel).AnalyzeBatch(
            veritas_pb2.AnalyzeBatchRequest(requests=[seen]),
            metadata=(("x-veritas-cache", "off"),),
            timeout=120,
        )
    assert not off.items[0].error_code and not cached(off.items[0].result)


def test_a_failed_modality_fails_only_that_modality(mesh: Mesh, client: Client) -> None:
    """Runs last: it stops the audio service (and starts it again)."""
    assert mesh.stop_service("audio") == 0
    try:
        # Not asked before: the result cache cannot answer it.
        response = client.analyze_batch([audio_text(" Audio is down."), review(20)])
        alone = client.analyze(audio_text(" Audio is down."), cache=False)
    finally:
        mesh.restart_service("audio")
    with_audio, text_only = response.items
    assert not with_audio.error_code and not text_only.error_code
    got = by_name(with_audio.result)
    assert got["audio"].status == pb.FAILED
    assert got["text"].status == pb.OK
    single = by_name(alone)
    assert REF.sub("", got["audio"].reason) == REF.sub("", single["audio"].reason)
    assert "UNAVAILABLE" in got["audio"].reason
    assert by_name(text_only.result)["text"].status == pb.OK
