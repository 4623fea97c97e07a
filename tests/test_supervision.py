"""The local launcher supervises what it started: a modality service or Triton killed with
SIGKILL (as a crash would) comes back by itself, ready again, with the restart reported and
noted in its log; Triton's log keeps both runs; Triton's python-backend stubs die with it
and their shared memory is freed;
a deliberate stop restarts nothing. And the crash that made this needed does not happen with
the launcher's Triton. Its own mesh (Triton and the text service), since it kills things."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from tests.conftest import wait_until
from tools.mesh import Mesh
from tools.triton_server import SHM_DIR, STUB_MEMORY_PREFIX
from veritas.triton_client import TritonClient, TritonUnavailable
from veritas.v1 import common_pb2 as pb
from veritas.v1 import modality_pb2, modality_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
READY = "veritas.v1.ModalityAnalyzer"  # the text service's readiness: Triton and its model
STUB = "triton_python_b"  # triton_python_backend_stub, as /proc/<pid>/comm cuts it
# Traced, Triton 2.51 died within some thousands to tens of thousands of such calls
# (triton_server.TRACING_CRASH; an outside fuzz run); with 2 ms deadlines sent to it, within
# seconds (triton_client.NEVER_CANCEL).
TRACED_CALLS = 30_000


def health(mesh: Mesh, name: str) -> int:
    with grpc.insecure_channel(mesh.address("text")) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=name), timeout=2
            )
        except grpc.RpcError:
            return -1
    return int(reply.status)


def group_members(pgid: int) -> dict[int, str]:
    """Live processes (not zombies) of process group `pgid`, with their names."""
    members = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members[int(entry.name)] = comm
    return members


def stub_regions(pgid: int) -> set[Path]:
    """The shared-memory files the stubs of Triton's group were given (on their command line)."""
    regions = set()
    for pid, name in group_members(pgid).items():
        if name == STUB:
            for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                if arg.startswith(STUB_MEMORY_PREFIX.encode()):
                    regions.add(SHM_DIR / arg.decode())
    return regions


def analyse_text(mesh: Mesh) -> pb.ModalityResult:
    request = modality_pb2.ModalityRequest(
        input=pb.ModalityInput(transcript=pb.Transcript(text="I was at home all evening."))
    )
    with grpc.insecure_channel(mesh.address("text")) as channel:
        updates = list(modality_pb2_grpc.ModalityAnalyzerStub(channel).Analyze(request, timeout=60))
    return updates[-1].result


def scores(mesh: Mesh) -> bool:
    if health(mesh, READY) != SERVING:
        return False
    try:
        return analyse_text(mesh).status == pb.OK
    except grpc.RpcError:
        return False


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mesh, list[str]]]:
    reports: list[str] = []
    run_dir = tmp_path_factory.mktemp("supervised-mesh")
    # As `make run` configures it: a span file, VERITAS_TRITON_TRACING unset.
    env = {"VERITAS_AUTH": "none", "VERITAS_TRACE_FILE": str(run_dir / "spans.jsonl")}
    mesh = Mesh(run_dir, extra_env=env, report=reports.append)
    with mesh.start(services=("text",)):
        yield mesh, reports


@pytest.mark.integration
async def test_triton_survives_sustained_traced_calls_that_callers_cut_short(
    supervised: tuple[Mesh, list[str]],
) -> None:
    """The crashes an outside fuzz run found, as the services would provoke them: calls that
    carry a traceparent, many at once, one in two from a caller whose deadline is 2 ms.
    Triton 2.51 died under such calls in two ways: tracing each request
    (triton_server.TRACING_CRASH: its tracing is now off unless asked for), and a gRPC call
    cancelled as it completed (triton_client.NEVER_CANCEL: the client now lets every call
    finish; the same calls sent straight to Triton with a 2 ms deadline killed it within
    seconds here: 3.5 s once, 6 s another time).
    Through the services' client, Triton keeps running."""
    mesh, reports = supervised
    assert not mesh.triton_tracing
    triton = mesh.triton
    assert triton is not None
    process = triton.process  # type: ignore[attr-defined]
    command = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
    assert not [arg for arg in command if arg.startswith(b"--trace-config")]

    client = TritonClient(mesh.triton_url, timeout_s=30, max_in_flight=4)
    spec = await client.spec("physiology_cues")
    calls = iter(range(TRACED_CALLS))
    answered, cut_short = 0, 0

    async def caller() -> None:
        nonlocal answered, cut_short
        for i in calls:
            features = np.full(len(spec.feature_names), 0.1 * (i % 10), dtype=np.float32)
            parent = SpanContext(i + 1, i + 1, is_remote=True, trace_flags=TraceFlags(1))
            token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
            cut = i % 2 == 0  # as a caller whose deadline has almost run out
            try:
                await client.predict(spec, features, timeout_s=0.002 if cut else 30)
                answered += 1
            except TritonUnavailable:
                if not cut:
                    raise
                cut_short += 1
            finally:
                otel_context.detach(token)

    try:
        await asyncio.gather(*(caller() for _ in range(32)))
    finally:
        await client.close()
    assert answered + cut_short == TRACED_CALLS  # every call answered or cut short, none lost
    assert triton.process is process and process.poll() is None  # type: ignore[attr-defined]
    assert reports == []


@pytest.mark.integration
def test_a_killed_modality_service_comes_back(supervised: tuple[Mesh, list[str]]) -> None:
    mesh, reports = supervised
    before = mesh.processes["text"]
    os.kill(before.pid, signal.SIGKILL)
    wait_until("text restarted", lambda: mesh.processes["text"] is not before, 120)
    wait_until("text ready again", lambda: health(mesh, READY) == SERVING, 120)
    assert analyse_text(mesh).status == pb.OK

    restart = [r for r in reports if r.startswith("text killed by SIGKILL")]
    assert len(restart) == 1 and "(restart 1)" in restart[0]
    log = (mesh.run_dir / "logs" / "text.log").read_text()
    assert f"restart by the launcher: {restart[0]}" in log


@pytest.mark.integration
def test_killed_triton_comes_back_with_its_log_whole_and_no_stray_stubs(
    supervised: tuple[Mesh, list[str]],
) -> None:
    mesh, reports = supervised
    triton = mesh.triton
    assert triton is not None
    old = triton.process  # type: ignore[attr-defined]
    stubs = {p for p, name in group_members(old.pid).items() if name == STUB}
    assert stubs, "expected the python backend's stub processes in Triton's group"
    regions = stub_regions(old.pid)
    assert regions and all(r.exists() for r in regions)

    os.kill(old.pid, signal.SIGKILL)  # the server alone, as a crash would: not its group
    wait_until("tritonserver restarted", lambda: triton.process is not old, 120)  # type: ignore[attr-defined]
    # Killed with it, before the new run started: not one stub of the old run is left, nor
    # the shared memory they had (Triton, killed, could not remove it itself).
    assert group_members(old.pid) == {}
    assert [r for r in regions if r.exists()] == []
    wait_until("Triton ready again", lambda: any("ready again" in r for r in reports), 120)
    # The text service sees it within its next readiness check and reconnects.
    wait_until("text ready and scoring again", lambda: scores(mesh), 30)

    restart = [r for r in reports if r.startswith("tritonserver killed by SIGKILL")]
    assert len(restart) == 1 and "(restart 1)" in restart[0]
    log = (mesh.run_dir / "logs" / "triton.log").read_text(errors="replace")
    assert "starting tritonserver (run 1)" in log and "starting tritonserver (run 2)" in log
    assert restart[0] in log
    assert log.count("Started GRPCInferenceService") == 2  # both runs' own output, appended
    new = triton.process  # type: ignore[attr-defined]
    assert set(group_members(new.pid).values()) >= {"tritonserver", STUB}


@pytest.mark.integration
def test_a_deliberate_stop_restarts_nothing(supervised: tuple[Mesh, list[str]]) -> None:
    mesh, reports = supervised
    seen = len(reports)
    assert mesh.stop_service("text") == 0
    triton = mesh.triton
    assert triton is not None
    old = triton.process  # type: ignore[attr-defined]
    assert mesh.stop_triton() is not None
    time.sleep(2)  # four times the first backoff: a restart would have begun by now
    assert "text" not in mesh.processes and health(mesh, "") == -1
    assert triton.process is None and group_members(old.pid) == {}  # type: ignore[attr-defined]
    assert reports[seen:] == []
