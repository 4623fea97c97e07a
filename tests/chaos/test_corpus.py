"""The corpus of malformed inputs (tests/chaos/corpus.py) against the real mesh, over gRPC
and HTTP: every case gets its status, the field it names, and an answer that passes
`check_answer` (never UNKNOWN or INTERNAL, nothing internal in any message)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest

from tests.chaos.corpus import Case, corpus
from tests.chaos.support import Answer, Door, all_alive_and_ready, check_answer, http_answer
from tests.gateway_fixtures import Credentials
from tools.mesh import Mesh
from veritas.v1 import modality_pb2_grpc

pytest_plugins = ("tests.gateway_fixtures",)

CASES = corpus()
RUNS = [(case, transport) for case in CASES for transport in case.transports]


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 150, len(CASES)


def headers_for(case: Case, door: Door, credentials: Credentials) -> dict[str, str] | None:
    credential = case.extra.get("credential")
    if credential is None:
        return case.headers
    token = {
        "revoked": credentials.revoked,
        "admin": credentials.admin,
        "expired": credentials.rsa.token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        "audience": credentials.rsa.token(aud="someone-else"),
        "no-roles": credentials.ec.token(roles=[]),
    }[credential]
    return {"authorization": f"Bearer {token}"}


def chunked(body: bytes, size: int = 65536) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def run(case: Case, transport: str, door: Door, mesh: Mesh, credentials: Credentials) -> Answer:
    headers = headers_for(case, door, credentials)
    if case.kind == "analyze":
        return door.analyze(case.payload, transport, headers)
    if case.kind == "batch":
        return door.batch(case.payload, transport, headers)
    if case.kind == "stream":
        return door.stream(case.payload, headers)
    if case.kind == "grpc-bytes":
        return door.raw_grpc(case.extra["method"], case.payload)
    if case.kind == "modality":
        stub = modality_pb2_grpc.ModalityAnalyzerStub(
            grpc.insecure_channel(mesh.address(case.modality))
        )
        started = time.perf_counter()
        try:
            for _ in stub.Analyze(case.payload, timeout=60):
                pass
        except grpc.RpcError as e:
            return Answer(
                "grpc", e.code().name, e.details() or "", seconds=time.perf_counter() - started
            )
        return Answer("grpc", "OK", result={})
    # raw HTTP
    body = case.payload if isinstance(case.payload, bytes) else None
    if body is None:
        return door.post(case.path, case.payload, headers)
    head = {"content-type": "application/json"} | door.auth(headers) | case.extra.get("headers", {})
    started = time.perf_counter()
    content = chunked(body) if case.extra.get("chunked") else body
    if case.extra.get("client") == "urllib":
        return urllib_post(door.http_url + case.path, content, head, started)
    response = door.http.post(case.path, content=content, headers=head)
    return http_answer(response, started)


def urllib_post(url: str, content: Any, headers: dict[str, str], started: float) -> Answer:
    """POST with urllib: the whole body is written before the answer is read."""
    request = urllib.request.Request(url, data=content, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            status, data, head = reply.status, reply.read(), dict(reply.headers)
    except urllib.error.HTTPError as e:
        status, data, head = e.code, e.read(), dict(e.headers)
    except OSError as e:  # a reset or broken pipe instead of an answer
        pytest.fail(f"no HTTP answer: {e!r}")
    response = httpx.Response(status, content=data, headers=head)
    return http_answer(response, started)


@pytest.mark.parametrize("case, transport", RUNS, ids=[f"{c.id} [{t}]" for c, t in RUNS])
def test_malformed_input(
    case: Case, transport: str, door: Door, mesh: Mesh, credentials: Credentials
) -> None:
    try:
        answer = run(case, transport, door, mesh, credentials)
    except httpx.TransportError as e:  # a reset connection instead of an answer
        pytest.fail(f"{case.id}: no HTTP answer: {e!r}")
    if os.environ.get("VERITAS_CHAOS_DUMP"):  # what every case got, to read them all at once
        with open(os.environ["VERITAS_CHAOS_DUMP"], "a", encoding="utf-8") as f:
            row = {"case": case.id, "transport": transport, "code": answer.code}
            f.write(json.dumps(row | {"message": answer.message, "ref": answer.ref}) + "\n")
    check_answer(answer, case.id)
    assert answer.code == case.code, f"{case.id}: {answer.code}: {answer.message}"
    if case.code != "OK":
        assert answer.message.startswith(case.field), f"{case.id}: {answer.message!r}"
        return
    if "item" in case.extra:  # a batch: that item failed alone, naming its field
        items = answer.result["items"]  # type: ignore[index]
        bad = items[case.extra["item"]]
        assert bad.get("error_code") == grpc.StatusCode.INVALID_ARGUMENT.value[0], bad
        assert bad["error_message"].startswith(case.field), bad
        others = [it for i, it in enumerate(items) if i != case.extra["item"]]
        assert all("result" in it for it in others), others
    if case.modality:
        result = answer.modalities()[case.modality]
        assert result["status"] == case.status or not case.status, result
        if result["status"] != "OK":
            assert result.get("reason"), f"{case.modality} {result['status']} without a reason"


def test_every_process_is_alive_and_ready_after_the_corpus(mesh: Mesh, chaos_gateway) -> None:
    all_alive_and_ready(mesh, [(chaos_gateway.address, "veritas.v1.Veritas")])
