"""The one Triton client of a modality-service process.

Wraps tritonclient.grpc.aio with what every service needs: the model's declared feature
order, calibration status and validated input domains (read once from its config), deadlines
on every call, the W3C
trace context in the request headers, and a single error type for "Triton is unavailable".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import tritonclient.grpc.aio as triton_aio
from opentelemetry import trace
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException

from veritas.config import channel_options
from veritas.telemetry import traceparent_headers
from veritas.v1 import common_pb2

tracer = trace.get_tracer("veritas.triton")


KEEPALIVE_ARGS = [("grpc.keepalive_time_ms", 30000)]


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


class TritonClient:
    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s
        # Reconnect quickly after Triton restarts (gRPC's default backoff grows to 2 min).
        self._client = triton_aio.InferenceServerClient(
            url, channel_args=[*channel_options(), *KEEPALIVE_ARGS]
        )
        self._specs: dict[str, ModelSpec] = {}
        self._lock = asyncio.Lock()

    async def close(self) -> None:
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
        """The model's declared contract; cached until `forget(model)`."""
        if model in self._specs:
            return self._specs[model]
        async with self._lock:
            if model not in self._specs:
                self._specs[model] = await self._load_spec(model)
        return self._specs[model]

    def forget(self, model: str) -> None:
        self._specs.pop(model, None)

    async def _load_spec(self, model: str) -> ModelSpec:
        try:
            config = (
                await self._client.get_model_config(
                    model, as_json=True, client_timeout=self.timeout_s
                )
            )["config"]
            index = await self._client.get_model_repository_index(
                as_json=True, client_timeout=self.timeout_s
            )
        except InferenceServerException as e:
            if _is_unavailable(e):
                raise TritonUnavailable(f"Triton at {self.url}: {e.message()}") from e
            raise TritonModelError(f"model {model}: {e.message()}") from e
        params = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        versions = [
            m.get("version", "")
            for m in index.get("models", [])
            if m.get("name") == model and m.get("state") == "READY"
        ]
        names = tuple(n for n in params.get("feature_names", "").split(",") if n)
        if not names:
            raise TritonModelError(f"model {model}: config lists no feature_names")
        try:
            domains = parse_domains(params.get("validated_domains", ""))
        except ValueError as e:
            raise TritonModelError(f"model {model}: config {e}") from None
        return ModelSpec(
            name=model,
            version=max(versions, key=lambda v: int(v) if v.isdigit() else -1, default=""),
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
        features: np.ndarray,
        text: str | None = None,
        timeout_s: float | None = None,
    ) -> Prediction:
        """Score one feature vector (ordered as spec.feature_names)."""
        inputs = [InferInput("features", [1, len(spec.feature_names)], "FP32")]
        inputs[0].set_data_from_numpy(features.reshape(1, -1).astype(np.float32))
        if spec.has_text_input:
            text_input = InferInput("text", [1, 1], "BYTES")
            text_input.set_data_from_numpy(np.array([[(text or "").encode("utf-8")]], dtype=object))
            inputs.append(text_input)
        outputs = [InferRequestedOutput("probability"), InferRequestedOutput("contributions")]
        timeout = min(self.timeout_s, timeout_s) if timeout_s else self.timeout_s
        with tracer.start_as_current_span(
            "triton.infer", attributes={"triton.model": spec.name, "triton.url": self.url}
        ):
            headers = traceparent_headers()
            try:
                result = await self._client.infer(
                    spec.name,
                    inputs,
                    outputs=outputs,
                    client_timeout=max(timeout, 0.01),
                    headers=headers,
                    # Triton records the request id on its spans: the local OTLP receiver
                    # re-parents a trace Triton started without the context (otlp_receiver).
                    request_id=headers.get("traceparent", ""),
                )
            except InferenceServerException as e:
                if _is_unavailable(e):
                    raise TritonUnavailable(f"Triton at {self.url}: {e.message()}") from e
                raise TritonModelError(f"model {spec.name}: {e.message()}") from e
        probability = float(result.as_numpy("probability").reshape(-1)[0])
        contributions = result.as_numpy("contributions").reshape(-1)
        return Prediction(
            probability=probability,
            contributions=dict(zip(spec.contribution_names, map(float, contributions))),
        )
