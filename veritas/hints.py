"""Request metadata the mesh's own services pass to each other, and the caller's cache switch.

- `x-veritas-final-only: 1` (gateway -> fusion -> modality services): the caller reads only
  the final result (unary Analyze, AnalyzeBatch). Fusion then builds no progressive results
  and each modality service scores and sends only its whole-input result: the windows are
  still measured (the whole-input result is made from them), but not scored one by one.
  Streams and the HTTP NDJSON endpoint never set it: they get every update.
- `x-veritas-cache: off` (a caller -> the gateway, gRPC metadata or HTTP header): neither
  read nor write the gateway's result cache for this request (veritas.result_cache).
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc

FINAL_ONLY = "x-veritas-final-only"
CACHE = "x-veritas-cache"
CACHE_OFF = frozenset({"off", "0", "false", "no", "none", "bypass"})
FINAL_ONLY_METADATA: tuple[tuple[str, str], ...] = ((FINAL_ONLY, "1"),)


def metadata_value(metadata: Iterable[tuple[str, object]] | None, key: str) -> str:
    for k, v in metadata or ():
        if k == key and isinstance(v, str):
            return v
    return ""


def final_only(context: grpc.aio.ServicerContext) -> bool:
    """Whether this call's caller reads only the final result."""
    return metadata_value(context.invocation_metadata(), FINAL_ONLY) == "1"


def cache_wanted(headers: dict[str, str]) -> bool:
    """False when the caller turned the result cache off for this request."""
    return headers.get(CACHE, "").strip().lower() not in CACHE_OFF
