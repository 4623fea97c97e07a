"""Media given by URI: fusion fetches it for the modality services, which take bytes only.

What may be read, and the reading itself, is veritas.media_uri (shared with the gateway's
old API): allow-listed prefixes at a boundary, symlinks resolved, redirects re-checked, size
capped while streaming. Here is how fusion runs fetches so that a slow media server cannot
starve anyone:

- the URI is checked when the call is planned (no I/O), so a refused one fails the call with
  INVALID_ARGUMENT naming the field before anything runs;
- the fetch runs inside that modality's own task, so the request's other modalities, and
  every request without media, never wait for it (no shared thread pool);
- it is bounded in total by the request's deadline (VERITAS_MEDIA_FETCH_TIMEOUT_S at most)
  and cancelled with the call when the caller goes away;
- each tenant has at most VERITAS_MEDIA_FETCHES_PER_TENANT fetches running; the tenant is
  the gateway's `x-veritas-tenant` metadata, or the calling peer's address without it.
"""

from __future__ import annotations

import asyncio
from urllib.parse import unquote

import grpc

from veritas import hints, media_uri
from veritas.config import env
from veritas.media_uri import AllowList, MediaUnavailable, TenantSlots
from veritas.modalities import has_media
from veritas.v1 import common_pb2, modality_pb2

__all__ = ["MediaFetcher", "MediaUnavailable", "caller", "check", "needs_fetch"]


def max_bytes() -> int:
    """Fetched media travel inline to the modality service: one gRPC message at most."""
    return int(float(env("VERITAS_MAX_MESSAGE_MB")) * 1024 * 1024)


def check(media: common_pb2.Media, field: str) -> None:
    """Raise InvalidInput naming `field`.uri when the allow-list refuses the media's URI."""
    if media.WhichOneof("source") == "uri":
        media_uri.check(media.uri, f"{field}.uri", AllowList.from_env())


def needs_fetch(request: modality_pb2.ModalityRequest) -> bool:
    return any(
        part.HasField("media") and part.media.WhichOneof("source") == "uri"
        for part in (request.input, request.baseline)
    )


def caller(context: grpc.aio.ServicerContext) -> str:
    """Whose fetch this is: the gateway's tenant, else the peer address (port dropped)."""
    tenant = hints.metadata_value(context.invocation_metadata(), media_uri.TENANT_METADATA)
    if tenant:
        return "tenant:" + unquote(tenant)
    peer = context.peer() or ""
    host, sep, port = peer.rpartition(":")
    return "peer:" + (host if sep and port.isdigit() else peer)


class MediaFetcher:
    def __init__(
        self,
        allow: AllowList | None = None,
        per_tenant: int | None = None,
        max_fetch_s: float | None = None,
        limit: int | None = None,
    ) -> None:
        self.allow = allow
        self.slots = TenantSlots(
            per_tenant if per_tenant is not None else int(env("VERITAS_MEDIA_FETCHES_PER_TENANT"))
        )
        self.max_fetch_s = (
            max_fetch_s if max_fetch_s is not None else float(env("VERITAS_MEDIA_FETCH_TIMEOUT_S"))
        )
        self.limit = limit if limit is not None else max_bytes()

    async def fill(
        self, request: modality_pb2.ModalityRequest, field: str, tenant: str, budget_s: float
    ) -> None:
        """Replace the request's media URIs (input `field`, baseline `baseline.field`) by
        their bytes, within `budget_s` in total, waiting included."""
        allow = self.allow or AllowList.from_env()
        timeout = min(self.max_fetch_s, budget_s)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout

        async def one(media: common_pb2.Media, name: str) -> None:
            if media.WhichOneof("source") != "uri":
                return
            source = media_uri.check(media.uri, f"{name}.uri", allow)
            waiting = True
            try:
                async with asyncio.timeout_at(end), self.slots.hold(tenant):
                    waiting = False
                    left = max(0.0, end - loop.time())
                    data = await media_uri.fetch(source, f"{name}.uri", allow, self.limit, left)
            except TimeoutError:
                why = " (this caller's other fetches held every slot)" if waiting else ""
                raise MediaUnavailable(
                    f"{name}.uri", f"not fetched within {timeout:.1f} s{why}", True
                ) from None
            media.CopyFrom(common_pb2.Media(data=data, mime_type=media.mime_type))

        parts = [one(request.input.media, field)]
        if has_media(request.baseline.media):
            parts.append(one(request.baseline.media, f"baseline.{field}"))
        tasks = [asyncio.ensure_future(p) for p in parts]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:  # one failed or the call was cancelled: stop the other
                task.cancel()
