"""A batch's hops: cut by message size, items' statuses and field names carried over."""

from __future__ import annotations

import grpc
import pytest

from veritas import batching
from veritas.v1 import common_pb2, veritas_pb2


def test_groups_keep_order_and_stay_within_the_limit() -> None:
    sizes = [40, 30, 20, 50, 10, 10, 60]
    limit = 100
    groups = batching.split(list(range(len(sizes))), lambda i: sizes[i], limit)
    assert [i for g in groups for i in g] == list(range(len(sizes)))  # every item, in order
    assert all(g for g in groups)
    for group in groups:
        assert sum(batching.framed(sizes[i]) for i in group) <= limit
    # Greedy: a group ends only where the next item would not fit.
    for group, following in zip(groups, groups[1:]):
        total = sum(batching.framed(sizes[i]) for i in group)
        assert total + batching.framed(sizes[following[0]]) > limit


def test_an_item_larger_than_the_limit_goes_alone() -> None:
    sizes = {"a": 10, "big": 500, "b": 10, "c": 10}
    groups = batching.split(list(sizes), sizes.__getitem__, 100)
    assert groups == [["a"], ["big"], ["b", "c"]]
    assert batching.split([], len, 100) == []


def test_framed_sizes_are_what_protobuf_serialises() -> None:
    """The split adds up what the repeated field really takes on the wire."""
    for n in (0, 1, 126, 127, 128, 20_000, 3_000_000):
        item = common_pb2.AnalysisRequest(request_id="x" * n)
        batch = veritas_pb2.AnalyzeBatchRequest(requests=[item, item])
        assert batch.ByteSize() == 2 * batching.framed(item.ByteSize())


def test_the_limit_is_three_quarters_of_the_message_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERITAS_MAX_MESSAGE_MB", "4")
    assert batching.limit_bytes() == 3 * 1024 * 1024


def test_field_prefixes_come_off_only_for_their_own_item() -> None:
    message = batching.prefixed(3, "audio: not audio")
    assert message == "requests[3].audio: not audio"
    assert batching.unprefixed(3, message) == "audio: not audio"
    assert batching.unprefixed(4, message) == message
    assert batching.unprefixed(3, "audio: x") == "audio: x"


def test_an_item_error_is_the_error_of_a_call_with_its_status() -> None:
    error = batching.item_error(grpc.StatusCode.UNAVAILABLE.value[0], "down (ref 0123abcd)")
    assert isinstance(error, grpc.aio.AioRpcError)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == "down (ref 0123abcd)"
    assert batching.status_code(999) == grpc.StatusCode.UNKNOWN
