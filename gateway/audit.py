"""The audit log: who analysed what and when, one JSON object a line.

It records the caller (tenant, key id or token subject), the request id, which modalities
were present and how big they were, the decision and the status, never media bytes,
media URIs' content or transcript text.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from veritas.modalities import MODALITIES
from veritas.v1 import common_pb2

log = logging.getLogger("veritas.audit")


def sizes(request: common_pb2.AnalysisRequest) -> dict[str, int]:
    """What each modality brought, as sizes only (bytes, characters, samples)."""
    out: dict[str, int] = {}
    for name in (m.request_field for m in MODALITIES if m.media):
        media: common_pb2.Media = getattr(request, name)
        if media.WhichOneof("source") == "data":
            out[f"{name}_bytes"] = len(media.data)
        elif media.WhichOneof("source") == "uri":
            out[f"{name}_uri"] = 1
    text = request.transcript.text or " ".join(s.text for s in request.transcript.segments)
    if text.strip():
        out["transcript_chars"] = len(text)
    samples = sum(len(c.samples) for c in request.physiology.channels)
    samples += len(request.physiology.heart_rate)
    if samples:
        out["physiology_samples"] = samples
    return out


def modalities(request: common_pb2.AnalysisRequest) -> list[str]:
    present = {k.split("_")[0] for k in sizes(request)}
    return [m.request_field for m in MODALITIES if m.request_field in present]


def utc_now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


@dataclass
class AuditRecord:
    method: str
    transport: str
    tenant: str = ""
    principal: str = ""  # "key:<id>", "jwt:<sub>" or "none"
    request_id: str = ""
    modalities: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    items: int = 0
    decision: str = ""
    status: str = "OK"
    ms: float = 0.0
    trace_id: str = ""
    peer: str = ""


class AuditLog:
    """Appends to a file when given one (a line per call, written whole), else logs."""

    def __init__(self, path: str = "") -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, record: AuditRecord) -> None:
        # A shallow copy: serialized right away (dataclasses.asdict deep-copies, per call).
        entry: dict[str, Any] = {"ts": utc_now(), **vars(record)}
        if not self.path:
            log.info("audit", extra={"fields": entry})
            return
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
