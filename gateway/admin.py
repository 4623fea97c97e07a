"""The admin API (veritas.v1.Admin): keys and usage, for callers with the admin role.

An admin manages its own tenant only. Keys are written to the same key file the gateway
reads (so every replica sharing the file sees a change at its next check); with JWT-only
auth there is no key file and the key calls answer FAILED_PRECONDITION.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from gateway.core import Gateway
from gateway.errors import Refused, abort
from gateway.grpc_metadata import headers
from gateway.policy import ADMIN, Principal
from veritas import keys
from veritas.v1 import admin_pb2, admin_pb2_grpc


def to_message(record: keys.KeyRecord) -> admin_pb2.ApiKey:
    return admin_pb2.ApiKey(
        id=record.id,
        tenant=record.tenant,
        roles=list(record.roles),
        name=record.name,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )


def own_tenant(principal: Principal, asked: str) -> str:
    if asked and asked != principal.tenant:
        raise Refused(
            grpc.StatusCode.PERMISSION_DENIED,
            f"tenant: an admin of {principal.tenant!r} cannot act for {asked!r}",
        )
    return principal.tenant


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, gateway: Gateway, key_file: str) -> None:
        self.gateway = gateway
        self.key_file = Path(key_file) if key_file else None

    def _file(self) -> Path:
        if self.key_file is None:
            raise Refused(
                grpc.StatusCode.FAILED_PRECONDITION, "no key file: this gateway takes JWTs only"
            )
        return self.key_file

    async def _run(self, name: str, context: grpc.aio.ServicerContext, work):  # type: ignore[no-untyped-def]
        try:
            async with self.gateway.call(
                name, "grpc", headers(context), context.time_remaining(), role=ADMIN
            ) as call:
                await call.spend(1, 0, analyses=0)
                try:
                    return await asyncio.to_thread(work, call.principal)
                except keys.KeyFileError as e:
                    raise Refused(grpc.StatusCode.INVALID_ARGUMENT, str(e)) from e
        except Refused as e:
            await abort(context, e)

    async def CreateKey(
        self, request: admin_pb2.CreateKeyRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.CreateKeyResponse:
        def work(principal: Principal) -> admin_pb2.CreateKeyResponse:
            tenant = own_tenant(principal, request.tenant)
            roles = list(request.roles) or ["analyst"]
            record, secret = keys.create_key(self._file(), tenant, roles, request.name)
            return admin_pb2.CreateKeyResponse(key=to_message(record), secret=secret)

        return await self._run("CreateKey", context, work)

    async def ListKeys(
        self, request: admin_pb2.ListKeysRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.ListKeysResponse:
        def work(principal: Principal) -> admin_pb2.ListKeysResponse:
            tenant = own_tenant(principal, request.tenant)
            records = [k for k in keys.load(self._file()).keys if k.tenant == tenant]
            return admin_pb2.ListKeysResponse(keys=[to_message(k) for k in records])

        return await self._run("ListKeys", context, work)

    async def RevokeKey(
        self, request: admin_pb2.RevokeKeyRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.RevokeKeyResponse:
        def work(principal: Principal) -> admin_pb2.RevokeKeyResponse:
            record = keys.revoke_key(self._file(), request.id, tenant=principal.tenant)
            return admin_pb2.RevokeKeyResponse(key=to_message(record))

        return await self._run("RevokeKey", context, work)

    async def GetUsage(
        self, request: admin_pb2.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> admin_pb2.GetUsageResponse:
        try:
            async with self.gateway.call(
                "GetUsage", "grpc", headers(context), context.time_remaining(), role=ADMIN
            ) as call:
                await call.spend(1, 0, analyses=0)
                tenant = own_tenant(call.principal, request.tenant)
                counts = await self.gateway.usage.get(tenant)
                return admin_pb2.GetUsageResponse(
                    usage=admin_pb2.TenantUsage(tenant=tenant, **counts)
                )
        except Refused as e:
            await abort(context, e)
        raise AssertionError("unreachable")
