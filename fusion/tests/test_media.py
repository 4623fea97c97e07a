"""fusion.media: who a fetch belongs to, and filling a modality request's URIs within a
budget (real files and a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fusion.media import MediaFetcher, MediaUnavailable, caller, needs_fetch
from fusion.service import plan
from veritas.analysis import InvalidInput
from veritas.media_uri import AllowList
from veritas.tests.media_server import MediaServer, media_folder
from veritas.v1 import common_pb2 as pb
from veritas.v1 import modality_pb2


class Context:
    """The two things fusion.media.caller reads from a grpc.aio.ServicerContext."""

    def __init__(self, metadata: tuple[tuple[str, str], ...], peer: str) -> None:
        self.metadata, self._peer = metadata, peer

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def peer(self) -> str:
        return self._peer


@pytest.mark.parametrize(
    "metadata, peer, who",
    [
        ((("x-veritas-tenant", "acme"),), "ipv4:10.0.0.1:5000", "tenant:acme"),
        ((("x-veritas-tenant", "acm%C3%A9"),), "ipv4:10.0.0.1:5000", "tenant:acmé"),
        ((), "ipv4:10.0.0.1:5000", "peer:ipv4:10.0.0.1"),
        ((), "ipv6:[::1]:5000", "peer:ipv6:[::1]"),
        ((("traceparent", "x"),), "unix:/tmp/s", "peer:unix:/tmp/s"),
    ],
)
def test_whose_fetch_it_is(metadata, peer: str, who: str):
    assert caller(Context(metadata, peer)) == who  # type: ignore[arg-type]


def test_plan_checks_uris_without_fetching(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = media_folder(tmp_path)
    monkeypatch.setenv("VERITAS_MEDIA_URI_ALLOWLIST", f"file://{folder}/")
    ok = pb.AnalysisRequest(audio=pb.Media(uri=f"file://{folder}/gone.wav"))
    calls, _ = plan(ok)  # a missing file is found when fetched, not here
    assert needs_fetch(calls[pb.AUDIO])
    bad = pb.AnalysisRequest(
        audio=pb.Media(uri=f"file://{folder}/a.wav"),
        baseline=pb.Baseline(audio=pb.Media(uri=f"file://{folder}/../private/secret.wav")),
    )
    with pytest.raises(InvalidInput, match=r"^baseline\.audio\.uri: must not contain"):
        plan(bad)
    text = pb.AnalysisRequest(transcript=pb.Transcript(text="I was at home."))
    assert not needs_fetch(plan(text)[0][pb.TEXT])


async def test_input_and_baseline_are_filled(tmp_path: Path):
    folder = media_folder(tmp_path)
    with MediaServer({"b.wav": b"baseline"}) as server:
        allow = AllowList.parse([f"file://{folder}/", f"{server.base}/media/"])
        request = modality_pb2.ModalityRequest()
        request.input.media.CopyFrom(pb.Media(uri=f"file://{folder}/a.wav", mime_type="audio/wav"))
        request.baseline.media.uri = f"{server.base}/media/b.wav"
        await MediaFetcher(allow, per_tenant=1).fill(request, "audio", "tenant:acme", 10)
    assert request.input.media.data == b"RIFF....WAVE"
    assert request.input.media.mime_type == "audio/wav"
    assert request.baseline.media.data == b"baseline"
    assert not needs_fetch(request)


async def test_a_stuck_fetch_ends_at_the_budget_and_stops_its_sibling(tmp_path: Path):
    with MediaServer(trickle_s=0.1) as server:
        allow = AllowList.parse([f"{server.base}/media/"])
        request = modality_pb2.ModalityRequest()
        request.input.media.uri = f"{server.base}/media/trickle"
        request.baseline.media.uri = f"{server.base}/media/trickle"
        with pytest.raises(MediaUnavailable) as info:
            await MediaFetcher(allow, per_tenant=1).fill(request, "video", "tenant:acme", 1.0)
        assert info.value.timed_out and info.value.field.endswith("video.uri")
        # One slot for the tenant: one trickle ran; the other waited and was given up.
        assert server.max_trickling == 1
        assert await asyncio.to_thread(server.wait_for, lambda s: s.trickling == 0)
