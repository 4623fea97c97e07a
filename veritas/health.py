"""Liveness and readiness on grpc.health.v1, telling the truth about dependencies.

- Liveness is the empty service name `""`: SERVING while the process and its event loop
  work. A dead dependency never makes it fail (restarting this process would not help).
- Readiness is the service's own name (e.g. `veritas.v1.ModalityAnalyzer`): SERVING only
  while the dependencies it needs to answer well are up (a modality service: its model
  server; fusion: at least one modality service, since it can answer with what it has;
  the gateway: fusion).
- Each dependency also has its own entry, `dependency/<name>` (e.g. `dependency/triton`,
  `dependency/vision`), so an operator can ask which one is down:
  `grpcurl -d '{"service":"dependency/triton"}' HOST:PORT grpc.health.v1.Health/Check`.
  The gauge `veritas_dependency_up{service,dependency}` says the same to Prometheus, and
  every change is logged once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import Gauge

log = logging.getLogger("veritas.health")

DEPENDENCY_UP = Gauge(
    "veritas_dependency_up",
    "1 while a dependency answers its health check, 0 while it does not",
    ["service", "dependency"],
)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

# A check returns None when the dependency is up, or why it is not.
Check = Callable[[], Awaitable[str | None]]


@dataclass
class Dependencies:
    """What a service needs to be ready, and how to tell."""

    checks: Mapping[str, Check] = field(default_factory=dict)
    # Ready from the dependencies' states (name -> up); default: all of them up.
    ready_when: Callable[[Mapping[str, bool]], bool] = lambda up: all(up.values())
    period_s: float = 1.0
    # While a dependency is down, ask again every down_period_s for down_fast_s, then every
    # period_s: a peer that is starting or restarting (the local mesh starts every process
    # at once) is seen within a tenth of a second, and a long outage is not polled ten
    # times a second.
    down_period_s: float = 0.1
    down_fast_s: float = 15.0
    timeout_s: float = 1.0


def poll_period(deps: Dependencies, down_for_s: float | None) -> float:
    """How long to wait before the next check: `period_s` while every dependency is up (or
    one has been down for `down_fast_s`), `down_period_s` while one has just gone down."""
    if down_for_s is None or down_for_s >= deps.down_fast_s:
        return deps.period_s
    return min(deps.period_s, deps.down_period_s)


def peer_check(channel: grpc.aio.Channel, service: str, timeout_s: float = 1.0) -> Check:
    """A check that asks a peer's readiness over grpc.health.v1."""
    stub = health_pb2_grpc.HealthStub(channel)

    async def check() -> str | None:
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.aio.AioRpcError as e:
            return f"unreachable ({e.code().name})"
        if reply.status != SERVING:
            return "not ready"
        return None

    return check


class Readiness:
    """Runs the checks every `period_s` and keeps the health entries truthful."""

    def __init__(
        self,
        service: str,
        servicer: health.aio.HealthServicer,
        names: Sequence[str],
        dependencies: Dependencies,
    ) -> None:
        self.service = service
        self.servicer = servicer
        self.names = list(names)
        self.dependencies = dependencies
        self.up: dict[str, bool] = {}

    async def check_once(self) -> bool:
        """Check every dependency at once; update health, the gauge and the log."""
        deps = self.dependencies
        names = list(deps.checks)
        results = await asyncio.gather(
            *(self._run(deps.checks[n]) for n in names), return_exceptions=False
        )
        for name, reason in zip(names, results):
            up = reason is None
            if self.up.get(name) != up:
                level = logging.INFO if up else logging.WARNING
                log.log(
                    level,
                    "dependency up" if up else "dependency down",
                    extra={"fields": {"dependency": name, "reason": reason or ""}},
                )
            self.up[name] = up
            DEPENDENCY_UP.labels(self.service, name).set(1 if up else 0)
            await self.servicer.set(f"dependency/{name}", SERVING if up else NOT_SERVING)
        ready = deps.ready_when(self.up) if names else True
        for name in self.names:
            await self.servicer.set(name, SERVING if ready else NOT_SERVING)
        return ready

    async def _run(self, check: Check) -> str | None:
        try:
            return await asyncio.wait_for(check(), self.dependencies.timeout_s)
        except TimeoutError:
            return "no answer in time"
        except Exception as e:  # a broken check says the dependency is down, never crashes
            return f"check failed ({type(e).__name__})"

    async def run(self, stop: asyncio.Event) -> None:
        deps = self.dependencies
        loop = asyncio.get_running_loop()
        down_since: float | None = None
        while not stop.is_set():
            await self.check_once()
            if all(self.up.values()):
                down_since = None
            elif down_since is None:
                down_since = loop.time()
            down_for = None if down_since is None else loop.time() - down_since
            try:
                await asyncio.wait_for(stop.wait(), poll_period(deps, down_for))
            except TimeoutError:
                pass
