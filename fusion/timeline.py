"""Temporal alignment: which result of each modality is about a given moment.

All modalities share one timeline (seconds from the start of the recording; live chunks
carry their own timestamps). A progressive update is about the moment of the window that
triggered it; from every other modality fusion takes the result whose span matches that
moment best (largest intersection over union, the newest on a tie). A result with no span
(end <= start, e.g. an untimed transcript) cannot be placed on the timeline: it only matches
an untimed moment, and it counts in the final whole-input answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from veritas.v1 import common_pb2

Span = tuple[float, float]


def span(result: common_pb2.ModalityResult) -> Span | None:
    """The result's span on the shared timeline; None when it has no timing."""
    if result.window_end_s <= result.window_start_s:
        return None
    return result.window_start_s, result.window_end_s


def iou(a: Span, b: Span) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def best_match(
    moment: Span | None, candidates: Sequence[common_pb2.ModalityResult]
) -> common_pb2.ModalityResult | None:
    """The candidate about `moment` (None: an untimed moment), or None if none is."""
    best: common_pb2.ModalityResult | None = None
    best_score = 0.0
    for c in candidates:
        s = span(c)
        if moment is None or s is None:
            score = 1.0 if moment is None and s is None else 0.0
        else:
            score = iou(moment, s)
        if score > 0 and score >= best_score:
            best, best_score = c, score
    return best


def covered(results: Sequence[common_pb2.ModalityResult]) -> Span | None:
    """The part of the timeline the timed results cover together."""
    spans = [s for r in results if (s := span(r)) is not None]
    if not spans:
        return None
    return min(s[0] for s in spans), max(s[1] for s in spans)


def describe(moment: Span | None) -> str:
    if moment is None:
        return "untimed evidence"
    return f"{moment[0]:.1f}-{moment[1]:.1f} s"
