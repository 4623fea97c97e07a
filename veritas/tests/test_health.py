"""How often readiness asks its dependencies: quickly while one has just gone down (a peer
starting or restarting is seen within a tenth of a second), calmly otherwise."""

from __future__ import annotations

import asyncio

from grpc_health.v1 import health, health_pb2

from veritas.health import Dependencies, Readiness, poll_period

DEPS = Dependencies(period_s=1.0, down_period_s=0.1, down_fast_s=15.0)


def test_all_up_checks_every_period() -> None:
    assert poll_period(DEPS, None) == 1.0


def test_a_dependency_just_down_is_asked_again_soon() -> None:
    assert poll_period(DEPS, 0.0) == 0.1
    assert poll_period(DEPS, 14.9) == 0.1


def test_a_long_outage_is_not_polled_ten_times_a_second() -> None:
    assert poll_period(DEPS, 15.0) == 1.0
    assert poll_period(DEPS, 600.0) == 1.0


def test_readiness_follows_a_dependency_that_comes_up() -> None:
    """A dependency that answers on its third check: the service turns ready then, after
    two short waits (not two 60 s periods)."""

    async def scenario() -> tuple[int, int]:
        calls = 0

        async def check() -> str | None:
            nonlocal calls
            calls += 1
            return None if calls >= 3 else "starting"

        servicer = health.aio.HealthServicer()
        await servicer.set("svc", health_pb2.HealthCheckResponse.NOT_SERVING)
        deps = Dependencies({"peer": check}, period_s=60.0, down_period_s=0.01)
        readiness = Readiness("svc", servicer, ["svc"], deps)
        stop = asyncio.Event()
        task = asyncio.create_task(readiness.run(stop))
        request = health_pb2.HealthCheckRequest(service="svc")
        while (
            await servicer.Check(request, None)
        ).status != health_pb2.HealthCheckResponse.SERVING:
            await asyncio.sleep(0.005)
        stop.set()
        await task
        return calls, (await servicer.Check(request, None)).status

    # With period_s as the wait it would take two minutes: the timeout fails it instead.
    calls, status = asyncio.run(asyncio.wait_for(scenario(), 10.0))
    assert calls == 3 and status == health_pb2.HealthCheckResponse.SERVING
