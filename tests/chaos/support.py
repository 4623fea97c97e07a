"""What every chaos test shares: a gateway of its own in front of the session mesh's fusion
(keys and JWTs, limits high enough that load never meets the rate limiter, a 2 MiB body
limit so oversize bodies are cheap to send), the calls over gRPC and HTTP, and the checks
every answer must pass (`check_answer`).

The fixtures (`chaos_gateway`, `door`) are in conftest.py; a test module that uses them
declares `pytest_plugins = ("tests.gateway_fixtures",)` for the gateways they build on.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
from google.protobuf import json_format
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.errors import HTTP_STATUS
from tests.conftest import SAMPLES
from tools.mesh import Mesh
from veritas import refs
from veritas.v1 import common_pb2, veritas_pb2, veritas_pb2_grpc

MAX_REQUEST_MB = 2.0
MAX_LEGACY_KB = 256
# Codes an answer may have. Never UNKNOWN (an unhandled exception) or INTERNAL (the safety
# net caught one: a bug to fix).
NEVER = {"UNKNOWN", "INTERNAL"}
HTTP_CODE = {
    200: "OK",
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    413: "RESOURCE_EXHAUSTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# A field path as messages start: `request.options.target_fps`, `physiology.channels[0]`,
# `Authorization`, `X-Deadline-Ms`.
FIELD = re.compile(r"^[A-Za-z_][\w-]*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*: ")
MODALITY_NAMES = ("VISION", "AUDIO", "TEXT", "PHYSIOLOGY")
TRANSCRIPT = (SAMPLES / "transcript.txt").read_text(encoding="utf-8")


@dataclass
class Answer:
    """One call's outcome, whatever the transport."""

    transport: str
    code: str  # gRPC status code name ("OK" on success)
    message: str = ""  # the error message ("" on success)
    result: dict[str, Any] | None = None  # AnalysisResult / batch response as JSON
    ref: str | None = None  # the correlation reference the error carried, if any
    http_status: int | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def modalities(self) -> dict[str, dict[str, Any]]:
        mods = (self.result or {}).get("modalities", [])
        return {m.get("modality", ""): m for m in mods}


def texts(answer: Answer) -> Iterator[str]:
    """Every text an answer carries that a caller reads: the message, each modality's
    reason and notes, each batch item's error."""
    yield answer.message
    payloads: list[dict[str, Any]] = []
    if answer.result is not None:
        payloads.append(answer.result)
        payloads.extend(i.get("result", {}) for i in answer.result.get("items", []))
        yield from (i.get("error_message", "") for i in answer.result.get("items", []))
    for p in payloads:
        for m in p.get("modalities", []):
            yield m.get("reason", "")
            yield from m.get("notes", [])
        yield p.get("summary", "")


def check_answer(answer: Answer, where: str = "") -> None:
    """What every answer must be, whatever the input: a known status, never UNKNOWN or
    INTERNAL; an INVALID_ARGUMENT names its field; no modality failed on an internal error;
    and nothing a caller reads names an address, a path or an exception class."""
    label = f"{where} [{answer.transport}]"
    assert answer.code not in NEVER, f"{label}: {answer.code}: {answer.message}"
    if answer.code == "INVALID_ARGUMENT":
        assert FIELD.match(answer.message), f"{label}: names no field: {answer.message!r}"
    for text in texts(answer):
        assert not refs.leaks(text), f"{label}: leaks {refs.leaks(text)}: {text!r}"
        assert not text.startswith("INTERNAL"), f"{label}: a modality hit a bug: {text!r}"


# ---- transports -----------------------------------------------------------------------


def _grpc_error(e: grpc.RpcError, started: float) -> Answer:
    trailing = dict(e.trailing_metadata() or ())  # type: ignore[attr-defined]
    return Answer(
        "grpc",
        e.code().name,  # type: ignore[attr-defined]
        e.details() or "",  # type: ignore[attr-defined]
        ref=trailing.get(refs.REF_METADATA),
        seconds=time.perf_counter() - started,
    )


def to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


@dataclass
class Door:
    """The chaos gateway's two doors, with a default credential."""

    grpc_address: str
    http_url: str
    key: str
    channel: grpc.Channel
    http: httpx.Client

    @property
    def stub(self) -> veritas_pb2_grpc.VeritasStub:
        return veritas_pb2_grpc.VeritasStub(self.channel)

    def auth(self, headers: dict[str, str] | None) -> dict[str, str]:
        """The credential (`headers` instead, when given), and no result cache: every call
        is analysed, so that what the input does deep in the modalities is seen."""
        base = {"authorization": f"Bearer {self.key}"} if headers is None else dict(headers)
        return base | {"x-veritas-cache": "off"}

    def analyze(
        self,
        request: common_pb2.AnalysisRequest,
        transport: str,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Answer:
        if transport == "http":
            return self.post("/v1/analyze", to_json(request), headers, timeout)
        started = time.perf_counter()
        try:
            result = self.stub.Analyze(
                request, timeout=timeout, metadata=list(self.auth(headers).items())
            )
        except grpc.RpcError as e:
            return _grpc_error(e, started)
        return Answer("grpc", "OK", result=to_json(result), seconds=time.perf_counter() - started)

    def batch(
        self,
        batch: veritas_pb2.AnalyzeBatchRequest,
        transport: str,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Answer:
        if transport == "http":
            return self.post("/v1/analyze:batch", to_json(batch), headers, timeout)
        started = time.perf_counter()
        try:
            reply = self.stub.AnalyzeBatch(
                batch, timeout=timeout, metadata=list(self.auth(headers).items())
            )
        except grpc.RpcError as e:
            return _grpc_error(e, started)
        return Answer("grpc", "OK", result=to_json(reply), seconds=time.perf_counter() - started)

    def stream(
        self,
        chunks: Sequence[common_pb2.LiveChunk],
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Answer:
        started = time.perf_counter()
        final = None
        try:
            for result in self.stub.AnalyzeStream(
                iter(chunks), timeout=timeout, metadata=list(self.auth(headers).items())
            ):
                final = result
        except grpc.RpcError as e:
            return _grpc_error(e, started)
        return Answer(
            "grpc",
            "OK",
            result=to_json(final) if final is not None else {},
            seconds=time.perf_counter() - started,
        )

    def post(
        self,
        path: str,
        body: Any,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
        raw: bool = False,
    ) -> Answer:
        """POST JSON (or raw bytes with `raw`); the error body decoded when there is one."""
        started = time.perf_counter()
        content = body if raw else json.dumps(body).encode()
        head = {"content-type": "application/json"} | self.auth(headers)
        response = self.http.post(path, content=content, headers=head, timeout=timeout)
        return http_answer(response, started)

    def raw_grpc(self, method: str, data: bytes, timeout: float = 30) -> Answer:
        """Send bytes that may not parse as the method's message."""
        call = self.channel.unary_unary(
            f"/veritas.v1.Veritas/{method}",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        started = time.perf_counter()
        try:
            call(data, timeout=timeout, metadata=list(self.auth(None).items()))
        except grpc.RpcError as e:
            return _grpc_error(e, started)
        return Answer("grpc", "OK", result={}, seconds=time.perf_counter() - started)


def http_answer(response: httpx.Response, started: float) -> Answer:
    seconds = time.perf_counter() - started
    status = response.status_code
    code = HTTP_CODE.get(status, f"HTTP {status}")
    if status == 200:
        text = response.text.strip()
        if "\n" in text:  # NDJSON: the final line is the answer (or an error line)
            last = json.loads(text.rsplit("\n", 1)[1])
            if "error" in last:
                err = last["error"]
                return Answer("http", err["code"], err["message"], ref=err.get("ref"))
            return Answer("http", "OK", result=last, http_status=200, seconds=seconds)
        return Answer("http", "OK", result=response.json(), http_status=200, seconds=seconds)
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return Answer("http", code, f"not a JSON error body: {response.text[:200]!r}", None)
    ref = response.headers.get(refs.REF_HEADER)
    assert ref == error.get("ref"), "the X-Veritas-Ref header and error.ref disagree"
    code = error["code"]  # 400 is INVALID_ARGUMENT or FAILED_PRECONDITION: the body says
    expected = {HTTP_STATUS.get(getattr(grpc.StatusCode, code, None), 500)}
    if code == "RESOURCE_EXHAUSTED":
        expected = {413, 429}
    assert status in expected, (status, error)
    return Answer("http", code, error["message"], ref=ref, http_status=status, seconds=seconds)


# ---- the mesh's health ----------------------------------------------------------------

SERVING = health_pb2.HealthCheckResponse.SERVING
READINESS = {
    "vision": "veritas.v1.ModalityAnalyzer",
    "audio": "veritas.v1.ModalityAnalyzer",
    "text": "veritas.v1.ModalityAnalyzer",
    "physiology": "veritas.v1.ModalityAnalyzer",
    "fusion": "veritas.v1.Fusion",
    "gateway": "veritas.v1.Veritas",
}


def health(address: str, name: str = "", timeout: float = 3) -> int:
    """The health status `address` reports for `name` (-1 when it does not answer)."""
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=name), timeout=timeout
            )
        except grpc.RpcError:
            return -1
    return int(reply.status)


def all_alive_and_ready(mesh: Mesh, extra: Iterable[tuple[str, str]] = ()) -> None:
    """Every process the mesh started still runs, and every service is live and ready."""
    dead = {n: p.returncode for n, p in mesh.processes.items() if p.poll() is not None}
    assert not dead, f"dead processes: {dead}"
    triton: Any = mesh.triton
    assert triton is not None and triton.process.poll() is None, "Triton is dead"
    targets = [(mesh.address(s), n) for s, n in READINESS.items() if s in mesh.processes]
    targets += list(extra)
    deadline = time.monotonic() + 15
    while True:
        down = [(a, n) for a, n in targets for name in ("", n) if health(a, name) != SERVING]
        if not down or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not down, f"not live and ready: {down}"
