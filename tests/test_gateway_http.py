"""The HTTP/JSON API of a real gateway process: the same analyses, the old body, limits."""

from __future__ import annotations

import base64
import json
import socket
import time

import httpx
import pytest

from gateway.openapi import document
from tests.conftest import SAMPLES
from tests.gateway_fixtures import Credentials, GatewayProcess, Gateways, auth_env, metric

pytest_plugins = ("tests.gateway_fixtures",)
TRANSCRIPT = (SAMPLES / "transcript.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def http(secured: GatewayProcess, credentials: Credentials):
    with httpx.Client(
        base_url=secured.http,
        headers={"Authorization": f"Bearer {credentials.analyst}"},
        timeout=120,
    ) as client:
        yield client


def test_analyze_over_http(http: httpx.Client):
    body = {
        "request_id": "http-1",
        "audio": {"data": base64.b64encode((SAMPLES / "speech.wav").read_bytes()).decode()},
        "transcript": {"text": TRANSCRIPT},
        "physiology": {"heart_rate": [70, 72, 75, 74]},
        "options": {"explain": True},
    }
    response = http.post("/v1/analyze", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["final"] and result["request_id"] == "http-1"
    assert result["decision"] in ("TRUTHFUL", "DECEPTIVE", "INCONCLUSIVE")
    statuses = {m["modality"]: m["status"] for m in result["modalities"]}
    assert statuses["AUDIO"] == "OK" and statuses["TEXT"] == "OK"
    assert response.headers["x-trace-id"] == result["trace_id"]


def test_a_traceparent_is_continued(http: httpx.Client):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = http.post(
        "/v1/analyze",
        json={"transcript": {"text": TRANSCRIPT}},
        headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
    )
    assert response.status_code == 200
    assert response.json()["trace_id"] == trace_id


def test_batch_items_succeed_or_fail_alone(http: httpx.Client):
    response = http.post(
        "/v1/analyze:batch",
        json={
            "requests": [
                {"transcript": {"text": TRANSCRIPT}},
                {"audio": {"data": base64.b64encode(b"not audio").decode()}},
            ]
        },
    )
    assert response.status_code == 200
    first, second = response.json()["items"]
    assert first["result"]["final"]
    assert second["error_code"] == 3 and second["error_message"].startswith("requests[1].audio")


def test_the_stream_sends_progressive_results_then_the_final_one(http: httpx.Client):
    body = {"transcript": {"text": TRANSCRIPT}, "physiology": {"heart_rate": [70, 72, 75, 74]}}
    with http.stream("POST", "/v1/analyze:stream", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert len(lines) >= 2
    assert not lines[0].get("final") and lines[-1]["final"]


def test_the_old_body_works_with_allow_listed_paths(http: httpx.Client):
    response = http.post(
        "/api/analyze",
        json={
            "audio_path": str(SAMPLES / "speech.wav"),
            "transcript": TRANSCRIPT,
            "physiological_data": [70, 72, 75, 74, 73, 72],
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()
    statuses = {m["modality"]: m["status"] for m in result["modalities"]}
    assert statuses == {"VISION": "SKIPPED", "AUDIO": "OK", "TEXT": "OK", "PHYSIOLOGY": "OK"}
    assert 0 <= result["deception_probability"] <= 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"video_path": "/etc/passwd"}, "video_path"),
        ({"audio_path": str(SAMPLES / ".." / "Makefile")}, "audio_path"),
        ({"video_path": "samples/face.mp4"}, "video_path"),
        ({"physiological_data": [70, 900]}, "physiological_data"),
        ({"audio_path": str(SAMPLES / "transcript.txt")}, "audio_path"),
    ],
)
def test_the_old_body_refuses_what_it_must(http: httpx.Client, body: dict, field: str):
    response = http.post("/api/analyze", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert error["message"].startswith(field), error["message"]


@pytest.mark.parametrize(
    "content, field",
    [
        (b"{not json", "body"),
        (b'{"options": {"target_fps": 500}, "transcript": {"text": "x"}}', "request.options"),
        (b"{}", "request"),
    ],
)
def test_bad_json_is_400_naming_the_problem(http: httpx.Client, content: bytes, field: str):
    response = http.post("/v1/analyze", content=content)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(field)


def test_missing_credentials_are_401(secured: GatewayProcess):
    response = httpx.post(f"{secured.http}/v1/analyze", json={"transcript": {"text": "x"}})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_openapi_document_is_served(secured: GatewayProcess):
    assert httpx.get(f"{secured.http}/openapi.json").json() == document()


def test_http_requests_are_counted(http: httpx.Client, secured: GatewayProcess):
    http.post("/v1/analyze", json={"transcript": {"text": TRANSCRIPT}})
    body = secured.metrics()
    assert metric(body, "veritas_requests_total", method="POST /v1/analyze", status="OK") >= 1
    assert metric(body, "veritas_request_duration_seconds_count", method="POST /v1/analyze") >= 1


# ---- size limits, checked before the body is read --------------------------------------


@pytest.fixture(scope="module")
def small(gateways: Gateways, credentials: Credentials) -> GatewayProcess:
    return gateways.start(
        "small", auth_env(credentials) | {"VERITAS_MAX_REQUEST_MB": str(64 / 1024)}
    )  # 64 KiB


def raw_post(gw: GatewayProcess, key: str, head: dict[str, str], body: bytes) -> tuple[int, float]:
    """Send the head and `body` (not necessarily the declared length); return the status
    and the seconds it took to come."""
    lines = ["POST /v1/analyze HTTP/1.1", f"Host: 127.0.0.1:{gw.http_port}"]
    lines += [f"Authorization: Bearer {key}", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in head.items()]
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", gw.http_port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        reply = s.recv(4096).decode(errors="replace")
    return int(reply.split(" ", 2)[1]), time.perf_counter() - started


def test_a_declared_oversize_body_is_refused_before_it_is_sent(small, credentials):
    # Declares 1 GB and sends none of it: the answer cannot have waited for the body.
    status, seconds = raw_post(small, credentials.analyst, {"Content-Length": str(10**9)}, b"")
    assert status == 413 and seconds < 5


def test_a_chunked_body_is_counted_as_it_streams_in(small, credentials):
    chunk = b"x" * 16384
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5))  # 80 KiB, no end
    status, _ = raw_post(small, credentials.analyst, {"Transfer-Encoding": "chunked"}, body)
    assert status == 413


def test_an_oversize_grpc_message_is_refused_before_the_servicer_sees_it(small, credentials):
    import grpc

    from veritas.client import build_request
    from veritas.v1 import veritas_pb2_grpc

    before = small.audit_records()
    with grpc.insecure_channel(small.address) as channel:
        with pytest.raises(grpc.RpcError) as info:
            veritas_pb2_grpc.VeritasStub(channel).Analyze(
                build_request(audio=b"\x00" * 100_000),
                timeout=30,
                metadata=[("authorization", f"Bearer {credentials.analyst}")],
            )
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert small.audit_records() == before  # never authenticated, never audited
