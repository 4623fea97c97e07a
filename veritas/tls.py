"""TLS for the mesh: mutual TLS between services, and TLS on the gateway's public port.

Between services (optional): set VERITAS_MTLS_CA, VERITAS_MTLS_CERT and VERITAS_MTLS_KEY
on every service. Then each server requires a client certificate signed by the CA and
each channel presents its own, so only the mesh's services can call each other. Unset:
plaintext, as on loopback. `bind` and `channel` are the two calls a service needs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

MTLS_VARIABLES = ("VERITAS_MTLS_CA", "VERITAS_MTLS_CERT", "VERITAS_MTLS_KEY")


@dataclass(frozen=True)
class MutualTls:
    ca: bytes
    cert: bytes
    key: bytes

    @classmethod
    def from_env(cls) -> MutualTls | None:
        paths = [os.environ.get(name, "") for name in MTLS_VARIABLES]
        if not any(paths):
            return None
        if not all(paths):
            raise ValueError("mutual TLS needs all of " + ", ".join(MTLS_VARIABLES))
        ca, cert, key = (Path(p).read_bytes() for p in paths)
        return cls(ca, cert, key)

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)], root_certificates=self.ca, require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )


def server_tls(cert_path: str, key_path: str) -> grpc.ServerCredentials:
    """One-way TLS for a public port (clients check the server; no client certificate)."""
    return grpc.ssl_server_credentials(
        [(Path(key_path).read_bytes(), Path(cert_path).read_bytes())]
    )


def bind(
    server: grpc.aio.Server, address: str, credentials: grpc.ServerCredentials | None = None
) -> int:
    """Listen on `address` with the given credentials, else mutual TLS when configured,
    else plaintext. Returns the port (0: could not bind)."""
    mtls = MutualTls.from_env()
    credentials = credentials or (mtls.server_credentials() if mtls else None)
    port: int = (
        server.add_insecure_port(address)
        if credentials is None
        else server.add_secure_port(address, credentials)
    )
    return port


def channel(
    address: str,
    options: Sequence[tuple[str, Any]] = (),
    interceptors: Sequence[Any] | None = None,
) -> grpc.aio.Channel:
    """An aio channel to a peer service, with mutual TLS when configured."""
    mtls = MutualTls.from_env()
    if mtls is None:
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(
        address, mtls.channel_credentials(), options=options, interceptors=interceptors
    )


def sync_channel(address: str, options: Sequence[tuple[str, Any]] = ()) -> grpc.Channel:
    """A blocking channel (health checks, the CLI), with mutual TLS when configured."""
    mtls = MutualTls.from_env()
    if mtls is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, mtls.channel_credentials(), options=options)
