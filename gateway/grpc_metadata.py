"""What a gRPC call's metadata says, read the same way by every gRPC servicer of the gateway
(the public API and the admin API), so neither imports the other."""

from __future__ import annotations

import grpc


def headers(context: grpc.aio.ServicerContext) -> dict[str, str]:
    """Lower-case text metadata (binary `-bin` entries carry no credentials)."""
    return {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
