"""Boot the gateway: the public gRPC API and admin API on one port (TLS when configured,
receive limit = VERITAS_MAX_REQUEST_MB so oversize messages are refused by gRPC before
they are buffered), the HTTP/JSON API on another (uvicorn, same event loop), health,
reflection, Prometheus metrics, tracing, and a graceful SIGTERM for both ports.

It follows veritas.server.serve, adding what only the public door needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Any

import grpc
import uvicorn
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor

from gateway.admin import AdminServicer
from gateway.audit import AuditLog
from gateway.auth import Authenticator
from gateway.core import Gateway
from gateway.http_api import HttpApi
from gateway.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from gateway.service import GatewayServicer
from gateway.settings import Settings
from gateway.usage import MemoryUsage, RedisUsage, UsageStore
from veritas import tls
from veritas.config import ServiceConfig, channel_options, service_address
from veritas.metrics import MetricsInterceptor, start_metrics
from veritas.telemetry import setup_logging, setup_tracing
from veritas.v1 import admin_pb2, admin_pb2_grpc, veritas_pb2, veritas_pb2_grpc

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


async def serve(
    config: ServiceConfig, settings: Settings, stop: asyncio.Event | None = None
) -> None:
    limiter, usage, redis_client = stores(settings)
    fusion = tls.channel(
        service_address("fusion"),
        options=channel_options(config.max_message_bytes),
        interceptors=aio_client_interceptors(),
    )
    gateway = Gateway(
        fusion,
        Authenticator.from_settings(settings),
        limiter,
        usage,
        AuditLog(settings.audit_file),
        settings,
    )
    server = grpc.aio.server(
        interceptors=[aio_server_interceptor(), MetricsInterceptor(config.name)],
        options=public_grpc_options(config, settings),
    )
    veritas_pb2_grpc.add_VeritasServicer_to_server(GatewayServicer(gateway), server)
    admin_pb2_grpc.add_AdminServicer_to_server(
        AdminServicer(gateway, settings.api_keys_file if "keys" in settings.auth else ""), server
    )
    names = [
        veritas_pb2.DESCRIPTOR.services_by_name["Veritas"].full_name,
        admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
    ]
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    address = f"{config.host}:{config.port}"
    if settings.tls_cert:
        bound = server.add_secure_port(address, tls.server_tls(settings.tls_cert, settings.tls_key))
    else:
        bound = server.add_insecure_port(address)
    if not bound:
        raise RuntimeError(f"cannot listen on {address}")

    http: _Uvicorn | None = None
    http_task: asyncio.Task[None] | None = None
    if settings.http_port:
        http = _Uvicorn(
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
        http_task = asyncio.create_task(http.serve())
        while not http.started:
            if http_task.done():
                http_task.result()  # raises why it could not start
                raise RuntimeError(f"HTTP API could not listen on port {settings.http_port}")
            await asyncio.sleep(0.02)

    start_metrics(config.name, config.metrics_port, config.host)
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "serving",
        extra={
            "fields": {
                "address": address,
                "http_port": settings.http_port,
                "metrics_port": config.metrics_port,
                "tls": bool(settings.tls_cert),
                "auth": ",".join(sorted(settings.auth)),
                "limits": "redis" if settings.redis_url else "memory",
            }
        },
    )

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    log.info("shutting down", extra={"fields": {"grace_s": config.shutdown_grace_s}})
    await health_servicer.enter_graceful_shutdown()
    if http is not None and http_task is not None:
        http.should_exit = True
    await server.stop(config.shutdown_grace_s)
    if http_task is not None:
        await http_task
    await fusion.close()
    if redis_client is not None:
        await redis_client.aclose()  # type: ignore[attr-defined]
    log.info("stopped")


def main() -> None:
    config = ServiceConfig.from_env("gateway")
    setup_logging("gateway", config.log_level)
    settings = Settings.from_env()
    provider = setup_tracing("gateway", config.otlp_endpoint, config.trace_file)
    try:
        asyncio.run(serve(config, settings))
    finally:
        provider.shutdown()
