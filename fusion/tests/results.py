"""Constructed modality results for the fusion tests."""

from __future__ import annotations

from veritas.v1 import common_pb2 as pb


def result(
    modality: int,
    score: float,
    *,
    calibrated: bool = True,
    auc: float = 0.75,
    confidence: float = 1.0,
    status: int = pb.OK,
    window: tuple[float, float] = (0.0, 0.0),
    features: dict[str, float] | None = None,
    notes: tuple[str, ...] = (),
) -> pb.ModalityResult:
    """A scored result as a modality service sends it."""
    return pb.ModalityResult(
        modality=modality,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        score=score,
        confidence=confidence,
        model=pb.ModelInfo(
            name=f"{pb.Modality.Name(modality).lower()}_model",  # type: ignore[arg-type]
            version="1",
            calibrated=calibrated,
            validated_auc=auc if calibrated else 0.0,
        ),
        window_start_s=window[0],
        window_end_s=window[1],
        features=[pb.Feature(name=k, value=v, contribution=v) for k, v in (features or {}).items()],
        notes=list(notes),
    )


def unanswered(modality: int, status: int, reason: str = "") -> pb.ModalityResult:
    """A modality that gave no score: FAILED, TIMED_OUT, SKIPPED or still PENDING."""
    return pb.ModalityResult(modality=modality, status=status, reason=reason)  # type: ignore[arg-type]
