"""Constructed modality results for the fusion tests.

Calibrated results come from a model validated on DOMAIN (written reviews), and `fuse` here
asks about an input of that domain unless a test says otherwise, so a calibrated result
counts as calibrated evidence by default; the domain tests change either side.
"""

from __future__ import annotations

from collections.abc import Sequence

from fusion import strategies
from fusion.stacker import Stacker
from veritas.v1 import common_pb2 as pb

DOMAIN = pb.WRITTEN_REVIEW


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
    domains: Sequence[int] | None = None,
) -> pb.ModalityResult:
    """A scored result as a modality service sends it."""
    if domains is None:
        domains = (DOMAIN,) if calibrated else ()
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
            validated_domains=list(domains),  # type: ignore[arg-type]
            domain_note="constructed for a test" if domains else "",
        ),
        window_start_s=window[0],
        window_end_s=window[1],
        features=[pb.Feature(name=k, value=v, contribution=v) for k, v in (features or {}).items()],
        notes=list(notes),
    )


def unanswered(modality: int, status: int, reason: str = "") -> pb.ModalityResult:
    """A modality that gave no score: FAILED, TIMED_OUT, SKIPPED or still PENDING."""
    return pb.ModalityResult(modality=modality, status=status, reason=reason)  # type: ignore[arg-type]


def fuse(
    results: Sequence[pb.ModalityResult],
    strategy: int = pb.LOG_ODDS,
    stacker: Stacker | None = None,
    domain: int = DOMAIN,
) -> strategies.Fused:
    """strategies.fuse for a request that states the test models' domain (by default)."""
    return strategies.fuse(results, strategy, stacker, domain)  # type: ignore[arg-type]
