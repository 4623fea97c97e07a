"""Boot one Veritas service: grpc.aio server with health, reflection, metrics, tracing,
JSON logs and a graceful SIGTERM (stop accepting, drain in-flight calls, exit 0).

A service's `__main__` only builds its servicer and calls `run(...)`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from veritas import tls
from veritas.config import ServiceConfig, server_options
from veritas.grpc_tracing import ServerTracing
from veritas.health import Dependencies, Readiness
from veritas.metrics import MetricsInterceptor, start_metrics
from veritas.telemetry import setup_logging, setup_tracing
from veritas.wire import FinalOnlyUnaryInterceptor, MalformedRequestInterceptor

log = logging.getLogger("veritas.server")

# Registers servicers on the server; returns their full service names (for health/reflection).
Register = Callable[[grpc.aio.Server], Sequence[str]]
Cleanup = Callable[[], Awaitable[None]]


class Companion(Protocol):
    """Another listener that lives and stops with the gRPC server (the gateway's HTTP API)."""

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish."""
        ...


async def serve(
    config: ServiceConfig,
    register: Register,
    cleanup: Cleanup | None = None,
    stop: asyncio.Event | None = None,
    *,
    options: Sequence[tuple[str, Any]] | None = None,
    credentials: grpc.ServerCredentials | None = None,
    companions: Sequence[Companion] = (),
    dependencies: Dependencies | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or `stop` is set), then drain and return.

    `credentials`: TLS for this port; without them the port uses mutual TLS when
    VERITAS_MTLS_* are set (veritas.tls), else plaintext. `dependencies`: what readiness
    needs (veritas.health): liveness (`""`) stays SERVING while the process works; the
    service names are SERVING only while their dependencies are up."""
    server = grpc.aio.server(
        interceptors=[
            MetricsInterceptor(config.name),
            MalformedRequestInterceptor(),  # its tolerant parser is the one grpc uses
            ServerTracing(),  # it drives the handler itself (veritas.grpc_tracing)
            # Innermost: a final-only call of a streaming method is served as unary.
            FinalOnlyUnaryInterceptor(),
        ],
        options=list(options) if options is not None else server_options(config),
    )
    names = list(register(server))
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
    if not tls.bind(server, address, credentials):
        raise RuntimeError(f"cannot listen on {address}")
    for companion in companions:
        await companion.start()
    start_metrics(config.name, config.metrics_port, config.host)
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    readiness = Readiness(config.name, health_servicer, names, dependencies or Dependencies())
    await readiness.check_once()  # truthful from the first probe on
    stop = stop or asyncio.Event()
    checking = asyncio.create_task(readiness.run(stop))
    log.info(
        "serving",
        extra={"fields": {"address": address, "metrics_port": config.metrics_port}},
    )

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await checking

    log.info("shutting down", extra={"fields": {"grace_s": config.shutdown_grace_s}})
    await health_servicer.enter_graceful_shutdown()  # load balancers stop sending new calls
    # Refuse new calls on every port; let in-flight ones finish.
    await asyncio.gather(server.stop(config.shutdown_grace_s), *(c.stop() for c in companions))
    if cleanup is not None:
        await cleanup()
    log.info("stopped")


Built = tuple[Register, Cleanup | None] | tuple[Register, Cleanup | None, Dependencies]


def run(name: str, build: Callable[[ServiceConfig], Built]) -> None:
    """Entry point of a service process: configure telemetry, build, serve. `build` returns
    the servicers' registration, a cleanup, and optionally what readiness depends on."""
    config = ServiceConfig.from_env(name)
    setup_logging(name, config.log_level)
    provider = setup_tracing(name, config.otlp_endpoint, config.trace_file)

    async def main() -> None:
        built = build(config)
        dependencies = built[2] if len(built) == 3 else None
        await serve(config, built[0], built[1], dependencies=dependencies)

    try:
        asyncio.run(main())
    finally:
        provider.shutdown()
