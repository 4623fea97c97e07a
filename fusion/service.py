"""Fusion: fan out to the modality services at once, consume their streams as they arrive,
fuse what has arrived, and answer by the deadline with whatever there is.

Every modality update produces a progressive AnalysisResult (final=False) about the moment
of that update, fusing each modality's evidence about the same moment (aggregate.py); the
last message is the final result (final=True), in which a modality that did not finish is
TIMED_OUT and one whose service failed is FAILED, with the reason. Bad input reported by any
modality service fails the whole call with INVALID_ARGUMENT: the caller has to fix it. An
unknown strategy is INVALID_ARGUMENT; STACKER with no trained stacker is FAILED_PRECONDITION.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable

import grpc
from opentelemetry import trace

from fusion import batch as fusion_batch
from fusion import media, settle
from fusion.aggregate import Aggregate
from fusion.media import MediaFetcher, MediaUnavailable
from fusion.stacker import TRAIN_HINT, Stacker, StackerError, StackerStore, stacker_path
from veritas import batching, hints, media_uri, modalities, refs
from veritas.analysis import InvalidInput
from veritas.config import env
from veritas.guard import guarded, guarded_call
from veritas.v1 import common_pb2, fusion_pb2_grpc, modality_pb2, modality_pb2_grpc, veritas_pb2

log = logging.getLogger("veritas.fusion")
tracer = trace.get_tracer("veritas.fusion")


def plan(
    request: common_pb2.AnalysisRequest,
) -> tuple[dict[int, modality_pb2.ModalityRequest], dict[int, str]]:
    """Which modality services to call with what, and why the others are skipped. Media
    URIs are checked against the allow-list here (no I/O) and fetched later, each in its
    own modality's task (Fuse), so nothing else waits for them."""
    requested = set(request.options.modalities) or set(modalities.ENUMS)
    calls: dict[int, modality_pb2.ModalityRequest] = {}
    skipped: dict[int, str] = {}
    for m in modalities.MODALITIES:
        if m.enum not in requested:
            skipped[m.enum] = "not requested"
        elif not m.has_input(request):
            skipped[m.enum] = "no input"
        else:
            calls[m.enum] = modality_request(request, m.enum)
    return calls, skipped


def modality_request(
    request: common_pb2.AnalysisRequest, modality: int
) -> modality_pb2.ModalityRequest:
    out = modality_pb2.ModalityRequest(
        request_id=request.request_id,
        subject_id=request.subject_id,
        options=request.options,
        questions=request.questions or request.physiology.markers,
    )
    m = modalities.BY_ENUM[modality]
    given = getattr(request, m.request_field)
    if m.media:  # a URI must be allow-listed (checked here, fetched later)
        media.check(given, m.request_field)
    getattr(out.input, m.input_field).CopyFrom(given)
    if m.has_input(request.baseline):
        baseline = getattr(request.baseline, m.request_field)
        if m.media:
            media.check(baseline, f"baseline.{m.request_field}")
        getattr(out.baseline, m.input_field).CopyFrom(baseline)
    return out


# An error is the modality call's, or its media fetch's: InvalidInput (the caller's URI) or
# MediaUnavailable (the media server is slow or failing).
Event = tuple[
    int,
    modality_pb2.ModalityUpdate | None,
    grpc.aio.AioRpcError | InvalidInput | MediaUnavailable | Exception | None,
]
WAKE = -1  # an Event that only makes the aggregator re-check its deadline
# Live chunks waiting for one modality's stream; when full, routing waits, and gRPC flow
# control pushes back on the client: nothing is buffered without bound.
LIVE_QUEUE = 256


class StrategyUnavailable(Exception):
    """The request asks for a strategy this server cannot run now (FAILED_PRECONDITION)."""


class FusionServicer(fusion_pb2_grpc.FusionServicer):
    def __init__(
        self,
        channels: dict[int, grpc.aio.Channel],
        default_deadline_s: float,
        stackers: StackerStore | None = None,
        fetcher: MediaFetcher | None = None,
    ) -> None:
        self.stubs = {m: modality_pb2_grpc.ModalityAnalyzerStub(c) for m, c in channels.items()}
        # Analyze for a final-only call, as unary: the modality service then sends exactly
        # one update, and a unary call costs both sides less than a stream (veritas.wire).
        self.analyze_final = {
            m: c.unary_unary(
                "/veritas.v1.ModalityAnalyzer/Analyze",
                request_serializer=modality_pb2.ModalityRequest.SerializeToString,
                response_deserializer=modality_pb2.ModalityUpdate.FromString,
                _registered_method=True,  # as the generated stubs: a pre-registered path
            )
            for m, c in channels.items()
        }
        self.default_deadline_s = default_deadline_s
        self.stackers = stackers or StackerStore(stacker_path())
        self.fetcher = fetcher or MediaFetcher()

    def stacker_for(self, options: common_pb2.Options, field: str) -> Stacker | None:
        """The trained stacker when the request asks for STACKER. Raises InvalidInput for an
        unknown strategy, StrategyUnavailable when STACKER has no trained stacker."""
        if options.strategy not in common_pb2.FusionStrategy.values():
            raise InvalidInput(f"{field}.strategy", f"unknown fusion strategy {options.strategy}")
        if options.strategy != common_pb2.STACKER:
            return None
        try:
            return self.stackers.get()
        except StackerError as e:  # its words name the stacker's file: to the log
            ref = refs.logged(log, "stacker unavailable", str(e))
            raise StrategyUnavailable(
                refs.with_ref(
                    f"{field}.strategy: STACKER is unavailable: no trained stacker is loaded on "
                    f"this server; choose another strategy (an operator can {TRAIN_HINT})",
                    ref,
                )
            ) from e

    def budget(self, options: common_pb2.Options, context: grpc.aio.ServicerContext) -> float:
        """Seconds left to answer: the tightest of the gRPC deadline, the request's own
        deadline and the default, less a margin to send the answer."""
        limits = [self.default_deadline_s]
        if context.time_remaining() is not None:
            limits.append(context.time_remaining())
        if options.deadline_ms:
            limits.append(options.deadline_ms / 1000)
        budget = min(limits)
        return max(0.0, budget - min(0.25, 0.1 * budget))

    async def _aggregate(
        self,
        agg: Aggregate,
        events: asyncio.Queue[Event],
        context: grpc.aio.ServicerContext,
        deadline: Callable[[], float],
        inputs_open: asyncio.Event,
        progressive: bool = True,
    ) -> AsyncIterator[common_pb2.AnalysisResult]:
        """Turn modality events into progressive results until every modality finished
        (and no more input can open another one) or the deadline passes."""
        loop = asyncio.get_running_loop()
        while agg.running or inputs_open.is_set():
            timeout = deadline() - loop.time()
            if timeout <= 0:
                break
            try:  # an event already queued needs no wait (nor wait_for's task and timer)
                modality, update, error = events.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    modality, update, error = await asyncio.wait_for(events.get(), timeout)
                except TimeoutError:
                    break
            if modality == WAKE:
                continue
            if update is None and error is None and modality in agg.finished:
                continue  # the stream closed after its final result: nothing new
            refused = settle.record(agg, modality, update, error)
            if refused is not None:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, refused)
            if progressive:  # a final-only caller would discard it: not built at all
                yield agg.result(final=False)
        settle.expire(agg)

    async def Fuse(
        self, request: common_pb2.AnalysisRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[common_pb2.AnalysisResult]:
        """`_fuse` behind the safety net (veritas.guard)."""
        results = self._fuse(request, context)
        message = "fusion could not analyse this request (an internal error)"
        async for result in guarded(results, context, log, message, request_id=request.request_id):
            yield result

    async def FuseBatch(
        self, request: veritas_pb2.AnalyzeBatchRequest, context: grpc.aio.ServicerContext
    ) -> veritas_pb2.AnalyzeBatchResponse:
        """`_fuse_batch` behind the safety net (veritas.guard)."""
        message = "fusion could not analyse this batch (an internal error)"
        return await guarded_call(self._fuse_batch(request, context), context, log, message)

    async def _fuse_batch(
        self, request: veritas_pb2.AnalyzeBatchRequest, context: grpc.aio.ServicerContext
    ) -> veritas_pb2.AnalyzeBatchResponse:
        """Final results of independent requests: each planned and answered as a final-only
        Fuse would be, the modality calls of all of them as one AnalyzeBatch call per
        modality (cut by size), all modalities at once, each item within its own budget."""
        batching.check_count(len(request.requests))
        loop = asyncio.get_running_loop()
        now = loop.time()
        with tracer.start_as_current_span("fusion.plan"):
            items = [self._plan_item(j, r, context, now) for j, r in enumerate(request.requests)]
        needing: dict[int, list[fusion_batch.Item]] = {}
        for item in items:
            for m in item.calls:
                needing.setdefault(m, []).append(item)
        tenant = media.caller(context)
        tasks = [
            asyncio.create_task(self._modality_batch(m, group, tenant))
            for m, group in needing.items()
        ]
        try:
            if tasks:
                last = max(item.deadline for item in items)
                await asyncio.wait(tasks, timeout=max(0.0, last - loop.time()))
        finally:
            for task in tasks:
                task.cancel()
        return veritas_pb2.AnalyzeBatchResponse(items=[item.answer() for item in items])

    def _plan_item(
        self,
        index: int,
        request: common_pb2.AnalysisRequest,
        context: grpc.aio.ServicerContext,
        now: float,
    ) -> fusion_batch.Item:
        """One batch item planned as `_fuse` plans a request; its problem its own refusal."""
        item = fusion_batch.Item(index, now + self.budget(request.options, context))
        request_id = request.request_id or uuid.uuid4().hex
        try:
            stacker = self.stacker_for(request.options, "options")
            calls, skipped = plan(request)
        except InvalidInput as e:
            item.refuse(grpc.StatusCode.INVALID_ARGUMENT, str(e))
            return item
        except StrategyUnavailable as e:
            item.refuse(grpc.StatusCode.FAILED_PRECONDITION, str(e))
            return item
        item.agg = Aggregate(request_id, request.options, stacker)
        for m, reason in skipped.items():
            item.agg.skip(m, reason)
        for m, call in calls.items():
            call.request_id = request_id
            item.agg.open(m)
        item.calls = calls
        return item

    async def _modality_batch(
        self, modality: int, items: list[fusion_batch.Item], tenant: str
    ) -> None:
        """One modality's part of a batch: each item's media fetched (as `_consume` does),
        then the items in as few AnalyzeBatch calls as the message size allows, at once."""
        loop = asyncio.get_running_loop()
        field = modalities.BY_ENUM[modality].request_field

        async def fetched(item: fusion_batch.Item) -> bool:
            request = item.calls[modality]
            if not media.needs_fetch(request):
                return True
            timeout = item.deadline - loop.time()
            try:  # leave the modality a little of the budget to report what it has
                await self.fetcher.fill(request, field, tenant, timeout - min(0.5, 0.1 * timeout))
            except Exception as e:  # noqa: BLE001 (the caller's URI, the media server, a bug)
                item.deliver(modality, None, e, loop.time())
                return False
            return True

        ready = [i for i, ok in zip(items, await asyncio.gather(*map(fetched, items))) if ok]
        parts = batching.split(
            ready, lambda i: i.calls[modality].ByteSize(), batching.limit_bytes()
        )
        await asyncio.gather(*(self._modality_call(modality, part, tenant) for part in parts))

    async def _modality_call(
        self, modality: int, items: list[fusion_batch.Item], tenant: str
    ) -> None:
        """One AnalyzeBatch call; each item's outcome delivered to it. The call's own
        failure is every item's, as a failed Analyze call is its request's."""
        loop = asyncio.get_running_loop()
        timeout = max(item.deadline for item in items) - loop.time()
        if timeout <= 0:
            return  # every item's deadline passed (fetching): they time out
        batch = modality_pb2.ModalityBatchRequest(requests=[i.calls[modality] for i in items])
        outcomes: list[fusion_batch.Outcome]
        try:
            response = await self.stubs[modality].AnalyzeBatch(
                batch, timeout=timeout, metadata=media_uri.tenant_metadata(tenant)
            )
            outcomes = fusion_batch.outcomes(response, len(items))
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return  # past the deadline: TIMED_OUT, as Fuse says it
            outcomes = [(None, e)] * len(items)
        except Exception as e:  # noqa: BLE001 (a bug: every item's modality FAILED, logged)
            outcomes = [(None, e)] * len(items)
        now = loop.time()
        for item, (update, error) in zip(items, outcomes):
            item.deliver(modality, update, error, now)
            if update is not None:
                item.deliver(modality, None, None, now)  # the call's end, as in `_consume`

    async def FuseLive(
        self,
        request_iterator: AsyncIterator[common_pb2.LiveChunk],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[common_pb2.AnalysisResult]:
        """`_fuse_live` behind the safety net (veritas.guard)."""
        message = "fusion could not analyse this stream (an internal error)"
        async for result in guarded(
            self._fuse_live(request_iterator, context), context, log, message
        ):
            yield result

    async def _fuse(
        self, request: common_pb2.AnalysisRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[common_pb2.AnalysisResult]:
        request_id = request.request_id or uuid.uuid4().hex
        try:
            stacker = self.stacker_for(request.options, "options")
            with tracer.start_as_current_span("fusion.plan"):
                calls, skipped = plan(request)  # no I/O: media are fetched per modality
        except InvalidInput as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        except StrategyUnavailable as e:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(e))
        agg = Aggregate(request_id, request.options, stacker)
        budget = self.budget(request.options, context)
        deadline = asyncio.get_running_loop().time() + budget
        for m, reason in skipped.items():
            agg.skip(m, reason)
        events: asyncio.Queue[Event] = asyncio.Queue()
        tasks: dict[int, asyncio.Task[None]] = {}
        tenant = media.caller(context)
        final_only = hints.final_only(context)
        for m, call in calls.items():
            call.request_id = request_id
            agg.open(m)
            tasks[m] = asyncio.create_task(
                self._consume(m, call, budget, events, tenant, final_only)
            )
        no_more_inputs = asyncio.Event()
        try:
            async for progressive in self._aggregate(
                agg, events, context, lambda: deadline, no_more_inputs, not final_only
            ):
                yield progressive
        finally:
            # Cancel the modality calls still running. One that sent its final result ends
            # on its own a moment later (its call has a deadline): cancelling it would only
            # cost both sides a cancellation.
            for m, t in tasks.items():
                if m not in agg.finished or agg.state[m].status in (
                    common_pb2.FAILED,
                    common_pb2.TIMED_OUT,
                ):
                    t.cancel()
        yield settle.final(agg)

    async def _consume(
        self,
        modality: int,
        request: modality_pb2.ModalityRequest,
        timeout: float,
        events: asyncio.Queue[Event],
        tenant: str = "",
        final_only: bool = False,
    ) -> None:
        try:
            if media.needs_fetch(request):
                # Leave the modality a little of the budget to report what it has.
                loop = asyncio.get_running_loop()
                started = loop.time()
                fetch_s = timeout - min(0.5, 0.1 * timeout)
                field = modalities.BY_ENUM[modality].request_field
                await self.fetcher.fill(request, field, tenant, fetch_s)
                timeout -= loop.time() - started
            # Whose request (the modality services scope their feature caches by it), and
            # whether only the final result is read.
            metadata = media_uri.tenant_metadata(tenant) + (
                hints.FINAL_ONLY_METADATA if final_only else ()
            )
            if final_only:
                update = await self.analyze_final[modality](
                    request, timeout=timeout, metadata=metadata
                )
                if update.ByteSize():  # empty: the service sent no update (veritas.wire)
                    await events.put((modality, update, None))
            else:
                async for update in self.stubs[modality].Analyze(
                    request, timeout=timeout, metadata=metadata
                ):
                    await events.put((modality, update, None))
            await events.put((modality, None, None))
        except Exception as e:  # noqa: BLE001 (a call, fetch or input error, or a bug)
            await events.put((modality, None, e))

    async def _fuse_live(
        self,
        request_iterator: AsyncIterator[common_pb2.LiveChunk],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[common_pb2.AnalysisResult]:
        """Route live chunks to each modality's live stream as they come; fuse their updates."""
        events: asyncio.Queue[Event] = asyncio.Queue()
        outgoing: dict[int, asyncio.Queue[common_pb2.LiveChunk | None]] = {}
        tasks: list[asyncio.Task[None]] = []
        agg = Aggregate(uuid.uuid4().hex, common_pb2.Options())
        config = common_pb2.StreamConfig()
        reading = asyncio.Event()
        reading.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (context.time_remaining() or 24 * 3600)
        refused: list[tuple[grpc.StatusCode, str]] = []

        async def route() -> None:
            nonlocal config, deadline
            try:
                async for chunk in request_iterator:
                    kind = chunk.WhichOneof("payload")
                    if kind == "config":
                        config = chunk.config
                        agg.request_id = config.request_id or agg.request_id
                        agg.options = config.options
                        try:
                            agg.stacker = self.stacker_for(config.options, "config.options")
                        except InvalidInput as e:
                            refused.append((grpc.StatusCode.INVALID_ARGUMENT, str(e)))
                            return
                        except StrategyUnavailable as e:
                            refused.append((grpc.StatusCode.FAILED_PRECONDITION, str(e)))
                            return
                        continue
                    if kind == "question":
                        # Modalities that open later get it in their config; those open
                        # now that use questions (modalities.py) get it as it comes.
                        config.questions.append(chunk.question)
                        for m in modalities.MODALITIES:
                            if m.questions and m.enum in outgoing:
                                await outgoing[m.enum].put(chunk)
                        continue
                    row = modalities.BY_CHUNK.get(kind or "")
                    if row is None:
                        continue
                    modality = int(row.enum)
                    if modality not in outgoing:
                        outgoing[modality] = asyncio.Queue(LIVE_QUEUE)
                        await outgoing[modality].put(common_pb2.LiveChunk(config=config))
                        agg.open(modality)
                        tasks.append(
                            asyncio.create_task(
                                self._consume_live(modality, outgoing[modality], events)
                            )
                        )
                    await outgoing[modality].put(chunk)
            finally:
                for q in outgoing.values():
                    await q.put(None)
                # After the last input, finals are due within the normal budget.
                deadline = min(deadline, loop.time() + self.budget(config.options, context))
                reading.clear()
                await events.put((WAKE, None, None))

        router = asyncio.create_task(route())
        try:
            async for progressive in self._aggregate(
                agg, events, context, lambda: deadline, reading
            ):
                yield progressive
        finally:
            router.cancel()
            for t in tasks:
                t.cancel()
        if refused:
            await context.abort(*refused[0])
        if not agg.state:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "stream: no input chunks")
        yield agg.result(final=True)

    async def _consume_live(
        self,
        modality: int,
        outgoing: asyncio.Queue[common_pb2.LiveChunk | None],
        events: asyncio.Queue[Event],
    ) -> None:
        async def chunks() -> AsyncIterator[common_pb2.LiveChunk]:
            while (chunk := await outgoing.get()) is not None:
                yield chunk

        try:
            async for update in self.stubs[modality].AnalyzeLive(chunks()):
                await events.put((modality, update, None))
            await events.put((modality, None, None))
        except Exception as e:  # noqa: BLE001 (AioRpcError, or a bug: reported, not lost)
            await events.put((modality, None, e))


def build_channels() -> dict[int, grpc.aio.Channel]:
    from veritas import tls
    from veritas.config import channel_options, service_address
    from veritas.grpc_tracing import client_interceptors

    return {
        m.enum: tls.channel(
            service_address(m.name),
            options=channel_options(),
            interceptors=client_interceptors(),
        )
        for m in modalities.MODALITIES
    }


def default_deadline_s() -> float:
    return float(env("VERITAS_DEFAULT_DEADLINE_S"))
