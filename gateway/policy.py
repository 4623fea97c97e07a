"""The seam for authentication, authorisation and rate limiting.

The gateway asks its `AccessPolicy` to admit every call before doing any work. This
version ships `OpenPolicy`, which admits everything, for local use on loopback; the
authenticated, rate-limited policy plugs in here without touching the servicer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import grpc


@dataclass(frozen=True)
class Principal:
    tenant: str
    roles: frozenset[str]


class AccessPolicy(Protocol):
    async def admit(self, method: str, context: grpc.aio.ServicerContext) -> Principal:
        """Return who is calling, or abort the call (UNAUTHENTICATED, PERMISSION_DENIED,
        RESOURCE_EXHAUSTED)."""
        ...


class OpenPolicy:
    """Admit every call as the local tenant. Only for a gateway bound to loopback."""

    async def admit(self, method: str, context: grpc.aio.ServicerContext) -> Principal:
        return Principal(tenant="local", roles=frozenset({"analyst"}))
