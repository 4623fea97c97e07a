"""A batch item's error from fusion, as the caller sees it: mapped as Analyze maps fusion's
error (gateway.errors.from_backend), bad input named by the item's place in the caller's
batch rather than by its place in the FuseBatch message (cache hits leave gaps)."""

from __future__ import annotations

import grpc

from gateway.core import item_refusal, refused_item
from veritas import batching, refs


def test_bad_input_is_named_by_the_callers_index() -> None:
    # Fusion saw the caller's item 5 as its item 2 (items 0-4 had other fates).
    error = batching.item_error(
        grpc.StatusCode.INVALID_ARGUMENT.value[0], "requests[2].audio: not a WAV file"
    )
    refused = item_refusal(5, 2, error)
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.message == "requests[5].audio: not a WAV file"
    item = refused_item(refused)
    assert item.error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert item.error_message == refused.message and not item.HasField("result")


def test_a_whole_call_error_is_each_items_in_plain_words() -> None:
    down = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        "failed to connect to all addresses; last error: ipv4:127.0.0.1:50052",
    )
    refused = item_refusal(3, None, down)
    assert refused.code == grpc.StatusCode.UNAVAILABLE
    assert refused.message.startswith("the analysis service is unavailable; retry later (ref ")
    assert not refs.leaks(refused.message)
    invalid = grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT, grpc.aio.Metadata(), grpc.aio.Metadata(), "video.uri: no"
    )
    assert item_refusal(3, None, invalid).message == "requests[3].video.uri: no"


def test_words_not_written_for_the_caller_are_replaced() -> None:
    error = batching.item_error(grpc.StatusCode.INTERNAL.value[0], "KeyError: 'x' in fusion.py")
    refused = item_refusal(0, 0, error)
    assert refused.code == grpc.StatusCode.INTERNAL
    assert "KeyError" not in refused.message and refs.ref_in(refused.message)
