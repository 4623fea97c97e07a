"""Prometheus metrics for every service, under the names operators alert on.

`veritas_requests_total{service,method,status}`, `veritas_request_duration_seconds`
(histogram), `veritas_requests_in_flight` and `veritas_memory_usage_bytes`, collected by a
gRPC server interceptor so no servicer has to remember them.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from veritas.wire import MethodWrappingInterceptor, rewrap

REQUESTS = Counter(
    "veritas_requests", "RPCs handled, by method and status code", ["service", "method", "status"]
)
LATENCY = Histogram(
    "veritas_request_duration_seconds",
    "RPC duration in seconds (streams: until the last message)",
    ["service", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60),
)
IN_FLIGHT = Gauge("veritas_requests_in_flight", "RPCs in progress", ["service", "method"])
MEMORY = Gauge(
    "veritas_memory_usage_bytes",
    "Resident set size of this process and its child processes (e.g. measuring workers)",
    ["service"],
)

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
PROC = Path("/proc")


def _rss(pid: str) -> int:
    try:
        return int((PROC / pid / "statm").read_text(encoding="ascii").split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0  # gone meanwhile


def _children(pid: str) -> list[str]:
    """Child pids of `pid`, from every thread's `children` list (Linux)."""
    found: list[str] = []
    try:
        for task in (PROC / pid / "task").iterdir():
            try:
                found += (task / "children").read_text(encoding="ascii").split()
            except OSError:
                continue
    except OSError:
        pass
    return found


def rss_bytes() -> int:
    """This process's resident set and its descendants' (the audio service's measuring
    workers, veritas.analysis_pool): they count against the same memory limit."""
    total, todo, seen = 0, [str(os.getpid())], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _rss(pid)
        todo += _children(pid)
    return total


def start_metrics(service: str, port: int, host: str = "0.0.0.0") -> None:
    """Serve /metrics over HTTP; port 0 disables it."""
    MEMORY.labels(service).set_function(rss_bytes)
    if port:
        start_http_server(port, addr=host)


def _status(context: grpc.aio.ServicerContext, error: BaseException | None) -> str:
    code = context.code() if hasattr(context, "code") else None
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    if isinstance(error, asyncio.CancelledError):
        return "CANCELLED"
    return "UNKNOWN" if error else "OK"


class MetricsInterceptor(MethodWrappingInterceptor):
    """Counts, times and tracks in-flight RPCs of all four shapes. The wrapped handler of
    each method is built once (its metric children looked up once), not per call."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def wrap(self, full_method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        method = full_method.rsplit("/", 1)[-1]
        in_flight = IN_FLIGHT.labels(self.service, method)
        latency = LATENCY.labels(self.service, method)
        counts: dict[str, Any] = {}

        def observe(start: float, context: Any, error: BaseException | None) -> None:
            in_flight.dec()
            latency.observe(time.perf_counter() - start)
            status = _status(context, error)
            counter = counts.get(status)
            if counter is None:
                counter = counts[status] = REQUESTS.labels(self.service, method, status)
            counter.inc()

        def wrap_unary(behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def wrapper(request: Any, context: Any) -> Any:
                in_flight.inc()
                start, error = time.perf_counter(), None
                try:
                    return await behavior(request, context)
                except BaseException as e:
                    error = e
                    raise
                finally:
                    observe(start, context, error)

            return wrapper

        def wrap_stream(behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
            async def wrapper(request: Any, context: Any) -> AsyncIterator[Any]:
                in_flight.inc()
                start, error = time.perf_counter(), None
                try:
                    async for response in behavior(request, context):
                        yield response
                except BaseException as e:
                    error = e
                    raise
                finally:
                    observe(start, context, error)

            return wrapper

        return rewrap(handler, wrap_unary, wrap_stream)
