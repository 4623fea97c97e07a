"""Media given by URI: fetched only from allow-listed prefixes, with a size cap.

A caller may never make the service read an arbitrary server path or URL: only URIs that
start with a prefix in VERITAS_MEDIA_URI_ALLOWLIST (comma-separated, empty by default)
are fetched, here in fusion, and passed on as bytes.
"""

from __future__ import annotations

import os
import urllib.request
from urllib.parse import urlparse

from veritas.analysis import InvalidInput
from veritas.config import env
from veritas.v1 import common_pb2

MAX_BYTES = int(float(env("VERITAS_MAX_MESSAGE_MB")) * 1024 * 1024)


def allowlist() -> list[str]:
    raw = env("VERITAS_MEDIA_URI_ALLOWLIST")
    return [p.strip() for p in raw.split(",") if p.strip()]


def resolve(media: common_pb2.Media, field: str, timeout_s: float = 10.0) -> common_pb2.Media:
    """Media with inline bytes: the same message, or the URI's content fetched."""
    if media.WhichOneof("source") != "uri":
        return media
    uri = media.uri
    if not any(uri.startswith(prefix) for prefix in allowlist()):
        raise InvalidInput(f"{field}.uri", f"{uri!r} is not in the media URI allow-list")
    parsed = urlparse(uri)
    try:
        if parsed.scheme == "file":
            path = os.path.realpath(parsed.path)
            if not any(
                path.startswith(os.path.realpath(urlparse(p).path))
                for p in allowlist()
                if p.startswith("file://")
            ):
                raise InvalidInput(f"{field}.uri", "resolves outside the allow-listed folders")
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
        elif parsed.scheme in ("http", "https"):
            with urllib.request.urlopen(uri, timeout=timeout_s) as response:  # noqa: S310
                data = response.read(MAX_BYTES + 1)
        else:
            raise InvalidInput(f"{field}.uri", f"unsupported scheme {parsed.scheme!r}")
    except OSError as e:
        raise InvalidInput(f"{field}.uri", f"cannot be read: {e}") from e
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"{field}.uri", f"larger than {MAX_BYTES} bytes")
    return common_pb2.Media(data=data, mime_type=media.mime_type)
