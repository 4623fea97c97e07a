"""Boot the gateway: the public gRPC API and admin API on one port (TLS when configured,
receive limit = VERITAS_MAX_REQUEST_MB so oversize messages are refused by gRPC before
they are buffered), the HTTP/JSON API on another (uvicorn, same event loop), health,
reflection, Prometheus metrics, tracing, and a graceful SIGTERM for both ports.

It is veritas.server.serve with what only the public door needs: its own receive limit,
TLS credentials, and the HTTP API as a companion listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import grpc
import uvicorn

from gateway import result_cache
from gateway.admin import AdminServicer
from gateway.audit import AuditLog
from gateway.auth import Authenticator
from gateway.core import Gateway
from gateway.http_api import HttpApi
from gateway.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from gateway.service import GatewayServicer
from gateway.settings import ConfigError, Settings
from gateway.usage import MemoryUsage, RedisUsage, UsageStore
from veritas import tls
from veritas.config import ServiceConfig, channel_options, env, service_address
from veritas.grpc_tracing import client_interceptors
from veritas.health import Dependencies, peer_check
from veritas.server import serve as serve_grpc
from veritas.telemetry import setup_logging, setup_tracing
from veritas.v1 import admin_pb2, admin_pb2_grpc, veritas_pb2, veritas_pb2_grpc

FUSION_SERVICE = "veritas.v1.Fusion"
log = logging.getLogger("veritas.gateway")
REDIS_CONNECTIONS = 32  # per replica; each limiter check holds one for one round trip


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: the gateway stops both ports together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def stores(settings: Settings) -> tuple[Limiter, UsageStore, object | None]:
    if not settings.redis_url:
        limiter = MemoryLimiter(settings.rate, settings.burst, settings.max_streams)
        return limiter, MemoryUsage(), None
    import redis.asyncio

    # A blocking pool: a burst of calls waits briefly for a connection instead of failing.
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=REDIS_CONNECTIONS, timeout=2.0, socket_timeout=2.0
    )
    client = redis.asyncio.Redis(connection_pool=pool)
    limiter_r = RedisLimiter(client, settings.rate, settings.burst, settings.max_streams)
    return limiter_r, RedisUsage(client), client


def public_grpc_options(config: ServiceConfig, settings: Settings) -> list[tuple[str, Any]]:
    options: dict[str, Any] = dict(channel_options(config.max_message_bytes))
    options["grpc.max_receive_message_length"] = settings.max_request_bytes
    return list(options.items())


class HttpCompanion:
    """The HTTP/JSON API (uvicorn) on the gateway's event loop, started and stopped with
    the gRPC port."""

    def __init__(self, gateway: Gateway, config: ServiceConfig, settings: Settings) -> None:
        self.port = settings.http_port
        self.server = _Uvicorn(
            uvicorn.Config(
                HttpApi(gateway).app(),
                host=config.host,
                port=settings.http_port,
                http="h11",
                lifespan="off",
                log_config=None,
                access_log=False,
                ssl_certfile=settings.tls_cert or None,
                ssl_keyfile=settings.tls_key or None,
                timeout_graceful_shutdown=int(config.shutdown_grace_s),
            )
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()  # raises why it could not start
                raise RuntimeError(f"HTTP API could not listen on port {self.port}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


async def serve(
    config: ServiceConfig, settings: Settings, stop: asyncio.Event | None = None
) -> None:
    limiter, usage, redis_client = stores(settings)
    fusion = tls.channel(
        service_address("fusion"),
        options=channel_options(config.max_message_bytes),
        interceptors=client_interceptors(),
    )
    # The result cache checks answers against the model versions Triton serves.
    read_index = result_cache.triton_index_reader(env("VERITAS_TRITON_URL"), 2.0)
    gateway = Gateway(
        fusion,
        Authenticator.from_settings(settings),
        limiter,
        usage,
        AuditLog(settings.audit_file),
        settings,
        result_cache.from_env(read_index),
    )

    def register(server: grpc.aio.Server) -> list[str]:
        veritas_pb2_grpc.add_VeritasServicer_to_server(GatewayServicer(gateway), server)
        keys_file = settings.api_keys_file if "keys" in settings.auth else ""
        admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(gateway, keys_file), server)
        return [
            veritas_pb2.DESCRIPTOR.services_by_name["Veritas"].full_name,
            admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
        ]

    async def cleanup() -> None:
        await fusion.close()
        await read_index.close()  # type: ignore[attr-defined]
        if redis_client is not None:
            await redis_client.aclose()  # type: ignore[attr-defined]

    log.info(
        "gateway policy",
        extra={
            "fields": {
                "http_port": settings.http_port,
                "tls": bool(settings.tls_cert),
                "auth": ",".join(sorted(settings.auth)),
                "limits": "redis" if settings.redis_url else "memory",
            }
        },
    )
    await serve_grpc(
        config,
        register,
        cleanup,
        stop,
        # The receive limit is VERITAS_MAX_REQUEST_MB: gRPC refuses bigger messages unread.
        options=public_grpc_options(config, settings),
        credentials=(
            tls.server_tls(settings.tls_cert, settings.tls_key) if settings.tls_cert else None
        ),
        companions=[HttpCompanion(gateway, config, settings)] if settings.http_port else [],
        # Ready while fusion is (fusion is ready while any modality service is).
        dependencies=Dependencies({"fusion": peer_check(fusion, FUSION_SERVICE)}),
    )


def main() -> None:
    config = ServiceConfig.from_env("gateway")
    setup_logging("gateway", config.log_level)
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        log.error("gateway cannot start", extra={"fields": {"why": str(e)}})
        raise SystemExit(f"gateway: cannot start: {e}") from None
    provider = setup_tracing("gateway", config.otlp_endpoint, config.trace_file)
    try:
        asyncio.run(serve(config, settings))
    finally:
        provider.shutdown()
