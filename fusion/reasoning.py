"""The explanation: an observe / think / act trace, the review flag and a plain summary,
each built from the evidence of this analysis (nothing here is a fixed sentence)."""

from __future__ import annotations

from collections.abc import Sequence

from fusion.evidence import (
    AUC_CEILING,
    MIN_CONFIDENCE,
    UNCALIBRATED_RELIABILITY,
    Calibration,
    Evidence,
    domain_words,
    has_score,
    low_quality,
    sigmoid,
)
from fusion.strategies import CONFIDENT_MARGIN, Fused, strategy_name
from fusion.uncertainty import INTERVAL_NAME
from veritas.modalities import name_of
from veritas.v1 import common_pb2

Step = common_pb2.ReasoningStep
TOP_FEATURES = 3
SHOWN_NOTES = 3  # the servicer appends model-level caveats last: show the last notes
NOTE_CHARS = 160
PARTIAL_SHOWN = 0.05  # partly measured inputs are named in the trace from this missing share


def lean(score: float) -> str:
    if score >= 0.5 + CONFIDENT_MARGIN:
        return "leans deceptive"
    if score <= 0.5 - CONFIDENT_MARGIN:
        return "leans truthful"
    return "undecided"


def top_features(result: common_pb2.ModalityResult, scale: float = 1.0) -> list[str]:
    """The features that moved this modality most, with their signed contribution (scaled
    to the fused log-odds when `scale` is the share of the modality that reached it)."""
    ranked = sorted(
        (f for f in result.features if f.contribution), key=lambda f: -abs(f.contribution)
    )
    return [
        f"{f.name}={f.value:.3g} ({f.contribution * scale:+.2f})" for f in ranked[:TOP_FEATURES]
    ]


def _model(result: common_pb2.ModalityResult, counted: bool) -> str:
    m = result.model
    if not m.calibrated:
        return f"UNCALIBRATED model {m.name} v{m.version}"
    auc = f"validated AUC {m.validated_auc:.3f}"
    if not counted:
        return f"model {m.name} v{m.version} ({auc}; NOT counted as calibrated for this request)"
    if m.validated_auc > AUC_CEILING:
        auc += f", counted as {AUC_CEILING}"
    return f"calibrated model {m.name} v{m.version} ({auc})"


def _when(result: common_pb2.ModalityResult) -> str:
    if result.window_end_s <= result.window_start_s:
        return "untimed input"
    return f"{result.window_start_s:.1f}-{result.window_end_s:.1f} s"


def _notes(result: common_pb2.ModalityResult) -> str:
    shown = [n if len(n) <= NOTE_CHARS else n[: NOTE_CHARS - 3] + "..." for n in result.notes]
    return "; ".join(shown[-SHOWN_NOTES:])


def observe(result: common_pb2.ModalityResult, calibration: Calibration | None = None) -> Step:
    label = name_of(result.modality)
    if has_score(result):
        features = top_features(result)
        counted = calibration.counted if calibration else result.model.calibrated
        text = (
            f"{label}: P(deceptive)={result.score:.2f} ({lean(result.score)}), confidence "
            f"{result.confidence:.2f}, from {_model(result, counted)}, over {_when(result)}; "
            f"top features: {', '.join(features) or 'none moved the score'}"
        )
        if low_quality(result):
            text += f"; LOW QUALITY (confidence < {MIN_CONFIDENCE}): not counted"
        if result.notes:
            text += f"; notes: {_notes(result)}"
    else:
        status = common_pb2.ModalityStatus.Name(result.status)
        text = f"{label}: {status} ({result.reason or 'no reason given'})"
    return Step(kind=Step.OBSERVE, text=text, modality=result.modality)


def _weigh(e: Evidence, result: common_pb2.ModalityResult, fused: Fused) -> Step:
    weight = fused.weights.get(e.modality, 0.0)
    moved = fused.contributions.get(e.modality, 0.0)
    share = moved / e.logit if abs(e.logit) > 1e-9 else 0.0
    why = (
        f"reliability {e.reliability:.2f} x confidence {e.confidence:.2f}"
        if e.calibrated
        else f"not calibrated evidence here: reliability fixed at {UNCALIBRATED_RELIABILITY} "
        f"x confidence {e.confidence:.2f}, no precision added"
    )
    if fused.strategy == common_pb2.MAJORITY_VOTE:
        role = "votes " + ("deceptive" if e.score > 0.5 else "truthful") if weight else "abstains"
        head = f"{e.name} {role}"
    else:
        head = f"{e.name} enters with weight {weight:.2f} ({why})"
    features = top_features(result, share)
    text = f"{head}; it moves the fused log-odds by {moved:+.2f}"
    if features:
        text += f", through {', '.join(features)}"
    return Step(kind=Step.THINK, text=text, modality=e.modality)


def trace(
    results: Sequence[common_pb2.ModalityResult],
    fused: Fused,
    alignment: str = "",
    review_reason: str = "",
) -> list[Step]:
    steps = [observe(r, fused.calibration.get(r.modality)) for r in results]
    if alignment:
        steps.append(Step(kind=Step.THINK, text=alignment))
    steps.append(Step(kind=Step.THINK, text=calibrated_evidence(results, fused)))
    by_modality = {r.modality: r for r in results}
    steps += [_weigh(e, by_modality[e.modality], fused) for e in fused.evidence]
    whole = [g for g in fused.gaps if g.share >= 1.0]
    partial = [g for g in fused.gaps if PARTIAL_SHOWN <= g.share < 1.0]
    if whole:
        text = "missing evidence: " + ", ".join(f"{g.name} ({g.why})" for g in whole)
        steps.append(Step(kind=Step.THINK, text=text))
    if partial:
        text = "partly measured: " + ", ".join(f"{g.name} ({g.why})" for g in partial)
        steps.append(Step(kind=Step.THINK, text=text))
    cues = [e.name for e in fused.evidence if not e.calibrated]
    if cues:
        low, high = sigmoid(fused.spread[0]), sigmoid(fused.spread[1])
        text = (
            f"{', '.join(cues)}: not calibrated evidence for this request, counted lightly; "
            "they add no precision and can make the answer more cautious, never more certain"
        )
        if fused.calibrated_only is not None:
            text += (
                f" (calibrated evidence alone: P(deceptive) {fused.calibrated_only:.2f}; with "
                f"none, some or all of them {low:.2f}-{high:.2f}, which the interval spans)"
            )
        steps.append(Step(kind=Step.THINK, text=text))
    u = fused.uncertainty
    steps.append(
        Step(
            kind=Step.THINK,
            text=(
                f"{strategy_name(fused.strategy)} gives P(deceptive)={fused.probability:.2f}, "
                f"{INTERVAL_NAME} [{fused.low:.2f}, {fused.high:.2f}]; log-odds standard error "
                f"{u.total:.2f} = models {u.model:.2f}, disagreement {u.disagreement:.2f}, "
                f"missing data {u.missing:.2f}"
            ),
        )
    )
    act = f"decide {common_pb2.Decision.Name(fused.decision)}: {fused.reason}"
    if review_reason:
        act += f"; human review: {review_reason}"
    steps.append(Step(kind=Step.ACT, text=act))
    return steps


def calibrated_evidence(results: Sequence[common_pb2.ModalityResult], fused: Fused) -> str:
    """Which scored results counted as calibrated evidence for this request's domain, and why."""
    parts = [
        f"{name_of(r.modality)} {fused.calibration[r.modality].reason}"
        for r in results
        if has_score(r) and r.modality in fused.calibration
    ]
    head = f"calibrated evidence for this request (domain: {domain_words(fused.domain)})"
    return f"{head}: " + ("; ".join(parts) if parts else "no modality was scored")


def review(fused: Fused, results: Sequence[common_pb2.ModalityResult]) -> tuple[bool, str]:
    """Whether a person should review the answer, and why."""
    why = []
    if fused.decision == common_pb2.DECEPTIVE:
        why.append("a deceptive finding is weak evidence on its own")
    elif fused.decision == common_pb2.TRUTHFUL:
        why.append("automated deception analysis is error-prone; confirm before acting on it")
    if fused.disagreement:
        sides = ", ".join(f"{e.name} {e.score:.2f}" for e in fused.evidence if e.calibrated)
        why.append(f"the modalities disagree ({sides})")
    lost = [
        f"{name_of(r.modality)} "
        f"{common_pb2.ModalityStatus.Name(r.status).lower().replace('_', ' ')}"
        for r in results
        if r.status in (common_pb2.FAILED, common_pb2.TIMED_OUT)
    ]
    if lost:
        why.append(f"evidence is missing ({', '.join(lost)})")
    poor = [name_of(r.modality) for r in results if low_quality(r)]
    if poor:
        why.append(f"low-quality input ({', '.join(poor)})")
    return bool(why), "; ".join(why)


def summary(results: Sequence[common_pb2.ModalityResult], fused: Fused, moment: str = "") -> str:
    """A plain-language paragraph: the answer, why, and what each modality said."""
    decision = common_pb2.Decision.Name(fused.decision).capitalize()
    about = f" about {moment}" if moment else ""
    if not fused.evidence:
        said = "no modality produced a usable score"
    else:
        said = "; ".join(
            f"{e.name} {lean(e.score)} ({e.score:.2f}"
            + ("" if e.calibrated else ", not calibrated evidence")
            + ")"
            for e in fused.evidence
        )
    text = (
        f"{decision}{about}: {fused.reason}. P(deceptive) {fused.probability:.2f} "
        f"({INTERVAL_NAME} {fused.low:.2f}-{fused.high:.2f}, confidence "
        f"{fused.confidence:.2f}). "
        f"Evidence: {said}."
    )
    unanswered = [
        f"{name_of(r.modality)} ({common_pb2.ModalityStatus.Name(r.status).lower()})"
        for r in results
        if not has_score(r) and r.status != common_pb2.SKIPPED
    ]
    if unanswered:
        text += f" No evidence from {', '.join(unanswered)}."
    return text
