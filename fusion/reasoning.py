"""The reasoning trace: observe / think / act steps built from the actual evidence."""

from __future__ import annotations

from collections.abc import Sequence

from fusion.strategies import Fused
from veritas.v1 import common_pb2

Step = common_pb2.ReasoningStep
TOP_FEATURES = 3


def _name(modality: common_pb2.Modality.ValueType) -> str:
    return common_pb2.Modality.Name(modality).lower()


def _top_features(result: common_pb2.ModalityResult) -> str:
    top = [f for f in result.features if f.contribution][:TOP_FEATURES]
    if not top:
        return "no feature moved the score"
    return ", ".join(f"{f.name}={f.value:.3g} ({f.contribution:+.2f})" for f in top)


def observe(result: common_pb2.ModalityResult) -> Step:
    name = _name(result.modality)
    status = common_pb2.ModalityStatus.Name(result.status)
    if result.status in (common_pb2.OK, common_pb2.PENDING):
        kind = "calibrated model" if result.model.calibrated else "UNCALIBRATED cue model"
        text = (
            f"{name}: P(deceptive)={result.score:.2f}, confidence {result.confidence:.2f}, "
            f"from {kind} {result.model.name} v{result.model.version} over "
            f"{result.window_start_s:.1f}-{result.window_end_s:.1f} s; "
            f"strongest features: {_top_features(result)}"
        )
    else:
        text = f"{name}: {status} ({result.reason or 'no reason given'})"
    return Step(kind=Step.OBSERVE, text=text, modality=result.modality)


def trace(
    results: Sequence[common_pb2.ModalityResult],
    fused: Fused,
    strategy: common_pb2.FusionStrategy.ValueType,
) -> list[Step]:
    steps = [observe(r) for r in results]
    if fused.evidence:
        weights = ", ".join(
            f"{e.modality} {e.weight:.2f}" + ("" if e.calibrated else " (uncalibrated, capped)")
            for e in fused.evidence
        )
        steps.append(
            Step(
                kind=Step.THINK,
                text=(
                    f"{common_pb2.FusionStrategy.Name(strategy)} fusion weights: {weights}; "
                    f"fused P(deceptive)={fused.probability:.2f} "
                    f"[{fused.low:.2f}, {fused.high:.2f}]"
                ),
            )
        )
    missing = [
        f"{_name(r.modality)} ({common_pb2.ModalityStatus.Name(r.status)})"
        for r in results
        if r.status not in (common_pb2.OK, common_pb2.PENDING)
    ]
    if missing:
        steps.append(Step(kind=Step.THINK, text="missing evidence: " + ", ".join(missing)))
    if fused.disagreement:
        sides = ", ".join(f"{e.modality} {e.score:.2f}" for e in fused.evidence if e.calibrated)
        steps.append(Step(kind=Step.THINK, text=f"calibrated modalities disagree: {sides}"))
    steps.append(
        Step(
            kind=Step.ACT,
            text=(f"decide {common_pb2.Decision.Name(fused.decision)}: {fused.reason}"),
        )
    )
    return steps


def review(fused: Fused) -> tuple[bool, str]:
    """Whether a person should review the answer, and why."""
    if fused.decision == common_pb2.DECEPTIVE:
        return True, "a deceptive finding is weak evidence on its own; a person must review it"
    if fused.disagreement:
        return True, "the modalities disagree"
    if fused.decision == common_pb2.TRUTHFUL:
        return True, "automated deception analysis is error-prone; confirm before acting on it"
    return False, ""


def summary(results: Sequence[common_pb2.ModalityResult], fused: Fused) -> str:
    answered = [e.modality for e in fused.evidence]
    decision = common_pb2.Decision.Name(fused.decision)
    if not answered:
        return f"{decision}: no modality produced a score."
    return (
        f"{decision} (P(deceptive)={fused.probability:.2f}, confidence "
        f"{fused.confidence:.2f}) from {', '.join(answered)}: {fused.reason}."
    )
