"""The last line of defence around a streaming gRPC handler.

Bad input (an `InvalidInput` raised anywhere in the handler, a worker thread included) is
INVALID_ARGUMENT naming the field; a `known` dependency failure (e.g. Triton's) gets its
status and a plain message, its details logged under a reference. An exception nobody
expected becomes INTERNAL with a plain message and a reference (`x-veritas-ref` in the
trailing metadata too), its traceback logged once under that reference: never grpc's UNKNOWN
with the exception's class name, and never a traceback per call from grpc's own handler.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import aclosing
from typing import Any, TypeVar

import grpc

from veritas import refs
from veritas.analysis import InvalidInput

T = TypeVar("T")


# An exception type the handler knows but did not catch where it arose (a dependency that
# failed deep in a worker thread), and the status and plain message it means.
Known = Mapping[type[BaseException], tuple[grpc.StatusCode, str]]


async def guarded(
    responses: AsyncIterator[T],
    context: grpc.aio.ServicerContext,
    log: logging.Logger,
    message: str,
    known: Known | None = None,
    **fields: Any,
) -> AsyncIterator[T]:
    """`responses`, with late bad input as INVALID_ARGUMENT, a `known` failure as its status
    (its details logged under a reference), and anything else as INTERNAL (`message` + a
    reference)."""
    try:
        async with aclosing(responses) as stream:  # type: ignore[type-var]
            async for response in stream:
                yield response
    except grpc.aio.AbortError:
        raise  # the handler chose its status
    except Exception as e:  # noqa: BLE001 (the safety net: reported, not swallowed)
        await _abort(context, status_of(e, log, message, known, **fields))


async def guarded_call(
    answer: Awaitable[T],
    context: grpc.aio.ServicerContext,
    log: logging.Logger,
    message: str,
    known: Known | None = None,
    **fields: Any,
) -> T:
    """`guarded` for a unary handler's answer."""
    try:
        return await answer
    except grpc.aio.AbortError:
        raise  # the handler chose its status
    except Exception as e:  # noqa: BLE001 (the safety net: reported, not swallowed)
        await _abort(context, status_of(e, log, message, known, **fields))
    raise AssertionError("unreachable")


def status_of(
    error: Exception,
    log: logging.Logger,
    message: str,
    known: Known | None = None,
    **fields: Any,
) -> tuple[grpc.StatusCode, str, str | None]:
    """The status, plain message and reference (None for bad input) that `guarded` answers
    `error` with, its details logged under the reference: for a call, or for one item of a
    batch, which fails on its own."""
    if isinstance(error, InvalidInput):
        return grpc.StatusCode.INVALID_ARGUMENT, str(error), None
    for kind, (code, plain) in (known or {}).items():
        if isinstance(error, kind):
            ref = refs.logged(log, "dependency failed", str(error), code=code.name, **fields)
            return code, refs.with_ref(plain, ref), ref
    ref = refs.logged_bug(log, error, **fields)
    return grpc.StatusCode.INTERNAL, refs.with_ref(message, ref), ref


async def _abort(
    context: grpc.aio.ServicerContext, status: tuple[grpc.StatusCode, str, str | None]
) -> None:
    code, text, ref = status
    metadata = ((refs.REF_METADATA, ref),) if ref else ()
    await context.abort(code, text, trailing_metadata=metadata)
