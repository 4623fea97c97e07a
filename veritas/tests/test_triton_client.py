"""The Triton client never cuts a call to Triton short (triton_client.NEVER_CANCEL): a
caller stops waiting at its own deadline, but the call runs under the client's whole
timeout and finishes, even when the client closes. A fake stands in for tritonclient's
channel here; test_supervision.py sends the same calls to the real server."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from veritas.triton_client import ModelSpec, TritonClient, TritonUnavailable

SPEC = ModelSpec(
    name="m",
    version="1",
    feature_names=("a", "b"),
    contribution_names=("a", "b"),
    calibrated=False,
    card="",
    validated_auc=0.5,
    has_text_input=False,
)


class Result:
    def __init__(self, rows: int) -> None:
        self.rows = rows

    def as_numpy(self, name: str) -> npt.NDArray[np.float32]:
        width = 1 if name == "probability" else 2
        return np.full((self.rows, width), 0.25, dtype=np.float32)


class SlowTriton:
    """Answers after `delay_s`; records each call's timeout and whether it was cancelled."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.timeouts: list[float] = []
        self.finished = 0
        self.cancelled = 0
        self.closed = False

    async def infer(self, model: str, inputs: list[Any], **kw: Any) -> Result:
        self.timeouts.append(kw["client_timeout"])
        try:
            await asyncio.sleep(self.delay_s)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.finished += 1
        return Result(inputs[0].shape()[0])

    async def close(self) -> None:
        self.closed = True


def client_with(fake: SlowTriton, timeout_s: float = 5.0) -> TritonClient:
    client = TritonClient("127.0.0.1:1", timeout_s)
    client._client = fake
    return client


async def test_a_caller_with_a_short_deadline_stops_waiting_but_the_call_finishes() -> None:
    fake = SlowTriton(delay_s=0.2)
    client = client_with(fake)
    with pytest.raises(TritonUnavailable, match="no answer within 0.01 s"):
        await client.predict(SPEC, np.zeros(2, np.float32), timeout_s=0.01)
    assert fake.timeouts == [5.0]  # the client's timeout, not the caller's 10 ms
    await asyncio.sleep(0.3)
    assert (fake.finished, fake.cancelled) == (1, 0)
    await client.close()


async def test_close_lets_the_calls_in_flight_finish() -> None:
    fake = SlowTriton(delay_s=0.2)
    client = client_with(fake)
    waiting = asyncio.ensure_future(client.predict(SPEC, np.zeros(2, np.float32)))
    await asyncio.sleep(0.05)  # the call is in flight
    await client.close()
    assert (fake.finished, fake.cancelled, fake.closed) == (1, 0, True)
    assert (await waiting).probability == pytest.approx(0.25)


async def test_rows_waiting_together_get_one_call_under_the_clients_timeout() -> None:
    fake = SlowTriton(delay_s=0.01)
    client = client_with(fake, timeout_s=2.0)
    answers = await asyncio.gather(
        *(client.predict(SPEC, np.full(2, i), timeout_s=0.5 + i) for i in range(3))
    )
    assert [a.probability for a in answers] == pytest.approx([0.25] * 3)
    assert fake.timeouts == [2.0]
    await client.close()
