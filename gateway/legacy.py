"""The old JSON API, `POST /api/analyze`: {video_path, audio_path, transcript,
physiological_data} -> an AnalysisRequest.

Media paths are checked and read by veritas.media_uri, the resolver fusion uses too: a path
(or file:// URI) must resolve, symlinks followed, inside a folder listed in
VERITAS_MEDIA_URI_ALLOWLIST; an http(s) URI must lie under a listed prefix and is fetched by
fusion. Two steps, so the caller is charged before any file is touched: `parse` checks the
body (no I/O), then, once the rate limit admitted the call, `read` reads the files, each at
most the old API's limit (VERITAS_MAX_LEGACY_REQUEST_KB), and sends their bytes on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from veritas import media_uri
from veritas.analysis import InvalidInput
from veritas.media_uri import AllowList, HttpSource, Source
from veritas.v1 import common_pb2

FIELDS = {
    "video_path",
    "audio_path",
    "transcript",
    "physiological_data",
    "subject_id",
    "request_id",
}
MEDIA_FIELDS = ("video_path", "audio_path")
# Error fields of the new API named back in the old API's words.
OLD_NAMES = {"video": "video_path", "audio": "audio_path", "physiology": "physiological_data"}


@dataclass
class Legacy:
    """An old body, checked: the request without its media, and where each medium lies."""

    request: common_pb2.AnalysisRequest
    media: dict[str, Source] = field(default_factory=dict)
    allow: AllowList = field(default_factory=AllowList)

    def target(self, name: str) -> common_pb2.Media:
        return self.request.video if name == "video_path" else self.request.audio

    async def read(self, limit: int, timeout_s: float) -> common_pb2.AnalysisRequest:
        """The request with its media: files read (each at most `limit` bytes, within
        `timeout_s`), http(s) URIs left for fusion to fetch."""
        for name, source in self.media.items():
            if isinstance(source, HttpSource):
                self.target(name).CopyFrom(common_pb2.Media(uri=source.url))
            else:
                data = await media_uri.read_local(source, name, self.allow, limit, timeout_s)
                self.target(name).CopyFrom(common_pb2.Media(data=data))
        return self.request


def parse(body: Any, prefixes: Sequence[str] | AllowList | None = None) -> Legacy:
    """Check an old body without touching any file: InvalidInput naming the field."""
    if not isinstance(body, Mapping):
        raise InvalidInput("body", "must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidInput(unknown[0], "unknown field")
    if prefixes is None:
        allow = AllowList.from_env()
    elif isinstance(prefixes, AllowList):
        allow = prefixes
    else:
        allow = AllowList.parse(prefixes)
    legacy = Legacy(
        common_pb2.AnalysisRequest(options=common_pb2.Options(explain=True)), allow=allow
    )
    for key in ("subject_id", "request_id"):
        if body.get(key) is not None:
            if not isinstance(body[key], str):
                raise InvalidInput(key, "must be a string")
            setattr(legacy.request, key, body[key])
    for key in MEDIA_FIELDS:
        if body.get(key) is not None:
            if not isinstance(body[key], str):
                raise InvalidInput(key, "must be a non-empty string")
            legacy.media[key] = media_uri.check(body[key], key, allow, plain_paths=True)
    if body.get("transcript") is not None:
        if not isinstance(body["transcript"], str):
            raise InvalidInput("transcript", "must be a string")
        legacy.request.transcript.text = body["transcript"]
    if body.get("physiological_data") is not None:
        legacy.request.physiology.heart_rate.extend(heart_rate(body["physiological_data"]))
    return legacy


def heart_rate(value: Any) -> list[float]:
    series = value.get("heart_rate") if isinstance(value, Mapping) else value
    if not isinstance(series, list) or not series:
        raise InvalidInput(
            "physiological_data", "a list of heart-rate values (bpm), or {'heart_rate': [...]}"
        )
    out = []
    for i, v in enumerate(series):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise InvalidInput(f"physiological_data[{i}]", "must be a number")
        out.append(float(v))
    return out


def old_field_names(message: str) -> str:
    """'video.uri: cannot be read' -> 'video_path: cannot be read' (for old-API callers)."""
    head, sep, rest = message.partition(":")
    root = head.split(".")[0].split("[")[0]
    if sep and root in OLD_NAMES:
        return OLD_NAMES[root] + sep + rest
    return message
