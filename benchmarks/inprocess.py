"""The same analysis with no mesh: each modality's analyzer and its ONNX model called
directly in this process (no gRPC, no Triton, no fusion).

Per modality it does what the service does for a unary Analyze (the gateway asks for the
final result only, veritas.hints): `prepare`, every window from `windows` measured (none
for an analyzer whose summary does not read them: text), `summarize`, and the whole-input
result scored by the model; feature order comes from the
model's config.pbtxt `feature_names`, as in the service. (A stream or the HTTP NDJSON
endpoint also scores every window; a unary answer does not carry them.) onnxruntime runs with one
intra-op and one inter-op thread, as Triton's python backend runs it here. Modalities run
one after another, so the time is the analysis' CPU cost on one core.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from benchmarks.workloads import MODALITY_INPUTS, modality_requests
from veritas.analysis import Analyzer, Window
from veritas.modality_service import feature_vector
from veritas.triton_client import ModelSpec, parse_domains
from veritas.v1 import common_pb2

REPOSITORY = Path(__file__).resolve().parent.parent / "models" / "repository"


def _analyzers() -> dict[str, Callable[[], Analyzer]]:
    from services.audio.analyzer import AudioAnalyzer
    from services.physiology.analyzer import PhysiologyAnalyzer
    from services.text.analyzer import TextAnalyzer
    from services.vision.analyzer import VisionAnalyzer

    return {
        "vision": VisionAnalyzer,
        "audio": AudioAnalyzer,
        "text": TextAnalyzer,
        "physiology": PhysiologyAnalyzer,
    }


def read_spec(model_dir: Path) -> ModelSpec:
    """The model's contract from its config.pbtxt, as the Triton client reads it."""
    config = text_format.Parse(
        (model_dir / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
    )
    params = {k: v.string_value for k, v in config.parameters.items()}
    names = tuple(n for n in params.get("feature_names", "").split(",") if n)
    if not names:
        raise ValueError(f"{model_dir}/config.pbtxt lists no feature_names")
    versions = sorted((p.name for p in model_dir.iterdir() if p.name.isdigit()), key=int)
    return ModelSpec(
        name=config.name or model_dir.name,
        version=versions[-1] if versions else "",
        feature_names=names,
        contribution_names=tuple(n for n in params.get("contribution_names", "").split(",") if n)
        or names,
        calibrated=params.get("calibrated", "false").lower() == "true",
        card=params.get("card", ""),
        validated_auc=float(params.get("validated_auc", "0.5") or 0.5),
        has_text_input=any(i.name == "text" for i in config.input),
        caveat=params.get("caveat", ""),
        validated_domains=parse_domains(params.get("validated_domains", "")),
        domain_note=params.get("domain_note", ""),
    )


class OnnxModel:
    """One model.onnx scored in-process, the way the python backend scores it."""

    def __init__(self, model_dir: Path) -> None:
        self.spec = read_spec(model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_dir / self.spec.version / "model.onnx"),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )

    def score(self, window: Window) -> float | None:
        """P(deceptive) for one window, or None when the service would not score it."""
        if not window.usable:
            return None
        values, missing = feature_vector(window, self.spec)
        if missing:
            return None
        feeds: dict[str, Any] = {"features": values.reshape(1, -1)}
        if self.spec.has_text_input:
            feeds["text"] = np.array([[window.text or ""]], dtype=object)
        probability, _ = self.session.run(["probability", "contributions"], feeds)
        return float(np.asarray(probability).reshape(-1)[0])


@dataclass
class ModalityRun:
    seconds: float
    windows: int
    final_score: float | None


class InProcess:
    """Analyzers and models for the modalities a set of workloads needs, built once."""

    def __init__(self, modalities: tuple[str, ...]) -> None:
        factories = _analyzers()
        self.analyzers = {m: factories[m]() for m in modalities}
        self.models = {m: OnnxModel(REPOSITORY / a.model_name) for m, a in self.analyzers.items()}

    @classmethod
    def for_workloads(cls, workloads: tuple[str, ...]) -> InProcess:
        needed = {m for w in workloads for m in MODALITY_INPUTS[w]}
        return cls(tuple(m for m in ("vision", "audio", "text", "physiology") if m in needed))

    def run_modality(self, name: str, request: Any, options: common_pb2.Options) -> ModalityRun:
        analyzer, model = self.analyzers[name], self.models[name]
        started = time.perf_counter()
        prepared = analyzer.prepare(request)
        windows = (
            list(analyzer.windows(prepared, options))
            if getattr(analyzer, "summary_needs_windows", True)
            else []
        )
        final = model.score(analyzer.summarize(prepared, windows))
        return ModalityRun(time.perf_counter() - started, len(windows), final)

    def analyze(self, request: common_pb2.AnalysisRequest, workload: str) -> dict[str, ModalityRun]:
        """Every modality of `workload`, one after another."""
        parts = modality_requests(request, MODALITY_INPUTS[workload])
        return {m: self.run_modality(m, r, request.options) for m, r in parts.items()}
