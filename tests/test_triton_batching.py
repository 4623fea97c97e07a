"""The Triton client's micro-batching and model versions, against the real tritonserver;
and each model loaded once (no reload by the poller right after start).

Rows for the same model that are queued in the same turn of the event loop go to Triton as
one call; rows that arrive while that model's call is in flight go together in the next;
the answers are the ones each row gets on its own. When Triton loads a new version of a
model, the client reads the new contract and says which version scored each row.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import start_triton_on_free_ports
from tools.triton_server import TritonServer, prepare_local_repository
from veritas.triton_client import INDEX_MAX_AGE_S, TritonClient

pytestmark = pytest.mark.integration

SOURCE = Path(__file__).resolve().parents[1] / "models" / "repository"
MODEL = "text_deception"
TEXTS = [
    "I think I was at home that evening, maybe around eight.",
    "We never went to the warehouse. I was with my sister the whole night.",
    "Honestly, the room was clean and the staff were wonderful!",
]


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    tmp = tmp_path_factory.mktemp("triton-batching")
    shutil.copytree(SOURCE / MODEL, tmp / "source" / MODEL)
    prepare_local_repository(tmp / "source", tmp / "local")
    server = start_triton_on_free_ports(
        TritonServer(backend_root=tmp / "backends"), tmp / "local", tmp / "triton.log", poll_secs=1
    )
    server.local_repository = tmp / "local"  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


async def connected(url: str, max_in_flight: int = 1) -> TritonClient:
    """A client whose channel is up (a new channel's first connection can fail while this
    process's previous channel to the same address is being torn down)."""
    client = TritonClient(url, 10.0, max_in_flight=max_in_flight)
    deadline = time.monotonic() + 30
    while not await client.ready():
        assert time.monotonic() < deadline, f"Triton at {url} not reachable"
        await asyncio.sleep(0.1)
    return client


def rows(n: int, width: int, seed: int = 0) -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    return [
        (rng.uniform(0, 5, size=width).astype(np.float32), TEXTS[i % len(TEXTS)]) for i in range(n)
    ]


async def test_rows_queued_together_go_as_one_call_with_their_own_answers(
    triton: TritonServer,
) -> None:
    client = await connected(triton.grpc_url)
    try:
        spec = await client.spec(MODEL)
        data = rows(20, len(spec.feature_names))
        alone = [await client.predict(spec, f, t) for f, t in data]  # one call each
        calls = client.calls
        together = await asyncio.gather(*(client.predict(spec, f, t) for f, t in data))
        assert client.calls - calls == 1  # all twenty in one call
        for a, b in zip(alone, together, strict=True):
            assert b.probability == pytest.approx(a.probability, abs=1e-6)
            assert b.contributions == pytest.approx(a.contributions, abs=1e-6)
    finally:
        await client.close()


async def test_rows_arriving_during_a_call_form_the_next_batch(triton: TritonServer) -> None:
    client = await connected(triton.grpc_url, max_in_flight=1)
    try:
        spec = await client.spec(MODEL)
        data = rows(11, len(spec.feature_names), seed=1)
        first = asyncio.create_task(client.predict(spec, *data[0]))
        while client.calls == 0:  # the first call is on its way to Triton
            await asyncio.sleep(0)
        rest = [asyncio.create_task(client.predict(spec, f, t)) for f, t in data[1:]]
        await asyncio.gather(first, *rest)
        assert (client.calls, client.rows) == (2, 11)  # 1 row, then the 10 that waited
    finally:
        await client.close()


async def test_a_new_model_version_is_read_and_named(triton: TritonServer) -> None:
    client = await connected(triton.grpc_url)
    local: Path = triton.local_repository  # type: ignore[attr-defined]
    try:
        old = await client.spec(MODEL)
        assert old.version == "1"
        # Version 2 appears in the served repository; Triton's poller loads it.
        staging = local.parent / "v2-staging"
        shutil.copytree(local / MODEL / "1", staging)
        staging.rename(local / MODEL / "2")
        deadline = time.monotonic() + 60
        while (await client.index.fresh()).get(MODEL) != "2":
            assert time.monotonic() < deadline, "Triton did not load version 2"
            await asyncio.sleep(0.2)
        newer = await client.newer_spec(old)  # what a call that failed for v1 retries with
        assert newer is not None and newer.version == "2"
        await asyncio.sleep(INDEX_MAX_AGE_S)
        assert (await client.spec(MODEL)).version == "2"
        # A row vectorised for version 2 is scored by version 2 (the call names it).
        f, t = rows(1, len(newer.feature_names), seed=2)[0]
        assert 0.0 <= (await client.predict(newer, f, t)).probability <= 1.0
    finally:
        await client.close()


def test_each_model_loads_once(triton: TritonServer) -> None:
    """The mirror ships model.py's bytecode: the python backend's import writes nothing into
    the version directory, so Triton's poller (every second here) never reloads the model."""
    assert triton.log_path is not None
    polls = 3
    time.sleep(polls * 1.0 + 0.5)  # deliberately: several polls of the repository pass
    log = triton.log_path.read_text(errors="replace")
    assert log.count(f'"loading: {MODEL}:1"') == 1, log[-3000:]


def test_the_shipped_bytecode_is_what_the_import_uses(tmp_path: Path) -> None:
    shutil.copytree(SOURCE / MODEL, tmp_path / "source" / MODEL)
    prepare_local_repository(tmp_path / "source", tmp_path / "local")
    version = tmp_path / "local" / MODEL / "1"
    (pyc,) = (version / "__pycache__").iterdir()
    before = (version.stat().st_mtime_ns, pyc.read_bytes())
    # The import machinery reads model.py's code the way the stub's import does.
    code = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('model', {str(version / 'model.py')!r}); "
        "spec.loader.get_code('model')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (version.stat().st_mtime_ns, pyc.read_bytes()) == before
    assert sorted(p.name for p in (version / "__pycache__").iterdir()) == [pyc.name]
