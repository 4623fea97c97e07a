"""The one Triton client of a modality-service process.

Wraps tritonclient.grpc.aio with what every service needs: the model's declared feature
order, calibration status and validated input domains (read from its config, and read again
when Triton serves a new version of the model), deadlines on every call, the W3C trace
context in the request headers, and a single error type for "Triton is unavailable".

Scoring is micro-batched: `predict` queues one row; rows for the same model that are queued
in the same turn of the event loop, or while that model's call is in flight, go to Triton
together as one request of N rows (up to the model's max_batch_size), so the windows of one
analysis and the requests of concurrent analyses share a call. A lone row is sent at once:
batching adds no wait when there is nothing to wait for. Each call names the version its
rows were vectorised for, so an answer's ModelInfo is the version that scored it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import tritonclient.grpc.aio as triton_aio
from opentelemetry import context as otel_context
from opentelemetry import trace
from prometheus_client import Histogram
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException

from veritas.config import channel_options
from veritas.model_index import ModelIndex, index_entries
from veritas.telemetry import traceparent_headers
from veritas.v1 import common_pb2

tracer = trace.get_tracer("veritas.triton")


KEEPALIVE_ARGS = [("grpc.keepalive_time_ms", 30000)]
MAX_BATCH_ROWS = 64  # the models' max_batch_size (config.pbtxt); a spec may say less
INDEX_MAX_AGE_S = 1.0  # how stale the known model versions may be before a request re-reads
MAX_IN_FLIGHT = 1  # calls per model at once; rows that arrive meanwhile form the next batch
BATCH_ROWS = Histogram(
    "veritas_triton_batch_rows",
    "Rows per Triton inference call (the micro-batcher's batch sizes), by model",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64),
)


# Why a call to Triton is never cut short by its callers' deadlines, and never cancelled.
NEVER_CANCEL = (
    "Triton 2.51 (the nvidia-pytriton wheel and the chart's 24.10 image) can crash with "
    "SIGSEGV when a gRPC inference call is cancelled while it completes (a deadline of a "
    "few milliseconds makes that likely: triton-inference-server/server#7368, fixed in "
    "24.12 by #7840). A caller stops waiting at its own deadline (`predict`), but the call "
    "itself runs under the client's whole timeout and is left to finish, even at shutdown"
)


class TritonUnavailable(RuntimeError):
    """Triton could not be reached or did not answer in time."""


class TritonModelError(RuntimeError):
    """Triton answered, but the model rejected the call or is misconfigured."""


@dataclass(frozen=True)
class ModelSpec:
    """What a model declares in its config.pbtxt `parameters`."""

    name: str
    version: str
    feature_names: tuple[str, ...]
    contribution_names: tuple[str, ...]
    calibrated: bool
    card: str
    validated_auc: float  # subject/group-separated ROC AUC from the model card; 0.5 if none
    has_text_input: bool
    caveat: str = ""  # one line every result of this model carries in its notes
    # The input domains its validation covers (InputDomain values; empty: none): fusion
    # counts it as calibrated only for requests whose Options.domain is one of them.
    validated_domains: tuple[int, ...] = ()
    domain_note: str = ""  # in words: what the validation data was
    max_batch_rows: int = MAX_BATCH_ROWS  # config.pbtxt max_batch_size (0 there: no batching)

    def model_info(self) -> common_pb2.ModelInfo:
        """The ModelInfo every result of this model carries."""
        return common_pb2.ModelInfo(
            name=self.name,
            version=self.version,
            calibrated=self.calibrated,
            card=self.card,
            validated_auc=self.validated_auc,
            validated_domains=self.validated_domains,  # type: ignore[arg-type]
            domain_note=self.domain_note,
        )


def parse_domains(value: str) -> tuple[int, ...]:
    """The `validated_domains` parameter (comma-separated InputDomain names) as enum values.
    Raises ValueError for a name that is not a domain, or for INPUT_DOMAIN_UNSPECIFIED (an
    unknown input is inside no model's validation)."""
    out = []
    for name in (n.strip() for n in value.split(",")):
        if not name:
            continue
        if name not in common_pb2.InputDomain.keys() or name == "INPUT_DOMAIN_UNSPECIFIED":
            raise ValueError(f"validated_domains: {name!r} is not an input domain")
        out.append(common_pb2.InputDomain.Value(name))
    return tuple(out)


@dataclass(frozen=True)
class Prediction:
    probability: float
    contributions: dict[str, float]


def _is_unavailable(error: InferenceServerException) -> bool:
    status = str(error.status() or "")
    return any(s in status for s in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED"))


@dataclass(eq=False)
class _Row:
    """One feature vector waiting for its batch, and who waits for its answer."""

    features: npt.NDArray[np.float32]
    text: str | None
    future: asyncio.Future[Prediction]
    context: otel_context.Context  # the caller's trace context


@dataclass(eq=False)
class _Queue:
    """The rows waiting for one model version, and its calls in flight."""

    rows: list[_Row] = field(default_factory=list)
    in_flight: int = 0
    scheduled: bool = False


class TritonClient:
    def __init__(self, url: str, timeout_s: float, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.max_in_flight = max(1, max_in_flight)
        # Reconnect quickly after Triton restarts (gRPC's default backoff grows to 2 min).
        self._client = triton_aio.InferenceServerClient(
            url, channel_args=[*channel_options(), *KEEPALIVE_ARGS]
        )
        self._specs: dict[str, ModelSpec] = {}
        self._lock = asyncio.Lock()
        self._queues: dict[tuple[str, str], _Queue] = {}
        self._calls: set[asyncio.Task[None]] = set()  # inference calls in flight
        self.index = ModelIndex(self._read_index)
        self.calls = 0  # Triton inference calls made (for tests and the benchmark)
        self.rows = 0  # rows they carried

    async def _read_index(self) -> dict[str, Any]:
        response = await self._client.get_model_repository_index(client_timeout=self.timeout_s)
        return index_entries(response)

    async def close(self) -> None:
        """Close the channel once the calls in flight have finished (NEVER_CANCEL)."""
        if self._calls:
            await asyncio.wait(set(self._calls), timeout=self.timeout_s)
        await self._client.close()

    async def ready(self, timeout_s: float = 1.0) -> bool:
        try:
            return bool(await self._client.is_server_ready(client_timeout=timeout_s))
        except InferenceServerException:
            return False

    async def model_problem(self, model: str, timeout_s: float = 1.0) -> str | None:
        """None while the server is ready and `model` loaded, else what is wrong (for
        readiness: no address or detail, just the state)."""
        try:
            if not await self._client.is_server_ready(client_timeout=timeout_s):
                return "model server not ready"
            if not await self._client.is_model_ready(model, client_timeout=timeout_s):
                return f"model {model} not loaded"
        except InferenceServerException:
            return "model server unreachable"
        return None

    async def spec(self, model: str) -> ModelSpec:
        """The model's declared contract; cached, and read again when Triton's index (read
        at most INDEX_MAX_AGE_S ago) shows another READY version, or after `forget`."""
        cached = self._specs.get(model)
        if cached is not None:
            try:
                versions = await self.index.recent(INDEX_MAX_AGE_S)
            except InferenceServerException:
                return cached  # Triton unreachable: the call itself will say so
            if versions.get(model, cached.version) == cached.version:
                return cached
            self.forget(model)
        async with self._lock:
            if model not in self._specs:
                self._specs[model] = await self._load_spec(model)
        return self._specs[model]

    async def newer_spec(self, spec: ModelSpec) -> ModelSpec | None:
        """The model's contract when Triton now serves another version than `spec`'s (read
        from a fresh index), else None: a call that failed for its version is retried once
        with this one."""
        try:
            versions = await self.index.fresh()
        except InferenceServerException:
            return None
        if versions.get(spec.name, spec.version) == spec.version:
            return None
        self.forget(spec.name)
        try:
            return await self.spec(spec.name)
        except (TritonUnavailable, TritonModelError):
            return None

    def forget(self, model: str) -> None:
        self._specs.pop(model, None)

    async def _load_spec(self, model: str) -> ModelSpec:
        try:
            config = (
                await self._client.get_model_config(
                    model, as_json=True, client_timeout=self.timeout_s
                )
            )["config"]
            # The version this contract belongs to: an index read that starts after the
            # config was read (shared with concurrent readers of the index).
            versions = await self.index.fresh()
        except InferenceServerException as e:
            if _is_unavailable(e):
                raise TritonUnavailable(f"Triton at {self.url}: {e.message()}") from e
            raise TritonModelError(f"model {model}: {e.message()}") from e
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        names = tuple(n for n in params.get("feature_names", "").split(",") if n)
        if not names:
            raise TritonModelError(f"model {model}: config lists no feature_names")
        try:
            domains = parse_domains(params.get("validated_domains", ""))
        except ValueError as e:
            raise TritonModelError(f"model {model}: config {e}") from None
        return ModelSpec(
            name=model,
            max_batch_rows=max(1, min(MAX_BATCH_ROWS, int(config.get("max_batch_size", 0)))),
            version=versions.get(model, ""),
            feature_names=names,
            contribution_names=tuple(
                n for n in params.get("contribution_names", "").split(",") if n
            )
            or names,
            calibrated=params.get("calibrated", "false").lower() == "true",
            card=params.get("card", ""),
            validated_auc=float(params.get("validated_auc", "0.5") or 0.5),
            has_text_input=any(i.get("name") == "text" for i in config.get("input", [])),
            caveat=params.get("caveat", ""),
            validated_domains=domains,
            domain_note=params.get("domain_note", ""),
        )

    async def predict(
        self,
        spec: ModelSpec,
        features: npt.NDArray[np.float32],
        text: str | None = None,
        timeout_s: float | None = None,
    ) -> Prediction:
        """Score one feature vector (ordered as spec.feature_names), batched with the other
        rows for the same model that are ready now or arrive while its call is in flight."""
        loop = asyncio.get_running_loop()
        timeout = max(min(self.timeout_s, timeout_s) if timeout_s else self.timeout_s, 0.01)
        row = _Row(
            features=np.asarray(features, dtype=np.float32).reshape(-1),
            text=text,
            future=loop.create_future(),
            context=otel_context.get_current(),
        )
        key = (spec.name, spec.version)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
        queue.rows.append(row)
        if not queue.scheduled and queue.in_flight < self.max_in_flight:
            queue.scheduled = True
            loop.call_soon(self._flush, spec, queue)  # after the rows ready this turn
        try:
            return await asyncio.wait_for(asyncio.shield(row.future), timeout)
        except TimeoutError:
            raise TritonUnavailable(
                f"Triton at {self.url}: no answer within {timeout:.2f} s"
            ) from None
        finally:
            if not row.future.done():
                row.future.cancel()  # the batch skips it

    def _flush(self, spec: ModelSpec, queue: _Queue) -> None:
        """Send what is queued as batches, while the model has calls to spare."""
        queue.scheduled = False
        while queue.rows and queue.in_flight < self.max_in_flight:
            rows = [r for r in queue.rows[: spec.max_batch_rows] if not r.future.done()]
            del queue.rows[: spec.max_batch_rows]
            if not rows:
                continue
            queue.in_flight += 1
            task = asyncio.get_running_loop().create_task(self._call(spec, rows))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
            task.add_done_callback(lambda _t: self._finished(spec, queue))

    def _finished(self, spec: ModelSpec, queue: _Queue) -> None:
        queue.in_flight -= 1
        if queue.rows and not queue.scheduled:
            queue.scheduled = True
            asyncio.get_running_loop().call_soon(self._flush, spec, queue)
        elif not queue.rows and not queue.in_flight:
            self._queues.pop((spec.name, spec.version), None)

    async def _call(self, spec: ModelSpec, rows: list[_Row]) -> None:
        """One inference call for `rows`; every row's future gets its answer or error. A
        model error with several rows is retried row by row: one bad row fails alone."""
        try:
            outputs = await self._infer(spec, rows)
        except TritonModelError as e:
            if len(rows) > 1:
                await asyncio.gather(*(self._call(spec, [r]) for r in rows))
                return
            _fail(rows, e)
            return
        except TritonUnavailable as e:
            _fail(rows, e)
            return
        except BaseException as e:  # noqa: BLE001 - a bug or a cancel: no row waits forever
            _fail(rows, TritonUnavailable(f"Triton at {self.url}: {type(e).__name__}"))
            raise
        probability, contributions = outputs
        for i, row in enumerate(rows):
            if not row.future.done():
                row.future.set_result(
                    Prediction(
                        probability=float(probability[i]),
                        contributions=dict(
                            zip(spec.contribution_names, map(float, contributions[i]))
                        ),
                    )
                )

    async def _infer(
        self, spec: ModelSpec, rows: list[_Row]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        n, width = len(rows), len(spec.feature_names)
        matrix = np.stack([r.features for r in rows]) if n > 1 else rows[0].features[None, :]
        inputs = [InferInput("features", [n, width], "FP32")]
        inputs[0].set_data_from_numpy(matrix)
        if spec.has_text_input:
            text_input = InferInput("text", [n, 1], "BYTES")
            texts = [[(r.text or "").encode("utf-8")] for r in rows]
            text_input.set_data_from_numpy(np.array(texts, dtype=object))
            inputs.append(text_input)
        outputs = [InferRequestedOutput("probability"), InferRequestedOutput("contributions")]
        first = rows[0]
        attributes: dict[str, Any] = {
            "triton.model": spec.name,
            "triton.model_version": spec.version,
            "triton.url": self.url,
            "triton.batch_rows": n,
        }
        # The call is a span of the first row's trace; the other rows' spans get an event
        # naming it, so every trace shows where its rows were scored.
        with tracer.start_as_current_span(
            "triton.infer", context=first.context, attributes=attributes
        ) as span:
            headers = traceparent_headers()
            ids = span.get_span_context()
            for row in rows[1:]:
                if row.context is not first.context:
                    trace.get_current_span(row.context).add_event(
                        "triton.infer (batched)",
                        {
                            **attributes,
                            "triton.call_trace_id": format(ids.trace_id, "032x"),
                            "triton.call_span_id": format(ids.span_id, "016x"),
                        },
                    )
            self.calls += 1
            self.rows += n
            BATCH_ROWS.labels(spec.name).observe(n)
            try:
                result = await self._client.infer(
                    spec.name,
                    inputs,
                    model_version=spec.version,
                    outputs=outputs,
                    client_timeout=self.timeout_s,  # never the rows' deadlines: NEVER_CANCEL
                    headers=headers,
                    # Triton records the request id on its spans: the local OTLP receiver
                    # re-parents a trace Triton started without the context (otlp_receiver).
                    request_id=headers.get("traceparent", ""),
                )
            except InferenceServerException as e:
                if _is_unavailable(e):
                    raise TritonUnavailable(f"Triton at {self.url}: {e.message()}") from e
                raise TritonModelError(f"model {spec.name}: {e.message()}") from e
        probability = result.as_numpy("probability").reshape(n, -1)[:, 0]
        contributions = result.as_numpy("contributions").reshape(n, -1)
        return probability, contributions


def _fail(rows: list[_Row], error: Exception) -> None:
    for row in rows:
        if not row.future.done():
            row.future.set_exception(error)
            row.future.exception()  # retrieved: its caller may have stopped waiting
