"""The chaos tests' own gateway (tests/chaos/support.py says why it is configured so)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import pytest

from tests.chaos.support import MAX_LEGACY_KB, MAX_REQUEST_MB, Door
from tests.conftest import SAMPLES
from tests.gateway_fixtures import Credentials, GatewayProcess, Gateways, auth_env


@pytest.fixture(scope="session")
def chaos_gateway(gateways: Gateways, credentials: Credentials) -> GatewayProcess:
    return gateways.start(
        "chaos",
        auth_env(credentials)
        | {
            "VERITAS_RATE_LIMIT_RPS": "100000",
            "VERITAS_RATE_LIMIT_BURST": "100000",
            "VERITAS_MAX_STREAMS_PER_TENANT": "64",
            "VERITAS_MAX_REQUEST_MB": str(MAX_REQUEST_MB),
            "VERITAS_MAX_LEGACY_REQUEST_KB": str(MAX_LEGACY_KB),
            "VERITAS_MEDIA_URI_ALLOWLIST": f"file://{SAMPLES}/",
        },
    )


@pytest.fixture(scope="session")
def door(chaos_gateway: GatewayProcess, credentials: Credentials) -> Iterator[Door]:
    channel = grpc.insecure_channel(chaos_gateway.address)
    with httpx.Client(base_url=chaos_gateway.http, timeout=120) as http:
        yield Door(chaos_gateway.address, chaos_gateway.http, credentials.analyst, channel, http)
    channel.close()
