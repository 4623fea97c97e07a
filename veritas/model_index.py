"""Which model versions Triton serves now, read from its repository index.

Two readers need it: a modality service's Triton client (to notice a new version of its
model and re-read the model's contract) and the gateway's result cache (an answer scored by
a version Triton no longer serves is never sent from the cache). Both ask `fresh()`, which
returns an index read that *started after the call*: a version Triton reported READY before
the call began is always seen. Concurrent callers share reads (at most one in flight and
one queued behind it), so a burst of callers costs Triton two index calls, not one each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Versions = dict[str, str]  # model name -> highest READY version


def ready_versions(index: Mapping[str, Any]) -> Versions:
    """{model: its highest READY version} from Triton's index (`as_json=True` form)."""
    out: dict[str, tuple[int, str]] = {}
    for m in index.get("models", []):
        name, version = m.get("name", ""), str(m.get("version", ""))
        if not name or m.get("state") != "READY":
            continue
        rank = int(version) if version.isdigit() else -1
        if name not in out or rank > out[name][0]:
            out[name] = (rank, version)
    return {name: v for name, (_, v) in out.items()}


def index_entries(response: Any) -> dict[str, Any]:
    """Triton's RepositoryIndexResponse (protobuf) in the `as_json` shape, without the cost
    of a JSON round trip: only the fields `ready_versions` reads."""
    return {
        "models": [
            {"name": m.name, "version": m.version, "state": m.state} for m in response.models
        ]
    }


class ModelIndex:
    """Fresh reads of Triton's READY versions, shared between concurrent callers."""

    def __init__(self, read: Callable[[], Awaitable[Mapping[str, Any]]]) -> None:
        self._read = read  # one index call (raises when Triton cannot answer)
        self._running: asyncio.Future[Versions] | None = None
        self._queued: asyncio.Future[Versions] | None = None
        self.last: Versions | None = None  # the latest successful read
        self.read_at = 0.0  # time.monotonic() of its start

    async def fresh(self) -> Versions:
        """An index read that started after this call (shared with concurrent callers)."""
        if self._running is None:
            return await asyncio.shield(self._start())
        if self._queued is None:  # the running read may predate us: wait for the next
            self._queued = asyncio.get_running_loop().create_future()
        return await asyncio.shield(self._queued)

    async def recent(self, max_age_s: float) -> Versions:
        """The last read when it started at most `max_age_s` ago, else a fresh one."""
        if self.last is not None and time.monotonic() - self.read_at <= max_age_s:
            return self.last
        return await self.fresh()

    def _start(self) -> asyncio.Future[Versions]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Versions] = loop.create_future()
        self._running = future
        loop.create_task(self._run(future))
        return future

    async def _run(self, future: asyncio.Future[Versions]) -> None:
        started = time.monotonic()
        try:
            versions = ready_versions(await self._read())
        except BaseException as e:  # noqa: BLE001 - handed to every waiting caller
            future.set_exception(e)
            future.exception()  # retrieved: a read nobody awaits any more is not an error
        else:
            self.last, self.read_at = versions, started
            future.set_result(versions)
        finally:
            self._running = None
            queued, self._queued = self._queued, None
            if queued is not None:  # callers that arrived during this read: one more read
                nxt = self._start()
                nxt.add_done_callback(lambda f: _copy(f, queued))


def _copy(source: asyncio.Future[Versions], target: asyncio.Future[Versions]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())  # type: ignore[arg-type]
        target.exception()
    else:
        target.set_result(source.result())
