import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from gateway.deadlines import downstream_timeout, http_deadline_s
from gateway.errors import Refused
from gateway.ratelimit import MemoryLimiter, admit, refill, stream_slot, take


def test_the_bucket_refills_at_its_rate_up_to_its_burst():
    assert refill(0.0, 2.0, rate=1.5, burst=10) == 3.0
    assert refill(9.0, 5.0, rate=1.5, burst=10) == 10
    assert refill(4.0, -1.0, rate=1.5, burst=10) == 4.0  # a clock step back adds nothing


def test_an_empty_bucket_says_how_long_to_wait():
    left, verdict = take(0.5, 2, rate=0.5)
    assert left == 0.5 and not verdict.allowed
    assert verdict.retry_after_s == pytest.approx(3.0)


async def test_exactly_burst_calls_pass_under_concurrency():
    limiter = MemoryLimiter(rate=0.001, burst=7, max_streams=2)
    verdicts = await asyncio.gather(*(limiter.take("acme", 1) for _ in range(50)))
    assert sum(v.allowed for v in verdicts) == 7
    assert all(v.retry_after_s > 900 for v in verdicts if not v.allowed)
    # Tenants do not share a bucket.
    assert (await limiter.take("beta", 1)).allowed


async def test_refusal_carries_the_retry_delay():
    limiter = MemoryLimiter(rate=2.0, burst=1, max_streams=1)
    await admit(limiter, "acme", 1)
    with pytest.raises(Refused) as info:
        await admit(limiter, "acme", 1)
    refused = info.value
    assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert 0 < refused.retry_after_s <= 0.5
    assert refused.http_status == 429 and refused.retry_after_header() == "1"
    # The rich status a gRPC client decodes from grpc-status-details-bin.
    (key, value), *_ = refused.grpc_status().trailing_metadata
    assert key == "grpc-status-details-bin"
    decoded = status_pb2.Status.FromString(value)
    assert decoded.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    retry = error_details_pb2.RetryInfo()
    assert decoded.details[0].Unpack(retry)
    assert 0 < retry.retry_delay.ToTimedelta().total_seconds() <= 0.5


async def test_a_batch_larger_than_the_burst_can_never_pass():
    limiter = MemoryLimiter(rate=1, burst=4, max_streams=1)
    with pytest.raises(Refused) as info:
        await admit(limiter, "acme", 5)
    assert info.value.retry_after_s is None


async def test_streams_are_capped_per_tenant_and_freed_at_the_end():
    limiter = MemoryLimiter(rate=1, burst=1, max_streams=2)
    async with stream_slot(limiter, "acme", 2), stream_slot(limiter, "acme", 2):
        with pytest.raises(Refused) as info:
            async with stream_slot(limiter, "acme", 2):
                pass
        assert info.value.retry_after_s is not None
        async with stream_slot(limiter, "beta", 2):
            pass
    async with stream_slot(limiter, "acme", 2):
        pass


def test_the_deadline_passed_down_is_the_callers_less_the_budget_capped():
    assert downstream_timeout(10.0, 0.05, 30, 120) == pytest.approx(9.95)
    assert downstream_timeout(500.0, 0.05, 30, 120) == 120
    assert downstream_timeout(None, 0.05, 30, 120) == 30
    with pytest.raises(Refused) as info:
        downstream_timeout(0.04, 0.05, 30, 120)
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_http_deadline_header():
    assert http_deadline_s(None) is None
    assert http_deadline_s("1500") == 1.5
    for bad in ("0", "-5", "soon", "nan"):
        with pytest.raises(Refused):
            http_deadline_s(bad)
