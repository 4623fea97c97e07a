"""A batch travels as one message per hop (gateway -> fusion -> each modality service): the
per-call cost of gRPC is paid once per batch, not once per item. What every hop shares:

- `split`: the items of one call, cut into calls whose message stays well under the gRPC
  message limit (VERITAS_MAX_MESSAGE_MB): a batch whose media were fetched on the way can
  grow past what a single message may carry.
- per-item statuses: an item's error is a grpc.StatusCode value and a message, as in
  veritas.v1.BatchItem; `item_error` turns one back into the AioRpcError a single call
  would have raised, so every hop maps it with the code that maps single calls.
- field names: an item's bad input is named `requests[i].<field>`, `i` its place in the
  message that carried it; `unprefixed` takes that off again where the item moves into
  another batch (the caller names it by its own place).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import grpc

from veritas.analysis import InvalidInput
from veritas.config import env

T = TypeVar("T")
# Most items one call between the services may carry (the gateway's own limit is lower).
MAX_ITEMS = 256
# A share of the message limit: room for the message's own framing and for what a hop adds.
LIMIT_SHARE = 0.75
CODES: dict[int, grpc.StatusCode] = {c.value[0]: c for c in grpc.StatusCode}


def check_count(count: int, most: int = MAX_ITEMS) -> None:
    """A batch of `count` items is one to analyse: not empty, at most `most` items."""
    if not count:
        raise InvalidInput("requests", "empty batch")
    if count > most:
        raise InvalidInput("requests", f"more than {most} items")


def limit_bytes() -> int:
    """The largest batch message a hop sends: 3/4 of VERITAS_MAX_MESSAGE_MB (3 MiB of
    gRPC's default 4 MiB; 48 MiB of the mesh's default 64)."""
    return int(float(env("VERITAS_MAX_MESSAGE_MB")) * 1024 * 1024 * LIMIT_SHARE)


def framed(size: int) -> int:
    """Bytes an element of `size` bytes takes in a repeated message field (tag + length)."""
    return 1 + max(1, (size.bit_length() + 6) // 7) + size


def split(items: Sequence[T], size: Callable[[T], int], limit: int) -> list[list[T]]:
    """`items` in order, in consecutive groups whose framed sizes add up to at most
    `limit`; an item larger than `limit` on its own goes alone. Never an empty group."""
    groups: list[list[T]] = []
    current: list[T] = []
    total = 0
    for item in items:
        n = framed(size(item))
        if current and total + n > limit:
            groups.append(current)
            current, total = [], 0
        current.append(item)
        total += n
    if current:
        groups.append(current)
    return groups


def prefixed(index: int, message: str) -> str:
    """An item's message naming its field by its place in the batch."""
    return f"requests[{index}].{message}"


def unprefixed(index: int, message: str) -> str:
    """`message` without the `requests[index].` a batch hop put in front of it."""
    prefix = f"requests[{index}]."
    return message[len(prefix) :] if message.startswith(prefix) else message


def status_code(value: int) -> grpc.StatusCode:
    """The grpc.StatusCode of an item's `error_code` (UNKNOWN for a value grpc has not)."""
    return CODES.get(value, grpc.StatusCode.UNKNOWN)


def item_error(code: int, message: str) -> grpc.aio.AioRpcError:
    """A batch item's error as the error a single call with that status raises."""
    return grpc.aio.AioRpcError(
        status_code(code), grpc.aio.Metadata(), grpc.aio.Metadata(), details=message
    )
