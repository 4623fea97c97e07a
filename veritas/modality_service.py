"""The servicer every modality service runs: the science (an `Analyzer`) on the wire.

Flow of one Analyze call:
  prepare (validate + decode, in a worker thread)  -> INVALID_ARGUMENT on bad input
  windows (feature extraction, in a worker thread) -> each window scored by Triton as it
  arrives and streamed as an update -> the whole-input summary scored and sent as final.
Triton down or slow -> UNAVAILABLE / DEADLINE_EXCEEDED promptly; fusion degrades the answer.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import grpc
import numpy as np
from opentelemetry import trace

from veritas.analysis import Analyzer, InvalidInput, Window
from veritas.config import ServiceConfig
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
DEFAULT_LIVE_WINDOW_S = 5.0
UNCALIBRATED_NOTE = "uncalibrated for this input (see the model card): a score, never a verdict"


async def _iterate_in_thread(iterator: Iterator[Window]) -> AsyncIterator[Window]:
    """Run a blocking generator in a worker thread, yielding its items as they come."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    context = trace.set_span_in_context(trace.get_current_span())

    def pump() -> None:
        from opentelemetry import context as otel_context

        token = otel_context.attach(context)
        try:
            for item in iterator:
                loop.call_soon_threadsafe(queue.put_nowait, item)
        except BaseException as e:  # delivered to the consumer, raised there
            loop.call_soon_threadsafe(queue.put_nowait, e)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)
            otel_context.detach(token)

    loop.run_in_executor(None, pump)
    while (item := await queue.get()) is not _DONE:
        if isinstance(item, BaseException):
            raise item
        yield item


def feature_vector(window: Window, spec: ModelSpec) -> tuple[np.ndarray, list[str]]:
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
        model=common_pb2.ModelInfo(
            name=spec.name,
            version=spec.version,
            calibrated=spec.calibrated,
            card=spec.card,
            validated_auc=spec.validated_auc,
        ),
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


class ModalityServicer(modality_pb2_grpc.ModalityAnalyzerServicer):
    def __init__(self, analyzer: Analyzer, triton: TritonClient) -> None:
        self.analyzer = analyzer
        self.triton = triton

    async def _spec(self, context: grpc.aio.ServicerContext) -> ModelSpec:
        try:
            return await self.triton.spec(self.analyzer.model_name)
        except TritonUnavailable as e:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        except TritonModelError as e:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(e))
        raise AssertionError("unreachable")

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
        except TritonUnavailable as e:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
        except TritonModelError as e:
            self.triton.forget(spec.name)  # a new model version may have changed the contract
            await context.abort(grpc.StatusCode.INTERNAL, str(e))
        return build_result(modality, window, spec, prediction, started)

    async def _stream(
        self,
        prepared: Any,
        options: common_pb2.Options,
        context: grpc.aio.ServicerContext,
        started: float,
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        spec = await self._spec(context)
        windows: list[Window] = []
        with tracer.start_as_current_span("features.windows"):
            async for window in _iterate_in_thread(self.analyzer.windows(prepared, options)):
                windows.append(window)
                result = await self._score(window, spec, context, started)
                yield modality_pb2.ModalityUpdate(result=result, final=False)
        with tracer.start_as_current_span("features.summary"):
            summary = await asyncio.to_thread(self.analyzer.summarize, prepared, windows)
        final = await self._score(summary, spec, context, started)
        yield modality_pb2.ModalityUpdate(result=final, final=True)

    async def Analyze(
        self, request: modality_pb2.ModalityRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        started = time.perf_counter()
        with tracer.start_as_current_span("decode"):
            try:
                prepared = await asyncio.to_thread(self.analyzer.prepare, request)
            except InvalidInput as e:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        async for update in self._stream(prepared, request.options, context, started):
            yield update
        log.info(
            "analysed",
            extra={
                "fields": {
                    "request_id": request.request_id,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                }
            },
        )

    async def AnalyzeLive(
        self,
        request_iterator: AsyncIterator[common_pb2.LiveChunk],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[modality_pb2.ModalityUpdate]:
        """Buffer live chunks; each time the input crosses a window edge, analyse all of it
        so far (so cues keep their reference to the start of the recording) and send the
        windows not sent yet, except the newest, which may still be filling. At the end of
        the input, send the whole-input result."""
        started = time.perf_counter()
        config = common_pb2.StreamConfig()
        chunks: list[common_pb2.LiveChunk] = []
        next_edge = 0.0
        sent = 0
        async for chunk in request_iterator:
            if chunk.HasField("config"):
                config = chunk.config
                continue
            chunks.append(chunk)
            window_s = config.options.window_s or DEFAULT_LIVE_WINDOW_S
            next_edge = next_edge or window_s
            if chunk_time(chunk) < next_edge:
                continue
            next_edge = (math.floor(chunk_time(chunk) / window_s) + 1) * window_s
            prepared = await self._prepare_live(config, chunks, context)
            spec = await self._spec(context)
            windows = [
                w async for w in _iterate_in_thread(self.analyzer.windows(prepared, config.options))
            ]
            for window in windows[sent:-1]:
                result = await self._score(window, spec, context, started)
                yield modality_pb2.ModalityUpdate(result=result, final=False)
            sent = max(sent, len(windows) - 1)
        if not chunks:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "stream: no input chunks for this modality"
            )
        prepared = await self._prepare_live(config, chunks, context)
        spec = await self._spec(context)
        windows = [
            w async for w in _iterate_in_thread(self.analyzer.windows(prepared, config.options))
        ]
        for window in windows[sent:]:
            result = await self._score(window, spec, context, started)
            yield modality_pb2.ModalityUpdate(result=result, final=False)
        summary = await asyncio.to_thread(self.analyzer.summarize, prepared, windows)
        final = await self._score(summary, spec, context, started)
        yield modality_pb2.ModalityUpdate(result=final, final=True)

    async def _prepare_live(
        self,
        config: common_pb2.StreamConfig,
        chunks: Sequence[common_pb2.LiveChunk],
        context: grpc.aio.ServicerContext,
    ) -> Any:
        try:
            return await asyncio.to_thread(self.analyzer.prepare_live, config, chunks)
        except InvalidInput as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))


def chunk_time(chunk: common_pb2.LiveChunk) -> float:
    """Where a live chunk sits on the shared timeline (seconds)."""
    kind = chunk.WhichOneof("payload")
    if kind == "video_frame":
        return chunk.video_frame.timestamp_s
    if kind == "audio_chunk":
        return chunk.audio_chunk.timestamp_s
    if kind == "transcript_segment":
        return chunk.transcript_segment.start_s
    if kind == "physio_samples":
        return chunk.physio_samples.start_s
    return 0.0


def serve_modality(name: str, make_analyzer: Callable[[], Analyzer]) -> None:
    """Entry point of a modality service process (`python -m services.<name>`)."""
    from veritas.config import env
    from veritas.server import run

    def build(config: ServiceConfig) -> tuple[Register, Cleanup]:
        triton = TritonClient(env("VERITAS_TRITON_URL"), float(env("VERITAS_TRITON_TIMEOUT_S")))
        servicer = ModalityServicer(make_analyzer(), triton)

        def register(server: grpc.aio.Server) -> list[str]:
            modality_pb2_grpc.add_ModalityAnalyzerServicer_to_server(servicer, server)
            return [modality_pb2.DESCRIPTOR.services_by_name["ModalityAnalyzer"].full_name]

        return register, triton.close

    run(name, build)
