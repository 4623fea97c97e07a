"""Authentication: an API key or a bearer JWT from the request headers -> a Principal.

Both transports hand over their headers as a lower-case mapping: `authorization: Bearer X`
(X an API key `vk_...` or a JWT) or `x-api-key: X`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import grpc

from gateway.errors import Refused
from gateway.jwt_auth import JwtVerifier, jwks_source
from gateway.keystore import KeyStore
from gateway.policy import ANONYMOUS, Principal
from gateway.settings import Settings
from veritas.keys import key_id_of


def credential(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    if value:
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(grpc.StatusCode.UNAUTHENTICATED, "authorization: use 'Bearer <token>'")
        return token.strip()
    return headers.get("x-api-key", "").strip() or None


class Authenticator:
    def __init__(self, keys: KeyStore | None, jwt_verifier: JwtVerifier | None, anonymous: bool):
        self.keys = keys
        self.jwt = jwt_verifier
        self.anonymous = anonymous

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        keys = KeyStore(settings.api_keys_file) if "keys" in settings.auth else None
        verifier = None
        if "jwt" in settings.auth:
            verifier = JwtVerifier(
                jwks_source(settings.jwt_jwks),
                settings.jwt_issuer,
                settings.jwt_audience,
                settings.jwt_leeway_s,
                settings.jwt_tenant_claim,
                settings.jwt_roles_claim,
            )
        return cls(keys, verifier, anonymous="none" in settings.auth)

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        if self.anonymous:
            return ANONYMOUS
        token = credential(headers)
        if token is None:
            raise Refused(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing credentials: send 'authorization: Bearer <API key or token>'",
            )
        if key_id_of(token) is not None:
            if self.keys is None:
                raise Refused(grpc.StatusCode.UNAUTHENTICATED, "API keys are not accepted here")
            record = self.keys.find(token)
            if record is None:
                raise Refused(grpc.StatusCode.UNAUTHENTICATED, "invalid API key")
            principal = Principal(
                tenant=record.tenant,
                roles=frozenset(record.roles),
                subject=record.name,
                key_id=record.id,
                method="key",
            )
            if record.revoked:
                raise Refused(
                    grpc.StatusCode.UNAUTHENTICATED,
                    f"API key {record.id} was revoked",
                    principal=principal,
                )
            return principal
        if self.jwt is None:
            raise Refused(grpc.StatusCode.UNAUTHENTICATED, "invalid API key")
        return await asyncio.to_thread(self.jwt.verify, token)
