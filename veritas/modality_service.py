"""The servicer every modality service runs: the science (an `Analyzer`) on the wire.

Flow of one Analyze call:
  prepare (validate + decode, in a worker thread)  -> INVALID_ARGUMENT on bad input
  windows (feature extraction, in a worker thread) -> each window scored by Triton as it
  arrives and streamed as an update -> the whole-input summary scored and sent as final.
Triton down or slow -> UNAVAILABLE / DEADLINE_EXCEEDED promptly; fusion degrades the answer.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic

import grpc
import numpy as np
import numpy.typing as npt
from opentelemetry import trace

from veritas import batching, cache, hints, live, media_uri, refs
from veritas.analysis import Analyzer, Prepared, Window
from veritas.analysis_pool import AnalysisPool, measure_whole, processes_for
from veritas.config import ServiceConfig, env
from veritas.guard import Known, guarded, guarded_call, status_of
from veritas.health import Dependencies
from veritas.modalities import BY_ENUM, chunk_time, name_of
from veritas.options import check_options
from veritas.questions import check_questions
from veritas.server import Cleanup, Register
from veritas.triton_client import (
    ModelSpec,
    Prediction,
    TritonClient,
    TritonModelError,
    TritonUnavailable,
)
from veritas.v1 import common_pb2, modality_pb2, modality_pb2_grpc

log = logging.getLogger("veritas.modality")
tracer = trace.get_tracer("veritas.modality")

_DONE = object()
UNCALIBRATED_NOTE = "uncalibrated for this input (see the model card): a score, never a verdict"
# What a caller is told when Triton fails (the address and Triton's words go to the log).
MODEL_SERVER_DOWN = (
    "the model server is unavailable; this modality reports not ready until it is back"
)
MODEL_FAILED = "the model could not score this input"
# How the guard (veritas.guard) answers a Triton failure, wherever it arose: scoring, or
# measuring (vision's face models run on Triton too). Bad input (InvalidInput) raised anywhere
# in a handler, worker threads included, is the guard's INVALID_ARGUMENT naming the field.
TRITON_FAILURES: Known = {
    TritonUnavailable: (grpc.StatusCode.UNAVAILABLE, MODEL_SERVER_DOWN),
    TritonModelError: (grpc.StatusCode.INTERNAL, MODEL_FAILED),
}


async def _iterate_in_thread(iterator: Iterator[Window]) -> AsyncIterator[Window]:
    """Run a blocking generator in a worker thread, yielding its items as they come. The
    thread wakes the event loop only when it waits for an item: items that come faster
    than they are taken are handed over together, one wake-up for all."""
    loop = asyncio.get_running_loop()
    items: collections.deque[Any] = collections.deque()
    ready = asyncio.Event()
    waiting = [False]  # the consumer sleeps on `ready`: wake it (read under the GIL)
    context = trace.set_span_in_context(trace.get_current_span())

    def wake() -> None:
        ready.set()

    def put(item: Any) -> None:
        items.append(item)
        if waiting[0]:
            waiting[0] = False
            loop.call_soon_threadsafe(wake)

    def pump() -> None:
        from opentelemetry import context as otel_context

        token = otel_context.attach(context)
        try:
            for item in iterator:
                put(item)
        except BaseException as e:  # delivered to the consumer, raised there
            put(e)
        finally:
            put(_DONE)
            otel_context.detach(token)

    loop.run_in_executor(None, pump)
    while True:
        if not items:
            ready.clear()
            waiting[0] = True
            if not items:  # the pump may have added one before it saw `waiting`
                await ready.wait()
            waiting[0] = False
        item = items.popleft()
        if item is _DONE:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


async def _aiter(iterator: Iterator[Window]) -> AsyncIterator[Window]:
    for item in iterator:
        yield item


def feature_vector(window: Window, spec: ModelSpec) -> tuple[npt.NDArray[np.float32], list[str]]:
    """The model's inputs in its declared order, and the names that could not be measured."""
    values = np.array(
        [window.features.get(name, math.nan) for name in spec.feature_names], dtype=np.float64
    )
    missing = [n for n, v in zip(spec.feature_names, values) if not math.isfinite(v)]
    return values.astype(np.float32), missing


def build_result(
    modality: common_pb2.Modality,
    window: Window,
    spec: ModelSpec,
    prediction: Prediction | None,
    started: float,
) -> common_pb2.ModalityResult:
    """One ModalityResult: score, confidence, every feature with its signed contribution."""
    contributions = prediction.contributions if prediction else {}
    features = [
        common_pb2.Feature(
            name=name,
            value=value,
            contribution=contributions.get(name, 0.0),
            unit=window.units.get(name, ""),
            baseline_value=window.baseline.get(name, 0.0),
            has_baseline=name in window.baseline,
            spans=[
                common_pb2.TextSpan(start=start, end=end, text=text)
                for start, end, text in window.spans.get(name, ())
            ],
        )
        for name, value in window.features.items()
        if math.isfinite(value)
    ]
    # Model terms that are not raw measurements (e.g. the text model's n-gram evidence).
    features += [
        common_pb2.Feature(name=name, value=c, contribution=c)
        for name, c in contributions.items()
        if name not in window.features
    ]
    features.sort(key=lambda f: abs(f.contribution), reverse=True)
    notes = list(window.notes)
    if spec.caveat:
        notes.append(spec.caveat)
    if not spec.calibrated:
        notes.append(UNCALIBRATED_NOTE)
    result = common_pb2.ModalityResult(
        modality=modality,
        status=common_pb2.OK if prediction else common_pb2.FAILED,
        features=features,
        model=spec.model_info(),
        latency_ms=(time.perf_counter() - started) * 1000,
        window_start_s=window.start_s,
        window_end_s=window.end_s,
        notes=notes,
        events=[
            common_pb2.Event(
                name=e.name,
                onset_s=e.onset_s,
                apex_s=e.apex_s,
                offset_s=e.offset_s,
                magnitude=e.magnitude,
                detail=e.detail,
            )
            for e in window.events
        ],
    )
    if prediction:
        result.score = prediction.probability
        result.confidence = max(0.0, min(1.0, window.quality))
    return result


class Refusal(Exception):
    """A status for a call, or for one item of a batch, that has its own plain message."""

    def __init__(self, code: grpc.StatusCode, message: str, ref: str) -> None:
        super().__init__(message)
        self.code, self.message, self.ref = code, message, ref

    @classmethod
    def logged(cls, code: grpc.StatusCode, message: str, error: Exception) -> Refusal:
        ref = refs.logged(log, "model server call failed", str(error), code=code.name)
        return cls(code, refs.with_ref(message, ref), ref)


def log_analysed(request: modality_pb2.ModalityRequest, started: float) -> None:
    """The line every analysed request leaves: its id and how long it took."""
    ms = round((time.perf_counter() - started) * 1000, 1)
    log.info("analysed", extra={"fields": {"request_id": request.request_id, "ms": ms}})


def batch_concurrency() -> int:
    """AnalyzeBatch items analysed at once per call (VERITAS_MODALITY_BATCH_CONCURRENCY)."""
    return max(1, int(env("VERITAS_MODALITY_BATCH_CONCURRENCY")))


class ModalityServicer(modality_pb2_grpc.ModalityAnalyzerServicer, Generic[Prepared]):
    def __init__(
        self,
        analyzer: Analyzer[Prepared],
        triton: TritonClient,
        pool: AnalysisPool | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.triton = triton
        # Worker processes for final-only calls (veritas.analysis_pool), for an analyzer
        # whose measuring holds the interpreter lock: one such call at a time is measured in
        # a thread here (a worker would add its hop and nothing else); while
        # one is, the others go to the workers, which use the other cores (started the
        # first time that happens).
        self.pool = pool
        self.measuring = 0  # final-only calls being measured in this process's threads
        self.service_name = name_of(analyzer.modality)
        self.max_pending = int(env("VERITAS_LIVE_MAX_PENDING"))
        self.live_streams = 0  # open now: the CPU a stream's step up would share (live.py)
        self.batch_concurrency = batch_concurrency()
        self.climbs = live.Climbs()  # the streams' step ups, one at a time

    async def _spec(self, context: grpc.aio.ServicerContext) -> ModelSpec:
        try:
            return await self._spec_or_refuse()
        except Refusal as e:
            await context.abort(e.code, e.message, trailing_metadata=((refs.REF_METADATA, e.ref),))
        raise AssertionError("unreachable")

    async def _spec_or_refuse(self) -> ModelSpec:
        """The model's contract; Triton's failure a `Refusal` with a plain message and a
        reference (Triton's own words go to the log)."""
        try:
            return await self.triton.spec(self.analyzer.model_name)
        except TritonUnavailable as e:
            raise Refusal.logged(grpc.StatusCode.UNAVAILABLE, MODEL_SERVER_DOWN, e) from e
        except TritonModelError as e:
            message = f"model {self.analyzer.model_name} is not loaded"
            raise Refusal.logged(grpc.StatusCode.FAILED_PRECONDITION, message, e) from e

    async def _score(
        self,
        window: Window,
        spec: ModelSpec,
        context: grpc.aio.ServicerContext,
        started: float,
    ) -> common_pb2.ModalityResult:
        modality = self.analyzer.modality
        if not window.usable:
            result = build_result(modality, window, spec, None, started)
            result.status = common_pb2.FAILED
            result.reason = "; ".join(window.notes) or "nothing measurable in this window"
            return result
        values, missing = feature_vector(window, spec)
        if missing:
            result = build_result(modality, window, spec, None, started)
            result.reason = "could not measure " + ", ".join(missing)
            return result
        remaining = context.time_remaining()
        try:
            prediction = await self.triton.predict(spec, values, window.text, remaining)
        except (TritonUnavailable, TritonModelError) as e:
            # Triton may have moved to a new version of the model (its contract may differ):
            # score once more with that version's contract, else fail the call (the guard
            # answers with TRITON_FAILURES' status).
            newer = await self.triton.newer_spec(spec)
            if newer is None:
                if isinstance(e, TritonModelError):
                    self.triton.forget(spec.name)  # the contract may have changed
                raise
            return await self._score(window, newer, context, started)
        if not math.isfinite(prediction.probability):
            # Finite but extreme inputs can overflow a model's arithmetic: no score, said so.
            result = build_result(modality, window, spec, None, started)
            result.reason = "the model gave no probability for these measurements (out of range)"
            return result
        return build_result(modality, window, spec, prediction, started)

    async def _updates(
        self,
        windows: AsyncIterator[Window],
        spec: ModelSpec,
        context: grpc.aio.ServicerContext,
        started: float,
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        """Windows become updates: each window is scored as soon as it arrives, without
        waiting for the one before (the Triton client batches those that wait together),
        and the updates go out in window order."""
        scored: asyncio.Queue[asyncio.Task[common_pb2.ModalityResult] | BaseException | None]
        scored = asyncio.Queue()
        tasks: list[asyncio.Task[common_pb2.ModalityResult]] = []

        async def feed() -> None:
            try:
                async for window in windows:
                    task = asyncio.create_task(self._score(window, spec, context, started))
                    tasks.append(task)
                    scored.put_nowait(task)
            except Exception as e:  # noqa: BLE001 - raised by the consumer, in order
                scored.put_nowait(e)
                return
            scored.put_nowait(None)

        feeder = asyncio.create_task(feed())
        try:
            while (item := await scored.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield modality_pb2.ModalityUpdate(result=await item)
        finally:
            feeder.cancel()
            for task in tasks:
                task.cancel()
            for done in (feeder, *tasks):
                if done.done() and not done.cancelled():
                    done.exception()  # retrieved: the first failure answers the call

    def _inline(self, request: modality_pb2.ModalityRequest) -> bool:
        """Whether to analyse on the event loop: an analyzer whose work is pure Python and
        small (`inline_max_bytes`, e.g. text) gains nothing from a worker thread but the
        hop and a wait for the interpreter lock."""
        limit = int(getattr(self.analyzer, "inline_max_bytes", 0))
        return limit > 0 and request.input.ByteSize() <= limit

    async def _analyze_final_only(
        self,
        request: modality_pb2.ModalityRequest,
        context: grpc.aio.ServicerContext,
        started: float,
        spec_of: Callable[[], Awaitable[ModelSpec]] | None = None,
    ) -> modality_pb2.ModalityUpdate:
        """The whole-input result alone, for a caller that reads nothing else: windows are
        measured only when the summary is made from them, and never scored or sent.
        `spec_of`: how to get the model's contract (default: abort the call on failure)."""
        if self._inline(request):
            summary = measure_whole(self.analyzer, request)
        elif self.measuring and self.pool is not None and self.pool.ready:
            summary = await self.pool.whole(request)  # two at once here would share one core
        else:  # one hop to a worker thread for all of it (the trace context goes along)
            if self.measuring and self.pool is not None:
                self.pool.start()  # the first time two are measured at once
            self.measuring += 1
            try:
                summary = await asyncio.to_thread(measure_whole, self.analyzer, request)
            finally:
                self.measuring -= 1
        spec = await (spec_of() if spec_of is not None else self._spec(context))
        result = await self._score(summary, spec, context, started)
        return modality_pb2.ModalityUpdate(result=result, final=True)

    async def Analyze(
        self, request: modality_pb2.ModalityRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        """`_analyze` behind the safety net (veritas.guard)."""
        updates = self._analyze(request, context)
        message = f"{self.service_name} could not analyse this input (an internal error)"
        fields = {"request_id": request.request_id}
        async for update in guarded(updates, context, log, message, TRITON_FAILURES, **fields):
            yield update

    async def AnalyzeBatch(
        self, request: modality_pb2.ModalityBatchRequest, context: grpc.aio.ServicerContext
    ) -> modality_pb2.ModalityBatchResponse:
        """`_analyze_batch` behind the safety net (veritas.guard)."""
        message = f"{self.service_name} could not analyse this batch (an internal error)"
        return await guarded_call(self._analyze_batch(request, context), context, log, message)

    async def _analyze_batch(
        self, batch: modality_pb2.ModalityBatchRequest, context: grpc.aio.ServicerContext
    ) -> modality_pb2.ModalityBatchResponse:
        """Each item analysed as a final-only Analyze is, `batch_concurrency` at once (their
        model calls meet in the Triton client's micro-batches); an item's failure is its
        own status, never the call's."""
        batching.check_count(len(batch.requests))
        metadata = context.invocation_metadata()
        cache.CACHE_SCOPE.set(hints.metadata_value(metadata, media_uri.TENANT_METADATA))
        gate = asyncio.Semaphore(self.batch_concurrency)

        async def one(
            i: int, request: modality_pb2.ModalityRequest
        ) -> modality_pb2.ModalityBatchItem:
            async with gate:
                with tracer.start_as_current_span(
                    "modality.batch_item",
                    attributes={"veritas.request_id": request.request_id, "veritas.index": i},
                ):
                    try:
                        update = await self._analyze_one_final(request, context)
                    except Refusal as e:
                        return self._item_error(i, e.code, e.message)
                    except Exception as e:  # noqa: BLE001 (this item's failure alone)
                        message = (
                            f"{self.service_name} could not analyse this input (an internal error)"
                        )
                        code, text, _ = status_of(
                            e, log, message, TRITON_FAILURES, request_id=request.request_id
                        )
                        return self._item_error(i, code, text)
                    return modality_pb2.ModalityBatchItem(update=update)

        items = await asyncio.gather(*(one(i, r) for i, r in enumerate(batch.requests)))
        return modality_pb2.ModalityBatchResponse(items=items)

    @staticmethod
    def _item_error(
        index: int, code: grpc.StatusCode, message: str
    ) -> modality_pb2.ModalityBatchItem:
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            message = batching.prefixed(index, message)
        return modality_pb2.ModalityBatchItem(error_code=code.value[0], error_message=message)

    async def _analyze_one_final(
        self, request: modality_pb2.ModalityRequest, context: grpc.aio.ServicerContext
    ) -> modality_pb2.ModalityUpdate:
        """One batch item: the checks and the final-only path of a unary Analyze; Triton's
        failure to give the contract a `Refusal` (a call would abort with it)."""
        started = time.perf_counter()
        check_options(request.options, "options")
        check_questions(request.questions, "questions")
        update = await self._analyze_final_only(request, context, started, self._spec_or_refuse)
        log_analysed(request, started)
        return update

    async def AnalyzeLive(
        self,
        request_iterator: AsyncIterator[common_pb2.LiveChunk],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        """`_analyze_live` behind the safety net (veritas.guard)."""
        updates = self._analyze_live(request_iterator, context)
        message = f"{self.service_name} could not analyse this stream (an internal error)"
        async for update in guarded(updates, context, log, message, TRITON_FAILURES):
            yield update

    async def _analyze(
        self, request: modality_pb2.ModalityRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        started = time.perf_counter()
        check_options(request.options, "options")  # before any decoding: the gateway's ranges
        check_questions(request.questions, "questions")
        metadata = context.invocation_metadata()
        cache.CACHE_SCOPE.set(hints.metadata_value(metadata, media_uri.TENANT_METADATA))
        if hints.final_only(context):
            yield await self._analyze_final_only(request, context, started)
        else:
            async for update in self._analyze_progressive(request, context, started):
                yield update
        log_analysed(request, started)

    async def _analyze_progressive(
        self,
        request: modality_pb2.ModalityRequest,
        context: grpc.aio.ServicerContext,
        started: float,
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        """An update per window as it is measured, then the whole-input result (final)."""
        inline = self._inline(request)
        with tracer.start_as_current_span("decode"):
            if inline:
                prepared = self.analyzer.prepare(request)
            else:
                prepared = await asyncio.to_thread(self.analyzer.prepare, request)
        spec = await self._spec(context)
        windows: list[Window] = []

        async def collected() -> AsyncIterator[Window]:
            iterator = self.analyzer.windows(prepared, request.options)
            source = _aiter(iterator) if inline else _iterate_in_thread(iterator)
            async for window in source:
                windows.append(window)
                yield window

        with tracer.start_as_current_span("features.windows"):
            async for update in self._updates(collected(), spec, context, started):
                yield update
        with tracer.start_as_current_span("features.summary"):
            if inline:
                summary = self.analyzer.summarize(prepared, windows)
            else:
                summary = await asyncio.to_thread(self.analyzer.summarize, prepared, windows)
        result = await self._score(summary, spec, context, started)
        yield modality_pb2.ModalityUpdate(result=result, final=True)

    async def _analyze_live(
        self,
        request_iterator: AsyncIterator[common_pb2.LiveChunk],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        """Analyse a live stream as it arrives, at constant cost per window.

        A receiver task queues chunks as they come; this task takes everything queued at
        once, picks the video frames to analyse (evenly, at the quality's rate, sparser
        while behind), hands the batch to the stream's `LiveSession` in a worker thread
        (each chunk measured once), and sends an update for every window that closed. The
        quality controller sees how late each update was. At the end of the input, the
        remaining windows and the whole-input result (from running summaries) are sent.
        """
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        iterator = aiter(request_iterator)
        try:
            first = await anext(iterator)
        except StopAsyncIteration:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "stream: no input chunks for this modality"
            )
        config = first.config if first.HasField("config") else common_pb2.StreamConfig()
        check_options(config.options, "config.options")  # the gateway's ranges, as in Analyze
        check_questions(config.questions, "config.questions")
        with tracer.start_as_current_span("live.open"):
            session = await asyncio.to_thread(self.analyzer.open_live, config)
        spec = await self._spec(context)
        service = self.service_name
        own_kind = BY_ENUM[self.analyzer.modality].chunk_kind  # what a thinnable stream thins
        controller = live.QualityController(
            config.options.quality,
            live.target_s(config.options),
            # A thinnable session's cost per level is its frame rate (the rest: live's guess).
            cost=session.max_rate_hz if session.thinnable else None,
            climbs=self.climbs,
        )
        session.set_quality(controller.level)
        pacer, cpu = live.Pacer(), live.CpuMeter()
        pending: collections.deque[tuple[float, common_pb2.LiveChunk]] = collections.deque()
        arrived = asyncio.Event()
        state = {"done": False, "overrun": ""}
        if not first.HasField("config"):
            pending.append((loop.time(), first))

        async def receive() -> None:
            try:
                async for chunk in iterator:
                    if chunk.HasField("config"):
                        continue
                    if len(pending) >= self.max_pending:
                        state["overrun"] = (
                            f"stream: more than {self.max_pending} chunks waiting to be "
                            "analysed even after skipping frames; send more slowly "
                            "(lower the frame rate or the resolution)"
                        )
                        break
                    pending.append((loop.time(), chunk))
                    arrived.set()
            finally:
                state["done"] = True
                arrived.set()

        def process(
            batch: list[tuple[float, float, common_pb2.LiveChunk, bool]], until_s: float
        ) -> list[Window]:
            for _, _, chunk, take in batch:
                if chunk.HasField("question"):
                    session.add_question(chunk.question)
                elif take:
                    session.add(chunk)
                else:
                    session.skip(chunk)
            return session.close_until(until_s)

        def outcome(update: modality_pb2.ModalityUpdate) -> str:
            return "skipped" if update.result.status == common_pb2.SKIPPED else "on_time"

        skipped = live.SKIPPED.labels(service)
        update_latency = live.UPDATE_LATENCY.labels(service)
        live.STREAMS_OPEN.labels(service).inc()
        self.live_streams += 1
        receiver = asyncio.create_task(receive())
        received_any = bool(pending)
        reached_s = -math.inf
        try:
            while True:
                await arrived.wait()
                arrived.clear()
                if state["overrun"]:
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, state["overrun"])
                if not pending:
                    if state["done"]:
                        break
                    continue
                now = loop.time()
                lag = now - pending[0][0]
                # Per batch: the quality (so the frame rate) changes only between batches.
                rate = session.max_rate_hz(controller.level) if session.thinnable else 0.0
                batch = []
                dropped = 0
                while pending:
                    received_at, chunk = pending.popleft()
                    t = chunk_time(chunk)
                    if not chunk.HasField("question"):
                        received_any = True
                        reached_s = max(reached_s, t)
                    take = True
                    if rate and chunk.WhichOneof("payload") == own_kind:
                        take = pacer.take(t, rate, lag, session.window_s)
                        dropped += not take
                    batch.append((received_at, t, chunk, take))
                if dropped:
                    skipped.inc(dropped)
                closed = await asyncio.to_thread(process, batch, reached_s)
                for window in closed:
                    edge = min((r for r, t, _, _ in batch if t >= window.end_s - 1e-9), default=now)
                    update = await self._live_update(window, spec, context, started, controller)
                    yield update
                    latency = loop.time() - edge
                    update_latency.observe(latency)
                    kind = outcome(update)
                    if kind == "on_time" and latency > controller.target_s:
                        kind = "late"
                    live.WINDOWS.labels(service, live.quality_name(controller.level), kind).inc()
                    level = controller.observe(
                        latency, loop.time() - now, cpu.read(), self.live_streams
                    )
                    if level != update.result.quality:
                        session.set_quality(level)
                if state["done"] and not pending:
                    break
            if not received_any:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "stream: no input chunks for this modality"
                )
            with tracer.start_as_current_span("live.finish"):
                rest, summary = await asyncio.to_thread(session.finish)
            for window in rest:
                update = await self._live_update(window, spec, context, started, controller)
                yield update
                live.WINDOWS.labels(
                    service, live.quality_name(controller.level), outcome(update)
                ).inc()
            final = await self._live_update(summary, spec, context, started, controller)
            final.final = True
            yield final
        finally:
            receiver.cancel()
            live.STREAMS_OPEN.labels(service).dec()
            self.live_streams -= 1
            # The session (all per-stream state) is referenced only from this frame and its
            # closures: it goes with the stream, whatever ended it (end, error, cancel).

    async def _live_update(
        self,
        window: Window,
        spec: ModelSpec,
        context: grpc.aio.ServicerContext,
        started: float,
        controller: live.QualityController,
    ) -> modality_pb2.ModalityUpdate:
        """A live window's update: scored like any window, stamped with quality and coverage;
        a window whose input was all skipped says so instead of failing."""
        c = window.coverage
        if c is not None and c.received and not c.analysed:
            result = build_result(self.analyzer.modality, window, spec, None, started)
            result.status = common_pb2.SKIPPED
            result.reason = (
                f"skipped to keep up: {c.received} chunk(s) arrived in this window faster than "
                "they could be analysed even at LOW quality"
            )
        else:
            result = await self._score(window, spec, context, started)
        result.quality = window.level or controller.level  # type: ignore[assignment]
        if c is not None:
            result.coverage.CopyFrom(
                common_pb2.Coverage(received=c.received, analysed=c.analysed, skipped=c.skipped)
            )
        return modality_pb2.ModalityUpdate(result=result)


def serve_modality(name: str, make_analyzer: Callable[[], Analyzer[Prepared]]) -> None:
    """Entry point of a modality service process (`python -m services.<name>`)."""
    from veritas.server import run

    def build(config: ServiceConfig) -> tuple[Register, Cleanup, Dependencies]:
        triton = TritonClient(
            env("VERITAS_TRITON_URL"),
            float(env("VERITAS_TRITON_TIMEOUT_S")),
            max_in_flight=int(env("VERITAS_TRITON_MAX_IN_FLIGHT")),
        )
        analyzer = make_analyzer()
        processes = processes_for(analyzer, env("VERITAS_ANALYSIS_PROCESSES"))
        pool = None
        if processes:
            telemetry = {
                "log_level": config.log_level,
                "otlp_endpoint": config.otlp_endpoint,
                "trace_file": config.trace_file,
            }
            pool = AnalysisPool(make_analyzer, processes, name, telemetry)
        servicer = ModalityServicer(analyzer, triton, pool=pool)

        def register(server: grpc.aio.Server) -> list[str]:
            modality_pb2_grpc.add_ModalityAnalyzerServicer_to_server(servicer, server)
            return [modality_pb2.DESCRIPTOR.services_by_name["ModalityAnalyzer"].full_name]

        async def model_server() -> str | None:
            """Ready only while Triton answers and has every model this modality calls
            loaded (its scoring model, and for vision the face models)."""
            for model in (analyzer.model_name, *getattr(analyzer, "triton_models", ())):
                problem = await triton.model_problem(model)
                if problem:
                    return problem
            return None

        async def cleanup() -> None:
            await triton.close()
            if pool is not None:
                pool.close()

        return register, cleanup, Dependencies({"triton": model_server})

    run(name, build)
