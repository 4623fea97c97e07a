"""The old JSON API, `POST /api/analyze`: {video_path, audio_path, transcript,
physiological_data} -> an AnalysisRequest.

Media paths are never read as given: a path (or file:// URI) must resolve, symlinks
followed, inside a folder listed in VERITAS_MEDIA_URI_ALLOWLIST (the list fusion fetches
from); the gateway reads it (size-capped) and sends the bytes on. An http(s) URI must start
with a listed prefix and is fetched by fusion. Anything else is refused.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from veritas.analysis import InvalidInput
from veritas.config import env
from veritas.v1 import common_pb2

FIELDS = {
    "video_path",
    "audio_path",
    "transcript",
    "physiological_data",
    "subject_id",
    "request_id",
}
# Error fields of the new API named back in the old API's words.
OLD_NAMES = {"video": "video_path", "audio": "audio_path", "physiology": "physiological_data"}


def allowlist() -> list[str]:
    return [p.strip() for p in env("VERITAS_MEDIA_URI_ALLOWLIST").split(",") if p.strip()]


def allowed_folders(prefixes: Sequence[str]) -> list[str]:
    return [
        os.path.realpath(unquote(urlparse(p).path)) for p in prefixes if p.startswith("file://")
    ]


def media_source(value: Any, field: str, prefixes: Sequence[str]) -> str:
    """The allow-listed real path (or http(s) URI) of an old-API media path, or
    InvalidInput naming the field."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "must be a non-empty string")
    if value.startswith(("http://", "https://")):
        if any(value.startswith(p) for p in prefixes):
            return value
        raise InvalidInput(field, "URI is not in the media allow-list")
    raw = unquote(urlparse(value).path) if value.startswith("file://") else value
    if not os.path.isabs(raw):
        raise InvalidInput(field, "must be an absolute path inside an allow-listed media folder")
    path = os.path.realpath(raw)
    for folder in allowed_folders(prefixes):
        if os.path.commonpath([path, folder]) == folder:
            return path
    raise InvalidInput(field, "is not inside an allow-listed media folder")


def read_media(source: str, field: str, limit: int) -> common_pb2.Media:
    """Media for a checked source: the file's bytes (at most `limit`), or the URI."""
    if source.startswith(("http://", "https://")):
        return common_pb2.Media(uri=source)
    try:
        with open(source, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise InvalidInput(field, f"cannot be read: {e.strerror}") from e
    if len(data) > limit:
        raise InvalidInput(field, f"larger than {limit} bytes")
    return common_pb2.Media(data=data)


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


def to_request(
    body: Any, media_limit: int, prefixes: Sequence[str] | None = None
) -> common_pb2.AnalysisRequest:
    """Blocking (it reads media files): call it from a worker thread."""
    if not isinstance(body, Mapping):
        raise InvalidInput("body", "must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise InvalidInput(unknown[0], "unknown field")
    prefixes = allowlist() if prefixes is None else prefixes
    request = common_pb2.AnalysisRequest(options=common_pb2.Options(explain=True))
    for key in ("subject_id", "request_id"):
        if body.get(key) is not None:
            if not isinstance(body[key], str):
                raise InvalidInput(key, "must be a string")
            setattr(request, key, body[key])
    for key, target in (("video_path", request.video), ("audio_path", request.audio)):
        if body.get(key) is not None:
            target.CopyFrom(read_media(media_source(body[key], key, prefixes), key, media_limit))
    if body.get("transcript") is not None:
        if not isinstance(body["transcript"], str):
            raise InvalidInput("transcript", "must be a string")
        request.transcript.text = body["transcript"]
    if body.get("physiological_data") is not None:
        request.physiology.heart_rate.extend(heart_rate(body["physiological_data"]))
    return request


def old_field_names(message: str) -> str:
    """'video.uri: cannot be read' -> 'video_path: cannot be read' (for old-API callers)."""
    head, sep, rest = message.partition(":")
    root = head.split(".")[0].split("[")[0]
    if sep and root in OLD_NAMES:
        return OLD_NAMES[root] + sep + rest
    return message
