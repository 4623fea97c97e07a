"""The gateway's result cache on the real mesh: a repeated request is answered from the
cache and says so; `x-veritas-cache: off` analyses anew; once Triton has loaded a new
version of a model, no answer of the old version comes from the cache.

The mesh serves a copy of models/repository (this test writes a new model version into it)
with Triton polling every second; the result cache is on (tests/conftest.py turns it off
for every other test).
"""

from __future__ import annotations

import re
import shutil
import time
import urllib.request
from collections.abc import Iterator

import pytest
import tritonclient.grpc as triton_grpc

from tools.mesh import ROOT, Mesh
from veritas.client import Client, build_request
from veritas.model_index import ready_versions
from veritas.v1 import common_pb2 as pb

pytestmark = pytest.mark.integration

MODEL = "text_deception"
REVIEW = (
    "We stayed three nights at the hotel for a conference. The room was clean and quiet, "
    "the staff at the front desk were friendly, and the location near the river was great."
)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The mesh, serving a copy of the model repository that Triton polls every second."""
    run_dir = tmp_path_factory.mktemp("cache-mesh")
    source = run_dir / "models"
    shutil.copytree(ROOT / "models" / "repository", source)
    env = {"VERITAS_AUTH": "none", "VERITAS_CACHE_MAX_MB": "64"}
    m = Mesh(run_dir, extra_env=env, model_source=source, poll_secs=1, watch_s=0.5)
    with m:
        m.start()
        yield m


def cached(result: pb.AnalysisResult) -> bool:
    return any(step.text.startswith("cached:") for step in result.reasoning)


def text_version(result: pb.AnalysisResult) -> str:
    (text,) = [m for m in result.modalities if m.modality == pb.TEXT]
    return text.model.version


def hits(mesh: Mesh) -> float:
    port = mesh.ports.metrics["gateway"]
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    match = re.search(
        r'^veritas_cache_requests_total\{result="hit",service="gateway"\} (\S+)$', body, re.M
    )
    return float(match.group(1)) if match else 0.0


def test_a_repeated_request_is_answered_from_the_cache(mesh: Mesh) -> None:
    with Client(mesh.address("gateway"), timeout_s=120) as client:
        first = client.analyze(build_request(transcript=REVIEW + " One."))
        before = hits(mesh)
        again = client.analyze(build_request(transcript=REVIEW + " One.", request_id="again"))
        fresh = client.analyze(build_request(transcript=REVIEW + " One."), cache=False)
    assert not cached(first) and cached(again) and not cached(fresh)
    assert again.request_id == "again" and again.trace_id and again.trace_id != first.trace_id
    assert again.deception_probability == first.deception_probability
    assert hits(mesh) == before + 1
    assert [t.stage for t in again.timings][-1] == "cache"


def test_a_new_model_version_is_never_answered_from_the_cache(
    mesh: Mesh,
) -> None:
    request = build_request(transcript=REVIEW + " Two.")
    with Client(mesh.address("gateway"), timeout_s=120) as client:
        first = client.analyze(request)
        assert text_version(first) == "1"
        assert cached(client.analyze(request))  # stored, and served while v1 is served
        # A retrained text model arrives as version 2 (the mirror copies it, Triton loads it).
        staging = mesh.model_source / MODEL / ".v2"
        shutil.copytree(mesh.model_source / MODEL / "1", staging)
        staging.rename(mesh.model_source / MODEL / "2")
        triton = triton_grpc.InferenceServerClient(mesh.triton_url)
        deadline = time.monotonic() + 60
        while ready_versions(triton.get_model_repository_index(as_json=True)).get(MODEL) != "2":
            assert time.monotonic() < deadline, "Triton did not load version 2"
            time.sleep(0.1)
        # From the moment Triton serves version 2, no answer of version 1 is cached.
        after = client.analyze(request)
        assert not cached(after)
        deadline = time.monotonic() + 30
        while text_version(after) != "2":  # the text service re-reads the model's contract
            assert time.monotonic() < deadline, "the text service still scores with version 1"
            assert not cached(after) or text_version(after) == "2"
            time.sleep(0.2)
            after = client.analyze(request)
        again = client.analyze(request)
        assert cached(again) and text_version(again) == "2"
